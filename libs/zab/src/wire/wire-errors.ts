/**
 * A frame whose payload exceeds `requestBytesMax`. Returned as a value by the parsers (never
 * thrown inside a socket callback); the connection that sent it is closed with this message.
 */
export class RequestTooLargeError extends Error {
  override readonly name = 'RequestTooLargeError';
  constructor(
    readonly requestBytes: number,
    readonly requestBytesMax: number,
  ) {
    super(`request of ${requestBytes} payload bytes exceeds requestBytesMax ${requestBytesMax}`);
  }
}
