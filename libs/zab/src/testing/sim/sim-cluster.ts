/**
 * A cluster of real `ZabPeer`s over a simulated network, clock and disk, with an in-sim driver
 * that performs each Ready in the contract's order (epochs → truncate/snapshot → append →
 * send → apply) and safety checkers run after every step (SafetyChecker).
 *
 * Network (TCP-like): per-connection FIFO with a delay in ticks; different connections
 * interleave in a random order. A lost message, or one dropped by a partition (at send or at
 * delivery), breaks its connection: every message still in flight between the pair is dropped
 * and both ends get `connectionLost` on the next tick, so a connection never has holes (Zab's
 * channel assumption). A crash breaks the crashed replica's connections: each peer is told
 * (`connectionLost`, after what the crashed replica had sent arrived, as a FIN follows the data)
 * with `crashNoticeProbability`, else never (a power loss sends no FIN). `linkDown` breaks a
 * live link and tells only one end (a link the other end has not noticed to be broken). The
 * crashed peer object is discarded and rebuilt from what its disk made durable.
 */
import type { PeerId, Zxid } from '../../core/ids.js';
import type { PeerMessage } from '../../core/peer-message.js';
import type { LoggedTxn, Ready } from '../../core/ready.js';
import { DEFAULT_ZAB_TIMING, ZabPeer, type ZabConfig } from '../../core/zab-peer.js';
import { decodePeerMessage, encodePeerMessage } from '../../transport/peer-message-codec.js';
import { Prng } from './prng.js';
import { decodeSnapshot, historyOf, SimDisk } from './sim-disk.js';
import { SafetyChecker, SafetyViolation } from './safety-checker.js';

export interface SimOptions {
  readonly voters: number;
  readonly observers: number;
  readonly timing: Omit<ZabConfig, 'id' | 'voters' | 'observers'>;
  readonly delayTicksMax: number;
  readonly lossProbability: number;
  /** Probability per Ready that the replica crashes after its durable writes, before sending. */
  readonly crashInReadyProbability: number;
  /** Encode and decode every message with the peer codec. */
  readonly useCodec: boolean;
  readonly fsyncDelayTicksMax: number;
  /** Each replica's clock runs at a rate drawn in [1 - this, 1] of simulated time. */
  readonly clockSlowdownMax: number;
  /** Each end learns of a broken connection after its own delay in [1, 1 + this] ticks
   * (half-open TCP: one side may notice long after the other). */
  readonly lostNoticeDelayTicksMax: number;
  /** Probability that a peer of a crashed replica is told its connection broke (kill -9 on a
   * live host: the kernel closes the sockets); else it only notices the silence. */
  readonly crashNoticeProbability: number;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  voters: 3,
  observers: 0,
  timing: DEFAULT_ZAB_TIMING,
  delayTicksMax: 1,
  lossProbability: 0,
  crashInReadyProbability: 0,
  useCodec: true,
  fsyncDelayTicksMax: 1,
  clockSlowdownMax: 0,
  lostNoticeDelayTicksMax: 0,
  crashNoticeProbability: 1,
};

interface InFlight {
  readonly generation: number;
  readonly deliverAt: number;
  readonly from: PeerId;
  readonly to: PeerId;
  readonly message: PeerMessage;
}

export type CrashPoint = 'start' | 'persisted' | 'sent';

export class SimReplica {
  peer: ZabPeer | undefined;
  readonly disk = new SimDisk();
  /** The trivial state machine: applied txns in order. */
  applied: LoggedTxn[] = [];
  fsyncAt: number | undefined;
  /** This replica's clock rate (ticks per step of simulated time) and its fractional phase. */
  clockRate = 1;
  clockPhase = 0;

  constructor(readonly id: PeerId) {}

  get alive(): boolean {
    return this.peer !== undefined;
  }
}

