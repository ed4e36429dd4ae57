/**
 * Jute encoder: ZooKeeper's record encoding. Big-endian; int = 4 bytes, long = 8 bytes,
 * boolean = 1 byte, buffer and ustring = int length (-1 for null) then the bytes (UTF-8 for
 * strings), vector = int count (-1 for null) then the elements.
 *
 * The writer owns one growable buffer; `finish()` returns a view of the bytes written so far,
 * which stays valid until the next write or `reset()` (callers that keep it must copy it).
 */
import { writeInt64BE } from '../util/int64.js';
const INITIAL_BYTES = 256;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

export class JuteWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.offset;
  }

  reset(): this {
    this.offset = 0;
    return this;
  }

  writeInt(value: number): this {
    this.ensure(4);
    this.buffer.writeInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }

  writeLong(value: bigint): this {
    if (value < LONG_MIN || value > LONG_MAX) {
      throw new RangeError(`jute long out of range: ${value}`);
    }
    this.ensure(8);
    writeInt64BE(this.buffer, value, this.offset);
    this.offset += 8;
    return this;
  }

  writeBool(value: boolean): this {
    this.ensure(1);
    this.buffer[this.offset++] = value ? 1 : 0;
    return this;
  }

  writeBuffer(value: Uint8Array | null): this {
    if (value === null) return this.writeInt(-1);
    this.writeInt(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  writeString(value: string | null): this {
    if (value === null) return this.writeInt(-1);
    const bytes = Buffer.byteLength(value, 'utf8');
    this.writeInt(bytes);
    this.ensure(bytes);
    this.offset += this.buffer.write(value, this.offset, bytes, 'utf8');
    return this;
  }

  /** Raw bytes with no length prefix. */
  writeRaw(value: Uint8Array): this {
    this.ensure(value.length);
    this.buffer.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  writeVector<T>(items: readonly T[] | null, writeItem: (writer: this, item: T) => void): this {
    if (items === null) return this.writeInt(-1);
    this.writeInt(items.length);
    for (const item of items) writeItem(this, item);
    return this;
  }

  /** Overwrites a previously written int at `at` (for length prefixes). */
  patchInt(at: number, value: number): this {
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  /** A view of the bytes written so far; valid until the next write or reset. */
  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }

  /** A copy of the bytes written so far, owned by the caller. */
  toBuffer(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.offset));
  }

  private ensure(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.offset + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, 0, this.offset);
    this.buffer = next;
  }
}
