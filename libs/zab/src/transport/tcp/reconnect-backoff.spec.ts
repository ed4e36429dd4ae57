/**
 * Goal: reconnect delays grow exponentially from the minimum, never pass the maximum, and
 * their jitter stays in the upper half of the nominal delay, whatever `random` returns.
 * Method: a table for the nominal curve (random fixed at 0 and at 1), then fast-check over
 * attempts, bounds and random draws against the stated bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { reconnectDelayMs } from './reconnect-backoff.js';

const bounds = { reconnectDelayMsMin: 50, reconnectDelayMsMax: 2000 };

test('the nominal delay doubles from the minimum up to the maximum', () => {
  const attempts = [0, 1, 2, 3, 4, 5, 6, 50, 10_000];
  const high = attempts.map((attempt) => reconnectDelayMs(attempt, bounds, () => 1));
  assert.deepEqual(high, [50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  const low = [0, 1, 6].map((attempt) => reconnectDelayMs(attempt, bounds, () => 0));
  assert.deepEqual(low, [25, 50, 1000]);
});

test('every delay lies in [nominal / 2, nominal] and never above the maximum', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -5, max: 100 }),
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.double({ min: -1, max: 2, noNaN: true }),
      (attempt, minimum, extra, draw) => {
        const limits = { reconnectDelayMsMin: minimum, reconnectDelayMsMax: minimum + extra };
        const delay = reconnectDelayMs(attempt, limits, () => draw);
        const nominal = Math.min(limits.reconnectDelayMsMax, minimum * 2 ** Math.max(attempt, 0));
        assert.ok(delay >= Math.floor(nominal / 2) && delay <= limits.reconnectDelayMsMax);
      },
    ),
  );
});
