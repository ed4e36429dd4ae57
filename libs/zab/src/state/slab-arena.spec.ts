/**
 * Goal: the slab arena never loses or corrupts a live value through appends, releases and
 * compactions, and views handed out earlier keep their bytes after their region is released
 * or moved (regions are never overwritten).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SlabArena, type SlabOwner } from './slab-arena.js';

/** A minimal owner: one value per owner id, its location tracked in maps. */
class Owner implements SlabOwner {
  readonly location = new Map<number, { slab: number; offset: number; length: number }>();
  moves = 0;
  isAt(owner: number, slab: number, offset: number): boolean {
    const at = this.location.get(owner);
    return at !== undefined && at.slab === slab && at.offset === offset;
  }
  moved(owner: number, slab: number, offset: number): void {
    const at = this.location.get(owner)!;
    this.location.set(owner, { slab, offset, length: at.length });
    this.moves++;
  }
}

type Step = { op: 'put'; owner: number; bytes: Uint8Array } | { op: 'remove'; owner: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    owner: fc.integer({ min: 0, max: 30 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 90 }),
  }),
  fc.record({ op: fc.constant('remove' as const), owner: fc.integer({ min: 0, max: 30 }) }),
);

describe('SlabArena', () => {
  test('live values and earlier views stay intact through compaction (property)', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 300, size: 'max' }), (steps) => {
        const owner = new Owner();
        const arena = new SlabArena(owner, { slabBytes: 256 });
        const expected = new Map<number, Buffer>();
        const views: Array<[Buffer, Buffer]> = [];
        for (const step of steps) {
          const previous = owner.location.get(step.owner);
          if (step.op === 'put') {
            const slab = arena.append(step.owner, step.bytes);
            // Re-read: the append may have compacted the previous region elsewhere.
            const old = owner.location.get(step.owner);
            owner.location.set(step.owner, {
              slab,
              offset: arena.appendedOffset,
              length: step.bytes.length,
            });
            if (old !== undefined) arena.release(old.slab, old.offset, old.length);
            expected.set(step.owner, Buffer.from(step.bytes));
          } else if (previous !== undefined) {
            owner.location.delete(step.owner);
            arena.release(previous.slab, previous.offset, previous.length);
            expected.delete(step.owner);
          }
          for (const [id, bytes] of expected) {
            const at = owner.location.get(id)!;
            const view = arena.view(at.slab, at.offset, at.length);
            assert.deepEqual(view, bytes);
            if (views.length < 200) views.push([view, Buffer.from(bytes)]);
          }
        }
        for (const [view, bytes] of views) assert.deepEqual(view, bytes);
      }),
      { numRuns: 200 },
    );
  });

  test('compaction frees slabs once most of their bytes are garbage', () => {
    const owner = new Owner();
    const arena = new SlabArena(owner, { slabBytes: 1024 });
    for (let id = 0; id < 200; id++) {
      const slab = arena.append(id, Buffer.alloc(40, id));
      owner.location.set(id, { slab, offset: arena.appendedOffset, length: 40 });
    }
    const full = arena.slabCount;
    const kept = arena.view(owner.location.get(1)!.slab, owner.location.get(1)!.offset, 40);
    for (let id = 0; id < 200; id++) {
      if (id % 10 === 1) continue;
      const at = owner.location.get(id)!;
      owner.location.delete(id);
      arena.release(at.slab, at.offset, at.length);
    }
    assert.ok(arena.slabCount < full / 2, `${arena.slabCount} slabs of ${full}`);
    assert.ok(owner.moves > 0);
    for (const [id, at] of owner.location)
      assert.deepEqual(arena.view(at.slab, at.offset, 40), Buffer.alloc(40, id));
    assert.deepEqual(kept, Buffer.alloc(40, 1));
  });

  test('a large value gets its own slab, dropped on release', () => {
    const owner = new Owner();
    const arena = new SlabArena(owner, { slabBytes: 1024 });
    const slab = arena.append(1, Buffer.alloc(5000, 7));
    const view = arena.view(slab, arena.appendedOffset, 5000);
    assert.equal(arena.slabCount, 1);
    arena.release(slab, 0, 5000);
    assert.equal(arena.slabCount, 0);
    assert.deepEqual(view, Buffer.alloc(5000, 7));
  });
});
