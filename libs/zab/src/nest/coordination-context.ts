/**
 * What a running `@WithLock` / `@LeaderOnly` call knows about its lock or leadership, kept per
 * async call chain (AsyncLocalStorage), so nested calls and awaited work see it too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LockContext {
  /** What the call holds: a mutex (`@WithLock`), a read/write lock side, or a semaphore lease. */
  readonly recipe: 'mutex' | 'read' | 'write' | 'semaphore';
  readonly keys: readonly string[];
  /** One key: its token; several: the largest. Strictly increasing per key across holders. */
  readonly fencingToken: bigint;
  readonly fencingTokens: ReadonlyMap<string, bigint>;
  /** Aborts with `LockLostError` when the lock can no longer be trusted. */
  readonly signal: AbortSignal;
}

export interface LeadershipContext {
  readonly group: string;
  /** Aborts with `NotLeaderError` when this term of leadership ends. */
  readonly signal: AbortSignal;
  /** Under `oncePerFire`: the scheduled time of the fire being run. */
  readonly fireTime?: Date;
  /** Under `misfire: 'runOnce'`: true for the run that makes up for fires missed during a hand-over. */
  readonly missedFire?: boolean;
}

interface Frame {
  locks: LockContext[];
  leadership: LeadershipContext[];
}

const storage = new AsyncLocalStorage<Frame>();

/** The innermost lock of the running call chain, or undefined outside `@WithLock`. */
export function currentLock(): LockContext | undefined {
  const locks = storage.getStore()?.locks;
  return locks?.[locks.length - 1];
}

/** The innermost leadership of the running call chain, or undefined outside `@LeaderOnly`. */
export function currentLeadership(): LeadershipContext | undefined {
  const leadership = storage.getStore()?.leadership;
  return leadership?.[leadership.length - 1];
}

/** A mutex of this call chain that covers every one of `keys` (reentrancy), if any. */
export function heldLockFor(keys: readonly string[]): LockContext | undefined {
  const locks = storage.getStore()?.locks ?? [];
  return locks.find((lock) => lock.recipe === 'mutex' && keys.every((key) => lock.keys.includes(key)));
}

export function runWithLock<T>(lock: LockContext, call: () => T): T {
  const frame = storage.getStore();
  return storage.run({ locks: [...(frame?.locks ?? []), lock], leadership: frame?.leadership ?? [] }, call);
}

export function runWithLeadership<T>(leadership: LeadershipContext, call: () => T): T {
  const frame = storage.getStore();
  return storage.run({ locks: frame?.locks ?? [], leadership: [...(frame?.leadership ?? []), leadership] }, call);
}
