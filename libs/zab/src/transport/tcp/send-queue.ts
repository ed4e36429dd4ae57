/**
 * A per-peer FIFO of payloads waiting to be written, bounded in count and in bytes.
 *
 * `offer` refuses (returns false) rather than grow past either bound: the caller drops the
 * payload and counts it. Payloads are held by reference (never copied); `shift` is O(1)
 * amortised (a head index, compacted when the dead prefix is large).
 */
import { assert } from '../../util/assert.js';

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

  /** The next payload without removing it. */
  peek(): Buffer | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
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

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytesQueued = 0;
  }
}

const EMPTY = Buffer.alloc(0);
