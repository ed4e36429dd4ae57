/**
 * Goal: the Zab core keeps its safety invariants (one established leader per epoch, no valid
 * lease beside a newly established leader, one committed prefix, every acknowledged write
 * durable on a majority, linearizable syncs) under random crashes, restarts, crashes inside a
 * Ready, partitions, message loss, reordering, half-open connections and slow clocks, and
 * regains liveness once healed. Method: the deterministic
 * simulator (run-seed.ts) over seeds 1..750; a failure prints
 * `npm run sim -- --seed N` to replay it. Seeds are split over 4 files for parallel runners.
 */
import { test } from 'node:test';
import { assertSeedsPass } from './seed-range.test-support.js';

test('simulator seeds 1..750', () => {
  assertSeedsPass(1, 750);
});
