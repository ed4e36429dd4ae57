/**
 * One TCP (or TLS) connection to a peer: framing, the handshake state machine, payload
 * delivery and backpressured writes. Policy (which connection becomes the link, retries,
 * logging, counters) lives in `TcpPeerTransport`; this class only reports what happened.
 *
 * Lifecycle: 'handshaking' (frames limited to HANDSHAKE_FRAME_BYTES_MAX, a deadline of
 * `handshakeTimeoutMs`) -> 'established' (frames up to `frameBytesMax`, optional idle
 * timeout) -> 'closed'. `onClosed` is called exactly once, whatever closed it, with the
 * reason; after it nothing else is reported. Closing is local to this connection: a bad
 * frame or handshake never affects another connection or the process.
 */
import type { Socket } from 'node:net';
import type { PeerId } from '../../core/ids.js';
import { FrameTooLargeError } from '../errors/frame-errors.js';
import { HandshakeProtocolError, HandshakeTimeoutError } from '../errors/handshake-errors.js';
import { FrameDecoder } from '../frame-decoder.js';
import { encodeFrame, encodeFrameHeader } from '../frame-encoder.js';
import type { TransportMetrics } from '../transport-metrics.js';
import {
  AcceptorHandshake,
  DialerHandshake,
  HANDSHAKE_FRAME_BYTES_MAX,
  type HandshakeStep,
} from './handshake.js';
import type { SendQueue } from './send-queue.js';

/** Frames are copied into one write buffer up to this many bytes. */
const COALESCE_BYTES_MAX = 256 * 1024;
/** A payload this large is written by reference after its own prefix, never copied. */
const COALESCE_PAYLOAD_BYTES_MAX = 16 * 1024;

/** How long a connection that sent its last frame (REJECTED, DIAL_BACK) may linger. */
const LINGER_AFTER_END_MS = 1_000;

export type ConnectionState = 'handshaking' | 'established' | 'closed';

/** Why a connection closed: `error` is null for an orderly close by either side. */
export interface ConnectionClosed {
  reason: string;
  error: Error | null;
  /** The state the connection was in when it closed. */
  closedIn: ConnectionState;
}

export interface PeerConnectionEvents {
  onEstablished(connection: PeerConnection, peer: PeerId): void;
  /** Acceptor: a lower id asked to be dialed (DIAL_BACK was sent, the connection ends). */
  onWakeUp(connection: PeerConnection, peer: PeerId): void;
  onPayload(connection: PeerConnection, payload: Buffer): void;
  /** The socket drained after backpressure: more of the send queue may be written. */
  onWritable(connection: PeerConnection): void;
  onClosed(connection: PeerConnection, closed: ConnectionClosed): void;
}

export interface PeerConnectionSettings {
  frameBytesMax: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveDelayMs: number;
}

export class PeerConnection {
  private stateValue: ConnectionState = 'handshaking';
  private readonly decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
  private handshakeTimer: NodeJS.Timeout | null;
  private awaitingDrain = false;
  /** The authenticated peer once established; the target for an outbound connection. */
  peer: PeerId | null;
  /** `host:port` of the other end, read once (a destroyed socket forgets it). */
  private readonly remote: string;

