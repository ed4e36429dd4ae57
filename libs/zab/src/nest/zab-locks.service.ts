import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { CoordinationClient } from '../node/coordination-client.js';
import { LockLostError, LockTimeoutError } from '../recipes/lock-errors.js';
import { Mutex, type LockLease, type MutexOptions } from '../recipes/mutex.js';
import type { Lease } from '../recipes/lease.js';
import { ReadWriteLock, type LockSide } from '../recipes/read-write-lock.js';
import { RecipeTimeoutError } from '../recipes/recipe-errors.js';
import { Semaphore } from '../recipes/semaphore.js';
import { checkName } from '../recipes/sequential-queue.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError, keeperError } from '../state/keeper-error.js';
import { heldLockFor, runWithLock, type LockContext } from './coordination-context.js';
import type { LockRecipe, WithLockOptions } from './with-lock.decorator.js';
import { ZAB_CLIENT } from './zab.constants.js';

/** Parents of the `@WithReadLock`/`@WithWriteLock` and `@WithSemaphore` recipe nodes, per key. */
export const RW_LOCKS_ROOT = '/zab/rwlocks';
export const SEMAPHORES_ROOT = '/zab/semaphores';

/** What `run`/`observe` take: `@WithLock`'s options and the recipe (default: a mutex). */
export type LockRunOptions = WithLockOptions & { kind?: LockRecipe };

/**
 * Runs calls under distributed mutexes (what `@WithLock` does), read/write locks
 * (`@WithReadLock` / `@WithWriteLock`) and semaphores (`@WithSemaphore`), and makes `Mutex` recipes for
 * direct use. Tracks every lease it holds so that shutdown releases them all: their signals
 * abort with `LockLostError('shutdown')` and their nodes are deleted in `onModuleDestroy`,
 * before the session closes.
 */
@Injectable()
export class ZabLocks implements OnModuleDestroy {
  private readonly held = new Set<LockLease>();
  private readonly delayed = new Map<LockLease, NodeJS.Timeout>();
  private readonly controllers = new Map<LockLease, AbortController>();

  constructor(@Inject(ZAB_CLIENT) private readonly client: CoordinationClient) {}

  /** A fair mutex on `keys` for this instance's session. */
  mutex(keys: string | readonly string[], options: MutexOptions = {}): Mutex {
    return new Mutex(this.client, keys, options);
  }

  /** Runs `call` holding `keys`; undefined when busy under `onBusy: 'skip'`. */
  async run<T>(keys: readonly string[], options: LockRunOptions, call: (lock: LockContext) => T):
    Promise<Awaited<T> | undefined> {
    const mutex = (options.kind ?? { type: 'mutex' }).type === 'mutex';
    const reentered = options.reentrant === true && mutex ? heldLockFor(keys) : undefined;
    if (reentered !== undefined) return await call(reentered);
    const taken = await this.take(keys, options);
    if (taken === undefined) return undefined;
    const startedMs = Date.now();
    try {
      return await runWithLock(taken.context, () => call(taken.context));
    } finally {
      await this.releaseAfter(taken.lease, options.lockAtLeastForMs, startedMs);
    }
  }

