/**
 * Simulated disk of one replica: an epoch record, a txn log, and what of them is durable.
 *
 * - Epoch writes and truncations are durable at once: the sim driver performs them before the
 *   sends of their Ready, as the real driver must (write + fsync).
 * - Appends go to the volatile log; `fsync()` makes the whole volatile log durable.
 * - A snapshot install replaces the volatile log; it becomes durable with the next fsync
 *   (atomic replacement: a crash before it keeps the old durable log).
 * - `crash()` forgets everything not durable.
 */
import type { Zxid } from '../../core/ids.js';
import type { EpochWrite, HistoryView, LoggedTxn, PersistedState } from '../../core/ready.js';

export class SimDisk {
  epochs: EpochWrite = { acceptedEpoch: 0, currentEpoch: 0, hasData: true };
  durableLog: LoggedTxn[] = [];
  log: LoggedTxn[] = [];
  /** Number of fsyncs requested but not completed (the sim completes them later). */
  unsynced = false;

  persistedState(): PersistedState {
    const last = this.durableLog[this.durableLog.length - 1];
    return { ...this.epochs, lastLoggedZxid: last?.zxid ?? 0n };
  }

  writeEpochs(write: EpochWrite): void {
    this.epochs = { ...write };
  }

  truncateAfter(zxid: Zxid): void {
    this.log = this.log.filter((logged) => logged.zxid <= zxid);
    this.durableLog = this.durableLog.filter((logged) => logged.zxid <= zxid);
  }

  replace(txns: readonly LoggedTxn[]): void {
    this.log = [...txns];
    this.unsynced = true;
  }

  append(txns: readonly LoggedTxn[]): void {
    for (const logged of txns) this.log.push(logged);
    if (txns.length > 0) this.unsynced = true;
  }

  /** Makes the volatile log durable; returns the last durable zxid. */
  fsync(): Zxid {
    this.durableLog = [...this.log];
    this.unsynced = false;
    return this.lastZxid();
  }

  lastZxid(): Zxid {
    return this.log[this.log.length - 1]?.zxid ?? 0n;
  }

  crash(): void {
    this.log = [...this.durableLog];
    this.unsynced = false;
  }

  wipe(): void {
    this.epochs = { acceptedEpoch: 0, currentEpoch: 0, hasData: false };
    this.durableLog = [];
    this.log = [];
    this.unsynced = false;
  }

  durableContains(zxid: Zxid, txn: Buffer): boolean {
    const index = findIndex(this.durableLog, zxid);
    return index >= 0 && this.durableLog[index]!.txn.equals(txn);
  }
}

/** Index of `zxid` in a zxid-sorted list, or -1. */
export function findIndex(log: readonly LoggedTxn[], zxid: Zxid): number {
  let low = 0;
  let high = log.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const at = log[middle]!.zxid;
    if (at === zxid) return middle;
    if (at < zxid) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/** The history view the peer reads: the volatile log plus the applied prefix as snapshot. */
export function historyOf(disk: SimDisk, applied: () => readonly LoggedTxn[]): HistoryView {
  return {
    lastZxidAtOrBefore(zxid: Zxid): Zxid {
      let best: Zxid = 0n;
      for (const logged of disk.log) {
        if (logged.zxid > zxid) break;
        best = logged.zxid;
      }
      return best;
    },
    txnsAfter(zxid: Zxid, countMax: number): readonly LoggedTxn[] | undefined {
      const txns = disk.log.filter((logged) => logged.zxid > zxid);
      return txns.length > countMax ? undefined : txns;
    },
    snapshot() {
      const state = applied();
      return { zxid: state[state.length - 1]?.zxid ?? 0n, bytes: encodeSnapshot(state) };
    },
  };
}

export function encodeSnapshot(txns: readonly LoggedTxn[]): Buffer {
  return Buffer.from(JSON.stringify(txns.map((t) => [t.zxid.toString(16), t.txn.toString('hex')])));
}

export function decodeSnapshot(bytes: Buffer): LoggedTxn[] {
  const rows = JSON.parse(bytes.toString('utf8')) as [string, string][];
  return rows.map(([zxid, txn]) => ({ zxid: BigInt('0x' + zxid), txn: Buffer.from(txn, 'hex') }));
}
