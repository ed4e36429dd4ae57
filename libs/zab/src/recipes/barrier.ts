/**
 * A distributed barrier (Curator's DistributedBarrier): while the barrier node exists,
 * `waitOnBarrier()` blocks; `removeBarrier()` releases every waiter at once.
 * `setBarrier()` creates the node (persistent, missing parents as containers; setting an
 * already set barrier is fine) and `removeBarrier()` deletes it (removing an absent one is
 * fine). A wait rejects on `timeoutMs` (`RecipeTimeoutError`; Curator returns false), abort
 * (`signal.reason`) or session loss (Curator throws on connection loss); it never polls: it
 * waits on an `exists` watch.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import {
  checkRecipePath,
  createWithParents,
  isKeeperCode,
  WaitScope,
  type WaitOptions,
  watchOnce,
} from './recipe-support.js';

export class Barrier {
  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
  ) {
    checkRecipePath(path, 'barrier');
  }

  async setBarrier(): Promise<void> {
    try {
      await createWithParents(this.client, this.path, Buffer.alloc(0), { mode: 'persistent' });
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NodeExists)) throw error;
    }
  }

  async removeBarrier(): Promise<void> {
    try {
      await this.client.delete(this.path);
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NoNode)) throw error;
    }
  }

  /** True while the barrier is set. */
  async isSet(): Promise<boolean> {
    return (await this.client.exists(this.path)) !== null;
  }

  /** Resolves once the barrier is not set. */
  async waitOnBarrier(options: WaitOptions = {}): Promise<void> {
    const scope = new WaitScope(this.client, options, 'the barrier to be removed', this.path);
    try {
      for (;;) {
        scope.check();
        const watch = watchOnce();
        const stat = await scope.race(this.client.exists(this.path, watch.listener));
        if (stat === null) return;
        await scope.race(watch.fired);
      }
    } finally {
      scope.dispose();
    }
  }
}
