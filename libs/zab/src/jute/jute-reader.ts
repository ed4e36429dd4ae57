/**
 * Jute decoder over one buffer (see jute-writer.ts for the encoding). Every read is bounds
 * checked and throws `JuteDecodeError` on truncated or malformed input, so untrusted bytes can
 * be decoded without crashing the replica. Buffers returned by `readBuffer` are views into the
 * input (no copy); callers that keep them beyond the input's life must copy.
 */
import { JuteDecodeError } from './jute-error.js';
import { readInt64BE } from '../util/int64.js';

export class JuteReader {
  private offset: number;
  private readonly end: number;

  constructor(
    private readonly buffer: Buffer,
    start = 0,
    end = buffer.length,
  ) {
    this.offset = start;
    this.end = end;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  readInt(): number {
    this.need(4, 'int');
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  readLong(): bigint {
    this.need(8, 'long');
    const value = readInt64BE(this.buffer, this.offset);
    this.offset += 8;
    return value;
  }

  readBool(): boolean {
    this.need(1, 'boolean');
    return this.buffer[this.offset++] !== 0;
  }

  readBuffer(): Buffer | null {
    const length = this.readInt();
    if (length === -1) return null;
    if (length < 0) throw new JuteDecodeError(`negative buffer length ${length} at ${this.offset - 4}`);
    this.need(length, 'buffer');
    const view = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  readString(): string | null {
    const length = this.readInt();
    if (length === -1) return null;
    if (length < 0) throw new JuteDecodeError(`negative string length ${length} at ${this.offset - 4}`);
    this.need(length, 'string');
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** Reads a vector; `maxItems` bounds the count so a hostile length cannot exhaust memory. */
  readVector<T>(readItem: (reader: this) => T, maxItems = this.remaining): T[] | null {
    const count = this.readInt();
    if (count === -1) return null;
    if (count < 0 || count > maxItems) {
      throw new JuteDecodeError(`bad vector length ${count} at ${this.offset - 4}`);
    }
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(readItem(this));
    return items;
  }

  readRaw(length: number): Buffer {
    this.need(length, 'bytes');
    const view = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  /** Throws unless every byte was consumed (trailing garbage is bad input). */
  expectEnd(what: string): void {
    if (this.offset !== this.end) {
      throw new JuteDecodeError(`${this.end - this.offset} unexpected trailing bytes after ${what}`);
    }
  }

  private need(bytes: number, what: string): void {
    if (this.offset + bytes > this.end) {
      throw new JuteDecodeError(
        `truncated ${what} at offset ${this.offset}: need ${bytes} bytes, have ${this.end - this.offset}`,
      );
    }
  }
}
