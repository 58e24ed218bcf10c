// Fastify's schema validation (ajv) reports a failure as a list of ajv errors on the thrown
// error (`err.validation`, `err.validationContext`). This turns the first one into the same
// RunnelError a handler would throw: a 422 (or the subschema's own error name) whose message
// starts with the bad field's path, as API.md asks of every bad input.

import { ERRORS, invalid } from '../errors.ts';
import type { ErrorName, RunnelError } from '../errors.ts';
import { isObject, shown } from './produce-request.ts';

/**
 * Annotation keywords of our route schemas, declared to ajv (which is strict about unknown
 * keywords) and passed through to the OpenAPI document as `x-` extensions:
 * - `x-expected`: what a valid value is, in words ("an integer 1-10000"); a failure of that
 *   subschema says `field: must be <x-expected>, got <value>`.
 * - `x-error-name`: the errors.ts name of a failure of that subschema when it is not
 *   INVALID_REQUEST (partitions_count -> INVALID_PARTITIONS, as the controller answers).
 */
export const SCHEMA_ANNOTATIONS = ['x-expected', 'x-error-name'] as const;

/** The part of an ajv error we read; ajv's `verbose` option adds parentSchema and data. */
export interface SchemaValidationError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string | undefined;
  readonly parentSchema?: unknown;
  readonly data?: unknown;
}

/** Where the failing value was: fastify's validationContext. */
export type ValidationPart = 'body' | 'querystring' | 'params' | 'headers';

/** The RunnelError for a schema failure: `configs[0].name: must be a string, got 7`. */
export function validationError(errors: readonly SchemaValidationError[], part: ValidationPart | undefined): RunnelError {
  // With allErrors off ajv stops at the first failure, except inside anyOf/oneOf, where it
  // lists every branch's failure and then its own: the combinator's error says it best.
  const e = errors.find((x) => x.keyword === 'anyOf' || x.keyword === 'oneOf') ?? errors[0];
  if (e === undefined) return invalid(part ?? 'request', 'failed schema validation');
  const schema = isObject(e.parentSchema) ? e.parentSchema : {};
  const path = fieldPath(e.instancePath);
  const field = (name: string): string => (path === '' ? name : `${path}.${name}`);
  switch (e.keyword) {
    case 'required':
      return invalid(field(String(e.params['missingProperty'])), 'is required');
    case 'additionalProperties': {
      const known = isObject(schema['properties']) ? Object.keys(schema['properties']) : [];
      return invalid(field(String(e.params['additionalProperty'])), `unknown field${known.length > 0 ? `; known: ${known.join(', ')}` : ''}`);
    }
    default:
      break;
  }
  const name = path === '' ? wholePart(part) : path;
  const errorName = errorNameOf(schema['x-error-name']);
  if (part === 'querystring' && e.keyword === 'type' && Array.isArray(e.data)) return invalid(name, 'given more than once', errorName);
  const expected = typeof schema['x-expected'] === 'string' ? schema['x-expected'] : undefined;
  const why = expected !== undefined ? `must be ${expected}` : describe(e, schema);
  return invalid(name, e.data === undefined ? why : `${why}, got ${shown(e.data)}`, errorName);
}

/** `/configs/0/name` -> `configs[0].name` (RFC 6901 escapes undone). */
function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

function wholePart(part: ValidationPart | undefined): string {
  switch (part) {
    case 'querystring':
      return 'query';
    case 'params':
      return 'path';
    case 'headers':
      return 'headers';
    case 'body':
    case undefined:
      return 'body';
  }
}

/** The failed keyword in words, for subschemas without `x-expected`. */
function describe(e: SchemaValidationError, schema: Record<string, unknown>): string {
  const p = e.params;
  switch (e.keyword) {
    case 'type':
      return `must be ${typeNames(p['type'])}`;
    case 'enum':
      return `must be one of ${(Array.isArray(p['allowedValues']) ? p['allowedValues'] : []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p['allowedValue'])}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${schema['type'] === 'integer' ? 'an integer ' : ''}${String(p['comparison'])} ${String(p['limit'])}`;
    case 'minItems':
      return `must have at least ${String(p['limit'])} item(s)`;
    case 'maxItems':
      return `must have at most ${String(p['limit'])} item(s)`;
    case 'minLength':
      return p['limit'] === 1 ? 'must not be empty' : `must be at least ${String(p['limit'])} characters`;
    case 'maxLength':
      return `must be at most ${String(p['limit'])} characters`;
    case 'pattern':
      return `must match ${String(p['pattern'])}`;
    default:
      return e.message ?? `failed the ${e.keyword} check`;
  }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a JSON object',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

function typeNames(t: unknown): string {
  const names = (typeof t === 'string' ? t.split(',') : Array.isArray(t) ? t.map(String) : []).map((x) => TYPE_NAMES[x] ?? x);
  return names.length <= 1 ? (names[0] ?? 'of another type') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1] ?? ''}`;
}

function errorNameOf(v: unknown): ErrorName {
  return typeof v === 'string' && v in ERRORS ? (v as ErrorName) : 'INVALID_REQUEST';
}

