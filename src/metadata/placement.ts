/**
 * Replica placement for new partitions, after Kafka's AdminUtils.assignReplicasToBrokers:
 * leaders go round-robin over the brokers (least-loaded first, so leadership stays even across
 * topics), followers follow the leader around the ring with a shift that grows with each full
 * round, so no two partitions of a round share the same follower pattern.
 *
 * @param brokers     live broker ids to place on
 * @param leaderCount partitions each broker already leads (for balance across topics)
 * @returns replicas per partition; replicas[0] is the preferred leader
 */
export function placeReplicas(
  brokers: readonly number[],
  partitions: number,
  replicationFactor: number,
  leaderCount: ReadonlyMap<number, number> = new Map(),
): number[][] {
  const ring = [...brokers].sort((a, b) => a - b);
  const n = ring.length;
  if (replicationFactor < 1 || replicationFactor > n) {
    throw new RangeError(`replication factor ${replicationFactor} needs 1..${n} brokers`);
  }
  const order = [...ring].sort((a, b) => (leaderCount.get(a) ?? 0) - (leaderCount.get(b) ?? 0) || a - b);
  const out: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const leader = order[p % n] as number;
    const first = ring.indexOf(leader);
    const shift = Math.floor(p / n);
    const replicas = [leader];
    for (let k = 0; k < replicationFactor - 1; k++) {
      const step = 1 + ((shift + k) % (n - 1));
      replicas.push(ring[(first + step) % n] as number);
    }
    out.push(replicas);
  }
  return out;
}
