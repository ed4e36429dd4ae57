/**
 * Lock file `<dataDir>/lock` holding the pid of the replica process that owns the directory,
 * so two replicas never open the same data directory at once.
 *
 * Acquire: write our pid to a private temp file, fsync it, then hard-link it to `lock`. The
 * link is an atomic create-with-content, so `lock` is never seen empty. If `lock` exists and
 * names a live process (including this one: a second open in the same process), acquisition
 * fails with `StorageLockedError`. A lock naming a dead process, or unreadable, is stale and
 * taken over (deleted and acquired again, once; losing that race is also `StorageLockedError`).
 * The file also records the holder's start time (Linux `/proc/<pid>/stat`), so a lock whose pid
 * was reused by another process is stale too: after a crash, a container restarts the app
 * under the same pid (often 1). Threads of one process (worker replicas) share its pid and
 * start time, so a second replica on the same directory in this process is refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorCodeOf } from '../file-system.js';
import type { FileSystem } from '../file-system.js';
import { StorageLockedError } from '../storage-errors.js';

export const LOCK_FILE_NAME = 'lock';

/** The process's start time in clock ticks since boot (Linux), or '' where unknown. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'ascii');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

interface LockHolder {
  pid: number;
  startTime: string;
}

/** True when the holder still runs: its pid is alive and, where known, started when recorded. */
function holderIsAlive(holder: LockHolder): boolean {
  if (!processIsAlive(holder.pid)) return false;
  return holder.startTime === '' || processStartTime(holder.pid) === holder.startTime;
}

export interface DataDirectoryLock {
  readonly path: string;
  /** Deletes the lock file. Idempotent. */
  release(): Promise<void>;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCodeOf(error) === 'EPERM';
  }
}

export async function acquireDataDirectoryLock(
  directory: string,
  fileSystem: FileSystem,
  warn: (message: string) => void,
): Promise<DataDirectoryLock> {
  const path = join(directory, LOCK_FILE_NAME);
  const temporary = join(directory, `${LOCK_FILE_NAME}.${process.pid}.tmp`);
  const handle = await fileSystem.open(temporary, 'w');
  try {
    const content = `${process.pid}\n${processStartTime(process.pid)}\n`;
    await handle.write(Buffer.from(content, 'ascii'), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    for (let attempt = 0; ; attempt += 1) {
      if (await tryLink(fileSystem, temporary, path)) break;
      const holder = await readHolder(fileSystem, path);
      if (holder !== null && (holderIsAlive(holder) || attempt > 0)) {
        throw new StorageLockedError(directory, holder.pid);
      }
      if (attempt > 0) throw new StorageLockedError(directory, -1);
      warn(`data directory ${directory}: taking over the stale lock of process ${holder?.pid}`);
      await fileSystem.unlink(path).catch((error: unknown) => {
        if (errorCodeOf(error) !== 'ENOENT') throw error;
      });
    }
    await fileSystem.syncDirectory(directory);
  } finally {
    await fileSystem.unlink(temporary).catch(() => undefined);
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await fileSystem.unlink(path);
      await fileSystem.syncDirectory(directory);
    },
  };
}

async function tryLink(fileSystem: FileSystem, from: string, to: string): Promise<boolean> {
  try {
    await fileSystem.link(from, to);
    return true;
  } catch (error) {
    if (errorCodeOf(error) === 'EEXIST') return false;
    throw error;
  }
}

/** The holder in the lock file, or null when it is gone or does not name one. */
async function readHolder(fileSystem: FileSystem, path: string): Promise<LockHolder | null> {
  try {
    const text = (await fileSystem.readFile(path)).toString('ascii');
    const match = /^(\d+)\n?(\d*)\n?$/.exec(text);
    return match ? { pid: Number(match[1]), startTime: match[2] ?? '' } : null;
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return null;
    throw error;
  }
}
