/**
 * The coordination interface: ZooKeeper's client API with promises. The Nest layer and the
 * recipes are written only against it, so they run unchanged on the embedded replica
 * (`LocalCoordinationClient`) and, later, on a remote ensemble over the wire protocol.
 *
 * Failures reject with `KeeperError` subclasses carrying ZooKeeper's result code; a failed
 * `multi` rejects with `MultiError`, whose `results` hold every op's code.
 */
import type { SessionId } from '../core/ids.js';
import type { CreateModeName } from '../state/create-mode.js';
import { KeeperError } from '../state/keeper-error.js';
import type { Acl, Stat } from '../state/stat.js';
import type { OpResult } from '../state/tree-view.js';
import type { WatchEvent } from '../state/watch-event.js';

export interface CreateOptions {
  mode?: CreateModeName;
  acl?: Acl[];
  /** Required for `ttl` and `persistent_sequential_ttl`. */
  ttlMs?: number;
}

export type MultiOp =
  | { op: 'create'; path: string; data?: Buffer; mode?: CreateModeName; acl?: Acl[]; ttlMs?: number }
  | { op: 'delete'; path: string; version?: number }
  | { op: 'setData'; path: string; data: Buffer; version?: number }
  | { op: 'check'; path: string; version: number };

/** One-shot watch callback (ZooKeeper's Watcher). */
export type WatchListener = (event: WatchEvent) => void;

/** What `observe` reports, by kind. Values are captured at the zxid of the change. */
export type Observation =
  | { kind: 'data'; value: { data: Buffer; stat: Stat } | null }
  | { kind: 'children'; value: { children: string[]; stat: Stat } | null }
  | { kind: 'exists'; value: Stat | null }
  | { kind: 'event'; value: WatchEvent };

export type ObserveKind = 'data' | 'children' | 'exists' | 'events' | 'recursiveEvents';

export type SessionState = 'connected' | 'expired' | 'closed';

/**
 * Curator's connection states, as the application sees them:
 * - `connected`: first connection of the session;
 * - `suspended`: the client cannot currently reach a server in a working quorum (remote: the
 *   socket dropped; embedded ensemble: the local replica left its leader or lost its
 *   quorum). The session may still be alive: treat leadership and locks as doubtful;
 * - `reconnected`: back in a working quorum with the same session;
 * - `lost`: the session is gone (expired or closed); its ephemerals are deleted.
 * `lost` is final. Listeners are called in order, each change once.
 */
export type ConnectionState = 'connected' | 'suspended' | 'reconnected' | 'lost';

export interface CoordinationClient {
  readonly sessionId: SessionId;
  readonly sessionTimeoutMs: number;
  readonly state: SessionState;

  create(path: string, data: Buffer, options?: CreateOptions): Promise<{ path: string; stat: Stat }>;
  getData(path: string, watch?: WatchListener): Promise<{ data: Buffer; stat: Stat }>;
  setData(path: string, data: Buffer, version?: number): Promise<Stat>;
  delete(path: string, version?: number): Promise<void>;
  exists(path: string, watch?: WatchListener): Promise<Stat | null>;
  getChildren(path: string, watch?: WatchListener): Promise<{ children: string[]; stat: Stat }>;
  getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }>;
  setAcl(path: string, acl: Acl[], version?: number): Promise<Stat>;
  getAllChildrenNumber(path: string): Promise<number>;
  getEphemerals(prefix?: string): Promise<string[]>;
  multi(ops: MultiOp[]): Promise<OpResult[]>;
  /** After it resolves, reads see every write committed before it was called. */
  sync(path: string): Promise<void>;
  /**
   * ZooKeeper's addAuth: with scheme `digest` and `user:password` (a string is UTF-8), the
   * session's later operations are also checked as `digest:user:base64(sha1(user:password))`.
   * Rejects `AuthFailedError` for a scheme the server has no provider for or bad credentials.
   */
  addAuth(scheme: string, auth: Buffer | string): Promise<void>;
  /** ZooKeeper 3.6 `addWatch`: a watch that stays after firing. */
  addWatch(path: string, mode: 'persistent' | 'persistentRecursive', listener: WatchListener): Promise<void>;
  /** ZooKeeper's removeWatches for one listener; rejects `NoWatcherError` if none matched. */
  removeWatches(
    path: string,
    listener: WatchListener,
    type?: 'children' | 'data' | 'any' | 'persistent' | 'persistentRecursive',
  ): Promise<void>;

  /**
   * Reports the current value first (synchronously with the watch registration, so no change
   * can fall in between), then one observation per change, until the returned function is
   * called. `events` kinds report nothing first. Rejects if the session is not connected.
   */
  observe(path: string, kind: ObserveKind, listener: (observation: Observation) => void): Promise<() => void>;

  /** The newest connection state (see `ConnectionState`). */
  readonly connectionState: ConnectionState;
  /** Called on every connection state change after the call. Returns an unsubscribe. */
  onConnectionStateChange(listener: (state: ConnectionState) => void): () => void;

  /** Called once when the session ends (`expired` or `closed`). Returns an unsubscribe. */
  onSessionEnd(listener: (state: 'expired' | 'closed') => void): () => void;

  /** Closes the session: its ephemerals are deleted at once. */
  close(): Promise<void>;
}

/** A failed multi: `code` is the failing op's code, `results` every op's outcome. */
export class MultiError extends KeeperError {
  override readonly name = 'MultiError';
  constructor(
    code: number,
    readonly results: OpResult[],
    path?: string,
  ) {
    super(code, path, `multi failed at op ${results.findIndex((r) => r.code === code)}`);
  }
}
