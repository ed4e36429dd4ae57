/** Replica storage in memory (`dataDir: ':memory:'`, tests, the simulator). */
import type { ReplicaStorage } from '../storage.js';
import type { Zxid } from '../../core/ids.js';
import { installSnapshotAtomically, type InstallIntent } from '../snapshot-install.js';
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
  // Memory does not survive a crash; the intent only keeps the same steps as on disk.
  let installing: Zxid | null = null;
  const intent: InstallIntent = {
    read: async () => installing,
    write: async (zxid) => void (installing = zxid),
    clear: async () => void (installing = null),
  };
  return {
    log,
    snapshots,
    epochs,
    installSnapshot: (zxid, body) => installSnapshotAtomically({ log, snapshots, intent },
      zxid, body),
    async close() {
      await log.close();
      await snapshots.close();
      await epochs.close();
    },
  };
}
