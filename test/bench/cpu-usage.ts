import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// Where the CPU went during a phase of a benchmark: how many cores each node used (from
// /proc, always on), how busy the whole machine was, and (with `--cpu-prof DIR`) the functions
// each node's main thread spent its samples in during that phase.

/** USER_HZ: /proc reports CPU time in these ticks (100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat fields 14 and 15;
 * `reaped`: fields 16 and 17 instead, the CPU of its children that have exited and been waited for.
 */
async function cpuSeconds(pid: number | 'self' | undefined, reaped = false): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = reaped ? 13 : 11;
  return (Number(fields[at]) + Number(fields[at + 1])) / TICKS_PER_SECOND;
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  const idle = (t[3] ?? 0) + (t[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface CpuWindow {
  /** Cores each process used on average over the window (1.0 = one core all the time). */
  readonly coresPerProcess: readonly number[];
  /**
   * Cores used by the children of this process that exited during the window: the kcat run
   * (the nodes are children too, but keep running; nothing else exits meanwhile).
   */
  readonly exitedChildrenCores: number;
  /** Share of all the machine's cores that were busy over the window, 0..1. */
  readonly machineBusy: number;
  /** CLOCK_MONOTONIC microseconds (the clock of V8's profile timestamps) at start and end. */
  readonly fromUs: number;
  readonly toUs: number;
}

/** Runs `work` and measures the processes' and the machine's CPU over it. */
export async function measuringCpu<T>(pids: readonly (number | undefined)[], work: () => Promise<T>): Promise<{ result: T; cpu: CpuWindow }> {
  const before = await Promise.all(pids.map((p) => cpuSeconds(p)));
  const children0 = await cpuSeconds('self', true);
  const m0 = await machineTicks();
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const result = await work();
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const after = await Promise.all(pids.map((p) => cpuSeconds(p)));
  const children1 = await cpuSeconds('self', true);
  const m1 = await machineTicks();
  const wallSeconds = (toUs - fromUs) / 1e6;
  return {
    result,
    cpu: {
      coresPerProcess: after.map((a, i) => (a - (before[i] ?? Number.NaN)) / wallSeconds),
      exitedChildrenCores: (children1 - children0) / wallSeconds,
      machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total),
      fromUs,
      toUs,
    },
  };
}

interface CpuProfile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly pid: number;
  /**
   * Share of the window's samples that were not (idle): time the main thread was running or
   * wanted to (a thread waiting for a core on a busy machine still counts), not CPU used.
   */
  readonly busy: number;
  /** The functions with the most self time in the window, as a share of its samples. */
  readonly top: readonly { readonly fn: string; readonly share: number }[];
}

/**
 * For each pid, the main thread's V8 CPU profile in `dir` (`--cpu-prof` names them
 * CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread, the others
 * tsx's loader), cut to the window: busy share and the `topN` functions by self time.
 */
export async function summarizeProfiles(dir: string, pids: readonly (number | undefined)[], window: { fromUs: number; toUs: number }, topN = 8): Promise<ProfileSummary[]> {
  const files = await readdir(dir);
  const out: ProfileSummary[] = [];
  for (const pid of pids) {
    const file = files.find((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid) && f.split('.')[4] === '0');
    if (pid === undefined || file === undefined) continue;
    const p = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    // Under tsx, V8 sees transpiled TypeScript and reports line 0 for it: the line is left out then.
    const where = (url: string, line: number): string => (url === '' ? '' : `${url.split('/').slice(-2).join('/')}${line > 0 ? `:${line + 1}` : ''}`);
    const names = new Map(p.nodes.map((n) => [n.id, `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url, n.callFrame.lineNumber)}`.trim()]));
    const self = new Map<string, number>();
    let t = p.startTime;
    let total = 0;
    p.samples.forEach((id, i) => {
      const delta = p.timeDeltas[i] ?? 0;
      t += delta;
      if (t < window.fromUs || t > window.toUs) return;
      total += delta;
      const name = names.get(id) ?? '?';
      self.set(name, (self.get(name) ?? 0) + delta);
    });
    const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
    const top = [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, topN).map(([fn, v]) => ({ fn, share: v / Math.max(1, total) }));
    out.push({ pid, busy: 1 - idle / Math.max(1, total), top });
  }
  return out;
}
