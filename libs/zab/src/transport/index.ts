/** The peer transport: the port the driver uses and its TCP/TLS implementation. */
export type {
  MessageListener,
  PeerAddress,
  PeerState,
  PeerStateListener,
  PeerTransport,
  TransportLogger,
} from './peer-transport.js';
export { FrameDecoder } from './frame-decoder.js';
export { encodeFrame, encodeFrameHeader, FRAME_LENGTH_BYTES } from './frame-encoder.js';
export { FrameTooLargeError } from './errors/frame-errors.js';
export {
  AuthenticationFailedError,
  HandshakeError,
  HandshakeProtocolError,
  HandshakeTimeoutError,
  PeerRejectedError,
  ProtocolVersionMismatchError,
  UnknownPeerError,
} from './errors/handshake-errors.js';
export { TransportConfigurationError } from './errors/transport-configuration-error.js';
export { PeerPortUnavailableError } from './errors/peer-port-unavailable-error.js';
export type {
  PeerLinkSnapshot,
  TransportDrops,
  TransportMetricsSnapshot,
} from './transport-metrics.js';
export { TcpPeerTransport, type TcpPeerTransportPorts } from './tcp/tcp-peer-transport.js';
export {
  TCP_PEER_TRANSPORT_DEFAULTS,
  type PeerTlsOptions,
  type TcpPeerTransportOptions,
} from './tcp/tcp-peer-transport-options.js';
