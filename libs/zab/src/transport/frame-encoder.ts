/**
 * Peer frame encoding: a 4-byte big-endian unsigned length prefix, then the payload.
 *
 * The length counts the payload bytes only: it does NOT include the 4 bytes of the prefix
 * itself (unlike pg-protocol, whose length includes itself). A zero-length frame is legal.
 */
import { invariantFailed } from '../util/assert.js';

/** Bytes of the length prefix in front of every frame. */
export const FRAME_LENGTH_BYTES = 4;

/** The largest payload a 4-byte unsigned prefix can announce. */
export const FRAME_PAYLOAD_BYTES_LIMIT = 0xffffffff;

/** The length prefix for a payload of `payloadBytes` bytes (a fresh 4-byte buffer). */
export function encodeFrameHeader(payloadBytes: number): Buffer {
  const fits = Number.isInteger(payloadBytes) && payloadBytes >= 0;
  if (!(fits && payloadBytes <= FRAME_PAYLOAD_BYTES_LIMIT)) {
    invariantFailed(`frame payload length ${payloadBytes} does not fit a 4-byte prefix`);
  }
  const header = Buffer.allocUnsafe(FRAME_LENGTH_BYTES);
  header.writeUInt32BE(payloadBytes, 0);
  return header;
}

/**
 * Prefix and payload copied into one new buffer. For small control frames (the handshake);
 * the send path copies short frames into one buffer per socket write (`SendQueue.takeFrames`)
 * and writes a long payload after its `encodeFrameHeader` prefix, by reference.
 */
export function encodeFrame(payload: Buffer): Buffer {
  return Buffer.concat([encodeFrameHeader(payload.length), payload]);
}
