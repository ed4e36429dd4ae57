/**
 * Goal: the per-peer send queue is FIFO, refuses at exactly its message and byte bounds,
 * and keeps its byte count exact through long runs (compaction included); `takeFrames`
 * coalesces the leading short payloads into one buffer of frames within its byte bound and
 * leaves a long payload to be written by reference.
 * Method: edge cases by hand, then fast-check offer/shift sequences against an array model;
 * coalesced buffers are decoded back with the transport's FrameDecoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder } from '../frame-decoder.js';
import { SendQueue } from './send-queue.js';

function decodeFrames(bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  assert.equal(new FrameDecoder(1 << 20).push(bytes, (frame) => frames.push(frame)), null);
  return frames;
}

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

test('takeFrames: the leading short payloads become one buffer of frames, within its bound', () => {
  const queue = new SendQueue(100, 1 << 20);
  const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(30, 2), Buffer.alloc(40, 3)];
  for (const payload of payloads) queue.offer(payload);
  // 4+1 + 4+0 + 4+30 = 43 bytes fit in 50; the 40-byte payload's frame does not.
  const first = queue.takeFrames(50, 1000);
  assert.ok(first !== null);
  assert.equal(first.count, 3);
  assert.equal(first.payloadBytes, 31);
  assert.equal(first.frames.length, 43);
  assert.deepEqual(decodeFrames(first.frames), payloads.slice(0, 3));
  assert.equal(queue.length, 1);
  assert.equal(queue.bytes, 40);
  // A first frame over the bound still goes alone (never an empty take).
  const second = queue.takeFrames(10, 1000);
  assert.deepEqual(second === null ? null : decodeFrames(second.frames), [payloads[3]]);
  assert.equal(queue.length, 0);
  assert.equal(queue.bytes, 0);
  assert.equal(queue.takeFrames(50, 1000), null, 'empty queue');
});

test('takeFrames stops before a long payload and returns null when one is first', () => {
  const queue = new SendQueue(100, 1 << 20);
  const long = Buffer.alloc(2000, 7);
  queue.offer(Buffer.from('x'));
  queue.offer(long);
  queue.offer(Buffer.from('y'));
  assert.deepEqual(decodeFrames(queue.takeFrames(1 << 16, 1000)!.frames), [Buffer.from('x')]);
  assert.equal(queue.takeFrames(1 << 16, 1000), null, 'a long payload is not copied');
  assert.equal(queue.shift(), long, 'it is still first, the same buffer');
  assert.deepEqual(decodeFrames(queue.takeFrames(1 << 16, 1000)!.frames), [Buffer.from('y')]);
});
