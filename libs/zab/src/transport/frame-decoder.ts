/**
 * Incremental decoder for length-prefixed peer frames (format in `frame-encoder.ts`).
 *
 * Contract:
 * - `push(chunk, onFrame)` accepts bytes split anywhere (inside the prefix, inside a payload,
 *   several frames in one chunk) and calls `onFrame` once per complete frame, in order.
 * - A payload that lies wholly inside one chunk is handed over as a view of that chunk
 *   (zero-copy); one that spans chunks is copied once into a buffer of its exact size. Either
 *   way the receiver owns the payload: the decoder never writes to it again. Socket chunks
 *   are fresh allocations, so a view stays valid; it keeps its chunk's memory alive.
 * - The prefix is checked against `frameBytesMax` before any payload byte is buffered, so
 *   the memory held for a partial frame is at most `frameBytesMax` plus 4 bytes. A frame over
 *   the limit is returned as a `FrameTooLargeError` value (pg-protocol style: no throw inside
 *   a socket callback) and the decoder stays failed: every later push returns the same error.
 * - `frameBytesMax` may be changed between frames (the handshake runs with a small limit and
 *   raises it once the peer is authenticated); it is read at each length prefix.
 */
import { assert } from '../util/assert.js';
import { FrameTooLargeError } from './errors/frame-errors.js';
import { FRAME_LENGTH_BYTES } from './frame-encoder.js';

const EMPTY_PAYLOAD = Buffer.alloc(0);

export class FrameDecoder {
  /** Payload bytes allowed in one frame; a longer frame fails the decoder. */
  frameBytesMax: number;
  private readonly header = Buffer.alloc(FRAME_LENGTH_BYTES);
  private headerBytesFilled = 0;
  /** The payload being assembled across chunks, or null between frames. */
  private payload: Buffer | null = null;
  private payloadBytesFilled = 0;
  private failure: FrameTooLargeError | null = null;

  constructor(frameBytesMax: number) {
    assert(
      Number.isInteger(frameBytesMax) && frameBytesMax >= 0,
      `bad frameBytesMax ${frameBytesMax}`,
    );
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held for a frame not yet complete (prefix bytes plus payload bytes). */
  get bufferedBytes(): number {
    return this.headerBytesFilled + this.payloadBytesFilled;
  }

  /** The error that failed this decoder, or null while it is healthy. */
  get failed(): FrameTooLargeError | null {
    return this.failure;
  }

  /** Decodes `chunk`; returns null, or the error that failed the decoder (no frame after it). */
  push(chunk: Buffer, onFrame: (payload: Buffer) => void): FrameTooLargeError | null {
    let offset = 0;
    while (offset < chunk.length && this.failure === null) {
      if (this.payload !== null) {
        offset = this.fillPayload(chunk, offset, onFrame);
      } else if (this.headerBytesFilled === 0 && chunk.length - offset >= FRAME_LENGTH_BYTES) {
        offset = this.readWholePrefix(chunk, offset, onFrame);
      } else {
        offset = this.fillHeader(chunk, offset, onFrame);
      }
    }
    return this.failure;
  }

  /** Fast path: the prefix is whole in the chunk; a payload also whole in it is a view. */
  private readWholePrefix(chunk: Buffer, offset: number, onFrame: (p: Buffer) => void): number {
    const payloadBytes = chunk.readUInt32BE(offset);
    const payloadStart = offset + FRAME_LENGTH_BYTES;
    if (!this.checkLength(payloadBytes)) return chunk.length;
    if (chunk.length - payloadStart >= payloadBytes) {
      onFrame(chunk.subarray(payloadStart, payloadStart + payloadBytes));
      return payloadStart + payloadBytes;
    }
    this.beginPayload(payloadBytes);
    return payloadStart;
  }

  /** Slow path: the prefix itself is split across chunks. */
  private fillHeader(chunk: Buffer, offset: number, onFrame: (p: Buffer) => void): number {
    const wanted = FRAME_LENGTH_BYTES - this.headerBytesFilled;
    const end = Math.min(chunk.length, offset + wanted);
    chunk.copy(this.header, this.headerBytesFilled, offset, end);
    this.headerBytesFilled += end - offset;
    if (this.headerBytesFilled < FRAME_LENGTH_BYTES) return end;
    this.headerBytesFilled = 0;
    const payloadBytes = this.header.readUInt32BE(0);
    if (!this.checkLength(payloadBytes)) return chunk.length;
    if (payloadBytes === 0) onFrame(EMPTY_PAYLOAD);
    else this.beginPayload(payloadBytes);
    return end;
  }

  private fillPayload(chunk: Buffer, offset: number, onFrame: (p: Buffer) => void): number {
    const payload = this.payload;
    assert(payload !== null, 'fillPayload without a payload in progress');
    const end = Math.min(chunk.length, offset + payload.length - this.payloadBytesFilled);
    chunk.copy(payload, this.payloadBytesFilled, offset, end);
    this.payloadBytesFilled += end - offset;
    if (this.payloadBytesFilled === payload.length) {
      this.payload = null;
      this.payloadBytesFilled = 0;
      onFrame(payload);
    }
    return end;
  }

  private beginPayload(payloadBytes: number): void {
    this.payload = Buffer.allocUnsafe(payloadBytes);
    this.payloadBytesFilled = 0;
  }

  private checkLength(payloadBytes: number): boolean {
    if (payloadBytes <= this.frameBytesMax) return true;
    this.failure = new FrameTooLargeError(payloadBytes, this.frameBytesMax);
    this.headerBytesFilled = 0;
    return false;
  }
}
