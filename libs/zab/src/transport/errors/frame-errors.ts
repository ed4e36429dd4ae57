/**
 * Framing failures on a peer connection. Peer input is untrusted: each of these closes the one
 * connection it was read from (with the message logged) and nothing else.
 */

/**
 * A frame's length prefix announced more payload bytes than `frameBytesMax`. Raised before any
 * of that payload is buffered, so a hostile or broken peer cannot make us allocate it.
 */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
  constructor(
    readonly frameBytes: number,
    readonly frameBytesMax: number,
  ) {
    super(`frame of ${frameBytes} payload bytes exceeds frameBytesMax ${frameBytesMax}`);
  }
}
