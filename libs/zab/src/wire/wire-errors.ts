/**
 * Frames over the limits in wire-limits.ts. Returned as values by the parsers (never thrown
 * inside a socket callback); the connection that sent the frame is closed with the message.
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

export class ReplyTooLargeError extends Error {
  override readonly name = 'ReplyTooLargeError';
  constructor(
    readonly replyBytes: number,
    readonly replyBytesMax: number,
  ) {
    super(`reply of ${replyBytes} payload bytes exceeds replyBytesMax ${replyBytesMax}`);
  }
}
