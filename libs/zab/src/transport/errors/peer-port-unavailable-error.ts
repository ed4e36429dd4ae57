/**
 * The transport could not listen on its own ensemble address (port in use, address not on
 * this host, permission). Raised by `TcpPeerTransport.start`; nothing was left running.
 */
export class PeerPortUnavailableError extends Error {
  override readonly name = 'PeerPortUnavailableError';
  constructor(
    readonly host: string,
    readonly port: number,
    cause: Error,
  ) {
    super(
      `cannot listen for peers on ${host}:${port}: ${cause.message}; check that no other ` +
        'process uses the port and that the ensemble entry of this id names this host',
      { cause },
    );
  }
}
