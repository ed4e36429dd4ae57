/**
 * Typed errors of the coordination recipes, each carrying the ZooKeeper result code closest
 * to its meaning so callers can branch on `code` as for any `KeeperError`:
 * - a bounded wait ran out (`timeoutMs`): `RecipeTimeoutError`, `OperationTimeout`;
 * - a call the recipe cannot honour in its current state (a read→write upgrade, a release of
 *   a lease that was never held): `RecipeStateError`, `BadArguments`;
 * - a compare-and-set loop gave up after its bounded retries: `CasRetriesExhaustedError`,
 *   `BadVersion`;
 * - the session ended while waiting: the client's own `SessionExpiredError` /
 *   `ConnectionLossError` (see `sessionLostError`).
 * An aborted wait rejects with `signal.reason`, as every AbortSignal-aware web API does.
 */
import { ErrorCode } from '../state/error-code.js';
import { KeeperError, keeperError } from '../state/keeper-error.js';

export class RecipeTimeoutError extends KeeperError {
  override readonly name = 'RecipeTimeoutError';
  constructor(what: string, timeoutMs: number, path?: string) {
    super(ErrorCode.OperationTimeout, path, `timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

export class RecipeStateError extends KeeperError {
  override readonly name = 'RecipeStateError';
  constructor(detail: string, path?: string) {
    super(ErrorCode.BadArguments, path, detail);
  }
}

export class CasRetriesExhaustedError extends KeeperError {
  override readonly name = 'CasRetriesExhaustedError';
  constructor(path: string, attempts: number) {
    super(ErrorCode.BadVersion, path, `compare-and-set lost ${attempts} races in a row`);
  }
}

/** The error a waiter rejects with when its session ends (`lost`). */
export function sessionLostError(state: 'expired' | 'closed' | 'lost', path?: string): KeeperError {
  return state === 'closed'
    ? keeperError(ErrorCode.ConnectionLoss, path, 'the session was closed while waiting')
    : keeperError(ErrorCode.SessionExpired, path, 'the session was lost while waiting');
}
