/**
 * A shared 64-bit counter (Curator's SharedCount and DistributedAtomicLong): the value is
 * an 8-byte big-endian signed integer in one znode, changed only by versioned `setData`, so
 * every change is a linearizable compare-and-set.
 * - `get()` reads value, version and the zxid of the last change;
 * - `trySetCount(previous, next)` (SharedCount) succeeds only if the node still has
 *   `previous.version`;
 * - `compareAndSet(expected, next)` (DistributedAtomicLong) succeeds only if the value is
 *   `expected`; a version race with an equal value is retried (bounded);
 * - `increment(delta)` / `add` retry the CAS until it wins, at most `casAttemptsMax` times
 *   (then `CasRetriesExhaustedError`), syncing before each re-read so a follower's stale
 *   read cannot make it spin;
 * - `subscribe(listener)` reports the current value, then every change (SharedCount's
 *   listener), until unsubscribed or the session ends.
 * A connection loss with the session alive leaves a write's outcome unknown (another client
 * may have written the same value), so it is not retried: it rejects with
 * `ConnectionLossError` and the caller decides (as with DistributedAtomicLong).
 * The node is created on first use with `seedValue` (missing parents as containers).
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import { CasRetriesExhaustedError, sessionLostError } from './recipe-errors.js';
import { checkRecipePath, createWithParents, isKeeperCode } from './recipe-support.js';

export interface VersionedValue {
  value: bigint;
  /** The znode's data version, for `trySetCount`. */
  version: number;
  /** The zxid of the change that wrote this value. */
  zxid: bigint;
}

export interface CasResult {
  succeeded: boolean;
  /** The value seen before the attempt (the current value when it failed). */
  preValue: bigint;
  /** The value after the attempt (unchanged when it failed). */
  postValue: bigint;
  /** The zxid of the successful write, or of the value seen. */
  zxid: bigint;
}

export interface SharedCounterOptions {
  /** Value of the node when it does not exist yet (default 0n). */
  seedValue?: bigint;
  /** Bound on compare-and-set attempts of `increment` and `compareAndSet` (default 100). */
  casAttemptsMax?: number;
}

const VALUE_BYTES = 8;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

export function encodeCount(value: bigint): Buffer {
  if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) {
    throw keeperError(ErrorCode.BadArguments, undefined, `counter values are 64-bit signed bigints, got ${String(value)}`);
  }
  const bytes = Buffer.alloc(VALUE_BYTES);
  bytes.writeBigInt64BE(value);
  return bytes;
}

export function decodeCount(data: Buffer, path: string): bigint {
  if (data.length === 0) return 0n;
  if (data.length !== VALUE_BYTES) {
    throw keeperError(ErrorCode.BadArguments, path, `counter node holds ${data.length} bytes, expected ${VALUE_BYTES}`);
  }
  return data.readBigInt64BE();
}

export class SharedCounter {
  private readonly seedValue: bigint;
  private readonly casAttemptsMax: number;

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    options: SharedCounterOptions = {},
  ) {
    checkRecipePath(path, 'counter');
    this.seedValue = options.seedValue ?? 0n;
    encodeCount(this.seedValue);
    this.casAttemptsMax = options.casAttemptsMax ?? 100;
    if (!Number.isInteger(this.casAttemptsMax) || this.casAttemptsMax < 1) {
      throw keeperError(ErrorCode.BadArguments, path, 'casAttemptsMax must be an integer >= 1');
    }
  }

  async get(): Promise<VersionedValue> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { data, stat } = await this.client.getData(this.path);
        return this.versioned(data, stat);
      } catch (error) {
        if (!isKeeperCode(error, ErrorCode.NoNode) || attempt > 0) throw error;
        await this.createSeed();
      }
    }
  }

  /** Sets `next` if the node's version is still `previous.version`. */
  async trySetCount(previous: VersionedValue, next: bigint): Promise<boolean> {
    const data = encodeCount(next);
    try {
      await this.client.setData(this.path, data, previous.version);
      return true;
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.BadVersion)) return false;
      throw error;
    }
  }

  /** Sets `next` if the value is `expected`. */
  async compareAndSet(expected: bigint, next: bigint): Promise<CasResult> {
    return this.update((current) => (current === expected ? next : undefined));
  }

  /** Adds `delta` (may be negative); resolves with the value before and after. */
  async increment(delta = 1n): Promise<CasResult> {
    encodeCount(delta);
    return this.update((current) => current + delta);
  }

  /**
   * Reports the current value, then each change; returns the unsubscribe. When the session
   * ends, `onError` gets `SessionExpiredError` / `ConnectionLossError` and reports stop.
   */
  async subscribe(listener: (value: VersionedValue) => void, onError?: (error: unknown) => void): Promise<() => void> {
    await this.get();
    const stopOnEnd = this.client.onSessionEnd((state) => onError?.(sessionLostError(state, this.path)));
    const stop = await this.client.observe(this.path, 'data', (observation) => {
      if (observation.kind !== 'data' || observation.value === null) return;
      listener(this.versioned(observation.value.data, observation.value.stat));
    });
    return () => {
      stopOnEnd();
      stop();
    };
  }

  /**
   * The CAS loop: `next(current)` gives the value to write, or undefined to give up (value
   * mismatch). A lost version race re-reads after a `sync` and tries again, bounded.
   */
  private async update(next: (current: bigint) => bigint | undefined): Promise<CasResult> {
    for (let attempt = 1; attempt <= this.casAttemptsMax; attempt++) {
      const current = await this.get();
      const target = next(current.value);
      if (target === undefined) {
        return { succeeded: false, preValue: current.value, postValue: current.value, zxid: current.zxid };
      }
      const data = encodeCount(target);
      try {
        const stat = await this.client.setData(this.path, data, current.version);
        return { succeeded: true, preValue: current.value, postValue: target, zxid: stat.mzxid };
      } catch (error) {
        if (!isKeeperCode(error, ErrorCode.BadVersion)) throw error;
        await this.client.sync(this.path);
      }
    }
    throw new CasRetriesExhaustedError(this.path, this.casAttemptsMax);
  }

  private async createSeed(): Promise<void> {
    try {
      await createWithParents(this.client, this.path, encodeCount(this.seedValue), { mode: 'persistent' });
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NodeExists)) throw error;
    }
  }

  private versioned(data: Buffer, stat: Stat): VersionedValue {
    return { value: decodeCount(data, this.path), version: stat.version, zxid: stat.mzxid };
  }
}
