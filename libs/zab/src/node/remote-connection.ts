/**
 * One TCP connection of the remote client to one ZooKeeper server: the socket, the frame
 * decoder (length-prefixed frames, at most `replyBytesMax` payload bytes) and the handshake.
 *
 * Contract: `open` sends the ConnectRequest frame as soon as the socket connects. The first
 * frame back must be a ConnectResponse: `onConnected` gets it; every later frame goes to
 * `onFrame` (synchronously, in order, from the socket's data callback). `onClosed` is called
 * exactly once, whatever ends the connection: the peer, an error, an oversized or
 * undecodable handshake, the handshake timeout, or `close()`. No handler is called after it.
 *
 * Frames passed to `send` in one event-loop turn leave in one socket write, in order, at the
 * end of the turn (process.nextTick, after the turn's promise callbacks): under many requests
 * in flight a write per frame (with TCP_NODELAY, a syscall and a segment each) would cost the
 * client most of its CPU and the server as many reads. `close()` drops frames not yet written.
 */
import { createConnection, type Socket } from 'node:net';
import { FrameDecoder } from '../transport/frame-decoder.js';
import { parseConnectResponse } from '../wire/server-reply-parser.js';
import type { ConnectResponse } from '../wire/records/connect.js';
import type { WireLimits } from '../wire/wire-limits.js';
import type { ServerAddress } from './connect-string.js';

export interface RemoteConnectionHandlers {
  onConnected(response: ConnectResponse): void;
  onFrame(payload: Buffer): void;
  onClosed(reason: string): void;
}

export class RemoteConnection {
  private readonly socket: Socket;
  private readonly decoder: FrameDecoder;
  private handshakeDone = false;
  private closed = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Frames sent this turn, written together by `flush`. */
  private queued: Buffer[] = [];
  private readonly flush = (): void => {
    const frames = this.queued;
    this.queued = [];
    if (this.closed || frames.length === 0) return;
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  };

  private constructor(
    readonly server: ServerAddress,
    connectFrame: Buffer,
    private readonly limits: WireLimits,
    handshakeTimeoutMs: number,
    private readonly handlers: RemoteConnectionHandlers,
  ) {
    this.decoder = new FrameDecoder(limits.replyBytesMax);
    this.socket = createConnection({ host: server.host, port: server.port });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => this.socket.write(connectFrame));
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', (error) => this.close(`socket error: ${error.message}`));
    this.socket.on('close', () => this.close('the server closed the connection'));
    this.handshakeTimer = setTimeout(
      () => this.close(`no ConnectResponse within ${handshakeTimeoutMs} ms`),
      handshakeTimeoutMs,
    );
  }

  static open(
    server: ServerAddress,
    connectFrame: Buffer,
    limits: WireLimits,
    handshakeTimeoutMs: number,
    handlers: RemoteConnectionHandlers,
  ): RemoteConnection {
    return new RemoteConnection(server, connectFrame, limits, handshakeTimeoutMs, handlers);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** `host:port` of the server. */
  get address(): string {
    return `${this.server.host}:${this.server.port}`;
  }

  /** Queues a whole frame for this turn's write (see the file comment); a no-op once closed. */
  send(frame: Buffer): void {
    if (this.closed) return;
    if (this.queued.length === 0) process.nextTick(this.flush);
    this.queued.push(frame);
  }

  /** Ends the connection (idempotent); `onClosed(reason)` follows at once. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queued = [];
    clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.handlers.onClosed(reason);
  }

  private receive(chunk: Buffer): void {
    const failure = this.decoder.push(chunk, (payload) => {
      if (this.closed) return;
      if (this.handshakeDone) this.handlers.onFrame(payload);
      else this.handshake(payload);
    });
    if (failure !== null) this.close(`bad frame from ${this.address}: ${failure.message}`);
  }

  private handshake(payload: Buffer): void {
    const reply = parseConnectResponse(payload, this.limits);
    if (reply.kind !== 'connect') {
      this.close(`bad ConnectResponse from ${this.address}: ${reply.error.message}`);
      return;
    }
    this.handshakeDone = true;
    clearTimeout(this.handshakeTimer);
    this.handlers.onConnected(reply.response);
  }
}
