/**
 * A fair inter-process mutex (Curator's InterProcessMutex) over the coordination interface.
 *
 * - Queue: each contender creates a protected ephemeral sequential node under
 *   `<root>/<key>` and watches only its predecessor; the head holds the lock. Ownership is the
 *   session's: no TTL to guess, the lock outlives any pause of the holder, and frees itself when
 *   the session ends (its ephemeral node is deleted by the ensemble).
 * - Fencing token: the czxid of the holder's node. A later holder's node was created after
 *   every node ahead of it was (sequence numbers and zxids are assigned by the leader in one
 *   order), so per key each holder's token is strictly greater than every earlier holder's.
 * - Several keys: taken one by one in sorted order. Deadlock-free: a contender waits only for a
 *   key greater than every key it holds, so a cycle in the waits-for graph would need a key
 *   greater than itself.
 * - Loss: the lease's `signal` aborts with `LockLostError` when the connection is `lost`, when
 *   it is `suspended` (default policy; `suspendedPolicy: 'keep'` waits for `lost`), or when the
 *   lock node is deleted. The node stays until `release()` or the session's end, so a holder
 *   that ignores the signal still excludes the others as long as its session lives.
 * - Release is idempotent and never throws after a loss.
 * - Reentrancy (`reentrant: true`): a second acquire on the same `Mutex` object while it holds
 *   the lock returns at once and counts; the lock is released with the last lease.
 */
