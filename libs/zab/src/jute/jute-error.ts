/** Raised when bytes do not decode as the expected jute record (bad or truncated input). */
export class JuteDecodeError extends Error {
  override readonly name = 'JuteDecodeError';
}
