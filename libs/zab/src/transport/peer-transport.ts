/**
 * The peer transport port: how the driver moves encoded protocol messages between replicas.
 *
 * The protocol core produces and consumes opaque payloads (`Buffer`); the transport frames
 * them, authenticates peers and keeps one link per pair of replicas. Delivery contract:
 * - At most once, FIFO per ordered pair of replicas: payloads `send`-ed to one peer arrive in
 *   the order sent, or not at all. A link that breaks loses whatever was already handed to
 *   the socket; the protocol tolerates loss (it resynchronises after a reconnection).
 * - `send` never blocks and never throws for a down or slow peer: it queues (bounded) and
 *   returns true, or drops, counts the drop and returns false.
 * - Listeners run synchronously on the event loop turn that received the bytes; an exception
 *   thrown by a listener is not caught (a broken invariant in the core should fail-stop).
 */
import type { PeerId } from '../core/ids.js';

export type PeerState = 'connected' | 'disconnected';

export type MessageListener = (from: PeerId, payload: Buffer) => void;
export type PeerStateListener = (peer: PeerId, state: PeerState) => void;

export interface PeerTransport {
  /**
   * Queues `payload` for `to`. Returns false when it was dropped (queue full, peer unknown or
   * self, payload over `frameBytesMax`, transport closed). The transport keeps a reference to
   * `payload` until it is written: the caller must not modify it after the call.
   */
  send(to: PeerId, payload: Buffer): boolean;
  /**
   * Calls `listener` for every payload received from an authenticated peer. The payload is
   * owned by the listener (the transport never reuses it). Returns the unsubscribe function.
   */
  onMessage(listener: MessageListener): () => void;
  /** Calls `listener` when a link to a peer is established or lost. Returns unsubscribe. */
  onPeerState(listener: PeerStateListener): () => void;
  /** Peers with an established, authenticated link, in ascending id order. */
  connectedPeers(): PeerId[];
  /** Stops listening and dialing, closes every connection; no event is emitted after it. */
  close(): Promise<void>;
}

/** Where a replica's peer port listens. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** Log sink injected by the driver (same shape as the replica's logger). */
export interface TransportLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
