/**
 * ZK-261 without blocking a brand-new ensemble (`ensembleState: 'auto'`). A member whose data
 * directory is empty does not vote (the core's `hasData`), so a wiped member cannot help
 * elect a leader that lacks committed writes. But when every member is new, nobody has data
 * and nobody could ever vote. Rule: an empty member starts voting once it has heard, since it
 * started, from EVERY other voter, and each one was empty (`looking` with epoch 0 and zxid
 * 0 or none), and it never heard from a voter holding anything.
 *
 * Why that is safe: committed state lives on a quorum of voters that reached epoch >= 1. If
 * any of them is up and intact, its notifications carry its epoch and this member never
 * starts voting; if one is down, this member cannot hear from every voter. So it starts only
 * when every voter was seen empty: every copy of any committed state would have to have been
 * wiped. A member at epoch 0 with nothing logged (even if it already voted) holds nothing
 * committed: a member commits only after NEWLEADER, which sets its epoch to >= 1.
 * The cost: the first formation of an ensemble needs every voter up, not only a quorum
 * (`ensembleState: 'new'` lifts that, unsafely).
 */
import type { PeerId } from '../core/ids.js';
import type { Notification } from '../core/peer-message.js';

export class NewEnsembleDetector {
  private readonly others: ReadonlySet<PeerId>;
  private readonly empty = new Set<PeerId>();
  private sawData = false;

  constructor(self: PeerId, voters: readonly PeerId[]) {
    this.others = new Set(voters.filter((id) => id !== self));
  }

  /** Whether some voter was seen holding data (then this member never starts voting). */
  get ensembleExists(): boolean {
    return this.sawData;
  }

  /** Notes a notification; true once every other voter was seen empty and none with data. */
  observe(from: PeerId, notification: Notification): boolean {
    if (this.sawData || !this.others.has(from)) return false;
    const { state, peerEpoch, zxid } = notification;
    if (state !== 'looking' || peerEpoch > 0 || zxid > 0n) {
      this.sawData = true;
      return false;
    }
    this.empty.add(from);
    return this.empty.size === this.others.size;
  }
}
