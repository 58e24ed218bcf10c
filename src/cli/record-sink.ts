// Where consumed records go: printed one per line (--format, or JSON lines with --json),
// counted, and cut off at --count.

import { Progress } from './progress.ts';
import type { TextRecord } from './record-format.ts';

export class RecordSink {
  /** Records printed so far. Invariant: printed <= limit. */
  printed = 0;
  private readonly progress: Progress;

  constructor(
    private readonly render: (r: TextRecord) => string,
    private readonly limit: number | undefined,
  ) {
    // Progress only when the records do not go to the same terminal.
    const counted = (): string => `consumed ${this.printed}${this.limit === undefined ? '' : `/${this.limit}`} records...`;
    this.progress = new Progress(counted, process.stderr.isTTY === true && process.stdout.isTTY !== true);
    this.progress.start();
  }

  /** --count reached: stop reading. */
  get done(): boolean {
    return this.limit !== undefined && this.printed >= this.limit;
  }

  /** Prints records in order while the limit allows; returns those printed. */
  take(records: readonly TextRecord[]): TextRecord[] {
    const room = this.limit === undefined ? records.length : Math.max(0, this.limit - this.printed);
    const out = records.slice(0, room);
    if (out.length === 0) return out;
    process.stdout.write(out.map((r) => `${this.render(r)}\n`).join(''));
    this.printed += out.length;
    return out;
  }

  close(): void {
    this.progress.stop();
  }
}

/** --json: one JSON object per line, key and value as UTF-8 text. */
export const jsonLine = (r: TextRecord): string => JSON.stringify(r);