export class SimCluster {
  now = 0;
  readonly replicas = new Map<PeerId, SimReplica>();
  readonly checker: SafetyChecker;
  readonly trace: string[] = [];
  private inFlight: InFlight[] = [];
  private readonly generations = new Map<string, number>();
  private pendingLost: { at: number; peer: PeerId; other: PeerId }[] = [];
  private readonly lastDeliverAt = new Map<string, number>();
  private partition: Set<PeerId> | undefined;
  readonly voterIds: PeerId[];
  readonly observerIds: PeerId[];
  lossProbability: number;
  crashInReadyProbability: number;
  private writeCount = 0;
  private syncCount = 0;
  /** Linearizable syncs in flight: replica and how many txns were acknowledged when issued. */
  private readonly pendingSyncs = new Map<number, { replica: PeerId; acknowledged: number }>();
  /** Counters for the run summary (which protocol paths a run exercised). */
  readonly stats = { diff: 0, trunc: 0, snap: 0, syncs: 0, elections: 0 };
  /**
   * Scenario hook, called three times per Ready: before anything ('start'), after its durable
   * writes and appends but before its sends ('persisted'), after its sends ('sent'). Return
   * true to crash the replica right there (the hook may crash other replicas too).
   */
  crashHook: ((replica: SimReplica, ready: Ready, point: CrashPoint) => boolean) | undefined;
  /** Scenario control: these replicas' fsyncs do not complete (a slow or stuck disk). */
  readonly fsyncHeld = new Set<PeerId>();
  /** Scenario hook: return true to lose this message (its connection breaks). */
  dropHook: ((from: PeerId, to: PeerId, message: PeerMessage) => boolean) | undefined;

  constructor(readonly options: SimOptions, readonly random: Prng) {
    this.voterIds = Array.from({ length: options.voters }, (_, i) => i + 1);
    this.observerIds = Array.from({ length: options.observers }, (_, i) => options.voters + i + 1);
    this.lossProbability = options.lossProbability;
    this.crashInReadyProbability = options.crashInReadyProbability;
    this.checker = new SafetyChecker(this.voterIds);
    for (const id of [...this.voterIds, ...this.observerIds]) {
      const replica = new SimReplica(id);
      replica.clockRate = 1 - this.random.nextFloat() * options.clockSlowdownMax;
      replica.clockPhase = this.random.nextFloat();
      this.replicas.set(id, replica);
      this.start(replica);
    }
  }

  replica(id: PeerId): SimReplica {
    const replica = this.replicas.get(id);
    if (replica === undefined) throw new Error(`no replica ${id}`);
    return replica;
  }

  private start(replica: SimReplica): void {
    const config: ZabConfig = { ...this.options.timing, id: replica.id, voters: this.voterIds,
      observers: this.observerIds };
    replica.applied = [];
    replica.peer = new ZabPeer(config, replica.disk.persistedState(),
      historyOf(replica.disk, () => replica.applied), this.random.split());
    this.drain(replica);
  }

  crash(id: PeerId): void {
    const replica = this.replica(id);
    if (!replica.alive) return;
    this.trace.push(`${this.now} crash ${id}`);
    replica.peer = undefined;
    for (const other of this.replicas.keys()) {
      if (other === id) continue;
      this.breakConnection(id, other, false);
      if (this.random.chance(this.options.crashNoticeProbability)) {
        // After the crashed replica's last message on the link (FIN follows the data): a step
        // hands out notices before deliveries, so one step after the last delivery's step.
        const lastAt = Math.max(this.now, this.lastDeliverAt.get(`${id}>${other}`) ?? 0);
        const at = lastAt + 2 + this.random.nextInt(this.options.lostNoticeDelayTicksMax + 1);
        this.pendingLost.push({ at, peer: other, other: id });
      }
    }
    replica.disk.crash();
    replica.fsyncAt = undefined;
  }

  restart(id: PeerId): void {
    const replica = this.replica(id);
    if (replica.alive) return;
    this.trace.push(`${this.now} restart ${id}`);
    this.start(replica);
  }

  /** Disk loss (ZK-261): only in scenarios that account for it. */
  wipe(id: PeerId): void {
    this.crash(id);
    this.replica(id).disk.wipe();
    this.checker.onWipe(id);
    this.trace.push(`${this.now} wipe ${id}`);
  }

  /**
   * The link between `peer` and `other` breaks (everything in flight either way is lost) and
   * only `peer` is told, next tick; `other` goes on as if the link were up (its later messages
   * travel on a new connection). The lease checker must hold either way.
   */
  linkDown(peer: PeerId, other: PeerId): void {
    if (!this.replica(peer).alive) return;
    this.trace.push(`${this.now} link-down ${peer}-${other} (only ${peer} told)`);
    this.dropInFlight(peer, other);
    this.dropInFlight(other, peer);
    this.pendingLost.push({ at: this.now + 1, peer, other });
  }

