/**
 * Safety invariants checked while the simulation runs (Zab TLA+ names, §1.12):
 * - Leadership: at most one established leader per epoch.
 * - Lease: when a leader is established, no other replica still holds a valid lease.
 * - PrefixConsistency: every replica applies the same sequence of txns (position by position).
 * - Durability: every acknowledged (applied anywhere) txn is in the durable log of a majority of
 *   voters, so no crash/restart sequence of a minority, nor of everyone, can lose it.
 */
import type { PeerId } from '../../core/ids.js';
import { majorityOf } from '../../core/quorum/majority.js';
import type { LoggedTxn } from '../../core/ready.js';
import type { SimReplica } from './sim-cluster.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

export class SafetyChecker {
  /** The one committed sequence every replica's applied txns must be a prefix of. */
  readonly committed: LoggedTxn[] = [];
  private readonly leaders = new Map<number, PeerId>();
  private wipes = 0;

  constructor(private readonly voters: readonly PeerId[]) {}

  onEstablished(id: PeerId, epoch: number, replicas: Map<PeerId, SimReplica>, now: number): void {
    const previous = this.leaders.get(epoch);
    if (previous !== undefined && previous !== id) {
      throw new SafetyViolation(`two established leaders in epoch ${epoch}: ${previous} and ${id}`);
    }
    this.leaders.set(epoch, id);
    for (const replica of replicas.values()) {
      if (replica.id === id || replica.peer?.isLeaseValid() !== true) continue;
      throw new SafetyViolation(`tick ${now}: ${id} established epoch ${epoch} while ` +
        `${replica.id} (epoch ${replica.peer.epoch}) still holds a valid lease`);
    }
  }

  onApply(id: PeerId, index: number, logged: LoggedTxn): void {
    if (index < this.committed.length) {
      const expected = this.committed[index]!;
      if (expected.zxid !== logged.zxid || !expected.txn.equals(logged.txn)) {
        throw new SafetyViolation(`replica ${id} applied ${describe(logged)} at position ${index}` +
          ` where ${describe(expected)} was committed`);
      }
      return;
    }
    if (index > this.committed.length) {
      throw new SafetyViolation(`replica ${id} applied position ${index} past the committed end`);
    }
    const last = this.committed[this.committed.length - 1];
    if (last !== undefined && logged.zxid <= last.zxid) {
      throw new SafetyViolation(`replica ${id} applied ${describe(logged)} out of zxid order`);
    }
    this.committed.push(logged);
  }

  /** A wiped disk is a lost disk: durability is then only promised for txns after it. */
  onWipe(_id: PeerId): void {
    this.wipes++;
  }

  checkDurability(replicas: Map<PeerId, SimReplica>): void {
    if (this.wipes > 0) return;
    const needed = majorityOf(this.voters.length);
    for (const logged of this.committed) {
      let copies = 0;
      for (const id of this.voters) {
        if (replicas.get(id)?.disk.durableContains(logged.zxid, logged.txn) === true) copies++;
      }
      if (copies < needed) {
        throw new SafetyViolation(`acknowledged ${describe(logged)} is durable on only ${copies} ` +
          `voters (needs ${needed})`);
      }
    }
  }
}

export function describe(logged: LoggedTxn): string {
  return `0x${logged.zxid.toString(16)}:${logged.txn.toString('utf8')}`;
}
