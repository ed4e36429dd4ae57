/**
 * What every recipe shares: bounded, abortable waits that also end when the session is lost
 * (`WaitScope`), the holder side of ownership (`Ownership`: an AbortSignal that fires when the
 * session is lost, or suspended under the default policy), sequential-node ordering, and
 * creating a node together with its missing parents (containers, so the leader removes them
 * once empty, as Curator's `creatingParentContainersIfNeeded`), and the handling of a
 * connection loss while the session lives (bounded retries of idempotent calls; protected
 * sequential creates, found again by a random marker in their name).
 * Only the `CoordinationClient` interface is used, so recipes run on any backend.
 */
import { randomUUID } from 'node:crypto';
import type { CoordinationClient, CreateOptions, WatchListener } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError, keeperError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import type { WatchEvent } from '../state/watch-event.js';
import { RecipeTimeoutError, sessionLostError } from './recipe-errors.js';

/** Options of every wait: an upper bound and a cancellation signal. */
export interface WaitOptions {
  /** Rejects with `RecipeTimeoutError` after this many ms; no bound when absent. */
  timeoutMs?: number;
  /** Rejects with `signal.reason` when it fires. */
  signal?: AbortSignal;
}

/**
 * What a holder (lock, lease, member, leadership) does when the connection is `suspended`:
 * `'lost'` (default, Curator's advice) gives ownership up at once; `'keep'` keeps it until
 * `lost`. One definition for every recipe (lock-errors.ts).
 */
import type { SuspendedPolicy } from './lock-errors.js';
export type { SuspendedPolicy };

export function isKeeperCode(error: unknown, code: number): boolean {
  return error instanceof KeeperError && error.code === code;
}

function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs === undefined) return;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw keeperError(ErrorCode.BadArguments, undefined, `timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`);
  }
}

/**
 * One bounded wait. `race(p)` settles like `p` unless the wait fails first: timeout, abort, or
 * session lost. `dispose()` must be called when the wait is over (use try/finally).
 * Recipes race only reads and watch events, never their writes: a write that completes after
 * the wait failed would leave an orphan node (or drop a consumed item), so writes are
 * awaited, then `check()` decides, and the recipe undoes what it created.
 */
export class WaitScope {
  private readonly failure: Promise<never>;
  private failedWith: { error: unknown } | undefined;
  private reject!: (error: unknown) => void;
  private readonly cleanups: Array<() => void> = [];

  /**
   * `once`: a try without waiting (Curator's `acquire(0, …)`): `beforeWait()` rejects with a
   * `RecipeTimeoutError` of 0 ms where the recipe would start to wait.
   */
  constructor(client: CoordinationClient, options: WaitOptions, private readonly what: string,
    private readonly path?: string, private readonly once = false) {
    checkTimeout(options.timeoutMs);
    this.failure = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    this.failure.catch(() => undefined);
    this.watchSignal(options.signal);
    if (options.timeoutMs !== undefined) {
      const timeoutMs = options.timeoutMs;
      const timer = setTimeout(() => this.fail(new RecipeTimeoutError(what, timeoutMs, path)), timeoutMs);
      this.cleanups.push(() => clearTimeout(timer));
    }
    if (client.connectionState === 'lost') this.fail(sessionLostError(lostState(client), path));
    this.cleanups.push(client.onConnectionStateChange((state) => {
      if (state === 'lost') this.fail(sessionLostError(lostState(client), path));
    }));
  }

  /** Throws at once if the wait has already failed. */
  check(): void {
    if (this.failedWith !== undefined) throw this.failedWith.error;
  }

  /** Called where the recipe starts to wait: fails a try (`once`) instead. */
  beforeWait(): void {
    if (this.once) throw new RecipeTimeoutError(this.what, 0, this.path);
  }

  race<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => undefined);
    return Promise.race([promise, this.failure]);
  }

  dispose(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private watchSignal(signal: AbortSignal | undefined): void {
    if (signal === undefined) return;
    if (signal.aborted) {
      this.fail(signal.reason);
      return;
    }
    const onAbort = (): void => this.fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.cleanups.push(() => signal.removeEventListener('abort', onAbort));
  }

  private fail(error: unknown): void {
    if (this.failedWith !== undefined) return;
    this.failedWith = { error };
    this.reject(error);
  }
}

function lostState(client: CoordinationClient): 'expired' | 'closed' | 'lost' {
  return client.state === 'connected' ? 'lost' : client.state;
}

/** A one-shot watch listener with the promise of its event. */
export function watchOnce(): { listener: WatchListener; fired: Promise<WatchEvent> } {
  let listener!: WatchListener;
  const fired = new Promise<WatchEvent>((resolve) => {
    listener = resolve;
  });
  return { listener, fired };
}

/**
 * The holder side of ownership: `signal` aborts when the session is lost (and, under the
 * `'lost'` suspended policy, when it is suspended), with a `KeeperError` as reason.
 */
export class Ownership {
  private readonly controller = new AbortController();
  private readonly unsubscribe: () => void;

  constructor(client: CoordinationClient, policy: SuspendedPolicy, path: string) {
    const onState = (state: string): void => {
      if (state === 'lost') this.lose(sessionLostError(lostState(client), path));
      if (state === 'suspended' && policy === 'lost') {
        this.lose(keeperError(ErrorCode.ConnectionLoss, path, 'the connection was suspended: ownership is doubtful'));
      }
    };
    this.unsubscribe = client.onConnectionStateChange(onState);
    onState(client.connectionState);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isLost(): boolean {
    return this.controller.signal.aborted;
  }

  /** Stops watching the connection (on release). */
  end(): void {
    this.unsubscribe();
  }

  private lose(reason: KeeperError): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.unsubscribe();
  }
}