  partitionOff(side: readonly PeerId[]): void {
    this.partition = new Set(side);
    this.trace.push(`${this.now} partition [${side.join(',')}]`);
  }

  heal(): void {
    if (this.partition !== undefined) this.trace.push(`${this.now} heal`);
    this.partition = undefined;
  }

  private connected(a: PeerId, b: PeerId): boolean {
    return this.partition === undefined || this.partition.has(a) === this.partition.has(b);
  }

  // ---- client writes ----

  /** Submit a write at replica `id`: proposed directly on the leader, forwarded by a learner. */
  write(id: PeerId): boolean {
    const replica = this.replica(id);
    const peer = replica.peer;
    if (peer === undefined) return false;
    const bytes = Buffer.from(`w${++this.writeCount}@${id}`);
    if (peer.role === 'leading') return this.proposeOn(replica, bytes);
    const accepted = peer.forwardRequest(BigInt(id), this.writeCount, bytes);
    this.drain(replica);
    return accepted;
  }

  /**
   * Linearizable sync at replica `id`: when it completes, the replica must have applied every
   * write acknowledged (applied anywhere) before the sync was issued.
   */
  sync(id: PeerId): boolean {
    const replica = this.replica(id);
    if (replica.peer === undefined) return false;
    const syncId = ++this.syncCount;
    if (!replica.peer.sync(syncId)) return false;
    this.pendingSyncs.set(syncId, { replica: id, acknowledged: this.checker.committed.length });
    this.drain(replica);
    return true;
  }

  private onSyncResults(replica: SimReplica, results: Ready['syncResults']): void {
    for (const { syncId, ok } of results) {
      const pending = this.pendingSyncs.get(syncId);
      if (pending === undefined || pending.replica !== replica.id) continue;
      this.pendingSyncs.delete(syncId);
      if (!ok) continue;
      this.stats.syncs++;
      if (replica.applied.length < pending.acknowledged) {
        throw new SafetyViolation(`sync ${syncId} on replica ${replica.id} completed with ` +
          `${replica.applied.length} txns applied; ${pending.acknowledged} were acknowledged ` +
          'before it');
      }
    }
  }

  private proposeOn(replica: SimReplica, bytes: Buffer): boolean {
    const peer = replica.peer;
    const zxid = peer?.nextZxid();
    if (peer === undefined || zxid === undefined) return false;
    const ok = peer.propose(zxid, bytes);
    this.drain(replica);
    return ok;
  }

  // ---- time ----

  /** One tick: deliver due messages (random interleaving across connections), fsyncs, ticks. */
  step(): void {
    this.now++;
    const lost = this.pendingLost.filter((notice) => notice.at <= this.now);
    this.pendingLost = this.pendingLost.filter((notice) => notice.at > this.now);
    for (const { peer, other } of lost) {
      const replica = this.replicas.get(peer);
      if (replica?.peer === undefined) continue;
      replica.peer.connectionLost(other);
      this.drain(replica);
    }
    this.deliverDue();
    for (const replica of this.replicas.values()) {
      if (replica.peer !== undefined && replica.fsyncAt !== undefined &&
        replica.fsyncAt <= this.now &&
        !this.fsyncHeld.has(replica.id)) {
        replica.fsyncAt = undefined;
        const durable = replica.disk.fsync();
        if (this.verbose) this.trace.push(`${this.now}   ${replica.id} fsync ${hex(durable)}`);
        replica.peer.persisted(durable);
        this.drain(replica);
      }
    }
    for (const replica of this.replicas.values()) {
      if (replica.peer === undefined) continue;
      replica.clockPhase += replica.clockRate;
      if (replica.clockPhase < 1) continue;
      replica.clockPhase -= 1;
      replica.peer.tick();
      this.drain(replica);
    }
    this.checker.checkDurability(this.replicas);
  }

  private deliverDue(): void {
    for (let round = 0; round < 64; round++) {
      if (!this.deliverRound()) return;
    }
  }

