/**
 * A bounded FIFO work queue (Curator's SimpleDistributedQueue with DistributedQueue's
 * `maxItems`). Items are persistent sequential children `item-…` of the queue node, so the
 * queue survives restarts and the sequence numbers give one total FIFO order.
 *
 * - `put(data)` waits while the queue holds `capacity` items (backpressure). The bound is
 *   exact, not approximate: a put reads the item count with the queue node's data version,
 *   and commits `multi([setData(queue, version), create(item)])`; a producer that raced
 *   with another put fails the version check and re-reads. Takes never change that version
 *   and only lower the count, so the count never exceeds `capacity`.
 * - `take()` waits for an item and consumes the oldest; `poll()` returns null when empty.
 *   An item is consumed by deleting it: exactly one consumer's delete succeeds, so each item
 *   is handed out once (at-most-once delivery: a consumer that crashes after its delete
 *   loses the item; Curator's "lock safety" mode is not offered).
 * - Waits reject on `timeoutMs` (`RecipeTimeoutError`), abort (`signal.reason`) or session
 *   loss, having changed nothing.
 * - A connection loss with the session alive (a leader change) is retried, bounded: a put's
 *   item name carries a random marker (Curator's protected mode), so after the loss the put
 *   finds out whether it committed and never enqueues twice; a take's delete is retried, and
 *   a delete that committed before the loss reads as a lost race (the item is dropped, in
 *   line with at-most-once).
 * Not a broker (Curator Tech Note 4): keep items small and queues short.
 */
import { randomUUID } from 'node:crypto';
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import {
  checkRecipePath,
  ensurePath,
  findProtected,
  isKeeperCode,
  isTransientLoss,
  LOSS_RETRIES_MAX,
  lossBackoff,
  retryingLoss,
  joinPath,
  sortBySequence,
  WaitScope,
  type WaitOptions,
  watchOnce,
} from './recipe-support.js';

export interface DistributedQueueOptions {
  /** Most items the queue holds; `put` waits while it is full. Default 1000. */
  capacity?: number;
}

export interface QueueItem {
  data: Buffer;
  /** The item's node path (its sequence number gives the FIFO position). */
  path: string;
  /** The zxid that enqueued the item. */
  zxid: bigint;
}

const ITEM_PREFIX = 'item-';

type PutOutcome = { kind: 'put'; path: string } | { kind: 'raced' } | { kind: 'lost'; error: unknown };

export class DistributedQueue {
  readonly capacity: number;
  private created = false;

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    options: DistributedQueueOptions = {},
  ) {
    checkRecipePath(path, 'queue');
    this.capacity = options.capacity ?? 1000;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) {
      throw keeperError(ErrorCode.BadArguments, path, `capacity must be an integer >= 1, got ${String(this.capacity)}`);
    }
  }

  /** Enqueues `data`, waiting while the queue is full; resolves with the item's path. */
  async put(data: Buffer, options: WaitOptions = {}): Promise<string> {
    const scope = new WaitScope(this.client, options, 'room in the queue', this.path);
    try {
      await scope.race(this.ensureQueue());
      const marker = `${ITEM_PREFIX}${randomUUID()}-`;
      for (let losses = 0; ;) {
        scope.check();
        const watch = watchOnce();
        const { children, stat } = await scope.race(retryingLoss(this.client,
          () => this.client.getChildren(this.path, watch.listener)));
        if (sortBySequence(children, ITEM_PREFIX).length < this.capacity) {
          // Not raced: a committed put is reported as done even if the wait ended meanwhile.
          const outcome = await this.tryPut(data, stat, marker);
          if (outcome.kind === 'put') return outcome.path;
          if (outcome.kind === 'lost' && ++losses >= LOSS_RETRIES_MAX) throw outcome.error;
        } else {
          await scope.race(watch.fired);
        }
      }
    } finally {
      scope.dispose();
    }
  }

  /** Dequeues the oldest item, waiting while the queue is empty. */
  async take(options: WaitOptions = {}): Promise<QueueItem> {
    const scope = new WaitScope(this.client, options, 'an item in the queue', this.path);
    try {
      await scope.race(this.ensureQueue());
      for (;;) {
        scope.check();
        const watch = watchOnce();
        const { children } = await scope.race(retryingLoss(this.client,
          () => this.client.getChildren(this.path, watch.listener)));
        // Not raced: an item consumed must be returned, never dropped by a timeout.
        const item = await this.consumeFirst(children);
        if (item !== undefined) return item;
        await scope.race(watch.fired);
      }
    } finally {
      scope.dispose();
    }
  }

  /** Dequeues the oldest item, or null at once when the queue is empty. */
  async poll(): Promise<QueueItem | null> {
    await this.ensureQueue();
    const { children } = await this.client.getChildren(this.path);
    return (await this.consumeFirst(children)) ?? null;
  }

  /** The number of items queued now. */
  async size(): Promise<number> {
    await this.ensureQueue();
    const { children } = await this.client.getChildren(this.path);
    return sortBySequence(children, ITEM_PREFIX).length;
  }

  /**
   * The commit that makes the bound exact. `raced`: another put won, re-read. `lost`: a
   * transient connection loss whose commit is not found under our marker (protected mode),
   * so nothing was enqueued: re-read and try again.
   */
  private async tryPut(data: Buffer, queueStat: Stat, marker: string): Promise<PutOutcome> {
    try {
      const results = await this.client.multi([
        { op: 'setData', path: this.path, data: Buffer.alloc(0), version: queueStat.version },
        { op: 'create', path: joinPath(this.path, marker), data, mode: 'persistent_sequential' },
      ]);
      const createdPath = results[1]?.path;
      if (createdPath === undefined) throw keeperError(ErrorCode.SystemError, this.path, 'multi returned no created path');
      return { kind: 'put', path: createdPath };
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.BadVersion)) return { kind: 'raced' };
      if (!isTransientLoss(this.client, error)) throw error;
      await lossBackoff(1);
      const found = await findProtected(this.client, this.path, marker);
      return found !== undefined ? { kind: 'put', path: found.path } : { kind: 'lost', error };
    }
  }

  /** Tries the items oldest first; a lost delete race moves on to the next. */
  private async consumeFirst(children: string[]): Promise<QueueItem | undefined> {
    for (const child of sortBySequence(children, ITEM_PREFIX)) {
      const path = joinPath(this.path, child.name);
      try {
        const { data, stat } = await this.client.getData(path);
        await retryingLoss(this.client, () => this.client.delete(path, stat.version));
        return { data, path, zxid: stat.czxid };
      } catch (error) {
        if (!isKeeperCode(error, ErrorCode.NoNode)) throw error;
      }
    }
    return undefined;
  }

  private async ensureQueue(): Promise<void> {
    if (this.created) return;
    await ensurePath(this.client, this.path, 'persistent');
    this.created = true;
  }
}
