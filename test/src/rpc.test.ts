import { connect } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import { componentLogger, createRootLogger } from '../../src/logger.ts';
import type { Logger } from '../../src/logger.ts';
import { FrameDecoder, encodeFrame } from '../../src/rpc/frame-codec.ts';
import { backoffDelayMs } from '../../src/rpc/peer-link.ts';
import { RpcNode } from '../../src/rpc/rpc-node.ts';
import type { RpcNodeOptions } from '../../src/rpc/rpc-node.ts';
import { pollUntil } from '../support/poll.ts';

type LogLine = Record<string, unknown>;

/** A real pino logger (through src/logger.ts) whose JSON lines land in `lines`. */
function captureLog(nodeId: number): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const root = createRootLogger({ nodeId, level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { logger: componentLogger(root, 'rpc'), lines };
}

interface TestNode {
  readonly rpc: RpcNode;
  readonly lines: LogLine[];
}

const open: RpcNode[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

type Overrides = Partial<Omit<RpcNodeOptions, 'nodeId' | 'logger' | 'peers'>> & { peerIds?: readonly number[] };

/** One RpcNode on 127.0.0.1 (port 0 unless given), started; peers' addresses set later. */
async function startNode(id: number, o: Overrides = {}): Promise<TestNode> {
  const { logger, lines } = captureLog(id);
  const { peerIds = [1, 2, 3].filter((p) => p !== id), ...rest } = o;
  const rpc = new RpcNode({
    nodeId: id,
    clusterId: 'test-cluster',
    host: '127.0.0.1',
    rpcPort: 0,
    peers: peerIds.map((p) => ({ id: p, host: '127.0.0.1', rpcPort: 1 })),
    logger,
    connectBackoffBaseMs: 10,
    connectBackoffMaxMs: 100,
    ...rest,
  });
  open.push(rpc);
  await rpc.start();
  return { rpc, lines };
}

/** Tell every node where every other listens. */
function wire(...nodes: TestNode[]): void {
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.rpc.setPeerAddress({ id: b.rpc.nodeId, host: '127.0.0.1', rpcPort: b.rpc.port });
  }
}

async function cluster(n: number, o: Overrides = {}): Promise<TestNode[]> {
  const nodes = await Promise.all(Array.from({ length: n }, (_, i) => startNode(i + 1, o)));
  wire(...nodes);
  return nodes;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The RunnelError a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<RunnelError> {
  const err: unknown = await p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RunnelError);
  return err as RunnelError;
}

/** A port nothing listens on (a node was there and is gone). */
async function freePort(): Promise<number> {
  const { rpc } = await startNode(9, { peerIds: [] });
  const port = rpc.port;
  await rpc.close();
  return port;
}

describe('frame codec', () => {
  const frame = fc.record({
    type: fc.constantFrom('msg', 'req', 'res'),
    id: fc.nat(),
    channel: fc.string(),
    payload: fc.array(fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null)), { maxLength: 50 }),
  });

  it('decodes any sequence of frames however the stream is split or coalesced', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (values, cutSeeds) => {
        const bytes = Buffer.concat(values.map((v) => encodeFrame(v)));
        const cuts = [...new Set(cutSeeds.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
        const decoder = new FrameDecoder();
        const out: unknown[] = [];
        let from = 0;
        for (const cut of [...cuts, bytes.length]) {
          out.push(...decoder.push(bytes.subarray(from, cut)));
          from = cut;
        }
        expect(out).toEqual(values);
        expect(decoder.pendingBytes).toBe(0);
      }),
    );
  });

  it('decodes byte by byte and from one coalesced chunk alike', () => {
    const values = [{ a: 1 }, 'two', [3, Buffer.from('four')], { big: 'x'.repeat(70_000) }];
    const bytes = Buffer.concat(values.map((v) => encodeFrame(v)));
    const oneByOne = new FrameDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...oneByOne.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual(values);
    expect(new FrameDecoder().push(bytes)).toEqual(values);
  });

  it('refuses a frame above the bound as soon as its header arrives', () => {
    const decoder = new FrameDecoder(1000);
    expect(decoder.push(encodeFrame('x'.repeat(990), 1000))).toHaveLength(1);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1001, 0);
    expect(() => decoder.push(header)).toThrow(/1001 bytes exceeds the limit of 1000/);
    expect(() => encodeFrame('x'.repeat(1000), 1000)).toThrow(RunnelError);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelayMs(1, 50, 2000, () => 0)).toBe(25);
    expect(backoffDelayMs(1, 50, 2000, () => 1)).toBe(50);
    expect(backoffDelayMs(3, 50, 2000, () => 1)).toBe(200);
    expect(backoffDelayMs(40, 50, 2000, () => 1)).toBe(2000);
    expect(backoffDelayMs(40, 50, 2000, () => 0)).toBe(1000);
  });
});