  constructor(
    private readonly socket: Socket,
    private readonly handshake: DialerHandshake | AcceptorHandshake,
    private readonly settings: PeerConnectionSettings,
    private readonly events: PeerConnectionEvents,
    private readonly metrics: TransportMetrics,
    dialedAddress: { host: string; port: number } | null,
  ) {
    this.peer = handshake instanceof DialerHandshake ? handshake.targetId : null;
    this.remote =
      dialedAddress === null
        ? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
        : `${dialedAddress.host}:${dialedAddress.port}`;
    socket.setNoDelay(true);
    if (settings.keepAliveDelayMs > 0) socket.setKeepAlive(true, settings.keepAliveDelayMs);
    this.handshakeTimer = setTimeout(() => {
      this.close(new HandshakeTimeoutError(settings.handshakeTimeoutMs));
    }, settings.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => this.close(error));
    socket.on('close', () => this.close('connection closed by the other side'));
    socket.on('timeout', () => {
      this.close(`idle (no bytes either way) for ${settings.idleTimeoutMs} ms`);
    });
    if (handshake instanceof DialerHandshake) this.writeControl(handshake.start());
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get direction(): 'inbound' | 'outbound' {
    return this.handshake instanceof DialerHandshake ? 'outbound' : 'inbound';
  }

  /** True when this outbound connection is a wake-up (dialing a higher id). */
  get isWakeUp(): boolean {
    return this.handshake instanceof DialerHandshake && this.handshake.isWakeUp;
  }

  /** For log lines: `peer 3 (127.0.0.1:40112, inbound)`. */
  describe(): string {
    const handshake = this.handshake;
    const claimed =
      this.peer ?? (handshake instanceof AcceptorHandshake ? handshake.claimedPeer : null);
    const who = claimed === null ? 'unidentified peer' : `peer ${claimed}`;
    return `${who} (${this.remote}, ${this.direction})`;
  }

  /**
   * Writes queued payloads until the queue is empty or the socket asks us to wait; on
   * 'drain', `onWritable` lets the owner call this again. Small frames (prefix + payload) are
   * copied into one buffer per write, up to COALESCE_BYTES_MAX: one stream write and one iovec
   * instead of two per frame (a write per frame costs more than the copy of ~100 bytes). A
   * payload of COALESCE_PAYLOAD_BYTES_MAX or more goes out after its own prefix, not copied.
   */
  writeFrom(queue: SendQueue): void {
    if (this.stateValue !== 'established' || this.awaitingDrain) return;
    const socket = this.socket;
    socket.cork();
    try {
      for (let more = true; more && queue.length > 0;) more = this.writeSome(queue);
    } finally {
      socket.uncork();
    }
  }

  /** One socket write: a run of short frames coalesced, or one long frame by reference. */
  private writeSome(queue: SendQueue): boolean {
    const taken = queue.takeFrames(COALESCE_BYTES_MAX, COALESCE_PAYLOAD_BYTES_MAX);
    let more: boolean;
    if (taken !== null) {
      more = this.socket.write(taken.frames);
      this.countSent(taken.count, taken.payloadBytes);
    } else {
      const payload = queue.shift()!;
      this.socket.write(encodeFrameHeader(payload.length));
      more = this.socket.write(payload);
      this.countSent(1, payload.length);
    }
    if (!more) {
      this.awaitingDrain = true;
      this.socket.once('drain', () => {
        this.awaitingDrain = false;
        if (this.stateValue === 'established') this.events.onWritable(this);
      });
    }
    return more;
  }

  private countSent(frames: number, payloadBytes: number): void {
    this.metrics.framesSent += frames;
    this.metrics.payloadBytesSent += payloadBytes;
  }

  /** Closes at once (destroy). `why` is an Error for failures, a string for orderly ends. */
  close(why: Error | string): void {
    if (this.stateValue === 'closed') return;
    this.socket.destroy();
    this.reportClosed(why);
  }

  /** Sends `frame` as the last one, then closes (the socket lingers until flushed). */
  private closeAfter(frame: Buffer, why: Error | string): void {
    if (this.stateValue === 'closed') return;
    this.socket.end(encodeFrame(frame));
    setTimeout(() => this.socket.destroy(), LINGER_AFTER_END_MS).unref();
    this.reportClosed(why);
  }

  private reportClosed(why: Error | string): void {
    const closedIn = this.stateValue;
    this.stateValue = 'closed';
    this.clearHandshakeTimer();
    const error = typeof why === 'string' ? null : why;
    const reason = typeof why === 'string' ? why : why.message;
    this.events.onClosed(this, { reason, error, closedIn });
  }

  private onData(chunk: Buffer): void {
    const failure = this.decoder.push(chunk, (frame) => this.onFrame(frame));
    if (failure !== null) this.close(this.describeFrameFailure(failure));
  }

  /** A frame over the limit during the handshake is a malformed handshake, not a payload. */
  private describeFrameFailure(failure: FrameTooLargeError): Error {
    if (this.stateValue !== 'handshaking') return failure;
    return new HandshakeProtocolError(`handshake ${failure.message}`);
  }

  private onFrame(frame: Buffer): void {
    if (this.stateValue === 'established') {
      this.metrics.framesReceived += 1;
      this.metrics.payloadBytesReceived += frame.length;
      this.events.onPayload(this, frame);
    } else if (this.stateValue === 'handshaking') {
      this.onHandshakeStep(this.handshake.onFrame(frame));
    }
  }

  private onHandshakeStep(step: HandshakeStep): void {
    switch (step.kind) {
      case 'send':
        return this.writeControl(step.frame);
      case 'established':
        return this.establish(step.peer, step.frame);
      case 'wake-up':
        this.peer = step.peer;
        this.events.onWakeUp(this, step.peer);
        return this.closeAfter(step.frame, `peer ${step.peer} asked to be dialed back`);
      case 'dialed-back':
        return this.close(`peer ${step.peer} will dial back`);
      case 'rejected':
        if (step.frame === null) return this.close(step.error);
        return this.closeAfter(step.frame, step.error);
    }
  }

  private establish(peer: PeerId, frame: Buffer | null): void {
    this.clearHandshakeTimer();
    if (frame !== null) this.writeControl(frame);
    this.peer = peer;
    this.stateValue = 'established';
    this.decoder.frameBytesMax = this.settings.frameBytesMax;
    if (this.settings.idleTimeoutMs > 0) this.socket.setTimeout(this.settings.idleTimeoutMs);
    this.events.onEstablished(this, peer);
  }

  private writeControl(frame: Buffer): void {
    this.socket.write(encodeFrame(frame));
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }
}
