/**
 * What the election and the phase handlers may see and do on the peer that owns them.
 * `ZabPeer` implements it; the handlers hold no other reference, so every effect goes
 * through `out` (the Ready being built) and every role change through the `become*` methods.
 */
import type { Epoch, PeerId, Zxid } from '../ids.js';
import type { SessionTouch } from '../peer-message.js';
import type { HistoryView, RandomSource, Role } from '../ready.js';
import type { ReadyBuilder } from '../ready-builder.js';
import type { ZabConfig } from '../zab-peer.js';

export interface PeerContext {
  readonly config: ZabConfig;
  readonly history: HistoryView;
  readonly random: RandomSource;
  readonly out: ReadyBuilder;
  readonly id: PeerId;
  readonly isVoter: boolean;
  readonly now: number;
  readonly role: Role;
  acceptedEpoch: Epoch;
  currentEpoch: Epoch;
  hasData: boolean;
  /** Last zxid appended (this Ready included); the history a vote or sync is based on. */
  lastLoggedZxid: Zxid;
  /** Last zxid the driver reported durable via `persisted`. */
  lastDurableZxid: Zxid;
  committedZxid: Zxid;
  /** While now < this, the election votes but does not decide (lease promise, see Election). */
  electionQuietUntilTick: number;
  becomeLeader(vote: { zxid: Zxid; peerEpoch: Epoch }): void;
  becomeLearner(leader: PeerId): void;
  becomeLooking(reason: string): void;
  noteRole(reason: string, established: boolean): void;
  electedVote(): { leader: PeerId; zxid: Zxid; peerEpoch: Epoch; round: number };
  writeEpochs(): void;
  commitThrough(zxid: Zxid): void;
  drainTouches(): SessionTouch[];
}
