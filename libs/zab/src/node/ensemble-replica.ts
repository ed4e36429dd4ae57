/**
 * The ensemble driver: runs the pure Zab core (`ZabPeer`) over the TCP peer transport, the
 * replica's storage and the replicated state machine, with the same client surface as the
 * standalone `Replica` (`ClientReplica`), so `LocalCoordinationClient` works on either.
 *
 * Serialisation: every input to the peer (a received message, a tick, a lost connection, a
 * completed fsync, a local or forwarded write, a sync) is queued in `inbox` and run by one
 * pump, which performs each `Ready` in the order ready.ts prescribes and calls `advance()`
 * before it takes the next input, so no input ever lands between `ready()` and `advance()`.
 *
 * Durability, per Ready (ready.ts):
 *   1. the epoch record is written atomically and durably (awaited) before anything else;
 *   2. TRUNC is durable (awaited); a SNAP install publishes the snapshot and empties the log
 *      atomically (awaited; `ReplicaStorage.installSnapshot`, crash-safe at every step);
 *   3. appends go to the log buffer; one group-commit `flush()` runs in the background and
 *      reports `persisted(zxid)` through the inbox when durable (acks wait for it: the core
 *      emits them only after `persisted`);
 *   4. messages are sent after 1 and 2, without waiting for 3;
 *   5. committed txns are applied from the in-memory history in zxid order (only committed
 *      state reaches the tree: at start only the snapshot is applied, the logged txns wait for
 *      a `commitThroughZxid` that covers them);
 *   6. role changes, forwarded writes (after `advance()`), session touches, sync results.
 *
 * Writes: a local write on the leader is prepared (`RequestPreparer`, `peer.nextZxid()`) and
 * proposed; on a learner it is forwarded to the leader. Either way the caller is answered
 * when the txn with its (session id, cxid) is applied here, or fails with ConnectionLoss when
 * leadership is lost, the replica is looking, or `requestTimeoutMs` passes (ZooKeeper's
 * outcome-unknown error: the write may still commit).
 */
import { counterOf, epochOf, type PeerId, type SessionId, type Zxid } from '../core/ids.js';
import type { PeerMessage } from '../core/peer-message.js';
import type { HistoryView, PersistedState, Ready, RoleChange } from '../core/ready.js';
import { DEFAULT_ZAB_TIMING, ZabPeer, type ZabConfig } from '../core/zab-peer.js';
import { DataTree } from '../state/data-tree.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { RequestPreparer } from '../state/request-preparer.js';
import { decodeAuthenticatedRequest, encodeRequest } from '../state/request-codec.js';
import type { AuthId } from '../state/acl.js';
import { SessionAuth, sessionGone } from './session-auth.js';
import type { WriteRequest } from '../state/request.js';
import { SessionTracker } from '../state/session-tracker.js';
import type { ApplyResult } from '../state/tree-view.js';
import { decodeTxn, encodeTxn } from '../state/txn-codec.js';
import type { Txn } from '../state/txn.js';
import { WatchRegistry } from '../state/watch-registry.js';
import type { ReplicaStorage } from '../storage/storage.js';
import { openFileStorage, openMemoryStorage } from '../storage/index.js';
import { decodePeerMessage, encodePeerMessage } from '../transport/peer-message-codec.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { TcpPeerTransport } from '../transport/tcp/tcp-peer-transport.js';
import type { TcpPeerTransportOptions } from '../transport/tcp/tcp-peer-transport-options.js';
import type { ClientReplica } from './client-replica.js';
import { systemClock, type Clock } from './clock.js';
import { ReplicaHistory, type HistoryLimits } from './history-view.js';
import { SnapshotTaker } from './snapshot-taker.js';
import { SessionEvents } from './session-events.js';
import { continues, loadNewestSnapshot, type CommittedResult, type ReplicaLogger,
  type ReplicaWatcher } from './replica.js';
import { ReplicaStoppedError, RecoveryError } from './replica-errors.js';
import { resolveReplicaOptions, type ReplicaOptions, type ReplicaOptionsInput }
  from './replica-options.js';
import { LoopLagGuard } from './loop-lag-guard.js';
import { PendingWrites, type PendingWriteEntry } from './pending-writes.js';
import { NewEnsembleDetector } from './new-ensemble-detector.js';
import { LatencyCounter, ZAB_VERSION, type ReplicaStatus, type ServerMode }
  from './replica-status.js';

export type ZabTiming = Omit<ZabConfig, 'id' | 'voters' | 'observers'>;

/**
 * Zab timing of the ensemble driver, in Zab ticks (`zabTickMs`, default 25 ms): a follower
 * hearing nothing from its leader for syncLimit (10 ticks, 250 ms) returns to election; one
 * whose link to the leader drops (the transport's `disconnected`, e.g. the leader was killed)
 * returns at once. Either way it helps establish another leader only leaseWaitTicks (7, 175 ms)
 * after it last heard from the old one, when that leader's lease (6 ticks after the newest
 * heartbeat a quorum echoed) has ended (leaseTicks + 1 <= leaseWaitTicks, see
 * LeaderPhases.leaseExpiryTick). Discovery and sync get 80 ticks (2 s) since a SNAP or a long
 * DIFF takes longer than a heartbeat; notification resends back off from 4 to 64 ticks
 * (100 ms to 1.6 s) after a finalize wait of 2 (50 ms). The wall times are those of the
 * earlier 50 ms tick (5, 3, 4, 40 ticks), but steps that wait for a tick now wait half as long,
 * and the lease wait is one tick (25 ms) shorter: the tick of misalignment it covers is.
 */
export const ENSEMBLE_ZAB_TIMING: ZabTiming = {
  ...DEFAULT_ZAB_TIMING,
  notificationTimeoutTicks: 4,
  notificationTimeoutMaxTicks: 64,
  finalizeWaitTicks: 2,
  syncLimitTicks: 10,
  leaseTicks: 6,
  leaseWaitTicks: 7,
  initLimitTicks: 80,
};