describe('RpcNode', () => {
  it('delivers one-way messages in order, including those sent before the connection was up', async () => {
    const [a, b] = await cluster(2);
    const got: [unknown, number][] = [];
    b!.rpc.onMessage('raft', (payload, from) => got.push([payload, from]));
    for (let i = 0; i < 100; i++) a!.rpc.send(2, 'raft', { i, data: new Uint8Array([i]) });
    await pollUntil('100 messages at node 2', () => got.length === 100);
    expect(got.map(([p]) => (p as { i: number }).i)).toEqual([...Array(100).keys()]);
    expect(got.every(([, from]) => from === 1)).toBe(true);
    expect(Buffer.from((got[7]![0] as { data: Uint8Array }).data)).toEqual(Buffer.from([7]));
  });

  it('answers requests in both directions over the two connections', async () => {
    const [a, b, c] = await cluster(3);
    for (const n of [a!, b!, c!]) n.rpc.handle('whoami', (payload, from) => ({ me: n.rpc.nodeId, from, payload }));
    expect(await a!.rpc.request(2, 'whoami', { q: 1 })).toEqual({ me: 2, from: 1, payload: { q: 1 } });
    expect(await b!.rpc.request(1, 'whoami', 'x')).toEqual({ me: 1, from: 2, payload: 'x' });
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => c!.rpc.request(1 + (i % 2), 'whoami', i)));
    expect(many.map((r) => (r as { payload: number }).payload)).toEqual([...Array(50).keys()]);
  });

  it('rejects with the RunnelError the handler threw, by name', async () => {
    const [a, b] = await cluster(2);
    b!.rpc.handle('produce', () => {
      throw new RunnelError('NOT_LEADER_OR_FOLLOWER', 'node 2 does not lead orders-0');
    });
    b!.rpc.handle('buggy', () => Promise.reject(new TypeError('x is undefined')));
    const err = await rejection(a!.rpc.request(2, 'produce', {}));
    expect([err.errorName, err.message, err.status]).toEqual(['NOT_LEADER_OR_FOLLOWER', 'node 2 does not lead orders-0', 503]);
    const bug = await rejection(a!.rpc.request(2, 'buggy', {}));
    expect([bug.errorName, bug.message]).toEqual(['UNKNOWN_SERVER_ERROR', 'x is undefined']);
    expect(b!.lines.some((l) => l['msg'] === 'rpc handler failed' && l['level'] === 50)).toBe(true);
    const missing = await rejection(a!.rpc.request(2, 'nope', {}));
    expect(missing.message).toBe('node 2 has no rpc method nope');
  });

  it('times out a request nobody answers with REQUEST_TIMED_OUT', async () => {
    const [a, b] = await cluster(2);
    const release = deferred();
    b!.rpc.handle('slow', () => release.promise);
    const started = Date.now();
    const err = await rejection(a!.rpc.request(2, 'slow', {}, { timeoutMs: 200 }));
    expect(err.errorName).toBe('REQUEST_TIMED_OUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    release.resolve();
    // The late answer is ignored, and the connection still works.
    b!.rpc.handle('fast', () => 'ok');
    expect(await a!.rpc.request(2, 'fast', {})).toBe('ok');
  });

  it('refuses a node of another cluster: it never gets a hello answer and the good node logs it', async () => {
    const good = await startNode(1);
    const intruder = await startNode(2, { clusterId: 'other-cluster' });
    wire(good, intruder);
    good.rpc.handle('whoami', () => 1);
    const got: unknown[] = [];
    good.rpc.onMessage('raft', (p) => got.push(p));
    intruder.rpc.send(1, 'raft', 'vote for me');
    const err = await rejection(intruder.rpc.request(1, 'whoami', {}, { timeoutMs: 5000 }));
    expect(err.errorName).toBe('BROKER_NOT_AVAILABLE');
    expect(err.message).toMatch(/ECONNRESET|closed before the hello answer/);
    expect(intruder.rpc.isConnected(1)).toBe(false);
    const warn = await pollUntil('the refusal in the good node log', () =>
      good.lines.find((l) => l['msg'] === 'refused rpc connection: wrong cluster id'),
    );
    expect(warn).toMatchObject({ level: 40, nodeId: 1, component: 'rpc', remoteClusterId: 'other-cluster', remoteNodeId: 2 });
    expect(got).toEqual([]);
  });

  it('refuses a node id that is not a peer', async () => {
    const good = await startNode(1);
    const stranger = await startNode(7, { peerIds: [1] });
    stranger.rpc.setPeerAddress({ id: 1, host: '127.0.0.1', rpcPort: good.rpc.port });
    const err = await rejection(stranger.rpc.request(1, 'x', {}));
    expect(err.errorName).toBe('BROKER_NOT_AVAILABLE');
    await pollUntil('the refusal', () => good.lines.find((l) => l['msg'] === 'refused rpc connection: unknown node id' && l['remoteNodeId'] === 7));
  });

  it('reconnects after the peer closes and restarts on the same port, and delivers what was queued meanwhile', async () => {
    const [a, b] = await cluster(2);
    b!.rpc.handle('ping', () => 'pong');
    expect(await a!.rpc.request(2, 'ping', {})).toBe('pong');
    const port = b!.rpc.port;
    await b!.rpc.close();
    // Down: requests fail (fast, retriable) instead of waiting.
    const down = await rejection(a!.rpc.request(2, 'ping', {}, { timeoutMs: 30_000 }));
    expect(['BROKER_NOT_AVAILABLE', 'NETWORK_EXCEPTION']).toContain(down.errorName);
    await pollUntil('node 1 notices', () => !a!.rpc.isConnected(2));
    a!.rpc.send(2, 'raft', 'sent while down');

    const b2 = await startNode(2, { rpcPort: port });
    wire(a!, b2);
    const got: unknown[] = [];
    b2.rpc.onMessage('raft', (p) => got.push(p));
    b2.rpc.handle('ping', () => 'pong again');
    await pollUntil('the queued message', () => got.length > 0);
    expect(got).toEqual(['sent while down']);
    expect(await pollUntil('a request through the new connection', () => a!.rpc.request(2, 'ping', {}))).toBe('pong again');
  });

  it('drops an outbound connection whose peer answers as another node (a misconfigured address)', async () => {
    const [a, , c] = await cluster(3);
    c!.rpc.handle('ping', () => 'from 3');
    // Node 1 believes node 2 listens where node 3 does: node 3 accepts node 1 but says it is 3.
    a!.rpc.setPeerAddress({ id: 2, host: '127.0.0.1', rpcPort: c!.rpc.port });
    const err = await rejection(a!.rpc.request(2, 'ping', {}));
    expect(err.errorName).toBe('BROKER_NOT_AVAILABLE');
    expect(err.message).toContain('bad hello answer');
    expect(a!.lines.some((l) => String(l['msg']).startsWith('dropping rpc connection: the peer did not answer'))).toBe(true);
  });

  it('fails a request to an unreachable peer at once, not at its timeout', async () => {
    const port = await freePort();
    const a = await startNode(1);
    a.rpc.setPeerAddress({ id: 2, host: '127.0.0.1', rpcPort: port });
    const err = await rejection(a.rpc.request(2, 'ping', {}, { timeoutMs: 60_000 }));
    expect(err.errorName).toBe('BROKER_NOT_AVAILABLE');
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('keeps only the newest one-way messages, up to its bound, while a peer is down', async () => {
    const port = await freePort();
    const a = await startNode(1, { maxQueuedMessages: 3 });
    a.rpc.setPeerAddress({ id: 2, host: '127.0.0.1', rpcPort: port });
    for (let i = 0; i < 10; i++) a.rpc.send(2, 'raft', i);
    expect(a.rpc.droppedMessages(2)).toBe(7);
    const b = await startNode(2, { rpcPort: port });
    const got: unknown[] = [];
    b.rpc.onMessage('raft', (p) => got.push(p));
    await pollUntil('the kept messages', () => got.length === 3);
    expect(got).toEqual([7, 8, 9]);
  });

  it('drops traffic over a cut link while the fault hook is set, and not after it is healed', async () => {
    const [a, b] = await cluster(2);
    const got: unknown[] = [];
    b!.rpc.onMessage('raft', (p) => got.push(p));
    b!.rpc.handle('ping', () => 'pong');
    expect(await a!.rpc.request(2, 'ping', {})).toBe('pong');
    b!.rpc.setLinkFilter((from, to) => !(from === 1 && to === 2));
    a!.rpc.send(2, 'raft', 'lost');
    expect((await rejection(a!.rpc.request(2, 'ping', {}, { timeoutMs: 150 }))).errorName).toBe('REQUEST_TIMED_OUT');
    b!.rpc.setLinkFilter(undefined);
    a!.rpc.send(2, 'raft', 'after');
    await pollUntil('the message after healing', () => got.length > 0);
    expect(got).toEqual(['after']);
    expect(await a!.rpc.request(2, 'ping', {})).toBe('pong');
  });

  it('close() rejects pending requests with a typed error and waits for running handlers', async () => {
    const [a, b] = await cluster(2);
    const release = deferred();
    let finished = false;
    b!.rpc.handle('slow', async () => {
      await release.promise;
      finished = true;
    });
    const pending = rejection(a!.rpc.request(2, 'slow', {}, { timeoutMs: 30_000 }));
    await pollUntil('the request to be in flight', () => a!.rpc.isConnected(2));
    await a!.rpc.close();
    const err = await pending;
    expect(err.errorName).toBe('BROKER_NOT_AVAILABLE');
    const closing = b!.rpc.close();
    release.resolve();
    await closing;
    expect(finished).toBe(true);
  });

  it('refuses messages over its frame bound and disconnects a peer that sends one', async () => {
    const [a, b] = await cluster(2, { maxFrameBytes: 65_536 });
    expect(() => a!.rpc.send(2, 'raft', 'x'.repeat(70_000))).toThrow(/exceeds the limit of 65536 bytes/);
    expect((await rejection(a!.rpc.request(2, 'x', 'x'.repeat(70_000)))).errorName).toBe('MESSAGE_TOO_LARGE');

    // A raw client that passes the handshake, then announces a 1 GiB frame.
    const socket = connect({ host: '127.0.0.1', port: b!.rpc.port });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(encodeFrame({ type: 'hello', v: 1, clusterId: 'test-cluster', nodeId: 1 }));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1 << 30, 0);
    socket.write(header);
    await closed;
    const warn = b!.lines.find((l) => l['msg'] === 'dropping rpc connection: bad frame');
    expect((warn?.['err'] as { message: string }).message).toContain('exceeds the limit of 65536 bytes');
  });
});
