import type { TopicState } from '../../metadata/image.ts';
import type { MetadataService } from '../../services/front-door-services.ts';

/**
 * A topic by name with a read barrier (a topic just created through another node is seen), or
 * from this node's image when the barrier cannot be had (no quorum leader right now).
 */
export async function lookupTopic(metadata: MetadataService, name: string): Promise<TopicState | undefined> {
  return metadata.findTopic(name).catch(() => metadata.image().topic(name));
}
