/**
 * Append-only slab arena for znode data: values live in a few big Buffers instead of one Buffer
 * per node (~100 bytes of V8 overhead each).
 *
 * Layout: each slab is a Buffer filled front to back with regions `owner (int32) | length
 * (int32) | bytes`. A region is written once and never modified afterwards, so a view of it
 * (`view`) stays valid for as long as the caller holds it, even after the region is released or
 * its slab is compacted (compaction copies the live regions into the current slab and drops the
 * old slab, which the garbage collector frees once no view refers to it). The data tree relies
 * on this to keep pre-images for an open snapshot cursor without copying.
 *
 * The arena knows owners only by their int id: compaction asks the `SlabOwner` whether a region
 * is still the owner's current value and tells it where the value moved.
 */
import { assert, invariantFailed } from '../util/assert.js';

/** Bytes of the `owner | length` header in front of every region. */
export const REGION_HEADER_BYTES = 8;

export interface SlabOwner {
  /** True when `owner`'s current value is the region starting at `offset` of slab `slab`. */
  isAt(owner: number, slab: number, offset: number): boolean;
  /** The region of `owner` moved to `offset` of slab `slab`. */
  moved(owner: number, slab: number, offset: number): void;
}

export interface SlabArenaOptions {
  /** Size of a shared slab; values larger than a quarter of it get their own slab. */
  slabBytes?: number;
  /** A full slab is compacted once this fraction of its bytes is released garbage. */
  garbageFractionMax?: number;
}

interface Slab {
  buffer: Buffer;
  /** Bytes written (the append position). */
  used: number;
  /** Bytes of released regions (headers included). */
  garbage: number;
}

const DEFAULT_SLAB_BYTES = 1 << 20;
const DEFAULT_GARBAGE_FRACTION_MAX = 0.5;

export class SlabArena {
  private readonly slabs: Array<Slab | undefined> = [];
  private readonly freeSlabIndexes: number[] = [];
  private current = -1;
  private readonly slabBytes: number;
  private readonly garbageFractionMax: number;
  /** Offset of the region written by the last `append` (its slab is the return value). */
  appendedOffset = 0;

  constructor(
    private readonly owner: SlabOwner,
    options: SlabArenaOptions = {},
  ) {
    this.slabBytes = options.slabBytes ?? DEFAULT_SLAB_BYTES;
    this.garbageFractionMax = options.garbageFractionMax ?? DEFAULT_GARBAGE_FRACTION_MAX;
    if (!(this.slabBytes >= 64)) invariantFailed(`slab too small: ${this.slabBytes}`);
  }

  /**
   * Copies `bytes[start, end)` into a new region owned by `owner`; returns the slab index and
   * sets `appendedOffset`. Empty values must not be stored (the caller keeps no region for them).
   */
  append(owner: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
    const length = end - start;
    assert(length > 0, 'empty values have no region');
    const regionBytes = length + REGION_HEADER_BYTES;
    let slabIndex: number;
    if (regionBytes > this.slabBytes >>> 2) {
      slabIndex = this.addSlab(regionBytes);
    } else {
      // Rolling may compact the previous slab into the new one, so check the room again.
      while (this.roomInCurrent() < regionBytes) this.rollCurrent();
      slabIndex = this.current;
    }
    const slab = this.slabs[slabIndex]!;
    const offset = slab.used;
    slab.buffer.writeInt32LE(owner, offset);
    slab.buffer.writeInt32LE(length, offset + 4);
    copyBytes(bytes, start, end, slab.buffer, offset + REGION_HEADER_BYTES);
    slab.used += regionBytes;
    this.appendedOffset = offset;
    return slabIndex;
  }

  /** A view of the value in the region; valid forever (regions are never overwritten). */
  view(slabIndex: number, offset: number, length: number): Buffer {
    const start = offset + REGION_HEADER_BYTES;
    return this.slabs[slabIndex]!.buffer.subarray(start, start + length);
  }

