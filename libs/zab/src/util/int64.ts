/**
 * 64-bit big-endian reads and writes of `bigint`s without the intermediate BigInts that
 * Buffer's `writeBigInt64BE` / `readBigInt64BE` allocate (three to four per call): a value
 * goes through one 8-byte scratch typed array, so a write allocates nothing and a read
 * allocates only its result. Zxids, session ids and times cross these on every write, several
 * times each (txn records, Stats, reply headers).
 *
 * Writes wrap like a typed-array store (`BigInt.asIntN(64, value)` bit pattern): callers
 * pass values that fit in 64 bits (signed or unsigned); nothing here range-checks them.
 */
const signed = new BigInt64Array(1);
const unsigned = new BigUint64Array(signed.buffer);
const bytes = new Uint8Array(signed.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `value`'s 64-bit two's-complement pattern big-endian at `offset`. */
export function writeInt64BE(into: Uint8Array, value: bigint, offset: number): void {
  signed[0] = value;
  if (LITTLE_ENDIAN) {
    into[offset] = bytes[7]!;
    into[offset + 1] = bytes[6]!;
    into[offset + 2] = bytes[5]!;
    into[offset + 3] = bytes[4]!;
    into[offset + 4] = bytes[3]!;
    into[offset + 5] = bytes[2]!;
    into[offset + 6] = bytes[1]!;
    into[offset + 7] = bytes[0]!;
  } else {
    into.set(bytes, offset);
  }
}

function load(from: Uint8Array, offset: number): void {
  if (LITTLE_ENDIAN) {
    bytes[7] = from[offset]!;
    bytes[6] = from[offset + 1]!;
    bytes[5] = from[offset + 2]!;
    bytes[4] = from[offset + 3]!;
    bytes[3] = from[offset + 4]!;
    bytes[2] = from[offset + 5]!;
    bytes[1] = from[offset + 6]!;
    bytes[0] = from[offset + 7]!;
  } else {
    for (let i = 0; i < 8; i++) bytes[i] = from[offset + i]!;
  }
}

/** Reads a signed 64-bit big-endian integer at `offset` (the caller checked the bounds). */
export function readInt64BE(from: Uint8Array, offset: number): bigint {
  load(from, offset);
  return signed[0]!;
}

/** Reads an unsigned 64-bit big-endian integer at `offset` (the caller checked the bounds). */
export function readUint64BE(from: Uint8Array, offset: number): bigint {
  load(from, offset);
  return unsigned[0]!;
}
