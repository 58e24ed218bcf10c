import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface PartitionBody {
  partition_id: number;
  leader_id: number | null;
  high_watermark: number | null;
}

const run = promisify(execFile);
const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A float as the text format writes it (Go's ParseFloat forms plus +Inf, -Inf, NaN). */
function parseValue(text: string, line: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`not a number: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return Number(text);
}

/** `a="x",b="y\"z"` -> labels; strict about quoting, escapes (\\ \" \n) and duplicates. */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`label without "=" in ${JSON.stringify(line)}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || Object.hasOwn(labels, name)) throw new Error(`bad or repeated label name ${JSON.stringify(name)} in ${JSON.stringify(line)}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in ${JSON.stringify(line)}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`bad escape in ${JSON.stringify(line)}`);
        j += 2;
      } else {
        value += ch;
        j++;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected "," between labels in ${JSON.stringify(line)}`);
      i++;
    }
  }
  return labels;
}

/**
 * A strict reading of the Prometheus text format 0.0.4: every line is `# HELP name text`,
 * `# TYPE name type` (once per family, before its samples) or `name{labels} value`; every
 * sample belongs to a family with a TYPE (histograms through _bucket, _sum and _count).
 * Empty lines are allowed, as the format says.
 */
function parseExposition(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue; // the format ignores empty lines (prom-client separates families with one)
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) throw new Error(`bad comment line ${JSON.stringify(line)}`);
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`second HELP for ${name}`);
        helps.add(name);
      } else {
        if (!TYPES.has(rest)) throw new Error(`bad type in ${JSON.stringify(line)}`);
        if (types.has(name)) throw new Error(`second TYPE for ${name}`);
        if (samples.some((s) => s.name === name || s.name.startsWith(`${name}_`))) throw new Error(`TYPE for ${name} after its samples`);
        types.set(name, rest);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (m === null) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const [, name = '', labelText = '', valueText = ''] = m;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const type = types.get(family);
    if (type === undefined || (family !== name && type !== 'histogram' && type !== 'summary')) throw new Error(`sample ${name} has no TYPE`);
    samples.push({ name, labels: parseLabels(labelText, line), value: parseValue(valueText, line) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

function has(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): boolean {
  return samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

describe('GET /metrics on three real processes', () => {
  let c: ProcessCluster;
  withCluster((started) => (c = started));

  const scrape = async (id: number): Promise<Sample[]> => {
    const res = await fetch(c.url(id, '/metrics'), { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /metrics on node ${id}: ${res.status} ${text}`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(text);
    // Every sample carries the node's id (the registry's default label).
    expect(samples.filter((s) => s.labels['node_id'] !== String(id)).map((s) => s.name)).toEqual([]);
    return samples;
  };
  const scrapeAll = (ids: readonly number[]): Promise<Sample[][]> => Promise.all(ids.map((id) => scrape(id)));
  const sumOver = (all: readonly Sample[][], name: string, labels: Readonly<Record<string, string>> = {}): number => all.reduce((n, s) => n + total(s, name, labels), 0);

  const ok = async (id: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(c.url(id, path), {
      method,
      headers: body === undefined ? {} : { 'content-type': JSON_V2 },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} on node ${id}: ${res.status} ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  const partitions = async (id: number, topic: string): Promise<PartitionBody[]> => ((await c.get(id, c.v3(`/topics/${topic}/partitions`))) as { data: PartitionBody[] }).data;

  it('serves a strict Prometheus exposition on every node, with process metrics and one raft leader', async () => {
    const all = await pollUntil('every node to agree on one raft leader in one term', async () => {
      const scraped = await scrapeAll(c.ids);
      const terms = new Set(scraped.map((s) => total(s, 'runnel_raft_term')));
      return terms.size === 1 && sumOver(scraped, 'runnel_raft_is_leader') === 1 ? scraped : undefined;
    });
    for (const s of all) {
      expect(total(s, 'runnel_raft_term')).toBeGreaterThanOrEqual(1);
      expect(total(s, 'runnel_raft_commit_index')).toBeGreaterThanOrEqual(1);
      expect(total(s, 'runnel_raft_applied_index')).toBeGreaterThanOrEqual(1);
      expect(total(s, 'runnel_raft_leader_changes_total')).toBeGreaterThanOrEqual(1);
      expect(total(s, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(has(s, 'nodejs_eventloop_lag_seconds')).toBe(true);
      expect(total(s, 'runnel_partitions_offline')).toBe(0);
      expect(has(s, 'runnel_isr_shrinks_total')).toBe(true);
    }
  });

  it('counts produce and fetch requests, records and bytes per topic, and mirrors the high watermark', async () => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: 'metered', partitions_count: 3, replication_factor: 3 });
    const before = await scrape(1);
    const topic = { topic: 'metered' };
    let bytesIn = 0;
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify({ records: Array.from({ length: 4 }, (_, k) => ({ value: { i, k } })) });
      bytesIn += Buffer.byteLength(body);
      const res = await fetch(c.url(1, i % 2 === 0 ? '/topics/metered' : `/topics/metered/partitions/${i % 3}`), { method: 'POST', headers: { 'content-type': JSON_V2 }, body });
      expect(res.status, await res.text()).toBe(200);
    }
    // A produce to a topic that does not exist is counted without creating a series for its name.
    expect((await fetch(c.url(1, '/topics/no-such-topic'), { method: 'POST', headers: { 'content-type': JSON_V2 }, body: '{"records":[{"value":1}]}' })).status).toBe(404);
    let fetched = 0;
    let bytesOut = 0;
    for (let p = 0; p < 3; p++) {
      const res = await fetch(c.url(1, `/topics/metered/partitions/${p}/records?offset=0&timeout=100`), { headers: { accept: JSON_V2 } });
      expect(res.status).toBe(200);
      bytesOut += Number(res.headers.get('content-length'));
      fetched += ((await res.json()) as unknown[]).length;
    }
    expect(fetched).toBe(20);

    const after = await scrape(1);
    const delta = (name: string, labels: Record<string, string> = topic): number => total(after, name, labels) - total(before, name, labels);
    expect(delta('runnel_produce_requests_total', { topic: 'metered', status: '200' })).toBe(5);
    expect(delta('runnel_produce_records_total')).toBe(20);
    expect(delta('runnel_produce_bytes_total')).toBe(bytesIn);
    expect(delta('runnel_produce_request_duration_seconds_count')).toBe(5);
    expect(delta('runnel_produce_request_duration_seconds_bucket', { topic: 'metered', le: '+Inf' })).toBe(5);
    expect(delta('runnel_produce_request_duration_seconds_sum')).toBeGreaterThan(0);
    expect(delta('runnel_produce_requests_total', { topic: '', status: '404' })).toBe(1);
    expect(after.some((s) => s.labels['topic'] === 'no-such-topic')).toBe(false);
    expect(delta('runnel_fetch_requests_total', { topic: 'metered', status: '200' })).toBe(3);
    expect(delta('runnel_fetch_records_total')).toBe(20);
    expect(delta('runnel_fetch_bytes_total')).toBe(bytesOut);
    expect(delta('runnel_fetch_request_duration_seconds_count')).toBe(3);

    // Each leader reports its partitions' high watermark and log end offset, as the admin API
    // has them, and its followers caught up.
    const parts = await partitions(1, 'metered');
    expect(parts.reduce((n, p) => n + (p.high_watermark ?? 0), 0)).toBe(20);
    await pollUntil('the leaders to report each partition at its high watermark with followers caught up', async () => {
      const all = await scrapeAll(c.ids);
      return parts.every((p) => {
        const s = all[c.ids.indexOf(p.leader_id ?? -1)];
        const labels = { topic: 'metered', partition: String(p.partition_id) };
        return (
          s !== undefined &&
          total(s, 'runnel_partition_high_watermark', labels) === p.high_watermark &&
          total(s, 'runnel_partition_log_end_offset', labels) === p.high_watermark &&
          c.ids.filter((f) => f !== p.leader_id).every((f) => has(s, 'runnel_replica_lag_records', { ...labels, follower: String(f) }) && total(s, 'runnel_replica_lag_records', { ...labels, follower: String(f) }) === 0)
        );
      });
    });
  });

  it('counts Kafka requests, their error codes and latency per API', async () => {
    const port = c.kafkaPorts.get(2) ?? 0;
    const before = await scrape(2);
    // kcat -L: ApiVersions then Metadata; -t names a topic that does not exist and, with
    // auto-creation not allowed, stays so (UNKNOWN_TOPIC_OR_PARTITION in the answer).
    await run('kcat', ['-L', '-J', '-b', `127.0.0.1:${port}`, '-m', '10'], { timeout: 20_000 });
    await run('kcat', ['-L', '-J', '-b', `127.0.0.1:${port}`, '-t', 'no-such-kafka-topic', '-m', '10', '-X', 'allow.auto.create.topics=false'], { timeout: 20_000 });
    const after = await scrape(2);
    const delta = (name: string, labels: Record<string, string>): number => total(after, name, labels) - total(before, name, labels);
    expect(delta('runnel_kafka_requests_total', { api: 'ApiVersions' })).toBeGreaterThanOrEqual(2);
    expect(delta('runnel_kafka_requests_total', { api: 'Metadata' })).toBeGreaterThanOrEqual(2);
    expect(delta('runnel_kafka_request_duration_seconds_count', { api: 'Metadata' })).toBe(delta('runnel_kafka_requests_total', { api: 'Metadata' }));
    expect(delta('runnel_kafka_request_duration_seconds_bucket', { api: 'Metadata', le: '+Inf' })).toBe(delta('runnel_kafka_requests_total', { api: 'Metadata' }));
    expect(delta('runnel_kafka_request_errors_total', { api: 'Metadata', error: 'UNKNOWN_TOPIC_OR_PARTITION' })).toBeGreaterThanOrEqual(1);
    expect(delta('runnel_kafka_request_errors_total', { api: 'ApiVersions' })).toBe(0);
  });

  it('shows a consumer group\'s committed lag and members on its coordinator', async () => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: 'lagging', partitions_count: 1, replication_factor: 3 });
    await ok(3, 'POST', '/topics/lagging', { records: Array.from({ length: 5 }, (_, i) => ({ value: i })) });
    const base = '/consumers/g-lagging/instances/m1';
    await ok(2, 'POST', '/consumers/g-lagging', { name: 'm1', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' });
    await ok(2, 'POST', `${base}/subscription`, { topics: ['lagging'] });
    await pollUntil('the member to read records', async () => ((await ok(2, 'GET', `${base}/records?timeout=500`)) as unknown[]).length > 0, 20_000);
    // REST Proxy commits name the last record processed: the group stores the next offset, 2.
    await ok(2, 'POST', `${base}/offsets`, { offsets: [{ topic: 'lagging', partition: 0, offset: 1 }] });
    const coordinator = ((await c.get(1, c.v3('/consumer-groups/g-lagging'))) as { coordinator_id: number }).coordinator_id;
    await pollUntil(`the coordinator (node ${coordinator}) to report the group's lag and member`, async () => {
      const s = await scrape(coordinator);
      return total(s, 'runnel_consumer_group_lag', { group: 'g-lagging', topic: 'lagging', partition: '0' }) === 3 && total(s, 'runnel_consumer_group_members', { group: 'g-lagging' }) === 1;
    });
    // The consumer-instance poll is counted as a fetch (topic "": it spans topics).
    expect(total(await scrape(2), 'runnel_fetch_requests_total', { topic: '', status: '200' })).toBeGreaterThanOrEqual(1);
    await ok(2, 'DELETE', base);
  });

  it('shows under-replicated partitions and an ISR shrink after a SIGKILL, and an expansion after the restart', async () => {
    const leader = await c.agreedLeader();
    const survivors = c.ids.filter((id) => id !== leader);
    const before = await scrapeAll(survivors);
    expect(sumOver(await scrapeAll(c.ids), 'runnel_partitions_under_replicated')).toBe(0);

    await c.kill(leader);
    await pollUntil('the survivors to report under-replicated partitions, an ISR shrink and a new raft leader', async () => {
      const now = await scrapeAll(survivors);
      return (
        sumOver(now, 'runnel_partitions_under_replicated') > 0 &&
        sumOver(now, 'runnel_isr_shrinks_total') > sumOver(before, 'runnel_isr_shrinks_total') &&
        sumOver(now, 'runnel_raft_leader_changes_total') > sumOver(before, 'runnel_raft_leader_changes_total') &&
        sumOver(now, 'runnel_raft_is_leader') === 1
      );
    }, 30_000, 100);
    const expandsBefore = sumOver(await scrapeAll(survivors), 'runnel_isr_expands_total');

    c.start(leader);
    await c.waitHealthy();
    await pollUntil('every partition back in sync and an ISR expansion counted', async () => {
      const now = await scrapeAll(c.ids);
      return sumOver(now, 'runnel_partitions_under_replicated') === 0 && sumOver(now, 'runnel_isr_expands_total') > expandsBefore;
    }, 30_000, 100);
  }, 90_000);
});
