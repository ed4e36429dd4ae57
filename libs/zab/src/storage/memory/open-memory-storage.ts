/** Replica storage in memory (`dataDir: ':memory:'`, tests, the simulator). */
import type { ReplicaStorage } from '../storage.js';
import { MemoryEpochStore } from './memory-epoch-store.js';
import { MemorySnapshotStore } from './memory-snapshot-store.js';
import { MemoryTxnLog } from './memory-txn-log.js';
import type { MemoryTxnLogOptions } from './memory-txn-log.js';

export interface MemoryStorage extends ReplicaStorage {
  log: MemoryTxnLog;
  snapshots: MemorySnapshotStore;
  epochs: MemoryEpochStore;
}

export function openMemoryStorage(options: MemoryTxnLogOptions = {}): MemoryStorage {
  const log = new MemoryTxnLog(options);
  const snapshots = new MemorySnapshotStore();
  const epochs = new MemoryEpochStore();
  return {
    log,
    snapshots,
    epochs,
    async close() {
      await log.close();
      await snapshots.close();
      await epochs.close();
    },
  };
}
