/**
 * Goal: the peer frame decoder returns exactly the frames that were encoded, whatever the
 * chunking of the byte stream, and never buffers more than `frameBytesMax` for untrusted input.
 * Method: expected bytes come from an independent encoder in this file (DataView, not
 * `encodeFrame`), so an encoder bug cannot hide a decoder bug; fast-check draws frame lists
 * and the tests split their concatenation at every offset (two chunks), at random multi-way
 * cut points, and one byte at a time; the limit is checked at max and max + 1, with the prefix
 * whole and split; random garbage must either decode or fail with FrameTooLargeError, never
 * throw and never hold more than the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder } from './frame-decoder.js';
import { encodeFrame, encodeFrameHeader, FRAME_LENGTH_BYTES } from './frame-encoder.js';
import { FrameTooLargeError } from './errors/frame-errors.js';

/** Independent encoder: big-endian length of the payload only, then the payload. */
function referenceFrames(payloads: Uint8Array[]): Buffer {
  const total = payloads.reduce((sum, payload) => sum + 4 + payload.length, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const payload of payloads) {
    view.setUint32(offset, payload.length, false);
    bytes.set(payload, offset + 4);
    offset += 4 + payload.length;
  }
  return Buffer.from(bytes.buffer);
}

function decodeChunks(chunks: Buffer[], frameBytesMax = 1 << 20): Buffer[] {
  const decoder = new FrameDecoder(frameBytesMax);
  const frames: Buffer[] = [];
  for (const chunk of chunks) {
    assert.equal(decoder.push(chunk, (frame) => frames.push(Buffer.from(frame))), null);
  }
  assert.equal(decoder.bufferedBytes, 0, 'no partial frame left after the last chunk');
  return frames;
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

const payloadsArbitrary = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), {
  minLength: 1,
  maxLength: 6,
});

test('the encoder matches the independent encoder byte for byte', () => {
  fc.assert(
    fc.property(payloadsArbitrary, (payloads) => {
      const ours = Buffer.concat(payloads.map((payload) => encodeFrame(Buffer.from(payload))));
      assert.deepEqual(ours, referenceFrames(payloads));
    }),
  );
});

test('every two-chunk split of a multi-frame stream decodes to the same frames', () => {
  fc.assert(
    fc.property(payloadsArbitrary, (payloads) => {
      const bytes = referenceFrames(payloads);
      const expected = payloads.map((payload) => Buffer.from(payload));
      for (let cut = 0; cut <= bytes.length; cut += 1) {
        assert.deepEqual(decodeChunks([bytes.subarray(0, cut), bytes.subarray(cut)]), expected);
      }
    }),
    { numRuns: 200 },
  );
});

test('random multi-way splits and one byte at a time decode to the same frames', () => {
  fc.assert(
    fc.property(payloadsArbitrary, fc.array(fc.nat(), { maxLength: 12 }), (payloads, cuts) => {
      const bytes = referenceFrames(payloads);
      const expected = payloads.map((payload) => Buffer.from(payload));
      assert.deepEqual(decodeChunks(splitAt(bytes, cuts)), expected);
      const single = [...bytes].map((byte) => Buffer.from([byte]));
      assert.deepEqual(decodeChunks(single), expected);
    }),
    { numRuns: 300 },
  );
});

test('a payload whole inside one chunk is a view of that chunk (zero-copy)', () => {
  const chunk = referenceFrames([Buffer.from('alpha'), Buffer.from('beta')]);
  const frames: Buffer[] = [];
  new FrameDecoder(64).push(chunk, (frame) => frames.push(frame));
  assert.equal(frames.length, 2);
  for (const frame of frames) assert.equal(frame.buffer, chunk.buffer);
  assert.equal(frames[1]!.toString(), 'beta');
});

test('a frame of exactly frameBytesMax decodes; max + 1 fails before buffering its payload', () => {
  const frameBytesMax = 32;
  for (const split of [false, true]) {
    const atLimit = referenceFrames([Buffer.alloc(frameBytesMax, 7)]);
    const chunks = split ? [atLimit.subarray(0, 2), atLimit.subarray(2)] : [atLimit];
    assert.deepEqual(decodeChunks(chunks, frameBytesMax), [Buffer.alloc(frameBytesMax, 7)]);

    const decoder = new FrameDecoder(frameBytesMax);
    const overLimit = encodeFrameHeader(frameBytesMax + 1);
    const parts = split ? [overLimit.subarray(0, 3), overLimit.subarray(3)] : [overLimit];
    let error: FrameTooLargeError | null = null;
    for (const part of parts) error = decoder.push(part, () => assert.fail('no frame expected'));
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.frameBytes, frameBytesMax + 1);
    assert.equal(error.frameBytesMax, frameBytesMax);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test('a failed decoder stays failed and delivers no later frame', () => {
  const decoder = new FrameDecoder(8);
  const good = referenceFrames([Buffer.from('ok')]);
  const stream = Buffer.concat([good, encodeFrameHeader(9), good]);
  const frames: string[] = [];
  const first = decoder.push(stream, (frame) => frames.push(frame.toString()));
  assert.ok(first instanceof FrameTooLargeError);
  assert.deepEqual(frames, ['ok']);
  assert.equal(decoder.push(good, () => assert.fail('failed decoder delivered a frame')), first);
  assert.equal(decoder.failed, first);
});

test('the limit can be raised between frames (handshake then payload)', () => {
  const decoder = new FrameDecoder(4);
  const frames: number[] = [];
  const stream = referenceFrames([Buffer.alloc(4), Buffer.alloc(100)]);
  const error = decoder.push(stream, (frame) => {
    frames.push(frame.length);
    decoder.frameBytesMax = 1000;
  });
  assert.equal(error, null);
  assert.deepEqual(frames, [4, 100]);
});

test('garbage bytes decode or fail with FrameTooLargeError, never throw, stay bounded', () => {
  const frameBytesMax = 64;
  const garbageArbitrary = fc.uint8Array({ maxLength: 300 });
  fc.assert(
    fc.property(garbageArbitrary, fc.array(fc.nat(), { maxLength: 8 }), (garbage, cuts) => {
      const decoder = new FrameDecoder(frameBytesMax);
      let delivered = 0;
      for (const chunk of splitAt(Buffer.from(garbage), cuts)) {
        const error = decoder.push(chunk, (frame) => {
          assert.ok(frame.length <= frameBytesMax);
          delivered += FRAME_LENGTH_BYTES + frame.length;
        });
        assert.ok(decoder.bufferedBytes <= frameBytesMax + FRAME_LENGTH_BYTES);
        if (error !== null) {
          assert.ok(error instanceof FrameTooLargeError);
          return;
        }
      }
      assert.equal(delivered + decoder.bufferedBytes, garbage.length);
    }),
    { numRuns: 500 },
  );
});
