/**
 * Test support for driving one `ZabPeer` by hand: an in-memory history view, a fixed random
 * source, and helpers that collect Readys (appending their txns to the history, as a driver
 * would) and bring a peer to the leader or follower role with hand-made notifications.
 */
import { assert } from '../util/assert.js';
import type { Epoch, PeerId, Zxid } from '../core/ids.js';
import type { PeerMessage } from '../core/peer-message.js';
import type { HistoryView, LoggedTxn, PersistedState, Ready } from '../core/ready.js';
import { ZabPeer, type ZabConfig } from '../core/zab-peer.js';

export const HARNESS_TIMING = {
  notificationTimeoutTicks: 1,
  notificationTimeoutMaxTicks: 4,
  finalizeWaitTicks: 0,
  initLimitTicks: 10,
  syncLimitTicks: 5,
  leaseTicks: 3,
  leaseWaitTicks: 4,
  diffTxnCountMax: 100,
  snapshotChunkBytes: 8,
  snapshotBytesMax: 64,
  pendingSyncsMax: 2,
} as const;

export class MemoryHistory implements HistoryView {
  log: LoggedTxn[] = [];
  /** Txns at or below this zxid are only in the snapshot (log compacted). */
  compactedThroughZxid: Zxid = 0n;
  snapshotBytes = Buffer.from('snapshot');

  lastZxidAtOrBefore(zxid: Zxid): Zxid | undefined {
    if (zxid < this.compactedThroughZxid) return undefined;
    let best = this.compactedThroughZxid;
    for (const logged of this.log) if (logged.zxid <= zxid) best = logged.zxid;
    return best;
  }

  txnsAfter(zxid: Zxid, countMax: number): readonly LoggedTxn[] | undefined {
    if (zxid < this.compactedThroughZxid) return undefined;
    const txns = this.log.filter((logged) => logged.zxid > zxid);
    return txns.length > countMax ? undefined : txns;
  }

  snapshot(): { zxid: Zxid; bytes: Buffer } {
    return { zxid: this.compactedThroughZxid, bytes: this.snapshotBytes };
  }

  /** What a driver does with a Ready's log effects. */
  perform(ready: Ready): void {
    if (ready.truncateAfterZxid !== undefined) {
      const through = ready.truncateAfterZxid;
      this.log = this.log.filter((logged) => logged.zxid <= through);
    }
    if (ready.installSnapshot !== undefined) {
      this.log = [];
      this.compactedThroughZxid = ready.installSnapshot.zxid;
    }
    this.log.push(...ready.append);
  }
}

export interface HarnessPeer {
  readonly peer: ZabPeer;
  readonly history: MemoryHistory;
}

export function makeTxns(epoch: Epoch, count: number, from = 1): LoggedTxn[] {
  return Array.from({ length: count }, (_, i) => ({
    zxid: (BigInt(epoch) << 32n) | BigInt(from + i),
    txn: Buffer.from(`e${epoch}c${from + i}`),
  }));
}

export function makePeer(id: PeerId, options: {
  voters?: PeerId[];
  observers?: PeerId[];
  persisted?: Partial<PersistedState>;
  log?: LoggedTxn[];
  timing?: Partial<Omit<ZabConfig, 'id' | 'voters' | 'observers'>>;
} = {}): HarnessPeer {
  const history = new MemoryHistory();
  history.log = [...(options.log ?? [])];
  const config: ZabConfig = { ...HARNESS_TIMING, ...options.timing, id,
    voters: options.voters ?? [1, 2, 3], observers: options.observers ?? [] };
  const last = history.log[history.log.length - 1]?.zxid ?? 0n;
  const currentEpoch = options.persisted?.currentEpoch ?? 0;
  const persisted: PersistedState = { acceptedEpoch: currentEpoch, currentEpoch,
    lastLoggedZxid: last, hasData: true, ...options.persisted };
  const peer = new ZabPeer(config, persisted, history, { nextInt: () => 0 });
  return { peer, history };
}

/** Collects every pending Ready (performing its log effects) and advances. */
export function drain(harness: HarnessPeer): Ready[] {
  const readys: Ready[] = [];
  for (let guard = 0; guard < 100 && harness.peer.hasReady(); guard++) {
    const ready = harness.peer.ready();
    harness.history.perform(ready);
    harness.peer.advance();
    readys.push(ready);
  }
  return readys;
}

export function sent(readys: readonly Ready[], to?: PeerId): PeerMessage[] {
  return readys.flatMap((ready) => ready.messages)
    .filter((outbound) => to === undefined || outbound.to === to)
    .map((outbound) => outbound.message);
}

export function ofType<T extends PeerMessage['type']>(messages: readonly PeerMessage[], type: T):
  Extract<PeerMessage, { type: T }>[] {
  return messages.filter((m): m is Extract<PeerMessage, { type: T }> => m.type === type);
}

/** Ticks through the start-up quiet period (lease promise) so the election speaks. */
export function passQuiet(harness: HarnessPeer): Ready[] {
  const readys: Ready[] = [];
  for (let i = 0; i < harness.peer.config.leaseWaitTicks; i++) {
    harness.peer.tick();
    readys.push(...drain(harness));
  }
  return readys;
}

/** Makes the peer decide to lead: `supporters` send LOOKING votes for it in its round. */
export function electSelf(harness: HarnessPeer, supporters: PeerId[]): void {
  passQuiet(harness);
  const peer = harness.peer;
  for (const from of supporters) {
    peer.step(from, { type: 'notification', state: 'looking', leader: peer.id,
      zxid: peer.lastLoggedZxid, round: 1, peerEpoch: peer.currentEpoch });
  }
  assert(peer.role === 'leading', `peer ${peer.id} did not become leader: ${peer.describeState()}`);
}

/** Makes the peer follow `leader`: a quorum reports it established (FOLLOWING/LEADING). */
export function followEstablished(harness: HarnessPeer, leader: PeerId, others: PeerId[]): void {
  passQuiet(harness);
  const peer = harness.peer;
  const base = { type: 'notification' as const, leader, zxid: 0n, round: 1, peerEpoch: 0 };
  peer.step(leader, { ...base, state: 'leading' });
  for (const from of others) peer.step(from, { ...base, state: 'following' });
  assert(peer.leader === leader,
    `peer ${peer.id} does not follow ${leader}: ${peer.describeState()}`);
}
