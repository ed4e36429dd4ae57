/**
 * Argument checks the coordination clients share (in-process and remote): a bad argument is a
 * `BadArguments` KeeperError that says what is accepted, raised before anything is sent.
 */
import { CreateModeFlag, isCreateModeName, type CreateModeName } from '../state/create-mode.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError, type KeeperError } from '../state/keeper-error.js';

/** Largest znode version ZooKeeper holds (int32). */
export const VERSION_MAX = 0x7fffffff;

export function badArguments(detail: string): KeeperError {
  return keeperError(ErrorCode.BadArguments, undefined, detail);
}

/** -1 (any version) or a version ZooKeeper can hold (a non-negative int32). */
export function checkVersion(version: unknown = -1): number {
  if (typeof version !== 'number' || !Number.isInteger(version) || version < -1 || version > VERSION_MAX) {
    throw badArguments(`version must be -1 (any) or an integer from 0 to ${VERSION_MAX}; got ${String(version)}`);
  }
  return version;
}

export function checkMode(mode: unknown = 'persistent'): CreateModeName {
  if (!isCreateModeName(mode)) {
    throw badArguments(`unknown create mode ${JSON.stringify(mode)}; use one of ${Object.keys(CreateModeFlag).join(', ')}`);
  }
  return mode;
}