  /** One round: delivers what is due now; false when nothing was due. */
  private deliverRound(): boolean {
    const due = this.inFlight.filter((m) => m.deliverAt <= this.now);
    if (due.length === 0) return false;
    this.inFlight = this.inFlight.filter((m) => m.deliverAt > this.now);
    const byConnection = new Map<string, InFlight[]>();
    for (const message of due) {
      const key = `${message.from}>${message.to}`;
      const queue = byConnection.get(key);
      if (queue === undefined) byConnection.set(key, [message]);
      else queue.push(message);
    }
    const queues = [...byConnection.values()];
    for (let guard = 0; guard < due.length && queues.length > 0; guard++) {
      const index = this.random.nextInt(queues.length);
      const message = queues[index]!.shift()!;
      if (queues[index]!.length === 0) queues.splice(index, 1);
      this.deliver(message);
    }
    return true;
  }

  /** Also trace every delivered message and disk effect (for replaying one seed). */
  verbose = false;

  private deliver(message: InFlight): void {
    const replica = this.replicas.get(message.to);
    if (replica?.peer === undefined) return;
    if (message.generation !== this.generation(message.from, message.to)) return;
    if (!this.connected(message.from, message.to)) {
      this.breakConnection(message.from, message.to, true);
      return;
    }
    const type = message.message.type;
    if (this.verbose && type !== 'ping' && type !== 'notification') {
      this.trace.push(`${this.now}   ${message.from}->${message.to} ${summarize(message.message)}`);
    }
    replica.peer.step(message.from, message.message);
    this.drain(replica);
  }

  private generation(from: PeerId, to: PeerId): number {
    return this.generations.get(`${from}>${to}`) ?? 0;
  }

  private dropInFlight(from: PeerId, to: PeerId): void {
    this.generations.set(`${from}>${to}`, this.generation(from, to) + 1);
  }

  /**
   * Drops everything in flight between a and b (both ways) and tells both ends next tick. A
   * crash (notify false) drops only what was heading to the crashed replica `a`: what it had
   * already sent is in the kernel's buffers and still arrives, as with TCP.
   */
  private breakConnection(a: PeerId, b: PeerId, notify: boolean): void {
    this.dropInFlight(b, a);
    if (notify) this.dropInFlight(a, b);
    if (this.verbose) this.trace.push(`${this.now}   connection ${a}-${b} broken`);
    if (!notify) return;
    const delayMax = this.options.lostNoticeDelayTicksMax;
    const delay = (): number => this.now + 1 + this.random.nextInt(delayMax + 1);
    this.pendingLost.push({ at: delay(), peer: a, other: b }, { at: delay(), peer: b, other: a });
  }

  private send(from: PeerId, to: PeerId, message: PeerMessage): void {
    if (!this.connected(from, to) || this.random.chance(this.lossProbability) ||
      this.dropHook?.(from, to, message) === true) {
      if (this.replicas.get(to)?.alive === true) this.breakConnection(from, to, true);
      return;
    }
    const decoded = this.options.useCodec ? decodePeerMessage(encodePeerMessage(message)) : message;
    const key = `${from}>${to}`;
    // Delay 0 delivers within the current tick (later in its delivery rounds): on a LAN a
    // message takes far less than a tick, and whole elections fit in one.
    const earliest = this.now + this.random.nextInt(this.options.delayTicksMax + 1);
    const deliverAt = Math.max(earliest, this.lastDeliverAt.get(key) ?? 0);
    this.lastDeliverAt.set(key, deliverAt);
    this.inFlight.push({ generation: this.generation(from, to), deliverAt, from, to,
      message: decoded });
  }

  // ---- the in-sim driver ----

  drain(replica: SimReplica): void {
    for (let guard = 0; guard < 1000; guard++) {
      const peer = replica.peer;
      if (peer === undefined || !peer.hasReady()) return;
      const ready = peer.ready();
      if (!this.perform(replica, ready)) return;
      peer.advance();
      // Inputs only after advance (contract): the leader's driver prepares forwarded writes now.
      for (const request of ready.requests) this.proposeForwarded(replica, request.bytes);
    }
    throw new Error(`replica ${replica.id}: Ready loop did not settle`);
  }

