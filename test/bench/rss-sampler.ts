import { readFile } from 'node:fs/promises';

// Resident memory of the cluster's node processes, from /proc/<pid>/status.

/** A process's resident set in MiB: now (VmRSS) or its peak so far (VmHWM). */
export async function rssMiB(pid: number | undefined, which: 'VmRSS' | 'VmHWM'): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${which}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
}

/**
 * Samples VmRSS of each given process every `everyMs` and keeps the maximum per process.
 * VmHWM cannot do this: it is the peak over the process's whole life, so it cannot tell one
 * phase of a benchmark from the ones before it.
 */
export class RssSampler {
  /** Invariant: peaks[i] is the largest VmRSS read for pids[i] since start() (NaN: none yet). */
  private readonly peaks: number[];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly pids: readonly (number | undefined)[],
    private readonly everyMs = 250,
  ) {
    this.peaks = pids.map(() => Number.NaN);
  }

  start(): void {
    if (this.timer !== undefined) throw new Error('RssSampler already started');
    this.inFlight = this.sample();
    this.timer = setInterval(() => {
      // A slow read (loaded machine) skips a tick rather than piling reads up.
      if (this.inFlight === undefined) this.inFlight = this.sample();
    }, this.everyMs);
  }

  /** Stops sampling (after one last sample) and returns the peak per process, in MiB. */
  async close(): Promise<number[]> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await this.sample();
    return [...this.peaks];
  }

  private async sample(): Promise<void> {
    const now = await Promise.all(this.pids.map((pid) => rssMiB(pid, 'VmRSS').catch(() => Number.NaN)));
    now.forEach((mib, i) => {
      const prev = this.peaks[i] ?? Number.NaN;
      if (!Number.isNaN(mib) && (Number.isNaN(prev) || mib > prev)) this.peaks[i] = mib;
    });
    this.inFlight = undefined;
  }
}

/** `180, 175, 160 MiB` for a list of per-node figures. */
export const mibList = (xs: readonly number[]): string => `${xs.map((x) => x.toFixed(0)).join(', ')} MiB`;

/** Runs `work` while sampling the processes' VmRSS; the sampler is stopped also when it throws. */
export async function whileSampling<T>(pids: readonly (number | undefined)[], work: () => Promise<T>): Promise<{ result: T; peakRssMiB: number[] }> {
  const sampler = new RssSampler(pids);
  sampler.start();
  try {
    const result = await work();
    return { result, peakRssMiB: await sampler.close() };
  } catch (err) {
    // The sampler's interval would keep the process alive.
    await sampler.close();
    throw err;
  }
}
