// A one-line progress display on stderr for long operations, shown only when stderr is a
// terminal (never in pipes or logs) and only once the operation has lasted a moment.

const REFRESH_MS = 250;
const SHOW_AFTER_MS = 500;

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(
    private readonly render: () => string,
    private readonly enabled: boolean = process.stderr.isTTY === true,
  ) {}

  start(): void {
    if (!this.enabled || this.timer !== undefined) return;
    const started = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - started < SHOW_AFTER_MS) return;
      this.shown = true;
      process.stderr.write(`\r\x1b[K${this.render()}`);
    }, REFRESH_MS);
    this.timer.unref();
  }

  /** Clears the line (the caller prints its own summary after). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
