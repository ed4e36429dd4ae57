/**
 * Goal: the per-peer send queue is FIFO, refuses at exactly its message and byte bounds,
 * and keeps its byte count exact through long runs (compaction included).
 * Method: edge cases by hand, then fast-check offer/shift sequences against an array model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SendQueue } from './send-queue.js';

test('the queue refuses at its message bound and at its byte bound, not before', () => {
  const byCount = new SendQueue(2, 100);
  assert.equal(byCount.offer(Buffer.alloc(1)), true);
  assert.equal(byCount.offer(Buffer.alloc(1)), true);
  assert.equal(byCount.offer(Buffer.alloc(1)), false);
  const byBytes = new SendQueue(10, 100);
  assert.equal(byBytes.offer(Buffer.alloc(60)), true);
  assert.equal(byBytes.offer(Buffer.alloc(40)), true);
  assert.equal(byBytes.offer(Buffer.alloc(1)), false);
  assert.equal(byBytes.bytes, 100);
  byBytes.shift();
  assert.equal(byBytes.offer(Buffer.alloc(60)), true);
});

test('offer/shift sequences match a FIFO model, with exact byte counts', () => {
  const step = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(-1));
  fc.assert(
    fc.property(fc.array(step, { maxLength: 4000 }), (steps) => {
      const queue = new SendQueue(3000, 40_000);
      const model: Buffer[] = [];
      let sequence = 0;
      for (const size of steps) {
        if (size < 0) {
          assert.equal(queue.shift(), model.shift());
        } else {
          const payload = Buffer.alloc(size, sequence++ % 256);
          const modelBytes = model.reduce((sum, item) => sum + item.length, 0);
          const fits = model.length < 3000 && modelBytes + size <= 40_000;
          assert.equal(queue.offer(payload), fits);
          if (fits) model.push(payload);
        }
        assert.equal(queue.length, model.length);
      }
      assert.equal(queue.bytes, model.reduce((sum, item) => sum + item.length, 0));
    }),
    { numRuns: 30 },
  );
});
