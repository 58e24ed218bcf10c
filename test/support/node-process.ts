import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/**
 * One `runnel node` process whose stdout and stderr are kept apart, for tests about what a
 * node prints. It leads its own process group; stop() kills the group (also after a failed test).
 */
export class NodeProcess {
  stdout = '';
  stderr = '';
  /** The exit code, or the signal that ended it, once it has exited and its output is read. */
  readonly exited: Promise<number | NodeJS.Signals>;
  private readonly child: ChildProcess;

  constructor(configPath: string, id: number, extraArgs: readonly string[] = [], env: Readonly<Record<string, string>> = {}) {
    this.child = spawn(process.execPath, ['--import', TSX, MAIN, 'node', '--config', configPath, '--id', String(id), ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, RUNNEL_LOG_LEVEL: 'info', ...env },
    });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve(code ?? signal ?? 'SIGKILL')));
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Signals the process group and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | NodeJS.Signals> {
    if (this.running() && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, signal);
      } catch {
        // already gone
      }
    }
    return this.exited;
  }
}
