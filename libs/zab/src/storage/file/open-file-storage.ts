/**
 * Opens a replica's storage in a data directory:
 *
 *   <dataDir>/lock                       pid of the owning process (see data-directory-lock)
 *   <dataDir>/acceptedEpoch, currentEpoch, epochs
 *   <dataDir>/snapshotInstall            a SNAP install in progress (snapshot-install.ts)
 *   <dataDir>/log/log.<zxid>             transaction log segments
 *   <dataDir>/snapshot/snapshot.<zxid>   snapshots
 *
 * An install a crash interrupted is finished or discarded here, before anyone reads the log.
 * The directory is created if needed. An unwritable directory fails with a
 * `StorageFailedError` saying so; a directory owned by a live process fails with
 * `StorageLockedError`.
 */
import { join } from 'node:path';
import { errorCodeOf, makeDirectoryDurably, nodeFileSystem } from '../file-system.js';
import type { FileSystem } from '../file-system.js';
import { StorageFailedError, StorageLockedError } from '../storage-errors.js';
import type { ReplicaStorage, SnapshotInfo, StorageWarn } from '../storage.js';
import type { Zxid } from '../../core/ids.js';
import { finishInterruptedInstall, installSnapshotAtomically } from '../snapshot-install.js';
import { FileInstallIntent } from './file-install-intent.js';
import { acquireDataDirectoryLock } from './data-directory-lock.js';
import type { DataDirectoryLock } from './data-directory-lock.js';
import { FileEpochStore } from './file-epoch-store.js';
import { FileSnapshotStore } from './file-snapshot-store.js';
import { FileTxnLog } from './file-txn-log.js';

export interface FileStorageOptions {
  /** Transaction log segment size before a roll. Default 64 MiB. */
  segmentBytesMax?: number;
  /** Recovery and operations notices. Default `console.warn`. */
  warn?: StorageWarn;
  /** File system port (tests inject faults). Default: the real one. */
  fileSystem?: FileSystem;
}

const NOT_WRITABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

export async function openFileStorage(
  dataDir: string,
  options: FileStorageOptions = {},
): Promise<ReplicaStorage> {
  const fileSystem = options.fileSystem ?? nodeFileSystem;
  const warn = options.warn ?? ((message: string) => console.warn(message));
  let lock: DataDirectoryLock;
  try {
    await makeDirectoryDurably(fileSystem, dataDir);
    lock = await acquireDataDirectoryLock(dataDir, fileSystem, warn);
  } catch (error) {
    if (error instanceof StorageLockedError) throw error;
    const code = errorCodeOf(error);
    const why = code !== undefined && NOT_WRITABLE_CODES.has(code) ? 'is not writable' : 'failed';
    const detail = error instanceof Error ? error.message : String(error);
    throw new StorageFailedError(`data directory ${dataDir} ${why} (${code}): ${detail}`, {
      cause: error,
    });
  }
  const opened: { close(): Promise<void> }[] = [];
  try {
    const epochs = await FileEpochStore.open(dataDir, { fileSystem });
    opened.push(epochs);
    const snapshots = await FileSnapshotStore.open(join(dataDir, 'snapshot'), {
      fileSystem,
      warn,
    });
    opened.push(snapshots);
    const log = await FileTxnLog.open(join(dataDir, 'log'), {
      fileSystem,
      warn,
      segmentBytesMax: options.segmentBytesMax,
    });
    opened.push(log);
    const intent = await FileInstallIntent.open(dataDir, fileSystem);
    await finishInterruptedInstall({ log, snapshots, intent }, warn);
    return new FileReplicaStorage(log, snapshots, epochs, intent, lock);
  } catch (error) {
    for (const store of opened) await store.close().catch(() => undefined);
    await lock.release().catch(() => undefined);
    throw error;
  }
}

class FileReplicaStorage implements ReplicaStorage {
  private closing: Promise<void> | null = null;

  constructor(
    readonly log: FileTxnLog,
    readonly snapshots: FileSnapshotStore,
    readonly epochs: FileEpochStore,
    private readonly intent: FileInstallIntent,
    private readonly lock: DataDirectoryLock,
  ) {}

  installSnapshot(zxid: Zxid, body: Uint8Array): Promise<SnapshotInfo> {
    return installSnapshotAtomically(
      { log: this.log, snapshots: this.snapshots, intent: this.intent }, zxid, body);
  }

  /** Closes every store (the log flushes), then releases the lock; rejects with the first error. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    const results = await Promise.allSettled([
      this.log.close(),
      this.snapshots.close(),
      this.epochs.close(),
    ]);
    await this.lock.release();
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}