  /** Performs one Ready in the contract's order; false when the replica crashed inside it. */
  private perform(replica: SimReplica, ready: Ready): boolean {
    const disk = replica.disk;
    if (this.verbose) this.traceDisk(replica, ready);
    if (this.crashHook?.(replica, ready, 'start') === true) return this.crashInside(replica);
    if (ready.epochWrite !== undefined) disk.writeEpochs(ready.epochWrite);
    if (ready.truncateAfterZxid !== undefined) disk.truncateAfter(ready.truncateAfterZxid);
    if (ready.installSnapshot !== undefined) this.installSnapshot(replica, ready.installSnapshot);
    disk.append(ready.append);
    if (disk.unsynced && replica.fsyncAt === undefined) {
      replica.fsyncAt = this.now + this.random.nextInt(this.options.fsyncDelayTicksMax + 1);
    }
    if (this.crashHook?.(replica, ready, 'persisted') === true ||
      this.random.chance(this.crashInReadyProbability)) {
      return this.crashInside(replica);
    }
    for (const { to, message } of ready.messages) this.send(replica.id, to, message);
    if (this.crashHook?.(replica, ready, 'sent') === true) return this.crashInside(replica);
    if (ready.commitThroughZxid !== undefined) this.apply(replica, ready.commitThroughZxid);
    this.onSyncResults(replica, ready.syncResults);
    for (const { message } of ready.messages) {
      if (message.type === 'diff' || message.type === 'trunc') this.stats[message.type]++;
      else if (message.type === 'snap' && message.chunkIndex === 0) this.stats.snap++;
    }
    for (const change of ready.roleChanges) {
      this.trace.push(`${this.now} ${replica.id} ${change.role}${change.established ? '*' : ''} ` +
        `leader=${change.leader ?? '-'} epoch=${change.epoch} (${change.reason})`);
      if (change.role === 'leading' && change.established) {
        this.stats.elections++;
        this.checker.onEstablished(replica.id, change.epoch, this.replicas, this.now);
      }
    }
    return true;
  }

  private traceDisk(replica: SimReplica, ready: Ready): void {
    const parts: string[] = [];
    if (ready.epochWrite !== undefined) parts.push(`epochs=${JSON.stringify(ready.epochWrite)}`);
    if (ready.truncateAfterZxid !== undefined) parts.push(`trunc=${hex(ready.truncateAfterZxid)}`);
    if (ready.installSnapshot !== undefined) parts.push(`snap=${hex(ready.installSnapshot.zxid)}`);
    if (ready.append.length > 0) {
      parts.push(`append=${ready.append.map((t) => hex(t.zxid)).join(',')}`);
    }
    if (ready.commitThroughZxid !== undefined) parts.push(`commit=${hex(ready.commitThroughZxid)}`);
    if (parts.length > 0) this.trace.push(`${this.now}   ${replica.id} disk ${parts.join(' ')}`);
  }

  private crashInside(replica: SimReplica): false {
    this.trace.push(`${this.now} crash ${replica.id} inside a Ready`);
    this.crash(replica.id);
    return false;
  }

  private proposeForwarded(replica: SimReplica, bytes: Buffer): void {
    const peer = replica.peer;
    const zxid = peer?.nextZxid();
    if (peer !== undefined && zxid !== undefined) peer.propose(zxid, bytes);
  }

  private installSnapshot(replica: SimReplica, install: { zxid: Zxid; bytes: Buffer }): void {
    const txns = decodeSnapshot(install.bytes);
    replica.disk.replace(txns);
    replica.applied = [];
    for (const logged of txns) this.applyOne(replica, logged);
  }

  private apply(replica: SimReplica, through: Zxid): void {
    const last = replica.applied[replica.applied.length - 1]?.zxid ?? 0n;
    for (const logged of replica.disk.log) {
      if (logged.zxid <= last) continue;
      if (logged.zxid > through) break;
      this.applyOne(replica, logged);
    }
    const applied = replica.applied[replica.applied.length - 1]?.zxid ?? 0n;
    if (applied !== through && through > last) {
      throw new SafetyViolation(`replica ${replica.id} told to commit through ${hex(through)}` +
        ` but its log reaches only 0x${applied.toString(16)}`);
    }
  }

  private applyOne(replica: SimReplica, logged: LoggedTxn): void {
    this.checker.onApply(replica.id, replica.applied.length, logged);
    replica.applied.push(logged);
  }
}

function hex(zxid: Zxid): string {
  return '0x' + zxid.toString(16);
}

function summarize(message: PeerMessage): string {
  const fields = Object.entries(message).filter(([key]) => key !== 'type' && key !== 'txn' &&
    key !== 'bytes')
    .map(([key, value]) => `${key}=${typeof value === 'bigint' ? hex(value) : String(value)}`);
  return `${message.type} ${fields.join(' ')}`;
}