export interface EnsembleReplicaPorts {
  logger?: ReplicaLogger;
  clock?: Clock;
  /** Storage to use instead of the one `dataDir` names. */
  storage?: ReplicaStorage;
  /** Zab timing in ticks (default DEFAULT_ZAB_TIMING). */
  timing?: Partial<ZabTiming>;
  /** Transport settings besides id, ensemble, secret and queueWhileDisconnected. */
  transport?: Partial<Omit<TcpPeerTransportOptions, 'id' | 'ensemble' | 'secret' |
    'queueWhileDisconnected'>>;
  history?: HistoryLimits;
  /** A local write or sync not answered within this fails with ConnectionLoss. Default 10 s. */
  requestTimeoutMs?: number;
}

export type EnsembleReplicaState = 'serving' | 'closing' | 'closed' | 'failed';

interface PendingWrite extends PendingWriteEntry {
  readonly resolve: (result: CommittedResult) => void;
  readonly reject: (error: Error) => void;
  /** Monotonic ms after which it fails with ConnectionLoss (see `failExpiredWrites`). */
  readonly deadlineMs: number;
  /** Monotonic ms when it was submitted, for the latency `mntr` reports. */
  readonly submittedMs: number;
  /** Proposed or forwarded: its outcome now depends on the current leadership. */
  routed: boolean;
  /**
   * The last logged zxid when the write was submitted: its txn can only come later. A txn at
   * or below it with the same session and cxid is an older write's (tags restart from 0 with
   * the process, and a restarted replica commits txns it logged before the restart).
   */
  readonly afterZxid: Zxid;
}

interface WaitingWrite {
  readonly pending: PendingWrite;
  readonly sessionId: SessionId;
  readonly cxid: number;
  readonly request: WriteRequest;
  /** The session's addAuth identities when the write was taken (checked by the leader). */
  readonly identities: readonly AuthId[];
  /** Fail at once instead of waiting for a leader (a client's own session close). */
  readonly failFast?: boolean;
}

interface PendingSync {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** Handed to the core (`peer.sync`); until then it waits for an established role. */
  routed: boolean;
}

const SILENT_LOGGER: ReplicaLogger = { log() {}, warn() {}, error() {} };
const REQUEST_TIMEOUT_MS_DEFAULT = 10_000;
/** Attempts of a createSession caught in leader changes (see `createSession`). */
const CREATE_SESSION_ATTEMPTS_MAX = 5;
/** Internal (session-less) requests carry a negative cxid unique in the ensemble: a tag. */
const TAG_COUNTER_SPAN = 1 << 20;

function connectionLoss(detail: string): KeeperError {
  return new KeeperError(ErrorCode.ConnectionLoss, undefined, detail);
}

/** Counters for operators and tests; they never influence the protocol. */
export interface EnsembleReplicaStats {
  proposals: number;
  applied: number;
  truncations: number;
  snapshotsInstalled: number;
}

export class EnsembleReplica implements ClientReplica {
  readonly watches = new WatchRegistry<ReplicaWatcher>();
  readonly stats: EnsembleReplicaStats = { proposals: 0, applied: 0, truncations: 0,
    snapshotsInstalled: 0 };
  private treeValue: DataTree;
  private preparer: RequestPreparer;
  /** Periodic snapshots of the committed tree (then purge of old snapshots and log segments). */
  private snapshots: SnapshotTaker;
  private readonly tracker: SessionTracker;
  private readonly peer: ZabPeer;
  private transport: PeerTransport | undefined;
  private inbox: Array<() => void> = [];
  private pumping: Promise<void> | undefined;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  /**
   * Leader: the txns it proposed, in zxid order, not applied yet: applied as prepared instead
   * of decoded again from their bytes (as the standalone `Replica` does). Entries before
   * `proposedHead` are spent. Emptied whenever the preparer is reset or the log is cut.
   */
  private proposed: Array<Txn | undefined> = [];
  private proposedHead = 0;
  /** The last proposal encoded, reused for its other followers (see `encode`). */
  private lastProposal: { zxid: Zxid; txn: Buffer; bytes: Buffer } | undefined;
  /** By the (session id, cxid) of their txn header, by which this replica answers them. */
  private readonly writes = new PendingWrites<PendingWrite>();
  /** Writes taken while no leader could serve them; retried every tick until their timeout. */
  private waiting: WaitingWrite[] = [];
  /**
   * Leader: forwarded writes it could not propose yet (no lease at that moment, e.g. after
   * an event-loop stall), retried every tick; dropped when leadership changes (the learner
   * fails its caller then, or at its timeout).
   */
  private waitingForwarded: Omit<WaitingWrite, 'pending'>[] = [];
  private readonly syncs = new Map<number, PendingSync>();
  private syncCount = 0;
  private tagCount = 0;
  private readonly sessionEvents: SessionEvents;
  /** addAuth identities of the sessions served here (forgotten when a session ends). */
  private readonly auth: SessionAuth;
  private readonly roleListeners = new Set<(change: RoleChange) => void>();
  private readonly failureListeners = new Set<(error: Error) => void>();
  private readonly applyListeners = new Set<() => void>();
  private ticker: NodeJS.Timeout | undefined;
  /** Monotonic ms of the last session duty round (see onTick); they run every `tickMs`. */
  private lastSessionTickMs = Number.NEGATIVE_INFINITY;
  /** When the leader last swept containers and TTL nodes (monotonic ms). */
  private lastContainerSweepMs = 0;
  private stateValue: EnsembleReplicaState = 'serving';
  private failure: Error | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly requestTimeoutMs: number;
  /** Measures this loop's lag on every tick; a leader stalled past its limit steps down. */
  private readonly lagGuard: LoopLagGuard;
  /** Submit-to-answer time of the writes answered here (`srvr`/`mntr` latency). */
  private readonly latency = new LatencyCounter();
  private readonly startedMs: number;
  /** Set while this empty member waits to learn whether the ensemble is new (ZK-261). */
  private newEnsemble: NewEnsembleDetector | undefined;

