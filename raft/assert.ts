/** An invariant violation is a bug: crash loudly instead of carrying on with corrupt state. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new AssertionError(message);
}

export function assertNever(x: never): never {
  throw new AssertionError(`unexpected value ${JSON.stringify(x)}`);
}
