/**
 * Client-protocol framing on the way out: a big-endian int32 that counts the payload bytes
 * (not itself), then the payload. Every serializer returns a fresh Buffer the caller owns.
 *
 * One writer is shared by all serializers: encoding is synchronous and never re-enters
 * `writeFrame`, and each call starts with `reset()`, so a throw half-way (a value out of
 * jute's range) leaves nothing behind. Its buffer grows to the largest frame written and
 * stays that size; frames are bounded by what callers serialize (replies to requests that
 * passed `requestBytesMax`, and our own requests).
 */
import { JuteWriter } from '../jute/jute-writer.js';
import { FRAME_LENGTH_BYTES } from './wire-limits.js';

const INITIAL_FRAME_BYTES = 4096;
const sharedWriter = new JuteWriter(INITIAL_FRAME_BYTES);

/** Runs `writePayload` after a length placeholder, patches the length, returns a copy. */
export function writeFrame(writePayload: (writer: JuteWriter) => void): Buffer {
  const writer = sharedWriter.reset();
  writer.writeInt(0);
  writePayload(writer);
  writer.patchInt(0, writer.length - FRAME_LENGTH_BYTES);
  return writer.toBuffer();
}

/**
 * Like `writeFrame`, but appends the frame to `target` (a connection's outbox) instead of
 * returning a copy: no allocation per frame. Encoding happens in the shared writer first, so
 * a throw half-way leaves `target` untouched.
 */
export function appendFrame(target: JuteWriter, writePayload: (writer: JuteWriter) => void): void {
  const writer = sharedWriter.reset();
  writer.writeInt(0);
  writePayload(writer);
  writer.patchInt(0, writer.length - FRAME_LENGTH_BYTES);
  target.writeRaw(writer.finish());
}