import type { ConnectionState, CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import { LockLostError, LockTimeoutError, type LockLossReason, type SuspendedPolicy } from './lock-errors.js';
import { checkName, deleteQuietly, joinQueue, queueOrder, waitForChange } from './sequential-queue.js';

export const LOCKS_ROOT = '/zab/locks';
const LOCK_PREFIX = 'lock-';

export interface MutexOptions {
  /** Parent of the per-key lock directories. Default `/zab/locks`. */
  root?: string;
  /** 'lost' (default): a suspended connection aborts the holder; 'keep': only `lost` does. */
  suspendedPolicy?: SuspendedPolicy;
  /** Count acquires on this object instead of queueing again. Default false. */
  reentrant?: boolean;
}

export interface AcquireOptions {
  /** Give up after this long (`LockTimeoutError`); 0 tries once. Default: wait forever. */
  waitMs?: number;
  /** Aborting gives up the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface LockLease {
  readonly keys: readonly string[];
  /** Per key, the czxid of this holder's lock node: strictly increasing across holders. */
  readonly fencingTokens: ReadonlyMap<string, bigint>;
  /** One key: its token. Several: the largest (use `fencingTokens` per resource). */
  readonly fencingToken: bigint;
  /** Aborts with `LockLostError` when the lock can no longer be trusted. */
  readonly signal: AbortSignal;
  /** Idempotent; never throws once the lock is lost. */
  release(): Promise<void>;
}

/** One real hold of the keys (shared by reentrant leases). */
class Holding {
  readonly controller = new AbortController();
  count = 1;
  private readonly offConnection: () => void;
  private ended = false;

  constructor(
    private readonly client: CoordinationClient,
    readonly keys: readonly string[],
    readonly paths: readonly string[],
    readonly fencingTokens: ReadonlyMap<string, bigint>,
    policy: SuspendedPolicy,
  ) {
    this.offConnection = client.onConnectionStateChange((state: ConnectionState) => {
      if (state === 'lost' || (state === 'suspended' && policy === 'lost')) this.lose(state);
    });
    if (client.connectionState === 'lost') this.lose('lost');
    else if (client.connectionState === 'suspended' && policy === 'lost') this.lose('suspended');
    for (const path of paths) this.watchNode(path);
  }

  lose(reason: LockLossReason): void {
    if (this.ended || this.controller.signal.aborted) return;
    this.controller.abort(new LockLostError(this.keys, reason));
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.offConnection();
    // Deleted in reverse order of taking; a failure of one delete does not keep the others.
    const results = await Promise.allSettled([...this.paths].reverse().map((path) => deleteQuietly(this.client, path)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined && !this.controller.signal.aborted) throw failed.reason;
  }

  /** The lock node deleted by anyone but us (an operator, a session end) loses the lock. */
  private watchNode(path: string): void {
    if (this.ended) return;
    this.client.exists(path, (event) => {
      if (event.type === 'deleted') this.lose('deleted');
      else this.watchNode(path);
    }).then((stat) => {
      if (stat === null) this.lose('deleted');
    }, () => this.lose('lost'));
  }
}

export class Mutex {
  readonly keys: readonly string[];
  private readonly root: string;
  private readonly policy: SuspendedPolicy;
  private readonly reentrant: boolean;
  private holding: Holding | undefined;

  constructor(
    private readonly client: CoordinationClient,
    keys: string | readonly string[],
    options: MutexOptions = {},
  ) {
    const list = typeof keys === 'string' ? [keys] : [...keys];
    if (list.length === 0) throw keeperError(ErrorCode.BadArguments, undefined, 'a lock needs at least one key');
    this.keys = [...new Set(list.map((key) => checkName('lock key', key)))].sort();
    this.root = options.root ?? LOCKS_ROOT;
    this.policy = options.suspendedPolicy ?? 'lost';
    this.reentrant = options.reentrant ?? false;
  }

  /** True while a lease of this object holds the lock. */
  get isHeld(): boolean {
    return this.holding !== undefined;
  }

  /** Waits for the lock (fair: in arrival order); rejects `LockTimeoutError` after `waitMs`. */
  async acquire(options: AcquireOptions = {}): Promise<LockLease> {
    const reused = this.reenter();
    if (reused !== undefined) return reused;
    const waitMs = options.waitMs ?? Number.POSITIVE_INFINITY;
    const deadlineMs = Date.now() + waitMs;
    const paths: string[] = [];
    const tokens = new Map<string, bigint>();
    try {
      for (const key of this.keys) {
        const taken = await this.acquireKey(key, deadlineMs, options.signal);
        if (taken === undefined) throw new LockTimeoutError(this.keys, Number.isFinite(waitMs) ? waitMs : 0);
        paths.push(taken.path);
        tokens.set(key, taken.token);
      }
    } catch (error) {
      await Promise.allSettled(paths.map((path) => deleteQuietly(this.client, path)));
      throw error;
    }
    const holding = new Holding(this.client, this.keys, paths, tokens, this.policy);
    this.holding = holding;
    return this.lease(holding);
  }

  /** Takes the lock only if it is free now; undefined when it is busy. */
  async tryAcquire(): Promise<LockLease | undefined> {
    try {
      return await this.acquire({ waitMs: 0 });
    } catch (error) {
      if (error instanceof LockTimeoutError) return undefined;
      throw error;
    }
  }

  private reenter(): LockLease | undefined {
    const holding = this.holding;
    if (!this.reentrant || holding === undefined || holding.controller.signal.aborted) return undefined;
    holding.count += 1;
    return this.lease(holding);
  }

  private lease(holding: Holding): LockLease {
    let released = false;
    const tokens = holding.fencingTokens;
    return {
      keys: this.keys,
      fencingTokens: tokens,
      fencingToken: [...tokens.values()].reduce((a, b) => (a > b ? a : b)),
      signal: holding.controller.signal,
      release: async () => {
        if (released) return;
        released = true;
        holding.count -= 1;
        if (holding.count > 0) return;
        if (this.holding === holding) this.holding = undefined;
        await holding.end();
      },
    };
  }

  /** Queues for one key; the path and token once at the head, undefined on timeout. */
  private async acquireKey(key: string, deadlineMs: number, signal: AbortSignal | undefined):
    Promise<{ path: string; token: bigint } | undefined> {
    signal?.throwIfAborted();
    const dir = `${this.root}/${key}`;
    const own = await joinQueue(this.client, dir, LOCK_PREFIX, Buffer.alloc(0));
    const ownName = own.path.slice(dir.length + 1);
    try {
      for (;;) {
        const order = queueOrder((await this.client.getChildren(dir)).children, LOCK_PREFIX);
        const index = order.indexOf(ownName);
        if (index < 0) throw keeperError(ErrorCode.NoNode, own.path, 'the lock node vanished while waiting');
        if (index === 0) return { path: own.path, token: own.stat.czxid };
        if (Date.now() >= deadlineMs) break;
        const outcome = await waitForChange(this.client, `${dir}/${order[index - 1]}`, deadlineMs, signal);
        if (outcome === 'aborted') signal!.throwIfAborted();
        if (outcome === 'lost') {
          throw keeperError(ErrorCode.SessionExpired, own.path, 'the session ended while waiting for the lock');
        }
        // 'changed' or 'timeout': look at the queue again (the deadline check follows it).
      }
    } catch (error) {
      await deleteQuietly(this.client, own.path).catch(() => undefined);
      throw error;
    }
    await deleteQuietly(this.client, own.path);
    return undefined;
  }
}
