// The interpreter of Kafka's message specs: for one message at one version it builds a reader
// and a writer out of closures, once, and caches them. Encodings follow the spec README and
// KIP-482: in flexible versions strings, bytes and arrays are compact (uvarint length + 1, 0 =
// null) and every struct ends with a tagged-field section; otherwise lengths are int16 (strings)
// or int32 (bytes, arrays) with -1 = null.
//
// Values are plain objects keyed by camelCase field names. A field absent at a version reads as
// its default; when writing, a field left undefined is written as its default. int64 values are
// bigints, uuids are canonical strings, bytes and records are Buffers (views of the frame).

import type { ByteReader } from './byte-reader.ts';
import { ByteWriter } from './byte-writer.ts';
import { MalformedFrameError } from './malformed-frame-error.ts';
import { inRange } from './message-spec.ts';
import type { FieldSpec, FieldType, MessageSpec, Primitive } from './message-spec.ts';

export type MessageValue = Record<string, unknown>;

export interface MessageCodec {
  read(r: ByteReader): MessageValue;
  write(w: ByteWriter, v: MessageValue): void;
}

interface ValueCodec {
  read(r: ByteReader): unknown;
  write(w: ByteWriter, v: unknown): void;
}

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Whether the field is encoded flexibly at `version` (its own override, else the message's). */
function fieldFlexible(f: FieldSpec, version: number, messageFlexible: boolean): boolean {
  return f.flexibleVersions === undefined ? messageFlexible : inRange(f.flexibleVersions, version);
}

/** The value a field takes when a version lacks it (spec README: "default"). */
export function defaultValue(f: FieldSpec, version: number): unknown {
  const d = f.default;
  const t = f.type;
  if (d === 'null') return null;
  switch (t.kind) {
    case 'array':
      return [];
    case 'struct':
      return Object.fromEntries(t.fields.filter((sf) => inRange(sf.versions, version)).map((sf) => [sf.name, defaultValue(sf, version)]));
    case 'primitive':
      return primitiveDefault(t.name, d);
  }
}

function primitiveDefault(p: Primitive, d: string | undefined): unknown {
  switch (p) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return d === undefined ? 0n : BigInt(d);
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float64':
      return d === undefined ? 0 : Number(d);
    case 'string':
      return d ?? '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    case 'uuid':
      return ZERO_UUID;
  }
}

/** Structural equality of codec values (tagged fields are written only when not default). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => sameValue((a as MessageValue)[k], (b as MessageValue)[k]));
  }
  return false;
}

/** Reads a length: compact (uvarint - 1) or classic (int16/int32); -1 = null. */
function readLength(r: ByteReader, flexible: boolean, classic: 'int16' | 'int32'): number {
  if (flexible) return r.uvarint() - 1;
  return classic === 'int16' ? r.int16() : r.int32();
}

function writeLength(w: ByteWriter, n: number, flexible: boolean, classic: 'int16' | 'int32'): void {
  if (flexible) w.uvarint(n + 1);
  else if (classic === 'int16') w.int16(n);
  else w.int32(n);
}

function checkLength(n: number, nullable: boolean, r: ByteReader, what: string): boolean {
  if (n === -1) {
    if (!nullable) throw new MalformedFrameError(`${what}: null where the spec allows none`);
    return true;
  }
  if (n < -1) throw new MalformedFrameError(`${what}: negative length ${n}`);
  // Every element takes at least one byte, so a count above the bytes left is a lie.
  if (n > r.remaining) throw new MalformedFrameError(`${what}: length ${n} beyond the ${r.remaining} bytes left`);
  return false;
}

function primitiveCodec(p: Primitive, flexible: boolean, nullable: boolean, what: string): ValueCodec {
  switch (p) {
    case 'bool':
      return { read: (r) => r.bool(), write: (w, v) => w.bool(v as boolean) };
    case 'int8':
      return { read: (r) => r.int8(), write: (w, v) => w.int8(v as number) };
    case 'int16':
      return { read: (r) => r.int16(), write: (w, v) => w.int16(v as number) };
    case 'uint16':
      return { read: (r) => r.uint16(), write: (w, v) => w.uint16(v as number) };
    case 'int32':
      return { read: (r) => r.int32(), write: (w, v) => w.int32(v as number) };
    case 'uint32':
      return { read: (r) => r.uint32(), write: (w, v) => w.uint32(v as number) };
    case 'int64':
      return { read: (r) => r.int64(), write: (w, v) => w.int64(v as bigint) };
    case 'float64':
      return { read: (r) => r.float64(), write: (w, v) => w.float64(v as number) };
    case 'uuid':
      return { read: (r) => r.uuid(), write: (w, v) => w.uuid(v as string) };
    case 'string':
      return {
        read: (r) => {
          const n = readLength(r, flexible, 'int16');
          return checkLength(n, nullable, r, what) ? null : r.utf8(n);
        },
        write: (w, v) => {
          if (v === null) return writeNull(w, flexible, 'int16', nullable, what);
          const b = Buffer.from(v as string, 'utf8');
          if (!flexible && b.length > 0x7fff) throw new RangeError(`${what}: string longer than 32767 bytes`);
          writeLength(w, b.length, flexible, 'int16');
          w.bytes(b);
        },
      };
    case 'bytes':
    case 'records':
      return {
        read: (r) => {
          const n = readLength(r, flexible, 'int32');
          return checkLength(n, nullable, r, what) ? null : r.bytes(n, what);
        },
        write: (w, v) => {
          if (v === null) return writeNull(w, flexible, 'int32', nullable, what);
          const b = v as Buffer;
          writeLength(w, b.length, flexible, 'int32');
          w.bytes(b);
        },
      };
  }
}

