import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/broker/partitioner.ts';
import { pollUntil } from '../support/poll.ts';
import { freePorts, withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface GroupJson {
  members: { consumer_id: string }[];
  partitions: { topic: string; partition: number; committed_offset: number | null; end_offset: number | null; lag: number | null }[];
}

/** Every CLI process a test started; afterAll kills whatever is still running. */
const children = new Set<ChildProcess>();

/** Starts `runnel ARGS` as its own process (the way `npx runnel` runs it). */
function start(args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): { child: ChildProcess; done: Promise<Run>; stdout: () => string } {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, RUNNEL_BROKERS: '', ...opts.env },
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.end(opts.input ?? '');
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done, stdout: () => stdout };
}

const run = (args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> => start(args, opts).done;

/** Asserts exit code 0, showing the CLI's stderr when it is not. */
function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('the runnel CLI against three real processes', () => {
  let c: ProcessCluster;
  withCluster((started) => (c = started));
  const brokers = (): string[] => ['--brokers', c.ids.map((id) => c.url(id, '')).join(',')];
  const cli = (...args: string[]): Promise<Run> => run([...args, ...brokers()]);
  /** The group as the server describes it (test-side checks, without a CLI process). */
  const groupOverHttp = async (group: string): Promise<GroupJson> => (await c.get(1, c.v3(`/consumer-groups/${group}`))) as GroupJson;

  it('creates, lists, describes, alters and deletes a topic', async () => {
    expect(ok(await cli('topic', 'create', 'orders', '--partitions', '2', '--replication-factor', '3', '--config', 'retention.ms=3600000')).stdout).toContain(
      'created topic orders (2 partitions, replication factor 3)',
    );
    const [again, list] = await Promise.all([
      cli('topic', 'create', 'orders'),
      cli('topic', 'list'),
      cli('topic', 'alter-config', 'orders', '--config', 'retention.ms=7200000', '--config', 'min.insync.replicas=1').then(ok),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error: .*already exists/);
    expect(ok(list).stdout).toMatch(/^TOPIC\s+PARTITIONS\s+REPLICATION\n(.*\n)*orders\s+2\s+3$/m);

    const [json, text] = await Promise.all([
      // Global options also go before the subcommand.
      run(['--json', ...brokers(), 'topic', 'describe', 'orders']).then(ok),
      cli('topic', 'describe', 'orders').then(ok),
    ]);
    const described = JSON.parse(json.stdout) as { partitions: { partition_id: number; replicas: number[] }[]; configs: { name: string; value: string }[] };
    expect(described.partitions.map((p) => p.partition_id)).toEqual([0, 1]);
    for (const p of described.partitions) expect(p.replicas).toHaveLength(3);
    expect(described.configs.find((x) => x.name === 'retention.ms')?.value).toBe('7200000');
    expect(described.configs.find((x) => x.name === 'min.insync.replicas')?.value).toBe('1');
    expect(text.stdout).toMatch(/^topic orders: 2 partitions, replication factor 3$/m);
    expect(text.stdout).toMatch(/^PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+HIGH WATERMARK\s+LOG START\n0\s+[123]\s+[123],[123],[123]\s/m);
    expect(text.stdout).toMatch(/^retention\.ms\s+7200000\s+no$/m);

    expect(ok(await cli('topic', 'delete', 'orders')).stdout).toContain('deleted topic orders');
    const gone = await cli('topic', 'describe', 'orders');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/error: .*orders.*not found/);
    expect(gone.stderr).toContain('runnel topic list');
  }, 60_000);

  it('produces keyed lines from stdin to the partition of each key, in order, and consumes them back', async () => {
    ok(await cli('topic', 'create', 'keyed', '--partitions', '3'));
    const input = Array.from({ length: 40 }, (_, i) => `user-${i % 7}:value-${i}`).join('\n') + '\n';
    const produced = ok(await run(['produce', 'keyed', '--key-separator', ':', ...brokers()], { input }));
    expect(produced.stderr).toMatch(/produced 40 records to keyed \(partition .*\); 0 failed/);

    const [counted, all, fromEnd] = await Promise.all([
      cli('consume', 'keyed', '--from-beginning', '--count', '40', '--format', '%p %o %k %v').then(ok),
      // Without --count it stops once caught up to the end offsets seen at the start.
      cli('consume', 'keyed', '--from-beginning', '--json').then(ok),
      // From the end (the default) there is nothing to read, and it says how to read what is there.
      cli('consume', 'keyed').then(ok),
    ]);
    const rows = lines(counted.stdout).map((l) => {
      const [p, o, k, v] = l.split(' ');
      return { partition: Number(p), offset: Number(o), key: k ?? '', value: v ?? '' };
    });
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => r.value))).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `value-${i}`)));
    for (const r of rows) {
      expect(r.key).toBe(`user-${Number(r.value.slice('value-'.length)) % 7}`);
      expect(r.partition).toBe(partitionForKey(Buffer.from(r.key), 3)); // the server's murmur2 partitioner
    }
    expect(new Set(rows.map((r) => r.partition)).size).toBeGreaterThan(1);
    for (let k = 0; k < 7; k++) {
      // One key's records, in offset order, are in input order.
      const values = rows.filter((r) => r.key === `user-${k}`).sort((a, b) => a.offset - b.offset).map((r) => Number(r.value.slice('value-'.length)));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    const objects = lines(all.stdout).map((l) => JSON.parse(l) as { key: string; value: string; partition: number; offset: number; timestamp: number });
    expect(objects).toHaveLength(40);
    expect(objects.every((o) => o.key.startsWith('user-') && o.value.startsWith('value-') && o.timestamp > 0)).toBe(true);
    expect(fromEnd.stdout).toBe('');
    expect(fromEnd.stderr).toContain('--from-beginning');

    // A line without the separator is not sent: counted, reported, exit 1.
    const bad = await run(['produce', 'keyed', '--key-separator', ':', '--partition', '1', ...brokers()], { input: 'k:one\nno separator here\nk:two\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('line 2: no key separator');
    expect(bad.stderr).toMatch(/produced 2 records to keyed \(partition 1: 2\); 1 failed \(NO_KEY_SEPARATOR x1\)/);
  }, 60_000);

  it('consumes as a group, commits what it printed, and re-reads after reset-offsets', async () => {
    ok(await cli('topic', 'create', 'grouped', '--partitions', '2'));
    // Keyed, so both partitions get records: k0..k19 over 2 partitions by murmur2.
    const values = Array.from({ length: 20 }, (_, i) => `g-${i}`);
    const counts = [0, 1].map((p) => values.filter((_, i) => partitionForKey(Buffer.from(`k${i}`), 2) === p).length);
    const input = values.map((v, i) => `k${i} ${v}`).join('\n');
    const summary = JSON.parse(ok(await run(['produce', 'grouped', '--json', '--key-separator', ' ', ...brokers()], { input })).stdout) as unknown;
    expect(summary).toMatchObject({ records: 20, failed: 0, partitions: { '0': counts[0], '1': counts[1] } });

    const first = ok(await cli('consume', 'grouped', '--group', 'audit', '--from-beginning'));
    expect(lines(first.stdout).sort()).toEqual([...values].sort());
    // Everything printed was committed, and the instance left the group on exit.
    const [described, listed] = await Promise.all([cli('group', 'describe', 'audit', '--json').then(ok), cli('group', 'list').then(ok)]);
    const after = JSON.parse(described.stdout) as GroupJson;
    expect(after.members).toEqual([]);
    expect(after.partitions.filter((p) => p.topic === 'grouped').map((p) => [p.partition, p.committed_offset, p.end_offset, p.lag])).toEqual([
      [0, counts[0], counts[0], 0],
      [1, counts[1], counts[1], 0],
    ]);
    expect(listed.stdout).toMatch(/^audit\s+Empty\s+0\s+[123]\s+0$/m);

    const reset = ok(await cli('group', 'reset-offsets', 'audit', '--topic', 'grouped', '--to-earliest'));
    expect(reset.stdout).toMatch(new RegExp(`^grouped\\s+0\\s+${counts[0]}\\s+0\\ngrouped\\s+1\\s+${counts[1]}\\s+0$`, 'm'));
    expect((await groupOverHttp('audit')).partitions.map((p) => p.committed_offset)).toEqual([0, 0]);
    const again = ok(await cli('consume', 'grouped', '--group', 'audit'));
    expect(lines(again.stdout).sort()).toEqual([...values].sort());

    const [text, dry] = await Promise.all([
      cli('group', 'describe', 'audit').then(ok),
      // An offset outside a log is moved to its end, as Kafka's tool does; --dry-run changes nothing.
      cli('group', 'reset-offsets', 'audit', '--topic', 'grouped', '--to-offset', '1000', '--dry-run', '--json').then(ok),
    ]);
    expect(text.stdout).toMatch(new RegExp(`^grouped\\s+0\\s+-\\s+${counts[0]}\\s+${counts[0]}\\s+0$`, 'm'));
    expect(JSON.parse(dry.stdout)).toMatchObject({ group: 'audit', dry_run: true, offsets: counts.map((n, p) => ({ topic: 'grouped', partition: p, previous: n, offset: n })) });
    expect(dry.stderr).toContain(`partition 0: offset 1000 is outside 0-${counts[0]}; using ${counts[0]}`);
  }, 60_000);

  it('refuses to reset the offsets of a group with an active member, and Ctrl-C on consume leaves the group', async () => {
    ok(await cli('topic', 'create', 'live', '--partitions', '1'));
    const follower = start(['consume', 'live', '--group', 'watchers', '--follow', '--from-beginning', ...brokers()]);
    await pollUntil('the follower to join the group', async () => (await groupOverHttp('watchers')).members.length === 1, 20_000, 100);
    // It prints what arrives.
    ok(await run(['produce', 'live', ...brokers()], { input: 'hello\n' }));
    await pollUntil('the follower to print the record', () => follower.stdout() === 'hello\n', 20_000, 50);
    const refused = await cli('group', 'reset-offsets', 'watchers', '--topic', 'live', '--to-earliest');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/group watchers has 1 active member\(s\) \(runnel-cli-.*\); offsets can only be reset while the group is inactive/);
    // The server refuses too (the CLI's check could race a consumer that joins after it).
    const direct = await c.http(2, 'POST', c.v3('/consumer-groups/watchers/offsets'), { offsets: [{ topic: 'live', partition: 0, offset: 0 }] });
    expect(direct.status).toBe(409);
    expect(direct.body).toMatchObject({ error_code: 40905, message: expect.stringMatching(/group "watchers" has active members \(runnel-cli-/) as unknown });

    follower.child.kill('SIGINT');
    const r = await follower.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('consumed 1 record');
    // It deleted its instance on the way out: the group is empty at once, not after a session
    // timeout, and it had committed what it printed.
    const g = await groupOverHttp('watchers');
    expect(g.members).toEqual([]);
    expect(g.partitions.map((p) => p.committed_offset)).toEqual([1]);
  }, 60_000);

  it('shows the nodes, the controller and partition health in cluster status', async () => {
    const [textRun, jsonRun] = await Promise.all([cli('cluster', 'status'), cli('cluster', 'status', '--json')]);
    const text = ok(textRun).stdout;
    expect(text).toMatch(/^cluster runnel-test, controller [123]$/m);
    for (const id of c.ids) expect(text).toMatch(new RegExp(`^${id}\\s+http://127\\.0\\.0\\.1:${c.httpPorts.get(id)}\\s+127\\.0\\.0\\.1:${c.kafkaPorts.get(id)}\\s+yes\\s+active\\s+\\d+\\s+\\d+\\s+[123]`, 'm'));
    expect(text).toMatch(/^offline partitions: none$/m);
    const s = JSON.parse(ok(jsonRun).stdout) as {
      cluster_id: string;
      controller_id: number;
      nodes: { id: number; kafka: string; healthy: boolean; broker_status: string; raft: { term: number; commit_index: number; leader_id: number } }[];
      under_replicated_partitions: unknown[];
      offline_partitions: unknown[];
    };
    expect(s.cluster_id).toBe('runnel-test');
    expect(c.ids).toContain(s.controller_id);
    expect(s.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
    for (const n of s.nodes) {
      expect(n).toMatchObject({ healthy: true, broker_status: 'active', kafka: `127.0.0.1:${c.kafkaPorts.get(n.id)}` });
      expect(n.raft.term).toBeGreaterThan(0);
      expect(n.raft.commit_index).toBeGreaterThan(0);
    }
    expect(s.offline_partitions).toEqual([]);
  }, 60_000);

  it('gives exit code 2 and a clear message for a bad command line', async () => {
    const cases: [string[], RegExp][] = [
      [['topic', 'create', 'x', '--partitions', 'abc'], /option '--partitions <n>' argument 'abc' is invalid\. must be an integer >= 1/],
      [['produce', 'x', '--acks', '2'], /argument '2' is invalid\. Allowed choices are all, 1, 0/],
      [['consume', 'x', '--format', '%q'], /--format: unknown placeholder "%q"/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['topic', 'list', '--brokers', 'not a url'], /--brokers: "not a url" is not a broker URL/],
    ];
    const results = await Promise.all(cases.map(([args]) => run([...args, ...(args.includes('--brokers') ? [] : brokers())])));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]?.[0].join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(cases[i]?.[1] ?? /./);
    });
  }, 60_000);

  it('says how to fix an unreachable broker list, and moves past a dead broker to a live one', async () => {
    const [a, b] = await freePorts(2);
    const dead = `http://127.0.0.1:${a},http://127.0.0.1:${b}`;
    const [r, live] = await Promise.all([
      run(['topic', 'list', '--brokers', dead]),
      // RUNNEL_BROKERS names the brokers when --brokers does not; a dead first entry is skipped.
      run(['cluster', 'status', '--json'], { env: { RUNNEL_BROKERS: `http://127.0.0.1:${a},${c.url(2, '')}` } }),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach any broker (http://127.0.0.1:${a}, http://127.0.0.1:${b})`);
    expect(r.stderr).toContain('is the cluster running? start it with `npm start`');
    const s = JSON.parse(ok(live).stdout) as { nodes: { id: number | null; healthy: boolean }[] };
    expect(s.nodes.filter((n) => n.healthy).map((n) => n.id)).toEqual([1, 2, 3]);
    expect(s.nodes.some((n) => !n.healthy && n.id === null)).toBe(true); // the dead URL is reported, not hidden
  }, 60_000);
});