  /** The slab's Buffer and the value's start, for callers that hash or copy in place. */
  bufferOf(slabIndex: number): Buffer {
    return this.slabs[slabIndex]!.buffer;
  }

  /**
   * Marks a region garbage. May compact its slab (calling the owner's `moved` for every live
   * region of it), so the caller must have stopped pointing at the released region first.
   */
  release(slabIndex: number, offset: number, length: number): void {
    const slab = this.slabs[slabIndex];
    if (slab === undefined) invariantFailed(`release in a dropped slab ${slabIndex}`);
    assert(offset + REGION_HEADER_BYTES + length <= slab.used, 'release past the slab end');
    slab.garbage += length + REGION_HEADER_BYTES;
    if (slab.garbage > slab.used) {
      invariantFailed(`slab ${slabIndex} released more than it holds`);
    }
    if (slabIndex === this.current) return;
    if (slab.garbage === slab.used) this.dropSlab(slabIndex);
    else if (slab.garbage > slab.buffer.length * this.garbageFractionMax) this.compact(slabIndex);
  }

  /** Number of slabs held (for tests and metrics). */
  get slabCount(): number {
    return this.slabs.length - this.freeSlabIndexes.length;
  }

  /** Bytes allocated in slabs (for metrics). */
  get allocatedBytes(): number {
    let total = 0;
    for (const slab of this.slabs) if (slab !== undefined) total += slab.buffer.length;
    return total;
  }

  /** Live (not released) bytes, headers included, per slab index; for invariant checks. */
  liveBytesBySlab(): Map<number, number> {
    const live = new Map<number, number>();
    this.slabs.forEach((slab, index) => {
      if (slab !== undefined) live.set(index, slab.used - slab.garbage);
    });
    return live;
  }

  /** Copies the live regions of `slabIndex` into the current slab, then drops it. */
  compact(slabIndex: number): void {
    assert(slabIndex !== this.current, 'the current slab is never compacted');
    const slab = this.slabs[slabIndex]!;
    let offset = 0;
    while (offset < slab.used) {
      const owner = slab.buffer.readInt32LE(offset);
      const length = slab.buffer.readInt32LE(offset + 4);
      if (this.owner.isAt(owner, slabIndex, offset)) {
        const start = offset + REGION_HEADER_BYTES;
        const target = this.append(owner, slab.buffer, start, start + length);
        this.owner.moved(owner, target, this.appendedOffset);
      }
      offset += REGION_HEADER_BYTES + length;
    }
    this.dropSlab(slabIndex);
  }

  private roomInCurrent(): number {
    if (this.current < 0) return 0;
    const slab = this.slabs[this.current]!;
    return slab.buffer.length - slab.used;
  }

  private rollCurrent(): void {
    const previous = this.current;
    this.current = this.addSlab(this.slabBytes);
    if (previous < 0) return;
    const slab = this.slabs[previous]!;
    if (slab.garbage === slab.used) this.dropSlab(previous);
    else if (slab.garbage > slab.buffer.length * this.garbageFractionMax) this.compact(previous);
  }

  private addSlab(bytes: number): number {
    // allocUnsafeSlow: a slab must not share Node's pool, or views would pin unrelated memory.
    const slab: Slab = { buffer: Buffer.allocUnsafeSlow(bytes), used: 0, garbage: 0 };
    const index = this.freeSlabIndexes.pop();
    if (index === undefined) {
      this.slabs.push(slab);
      return this.slabs.length - 1;
    }
    this.slabs[index] = slab;
    return index;
  }

  private dropSlab(slabIndex: number): void {
    this.slabs[slabIndex] = undefined;
    this.freeSlabIndexes.push(slabIndex);
  }
}

/** Small copies byte by byte (cheaper than a native call for typical znode values). */
function copyBytes(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  at: number,
): void {
  if (end - start > 16) {
    target.set(source.subarray(start, end), at);
    return;
  }
  for (let i = start, j = at; i < end; i++, j++) target[j] = source[i]!;
}
