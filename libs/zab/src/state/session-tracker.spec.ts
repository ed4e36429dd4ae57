/**
 * Goal: leader-side session expiry behaves like ZooKeeper's SessionTrackerImpl + ExpiryQueue:
 * deadlines rounded up to tick boundaries, per-tick batches, touches extend, closing sessions
 * are returned once and cannot be touched, negotiation clamps, and a leader change re-arms
 * every session with its full timeout.
 * Method: hand-computed tables, plus a fast-check property against a naive model that keeps
 * one deadline per session and scans them all.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvariantViolation } from '../util/assert.js';
import { SessionTracker } from './session-tracker.js';

const TICK = 100;

describe('SessionTracker', () => {
  test('negotiate clamps into [2, 20] ticks by default', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    assert.deepEqual([0, 150, 200, 1234, 2000, 99_999, Number.NaN].map((ms) =>
      tracker.negotiate(ms)), [200, 200, 200, 1234, 2000, 2000, 200]);
    const custom = new SessionTracker({
      tickMs: TICK, minSessionTimeoutMs: 500, maxSessionTimeoutMs: 700,
    });
    assert.deepEqual([100, 600, 900].map((ms) => custom.negotiate(ms)), [500, 600, 700]);
  });

  test('bad options are invariant violations', () => {
    assert.throws(() => new SessionTracker({ tickMs: 0 }), InvariantViolation);
    assert.throws(() => new SessionTracker({
      tickMs: 10, minSessionTimeoutMs: 50, maxSessionTimeoutMs: 40,
    }), InvariantViolation);
  });

  test('deadlines are rounded up to the next tick boundary', () => {
    const table: Array<[nowMs: number, timeoutMs: number, deadlineMs: number]> = [
      [0, 200, 300], [1, 200, 300], [99, 200, 300], [100, 200, 400], [150, 250, 500],
    ];
    for (const [nowMs, timeoutMs, deadlineMs] of table) {
      const tracker = new SessionTracker({ tickMs: TICK });
      tracker.add(1n, timeoutMs, nowMs);
      assert.equal(tracker.nextDeadlineMs(), deadlineMs, `now ${nowMs} timeout ${timeoutMs}`);
      assert.deepEqual(tracker.expired(deadlineMs - 1), []);
      assert.deepEqual(tracker.expired(deadlineMs), [1n]);
    }
  });

  test('sessions due in the same tick expire together, in id order, once', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    tracker.add(3n, 200, 10);
    tracker.add(1n, 200, 50);
    tracker.add(2n, 300, 0);
    assert.equal(tracker.size, 3);
    assert.deepEqual(tracker.expired(299), []);
    assert.deepEqual(tracker.expired(350), [1n, 3n]);
    assert.deepEqual(tracker.expired(350), [], 'each session is returned once');
    assert.deepEqual(tracker.expired(10_000), [2n]);
    assert.equal(tracker.size, 3, 'expired sessions stay known (closing) until removed');
    assert.equal(tracker.nextDeadlineMs(), undefined);
  });

  test('touch extends; touching an unknown or closing session fails', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    tracker.add(1n, 200, 0);
    assert.equal(tracker.touch(1n, 250), true);
    assert.equal(tracker.nextDeadlineMs(), 500);
    assert.deepEqual(tracker.expired(499), []);
    assert.deepEqual(tracker.expired(500), [1n]);
    assert.equal(tracker.touch(1n, 600), false, 'closing');
    assert.equal(tracker.isLive(1n), false);
    assert.equal(tracker.touch(9n, 600), false, 'unknown');
    tracker.remove(1n);
    assert.equal(tracker.size, 0);
    assert.equal(tracker.timeoutMsOf(1n), undefined);
  });

  test('expired returns earlier buckets first when the caller is late', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    tracker.add(5n, 500, 0);
    tracker.add(6n, 200, 0);
    assert.deepEqual(tracker.expired(5_000), [6n, 5n]);
  });

  test('setClosing stops expiry and touches; remove forgets', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    tracker.add(1n, 200, 0);
    tracker.setClosing(1n);
    assert.deepEqual(tracker.expired(10_000), []);
    assert.equal(tracker.touch(1n, 0), false);
    assert.equal(tracker.timeoutMsOf(1n), 200);
    tracker.remove(1n);
    tracker.remove(1n);
    assert.equal(tracker.size, 0);
  });

  test('resetAll gives every live session its full timeout from now', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    tracker.add(1n, 200, 0);
    tracker.add(2n, 2000, 0);
    tracker.add(3n, 200, 0);
    tracker.setClosing(3n);
    tracker.resetAll(1_000);
    assert.deepEqual(tracker.expired(1_299), []);
    assert.deepEqual(tracker.expired(1_300), [1n]);
    assert.deepEqual(tracker.expired(3_099), []);
    assert.deepEqual(tracker.expired(3_100), [2n]);
    assert.equal(tracker.touch(3n, 3_100), false, 'a closing session stays closing');
  });

  test('add of a known session re-tracks it', () => {
    const tracker = new SessionTracker({ tickMs: TICK });
    tracker.add(1n, 200, 0);
    tracker.add(1n, 400, 0);
    assert.equal(tracker.size, 1);
    assert.deepEqual(tracker.expired(499), []);
    assert.deepEqual(tracker.expired(500), [1n]);
  });

  test('matches a naive model under random operations (property)', () => {
    type Step =
      | { kind: 'add'; id: number; timeoutMs: number }
      | { kind: 'touch' | 'remove' | 'close'; id: number }
      | { kind: 'expire' | 'reset' };
    const idArbitrary = fc.integer({ min: 1, max: 6 });
    const stepArbitrary: fc.Arbitrary<{ step: Step; advanceMs: number }> = fc.record({
      step: fc.oneof(
        fc.record({ kind: fc.constant('add' as const), id: idArbitrary,
          timeoutMs: fc.integer({ min: 1, max: 900 }) }),
        fc.record({ kind: fc.constantFrom('touch' as const, 'remove' as const,
          'close' as const), id: idArbitrary }),
        fc.record({ kind: fc.constantFrom('expire' as const, 'reset' as const) }),
      ),
      advanceMs: fc.integer({ min: 0, max: 150 }),
    });
    fc.assert(fc.property(fc.array(stepArbitrary, { maxLength: 80, size: 'max' }), (steps) => {
      const tracker = new SessionTracker({ tickMs: TICK });
      // Naive model: id -> { timeout, deadline or undefined when closing }.
      const model = new Map<number, { timeoutMs: number; deadlineMs?: number }>();
      const round = (ms: number) => (Math.floor(ms / TICK) + 1) * TICK;
      let nowMs = 0;
      for (const { step, advanceMs } of steps) {
        nowMs += advanceMs;
        const id = 'id' in step ? BigInt(step.id) : 0n;
        const entry = 'id' in step ? model.get(step.id) : undefined;
        switch (step.kind) {
          case 'add':
            tracker.add(id, step.timeoutMs, nowMs);
            model.set(step.id, { timeoutMs: step.timeoutMs,
              deadlineMs: round(nowMs + step.timeoutMs) });
            break;
          case 'touch': {
            const live = entry?.deadlineMs !== undefined;
            assert.equal(tracker.touch(id, nowMs), live);
            if (live) entry!.deadlineMs = round(nowMs + entry!.timeoutMs);
            break;
          }
          case 'close':
            tracker.setClosing(id);
            if (entry !== undefined) delete entry.deadlineMs;
            break;
          case 'remove':
            tracker.remove(id);
            model.delete(step.id);
            break;
          case 'reset':
            tracker.resetAll(nowMs);
            for (const e of model.values()) {
              if (e.deadlineMs !== undefined) e.deadlineMs = round(nowMs + e.timeoutMs);
            }
            break;
          case 'expire': {
            const due = [...model.entries()]
              .filter(([, e]) => e.deadlineMs !== undefined && e.deadlineMs <= nowMs)
              .sort(([ia, a], [ib, b]) => a.deadlineMs! - b.deadlineMs! || ia - ib);
            for (const [, e] of due) delete e.deadlineMs;
            assert.deepEqual(tracker.expired(nowMs), due.map(([i]) => BigInt(i)));
            break;
          }
        }
        const deadlines = [...model.values()].flatMap((e) =>
          e.deadlineMs === undefined ? [] : [e.deadlineMs]);
        assert.equal(tracker.nextDeadlineMs(),
          deadlines.length === 0 ? undefined : Math.min(...deadlines));
        assert.equal(tracker.size, model.size);
      }
    }), { numRuns: 300 });
  });
});
