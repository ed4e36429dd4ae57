/**
 * Identifiers of the Zab protocol and the replicated state.
 *
 * A zxid is ZooKeeper's 64-bit transaction id: the epoch in the high 32 bits and a counter in
 * the low 32 bits. Zxids and session ids are `bigint`, never `number` (exact only to 2^53).
 */
import { invariantFailed } from '../util/assert.js';

export type Zxid = bigint;
export type Epoch = number;
export type SessionId = bigint;
export type PeerId = number;

export const ZXID_COUNTER_MAX = 0xffffffffn;

const TWO_32 = 4294967296;
/** Below this epoch, epoch * 2^32 + counter is an exact double: one BigInt instead of four. */
const EXACT_EPOCH_LIMIT = 0x200000;

export function makeZxid(epoch: Epoch, counter: number | bigint): Zxid {
  if (!(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff)) {
    invariantFailed(`bad epoch ${epoch}`);
  }
  if (typeof counter === 'number') {
    if (!(Number.isInteger(counter) && counter >= 0 && counter <= 0xffffffff)) {
      invariantFailed(`bad zxid counter ${counter}`);
    }
    if (epoch < EXACT_EPOCH_LIMIT) return BigInt(epoch * TWO_32 + counter);
    return (BigInt(epoch) << 32n) | BigInt(counter);
  }
  if (!(counter >= 0n && counter <= ZXID_COUNTER_MAX)) {
    invariantFailed(`bad zxid counter ${counter}`);
  }
  return (BigInt(epoch) << 32n) | counter;
}

export function epochOf(zxid: Zxid): Epoch {
  const value = Number(zxid);
  // Exact (no rounding) up to 2^53; only far larger (or negative) ones need BigInt arithmetic.
  if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) return Math.floor(value / TWO_32);
  return Number(zxid >> 32n);
}

export function counterOf(zxid: Zxid): number {
  const value = Number(zxid);
  if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) return value % TWO_32;
  return Number(zxid & ZXID_COUNTER_MAX);
}

/** `0x100000003` style, as ZooKeeper prints zxids and names its files. */
export function zxidToHex(zxid: Zxid): string {
  return '0x' + zxid.toString(16);
}
