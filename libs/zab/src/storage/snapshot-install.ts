/**
 * Zab SNAP on a learner, made atomic with the log cut. The received snapshot supersedes the
 * whole log: every record at or below its zxid is in it (committed) or was never committed
 * (a diverged tail), and every record above it was written on a history the snapshot does
 * not include. So after the install the log must hold nothing from before it; a crash
 * between publishing the snapshot and cutting the log would otherwise recover the new
 * snapshot followed by stale records: a state no history produced.
 *
 * Protocol (redo, with a durable intent record; `InstallIntent`):
 *   1. write the intent "installing snapshot S" durably;
 *   2. write and publish snapshot S (durable, atomic: a snapshot is absent or complete);
 *   3. cut the whole log (durable);
 *   4. clear the intent durably.
 * Recovery at open (`finishInterruptedInstall`), when an intent S is found: if snapshot S
 * is published, step 2 completed, so redo step 3 (idempotent: nothing is appended before
 * step 4) and clear the intent: the new state. If it is not, nothing was changed but a
 * leftover temporary file: clear the intent: the old state, log untouched. Either way no
 * record the replica made durable before the install is lost unless the snapshot that
 * supersedes it is in place.
 */
import type { Zxid } from '../core/ids.js';
import { zxidToHex } from '../core/ids.js';
import type { SnapshotInfo, SnapshotStore, StorageWarn, TxnLog } from './storage.js';

/** The durable "installing snapshot S" record of step 1. */
export interface InstallIntent {
  /** The zxid of an install that has not finished, or null. */
  read(): Promise<Zxid | null>;
  /** Durable when it resolves. */
  write(zxid: Zxid): Promise<void>;
  /** Durable when it resolves; no-op when there is none. */
  clear(): Promise<void>;
}

export interface InstallParts {
  log: TxnLog;
  snapshots: SnapshotStore;
  intent: InstallIntent;
}

/** Steps 1-4. The log must be idle (no flush, roll or purge in flight). */
export async function installSnapshotAtomically(parts: InstallParts, zxid: Zxid,
  body: Uint8Array): Promise<SnapshotInfo> {
  await parts.intent.write(zxid);
  const writer = await parts.snapshots.begin(zxid);
  try {
    await writer.write(body);
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
  const info = await writer.commit();
  await parts.log.truncateAfter(0n);
  await parts.intent.clear();
  return info;
}

/** Recovery of an install a crash interrupted; call at open, before the log is read. */
export async function finishInterruptedInstall(parts: InstallParts, warn: StorageWarn):
  Promise<void> {
  const zxid = await parts.intent.read();
  if (zxid === null) return;
  const published = (await parts.snapshots.list()).find((info) => info.zxid === zxid);
  if (published !== undefined && (await parts.snapshots.load(published)) !== null) {
    await parts.log.truncateAfter(0n);
    warn(`finished an interrupted install of the leader's snapshot ${zxidToHex(zxid)}: ` +
      'the log from before it was cut');
  } else {
    warn(`discarded an unfinished install of the leader's snapshot ${zxidToHex(zxid)}: ` +
      'it was never published; the log is unchanged');
  }
  await parts.intent.clear();
}