function writeNull(w: ByteWriter, flexible: boolean, classic: 'int16' | 'int32', nullable: boolean, what: string): void {
  // Writing is ours: a null where the spec allows none is a bug in a handler, not bad input.
  if (!nullable) throw new TypeError(`${what}: null written where the spec allows none`);
  writeLength(w, -1, flexible, classic);
}

function typeCodec(t: FieldType, version: number, flexible: boolean, nullable: boolean, what: string): ValueCodec {
  switch (t.kind) {
    case 'primitive':
      return primitiveCodec(t.name, flexible, nullable, what);
    case 'struct': {
      // Struct-typed fields are never nullable in the specs runnel serves.
      const s = structCodec(t.fields, version, flexible, what);
      return { read: (r) => s.read(r), write: (w, v) => s.write(w, v as MessageValue) };
    }
    case 'array': {
      const element = typeCodec(t.element, version, flexible, false, `${what}[]`);
      return {
        read: (r) => {
          const n = readLength(r, flexible, 'int32');
          if (checkLength(n, nullable, r, what)) return null;
          const out: unknown[] = new Array<unknown>(n);
          for (let i = 0; i < n; i++) out[i] = element.read(r);
          return out;
        },
        write: (w, v) => {
          if (v === null) return writeNull(w, flexible, 'int32', nullable, what);
          const items = v as readonly unknown[];
          writeLength(w, items.length, flexible, 'int32');
          for (const item of items) element.write(w, item);
        },
      };
    }
  }
}

interface CompiledField {
  readonly spec: FieldSpec;
  readonly codec: ValueCodec;
  readonly fallback: unknown;
}

function structCodec(fields: readonly FieldSpec[], version: number, flexible: boolean, where: string): MessageCodec {
  const regular: CompiledField[] = [];
  const tagged = new Map<number, CompiledField>();
  const absent: { name: string; fallback: unknown }[] = [];
  for (const f of fields) {
    const fallback = defaultValue(f, version);
    if (!inRange(f.versions, version)) {
      absent.push({ name: f.name, fallback });
      continue;
    }
    const isTagged = flexible && inRange(f.taggedVersions, version);
    const codec = typeCodec(f.type, version, isTagged || fieldFlexible(f, version, flexible), inRange(f.nullableVersions, version), `${where}.${f.specName}`);
    if (isTagged) {
      if (f.tag === undefined) throw new Error(`${where}.${f.specName}: tagged without a tag`);
      tagged.set(f.tag, { spec: f, codec, fallback });
    } else {
      regular.push({ spec: f, codec, fallback });
    }
  }
  const taggedInOrder = [...tagged.entries()].sort((a, b) => a[0] - b[0]);
  return {
    read(r) {
      const out: MessageValue = {};
      for (const a of absent) out[a.name] = copyDefault(a.fallback);
      for (const f of regular) out[f.spec.name] = f.codec.read(r);
      for (const [, f] of taggedInOrder) out[f.spec.name] = copyDefault(f.fallback);
      if (!flexible) return out;
      const count = r.uvarint();
      if (count > r.remaining) throw new MalformedFrameError(`${where}: ${count} tagged fields in ${r.remaining} bytes`);
      let lastTag = -1;
      for (let i = 0; i < count; i++) {
        const tag = r.uvarint();
        // KIP-482: tags appear in strictly increasing order.
        if (tag <= lastTag) throw new MalformedFrameError(`${where}: tag ${tag} after tag ${lastTag}`);
        lastTag = tag;
        const sub = r.sub(r.uvarint());
        const f = tagged.get(tag);
        if (f === undefined) continue; // an unknown tag is skipped, as KIP-482 allows
        out[f.spec.name] = f.codec.read(sub);
        if (sub.remaining !== 0) throw new MalformedFrameError(`${where}.${f.spec.specName}: ${sub.remaining} bytes left in its tagged value`);
      }
      return out;
    },
    write(w, v) {
      for (const f of regular) {
        const value = v[f.spec.name];
        f.codec.write(w, value === undefined ? f.fallback : value);
      }
      if (!flexible) return;
      const present = taggedInOrder.filter(([, f]) => v[f.spec.name] !== undefined && !sameValue(v[f.spec.name], f.fallback));
      w.uvarint(present.length);
      for (const [tag, f] of present) {
        const inner = new ByteWriter(64);
        f.codec.write(inner, v[f.spec.name]);
        const bytes = inner.finish();
        w.uvarint(tag);
        w.uvarint(bytes.length);
        w.bytes(bytes);
      }
    },
  };
}

/** Defaults are shared between reads: hand each read its own arrays and structs. */
function copyDefault(v: unknown): unknown {
  if (Array.isArray(v)) return [];
  if (Buffer.isBuffer(v)) return Buffer.alloc(0);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copyDefault(x)]));
  return v;
}

const cache = new WeakMap<MessageSpec, Map<number, MessageCodec>>();

/** The codec of `spec` at `version` (built once). Throws if the spec has no such version. */
export function messageCodec(spec: MessageSpec, version: number): MessageCodec {
  let byVersion = cache.get(spec);
  if (byVersion === undefined) cache.set(spec, (byVersion = new Map<number, MessageCodec>()));
  let codec = byVersion.get(version);
  if (codec === undefined) {
    if (!inRange(spec.validVersions, version)) throw new RangeError(`${spec.name} has no version ${version}`);
    codec = structCodec(spec.fields, version, inRange(spec.flexibleVersions, version), spec.name);
    byVersion.set(version, codec);
  }
  return codec;
}
