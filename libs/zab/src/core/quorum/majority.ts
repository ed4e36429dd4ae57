/**
 * Majority quorums over the voting members (observers are never members).
 */
import type { PeerId } from '../ids.js';

export function majorityOf(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** True when the voters in `ids` (non-voters ignored, duplicates counted once) are a majority. */
export function isQuorum(voters: readonly PeerId[], ids: Iterable<PeerId>): boolean {
  const seen = new Set<PeerId>();
  for (const id of ids) if (voters.includes(id)) seen.add(id);
  return seen.size >= majorityOf(voters.length);
}

/**
 * The largest value that a majority of voters has reached: sort the per-voter values descending
 * and take the majority-th. Voters without a value count as `floor`. Used for the commit point
 * (cumulative durable acks) and the lease (echoed heartbeats).
 */
export function quorumValue<T extends bigint | number>(
  voters: readonly PeerId[],
  valueOf: (voter: PeerId) => T | undefined,
  floor: T,
): T {
  // Hot (every ack, every proposal's lease check): an insertion sort of a few values, no
  // comparator closure.
  const values: T[] = new Array<T>(voters.length);
  for (let i = 0; i < voters.length; i++) {
    const value = valueOf(voters[i]!) ?? floor;
    let j = i;
    for (; j > 0 && values[j - 1]! < value; j--) values[j] = values[j - 1]!;
    values[j] = value;
  }
  return values[majorityOf(voters.length) - 1] ?? floor;
}
