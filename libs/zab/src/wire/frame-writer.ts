/**
 * Client-protocol framing on the way out: a big-endian int32 that counts the payload bytes
 * (not itself), then the payload. Every serializer returns a fresh Buffer the caller owns.
 */
import { JuteWriter } from '../jute/jute-writer.js';
import { FRAME_LENGTH_BYTES } from './wire-limits.js';

/** Runs `writePayload` after a length placeholder, patches the length, returns a copy. */
export function writeFrame(writePayload: (writer: JuteWriter) => void): Buffer {
  const writer = new JuteWriter();
  writer.writeInt(0);
  writePayload(writer);
  writer.patchInt(0, writer.length - FRAME_LENGTH_BYTES);
  return writer.toBuffer();
}
