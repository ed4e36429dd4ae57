/**
 * Counters of the peer transport, as a plain object for the admin endpoint (`mntr`). All are
 * monotonic since the transport started; `snapshot()` returns a copy.
 */

/** Why `send` dropped a payload (the protocol tolerates loss; operators should see it). */
export interface TransportDrops {
  /** The peer's send queue was at `sendQueueMessagesMax` or `sendQueueBytesMax`. */
  queueFull: number;
  /** The destination is not in the ensemble, or is this replica. */
  peerUnknown: number;
  /** The payload was larger than `frameBytesMax`: the peer would reject it. */
  frameTooLarge: number;
  /** `send` after `close()`. */
  transportClosed: number;
  /**
   * With `queueWhileDisconnected: false` only: sent while the peer had no link, or still
   * queued when its link was lost.
   */
  peerDisconnected: number;
}

export interface TransportMetricsSnapshot {
  framesSent: number;
  framesReceived: number;
  payloadBytesSent: number;
  payloadBytesReceived: number;
  drops: TransportDrops;
  /** Connection attempts (dials and wake-ups), first attempts included. */
  dialAttempts: number;
  /** Attempts made by the backoff timer after a failure or a lost link. */
  reconnects: number;
  /** Links that completed the handshake, as dialer or acceptor. */
  connectionsEstablished: number;
  /** Established links closed (peer gone, error, protocol error, replaced). */
  connectionsLost: number;
  /** Wake-ups received from lower ids (answered by dialing back). */
  wakeUpsReceived: number;
  /** Handshakes that failed on a secret: a wrong proof, a missing secret, or told so. */
  authenticationFailures: number;
  /** Handshakes that failed otherwise: unknown id, version, malformed, timeout. */
  handshakeFailures: number;
  /** Established connections closed for a bad frame (over `frameBytesMax`). */
  protocolErrors: number;
  /** Inbound connections refused because `pendingHandshakesMax` were in progress. */
  inboundRefused: number;
}

/** One other replica as the transport sees it (for `mntr`-style listings). */
export interface PeerLinkSnapshot {
  id: number;
  connected: boolean;
  queuedMessages: number;
  queuedBytes: number;
  /** Failed attempts since the last established link (the backoff exponent). */
  failedAttempts: number;
}

export class TransportMetrics {
  framesSent = 0;
  framesReceived = 0;
  payloadBytesSent = 0;
  payloadBytesReceived = 0;
  readonly drops: TransportDrops = {
    queueFull: 0,
    peerUnknown: 0,
    frameTooLarge: 0,
    transportClosed: 0,
    peerDisconnected: 0,
  };
  dialAttempts = 0;
  reconnects = 0;
  connectionsEstablished = 0;
  connectionsLost = 0;
  wakeUpsReceived = 0;
  authenticationFailures = 0;
  handshakeFailures = 0;
  protocolErrors = 0;
  inboundRefused = 0;

  snapshot(): TransportMetricsSnapshot {
    return {
      framesSent: this.framesSent,
      framesReceived: this.framesReceived,
      payloadBytesSent: this.payloadBytesSent,
      payloadBytesReceived: this.payloadBytesReceived,
      drops: { ...this.drops },
      dialAttempts: this.dialAttempts,
      reconnects: this.reconnects,
      connectionsEstablished: this.connectionsEstablished,
      connectionsLost: this.connectionsLost,
      wakeUpsReceived: this.wakeUpsReceived,
      authenticationFailures: this.authenticationFailures,
      handshakeFailures: this.handshakeFailures,
      protocolErrors: this.protocolErrors,
      inboundRefused: this.inboundRefused,
    };
  }
}
