/**
 * The failure values every parser returns instead of throwing (pg-protocol style: no throw
 * inside a socket callback). Either one closes the connection that sent the frame, with the
 * error's message logged.
 */
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteReader } from '../jute/jute-reader.js';
import { RequestTooLargeError } from './wire-errors.js';
import type { WireLimits } from './wire-limits.js';

export type WireParseFailure =
  | { kind: 'malformed'; error: JuteDecodeError }
  | { kind: 'tooLarge'; error: RequestTooLargeError };

/**
 * Checks the payload size, then runs `decode` over it; a `JuteDecodeError` becomes a
 * `malformed` value, any other throw (a broken invariant) propagates.
 */
export function parsePayload<T>(
  payload: Buffer,
  limits: WireLimits,
  decode: (reader: JuteReader) => T,
): T | WireParseFailure {
  if (payload.length > limits.requestBytesMax) {
    return {
      kind: 'tooLarge',
      error: new RequestTooLargeError(payload.length, limits.requestBytesMax),
    };
  }
  try {
    return decode(new JuteReader(payload));
  } catch (error) {
    if (error instanceof JuteDecodeError) return { kind: 'malformed', error };
    throw error;
  }
}