  private constructor(
    readonly options: ReplicaOptions,
    private readonly storage: ReplicaStorage,
    tree: DataTree,
    private readonly history: ReplicaHistory,
    persisted: PersistedState,
    timing: ZabTiming,
    private readonly logger: ReplicaLogger,
    private readonly clock: Clock,
    requestTimeoutMs: number,
  ) {
    this.treeValue = tree;
    this.preparer = new RequestPreparer(tree, { dataBytesMax: options.dataBytesMax });
    this.snapshots = this.snapshotTakerOf(tree);
    this.tracker = new SessionTracker({ tickMs: options.tickMs,
      minSessionTimeoutMs: options.minSessionTimeoutMs,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs });
    this.sessionEvents = new SessionEvents(this.tracker, this.watches, clock, logger);
    this.auth = new SessionAuth({ superDigest: options.superDigest });
    this.sessionEvents.onSessionEnd((sessionId) => this.auth.forget(sessionId));
    const now = clock.monotonicMs();
    for (const { sessionId, timeoutMs } of tree.sessions()) {
      this.tracker.add(sessionId, timeoutMs, now);
    }
    const members = options.ensemble ?? [];
    const config: ZabConfig = { ...timing, id: options.id,
      voters: members.filter((m) => m.role === 'participant').map((m) => m.id),
      observers: members.filter((m) => m.role === 'observer').map((m) => m.id) };
    const random = { nextInt: (bound: number) => Math.floor(Math.random() * bound) };
    this.peer = new ZabPeer(config, persisted, history as HistoryView, random);
    this.requestTimeoutMs = requestTimeoutMs;
    this.lagGuard = LoopLagGuard.forTiming(options.zabTickMs, timing.syncLimitTicks);
    this.startedMs = now;
  }

  /**
   * Opens the storage, recovers the committed tree (newest snapshot) and the logged txns
   * after it (kept uncommitted in the history), starts the transport and the tick.
   */
  static async open(input: ReplicaOptionsInput, ports: EnsembleReplicaPorts = {}):
    Promise<EnsembleReplica> {
    const options = resolveReplicaOptions(input);
    const logger = ports.logger ?? SILENT_LOGGER;
    const storage = ports.storage ?? (options.dataDir === ':memory:' ? openMemoryStorage()
      : await openFileStorage(options.dataDir, { warn: (m: string) => logger.warn(m),
        segmentBytesMax: options.logSegmentBytesMax }));
    try {
      const tree = await loadNewestSnapshot(storage, logger);
      let replica: EnsembleReplica | undefined;
      const history = new ReplicaHistory(() => replica?.tree ?? tree, tree.lastZxid,
        ports.history);
      await readLogInto(storage, tree.lastZxid, history);
      const { acceptedEpoch, currentEpoch } = storage.epochs;
      const empty = acceptedEpoch === 0 && currentEpoch === 0 && history.lastZxid === 0n;
      const hasData = empty ? options.ensembleState === 'new' : storage.epochs.hasData;
      const persisted = { acceptedEpoch, currentEpoch, hasData,
        lastLoggedZxid: history.lastZxid };
      replica = new EnsembleReplica(options, storage, tree, history,
        persisted, { ...ENSEMBLE_ZAB_TIMING, ...ports.timing }, logger,
        ports.clock ?? systemClock, ports.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT);
      if (empty && options.ensembleState === 'auto') replica.awaitNewEnsemble();
      await replica.start(ports);
      logger.log(`ensemble replica ${options.id} started: snapshot at ` +
        `0x${tree.lastZxid.toString(16)}, ${history.size} logged txns awaiting commit`);
      return replica;
    } catch (error) {
      await storage.close().catch(() => undefined);
      throw error;
    }
  }

  /** ZK-261: this member's directory is empty; it votes only if the ensemble is new. */
  private awaitNewEnsemble(): void {
    const voters = (this.options.ensemble ?? []).filter((m) => m.role === 'participant')
      .map((m) => m.id);
    if (!voters.includes(this.options.id)) return;
    this.newEnsemble = new NewEnsembleDetector(this.options.id, voters);
    this.logger.log(`replica ${this.options.id}: empty data directory: it votes once every ` +
      'other voter is seen empty too (a new ensemble), else after a leader synced it');
  }

  /** Runs as an input after the peer took `message` (see NewEnsembleDetector). */
  private observeForNewEnsemble(from: PeerId, message: PeerMessage): void {
    const detector = this.newEnsemble;
    if (detector === undefined || message.type !== 'notification') return;
    if (this.peer.hasData) {
      this.newEnsemble = undefined; // synced by a leader
      return;
    }
    if (!detector.observe(from, message)) return;
    this.newEnsemble = undefined;
    if (this.peer.startVotingEmpty('every voter is empty: a new ensemble')) {
      this.logger.log(`replica ${this.options.id}: every voter is empty: votes to form a new ` +
        'ensemble');
    }
  }

  private async start(ports: EnsembleReplicaPorts): Promise<void> {
    const members = this.options.ensemble ?? [];
    const transport = await TcpPeerTransport.start({
      ...ports.transport,
      id: this.options.id,
      ensemble: new Map(members.map((m) => [m.id, { host: m.host, port: m.port }])),
      ...(this.options.secret === undefined ? {} : { secret: this.options.secret }),
      // The core needs FIFO links without holes: a lost link drops what was not sent.
      queueWhileDisconnected: false,
    }, { logger: this.logger });
    this.transport = transport;
    transport.onMessage((from, payload) => this.receive(from, payload));
    transport.onPeerState((peer, state) => {
      if (state === 'disconnected') this.input(() => this.peer.connectionLost(peer));
    });
    this.ticker = setInterval(() => {
      // Lag is measured when the timer fires, not when the queued input runs.
      const lagMs = this.lagGuard.note(this.clock.monotonicMs());
      this.failExpiredWrites();
      this.input(() => this.onTick(lagMs));
    }, this.options.zabTickMs);
    this.kick();
  }

  // ---- queries ----

  get tree(): DataTree {
    return this.treeValue;
  }

  get state(): EnsembleReplicaState {
    return this.stateValue;
  }

  get failureCause(): Error | undefined {
    return this.failure;
  }

  get id(): PeerId {
    return this.options.id;
  }

  get role(): RoleChange['role'] {
    return this.peer.role;
  }

  get leader(): PeerId | undefined {
    return this.peer.leader;
  }

