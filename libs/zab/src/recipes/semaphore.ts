/**
 * A counting semaphore of `maxLeases` leases (Curator's InterProcessSemaphoreV2). Each
 * acquisition creates an ephemeral sequential `lease-…` child of the semaphore path; a lease
 * is held when its node is among the `maxLeases` oldest children. Nodes are only ever added
 * at the young end, so a node's rank only falls: once held it stays held, and at any moment
 * at most `maxLeases` nodes rank below `maxLeases` — the limit holds without an internal lock,
 * and leases are granted in arrival order (fair).
 *
 * Lease nodes are created in Curator's protected mode (see `createProtected`), so a leader
 * change during the create neither orphans nor duplicates a lease node.
 * Every process must use the same `maxLeases` for a path (as in Curator, nothing checks it).
 * Leases are released individually (`lease.release()`); `acquireMany(n)` takes n leases one
 * after another and returns them all or none. A wait rejects on `timeoutMs`
 * (`RecipeTimeoutError`), abort (`signal.reason`) or session loss, deleting its queued node.
 * A held lease's `signal` fires when the session is lost (or suspended, under the default
 * policy); the session's end deletes its nodes, which frees the leases for others.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import { HeldLease, type Lease } from './lease.js';
import { RecipeTimeoutError } from './recipe-errors.js';
import {
  checkRecipePath,
  createProtected,
  deleteQuietly,
  joinPath,
  nameOf,
  retryingLoss,
  sortBySequence,
  type SuspendedPolicy,
  WaitScope,
  type WaitOptions,
  watchOnce,
} from './recipe-support.js';

export interface SemaphoreOptions {
  /** Default `'lost'`: a suspended connection aborts the holders' signals. */
  suspendedPolicy?: SuspendedPolicy;
  /** Data stored in each lease node (Curator's `setNodeData`), e.g. the holder's name. */
  nodeData?: Buffer;
}

const LEASE_PREFIX = 'lease-';

export class Semaphore {
  private readonly policy: SuspendedPolicy;
  private readonly nodeData: Buffer;

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    readonly maxLeases: number,
    options: SemaphoreOptions = {},
  ) {
    checkRecipePath(path, 'semaphore');
    if (!Number.isInteger(maxLeases) || maxLeases < 1) {
      throw keeperError(ErrorCode.BadArguments, path, `maxLeases must be an integer >= 1, got ${String(maxLeases)}`);
    }
    this.policy = options.suspendedPolicy ?? 'lost';
    this.nodeData = options.nodeData ?? Buffer.alloc(0);
  }

  /** Waits (FIFO) for one lease. */
  async acquire(options: WaitOptions = {}): Promise<Lease> {
    const scope = new WaitScope(this.client, options, 'a semaphore lease', this.path);
    try {
      return await this.acquireIn(scope);
    } finally {
      scope.dispose();
    }
  }

  /** Takes one lease only if one is free now (no wait); undefined otherwise. */
  async tryAcquire(): Promise<Lease | undefined> {
    const scope = new WaitScope(this.client, {}, 'a semaphore lease', this.path, true);
    try {
      return await this.acquireIn(scope);
    } catch (error) {
      if (error instanceof RecipeTimeoutError) return undefined;
      throw error;
    } finally {
      scope.dispose();
    }
  }

  /** Waits for `count` leases under one bound; on failure the ones already taken are returned. */
  async acquireMany(count: number, options: WaitOptions = {}): Promise<Lease[]> {
    if (!Number.isInteger(count) || count < 1 || count > this.maxLeases) {
      throw keeperError(ErrorCode.BadArguments, this.path, `count must be an integer in [1, ${this.maxLeases}]`);
    }
    const scope = new WaitScope(this.client, options, `${count} semaphore leases`, this.path);
    const leases: Lease[] = [];
    try {
      while (leases.length < count) leases.push(await this.acquireIn(scope));
      return leases;
    } catch (error) {
      await Promise.all(leases.map((lease) => lease.release()));
      throw error;
    } finally {
      scope.dispose();
    }
  }

  /** The lease nodes, oldest first (the first `maxLeases` are held). */
  async participantNodes(): Promise<string[]> {
    const { children } = await this.client.getChildren(this.path);
    return sortBySequence(children, LEASE_PREFIX).map((child) => joinPath(this.path, child.name));
  }

  private async acquireIn(scope: WaitScope): Promise<Lease> {
    scope.check();
    // Not raced: a create completing after an abort must still be deleted (no orphan lease).
    const created = await createProtected(this.client, this.path, LEASE_PREFIX, this.nodeData,
      'ephemeral_sequential');
    try {
      scope.check();
      await this.waitForRank(nameOf(created.path), scope);
    } catch (error) {
      await deleteQuietly(this.client, created.path);
      throw error;
    }
    return new HeldLease(this.client, created.path, created.stat.czxid, this.policy);
  }

  private async waitForRank(ourName: string, scope: WaitScope): Promise<void> {
    for (;;) {
      scope.check();
      const watch = watchOnce();
      const { children } = await scope.race(retryingLoss(this.client,
        () => this.client.getChildren(this.path, watch.listener)));
      const rank = sortBySequence(children, LEASE_PREFIX).findIndex((child) => child.name === ourName);
      if (rank < 0) {
        throw keeperError(ErrorCode.SessionExpired, joinPath(this.path, ourName), 'the queued lease node vanished');
      }
      if (rank < this.maxLeases) return;
      scope.beforeWait();
      await scope.race(watch.fired);
    }
  }
}
