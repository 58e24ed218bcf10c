// `runnel produce TOPIC`: stdin, one record per line, batched into produce requests in order.

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Option } from 'commander';
import type { Command } from 'commander';
import { intArg } from '../arg-parsers.ts';
import { addGlobalOptions, runWithContext } from '../context.ts';
import type { CliContext } from '../context.ts';
import { HttpError } from '../http-client.ts';
import { Progress } from '../progress.ts';
import { getTopic } from './topic.ts';

/** Bounds of one produce request (STYLE.md: every batch has a bound). */
export const MAX_BATCH_RECORDS = 500;
export const MAX_BATCH_BYTES = 64 * 1024;
/** A batch waits this long for more lines, so an interactive user sees each line sent at once. */
const LINGER_MS = 5;
/** Batches waiting behind the one in flight before reading stdin pauses. */
const MAX_QUEUED_BATCHES = 4;
/** Per-record failures printed in full; the rest are only counted. */
const MAX_ERRORS_SHOWN = 10;
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';

export interface ProduceOptions {
  readonly keySeparator?: string;
  readonly partition?: number;
  readonly acks: 'all' | '1' | '0';
}

interface LineRecord {
  readonly line: number;
  readonly key: string | null;
  readonly value: string;
}

interface OffsetEntry {
  readonly partition: number;
  readonly offset: number | null;
  readonly error_code: number | null;
  readonly error: string | null;
}

export interface ProduceSummary {
  readonly topic: string;
  /** Records the cluster took (with acks=0: sent, not confirmed). */
  records: number;
  failed: number;
  /** Records taken per partition. */
  readonly partitions: Record<string, number>;
  /** Failed records per error name. */
  readonly errors: Record<string, number>;
}

function isOffsets(body: unknown): body is { offsets: OffsetEntry[] } {
  return typeof body === 'object' && body !== null && Array.isArray((body as { offsets?: unknown }).offsets);
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/**
 * Reads `input` line by line and produces each line as one record. One request is in flight
 * at a time, so records reach each partition in input order; stdin is read ahead by at most
 * MAX_QUEUED_BATCHES batches. A failure of a whole request other than per-record errors (the
 * topic went away, no broker answers) stops reading and is rethrown after the summary.
 */
export async function produceLines(ctx: CliContext, summary: ProduceSummary, input: Readable, o: ProduceOptions, signal: AbortSignal): Promise<{ fatal: Error | undefined }> {
  const topic = summary.topic;
  let shown = 0;
  const fail = (line: number, error: string, detail: string): void => {
    summary.failed++;
    summary.errors[error] = (summary.errors[error] ?? 0) + 1;
    if (shown++ < MAX_ERRORS_SHOWN) ctx.note(`line ${line}: ${detail}`);
  };
  const path = `/topics/${encodeURIComponent(topic)}${o.partition === undefined ? '' : `/partitions/${o.partition}`}?acks=${o.acks}`;
  let fatal: Error | undefined;

  const send = async (batch: readonly LineRecord[]): Promise<void> => {
    if (fatal !== undefined) {
      for (const r of batch) fail(r.line, 'NOT_SENT', 'not sent: an earlier request failed');
      return;
    }
    const body = { records: batch.map((r) => ({ key: r.key === null ? null : b64(r.key), value: b64(r.value) })) };
    let answer: unknown;
    try {
      answer = await ctx.client.request({ method: 'POST', path, body, contentType: BINARY_V2, timeoutMs: 60_000 });
    } catch (err) {
      if (!(err instanceof HttpError && isOffsets(err.body))) {
        fatal = err instanceof Error ? err : new Error('produce request failed', { cause: err });
        const name = err instanceof HttpError ? `HTTP ${err.status}` : 'NOT_SENT';
        for (const r of batch) fail(r.line, name, err instanceof Error ? err.message : String(err));
        return;
      }
      answer = err.body; // per-record outcomes with the first failure's status
    }
    const offsets = isOffsets(answer) ? answer.offsets : [];
    batch.forEach((r, i) => {
      const e = offsets[i];
      if (e === undefined) return fail(r.line, 'NO_ANSWER', 'the broker answered no offset for this record');
      if (e.error_code !== null) return fail(r.line, e.error ?? String(e.error_code), `${e.error ?? 'failed'} (error_code ${e.error_code}, partition ${e.partition})`);
      summary.records++;
      summary.partitions[String(e.partition)] = (summary.partitions[String(e.partition)] ?? 0) + 1;
    });
  };

  let batch: LineRecord[] = [];
  let batchBytes = 0;
  let linger: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  const flush = (): void => {
    clearTimeout(linger);
    linger = undefined;
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    batchBytes = 0;
    queued++;
    chain = chain.then(() => send(b)).finally(() => queued--);
  };

  const rl = createInterface({ input, crlfDelay: Infinity });
  const stop = (): void => rl.close();
  signal.addEventListener('abort', stop, { once: true });
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (fatal !== undefined) break;
      let key: string | null = null;
      let value = line;
      if (o.keySeparator !== undefined) {
        const at = line.indexOf(o.keySeparator);
        if (at < 0) {
          fail(lineNo, 'NO_KEY_SEPARATOR', `no key separator ${JSON.stringify(o.keySeparator)} in the line: not sent`);
          continue;
        }
        key = line.slice(0, at);
        value = line.slice(at + o.keySeparator.length);
      }
      const bytes = Buffer.byteLength(value) + (key === null ? 0 : Buffer.byteLength(key));
      if (batch.length > 0 && batchBytes + bytes > MAX_BATCH_BYTES) flush();
      batch.push({ line: lineNo, key, value });
      batchBytes += bytes;
      if (batch.length >= MAX_BATCH_RECORDS) flush();
      else linger ??= setTimeout(flush, LINGER_MS);
      if (queued >= MAX_QUEUED_BATCHES) await chain;
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
  flush();
  await chain;
  return { fatal };
}

export function summaryText(s: ProduceSummary, acks: string): string {
  const parts = Object.entries(s.partitions)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([p, n]) => `${p}: ${n}`)
    .join(', ');
  const verb = acks === '0' ? 'sent (acks=0: not confirmed)' : 'produced';
  const errors = Object.entries(s.errors)
    .map(([e, n]) => `${e} x${n}`)
    .join(', ');
  return `${verb} ${s.records} record${s.records === 1 ? '' : 's'} to ${s.topic}${parts === '' ? '' : ` (partition ${parts})`}; ${s.failed} failed${errors === '' ? '' : ` (${errors})`}`;
}

