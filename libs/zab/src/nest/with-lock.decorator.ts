import { SetMetadata } from '@nestjs/common';
import type { SuspendedPolicy } from '../recipes/lock-errors.js';
import { FENCE_PARAM_METADATA, WITH_LOCK_METADATA } from './leadership.constants.js';

/** A fixed key, several keys (taken atomically, in sorted order), or a function of the call's arguments. */
export type LockKeySpec = string | readonly string[] | ((...args: never[]) => string | readonly string[]);

export interface WithLockOptions {
  /** 'wait' (default): queue (fair) up to `waitMs`; 'skip': return undefined; 'throw': `LockTimeoutError`. */
  onBusy?: 'wait' | 'skip' | 'throw';
  /** With 'wait': give up after this long with `LockTimeoutError`. Default: wait forever. */
  waitMs?: number;
  /** Keep the lock at least this long after the call started (ShedLock's lockAtLeastFor). */
  lockAtLeastForMs?: number;
  /** A nested call in the same async call chain that needs the same keys runs under the held lock. */
  reentrant?: boolean;
  /** 'lost' (default): a suspended connection aborts the holder's signal; 'keep': only lost. */
  suspendedPolicy?: SuspendedPolicy;
}

/** Options of `@WithReadLock`, `@WithWriteLock` and `@WithSemaphore` (no reentrancy). */
export type WithSharedLockOptions = Omit<WithLockOptions, 'reentrant'>;

/** Which recipe a lock decorator takes: a mutex, one side of a read/write lock, or a semaphore lease. */
export type LockRecipe =
  | { type: 'mutex' }
  | { type: 'read' }
  | { type: 'write' }
  | { type: 'semaphore'; maxLeases: number };

export interface WithLockMetadata {
  keys: LockKeySpec;
  options: WithLockOptions;
  kind: LockRecipe;
}

/**
 * Runs the method under a fair distributed mutex on `key` (session-owned: no TTL). The call
 * becomes asynchronous (it waits for the lock); a method returning an Observable returns one
 * that takes the lock on subscribe and holds it for the subscription's life. Inside, the lock
 * is given by `currentLock()` and by a `@Fence()` parameter: `{ fencingToken, signal }`.
 * Released on return, throw and application shutdown.
 */
export function WithLock(keys: LockKeySpec, options: WithLockOptions = {}): MethodDecorator {
  const metadata: WithLockMetadata = { keys, options, kind: { type: 'mutex' } };
  return SetMetadata(WITH_LOCK_METADATA, metadata);
}

/**
 * Runs the method holding the read side of a fair distributed read/write lock on each key
 * (the `ReadWriteLock` recipe, Curator's InterProcessReadWriteLock, under `/zab/rwlocks/<key>`):
 * readers share the lock, a writer excludes everyone, and a writer that queued first goes
 * first. Same options and semantics as `@WithLock` (no reentrancy): onBusy, waitMs with
 * `LockTimeoutError`, `LockLostError` as the signal's reason, `currentLock()` / `@Fence()`,
 * release on return, throw and shutdown, Observables held for the subscription. The fencing
 * token is the czxid of this holder's node.
 */
export function WithReadLock(keys: LockKeySpec, options: WithSharedLockOptions = {}): MethodDecorator {
  const metadata: WithLockMetadata = { keys, options, kind: { type: 'read' } };
  return SetMetadata(WITH_LOCK_METADATA, metadata);
}

/** The write side of `@WithReadLock`'s lock: exclusive against readers and writers of the key. */
export function WithWriteLock(keys: LockKeySpec, options: WithSharedLockOptions = {}): MethodDecorator {
  const metadata: WithLockMetadata = { keys, options, kind: { type: 'write' } };
  return SetMetadata(WITH_LOCK_METADATA, metadata);
}

/**
 * Runs the method holding one of `maxLeases` leases of a fair distributed semaphore on `key`
 * (the `Semaphore` recipe, Curator's InterProcessSemaphoreV2, under `/zab/semaphores/<key>`):
 * at most `maxLeases` calls run at once across every instance. Every user of a key must give
 * the same `maxLeases`. Options and semantics as `@WithLock` (no reentrancy).
 */
export function WithSemaphore(key: string | ((...args: never[]) => string), maxLeases: number,
  options: WithSharedLockOptions = {}): MethodDecorator {
  if (!Number.isInteger(maxLeases) || maxLeases < 1) {
    throw new Error(`@WithSemaphore: maxLeases must be an integer >= 1, got ${String(maxLeases)}`);
  }
  const metadata: WithLockMetadata = { keys: key, options, kind: { type: 'semaphore', maxLeases } };
  return SetMetadata(WITH_LOCK_METADATA, metadata);
}

/**
 * Parameter decorator: the `@WithLock` method receives its lock here (`LockContext`:
 * `fencingToken`, `fencingTokens`, `signal`), whatever the caller passed at that position.
 */
export function Fence(): ParameterDecorator {
  return (target, propertyKey, index) => {
    if (propertyKey === undefined) throw new Error('@Fence() applies to method parameters');
    Reflect.defineMetadata(FENCE_PARAM_METADATA, index, target, propertyKey);
  };
}
