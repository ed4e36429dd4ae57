/**
 * A fair distributed read/write lock (Curator's InterProcessReadWriteLock). Each acquisition
 * creates an ephemeral sequential child of the lock path, `read-…` or `write-…`; the sequence
 * order is the queue:
 * - a writer holds the lock when its node is the oldest child; it watches the node just
 *   before it (no herd);
 * - a reader holds the lock when no `write-` node older than its own remains (except write
 *   nodes this same `ReadWriteLock` object holds: see downgrade); it watches the nearest
 *   older writer.
 * So readers share, a writer is exclusive, and a writer that arrived first goes first
 * (readers arriving after a waiting writer queue behind it: no writer starvation).
 *
 * Downgrade: while this object holds the write lock, `readLock.acquire()` succeeds at once;
 * releasing the write lease afterwards leaves a read lease (Curator's downgrade). Upgrade
 * (a write acquisition while this object holds a read lease) would wait for itself forever;
 * it rejects at once with `RecipeStateError` instead. The lock is not reentrant: a second
 * write acquisition by the same object queues behind the first.
 *
 * Queued nodes are created in Curator's protected mode (a random marker in the name), so a
 * connection loss with the session alive (a leader change) during the create is recovered
 * without an orphan or a duplicate node.
 *
 * Failure semantics: a wait rejects on `timeoutMs` (`RecipeTimeoutError`), on abort
 * (`signal.reason`) and when the session is lost (`SessionExpiredError`/`ConnectionLossError`),
 * deleting its queued node. A held lease's `signal` fires on session loss (and on suspension
 * under `suspendedPolicy: 'lost'`, the default); the session's end deletes its znodes.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import { HeldLease, type Lease } from './lease.js';
import { RecipeStateError, RecipeTimeoutError } from './recipe-errors.js';
import {
  checkRecipePath,
  createProtected,
  deleteQuietly,
  joinPath,
  nameOf,
  retryingLoss,
  sortBySequence,
  type SequentialChild,
  type SuspendedPolicy,
  WaitScope,
  type WaitOptions,
  watchOnce,
} from './recipe-support.js';

export type LockKind = 'read' | 'write';

export interface ReadWriteLockOptions {
  /** Default `'lost'`: a suspended connection aborts the holders' signals. */
  suspendedPolicy?: SuspendedPolicy;
}

/** One side of the read/write lock. */
export interface LockSide {
  /** Waits (FIFO) for the lock; resolves with the held lease. */
  acquire(options?: WaitOptions): Promise<Lease>;
  /** Takes the lock only if it is free now (no wait); undefined otherwise. */
  tryAcquire(): Promise<Lease | undefined>;
}

export interface LockParticipant {
  kind: LockKind;
  path: string;
  sequence: number;
}

const PREFIX: Record<LockKind, string> = { read: 'read-', write: 'write-' };

export class ReadWriteLock {
  readonly readLock: LockSide = {
    acquire: (options) => this.acquire('read', options),
    tryAcquire: () => this.tryAcquire('read'),
  };
  readonly writeLock: LockSide = {
    acquire: (options) => this.acquire('write', options),
    tryAcquire: () => this.tryAcquire('write'),
  };
  private readonly held = { read: new Set<HeldLease>(), write: new Set<HeldLease>() };
  private readonly policy: SuspendedPolicy;

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    options: ReadWriteLockOptions = {},
  ) {
    checkRecipePath(path, 'lock');
    this.policy = options.suspendedPolicy ?? 'lost';
  }

  /** Every queued and holding node, oldest first. */
  async participants(): Promise<LockParticipant[]> {
    const { children } = await this.client.getChildren(this.path);
    return sortBySequence(children).map((child) => ({
      kind: child.name.startsWith(PREFIX.write) ? 'write' : 'read',
      path: joinPath(this.path, child.name),
      sequence: child.sequence,
    }));
  }

  private async tryAcquire(kind: LockKind): Promise<Lease | undefined> {
    try {
      return await this.acquire(kind, {}, true);
    } catch (error) {
      if (error instanceof RecipeTimeoutError) return undefined;
      throw error;
    }
  }

  private async acquire(kind: LockKind, options: WaitOptions = {}, once = false): Promise<Lease> {
    if (kind === 'write' && [...this.held.read].some((lease) => lease.isHeld)) {
      throw new RecipeStateError('cannot upgrade a read lease to a write lease: release the read lease first', this.path);
    }
    const scope = new WaitScope(this.client, options, `the ${kind} lock`, this.path, once);
    try {
      scope.check();
      // Not raced: a create that completed after an abort would leave an orphan node that
      // blocks the lock until the session ends (Curator's CURATOR-79).
      const created = await createProtected(this.client, this.path, PREFIX[kind], Buffer.alloc(0),
        'ephemeral_sequential');
      try {
        scope.check();
        await this.waitForTurn(kind, nameOf(created.path), scope);
      } catch (error) {
        await deleteQuietly(this.client, created.path);
        throw error;
      }
      const set = this.held[kind];
      const lease = new HeldLease(this.client, created.path, created.stat.czxid, this.policy,
        (released) => set.delete(released));
      set.add(lease);
      return lease;
    } finally {
      scope.dispose();
    }
  }

  private async waitForTurn(kind: LockKind, ourName: string, scope: WaitScope): Promise<void> {
    for (;;) {
      scope.check();
      const { children } = await scope.race(retryingLoss(this.client, () => this.client.getChildren(this.path)));
      const queue = sortBySequence(children);
      const ourIndex = queue.findIndex((child) => child.name === ourName);
      if (ourIndex < 0) {
        throw keeperError(ErrorCode.SessionExpired, joinPath(this.path, ourName), 'the queued lock node vanished');
      }
      const blocker = kind === 'write' ? queue[ourIndex - 1] : this.nearestForeignWriter(queue, ourIndex);
      if (blocker === undefined) return;
      const watch = watchOnce();
      const stat = await scope.race(retryingLoss(this.client,
        () => this.client.exists(joinPath(this.path, blocker.name), watch.listener)));
      if (stat === null) continue;
      scope.beforeWait();
      await scope.race(watch.fired);
    }
  }

  /** The nearest older `write-` node not held by this object (held ones permit downgrade). */
  private nearestForeignWriter(queue: SequentialChild[], ourIndex: number): SequentialChild | undefined {
    const ours = new Set([...this.held.write].filter((lease) => lease.isHeld).map((lease) => nameOf(lease.path)));
    for (let index = ourIndex - 1; index >= 0; index--) {
      const child = queue[index]!;
      if (child.name.startsWith(PREFIX.write) && !ours.has(child.name)) return child;
    }
    return undefined;
  }
}
