// Group commit for flush policy 'batch'. An append whose bytes are written calls sync(): if
// no fsync is running one starts now and covers it; if one is running it may have started
// before this append's write, so the append joins the *next* fsync, which starts when the
// running one ends. Every append that arrives during an fsync shares that next one, so under
// load one fsync covers many appends, and no append resolves before an fsync that began after
// its write completed.

export class GroupCommit {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly syncAll: () => Promise<void>) {}

  sync(): Promise<void> {
    // A queued fsync has not started yet, so it will cover this caller's write.
    if (this.next !== undefined) return this.next;
    if (this.running === undefined) return this.start();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    const next = after.then(() => {
      this.next = undefined;
      return this.start();
    });
    this.next = next;
    return next;
  }

  /** Resolves when no fsync is running or queued. */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.next !== undefined) {
      await (this.next ?? this.running)?.then(
        () => undefined,
        () => undefined,
      );
    }
  }

  private start(): Promise<void> {
    const p = this.syncAll().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
