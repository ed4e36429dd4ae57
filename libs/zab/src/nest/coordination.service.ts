import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Observable } from 'rxjs';
import type {
  ConnectionState,
  CoordinationClient,
  MultiOp,
  Observation,
  ObserveKind,
} from '../node/coordination-client.js';
import { LeaderElection } from '../recipes/leader-election.js';
import type { SuspendedPolicy } from '../recipes/lock-errors.js';
import { BadArgumentsError } from '../state/keeper-error.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import type { CreateModeName } from '../state/create-mode.js';
import type { Acl, Stat } from '../state/stat.js';
import type { OpResult } from '../state/tree-view.js';
import type { WatchEvent } from '../state/watch-event.js';
import { ZAB_CLIENT } from './zab.constants.js';
import { ZabElections } from './zab-elections.service.js';

/** Znode data as accepted on input: strings are encoded as UTF-8. */
export type ZnodeData = Buffer | Uint8Array | string;

export interface ZnodeCreateOptions {
  mode?: CreateModeName;
  ttlMs?: number;
  acl?: Acl[];
}

export type CoordinationOp =
  | { op: 'create'; path: string; data?: ZnodeData; mode?: CreateModeName; ttlMs?: number; acl?: Acl[] }
  | { op: 'delete'; path: string; version?: number }
  | { op: 'set'; path: string; data: ZnodeData; version?: number }
  | { op: 'check'; path: string; version: number };

export interface ConfigOptions<T> {
  /** Turns the node's bytes into a value; throwing rejects that update (the last good stays). */
  parse: (data: Buffer) => T;
  /** Emitted while the node does not exist. Without it, a missing node emits nothing. */
  defaultValue?: T;
}

/**
 * The application's view of the coordination service: promise-based ZooKeeper operations with
 * typed errors (`KeeperError` subclasses carrying ZooKeeper's codes), and cold observables over
 * watches. Every observable emits the current state first, then every change in zxid order (the
 * watch and the first read are one atomic step, so nothing is missed in between), removes its
 * watch on unsubscribe, and errors with `SessionExpiredError` when the session ends.
 */
@Injectable()
export class CoordinationService {
  private readonly logger = new Logger('CoordinationService');

  constructor(
    @Inject(ZAB_CLIENT) private readonly client: CoordinationClient,
    @Optional() private readonly elections?: ZabElections,
  ) {}

  /**
   * The `CoordinationClient` under this service (the promise API the recipes and the
   * microservices transport are written against).
   */
  coordinationClient(): CoordinationClient {
    return this.client;
  }

  /** This instance's session id. */
  get sessionId(): bigint {
    return this.client.sessionId;
  }

  /** Creates a node; resolves to its path (with the counter for sequential modes). */
  async create(path: string, data?: ZnodeData, options: ZnodeCreateOptions = {}): Promise<string> {
    const created = await this.client.create(path, toBuffer(data), options);
    return created.path;
  }

  get(path: string): Promise<{ data: Buffer; stat: Stat }> {
    return this.client.getData(path);
  }

  /** Sets the data; with `version`, only if the node still has it (else `BadVersionError`). */
  async set(path: string, data: ZnodeData, options: { version?: number } = {}): Promise<Stat> {
    return this.client.setData(path, toBuffer(data), options.version ?? -1);
  }

  delete(path: string, options: { version?: number } = {}): Promise<void> {
    return this.client.delete(path, options.version ?? -1);
  }

  exists(path: string): Promise<Stat | null> {
    return this.client.exists(path);
  }

  async getChildren(path: string): Promise<string[]> {
    return (await this.client.getChildren(path)).children;
  }

  /** All-or-nothing; a failure rejects with `MultiError` whose `results` give every op's code. */
  async multi(ops: CoordinationOp[]): Promise<OpResult[]> {
    if (!Array.isArray(ops)) {
      throw new BadArgumentsError(ErrorCode.BadArguments, undefined, 'multi takes an array of ops');
    }
    return this.client.multi(ops.map(toMultiOp));
  }

  /** After it resolves, reads see every write committed before the call. */
  sync(path: string): Promise<void> {
    return this.client.sync(path);
  }

  /**
   * ZooKeeper's addAuth for this instance's session: `addAuth('digest', 'user:password')`
   * makes later operations also act as `digest:user:base64(sha1(user:password))` (ACLs, README
   * "ACLs"). Rejects `AuthFailedError` for another scheme or malformed credentials.
   */
  addAuth(scheme: string, auth: ZnodeData): Promise<void> {
    return this.client.addAuth(scheme, typeof auth === 'string' ? auth : Buffer.from(auth));
  }

  /** The node's data and stat, then each change; `null` while the node does not exist. */
  data$(path: string): Observable<{ data: Buffer; stat: Stat } | null> {
    return this.observe(path, 'data', (o) => (o.kind === 'data' ? o.value : undefined));
  }

  /** The node's child names, then each change; `null` while the node does not exist. */
  children$(path: string): Observable<string[] | null> {
    return this.observe(path, 'children', (o) => (o.kind === 'children' ? (o.value?.children ?? null) : undefined));
  }

