// Kafka's message specifications (clients/src/main/resources/common/message/*.json, format in
// that directory's README.md), vendored unmodified under ./messages/ (see NOTICE there) and
// read here as data. runnel interprets them (message-codec.ts) rather than generating code:
// one interpreter covers every version of every API, and a new API is a new JSON file.

import { readFileSync } from 'node:fs';

/** A version range as the specs write it: "3", "0-4", "9+", "none". Inclusive. */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

const NONE: VersionRange = { min: 1, max: 0 };

export function parseVersions(text: string | undefined, what: string): VersionRange {
  if (text === undefined || text === 'none') return NONE;
  const plus = /^(\d+)\+$/.exec(text);
  if (plus) return { min: Number(plus[1]), max: Number.MAX_SAFE_INTEGER };
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  if (/^\d+$/.test(text)) return { min: Number(text), max: Number(text) };
  throw new Error(`${what}: bad version range ${JSON.stringify(text)}`);
}

export function inRange(r: VersionRange, v: number): boolean {
  return v >= r.min && v <= r.max;
}

export type Primitive = 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64' | 'string' | 'bytes' | 'records' | 'uuid';

const PRIMITIVES: readonly string[] = ['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid'];

/** What a field holds: a primitive, a struct (its fields inline), or an array of either. */
export type FieldType =
  | { readonly kind: 'primitive'; readonly name: Primitive }
  | { readonly kind: 'struct'; readonly name: string; readonly fields: readonly FieldSpec[] }
  | { readonly kind: 'array'; readonly element: FieldType };

export interface FieldSpec {
  /** The spec's name ("ErrorCode"). */
  readonly specName: string;
  /** The name values carry ("errorCode"), as Kafka's generated classes name their accessors. */
  readonly name: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullableVersions: VersionRange;
  readonly taggedVersions: VersionRange;
  readonly tag: number | undefined;
  /** Field-level override of the message's flexible versions ("none" on RequestHeader.ClientId). */
  readonly flexibleVersions: VersionRange | undefined;
  /** The spec's default text, if any ("-1", "null", "false", "0x7fffffff"). */
  readonly default: string | undefined;
}

export interface MessageSpec {
  readonly name: string;
  readonly apiKey: number | undefined;
  /** 'data': a structure carried inside other messages (ConsumerProtocolSubscription), no API key. */
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly fields: readonly FieldSpec[];
}

interface RawField {
  name?: unknown;
  type?: unknown;
  versions?: unknown;
  nullableVersions?: unknown;
  taggedVersions?: unknown;
  tag?: unknown;
  flexibleVersions?: unknown;
  default?: unknown;
  fields?: unknown;
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`${what}: expected a string`);
  return v;
}

/** "ErrorCode" -> "errorCode". */
export function fieldName(specName: string): string {
  return specName.charAt(0).toLowerCase() + specName.slice(1);
}

function parseType(text: string, raw: RawField, structs: ReadonlyMap<string, readonly RawField[]>, where: string): FieldType {
  if (text.startsWith('[]')) return { kind: 'array', element: parseType(text.slice(2), raw, structs, where) };
  if (PRIMITIVES.includes(text)) return { kind: 'primitive', name: text as Primitive };
  const inline = raw.fields;
  const fields = Array.isArray(inline) ? (inline as RawField[]) : structs.get(text);
  if (fields === undefined) throw new Error(`${where}: unknown type ${text}`);
  return { kind: 'struct', name: text, fields: fields.map((f) => parseField(f, structs, `${where}.${text}`)) };
}

function parseField(raw: RawField, structs: ReadonlyMap<string, readonly RawField[]>, where: string): FieldSpec {
  const specName = optString(raw.name, `${where}: name`);
  const typeText = optString(raw.type, `${where}: type`);
  if (specName === undefined || typeText === undefined) throw new Error(`${where}: a field needs a name and a type`);
  const at = `${where}.${specName}`;
  if (raw.tag !== undefined && (typeof raw.tag !== 'number' || !Number.isInteger(raw.tag))) throw new Error(`${at}: bad tag`);
  const flexible = optString(raw.flexibleVersions, `${at}: flexibleVersions`);
  return {
    specName,
    name: fieldName(specName),
    type: parseType(typeText, raw, structs, at),
    versions: parseVersions(optString(raw.versions, `${at}: versions`) ?? 'none', at),
    nullableVersions: parseVersions(optString(raw.nullableVersions, at), at),
    taggedVersions: parseVersions(optString(raw.taggedVersions, at), at),
    tag: raw.tag,
    flexibleVersions: flexible === undefined ? undefined : parseVersions(flexible, at),
    // Most defaults are strings ("-1", "null"); a few files write a bare number.
    default: typeof raw.default === 'number' || typeof raw.default === 'boolean' ? String(raw.default) : optString(raw.default, `${at}: default`),
  };
}

/**
 * Kafka's spec files are JSON with whole-line `//` comments (the licence header and notes on
 * versions). Strip those lines, then parse; the files themselves stay byte-identical to Kafka's.
 */
export function stripCommentLines(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('//'))
    .join('\n');
}

export function parseMessageSpec(text: string, where: string): MessageSpec {
  const raw = JSON.parse(stripCommentLines(text)) as Record<string, unknown>;
  const type = raw['type'];
  if (type !== 'request' && type !== 'response' && type !== 'header' && type !== 'data') throw new Error(`${where}: unsupported message type ${String(type)}`);
  const name = optString(raw['name'], `${where}: name`) ?? where;
  const structs = new Map<string, readonly RawField[]>();
  const common = raw['commonStructs'];
  if (Array.isArray(common)) {
    for (const s of common as RawField[]) {
      if (typeof s.name === 'string' && Array.isArray(s.fields)) structs.set(s.name, s.fields as RawField[]);
    }
  }
  const fields = raw['fields'];
  if (!Array.isArray(fields)) throw new Error(`${where}: no fields`);
  const apiKey = raw['apiKey'];
  return {
    name,
    apiKey: typeof apiKey === 'number' ? apiKey : undefined,
    type,
    validVersions: parseVersions(optString(raw['validVersions'], `${where}: validVersions`), where),
    flexibleVersions: parseVersions(optString(raw['flexibleVersions'], `${where}: flexibleVersions`), where),
    fields: (fields as RawField[]).map((f) => parseField(f, structs, name)),
  };
}

/** One vendored spec by file stem ("MetadataRequest"), read from ./messages/. */
export function loadMessageSpec(stem: string): MessageSpec {
  const url = new URL(`./messages/${stem}.json`, import.meta.url);
  return parseMessageSpec(readFileSync(url, 'utf8'), stem);
}
