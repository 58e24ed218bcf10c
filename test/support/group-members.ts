import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** A kafkajs consumer that notices rebalances and deaths within a few seconds. */
export const FAST_KAFKAJS = { sessionTimeout: 3000, heartbeatInterval: 300, rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 } as const;

/** One record a group member read: partition, offset, value. */
export interface ReadRecord {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

/** A rebalance as kcat logs it. */
export interface KcatRebalance {
  readonly kind: 'assigned' | 'revoked';
  /** Partitions of the topic, as kcat printed them ("topic [0], topic [2]"). */
  readonly partitions: number[];
}

/**
 * A `kcat -G` balanced consumer in its own process group (killed with it): what it read
 * (stdout, one "partition offset value" line per record, unbuffered), its rebalances and the
 * JoinGroup generations it was answered (stderr with `-d cgrp`).
 */
export class KcatMember {
  readonly records: ReadRecord[] = [];
  readonly rebalances: KcatRebalance[] = [];
  /** Every JoinGroup generation this member was answered, in order, and whether it was the leader then. */
  readonly joins: { generation: number; leader: boolean }[] = [];
  private stderrText = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(bootstrap: string, group: string, topic: string, extra: readonly string[] = []) {
    // auto.offset.reset=earliest: a partition without commit is read from its start;
    // auto commits every 100 ms so that a kill loses little.
    const args = ['-b', bootstrap, '-G', group, '-u', '-f', '%p %o %s\\n', '-d', 'cgrp', '-X', 'auto.offset.reset=earliest', '-X', 'auto.commit.interval.ms=100', '-X', 'fetch.wait.max.ms=100', ...extra, topic];
    this.child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    let out = '';
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^(\d+) (\d+) (.*)$/.exec(l);
        if (m !== null) this.records.push({ partition: Number(m[1]), offset: Number(m[2]), value: m[3] ?? '' });
      }
    });
    let err = '';
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderrText += d;
      if (this.stderrText.length > 1 << 20) this.stderrText = this.stderrText.slice(-(1 << 19));
      err += d;
      const lines = err.split('\n');
      err = lines.pop() ?? '';
      for (const l of lines) this.onLog(l);
    });
  }

  private onLog(line: string): void {
    // kcat: "% Group g rebalanced (memberid ...): assigned: t [0], t [2]" / "revoked: ...".
    const r = /rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)$/.exec(line);
    if (r !== null) {
      const partitions = [...(r[2] ?? '').matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
      this.rebalances.push({ kind: r[1] as 'assigned' | 'revoked', partitions });
    }
    // librdkafka -d cgrp: "JoinGroup response: GenerationId 3, Protocol range, LeaderId X (me), my MemberId X, ...: (no error)"
    const j = /JoinGroup response: GenerationId (\d+), Protocol [^,]*, LeaderId \S*?( \(me\))?, my MemberId .*: \(no error\)$/.exec(line);
    if (j !== null) this.joins.push({ generation: Number(j[1]), leader: j[2] !== undefined });
  }

  /** The partitions of its latest assignment (none before the first). */
  assigned(): number[] {
    const last = this.rebalances.at(-1);
    return last?.kind === 'assigned' ? [...last.partitions].sort((a, b) => a - b) : [];
  }

  log(): string {
    return this.stderrText;
  }

  /** SIGKILL (no LeaveGroup, no last commit) or SIGTERM (kcat closes the consumer: commit, LeaveGroup) its process group; resolves once it exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    }
    await this.exited;
  }
}