/** A sequential child: its name and the counter ZooKeeper appended. */
export interface SequentialChild {
  name: string;
  sequence: number;
}

const SEQUENCE_SUFFIX = /(\d{10})$/;

/** Children carrying a sequence suffix, oldest first; others (e.g. a `ready` node) are left out. */
export function sortBySequence(children: readonly string[], prefix = ''): SequentialChild[] {
  const sequential: SequentialChild[] = [];
  for (const name of children) {
    const match = SEQUENCE_SUFFIX.exec(name);
    if (match === null || !name.startsWith(prefix)) continue;
    sequential.push({ name, sequence: Number(match[1]) });
  }
  return sequential.sort((a, b) => a.sequence - b.sequence || (a.name < b.name ? -1 : 1));
}

export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

export function parentOf(path: string): string {
  const index = path.lastIndexOf('/');
  return index <= 0 ? '/' : path.slice(0, index);
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Creates `path` (and each missing ancestor, in `mode`); an existing node is fine. */
export async function ensurePath(client: CoordinationClient, path: string, mode: 'container' | 'persistent' = 'container'): Promise<void> {
  if (path === '/') return;
  if ((await client.exists(path)) !== null) return;
  let prefix = '';
  for (const part of path.split('/').slice(1)) {
    prefix = `${prefix}/${part}`;
    try {
      await client.create(prefix, Buffer.alloc(0), { mode });
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NodeExists)) throw error;
    }
  }
}

const CREATE_ATTEMPTS_MAX = 5;

/**
 * Creates a node, first creating missing parents as containers. Retries a bounded number of
 * times because the leader may delete an empty container parent between the two steps.
 */
export async function createWithParents(
  client: CoordinationClient,
  path: string,
  data: Buffer,
  options: CreateOptions,
): Promise<{ path: string; stat: Stat }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.create(path, data, options);
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NoNode) || attempt >= CREATE_ATTEMPTS_MAX) throw error;
      await ensurePath(client, parentOf(path));
    }
  }
}

/**
 * Connection loss with the session still alive (a leader change, a dropped socket): the
 * request's outcome is unknown, the session goes on. Recipes retry only what is idempotent
 * or can be recognised afterwards (protected creates), a bounded number of times.
 */
export function isTransientLoss(client: CoordinationClient, error: unknown): boolean {
  return isKeeperCode(error, ErrorCode.ConnectionLoss) && client.state === 'connected';
}

export const LOSS_RETRIES_MAX = 6;

/** Backoff before retry `attempt` (1-based) after a transient connection loss. */
export function lossBackoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** attempt)));
}

/** Runs an idempotent call, retrying transient connection losses (bounded). */
export async function retryingLoss<T>(client: CoordinationClient, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransientLoss(client, error) || attempt >= LOSS_RETRIES_MAX) throw error;
      await lossBackoff(attempt);
    }
  }
}

/**
 * Curator's protected mode for sequential creates: the node name carries a random id, so
 * after a connection loss (did the create commit?) the recipe syncs, looks for its id among
 * the children, and creates again only if it is absent. Resolves with the node and its stat.
 */
export async function createProtected(
  client: CoordinationClient,
  directory: string,
  prefix: string,
  data: Buffer,
  mode: 'ephemeral_sequential' | 'persistent_sequential',
): Promise<{ path: string; stat: Stat }> {
  const marker = `${prefix}${randomUUID()}-`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createWithParents(client, joinPath(directory, marker), data, { mode });
    } catch (error) {
      if (!isTransientLoss(client, error) || attempt >= LOSS_RETRIES_MAX) throw error;
      await lossBackoff(attempt);
      const found = await findProtected(client, directory, marker);
      if (found !== undefined) return found;
    }
  }
}

/** The protected node named with `marker`, once the replica has caught up (sync). */
export async function findProtected(
  client: CoordinationClient,
  directory: string,
  marker: string,
): Promise<{ path: string; stat: Stat } | undefined> {
  await retryingLoss(client, () => client.sync(directory));
  let children: string[];
  try {
    ({ children } = await retryingLoss(client, () => client.getChildren(directory)));
  } catch (error) {
    // No directory yet (the lost create was the first in it): the create did not commit.
    if (isKeeperCode(error, ErrorCode.NoNode)) return undefined;
    throw error;
  }
  const name = children.find((child) => child.startsWith(marker));
  if (name === undefined) return undefined;
  const path = joinPath(directory, name);
  const stat = await client.exists(path);
  return stat === null ? undefined : { path, stat };
}

/**
 * Deletes a node, ignoring that it is already gone or that the session has ended; a
 * transient connection loss is retried (bounded), so a release is not silently dropped.
 */
export async function deleteQuietly(client: CoordinationClient, path: string): Promise<void> {
  if (client.state !== 'connected') return;
  try {
    await retryingLoss(client, () => client.delete(path));
  } catch (error) {
    if (isKeeperCode(error, ErrorCode.NoNode) || client.state !== 'connected') return;
    throw error;
  }
}

/** Validates a recipe path (absolute, no trailing slash); the client checks the rest. */
export function checkRecipePath(path: string, what: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || (path.length > 1 && path.endsWith('/'))) {
    throw keeperError(ErrorCode.BadArguments, String(path), `${what} path must be absolute without a trailing slash`);
  }
  return path;
}
