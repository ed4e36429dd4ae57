/**
 * Lock file `<dataDir>/lock` holding the pid of the replica process that owns the directory,
 * so two replicas never open the same data directory at once.
 *
 * Acquire: write our pid to a private temp file, fsync it, then hard-link it to `lock`. The
 * link is an atomic create-with-content, so `lock` is never seen empty. If `lock` exists and
 * names a live process (including this one: a second open in the same process), acquisition
 * fails with `StorageLockedError`. A lock naming a dead process, or unreadable, is stale and
 * taken over (deleted and acquired again, once; losing that race is also `StorageLockedError`).
 * A lock naming this process's own pid that this process does not hold is stale too: after a
 * crash, a container restarts the app under the same pid (often 1).
 */
import { join, resolve } from 'node:path';
import { errorCodeOf } from '../file-system.js';
import type { FileSystem } from '../file-system.js';
import { StorageLockedError } from '../storage-errors.js';

export const LOCK_FILE_NAME = 'lock';

/** Lock files this process holds, to tell its own locks from a dead predecessor's. */
const heldByThisProcess = new Set<string>();

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
    await handle.write(Buffer.from(`${process.pid}\n`, 'ascii'), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    for (let attempt = 0; ; attempt += 1) {
      if (await tryLink(fileSystem, temporary, path)) break;
      const holder = await readHolder(fileSystem, path);
      const alive = holder === process.pid
        ? heldByThisProcess.has(resolve(path))
        : holder !== null && processIsAlive(holder);
      if (holder !== null && (alive || attempt > 0)) {
        throw new StorageLockedError(directory, holder);
      }
      if (attempt > 0) throw new StorageLockedError(directory, -1);
      warn(`data directory ${directory}: taking over the stale lock of process ${holder}`);
      await fileSystem.unlink(path).catch((error: unknown) => {
        if (errorCodeOf(error) !== 'ENOENT') throw error;
      });
    }
    await fileSystem.syncDirectory(directory);
  } finally {
    await fileSystem.unlink(temporary).catch(() => undefined);
  }
  heldByThisProcess.add(resolve(path));
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      heldByThisProcess.delete(resolve(path));
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

/** Pid in the lock file, or null when it is gone or does not hold a pid. */
async function readHolder(fileSystem: FileSystem, path: string): Promise<number | null> {
  try {
    const match = /^(\d+)\n?$/.exec((await fileSystem.readFile(path)).toString('ascii'));
    return match ? Number(match[1]) : null;
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return null;
    throw error;
  }
}
