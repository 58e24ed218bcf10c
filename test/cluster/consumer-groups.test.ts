import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

interface Rec {
  topic: string;
  partition: number;
  offset: number;
  value: unknown;
}
type TP = { topic: string; partition: number };

const JSON_V2 = 'application/vnd.kafka.json.v2+json';

describe('consumer groups on three real processes', () => {
  let c: ProcessCluster;
  withCluster((started) => (c = started));

  const req = async (node: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(c.url(node, path), {
      method,
      headers: body === undefined ? {} : { 'content-type': JSON_V2 },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await req(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const topic = async (name: string, partitions: number, records: number): Promise<void> => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: name, partitions_count: partitions, replication_factor: 3 });
    for (let p = 0; p < partitions; p++) {
      await ok(2, 'POST', `/topics/${name}/partitions/${p}`, { records: Array.from({ length: records }, (_, i) => ({ value: `${name}-${p}-${i}` })) });
    }
  };
  const member = async (node: number, group: string, name: string, extra: Record<string, string> = {}): Promise<string> => {
    await ok(node, 'POST', `/consumers/${group}`, { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.session.timeout.ms': '2000', ...extra });
    return `/consumers/${group}/instances/${name}`;
  };
  const poll = async (node: number, base: string, timeout = 1000): Promise<Rec[]> => (await ok(node, 'GET', `${base}/records?timeout=${timeout}`)) as Rec[];
  const assigned = async (node: number, base: string): Promise<TP[]> => ((await ok(node, 'GET', `${base}/assignments`)) as { partitions: TP[] }).partitions;
  const key = (tp: TP): string => `${tp.topic}:${tp.partition}`;
  /** fetch() refuses a body on GET; node:http sends one, as REST Proxy clients do. */
  const getWithBody = (node: number, path: string, body: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const r = request(c.url(node, path), { method: 'GET', headers: { 'content-type': JSON_V2, 'content-length': Buffer.byteLength(data) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (ch: Buffer) => chunks.push(ch));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`GET ${path}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text) as unknown);
        });
      });
      r.on('error', reject);
      r.end(data);
    });

  it('splits three partitions between two members without overlap, and a fourth member of three gets nothing', async () => {
    await topic('share', 3, 5);
    const a = await member(1, 'g-share', 'a');
    const b = await member(2, 'g-share', 'b');
    await ok(1, 'POST', `${a}/subscription`, { topics: ['share'] });
    await ok(3, 'POST', `${b}/subscription`, { topics: ['share'] }); // through another node: forwarded
    // Both joined at subscribe: their first polls split the partitions.
    const seen = new Map<string, Rec[]>();
    await pollUntil('both members to read all 15 records', async () => {
      for (const [node, base] of [[1, a], [3, b]] as const) seen.set(base, [...(seen.get(base) ?? []), ...(await poll(node, base, 300))]);
      return [...seen.values()].flat().length === 15;
    }, 20_000, 10);
    const pa = new Set((seen.get(a) ?? []).map((r) => key(r)));
    const pb = new Set((seen.get(b) ?? []).map((r) => key(r)));
    expect([...pa].filter((k) => pb.has(k))).toEqual([]);
    expect(pa.size + pb.size).toBe(3);
    expect(pa.size).toBeGreaterThan(0);
    expect(pb.size).toBeGreaterThan(0);
    // Two more members: four over three partitions, so exactly one has nothing.
    const cc = await member(3, 'g-share', 'c');
    const d = await member(2, 'g-share', 'd');
    await ok(3, 'POST', `${cc}/subscription`, { topics: ['share'] });
    await ok(2, 'POST', `${d}/subscription`, { topics: ['share'] });
    const bases = [[1, a], [3, b], [3, cc], [2, d]] as const;
    const settled = await pollUntil('four members to settle', async () => {
      for (const [node, base] of bases) await poll(node, base, 100);
      const lists = await Promise.all(bases.map(([node, base]) => assigned(node, base)));
      const all = lists.flat().map(key);
      return all.length === 3 && new Set(all).size === 3 ? lists : undefined;
    }, 20_000, 10);
    expect(settled.filter((l) => l.length === 0)).toHaveLength(1);
    expect(settled.filter((l) => l.length === 1)).toHaveLength(3);
    for (const [node, base] of bases) expect((await req(node, 'DELETE', base)).status).toBe(204);
  }, 60_000);

  it('moves a departed member\'s partitions to the others, who resume right after its committed offset', async () => {
    await topic('handoff', 2, 10);
    const a = await member(1, 'g-hand', 'a');
    await ok(1, 'POST', `${a}/subscription`, { topics: ['handoff'] });
    const got = await pollUntil('a to read records', async () => {
      const r = await poll(1, a, 500);
      return r.length > 0 ? r : undefined;
    }, 20_000, 10);
    // Process some of them: commit the third record of each partition read.
    const byPartition = new Map<number, Rec[]>();
    for (const r of got) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
    const commits = [...byPartition].map(([p, rs]) => ({ topic: 'handoff', partition: p, offset: (rs[2] ?? rs[0])?.offset ?? 0 }));
    expect((await req(2, 'POST', `${a}/offsets`, { offsets: commits })).status).toBe(204);
    const committed = (await ok(3, 'GET', `${a}/offsets?${commits.map((x) => `partition=handoff:${x.partition}`).join('&')}`)) as { offsets: { partition: number; offset: number }[] };
    for (const x of commits) expect(committed.offsets.find((o) => o.partition === x.partition)?.offset).toBe(x.offset + 1);
    // REST Proxy clients send the partitions as a JSON body on the GET.
    const first = commits[0];
    if (first === undefined) throw new Error('nothing committed');
    const viaBody = (await getWithBody(2, `${a}/offsets`, { partitions: [{ topic: 'handoff', partition: first.partition }] })) as { offsets: { partition: number; offset: number }[] };
    expect(viaBody.offsets).toEqual([{ topic: 'handoff', partition: first.partition, offset: first.offset + 1, metadata: '' }]);
    const b = await member(3, 'g-hand', 'b');
    await ok(3, 'POST', `${b}/subscription`, { topics: ['handoff'] });
    expect((await req(1, 'DELETE', a)).status).toBe(204);
    const resumed = await pollUntil('b to read the committed partitions', async () => {
      const r = await poll(3, b, 500);
      return r.length > 0 ? r : undefined;
    }, 20_000, 10);
    for (const x of commits) {
      const first = resumed.filter((r) => r.partition === x.partition)[0];
      if (first !== undefined) expect(first.offset).toBe(x.offset + 1);
    }
    expect((await req(3, 'DELETE', b)).status).toBe(204);
  }, 60_000);

  it('removes a member that stops polling after its session timeout', async () => {
    await topic('quiet', 2, 1);
    const a = await member(1, 'g-quiet', 'a');
    const b = await member(2, 'g-quiet', 'b');
    await ok(1, 'POST', `${a}/subscription`, { topics: ['quiet'] });
    await ok(2, 'POST', `${b}/subscription`, { topics: ['quiet'] });
    await pollUntil('both to hold a partition', async () => {
      await poll(1, a, 100);
      await poll(2, b, 100);
      return (await assigned(1, a)).length === 1 && (await assigned(2, b)).length === 1;
    }, 20_000, 10);
    // b goes quiet; a keeps polling and, after b's 2 s session, gets both partitions.
    await pollUntil('a to own both partitions', async () => {
      await poll(1, a, 200);
      return (await assigned(1, a)).length === 2;
    }, 20_000, 10);
    const g = (await ok(3, 'GET', c.v3('/consumer-groups/g-quiet'))) as { members: { consumer_id: string }[]; state: string };
    expect(g.members.map((m) => m.consumer_id)).toEqual(['a']);
  }, 60_000);

  it('a member that outlived its session lost its partitions: back in the group, it resumes at the committed offset, not its own position', async () => {
    await topic('lapse', 1, 10);
    const a = await member(3, 'g-lapse', 'a');
    await ok(3, 'POST', `${a}/subscription`, { topics: ['lapse'] });
    const first: Rec[] = [];
    await pollUntil('a to read all 10 records', async () => {
      first.push(...(await poll(3, a, 200)));
      return first.length >= 10;
    }, 20_000, 10);
    expect(first.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Processed 0..3 only; 4..9 were returned but not committed.
    await ok(3, 'POST', `${a}/offsets`, { offsets: [{ topic: 'lapse', partition: 0, offset: 3 }] });
    // a stops polling; the coordinator expires it after its 2 s session (the group empties).
    await pollUntil('the coordinator to expire a', async () => {
      const g = (await ok(1, 'GET', c.v3('/consumer-groups/g-lapse'))) as { members: unknown[] };
      return g.members.length === 0;
    }, 20_000, 50);
    // Meanwhile another member could have read and committed the partition; a's position 10
    // is not the group's. Kafka's onPartitionsLost: it starts again from the committed offset.
    const again: Rec[] = [];
    await pollUntil('a to read again', async () => {
      again.push(...(await poll(3, a, 200)));
      return again.length >= 6;
    }, 20_000, 10);
    expect(again.map((r) => r.offset)).toEqual([4, 5, 6, 7, 8, 9]);
  }, 60_000);

  it('lets two groups each read every record', async () => {
    await topic('fanout', 3, 4);
    for (const g of ['g-one', 'g-two']) {
      const base = await member(2, g, 'only');
      await ok(2, 'POST', `${base}/subscription`, { topics: ['fanout'] });
      const all: Rec[] = [];
      await pollUntil(`${g} to read all 12`, async () => {
        all.push(...(await poll(2, base, 300)));
        return all.length >= 12;
      }, 20_000, 10);
      expect(new Set(all.map((r) => r.value)).size).toBe(12);
    }
  }, 60_000);

  it('keeps committed offsets when the coordinator\'s node is SIGKILLed', async () => {
    await topic('durable-offsets', 1, 5);
    const a = await member(1, 'g-dur', 'a');
    await ok(1, 'POST', `${a}/subscription`, { topics: ['durable-offsets'] });
    await pollUntil('a to read', async () => (await poll(1, a, 500)).length > 0, 20_000, 10);
    expect((await req(1, 'POST', `${a}/offsets`, { offsets: [{ topic: 'durable-offsets', partition: 0, offset: 2 }] })).status).toBe(204);
    const coordinator = ((await ok(1, 'GET', c.v3('/consumer-groups/g-dur'))) as { coordinator_id: number }).coordinator_id;
    await c.kill(coordinator);
    const alive = c.ids.find((id) => id !== coordinator) ?? 1;
    const after = await pollUntil('the new coordinator to answer', async () => {
      const g = (await ok(alive, 'GET', c.v3('/consumer-groups/g-dur'))) as { coordinator_id: number; partitions: { committed_offset: number | null }[] };
      return g.coordinator_id !== coordinator ? g : undefined;
    }, 30_000, 100);
    expect(after.partitions[0]?.committed_offset).toBe(3);
    c.start(coordinator);
    await c.waitHealthy();
  }, 90_000);

  it('with auto-commit, a clean close commits everything returned: the next member starts after it', async () => {
    await topic('auto', 1, 6);
    const a = await member(2, 'g-auto', 'a', { 'auto.commit.enable': 'true', 'auto.commit.interval.ms': '600000' });
    await ok(2, 'POST', `${a}/subscription`, { topics: ['auto'] });
    const got: Rec[] = [];
    await pollUntil('a to read all 6', async () => {
      got.push(...(await poll(2, a, 300)));
      return got.length >= 6;
    }, 20_000, 10);
    expect((await req(2, 'DELETE', a)).status).toBe(204);
    await ok(1, 'POST', '/topics/auto/partitions/0', { records: [{ value: 'after-close' }] });
    const b = await member(3, 'g-auto', 'b');
    await ok(3, 'POST', `${b}/subscription`, { topics: ['auto'] });
    const next = await pollUntil('b to read', async () => {
      const r = await poll(3, b, 500);
      return r.length > 0 ? r : undefined;
    }, 20_000, 10);
    expect(next.map((r) => r.value)).toEqual(['after-close']);
  }, 60_000);
});
