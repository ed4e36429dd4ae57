/**
 * The failure values every parser returns instead of throwing (pg-protocol style: no throw
 * inside a socket callback). Either one closes the connection that sent the frame, with the
 * error's message logged.
 */
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteReader } from '../jute/jute-reader.js';

export type WireParseFailure<TooLarge extends Error> =
  | { kind: 'malformed'; error: JuteDecodeError }
  | { kind: 'tooLarge'; error: TooLarge };

/**
 * Checks the payload size against `bytesMax`, then runs `decode` over it; a
 * `JuteDecodeError` becomes a `malformed` value, any other throw (a broken invariant)
 * propagates.
 */
export function parsePayload<T, TooLarge extends Error>(
  payload: Buffer,
  bytesMax: number,
  tooLarge: (bytes: number, bytesMax: number) => TooLarge,
  decode: (reader: JuteReader) => T,
): T | WireParseFailure<TooLarge> {
  if (payload.length > bytesMax) {
    return { kind: 'tooLarge', error: tooLarge(payload.length, bytesMax) };
  }
  try {
    return decode(new JuteReader(payload));
  } catch (error) {
    if (error instanceof JuteDecodeError) return { kind: 'malformed', error };
    throw error;
  }
}