  /** The node's stat or `null`, then each creation, deletion and data change. */
  exists$(path: string): Observable<Stat | null> {
    return this.observe(path, 'exists', (o) => (o.kind === 'exists' ? o.value : undefined));
  }

  /**
   * Watch events of the node (ZooKeeper's persistent watch), or of the node and every
   * descendant with `recursive` (persistent recursive watch: no childrenChanged events).
   */
  events$(path: string, options: { recursive?: boolean } = {}): Observable<WatchEvent> {
    const kind: ObserveKind = options.recursive === true ? 'recursiveEvents' : 'events';
    return this.observe(path, kind, (o) => (o.kind === 'event' ? o.value : undefined));
  }

  /**
   * Typed live configuration stored in a znode: the parsed value now, then after each change.
   * An update that fails to parse is logged and skipped (the last good value stays).
   */
  config$<T>(path: string, options: ConfigOptions<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      const inner = this.data$(path).subscribe({
        next: (node) => {
          if (node === null) {
            if (options.defaultValue !== undefined) subscriber.next(options.defaultValue);
            return;
          }
          let value: T;
          try {
            value = options.parse(node.data);
          } catch (error) {
            this.logger.warn(
              `config ${path} version ${node.stat.version} rejected: ${(error as Error).message}; keeping the last good value`,
            );
            return;
          }
          subscriber.next(value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => inner.unsubscribe();
    });
  }

  /**
   * Curator's connection states of this instance's session: the current one, then each change
   * (`connected`, `suspended` while the local replica is out of a working quorum,
   * `reconnected`, `lost`); completes after `lost`.
   */
  get connection$(): Observable<ConnectionState> {
    return new Observable<ConnectionState>((subscriber) => {
      subscriber.next(this.client.connectionState);
      if (this.client.connectionState === 'lost') {
        subscriber.complete();
        return undefined;
      }
      return this.client.onConnectionStateChange((state) => {
        subscriber.next(state);
        if (state === 'lost') subscriber.complete();
      });
    });
  }

  /**
   * Whether this instance leads `group`: joins the group's election (once per instance, shared
   * with `@LeaderOnly`), then emits the current value and every change, synchronously with it.
   */
  leadership$(group = 'default', options: { suspendedPolicy?: SuspendedPolicy } = {}): Observable<boolean> {
    return new Observable<boolean>((subscriber) => {
      let stop: (() => void) | undefined;
      let closed = false;
      if (this.elections === undefined) {
        subscriber.error(new Error('leadership$ needs ZabModule\'s ZabElections provider'));
        return undefined;
      }
      this.elections.join(group, options.suspendedPolicy ?? 'lost').then((election) => {
        if (closed) return;
        subscriber.next(election.isLeader);
        stop = election.onLeadershipChange((leading) => subscriber.next(leading));
      }, (error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        stop?.();
      };
    });
  }

  /**
   * The participant id (replica id) of the leader of `group` as this instance sees it, then
   * every change; undefined while nobody leads. Does not join the election.
   */
  leader$(group = 'default'): Observable<string | undefined> {
    return new Observable<string | undefined>((subscriber) => {
      let stop: (() => void) | undefined;
      let closed = false;
      LeaderElection.watchLeader(this.client, group, (id) => subscriber.next(id)).then((off) => {
        if (closed) off();
        else stop = off;
      }, (error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        stop?.();
      };
    });
  }

  private observe<T>(path: string, kind: ObserveKind, pick: (o: Observation) => T | undefined): Observable<T> {
    return new Observable<T>((subscriber) => {
      let stop: (() => void) | undefined;
      let closed = false;
      const stopOnEnd = this.client.onSessionEnd((state) => {
        subscriber.error(keeperError(ErrorCode.SessionExpired, path,
          state === 'expired' ? 'the session has expired' : 'the session was closed'));
      });
      this.client
        .observe(path, kind, (observation) => {
          const value = pick(observation);
          if (value !== undefined && !subscriber.closed) subscriber.next(value);
        })
        .then(
          (unsubscribe) => {
            if (closed) unsubscribe();
            else stop = unsubscribe;
          },
          (error: unknown) => subscriber.error(error),
        );
      return () => {
        closed = true;
        stopOnEnd();
        stop?.();
      };
    });
  }
}

export function toBuffer(data: ZnodeData | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new BadArgumentsError(ErrorCode.BadArguments, undefined, 'data must be a Buffer, a Uint8Array or a string');
}

function toMultiOp(op: CoordinationOp): MultiOp {
  switch (op.op) {
    case 'create':
      return { ...op, data: toBuffer(op.data) };
    case 'set':
      return { op: 'setData', path: op.path, data: toBuffer(op.data), ...(op.version === undefined ? {} : { version: op.version }) };
    case 'delete':
    case 'check':
      return op;
    default:
      throw new BadArgumentsError(ErrorCode.BadArguments, undefined,
        `unknown multi op ${JSON.stringify((op as { op: unknown }).op)}; use create, set, delete or check`);
  }
}
