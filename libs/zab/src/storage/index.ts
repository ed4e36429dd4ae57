/** Storage layer: ports, errors, file and memory implementations. */
export type {
  LogRecord,
  StorageWarn,
  TxnLog,
  SnapshotInfo,
  SnapshotWriter,
  SnapshotStore,
  EpochStore,
  ReplicaStorage,
} from './storage.js';
export {
  StorageFailedError,
  StorageCorruptionError,
  StorageLockedError,
} from './storage-errors.js';
export type { FileSystem, FileHandle, OpenFlags } from './file-system.js';
export { NodeFileSystem, nodeFileSystem, errorCodeOf } from './file-system.js';
export { FileTxnLog, SEGMENT_BYTES_MAX_DEFAULT } from './file/file-txn-log.js';
export type { FileTxnLogOptions } from './file/file-txn-log.js';
export { FileSnapshotStore } from './file/file-snapshot-store.js';
export type { FileSnapshotStoreOptions } from './file/file-snapshot-store.js';
export { FileEpochStore } from './file/file-epoch-store.js';
export type { FileEpochStoreOptions } from './file/file-epoch-store.js';
export { openFileStorage } from './file/open-file-storage.js';
export type { FileStorageOptions } from './file/open-file-storage.js';
export { MemoryTxnLog } from './memory/memory-txn-log.js';
export type { MemoryTxnLogOptions } from './memory/memory-txn-log.js';
export { MemorySnapshotStore } from './memory/memory-snapshot-store.js';
export { MemoryEpochStore } from './memory/memory-epoch-store.js';
export { openMemoryStorage } from './memory/open-memory-storage.js';
export type { MemoryStorage } from './memory/open-memory-storage.js';
