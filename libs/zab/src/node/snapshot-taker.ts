/**
 * Takes snapshots in the background while writes go on: every `snapshotEveryTxns` applied
 * transactions it rolls the log, opens a consistent cursor on the tree (copy-on-write inside
 * the tree, so applies continue), streams the cursor's chunks to the snapshot store between
 * event-loop turns, commits it (fsync + atomic rename), then purges old snapshots and the log
 * segments no kept snapshot needs. One snapshot at a time ("too busy to snap" skips).
 */
import type { DataTree } from '../state/data-tree.js';
import type { ReplicaStorage } from '../storage/storage.js';
import type { ReplicaOptions } from './replica-options.js';
import type { ReplicaLogger } from './replica.js';

const CHUNK_BYTES = 1 << 20;

export class SnapshotTaker {
  private sinceLast = 0;
  private running: Promise<void> | undefined;
  /** Snapshots committed by this process (for tests and monitoring). */
  taken = 0;

  constructor(
    private readonly tree: DataTree,
    private readonly storage: ReplicaStorage,
    private readonly options: ReplicaOptions,
    private readonly logger: ReplicaLogger,
    private readonly onStorageFailure: (error: Error) => void,
  ) {}

  afterApply(count: number): void {
    this.sinceLast += count;
    if (this.sinceLast < this.options.snapshotEveryTxns || this.running !== undefined) return;
    this.sinceLast = 0;
    this.running = this.take()
      .catch((error: Error) => this.onStorageFailure(error))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Takes a snapshot now (tests, shutdown); waits for a running one first. */
  async takeNow(): Promise<void> {
    await this.settle();
    this.sinceLast = 0;
    this.running = this.take().finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  /** Resolves when no snapshot is being written. */
  async settle(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => undefined);
  }

  private async take(): Promise<void> {
    await this.storage.log.roll();
    // The cursor fixes the snapshot's zxid now; it is always closed, because an open cursor
    // freezes id reuse in the tree and keeps pre-images of changed nodes.
    const cursor = this.tree.beginSnapshot();
    let info;
    try {
      const writer = await this.storage.snapshots.begin(cursor.zxid);
      try {
        for (let chunk = cursor.next(CHUNK_BYTES); chunk !== null; chunk = cursor.next(CHUNK_BYTES)) {
          await writer.write(chunk);
        }
        info = await writer.commit();
      } catch (error) {
        await writer.abort().catch(() => undefined);
        throw error;
      }
    } finally {
      cursor.close();
    }
    this.taken += 1;
    this.logger.log(`snapshot ${info.name} written`);
    const oldest = await this.storage.snapshots.purge(this.options.snapshotsRetained);
    if (oldest !== null) await this.storage.log.purgeThrough(oldest.zxid);
  }
}
