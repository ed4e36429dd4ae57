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
 * Not a broker (Curator Tech Note 4): keep items small and queues short.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import {
  checkRecipePath,
  ensurePath,
  isKeeperCode,
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
      for (;;) {
        scope.check();
        const watch = watchOnce();
        const { children, stat } = await scope.race(this.client.getChildren(this.path, watch.listener));
        if (sortBySequence(children, ITEM_PREFIX).length < this.capacity) {
          // Not raced: a committed put is reported as done even if the wait ended meanwhile.
          const created = await this.tryPut(data, stat);
          if (created !== undefined) return created;
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
        const { children } = await scope.race(this.client.getChildren(this.path, watch.listener));
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

  /** The commit that makes the bound exact; undefined when another put won the race. */
  private async tryPut(data: Buffer, queueStat: Stat): Promise<string | undefined> {
    try {
      const results = await this.client.multi([
        { op: 'setData', path: this.path, data: Buffer.alloc(0), version: queueStat.version },
        { op: 'create', path: joinPath(this.path, ITEM_PREFIX), data, mode: 'persistent_sequential' },
      ]);
      const createdPath = results[1]?.path;
      if (createdPath === undefined) throw keeperError(ErrorCode.SystemError, this.path, 'multi returned no created path');
      return createdPath;
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.BadVersion)) return undefined;
      throw error;
    }
  }

  /** Tries the items oldest first; a lost delete race moves on to the next. */
  private async consumeFirst(children: string[]): Promise<QueueItem | undefined> {
    for (const child of sortBySequence(children, ITEM_PREFIX)) {
      const path = joinPath(this.path, child.name);
      try {
        const { data, stat } = await this.client.getData(path);
        await this.client.delete(path, stat.version);
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
