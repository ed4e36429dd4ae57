/**
 * Goal: the lag guard's rule: the lag is how much later than its interval the timer fired
 * (never negative, nothing on the first firing), and only a lag past the limit (a fraction of
 * the election timeout) counts as a stall. Method: times passed in by hand (pure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopLagGuard, STALL_LIMIT_FRACTION } from './loop-lag-guard.js';

test('lag is how late the timer fired; only a lag past the limit is a stall', () => {
  const guard = new LoopLagGuard(50, 125);
  assert.equal(guard.note(1_000), 0, 'the first firing has nothing to compare with');
  assert.equal(guard.note(1_050), 0, 'on time');
  assert.equal(guard.note(1_090), 0, 'early is not negative lag');
  assert.equal(guard.note(1_265), 125);
  assert.equal(guard.stalled(125), false, 'at the limit is not past it');
  assert.equal(guard.note(5_315), 4_000);
  assert.equal(guard.stalled(4_000), true);
  assert.equal(guard.maxLagMs, 4_000);
  assert.equal(guard.note(5_365), 0, 'measured from the previous firing, not the start');
});

test('the limit is a fraction of the election timeout (syncLimit ticks)', () => {
  const guard = LoopLagGuard.forTiming(2_000, 5);
  assert.equal(guard.intervalMs, 2_000);
  assert.equal(guard.stallLimitMs, STALL_LIMIT_FRACTION * 10_000);
  assert.throws(() => new LoopLagGuard(0, 10), RangeError);
});
