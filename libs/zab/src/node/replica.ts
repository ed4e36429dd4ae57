/**
 * The standalone replica driver: the only code of the write path that awaits, sets timers and
 * touches storage. A single voting member (the embedded default) is its own quorum, so the
 * Zab phases reduce to: prepare (leader) -> append -> group-commit fsync -> apply -> reply.
 *
 * Ordering contract, for every write:
 *   1. `RequestPreparer.prepare` validates against the committed tree plus the outstanding
 *      changes of earlier, not yet durable writes, and assigns the next zxid.
 *   2. The encoded txn is appended to the log buffer (no I/O).
 *   3. One `flush()` (write + fdatasync) makes a whole batch durable (group commit).
 *   4. Only then is each txn of the batch applied to the tree, in zxid order, its watch events
 *      dispatched, and its caller answered. So no read and no watch ever sees a write that is
 *      not durable, and every acknowledged write survives a crash.
 * A failed write or fsync fail-stops the replica: pending and later writes reject with
 * `ReplicaStoppedError`; nothing is retried. A broken invariant in apply does the same.
 */
import { epochOf, makeZxid, counterOf, type SessionId, type Zxid, ZXID_COUNTER_MAX } from '../core/ids.js';
import { InvariantViolation } from '../util/assert.js';
import { DataTree } from '../state/data-tree.js';
import { SnapshotDecodeError } from '../state/snapshot-error.js';
import { RequestPreparer } from '../state/request-preparer.js';
import { SessionTracker } from '../state/session-tracker.js';
import { WatchRegistry } from '../state/watch-registry.js';
import { encodeTxn, decodeTxn } from '../state/txn-codec.js';
import type { WriteRequest } from '../state/request.js';
import type { Txn } from '../state/txn.js';
import type { ApplyResult } from '../state/tree-view.js';
import type { WatchEvent } from '../state/watch-event.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import type { ReplicaStorage } from '../storage/storage.js';
import { StorageFailedError } from '../storage/storage-errors.js';
import { openFileStorage, openMemoryStorage } from '../storage/index.js';
import {
  resolveReplicaOptions,
  type ReplicaOptions,
  type ReplicaOptionsInput,
} from './replica-options.js';
import { ReplicaStoppedError, RecoveryError } from './replica-errors.js';
import { systemClock, type Clock } from './clock.js';
import { SnapshotTaker } from './snapshot-taker.js';
import { SessionEvents } from './session-events.js';
import { LatencyCounter, ZAB_VERSION, type ReplicaStatus } from './replica-status.js';
import { SessionAuth, sessionGone } from './session-auth.js';

export interface ReplicaLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Something that holds watches: an in-process session, later a wire connection. */
export interface ReplicaWatcher {
  /** Called synchronously right after the txn is applied: the tree shows its effect. */
  notify(event: WatchEvent): void;
}

/** What the driver is wired to; each defaults to the real thing. */
export interface ReplicaPorts {
  logger?: ReplicaLogger;
  clock?: Clock;
  /** Storage to use instead of the one `dataDir` names (fault injection in tests). */
  storage?: ReplicaStorage;
}

export type ReplicaState = 'serving' | 'closing' | 'closed' | 'failed';

interface PendingWrite {
  txn: Txn;
  resolve: (result: CommittedResult) => void;
  reject: (error: Error) => void;
  /** Monotonic time of submit, for the latency counter. */
  submittedMs: number;
}

export interface CommittedResult extends ApplyResult {
  zxid: Zxid;
  sessionId: SessionId;
}

const SILENT_LOGGER: ReplicaLogger = { log() {}, warn() {}, error() {} };

