// Option value parsers for commander: a bad value is a usage error (exit 2) naming the option.

import { InvalidArgumentError } from 'commander';

/** An integer option in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}.` : `must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A repeatable `--config name=value`: collected in order; the last value of a name wins. */
export function keyValueArg(value: string, previous: readonly [string, string][] = []): [string, string][] {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected name=value, e.g. retention.ms=86400000.`);
  return [...previous, [value.slice(0, at).trim(), value.slice(at + 1)]];
}