  get epoch(): number {
    return this.peer.epoch;
  }

  /** Leader established (NEWLEADER quorum) or learner up to date. */
  get isEstablished(): boolean {
    return this.peer.isEstablished;
  }

  get lastZxid(): Zxid {
    return this.treeValue.lastZxid;
  }

  describeState(): string {
    return this.peer.describeState();
  }

  /**
   * What `srvr`/`mntr` report: latency of the writes submitted here (submit to answer),
   * uptime since open, and on the leader its voting learners, the synced ones (NEWLEADER
   * acked) and the sync() requests awaiting a quorum; 0 on a learner, as in ZooKeeper.
   */
  status(): ReplicaStatus {
    let ephemeralsCount = 0;
    for (const { sessionId } of this.treeValue.sessions()) {
      ephemeralsCount += this.treeValue.getEphemerals(sessionId).length;
    }
    const modes: Record<RoleChange['role'], ServerMode> = { leading: 'leader',
      following: 'follower', observing: 'observer', looking: 'looking' };
    const learners = this.peer.learnerCounts();
    return {
      version: ZAB_VERSION, serverId: this.options.id, role: this.options.role,
      mode: modes[this.peer.role], state: this.stateValue, failure: this.failure?.message,
      established: this.stateValue === 'serving' && this.peer.isEstablished,
      leaderId: this.peer.leader, commitLagTxns: this.commitLagTxns(),
      epoch: this.peer.epoch, lastZxid: this.treeValue.lastZxid,
      digest: this.treeValue.digest(),
      znodeCount: this.treeValue.nodeCount, sessionCount: this.treeValue.sessions().length,
      watchCount: this.watches.watchCount, ephemeralsCount,
      outstandingRequests: this.writes.size, proposalCount: this.stats.proposals,
      commitCount: this.stats.applied, snapshotsTaken: this.snapshots.taken,
      latency: this.latency.summary(),
      followers: learners?.followers ?? 0, syncedFollowers: learners?.syncedFollowers ?? 0,
      pendingSyncs: learners?.pendingSyncs ?? 0,
      ensembleSize: this.options.ensemble?.length ?? 1,
      uptimeMs: this.clock.monotonicMs() - this.startedMs,
    };
  }

  /** Logged txns not yet applied: counted within the applied zxid's epoch, else all logged. */
  private commitLagTxns(): number {
    const logged = this.peer.lastLoggedZxid;
    const applied = this.treeValue.lastZxid;
    if (logged <= applied) return 0;
    if (epochOf(logged) === epochOf(applied)) return counterOf(logged) - counterOf(applied);
    return counterOf(logged);
  }

  /** See `ClientReplica.onQuorumChange`: the `established` edges of the role changes. */
  onQuorumChange(listener: (inQuorum: boolean) => void): () => void {
    let inQuorum = this.peer.isEstablished;
    return this.onRoleChange((change) => {
      if (change.established === inQuorum) return;
      inQuorum = change.established;
      listener(inQuorum);
    });
  }