export class Replica {
  readonly tree: DataTree;
  readonly watches = new WatchRegistry<ReplicaWatcher>();
  private readonly preparer: RequestPreparer;
  private readonly tracker: SessionTracker;
  private readonly snapshots: SnapshotTaker;
  private epoch: number;
  private counter: number;
  private pending: PendingWrite[] = [];
  private draining = false;
  private stateValue: ReplicaState = 'serving';
  private failure: Error | undefined;
  private readonly barriers: Array<{ zxid: Zxid; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly failureListeners = new Set<(error: Error) => void>();
  private readonly sessionEvents: SessionEvents;
  /** addAuth identities of the sessions served here (forgotten when a session ends). */
  private readonly auth: SessionAuth;
  private readonly timers: NodeJS.Timeout[] = [];
  private closePromise: Promise<void> | undefined;
  // Operator counters (read by status()); they never influence the write path.
  private proposalCount = 0;
  private commitCount = 0;
  private readonly latency = new LatencyCounter();
  private readonly startedMs: number;

  private constructor(
    readonly options: ReplicaOptions,
    private readonly storage: ReplicaStorage,
    tree: DataTree,
    epoch: number,
    private readonly logger: ReplicaLogger,
    private readonly clock: Clock,
  ) {
    this.tree = tree;
    this.epoch = epoch;
    this.counter = 0;
    this.preparer = new RequestPreparer(tree, { dataBytesMax: options.dataBytesMax });
    this.tracker = new SessionTracker({
      tickMs: options.tickMs,
      minSessionTimeoutMs: options.minSessionTimeoutMs,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs,
    });
    this.sessionEvents = new SessionEvents(this.tracker, this.watches, clock, logger);
    this.auth = new SessionAuth({ superDigest: options.superDigest });
    this.sessionEvents.onSessionEnd((sessionId) => this.auth.forget(sessionId));
    const now = clock.monotonicMs();
    for (const { sessionId, timeoutMs } of tree.sessions()) this.tracker.add(sessionId, timeoutMs, now);
    this.snapshots = new SnapshotTaker(tree, storage, options, logger, (error) => this.failStop(error));
    this.startedMs = now;
  }

  /**
   * Opens (or creates) the data directory, recovers the newest valid snapshot plus the log
   * after it, starts a new epoch and serves. Rejects with a clear error when the directory is
   * unusable or its data is corrupt before the tail.
   */
  static async open(input?: ReplicaOptionsInput, ports: ReplicaPorts = {}): Promise<Replica> {
    const options = resolveReplicaOptions(input);
    const logger = ports.logger ?? SILENT_LOGGER;
    const clock = ports.clock ?? systemClock;
    const storage =
      ports.storage ??
      (options.dataDir === ':memory:'
        ? openMemoryStorage()
        : await openFileStorage(options.dataDir, {
            warn: (message: string) => logger.warn(message),
            segmentBytesMax: options.logSegmentBytesMax,
          }));
    try {
      const started = clock.monotonicMs();
      const tree = await recoverTree(storage, logger);
      const epoch = Math.max(storage.epochs.currentEpoch, epochOf(tree.lastZxid)) + 1;
      await storage.epochs.setAcceptedEpoch(epoch);
      await storage.epochs.setCurrentEpoch(epoch);
      const replica = new Replica(options, storage, tree, epoch, logger, clock);
      replica.startTimers();
      logger.log(
        `replica serving: ${tree.nodeCount} znodes, last zxid 0x${tree.lastZxid.toString(16)}, ` +
          `epoch ${epoch}, recovered in ${Math.round(clock.monotonicMs() - started)} ms ` +
          `(dataDir ${options.dataDir})`,
      );
      return replica;
    } catch (error) {
      await storage.close().catch(() => undefined);
      throw error;
    }
  }

  get state(): ReplicaState {
    return this.stateValue;
  }

  get lastZxid(): Zxid {
    return this.tree.lastZxid;
  }

  /** Why the replica stopped, once it has failed. */
  get failureCause(): Error | undefined {
    return this.failure;
  }

  negotiateSessionTimeout(requestedMs: number): number {
    return this.tracker.negotiate(requestedMs);
  }

  /**
   * Proposes one write on behalf of `sessionId` (0n for internal requests). Resolves once the
   * txn is durable and applied, with the apply result (which may carry a ZooKeeper error code:
   * the caller decides how to surface it).
   */
  submit(
    sessionId: SessionId,
    cxid: number,
    request: WriteRequest,
    internal = false,
  ): Promise<CommittedResult> {
    if (this.stateValue !== 'serving') return Promise.reject(this.stoppedError());
    // Internal requests (session closes and expiries, container and TTL deletions) are never
    // throttled: dropping one would leave a dead session's ephemerals behind for good.
    if (!internal && this.pending.length >= this.options.pendingWritesMax) {
      return Promise.reject(
        new KeeperError(ErrorCode.ThrottledOp, undefined,
          `more than pendingWritesMax (${this.options.pendingWritesMax}) writes in flight`),
      );
    }
    const zxid = this.nextZxid();
    const header = {
      sessionId: request.op === 'createSession' ? zxid : sessionId,
      cxid,
      zxid,
      time: this.clock.wallMs(),
    };
    let txn: Txn;
    try {
      txn = this.preparer.prepare(request, header, this.auth.identitiesOf(sessionId));
      this.storage.log.append(zxid, encodeTxn(txn));
    } catch (error) {
      this.failStop(error as Error);
      return Promise.reject(this.stoppedError());
    }
    this.proposalCount += 1;
    const submittedMs = this.clock.monotonicMs();
    return new Promise<CommittedResult>((resolve, reject) => {
      this.pending.push({ txn, resolve, reject, submittedMs });
      this.kick();
    });
  }

  /** Creates a session; `local` sessions belong to this process and live as long as it does. */
  async createSession(requestedTimeoutMs: number, local: boolean): Promise<{ sessionId: SessionId; timeoutMs: number }> {
    const timeoutMs = this.tracker.negotiate(requestedTimeoutMs);
    const result = await this.submit(0n, 0, { op: 'createSession', timeoutMs });
    if (result.code !== ErrorCode.Ok) throw new KeeperError(result.code);
    if (local) this.sessionEvents.localSessions.add(result.sessionId);
    return { sessionId: result.sessionId, timeoutMs };
  }

  /** Records session activity (ZooKeeper's touch); false if the session is gone or expiring. */
  touchSession(sessionId: SessionId): boolean {
    return this.tracker.touch(sessionId, this.clock.monotonicMs());
  }

  async closeSession(sessionId: SessionId): Promise<void> {
    this.sessionEvents.localSessions.delete(sessionId);
    if (!this.tree.hasSession(sessionId)) return;
    await this.submit(sessionId, 0, { op: 'closeSession' }, true);
  }

  /** Takes a snapshot now (operators, tests); resolves once it is durable and published. */
  takeSnapshot(): Promise<void> {
    if (this.stateValue !== 'serving') return Promise.reject(this.stoppedError());
    return this.snapshots.takeNow().catch((error: Error) => {
      this.failStop(error);
      throw this.stoppedError();
    });
  }

  /** Snapshots this process has written. */
  get snapshotsTaken(): number {
    return this.snapshots.taken;
  }

  /** What `srvr` and `mntr` report, built now from counters (read-only, cheap). */
  status(): ReplicaStatus {
    const ephemeralsCount = this.tree.ephemeralCount;
    const failed = this.stateValue === 'failed';
    return {
      version: ZAB_VERSION,
      serverId: this.options.id,
      role: this.options.role,
      mode: 'standalone',
      state: this.stateValue,
      failure: this.failure?.message,
      established: this.stateValue === 'serving',
      leaderId: this.options.id,
      commitLagTxns: 0,
      epoch: this.epoch,
      lastZxid: this.tree.lastZxid,
      digest: this.tree.digest(),
      znodeCount: this.tree.nodeCount,
      sessionCount: this.tracker.size,
      watchCount: this.watches.watchCount,
      ephemeralsCount,
      outstandingRequests: failed ? 0 : this.proposalCount - this.commitCount,
      proposalCount: this.proposalCount,
      commitCount: this.commitCount,
      snapshotsTaken: this.snapshots.taken,
      latency: this.latency.summary(),
      followers: 0,
      syncedFollowers: 0,
      pendingSyncs: 0,
      ensembleSize: this.options.ensemble?.length ?? 1,
      uptimeMs: Math.round(this.clock.monotonicMs() - this.startedMs),
    };
  }

  /** Resolves once every write submitted before this call has been applied. */
  barrier(): Promise<void> {
    if (this.stateValue === 'failed') return Promise.reject(this.stoppedError());
    const zxid = makeZxid(this.epoch, this.counter);
    if (this.tree.lastZxid >= zxid || this.counter === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.barriers.push({ zxid, resolve, reject }));
  }

  onSessionEnd(listener: (sessionId: SessionId, state: 'expired' | 'closed') => void): () => void {
    return this.sessionEvents.onSessionEnd(listener);
  }

  onFailure(listener: (error: Error) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Waits for in-flight writes and snapshots, then releases the storage. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  private async closeOnce(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    if (this.stateValue === 'serving') {
      this.stateValue = 'closing';
      while (this.draining || this.pending.length > 0) await this.barrierForClose();
    }
    await this.snapshots.settle();
    await this.storage.close();
    if (this.stateValue !== 'failed') this.stateValue = 'closed';
    // Clients of this process learn that their sessions are gone with the replica.
    for (const { sessionId } of this.tree.sessions()) this.sessionEvents.endSession(sessionId, 'closed');
  }

  private barrierForClose(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  private nextZxid(): Zxid {
    if (this.counter >= Number(ZXID_COUNTER_MAX) - 1) {
      // ZOOKEEPER-1277: the counter must never wrap; a single voter simply opens a new epoch.
      this.epoch += 1;
      this.counter = 0;
      const epoch = this.epoch;
      void this.storage.epochs.setAcceptedEpoch(epoch)
        .then(() => this.storage.epochs.setCurrentEpoch(epoch))
        .catch((error: Error) => this.failStop(error));
    }
    this.counter += 1;
    return makeZxid(this.epoch, this.counter);
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    queueMicrotask(() => void this.drain());
  }

  /** Group commit: one flush for everything appended since the previous one, then apply. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0 && this.stateValue !== 'failed') {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.storage.log.flush();
      } catch (error) {
        this.failStop(error as Error, batch);
        break;
      }
      if (!this.applyBatch(batch)) break;
    }
    this.draining = false;
  }

  private applyBatch(batch: PendingWrite[]): boolean {
    const appliedMs = this.clock.monotonicMs();
    for (let i = 0; i < batch.length; i++) {
      const write = batch[i]!;
      let result: ApplyResult;
      try {
        result = this.tree.apply(write.txn);
        this.preparer.committed(write.txn.header.zxid);
        this.sessionEvents.afterApply(write.txn, result);
      } catch (error) {
        this.failStop(error as Error, batch.slice(i));
        return false;
      }
      this.commitCount += 1;
      this.latency.add(appliedMs - write.submittedMs);
      write.resolve({ ...result, zxid: write.txn.header.zxid, sessionId: write.txn.header.sessionId });
    }
    this.releaseBarriers();
    this.snapshots.afterApply(batch.length);
    return true;
  }



  /** See `ClientReplica.addAuth`: SessionExpired for a session that is not live. */
  addAuth(sessionId: SessionId, scheme: string, auth: Buffer): void {
    if (!this.tree.hasSession(sessionId)) throw sessionGone(sessionId);
    this.auth.addAuth(sessionId, scheme, auth);
  }

  /** See `ClientReplica.checkPermission`. */
  checkPermission(sessionId: SessionId, path: string, permission: number): void {
    this.auth.check(sessionId, this.tree.aclOfNode(path), permission, path);
  }

  /** Logs an error thrown by application code called back by the replica or its clients. */
  reportListenerError(error: unknown): void {
    this.sessionEvents.reportListenerError(error);
  }

  private releaseBarriers(): void {
    const applied = this.tree.lastZxid;
    while (this.barriers.length > 0 && this.barriers[0]!.zxid <= applied) this.barriers.shift()!.resolve();
  }

  private startTimers(): void {
    const checkMs = Math.max(5, Math.floor(this.options.tickMs / 2));
    const sessions = setInterval(() => this.expireSessions(), checkMs);
    const containers = setInterval(() => this.sweepContainers(), this.options.containerCheckIntervalMs);
    sessions.unref();
    containers.unref();
    this.timers.push(sessions, containers);
  }

  /**
   * Leader duty: close sessions whose deadline passed. Sessions of this process are alive as
   * long as the process is, so they are touched first (a stalled event loop delays both the
   * client's heartbeat and this check; the stall must not expire our own session).
   */
  expireSessions(): void {
    if (this.stateValue !== 'serving') return;
    const now = this.clock.monotonicMs();
    for (const sessionId of this.sessionEvents.localSessions) this.tracker.touch(sessionId, now);
    for (const sessionId of this.tracker.expired(now)) {
      this.sessionEvents.expiring.add(sessionId);
      this.logger.log(`session 0x${sessionId.toString(16)} expired`);
      // The close is issued on the session's behalf, as ZooKeeper logs it.
      this.submit(sessionId, 0, { op: 'closeSession' }, true).catch(() => undefined);
    }
  }

  /** Leader duty: delete empty containers and expired TTL nodes (ZooKeeper's ContainerManager). */
  sweepContainers(): void {
    if (this.stateValue !== 'serving') return;
    const limit = this.options.containerDeletesPerCheckMax;
    for (const path of this.tree.containerCandidates(limit)) {
      this.submit(0n, 0, { op: 'deleteContainer', path }, true).catch(() => undefined);
    }
    for (const path of this.tree.expiredTtlCandidates(this.clock.wallMs(), limit)) {
      this.submit(0n, 0, { op: 'deleteExpiredTtl', path }, true).catch(() => undefined);
    }
  }

  private failStop(error: Error, unanswered: PendingWrite[] = []): void {
    if (this.stateValue === 'failed') return;
    this.stateValue = 'failed';
    this.failure = error;
    const kind =
      error instanceof InvariantViolation ? 'broken invariant'
        : error instanceof StorageFailedError ? 'storage failure' : 'unexpected error';
    this.logger.error(`replica stopped accepting writes (${kind}): ${error.message}`);
    for (const timer of this.timers) clearInterval(timer);
    const stopped = this.stoppedError();
    for (const write of [...unanswered, ...this.pending]) write.reject(stopped);
    this.pending = [];
    for (const barrier of this.barriers.splice(0)) barrier.reject(stopped);
    for (const listener of this.failureListeners) {
      try {
        listener(error);
      } catch (thrown) {
        this.reportListenerError(thrown);
      }
    }
  }

  private stoppedError(): Error {
    if (this.stateValue === 'failed') return new ReplicaStoppedError(this.failure);
    return new ReplicaStoppedError(undefined, `replica is ${this.stateValue}`);
  }
}

/**
 * Newest snapshot that verifies and decodes (an older one when it does not: a corrupt or
 * undecodable newest snapshot is skipped with a warning), then every log record after it, in
 * order and without a gap: a missing record anywhere (a lost segment, say) stops the start
 * rather than silently dropping acknowledged writes.
 */
async function recoverTree(storage: ReplicaStorage, logger: ReplicaLogger): Promise<DataTree> {
  const tree = await loadNewestSnapshot(storage, logger);
  let replayed = 0;
  for await (const record of storage.log.read(tree.lastZxid)) {
    const txn = decodeTxn(record.payload);
    if (txn.header.zxid !== record.zxid) {
      throw new RecoveryError(`log record 0x${record.zxid.toString(16)} holds txn 0x${txn.header.zxid.toString(16)}`);
    }
    if (!continues(tree.lastZxid, record.zxid)) {
      throw new RecoveryError(
        `the log has a gap: after 0x${tree.lastZxid.toString(16)} it resumes at ` +
          `0x${record.zxid.toString(16)}; transactions in between are missing (a log segment ` +
          'was lost or deleted); restore the data directory from a backup',
      );
    }
    tree.apply(txn);
    replayed += 1;
  }
  if (replayed > 0) logger.log(`replayed ${replayed} transactions from the log`);
  return tree;
}

export async function loadNewestSnapshot(storage: ReplicaStorage, logger: ReplicaLogger): Promise<DataTree> {
  const snapshots = await storage.snapshots.list();
  for (const info of snapshots.reverse()) {
    const body = await storage.snapshots.load(info);
    if (body === null) continue;
    try {
      const tree = DataTree.fromSnapshot(body);
      logger.log(`loaded ${info.name} (${tree.nodeCount} znodes)`);
      return tree;
    } catch (error) {
      if (!(error instanceof SnapshotDecodeError)) throw error;
      logger.warn(`snapshot ${info.name} does not decode (${error.message}); trying an older one`);
    }
  }
  return new DataTree();
}

/** True when `next` may directly follow `last`: the next counter, or the first of a later epoch. */
export function continues(last: Zxid, next: Zxid): boolean {
  if (epochOf(next) === epochOf(last)) return counterOf(next) === counterOf(last) + 1;
  return epochOf(next) > epochOf(last) && counterOf(next) === 1;
}
