/**
 * Identifiers of the Zab protocol and the replicated state.
 *
 * A zxid is ZooKeeper's 64-bit transaction id: the epoch in the high 32 bits and a counter in
 * the low 32 bits. Zxids and session ids are `bigint`, never `number` (exact only to 2^53).
 */
import { assert } from '../util/assert.js';

export type Zxid = bigint;
export type Epoch = number;
export type SessionId = bigint;
export type PeerId = number;

export const ZXID_COUNTER_MAX = 0xffffffffn;

export function makeZxid(epoch: Epoch, counter: number | bigint): Zxid {
  assert(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, `bad epoch ${epoch}`);
  const c = BigInt(counter);
  assert(c >= 0n && c <= ZXID_COUNTER_MAX, `bad zxid counter ${c}`);
  return (BigInt(epoch) << 32n) | c;
}

export function epochOf(zxid: Zxid): Epoch {
  return Number(zxid >> 32n);
}

export function counterOf(zxid: Zxid): number {
  return Number(zxid & ZXID_COUNTER_MAX);
}

/** `0x100000003` style, as ZooKeeper prints zxids and names its files. */
export function zxidToHex(zxid: Zxid): string {
  return '0x' + zxid.toString(16);
}
