/**
 * Test support: a raw client-port connection that speaks the wire codec directly, so specs can
 * send exactly the bytes they mean (pipelined requests, bad frames, forged handshakes) and
 * look at every frame the server sends back, in order.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../transport/frame-decoder.js';
import { parseConnectResponse, parseServerReply, type ServerReply } from '../wire/server-reply-parser.js';
import { serializeClientRequest, serializeConnectRequest } from '../wire/client-request-serializer.js';
import type { OperationRequest } from '../wire/operation.js';
import type { ConnectRequest, ConnectResponse } from '../wire/records/connect.js';
import { withTimeout } from './with-timeout.js';

const WAIT_MS = 10_000;

export class RawClient {
  readonly frames: Buffer[] = [];
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;
  readonly ops = new Map<number, number>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (payload) => this.frames.push(Buffer.from(payload)));
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.wake();
      resolve();
    }));
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await withTimeout(new Promise<void>((resolve) => socket.once('connect', () => resolve())), WAIT_MS, 'tcp connect');
    return new RawClient(socket);
  }

  /** Opens and completes a handshake; returns the client and the ConnectResponse. */
  static async session(port: number, request: Partial<ConnectRequest> = {}): Promise<{ client: RawClient; response: ConnectResponse }> {
    const client = await RawClient.open(port);
    client.send(connectRequest(request));
    const response = await client.connectResponse();
    return { client, response };
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  request(xid: number, request: OperationRequest): Buffer {
    this.ops.set(xid, request.type);
    return serializeClientRequest(xid, request);
  }

  /** Resolves with frame `index` (0-based) once it arrived; rejects if the socket closes first. */
  async frame(index: number): Promise<Buffer> {
    await withTimeout(new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.frames.length > index) resolve();
        else if (this.socket.destroyed) reject(new Error(`connection closed before frame ${index}`));
        else this.waiters.push(check);
      };
      check();
    }), WAIT_MS, `frame ${index}`);
    return this.frames[index]!;
  }

  async connectResponse(): Promise<ConnectResponse> {
    const parsed = parseConnectResponse(await this.frame(0));
    if (parsed.kind !== 'connect') throw new Error(`bad connect response: ${parsed.kind}`);
    return parsed.response;
  }

  /** Frame `index` parsed as a reply or a notification. */
  async reply(index: number): Promise<ServerReply> {
    return parseServerReply(await this.frame(index), (xid) => this.ops.get(xid));
  }

  async waitClosed(): Promise<void> {
    await withTimeout(this.closed, WAIT_MS, 'the server closing the connection');
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

export function connectRequest(request: Partial<ConnectRequest> = {}): Buffer {
  return serializeConnectRequest({ protocolVersion: 0, lastZxidSeen: 0n, timeOut: 4000, sessionId: 0n,
    passwd: Buffer.alloc(16), readOnly: false, ...request });
}
