// `consume --format`: how one record is printed, with printf-like placeholders.

import { UsageError } from './usage-error.ts';

/** A consumed record with key and value decoded from bytes to UTF-8 text. */
export interface TextRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
}

export const FORMAT_HELP = `--format placeholders:
  %v value   %k key   %o offset   %p partition   %t timestamp (ms)   %T topic   %% a literal %
  \\t tab   \\n newline   \\\\ backslash; a missing key or value prints as nothing.
  default "%v"; e.g. --format '%p:%o %k=%v'`;

const PLACEHOLDERS: Record<string, (r: TextRecord) => string> = {
  v: (r) => r.value ?? '',
  k: (r) => r.key ?? '',
  o: (r) => String(r.offset),
  p: (r) => String(r.partition),
  t: (r) => String(r.timestamp),
  T: (r) => r.topic,
  '%': () => '%',
};

const ESCAPES: Record<string, string> = { t: '\t', n: '\n', '\\': '\\' };

/** Compiles a format once; an unknown placeholder is a usage error naming it. */
export function compileFormat(format: string): (r: TextRecord) => string {
  const parts: (string | ((r: TextRecord) => string))[] = [];
  let text = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i] ?? '';
    const next = format[i + 1];
    if (ch === '%' || ch === '\\') {
      const table = ch === '%' ? PLACEHOLDERS : ESCAPES;
      const hit = next === undefined ? undefined : table[next];
      if (hit === undefined) {
        if (ch === '\\') {
          text += ch; // a lone backslash stays itself
          continue;
        }
        throw new UsageError(`--format: unknown placeholder "%${next ?? ''}"; use %v %k %o %p %t %T or %%`);
      }
      i++;
      if (typeof hit === 'string') {
        text += hit;
        continue;
      }
      if (text !== '') parts.push(text);
      text = '';
      parts.push(hit);
      continue;
    }
    text += ch;
  }
  if (text !== '') parts.push(text);
  return (r) => parts.map((p) => (typeof p === 'string' ? p : p(r))).join('');
}

/** Decodes a record of the binary embedded format (key and value base64). */
export function decodeBinaryRecord(r: { topic: string; partition: number; offset: number; timestamp: number; key: unknown; value: unknown }): TextRecord {
  const text = (v: unknown): string | null => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : null);
  return { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: text(r.key), value: text(r.value) };
}
