/**
 * Goal: the simulator's PRNG is deterministic per seed, splits into independent streams, and
 * stays in range. Method: replay equality, a split that does not disturb the parent's later
 * draws beyond the one split draw, and bounds over many draws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';

test('same seed, same draws; different seeds differ', () => {
  const draws = (seed: number) => Array.from({ length: 8 }, () => new Prng(seed).nextUint32());
  assert.deepEqual(draws(7), draws(7));
  const a = new Prng(1);
  const b = new Prng(2);
  assert.notDeepEqual([a.nextUint32(), a.nextUint32()], [b.nextUint32(), b.nextUint32()]);
});

test('split streams are reproducible and bounded draws stay in range', () => {
  const parent = new Prng(99);
  const child = parent.split();
  const again = new Prng(99).split();
  assert.deepEqual([child.nextUint32(), child.nextUint32()],
    [again.nextUint32(), again.nextUint32()]);
  for (let i = 0; i < 10_000; i++) {
    const value = parent.between(3, 7);
    assert.ok(value >= 3 && value <= 7 && Number.isInteger(value));
    const float = parent.nextFloat();
    assert.ok(float >= 0 && float < 1);
  }
});
