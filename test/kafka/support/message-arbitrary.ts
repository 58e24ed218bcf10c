import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';
import type { MessageValue } from '../../../src/kafka/protocol/message-codec.ts';
import { defaultValue } from '../../../src/kafka/protocol/message-codec.ts';
import { inRange } from '../../../src/kafka/protocol/message-spec.ts';
import type { FieldSpec, FieldType, MessageSpec, Primitive } from '../../../src/kafka/protocol/message-spec.ts';

/**
 * Any value of a message at a version, derived from its spec as the codec is: fields present at
 * the version get random values (null where nullable), absent ones their default, so that
 * decode(encode(x)) must give x back exactly.
 */
export function messageArbitrary(spec: MessageSpec, version: number): Arbitrary<MessageValue> {
  return structArbitrary(spec.fields, version);
}

function structArbitrary(fields: readonly FieldSpec[], version: number): Arbitrary<MessageValue> {
  const parts: Record<string, Arbitrary<unknown>> = {};
  for (const f of fields) {
    parts[f.name] = inRange(f.versions, version) ? fieldArbitrary(f, version) : fc.constant(defaultValue(f, version));
  }
  return fc.record(parts);
}

function fieldArbitrary(f: FieldSpec, version: number): Arbitrary<unknown> {
  const value = typeArbitrary(f.type, version);
  return inRange(f.nullableVersions, version) ? fc.option(value, { nil: null, freq: 4 }) : value;
}

function typeArbitrary(t: FieldType, version: number): Arbitrary<unknown> {
  switch (t.kind) {
    case 'array':
      return fc.array(typeArbitrary(t.element, version), { maxLength: 3 });
    case 'struct':
      return structArbitrary(t.fields, version);
    case 'primitive':
      return primitiveArbitrary(t.name);
  }
}

function primitiveArbitrary(p: Primitive): Arbitrary<unknown> {
  switch (p) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64':
      return fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0));
    case 'string':
      return fc.string({ maxLength: 12, unit: 'binary' }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
    case 'uuid':
      return fc.uuid();
  }
}
