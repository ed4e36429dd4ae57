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

export interface WithLockMetadata {
  keys: LockKeySpec;
  options: WithLockOptions;
}

/**
 * Runs the method under a fair distributed mutex on `key` (session-owned: no TTL). The call
 * becomes asynchronous (it waits for the lock); a method returning an Observable returns one
 * that takes the lock on subscribe and holds it for the subscription's life. Inside, the lock
 * is given by `currentLock()` and by a `@Fence()` parameter: `{ fencingToken, signal }`.
 * Released on return, throw and application shutdown.
 */
export function WithLock(keys: LockKeySpec, options: WithLockOptions = {}): MethodDecorator {
  const metadata: WithLockMetadata = { keys, options };
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