  /** Calls `listener` for every role change the core reports. Returns unsubscribe. */
  onRoleChange(listener: (change: RoleChange) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  /** Called once if the replica fail-stops (as `Replica.onFailure`; the worker reports it). */
  onFailure(listener: (error: Error) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Calls `listener` after every batch of applied txns. Returns unsubscribe. */
  onApply(listener: () => void): () => void {
    this.applyListeners.add(listener);
    return () => this.applyListeners.delete(listener);
  }

  // ---- ClientReplica ----

  negotiateSessionTimeout(requestedMs: number): number {
    return this.tracker.negotiate(requestedMs);
  }

  /** Internal requests (session closes, expiries) are never throttled, as in `Replica`. */
  submit(sessionId: SessionId, cxid: number, request: WriteRequest, internal = false):
    Promise<CommittedResult> {
    if (!internal && this.writes.size >= this.options.pendingWritesMax) {
      return Promise.reject(new KeeperError(ErrorCode.ThrottledOp, undefined,
        `more than pendingWritesMax (${this.options.pendingWritesMax}) writes in flight`));
    }
    return this.submitWrite(sessionId, cxid, request, false);
  }

  private submitWrite(sessionId: SessionId, cxid: number, request: WriteRequest,
    failFast: boolean): Promise<CommittedResult> {
    if (this.stateValue !== 'serving') return Promise.reject(this.stoppedError());
    // A session-less internal write carries a negative tag unique in the ensemble as cxid;
    // a negative cxid is looked up without its session (see `pendingWriteOf`).
    const tagged = sessionId === 0n ? this.nextTag() : cxid;
    const owner = tagged < 0 ? 0n : sessionId;
    if (this.writes.get(owner, tagged) !== undefined) {
      return Promise.reject(connectionLoss(`a write of session ${sessionId} cxid ${cxid} ` +
        'is already in flight'));
    }
    return new Promise<CommittedResult>((resolve, reject) => {
      const submittedMs = this.clock.monotonicMs();
      const deadlineMs = submittedMs + this.requestTimeoutMs;
      const pending: PendingWrite = { sessionId: owner, cxid: tagged, settled: false, resolve,
        reject, deadlineMs, routed: false, afterZxid: this.peer.lastLoggedZxid, submittedMs };
      this.writes.add(pending);
      const identities = this.auth.identitiesOf(sessionId);
      const write = { pending, sessionId, cxid: tagged, request, identities, failFast };
      // Behind the waiting ones: a session's writes are proposed in the order submitted.
      this.input(() => (this.waiting.length > 0 ? this.waiting.push(write) : this.route(write)));
    });
  }

  /**
   * A createSession caught in a leader change (ConnectionLoss: outcome unknown) is retried,
   * at most CREATE_SESSION_ATTEMPTS_MAX times and while `requestTimeoutMs` since the first
   * attempt has not passed, as a ZooKeeper client keeps connecting: an app starting while
   * the ensemble fails over still gets its session. A session the lost attempt may have
   * created anyway is not local: nobody keeps it alive and it expires after its timeout.
   */
  async createSession(requestedTimeoutMs: number, local: boolean):
    Promise<{ sessionId: SessionId; timeoutMs: number }> {
    const timeoutMs = this.tracker.negotiate(requestedTimeoutMs);
    const deadlineMs = this.clock.monotonicMs() + this.requestTimeoutMs;
    let result: CommittedResult | undefined;
    for (let attempt = 1; result === undefined; attempt++) {
      try {
        result = await this.submit(0n, 0, { op: 'createSession', timeoutMs });
      } catch (error) {
        const lost = error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss;
        if (!lost || attempt >= CREATE_SESSION_ATTEMPTS_MAX ||
          this.clock.monotonicMs() >= deadlineMs) throw error;
        this.logger.warn(`replica ${this.options.id}: createSession attempt ${attempt} ` +
          `failed (${(error as Error).message}); retrying`);
      }
    }
    if (result.code !== ErrorCode.Ok) throw new KeeperError(result.code);
    if (local) this.sessionEvents.localSessions.add(result.sessionId);
    return { sessionId: result.sessionId, timeoutMs };
  }

  /** Session activity: the leader's tracker, or reported to the leader with the next ping. */
  touchSession(sessionId: SessionId): boolean {
    if (!this.treeValue.hasSession(sessionId)) return false;
    if (this.peer.role === 'leading') {
      return this.tracker.touch(sessionId, this.clock.monotonicMs());
    }
    const timeoutMs = this.treeValue.sessionTimeoutMs(sessionId) ?? 0;
    this.input(() => this.peer.touchSession({ sessionId, timeoutMs }));
    return true;
  }

  /**
   * Closes the session through the leader. With no established leader right now (no quorum,
   * e.g. the last member standing shuts down) it does not wait for one: the session is left
   * to expire on whichever leader comes next, as when a ZooKeeper client closes without a
   * connection.
   */
  async closeSession(sessionId: SessionId): Promise<void> {
    this.sessionEvents.localSessions.delete(sessionId);
    if (!this.treeValue.hasSession(sessionId)) return;
    if (!this.peer.isEstablished) {
      this.logger.warn(`session 0x${sessionId.toString(16)} not closed: no leader now; ` +
        'it expires after its timeout');
      return;
    }
    await this.submitWrite(sessionId, 0, { op: 'closeSession' }, true);
  }

  /**
   * Linearizable: a quorum-confirmed sync (`peer.sync`), answered after the local apply. Like
   * a write, a sync waits while there is no established leader (retried at every tick and when
   * one is established) until `requestTimeoutMs`; one already handed to a leader fails with
   * ConnectionLoss when leadership changes.
   */
  barrier(): Promise<void> {
    if (this.stateValue !== 'serving') return Promise.reject(this.stoppedError());
    const syncId = ++this.syncCount;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.finishSync(syncId, false,
        `no leader confirmed it within ${this.requestTimeoutMs} ms`), this.requestTimeoutMs);
      this.syncs.set(syncId, { resolve, reject, timer, routed: false });
      this.input(() => this.routeSync(syncId));
    });
  }

  private routeSync(syncId: number): void {
    const sync = this.syncs.get(syncId);
    if (sync !== undefined && !sync.routed && this.peer.sync(syncId)) sync.routed = true;
  }

  private retryWaitingSyncs(): void {
    for (const [syncId, sync] of [...this.syncs]) {
      if (!sync.routed) this.routeSync(syncId);
    }
  }

  onSessionEnd(listener: (sessionId: SessionId, state: 'expired' | 'closed') => void):
    () => void {
    return this.sessionEvents.onSessionEnd(listener);
  }

  /** See `ClientReplica.addAuth`: SessionExpired for a session that is not live. */
  addAuth(sessionId: SessionId, scheme: string, auth: Buffer): void {
    if (!this.treeValue.hasSession(sessionId)) throw sessionGone(sessionId);
    this.auth.addAuth(sessionId, scheme, auth);
  }

  /** See `ClientReplica.checkPermission` (against this replica's committed tree). */
  checkPermission(sessionId: SessionId, path: string, permission: number): void {
    this.auth.check(sessionId, this.treeValue.aclOfNode(path), permission, path);
  }

  reportListenerError(error: unknown): void {
    this.sessionEvents.reportListenerError(error);
  }

  // ---- the pump ----

  private input(run: () => void): void {
    // Closing: no more inputs, so the pump settles and the storage can be closed under it.
    if (this.stateValue !== 'serving') return;
    this.inbox.push(run);
    this.kick();
  }

  private kick(): void {
    if (this.pumping !== undefined) return;
    this.pumping = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.pump())
      .catch((error: Error) => this.failStop(error))
      .finally(() => {
        this.pumping = undefined;
        if (this.inbox.length > 0 && this.stateValue === 'serving') this.kick();
      });
  }

  /** Inputs, then each Ready performed and advanced before the next input (ready.ts). */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.stateValue === 'failed') return;
      const inputs = this.inbox;
      this.inbox = [];
      for (const run of inputs) run();
      if (!this.peer.hasReady()) {
        if (this.inbox.length === 0) return;
        continue;
      }
      const ready = this.peer.ready();
      // Steps 1-2 need awaited I/O; without them the Ready is performed synchronously, so the
      // Readys of one pump share a turn: their sends leave in one write per link.
      if (ready.epochWrite !== undefined || ready.truncateAfterZxid !== undefined ||
        ready.installSnapshot !== undefined) {
        await this.performDurableSteps(ready);
      }
      this.perform(ready);
      this.peer.advance();
      // Inputs only after advance: the leader prepares and proposes forwarded writes now.
      for (const request of ready.requests) {
        this.proposeForwarded(request.sessionId, request.cxid, request.bytes, request.from);
      }
    }
  }

  /** Ready steps 1 and 2 (ready.ts): the epoch record, then TRUNC or a snapshot install. */
  private async performDurableSteps(ready: Ready): Promise<void> {
    if (ready.epochWrite !== undefined) await this.storage.epochs.setEpochs(ready.epochWrite);
    if (ready.truncateAfterZxid !== undefined) await this.truncate(ready.truncateAfterZxid);
    if (ready.installSnapshot !== undefined) await this.installSnapshot(ready.installSnapshot);
  }

  /** Ready steps 3-6, after `performDurableSteps`. */
  private perform(ready: Ready): void {
    for (const logged of ready.append) {
      this.storage.log.append(logged.zxid, logged.txn);
      this.history.append(logged);
    }
    if (ready.append.length > 0 || ready.installSnapshot !== undefined) this.scheduleFlush();
    for (const { to, message } of ready.messages) this.send(to, message);
    if (ready.commitThroughZxid !== undefined) this.applyThrough(ready.commitThroughZxid);
    for (const change of ready.roleChanges) this.onRole(change);
    const now = this.clock.monotonicMs();
    if (ready.resetSessions) this.tracker.resetAll(now);
    for (const touch of ready.sessionTouches) this.tracker.touch(touch.sessionId, now);
    for (const { syncId, ok } of ready.syncResults) {
      this.finishSync(syncId, ok, 'the leader did not confirm it');
    }
  }

  private send(to: PeerId, message: PeerMessage): void {
    // A dropped send needs nothing here: the link is down and the core hears connectionLost.
    this.transport?.send(to, this.encode(message));
  }

  /**
   * The core sends a proposal to each follower as its own message with the same txn: encode
   * it once (the transport never writes into a payload it was given).
   */
  private encode(message: PeerMessage): Buffer {
    if (message.type !== 'proposal') return encodePeerMessage(message);
    const last = this.lastProposal;
    if (last !== undefined && last.txn === message.txn && last.zxid === message.zxid) {
      return last.bytes;
    }
    const bytes = encodePeerMessage(message);
    this.lastProposal = { zxid: message.zxid, txn: message.txn, bytes };
    return bytes;
  }

  private receive(from: PeerId, payload: Buffer): void {
    let message: PeerMessage;
    try {
      message = decodePeerMessage(payload);
    } catch (error) {
      // Skipping one message would leave a hole in the channel: treat the link as broken.
      this.logger.warn(`undecodable message from ${from} (${(error as Error).message})`);
      this.input(() => this.peer.connectionLost(from));
      return;
    }
    this.input(() => {
      this.peer.step(from, message);
      this.observeForNewEnsemble(from, message);
    });
  }

  // ---- durability ----

  /** Group commit in the background; `persisted` goes through the inbox like any input. */
  private scheduleFlush(): void {
    if (this.flushing !== undefined) {
      this.flushAgain = true;
      return;
    }
    this.flushing = this.flushLoop().catch((error: Error) => this.failStop(error))
      .finally(() => (this.flushing = undefined));
  }

  private async flushLoop(): Promise<void> {
    do {
      this.flushAgain = false;
      // Everything appended (or installed) before flush() started is durable once it resolves.
      const target = this.history.lastZxid;
      await this.storage.log.flush();
      this.input(() => this.peer.persisted(target));
    } while (this.flushAgain);
  }

  /** The tree only ever holds committed txns, so any snapshot of it is a committed state. */
  private snapshotTakerOf(tree: DataTree): SnapshotTaker {
    return new SnapshotTaker(tree, this.storage, this.options, this.logger,
      (error) => this.failStop(error));
  }

  /** The log must not be truncated while a snapshot rolls or purges it (TxnLog contract). */
  private async truncate(zxid: Zxid): Promise<void> {
    await this.snapshots.settle();
    await this.flushing;
    await this.storage.log.truncateAfter(zxid);
    this.history.truncateAfter(zxid);
    this.forgetProposed();
    this.stats.truncations++;
  }

  /**
   * SNAP: the snapshot is decoded first (a bad one stops here), then installed atomically
   * with emptying the log (`ReplicaStorage.installSnapshot`): a crash at any point recovers
   * the old state or the new snapshot with no stale record after it, never a mix.
   */
  private async installSnapshot(install: { zxid: Zxid; bytes: Buffer }): Promise<void> {
    await this.snapshots.settle();
    await this.flushing;
    const tree = DataTree.fromSnapshot(install.bytes);
    await this.storage.installSnapshot(install.zxid, install.bytes);
    this.treeValue = tree;
    this.snapshots = this.snapshotTakerOf(tree);
    this.history.reset(install.zxid);
    this.forgetProposed();
    this.stats.snapshotsInstalled++;
    this.preparer = new RequestPreparer(tree, { dataBytesMax: this.options.dataBytesMax });
    const now = this.clock.monotonicMs();
    for (const { sessionId, timeoutMs } of tree.sessions()) {
      this.tracker.add(sessionId, timeoutMs, now);
    }
    // Sessions closed within the snapshot never had their close applied here.
    this.auth.retainOnly((sessionId) => tree.hasSession(sessionId));
  }

  // ---- apply ----

  private applyThrough(through: Zxid): void {
    const txns = this.history.between(this.treeValue.lastZxid, through);
    for (const logged of txns) {
      const txn = this.takeProposed(logged.zxid) ?? decodeTxn(logged.txn);
      const write = this.pendingWriteOf(txn);
      const result = this.treeValue.apply(txn, write !== undefined);
      this.preparer.committed(txn.header.zxid);
      this.sessionEvents.afterApply(txn, result);
      if (write !== undefined) this.answer(write, txn, result);
      this.stats.applied++;
    }
    if (this.treeValue.lastZxid < through) {
      throw new RecoveryError(`told to commit through 0x${through.toString(16)} but the log ` +
        `reaches only 0x${this.treeValue.lastZxid.toString(16)}`);
    }
    this.history.trim();
    this.snapshots.afterApply(txns.length);
    for (const listener of this.applyListeners) listener();
  }


  /** The prepared txn proposed as `zxid`, if this replica proposed it in its current role. */
  private takeProposed(zxid: Zxid): Txn | undefined {
    const proposed = this.proposed;
    let head = this.proposedHead;
    while (head < proposed.length && proposed[head]!.header.zxid < zxid) proposed[head++] = undefined;
    let txn: Txn | undefined;
    if (head < proposed.length && proposed[head]!.header.zxid === zxid) {
      txn = proposed[head];
      proposed[head++] = undefined;
    }
    if (head === proposed.length) this.forgetProposed();
    else if (head >= 1024 && head * 2 >= proposed.length) {
      this.proposed = proposed.slice(head);
      this.proposedHead = 0;
    } else {
      this.proposedHead = head;
    }
    return txn;
  }

  private forgetProposed(): void {
    this.proposed = [];
    this.proposedHead = 0;
  }

  /** The write this replica took whose txn `txn` is, if any. */
  private pendingWriteOf(txn: Txn): PendingWrite | undefined {
    if (this.writes.size === 0) return undefined;
    const { sessionId, cxid, zxid } = txn.header;
    // A tagged internal write was taken without a session (its txn may name a new one).
    const write = this.writes.get(cxid < 0 ? 0n : sessionId, cxid);
    return write === undefined || zxid <= write.afterZxid ? undefined : write;
  }

  private answer(write: PendingWrite, txn: Txn, result: ApplyResult): void {
    this.writes.remove(write);
    this.latency.add(this.clock.monotonicMs() - write.submittedMs);
    // One literal shape (a spread of the varied result shapes costs a generic clone per write).
    write.resolve({ code: result.code, path: result.path, stat: result.stat,
      results: result.results, events: result.events, zxid: txn.header.zxid,
      sessionId: txn.header.sessionId });
  }


  // ---- writes ----

  private nextTag(): number {
    this.tagCount = (this.tagCount + 1) % TAG_COUNTER_SPAN;
    return -((this.options.id % 2048) * TAG_COUNTER_SPAN + this.tagCount) - 1;
  }

  /**
   * Runs as a peer input: propose on the leader, forward on an up-to-date learner. While
   * neither can (looking, syncing, no lease yet) the write waits, retried every tick, until
   * its timeout: like a ZooKeeper client waiting for its connection to a serving server.
   */
  private route(write: WaitingWrite): void {
    const pending = write.pending;
    if (pending.settled) return;
    const { sessionId, cxid, request, identities } = write;
    const routed = this.peer.role === 'leading'
      ? this.prepareAndPropose(sessionId, cxid, request, identities)
      : this.peer.isEstablished &&
        this.peer.forwardRequest(sessionId, cxid, encodeRequest(request, identities));
    if (routed) pending.routed = true;
    else if (write.failFast) this.failWrite(pending, connectionLoss('no leader now'));
    else this.waiting.push(write);
  }

  private retryWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (let i = 0; i < waiting.length; i++) {
      this.route(waiting[i]!);
      if (this.waiting.length > 0) {
        this.waiting.push(...waiting.slice(i + 1));
        return;
      }
    }
  }

  private proposeForwarded(sessionId: SessionId, cxid: number, bytes: Buffer, from: PeerId):
    void {
    let request: WriteRequest;
    let identities: AuthId[];
    try {
      ({ request, identities } = decodeAuthenticatedRequest(bytes));
    } catch (error) {
      this.logger.warn(`dropped an undecodable write forwarded by ${from}: ` +
        (error as Error).message);
      return;
    }
    // Behind the waiting ones, or it could overtake an earlier write of its session.
    if (this.waitingForwarded.length === 0 &&
      this.prepareAndPropose(sessionId, cxid, request, identities)) {
      return;
    }
    if (this.waitingForwarded.length >= this.options.pendingWritesMax) {
      this.logger.warn(`dropped a write forwarded by ${from}: too many waiting`);
      return;
    }
    this.waitingForwarded.push({ sessionId, cxid, request, identities });
  }

  private retryForwarded(): void {
    const waiting = this.waitingForwarded;
    this.waitingForwarded = [];
    if (this.peer.role !== 'leading') return;
    for (let i = 0; i < waiting.length; i++) {
      const { sessionId, cxid, request, identities } = waiting[i]!;
      if (!this.prepareAndPropose(sessionId, cxid, request, identities)) {
        this.waitingForwarded = waiting.slice(i);
        return;
      }
    }
  }

  /**
   * Prepares against the committed tree plus the outstanding proposals and broadcasts. The
   * header is what the taking replica answers by: (session id, cxid), or the cxid tag.
   */
  private prepareAndPropose(sessionId: SessionId, cxid: number, request: WriteRequest,
    identities: readonly AuthId[]): boolean {
    const zxid = this.peer.nextZxid();
    if (zxid === undefined) return false;
    const header = { sessionId: request.op === 'createSession' ? zxid : sessionId, cxid, zxid,
      time: this.clock.wallMs() };
    const txn = this.preparer.prepare(request, header, identities);
    if (this.peer.propose(zxid, encodeTxn(txn))) {
      this.stats.proposals++;
      this.proposed.push(txn);
      return true;
    }
    // The preparer's overlay now holds a txn that will never commit: start it afresh.
    this.preparer.reset();
    this.forgetProposed();
    return false;
  }

  /**
   * Fails the writes past their deadline, run at every Zab tick (outside the pump, so a stuck
   * storage call does not hold them): one timer for all writes instead of one each. `writes`
   * is in submit order and every deadline is submit time + requestTimeoutMs, so the expired
   * ones are a prefix. A write fails at most one tick (`zabTickMs`) after its deadline.
   */
  private failExpiredWrites(): void {
    const now = this.clock.monotonicMs();
    for (let write = this.writes.oldest(); write !== undefined && write.deadlineMs <= now;
      write = this.writes.oldest()) {
      this.failWrite(write, connectionLoss(`no commit within ${this.requestTimeoutMs} ms`));
    }
  }

  private failWrite(write: PendingWrite, error: Error): void {
    if (this.writes.remove(write)) write.reject(error);
  }

  private finishSync(syncId: number, ok: boolean, why: string): void {
    const sync = this.syncs.get(syncId);
    if (sync === undefined) return;
    this.syncs.delete(syncId);
    clearTimeout(sync.timer);
    if (ok) sync.resolve();
    else sync.reject(connectionLoss(`sync failed: ${why}`));
  }

  // ---- roles and ticks ----

  /**
   * Leaving a role (back to looking, or a new leader/epoch) loses every outstanding proposal
   * of this replica: ZooKeeper answers its in-flight requests with ConnectionLoss, and the
   * leader's preparer overlay is dropped (those txns may never commit).
   */
  private onRole(change: RoleChange): void {
    this.logger.log(`replica ${this.options.id}: ${change.role}` +
      `${change.established ? ' (established)' : ''} leader=${change.leader ?? '-'} ` +
      `epoch=${change.epoch}: ${change.reason}`);
    if (!change.established) {
      this.preparer.reset();
      this.forgetProposed();
      this.waitingForwarded = [];
      for (const write of this.writes.list()) {
        if (write.routed) {
          this.failWrite(write, connectionLoss(`leadership changed (${change.reason})`));
        }
      }
      for (const [syncId, sync] of [...this.syncs]) {
        if (sync.routed) this.finishSync(syncId, false, 'leadership changed');
      }
    }
    // Writes waiting for a serving role go now, not at the next tick (failover latency).
    if (change.established) this.input(() => this.retryAfterEstablished());
    for (const listener of this.roleListeners) listener(change);
  }

  private retryAfterEstablished(): void {
    this.retryForwarded();
    this.retryWaiting();
    this.retryWaitingSyncs();
  }

  /**
   * One tick of the core, then session duties: an established leader touches this process's
   * sessions and closes expired ones; a learner reports its local sessions to the leader.
   * First the lag guard: a leader whose loop stalled past the limit (`lagMs`, how late this
   * tick fired) steps down instead of leading on a stale view of its quorum.
   */
  private onTick(lagMs: number): void {
    if (this.lagGuard.stalled(lagMs) && this.peer.stepDown(
      `event loop stalled ${Math.round(lagMs)} ms > ${this.lagGuard.stallLimitMs} ms`)) {
      this.logger.warn(`replica ${this.options.id}: stepped down as leader: its event loop ` +
        `stalled ${Math.round(lagMs)} ms (limit ${this.lagGuard.stallLimitMs} ms)`);
    }
    this.peer.tick();
    this.retryForwarded();
    this.retryWaiting();
    this.retryWaitingSyncs();
    if (!this.peer.isEstablished) return;
    const now = this.clock.monotonicMs();
    // Session duties run at the session tick (`tickMs`), not at every Zab tick.
    if (now - this.lastSessionTickMs < this.options.tickMs) return;
    this.lastSessionTickMs = now;
    if (this.peer.role !== 'leading') {
      for (const sessionId of this.sessionEvents.localSessions) {
        const timeoutMs = this.treeValue.sessionTimeoutMs(sessionId) ?? 0;
        this.peer.touchSession({ sessionId, timeoutMs });
      }
      return;
    }
    for (const sessionId of this.sessionEvents.localSessions) this.tracker.touch(sessionId, now);
    if (!this.peer.isLeaseValid()) return;
    if (now - this.lastContainerSweepMs >= this.options.containerCheckIntervalMs) {
      this.lastContainerSweepMs = now;
      this.sweepContainers();
    }
    for (const sessionId of this.tracker.expired(now)) {
      this.sessionEvents.expiring.add(sessionId);
      this.logger.log(`session 0x${sessionId.toString(16)} expired`);
      this.submit(sessionId, 0, { op: 'closeSession' }, true).catch(() => undefined);
    }
  }

  /**
   * Leader duty (ZooKeeper's ContainerManager): delete empty containers and expired TTL
   * nodes, at most `containerDeletesPerCheckMax` of each per check. The preparer checks each
   * again against the state with the outstanding changes, so a node that gained a child or
   * was touched meanwhile stays.
   */
  private sweepContainers(): void {
    const limit = this.options.containerDeletesPerCheckMax;
    for (const path of this.treeValue.containerCandidates(limit)) {
      this.submit(0n, 0, { op: 'deleteContainer', path }, true).catch(() => undefined);
    }
    for (const path of this.treeValue.expiredTtlCandidates(this.clock.wallMs(), limit)) {
      this.submit(0n, 0, { op: 'deleteExpiredTtl', path }, true).catch(() => undefined);
    }
  }

  // ---- shutdown ----

  /** Stops ticking and the transport, settles storage, fails what is unanswered. */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  private async closeOnce(): Promise<void> {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    if (this.stateValue === 'serving') this.stateValue = 'closing';
    await this.transport?.close();
    this.inbox = [];
    await this.pumping;
    await this.flushing;
    await this.snapshots.settle();
    this.failUnanswered(this.stoppedError());
    await this.storage.close();
    if (this.stateValue !== 'failed') this.stateValue = 'closed';
    for (const { sessionId } of this.treeValue.sessions()) {
      if (this.sessionEvents.localSessions.has(sessionId)) this.sessionEvents.endSession(sessionId, 'closed');
    }
  }

  private failUnanswered(error: Error): void {
    for (const write of this.writes.list()) this.failWrite(write, error);
    for (const [syncId, sync] of [...this.syncs]) {
      this.syncs.delete(syncId);
      clearTimeout(sync.timer);
      sync.reject(error);
    }
  }

  /** A storage failure or broken invariant stops this replica for good (no retry). */
  private failStop(error: Error): void {
    if (this.stateValue === 'failed' || this.stateValue === 'closed') return;
    this.stateValue = 'failed';
    this.failure = error;
    this.logger.error(`replica ${this.options.id} stopped: ${error.stack ?? error.message}`);
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.inbox = [];
    this.failUnanswered(this.stoppedError());
    void this.transport?.close();
    for (const listener of this.failureListeners) listener(error);
  }

  private stoppedError(): Error {
    if (this.stateValue === 'failed') return new ReplicaStoppedError(this.failure);
    return new ReplicaStoppedError(undefined, `replica is ${this.stateValue}`);
  }
}

/** Every logged txn after the snapshot, in order and without a gap, into the history. */
async function readLogInto(storage: ReplicaStorage, after: Zxid, history: ReplicaHistory):
  Promise<void> {
  let last = after;
  for await (const record of storage.log.read(after)) {
    if (!continues(last, record.zxid)) {
      throw new RecoveryError(`the log has a gap after 0x${last.toString(16)}: it resumes at ` +
        `0x${record.zxid.toString(16)}; restore the data directory from a backup`);
    }
    history.append({ zxid: record.zxid, txn: record.payload });
    last = record.zxid;
  }
}
