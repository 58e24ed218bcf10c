// Small files replaced atomically: write `<path>.tmp`, fsync it, rename over `<path>`, fsync
// the directory. A crash leaves either the old or the new content, never a mix.
//
// Checkpoints use Kafka's text layout (CheckpointFile): a version line, a count line, then
// one line per entry of space-separated integers.

import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LogError } from './log-error.ts';

const CHECKPOINT_VERSION = 0;

export async function writeFileAtomic(path: string, data: Buffer | string, sync = true): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (sync) await syncDir(dirname(path));
}

/** Makes a directory's entries (new, renamed or removed files) durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function writeCheckpoint(path: string, rows: readonly (readonly number[])[]): Promise<void> {
  const lines = [String(CHECKPOINT_VERSION), String(rows.length), ...rows.map((r) => r.join(' '))];
  await writeFileAtomic(path, `${lines.join('\n')}\n`);
}

/** The rows of a checkpoint file, or undefined when it does not exist. */
export async function readCheckpoint(path: string, columns: number): Promise<number[][] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const bad = (why: string): LogError => new LogError('KAFKA_STORAGE_ERROR', `checkpoint ${path} is malformed: ${why}`);
  if (lines[0] !== String(CHECKPOINT_VERSION)) throw bad(`version ${lines[0]}`);
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) throw bad(`count ${lines[1]}`);
  return lines.slice(2).map((line) => {
    const row = line.split(' ').map(Number);
    if (row.length !== columns || !row.every(Number.isSafeInteger)) throw bad(`line "${line}"`);
    return row;
  });
}
