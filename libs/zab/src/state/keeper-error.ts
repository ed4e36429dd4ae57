/**
 * Typed errors carrying ZooKeeper result codes, thrown by the client APIs (never by the state
 * machine, which returns codes). `err.code` is ZooKeeper's numeric code, `err.codeName` its name,
 * and `err.path` the path the failed operation addressed, when there is one.
 */
import { ErrorCode, errorCodeName } from './error-code.js';

const MESSAGES: Partial<Record<number, string>> = {
  [ErrorCode.NoNode]: 'no node exists at this path',
  [ErrorCode.NodeExists]: 'a node already exists at this path',
  [ErrorCode.BadVersion]: 'the expected version does not match the node\'s current version',
  [ErrorCode.NotEmpty]: 'the node has children; delete them first',
  [ErrorCode.NoChildrenForEphemerals]: 'ephemeral nodes cannot have children',
  [ErrorCode.BadArguments]: 'invalid arguments',
  [ErrorCode.SessionExpired]: 'the session has expired',
  [ErrorCode.ConnectionLoss]: 'the connection to the replica was lost',
  [ErrorCode.InvalidAcl]: 'invalid ACL',
  [ErrorCode.NoAuth]: 'not authorised for this operation',
  [ErrorCode.AuthFailed]: 'authentication failed',
  [ErrorCode.NoWatcher]: 'no such watch is registered',
  [ErrorCode.RuntimeInconsistency]: 'an earlier operation of the same multi failed',
  [ErrorCode.Unimplemented]: 'operation not implemented',
  [ErrorCode.SystemError]: 'system error',
  [ErrorCode.OperationTimeout]: 'the operation timed out',
};

export class KeeperError extends Error {
  override readonly name: string = 'KeeperError';
  readonly codeName: string;

  constructor(
    readonly code: number,
    readonly path?: string,
    detail?: string,
  ) {
    const name = errorCodeName(code);
    const base = detail ?? MESSAGES[code] ?? 'operation failed';
    super(`${name}: ${base}${path === undefined ? '' : ` (path ${path})`}`);
    this.codeName = name;
  }
}

export class NoNodeError extends KeeperError {
  override readonly name = 'NoNodeError';
}
export class NodeExistsError extends KeeperError {
  override readonly name = 'NodeExistsError';
}
export class BadVersionError extends KeeperError {
  override readonly name = 'BadVersionError';
}
export class NotEmptyError extends KeeperError {
  override readonly name = 'NotEmptyError';
}
export class NoChildrenForEphemeralsError extends KeeperError {
  override readonly name = 'NoChildrenForEphemeralsError';
}
export class InvalidPathError extends KeeperError {
  override readonly name = 'InvalidPathError';
}
export class BadArgumentsError extends KeeperError {
  override readonly name = 'BadArgumentsError';
}
export class SessionExpiredError extends KeeperError {
  override readonly name = 'SessionExpiredError';
}
export class ConnectionLossError extends KeeperError {
  override readonly name = 'ConnectionLossError';
}
export class NoWatcherError extends KeeperError {
  override readonly name = 'NoWatcherError';
}

/** The node's ACL does not grant the session's identities the permission (`NoAuth`). */
export class NoAuthError extends KeeperError {
  override readonly name = 'NoAuthError';
}
/** addAuth with an unknown scheme or malformed credentials (`AuthFailed`). */
export class AuthFailedError extends KeeperError {
  override readonly name = 'AuthFailedError';
}
/** A create/setACL list that is empty, malformed, or `auth` without identities (`InvalidACL`). */
export class InvalidAclError extends KeeperError {
  override readonly name = 'InvalidAclError';
}

/** Builds the typed error for a code; `InvalidPathError` is `BadArguments` with a path reason. */
export function keeperError(code: number, path?: string, detail?: string): KeeperError {
  switch (code) {
    case ErrorCode.NoNode:
      return new NoNodeError(code, path, detail);
    case ErrorCode.NodeExists:
      return new NodeExistsError(code, path, detail);
    case ErrorCode.BadVersion:
      return new BadVersionError(code, path, detail);
    case ErrorCode.NotEmpty:
      return new NotEmptyError(code, path, detail);
    case ErrorCode.NoChildrenForEphemerals:
      return new NoChildrenForEphemeralsError(code, path, detail);
    case ErrorCode.BadArguments:
      return new BadArgumentsError(code, path, detail);
    case ErrorCode.SessionExpired:
      return new SessionExpiredError(code, path, detail);
    case ErrorCode.ConnectionLoss:
      return new ConnectionLossError(code, path, detail);
    case ErrorCode.NoWatcher:
      return new NoWatcherError(code, path, detail);
    case ErrorCode.NoAuth:
      return new NoAuthError(code, path, detail);
    case ErrorCode.AuthFailed:
      return new AuthFailedError(code, path, detail);
    case ErrorCode.InvalidAcl:
      return new InvalidAclError(code, path, detail);
    default:
      return new KeeperError(code, path, detail);
  }
}
