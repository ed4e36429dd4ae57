/**
 * A per-peer FIFO of payloads waiting to be written, bounded in count and in bytes.
 *
 * `offer` refuses (returns false) rather than grow past either bound: the caller drops the
 * payload and counts it. Payloads are held by reference (`takeFrames` copies short ones into
 * one write buffer); `shift` is O(1)
 * amortised (a head index, compacted when the dead prefix is large).
 */
import { assert } from '../../util/assert.js';
import { FRAME_LENGTH_BYTES } from '../frame-encoder.js';

const COMPACT_AFTER_MESSAGES = 1024;

export class SendQueue {
  private items: Buffer[] = [];
  private head = 0;
  private bytesQueued = 0;

  constructor(
    readonly messagesMax: number,
    readonly bytesMax: number,
  ) {
    assert(messagesMax >= 1 && bytesMax >= 1, 'send queue bounds must be positive');
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.bytesQueued;
  }

  offer(payload: Buffer): boolean {
    if (this.length >= this.messagesMax) return false;
    if (this.bytesQueued + payload.length > this.bytesMax) return false;
    this.items.push(payload);
    this.bytesQueued += payload.length;
    return true;
  }

  shift(): Buffer | undefined {
    if (this.head >= this.items.length) return undefined;
    const payload = this.items[this.head]!;
    this.items[this.head] = EMPTY;
    this.head += 1;
    this.bytesQueued -= payload.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER_MESSAGES && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return payload;
  }

  /**
   * Removes the leading payloads shorter than `payloadBytesMax` whose frames (4-byte length
   * prefix + payload) fit in `bytesMax` together (always the first, if short) and returns
   * those frames copied into one new buffer, with how many payload bytes it carries. Returns
   * null when the queue is empty or its first payload is not short (written by reference).
   */
  takeFrames(bytesMax: number, payloadBytesMax: number):
    { frames: Buffer; count: number; payloadBytes: number } | null {
    let count = 0;
    let bytes = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const length = this.items[i]!.length;
      if (length >= payloadBytesMax) break;
      if (count > 0 && bytes + FRAME_LENGTH_BYTES + length > bytesMax) break;
      count += 1;
      bytes += FRAME_LENGTH_BYTES + length;
    }
    if (count === 0) return null;
    const frames = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const payload = this.shift()!;
      offset = frames.writeUInt32BE(payload.length, offset);
      offset += payload.copy(frames, offset);
    }
    return { frames, count, payloadBytes: bytes - count * FRAME_LENGTH_BYTES };
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytesQueued = 0;
  }
}

const EMPTY = Buffer.alloc(0);
