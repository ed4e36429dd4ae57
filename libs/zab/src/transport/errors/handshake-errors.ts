/**
 * Failures of the peer handshake, one class per kind. Each closes the one connection it
 * happened on, with its message logged; the transport, its listener and every other
 * connection carry on. `transportMetrics` counts authentication failures apart from the rest.
 */

/** Common base, so callers can tell a handshake failure from other errors. */
export abstract class HandshakeError extends Error {}

/** Bytes that are not a well-formed handshake message, or a message out of order. */
export class HandshakeProtocolError extends HandshakeError {
  override readonly name = 'HandshakeProtocolError';
}

/** The peer speaks another version of the peer protocol. */
export class ProtocolVersionMismatchError extends HandshakeError {
  override readonly name = 'ProtocolVersionMismatchError';
  constructor(
    readonly localVersion: number,
    readonly remoteVersion: number,
  ) {
    super(`peer protocol version ${remoteVersion} is not ours (${localVersion})`);
  }
}

/** The peer claims an id outside the ensemble (or ours), or meant to reach another replica. */
export class UnknownPeerError extends HandshakeError {
  override readonly name = 'UnknownPeerError';
}

/**
 * The peer did not prove knowledge of the shared secret: a wrong proof, or one side has a
 * secret and the other none.
 */
export class AuthenticationFailedError extends HandshakeError {
  override readonly name = 'AuthenticationFailedError';
}

/** The connection and handshake did not complete within `handshakeTimeoutMs`. */
export class HandshakeTimeoutError extends HandshakeError {
  override readonly name = 'HandshakeTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`handshake did not complete within ${timeoutMs} ms`);
  }
}

/** The remote side refused our handshake and said why. */
export class PeerRejectedError extends HandshakeError {
  override readonly name = 'PeerRejectedError';
  constructor(
    readonly authentication: boolean,
    readonly reason: string,
  ) {
    super(`the peer rejected the handshake: ${reason}`);
  }
}
