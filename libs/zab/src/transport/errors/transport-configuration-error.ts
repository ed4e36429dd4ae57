/** Options that cannot work; lists every problem at once, each with what was given. */
export class TransportConfigurationError extends Error {
  override readonly name = 'TransportConfigurationError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid peer transport options:\n  - ${problems.join('\n  - ')}`);
  }
}