  /** An Observable that takes the lock on subscribe and holds it for the subscription's life. */
  observe<T>(keys: readonly string[], options: LockRunOptions, call: (lock: LockContext) => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let taken: { lease: LockLease; context: LockContext } | undefined;
      let closed = false;
      let startedMs = 0;
      let stopInner: (() => void) | undefined;
      this.take(keys, options).then((result) => {
        if (result === undefined) return subscriber.complete();
        taken = result;
        startedMs = Date.now();
        if (closed) return void this.releaseAfter(result.lease, options.lockAtLeastForMs, startedMs);
        const onLost = (): void => subscriber.error(result.lease.signal.reason);
        result.lease.signal.addEventListener('abort', onLost, { once: true });
        // Called and subscribed inside the lock's context, so the producer sees currentLock().
        const inner = runWithLock(result.context, () => call(result.context).subscribe(subscriber));
        stopInner = () => {
          result.lease.signal.removeEventListener('abort', onLost);
          inner.unsubscribe();
        };
      }, (error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        stopInner?.();
        if (taken !== undefined) void this.releaseAfter(taken.lease, options.lockAtLeastForMs, startedMs);
      };
    });
  }

  async onModuleDestroy(): Promise<void> {
    const leases = [...this.held];
    for (const lease of leases) this.controllers.get(lease)?.abort(new LockLostError(lease.keys, 'shutdown'));
    for (const timer of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    const released = Promise.allSettled(leases.map((lease) => this.finish(lease)));
    // Out of quorum the deletions cannot commit now; the session's end removes the nodes.
    if (this.client.connectionState !== 'suspended') await released;
  }

  private async take(keys: readonly string[], options: LockRunOptions):
    Promise<{ lease: LockLease; context: LockContext } | undefined> {
    const kind = options.kind ?? { type: 'mutex' };
    const lease = kind.type === 'mutex' ? await this.takeMutex(keys, options) : await this.takeShared(keys, kind, options);
    if (lease === undefined) return undefined;
    this.held.add(lease);
    // The context's signal also aborts at shutdown, while the lease's own reports real losses.
    const controller = new AbortController();
    this.controllers.set(lease, controller);
    const signal = AbortSignal.any([lease.signal, controller.signal]);
    const context: LockContext = {
      recipe: kind.type,
      keys: lease.keys, fencingToken: lease.fencingToken, fencingTokens: lease.fencingTokens, signal };
    return { lease, context };
  }

  private async takeMutex(keys: readonly string[], options: LockRunOptions): Promise<LockLease | undefined> {
    const mutex = this.mutex(keys, { suspendedPolicy: options.suspendedPolicy ?? 'lost' });
    const onBusy = options.onBusy ?? 'wait';
    if (onBusy === 'wait') return mutex.acquire(options.waitMs === undefined ? {} : { waitMs: options.waitMs });
    const lease = await mutex.tryAcquire();
    if (lease === undefined && onBusy === 'throw') throw new LockTimeoutError(mutex.keys, 0);
    return lease;
  }

  /**
   * A read/write lock side or a semaphore lease on each key, taken one by one in sorted order
   * (deadlock-free, as the mutex's several keys), under one `waitMs` bound; all or none.
   */
  private async takeShared(keys: readonly string[], kind: Exclude<LockRecipe, { type: 'mutex' }>,
    options: LockRunOptions): Promise<LockLease | undefined> {
    const sorted = [...new Set(keys.map((key) => checkName('lock key', key)))].sort();
    if (sorted.length === 0) throw keeperError(ErrorCode.BadArguments, undefined, 'a lock needs at least one key');
    if (kind.type === 'semaphore' && sorted.length !== 1) {
      throw keeperError(ErrorCode.BadArguments, undefined, `a semaphore takes one key, got ${sorted.length}`);
    }
    const onBusy = options.onBusy ?? 'wait';
    const deadlineMs = options.waitMs === undefined ? undefined : Date.now() + options.waitMs;
    const leases: Lease[] = [];
    try {
      for (const key of sorted) {
        const side = this.sideOf(kind, key, options);
        const lease = onBusy !== 'wait' ? await side.tryAcquire()
          : await side.acquire(deadlineMs === undefined ? {} : { timeoutMs: Math.max(0, deadlineMs - Date.now()) });
        if (lease === undefined) {
          await Promise.allSettled(leases.map((held) => held.release()));
          if (onBusy === 'throw') throw new LockTimeoutError(sorted, 0);
          return undefined;
        }
        leases.push(lease);
      }
    } catch (error) {
      await Promise.allSettled(leases.map((held) => held.release()));
      if (error instanceof RecipeTimeoutError) throw new LockTimeoutError(sorted, options.waitMs ?? 0);
      throw error;
    }
    return sharedLease(sorted, leases);
  }

  private sideOf(kind: Exclude<LockRecipe, { type: 'mutex' }>, key: string, options: LockRunOptions): LockSide {
    const policy = { suspendedPolicy: options.suspendedPolicy ?? 'lost' } as const;
    if (kind.type === 'semaphore') return new Semaphore(this.client, `${SEMAPHORES_ROOT}/${key}`, kind.maxLeases, policy);
    const lock = new ReadWriteLock(this.client, `${RW_LOCKS_ROOT}/${key}`, policy);
    return kind.type === 'read' ? lock.readLock : lock.writeLock;
  }

  /**
   * Releases now (resolving once the node is deleted), or schedules the release for when
   * `lockAtLeastForMs` after the start has passed (ShedLock semantics; resolves at once).
   */
  private async releaseAfter(lease: LockLease, lockAtLeastForMs: number | undefined, startedMs: number): Promise<void> {
    if (!this.held.has(lease) || this.delayed.has(lease)) return;
    const remainingMs = (lockAtLeastForMs ?? 0) - (Date.now() - startedMs);
    if (remainingMs <= 0) {
      // A lost lock's node may need a quorum to delete: do not hold the caller for it.
      if (lease.signal.aborted) void this.finish(lease);
      else await this.finish(lease);
      return;
    }
    this.delayed.set(lease, setTimeout(() => {
      this.delayed.delete(lease);
      void this.finish(lease);
    }, remainingMs));
  }

  private async finish(lease: LockLease): Promise<void> {
    if (!this.held.delete(lease)) return;
    this.controllers.delete(lease);
    // A late release after loss never throws; any other failure leaves the node to the session.
    await lease.release().catch(() => undefined);
  }
}

/**
 * The recipe leases of one call seen as a `LockLease`: tokens per key, one signal that aborts
 * with `LockLostError` ('suspended' for a connection loss, else 'lost') when any lease is lost.
 */
function sharedLease(keys: readonly string[], leases: readonly Lease[]): LockLease {
  const controller = new AbortController();
  const fencingTokens = new Map(keys.map((key, index) => [key, leases[index]!.fencingToken] as const));
  for (const lease of leases) {
    const onAbort = (): void => {
      const suspended = lease.signal.reason instanceof KeeperError && lease.signal.reason.code === ErrorCode.ConnectionLoss;
      if (!controller.signal.aborted) controller.abort(new LockLostError(keys, suspended ? 'suspended' : 'lost'));
    };
    if (lease.signal.aborted) onAbort();
    else lease.signal.addEventListener('abort', onAbort, { once: true });
  }
  return {
    keys,
    fencingTokens,
    fencingToken: [...fencingTokens.values()].reduce((a, b) => (a > b ? a : b)),
    signal: controller.signal,
    release: async () => {
      await Promise.allSettled(leases.map((lease) => lease.release()));
    },
  };
}
