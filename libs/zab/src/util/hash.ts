/**
 * A small pure 64-bit non-cryptographic hash (two MurmurHash3-style 32-bit lanes with different
 * constants, cross-mixed at the end). It is the per-node hash of the data tree digest, which
 * ZooKeeper computes with CRC32; 64 bits make accidental digest collisions between diverged
 * replicas negligible. Not for adversarial input: it only detects divergence and corruption.
 *
 * Contract: the result depends only on the sequence of `add*` calls since `reset`, never on the
 * platform. Usage: `hash.reset().addInt(..).addBytes(..).finish()`, then read `low` and `high`
 * (unsigned 32-bit halves) or `value` (a bigint).
 */
export class Hash64 {
  private lane1 = 0;
  private lane2 = 0;
  private words = 0;
  /** Low 32 bits of the last `finish()`, unsigned. */
  low = 0;
  /** High 32 bits of the last `finish()`, unsigned. */
  high = 0;

  reset(seed = 0): this {
    this.lane1 = seed | 0;
    this.lane2 = (seed ^ 0x9e3779b9) | 0;
    this.words = 0;
    return this;
  }

  /** Mixes one 32-bit word (any number; only its low 32 bits count). */
  addInt(word: number): this {
    let k1 = Math.imul(word, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    let h1 = this.lane1 ^ k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    this.lane1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;

    let k2 = Math.imul(word, 0x85ebca6b);
    k2 = (k2 << 16) | (k2 >>> 16);
    k2 = Math.imul(k2, 0xc2b2ae35);
    let h2 = this.lane2 ^ k2;
    h2 = (h2 << 17) | (h2 >>> 15);
    this.lane2 = (Math.imul(h2, 5) + 0x561ccd1b) | 0;
    this.words++;
    return this;
  }

  /** Mixes a 64-bit value given as its low and high 32-bit halves. */
  addLongWords(low: number, high: number): this {
    return this.addInt(low).addInt(high);
  }

  /** Mixes a 64-bit value (two's complement). Slower than `addLongWords` (bigint arithmetic). */
  addLong(value: bigint): this {
    const unsigned = BigInt.asUintN(64, value);
    return this.addInt(Number(unsigned & 0xffffffffn)).addInt(Number(unsigned >> 32n));
  }

  /** Mixes the length then the bytes `[start, end)`, four per word (little-endian). */
  addBytes(bytes: Uint8Array, start = 0, end = bytes.length): this {
    this.addInt(end - start);
    let i = start;
    for (; i + 4 <= end; i += 4) {
      this.addInt(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    }
    if (i < end) {
      let tail = 0;
      for (let shift = 0; i < end; i++, shift += 8) tail |= bytes[i]! << shift;
      this.addInt(tail);
    }
    return this;
  }

  /** Mixes the length then the UTF-16 code units of `text`, two per word. */
  addString(text: string): this {
    const length = text.length;
    this.addInt(length);
    let i = 0;
    for (; i + 2 <= length; i += 2) {
      this.addInt(text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
    }
    if (i < length) this.addInt(text.charCodeAt(i));
    return this;
  }

  /** Finalizes into `low` and `high`; the hash can keep being fed afterwards. */
  finish(): this {
    let h1 = this.lane1 ^ this.words;
    let h2 = this.lane2 ^ this.words;
    h1 = (h1 + h2) | 0;
    h2 = (h2 + h1) | 0;
    h1 = finalMix(h1);
    h2 = finalMix(h2);
    h1 = (h1 + h2) | 0;
    h2 = (h2 + h1) | 0;
    this.low = h1 >>> 0;
    this.high = h2 >>> 0;
    return this;
  }

  /** The last `finish()` as an unsigned 64-bit bigint. */
  get value(): bigint {
    return (BigInt(this.high) << 32n) | BigInt(this.low);
  }
}

function finalMix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * A sum of 64-bit values modulo 2^64 kept as two unsigned 32-bit numbers (no bigint on the hot
 * path): the AdHash accumulator of the tree digest. Adding and subtracting commute, so the sum
 * depends only on the multiset of values, not on the order of changes.
 */
export class Sum64 {
  low = 0;
  high = 0;

  add(low: number, high: number): void {
    const sumLow = this.low + low;
    const carry = sumLow > 0xffffffff ? 1 : 0;
    this.low = sumLow >>> 0;
    this.high = (this.high + high + carry) >>> 0;
  }

  subtract(low: number, high: number): void {
    const differenceLow = this.low - low;
    const borrow = differenceLow < 0 ? 1 : 0;
    this.low = differenceLow >>> 0;
    this.high = (this.high - high - borrow) >>> 0;
  }

  get value(): bigint {
    return (BigInt(this.high) << 32n) | BigInt(this.low);
  }
}
