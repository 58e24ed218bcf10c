// Shape checks for values that crossed the wire (rpc payloads and answers): each names the
// field it refuses, as invalid() does for HTTP input.

import { invalid } from '../errors.ts';

export type Fields = Readonly<Record<string, unknown>>;

export function fields(v: unknown, what: string): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(what, 'must be an object');
  return v as Fields;
}

export function int(o: Fields, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(k, 'must be an integer');
  return v;
}

export function str(o: Fields, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw invalid(k, 'must be a string');
  return v;
}

export function bool(o: Fields, k: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw invalid(k, 'must be a boolean');
  return v;
}

export function bytes(o: Fields, k: string): Uint8Array {
  const v = o[k];
  if (!(v instanceof Uint8Array)) throw invalid(k, 'must be bytes');
  return v;
}

export function list(o: Fields, k: string): readonly unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw invalid(k, 'must be a list');
  return v;
}

/** A list of integers (broker ids, offsets). */
export function ints(o: Fields, k: string): readonly number[] {
  const l = list(o, k);
  if (!l.every((x): x is number => Number.isInteger(x))) throw invalid(k, 'must be a list of integers');
  return l;
}

/** A list whose elements each pass `parse`. */
export function listOf<T>(o: Fields, k: string, parse: (v: unknown, what: string) => T): T[] {
  return list(o, k).map((v, i) => parse(v, `${k}[${i}]`));
}

/** An integer or null. */
export function intOrNull(o: Fields, k: string): number | null {
  return o[k] === null ? null : int(o, k);
}

/** A string, or null (absent reads as null: msgpack drops no keys, but older senders may omit one). */
export function strOrNull(o: Fields, k: string): string | null {
  return o[k] === null || o[k] === undefined ? null : str(o, k);
}

/** An object of string values (topic configs); with `nullable`, null values too (a reset to the default). */
export function stringMap(o: Fields, k: string): Readonly<Record<string, string>>;
export function stringMap(o: Fields, k: string, nullable: true): Readonly<Record<string, string | null>>;
export function stringMap(o: Fields, k: string, nullable = false): Readonly<Record<string, string | null>> {
  const m = fields(o[k], k);
  for (const [name, v] of Object.entries(m)) {
    if (typeof v !== 'string' && !(nullable && v === null)) throw invalid(`${k}.${name}`, 'must be a string');
  }
  return m as Readonly<Record<string, string | null>>;
}

/** A list of strings (topic names, group ids). */
export function strings(o: Fields, k: string): string[] {
  return listOf(o, k, (v, what) => {
    if (typeof v !== 'string') throw invalid(what, 'must be a string');
    return v;
  });
}
