import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/broker/partitioner.ts';
import type { ConsumedRecord as Consumed } from '../../src/http/consumers/consumed-record.ts';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

interface ProduceAnswer {
  offsets: { partition: number; offset: number | null; error_code: number | null; error: string | null }[];
}

interface PartitionBody {
  partition_id: number;
  leader_id: number | null;
  isr: number[];
  high_watermark: number | null;
}

const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';

describe('the data plane on three real processes', () => {
  let c: ProcessCluster;
  withCluster((started) => (c = started));

  const post = async (id: number, path: string, body: unknown, contentType = JSON_V2): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(c.url(id, path), { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  const read = async (id: number, topic: string, p: number, offset: number, query = '', accept = JSON_V2): Promise<Consumed[]> => {
    const res = await fetch(c.url(id, `/topics/${topic}/partitions/${p}/records?offset=${offset}${query}`), { headers: { accept } });
    if (res.status !== 200) throw new Error(`read ${topic}-${p}@${offset}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Consumed[];
  };
  const endOffset = async (id: number, topic: string, p: number): Promise<number> =>
    ((await c.get(id, `/topics/${topic}/partitions/${p}/offsets`)) as { end_offset: number }).end_offset;
  const createTopic = async (name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> => {
    const r = await c.http(1, 'POST', c.v3('/topics'), {
      topic_name: name,
      partitions_count: partitions,
      replication_factor: 3,
      configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  };
  const partitions = async (id: number, topic: string): Promise<PartitionBody[]> =>
    ((await c.get(id, c.v3(`/topics/${topic}/partitions`))) as { data: PartitionBody[] }).data;

  it('puts keyed binary records on the partition murmur2 of the key gives, as a Kafka client would', async () => {
    await createTopic('keyed', 6);
    const keys = Array.from({ length: 24 }, (_, i) => `user-${i}`);
    const r = await post(2, '/topics/keyed', {
      records: keys.map((k) => ({ key: Buffer.from(k).toString('base64'), value: Buffer.from(`v-${k}`).toString('base64') })),
    }, BINARY_V2);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const answer = r.body as ProduceAnswer;
    keys.forEach((k, i) => expect(answer.offsets[i]?.partition).toBe(partitionForKey(Buffer.from(k), 6)));
    // And each record is where the answer says, with its key and value.
    for (const [i, k] of keys.entries()) {
      const o = answer.offsets[i];
      if (o?.offset === null || o === undefined) throw new Error('no offset');
      const got = await read(3, 'keyed', o.partition, o.offset, '&max_bytes=100', BINARY_V2);
      expect(got[0]).toMatchObject({ offset: o.offset, key: Buffer.from(k).toString('base64'), value: Buffer.from(`v-${k}`).toString('base64') });
    }
  });

  it('reads back everything produced through one node in order, with contiguous offsets, identically from every node', async () => {
    await createTopic('ordered', 1);
    let next = 0;
    for (let req = 0; req < 10; req++) {
      const records = Array.from({ length: 20 }, () => ({ value: { n: next++ }, headers: [{ name: 'trace', value: Buffer.from(`t${next}`).toString('base64') }] }));
      const r = await post(1, '/topics/ordered?acks=all', { records });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const offs = (r.body as ProduceAnswer).offsets.map((o) => o.offset);
      expect(offs).toEqual(Array.from({ length: 20 }, (_, k) => req * 20 + k));
    }
    const views = await Promise.all(c.ids.map(async (id) => {
      const all: Consumed[] = [];
      while (all.length < 200) all.push(...(await read(id, 'ordered', 0, all.length, '&timeout_ms=2000')));
      return all;
    }));
    for (const v of views) {
      expect(v.map((r) => r.offset)).toEqual(Array.from({ length: 200 }, (_, k) => k));
      expect(v.map((r) => (r.value as { n: number }).n)).toEqual(Array.from({ length: 200 }, (_, k) => k));
      expect(v[5]?.headers).toEqual([{ name: 'trace', value: Buffer.from('t6').toString('base64') }]);
      expect(v).toEqual(views[0]);
    }
    expect(await endOffset(2, 'ordered', 0)).toBe(200);
  });

  it('long-polls an empty partition for timeout_ms, and wakes early when a record arrives', async () => {
    await createTopic('poll', 1);
    const t0 = performance.now();
    expect(await read(2, 'poll', 0, 0, '&timeout_ms=700')).toEqual([]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(650);
    const t1 = performance.now();
    const waiting = read(3, 'poll', 0, 0, '&timeout_ms=20000');
    // A second, shorter read started after it comes back empty: the first has been parked at least that long.
    expect(await read(1, 'poll', 0, 0, '&timeout_ms=300')).toEqual([]);
    const produced = await post(1, '/topics/poll', { records: [{ value: 'wake up' }] });
    expect(produced.status).toBe(200);
    const got = await waiting;
    expect(got.map((r) => r.value)).toEqual(['wake up']);
    expect(performance.now() - t1).toBeLessThan(10_000);
  });

  it('refuses bad produce and consume input with a 4xx naming the field, leaving the log untouched', async () => {
    await createTopic('strict', 2, { 'max.message.bytes': '2000' });
    const before = [await endOffset(1, 'strict', 0), await endOffset(1, 'strict', 1)];
    const cases: [string, unknown, string, number, string][] = [
      ['/topics/strict', '{"records": [', JSON_V2, 400, ''],
      ['/topics/strict', { records: [{ value: '!!not base64' }] }, BINARY_V2, 422, 'records[0].value'],
      ['/topics/strict', { records: [{ value: 1, partition: -1 }] }, JSON_V2, 422, 'records[0].partition'],
      ['/topics/strict', { records: [{ value: 1, partition: 7 }] }, JSON_V2, 404, 'records[0].partition'],
      ['/topics/strict/partitions/9', { records: [{ value: 1 }] }, JSON_V2, 404, 'partition'],
      ['/topics/strict?acks=2', { records: [{ value: 1 }] }, JSON_V2, 422, 'acks'],
      ['/topics/strict', { records: [{ value: 'x'.repeat(5000) }] }, JSON_V2, 413, 'max.message.bytes'],
      ['/topics/strict', { records: [] }, JSON_V2, 422, 'records'],
      ['/topics/strict', { record: [{ value: 1 }] }, JSON_V2, 422, 'record'],
      ['/topics/nope', { records: [{ value: 1 }] }, JSON_V2, 404, 'nope'],
      ['/topics/strict', { records: [{ value: 1 }] }, 'text/plain', 415, 'text/plain'],
    ];
    for (const [path, body, type, status, field] of cases) {
      const r = await post(1, path, body, type);
      expect(r.status, `${path} ${JSON.stringify(body)} -> ${JSON.stringify(r.body)}`).toBe(status);
      const e = r.body as { error_code: number; message: string };
      expect(Math.floor(e.error_code / 100)).toBe(status);
      expect(e.message).toContain(field);
    }
    const bad = await fetch(c.url(1, '/topics/strict/partitions/0/records?offset=-3'));
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { message: string }).message).toContain('offset');
    const beyond = await fetch(c.url(1, '/topics/strict/partitions/0/records?offset=50'));
    expect(beyond.status).toBe(416);
    expect([await endOffset(1, 'strict', 0), await endOffset(1, 'strict', 1)]).toEqual(before);
  });

  it('with min.insync.replicas=3 and a broker down, refuses acks=all with NOT_ENOUGH_REPLICAS, takes acks=1, and re-adds the broker to the ISR when it returns', async () => {
    await createTopic('durable', 1, { 'min.insync.replicas': '3' });
    const ok = await post(1, '/topics/durable?acks=all', { records: [{ value: 'first' }] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const controller = await c.agreedLeader();
    const p0 = (await partitions(controller, 'durable'))[0];
    // Kill a follower of the partition that is not the raft leader (the metadata quorum stays).
    const victim = c.ids.find((id) => id !== controller && id !== p0?.leader_id) ?? 0;
    const via = c.ids.find((id) => id !== victim) ?? 0;
    await c.kill(victim);
    // As the partition leader sees it: the controller commits the shrink before the leader applies it.
    const leader = p0?.leader_id ?? 0;
    await pollUntil('the ISR to shrink on the leader', async () => (await partitions(leader, 'durable'))[0]?.isr.length === 2, 20_000, 50);
    const refused = await post(via, '/topics/durable?acks=all', { records: [{ value: 'refused' }] });
    expect(refused.status, JSON.stringify(refused.body)).toBe(503);
    expect((refused.body as ProduceAnswer).offsets[0]).toMatchObject({ offset: null, error_code: 50003, error: 'NOT_ENOUGH_REPLICAS' });
    const one = await post(via, '/topics/durable?acks=1', { records: [{ value: 'acks=1' }] });
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    expect((one.body as ProduceAnswer).offsets[0]?.offset).toBe(1);
    c.start(victim);
    await pollUntil('the broker to rejoin the ISR', async () => (await partitions(controller, 'durable'))[0]?.isr.length === 3, 30_000, 50);
    // The acks=1 record was written while the ISR was below the minimum, so the HW froze below
    // it (KAFKA-15583); it is readable once the returned broker has fetched it, which can be a
    // fetch round after it rejoined (it joins once caught up to the HW, not to the log end).
    const values = await pollUntil('the acks=1 record to be committed once the ISR is whole', async () => {
      const v = (await read(victim, 'durable', 0, 0, '&timeout_ms=1000')).map((r) => r.value);
      return v.length >= 2 ? v : undefined;
    }, 15_000, 50);
    expect(values).toEqual(['first', 'acks=1']);
    const again = await post(victim, '/topics/durable?acks=all', { records: [{ value: 'after' }] });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
  }, 90_000);

  it('deletes whole old segments past retention.bytes and advances the log start offset', async () => {
    await createTopic('short', 1, { 'segment.bytes': '4096', 'retention.bytes': '8192' });
    const value = 'y'.repeat(400);
    for (let i = 0; i < 20; i++) {
      const r = await post(2, '/topics/short?acks=all', { records: Array.from({ length: 5 }, () => ({ value })) });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const start = await pollUntil('retention to advance the log start', async () => {
      const o = (await c.get(1, '/topics/short/partitions/0/offsets')) as { beginning_offset: number; end_offset: number };
      return o.beginning_offset > 0 ? o : undefined;
    }, 15_000, 100);
    expect(start.end_offset).toBe(100);
    const first = await read(3, 'short', 0, start.beginning_offset);
    expect(first[0]?.offset).toBe(start.beginning_offset);
    const below = await fetch(c.url(3, '/topics/short/partitions/0/records?offset=0'));
    expect(below.status).toBe(416);
  });

  it('fills the partition listing with high watermark and log start offset', async () => {
    const ps = await partitions(2, 'ordered');
    expect(ps[0]).toMatchObject({ high_watermark: 200, log_start_offset: 0 });
  });
});