export function registerProduceCommand(program: Command): void {
  addGlobalOptions(
    program
      .command('produce <topic>')
      .description('produce stdin to a topic, one record per line (key and value are the line\'s UTF-8 bytes)')
      .option('--key-separator <sep>', 'each line is KEY<sep>VALUE: the key is the text before the first <sep> (records with one key go to one partition)')
      .option('--partition <p>', 'write every record to this partition (default: by the key\'s murmur2 hash, keyless ones spread)', intArg(0))
      .addOption(new Option('--acks <acks>', 'replicas that must have a record before it counts').choices(['all', '1', '0']).default('all'))
      .addHelpText('after', `\nLines are sent in order, up to ${MAX_BATCH_RECORDS} lines or ${MAX_BATCH_BYTES / 1024} KiB per request. A summary goes to stderr at the end\n(to stdout as JSON with --json); the exit code is 1 if any record failed.`),
  ).action(async (topic: string, o: ProduceOptions, cmd: Command) =>
    runWithContext(cmd, async (ctx) => {
      const t = await getTopic(ctx, topic); // a clear error before reading any input
      if (o.partition !== undefined && o.partition >= t.partitions_count) {
        throw new Error(`topic ${topic} has partitions 0-${t.partitions_count - 1}, not ${o.partition}`);
      }
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort()); // Ctrl-C: stop reading, send what was read, summarise
      const summary: ProduceSummary = { topic, records: 0, failed: 0, partitions: {}, errors: {} };
      // Progress only for piped input: an interactive user sees each line go.
      const progress = new Progress(() => `produced ${summary.records} records, ${summary.failed} failed...`, process.stderr.isTTY === true && process.stdin.isTTY !== true);
      progress.start();
      const r = await produceLines(ctx, summary, process.stdin, o, abort.signal).finally(() => progress.stop());
      if (ctx.json) ctx.printJson(summary);
      else ctx.note(summaryText(summary, o.acks));
      if (r.fatal !== undefined) throw r.fatal;
      return summary.failed > 0 ? 1 : 0;
    }),
  );
}
