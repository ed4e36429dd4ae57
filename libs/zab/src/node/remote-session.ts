/**
 * The session machinery of the remote client (ZooKeeper's ClientCnxn): one connection at a
 * time to one server of the ensemble, the handshake, request/reply matching, pings, and the
 * session's life across connections.
 *
 * - Handshake: ConnectRequest with the last zxid seen, the requested timeout and, on a
 *   reconnect, the session id and password. A ConnectResponse with timeout 0 means the session
 *   expired. Then, as ZooKeeper's client does: SetWatches2 (every watch, at the last zxid
 *   seen), the auth packets, and the requests queued while disconnected.
 * - Replies come back in request order: a reply must answer the oldest request in flight;
 *   anything else (another xid, undecodable or oversized bytes) drops the connection, which
 *   reconnects. Bad server bytes never throw out of the socket callback.
 * - A write in flight when the connection drops fails with ConnectionLoss and is NOT resent
 *   (it may have been applied). A read in flight (`RETRIED_OPS`: nothing changes if the server
 *   ran it twice) is resent on the next connection, at most `READ_RETRIES_MAX` times, ahead of
 *   the requests issued since. A request issued while disconnected waits, unsent, for the next
 *   connection (or fails when the session ends).
 * - Pings every timeout/3; a connection silent for 2/3 of the timeout is dropped.
 * - Curator's states: `suspended` when an established connection drops, `reconnected` when the
 *   session is re-established, `lost` (final) when the server reports it expired, when no
 *   server was reachable for a whole session timeout (Curator's rule: the ensemble has expired
 *   it by then), or when it is closed.
 */
import { ErrorCode } from '../state/error-code.js';
import { KeeperError, keeperError } from '../state/keeper-error.js';
import { serializeClientRequest, serializeConnectRequest } from '../wire/client-request-serializer.js';
import { OpCode } from '../wire/op-code.js';
import type { OperationRequest, OperationResponse } from '../wire/operation.js';
import type { ConnectResponse } from '../wire/records/connect.js';
import type { SetWatches2 } from '../wire/records/set-watches.js';
import type { WatcherEvent } from '../wire/records/watcher-event.js';
import { parseServerReply } from '../wire/server-reply-parser.js';
import { SpecialXid } from '../wire/special-xid.js';
import { FRAME_LENGTH_BYTES, type WireLimits } from '../wire/wire-limits.js';
import type { ServerAddress } from './connect-string.js';
import { HostProvider } from './connect-string.js';
import { RemoteConnection } from './remote-connection.js';
import type { ReplicaLogger } from './replica.js';

const PASSWORD_BYTES = 16;
/** ZooKeeper's client splits SetWatches at 128 KiB (SET_WATCHES_MAX_LENGTH). */
const SET_WATCHES_BYTES_MAX = 128 * 1024;
const XID_MAX = 0x7fffffff;
/** Ops that change nothing on the server, so resending one after a lost connection is safe. */
const RETRIED_OPS: ReadonlySet<number> = new Set([
  OpCode.exists, OpCode.getData, OpCode.getChildren, OpCode.getChildren2, OpCode.getACL,
  OpCode.getAllChildrenNumber, OpCode.getEphemerals, OpCode.sync, OpCode.checkWatches,
]);
/** How many connection losses a read rides out before it fails with ConnectionLoss. */
export const READ_RETRIES_MAX = 2;

export interface AuthInfo {
  scheme: string;
  credentials: string | Buffer;
}

export interface RemoteSessionOptions {
  servers: ServerAddress[];
  sessionTimeoutMs: number;
  hostOrder: 'shuffle' | 'given';
  random: () => number;
  limits: WireLimits;
  logger: ReplicaLogger;
  auth: AuthInfo[];
  /** Re-attach to this session instead of creating one. */
  session?: { sessionId: bigint; password: Buffer };
}

export interface RemoteSessionEvents {
  /** A watch notification (called from the socket callback, synchronously, in order). */
  notification(event: WatcherEvent, zxid: bigint): void;
  /** An established connection dropped (the session may live on). */
  suspended(): void;
  /** The session is back on a server (after `suspended`). */
  reconnected(): void;
  /** The session ended: final. */
  ended(state: 'expired' | 'closed'): void;
  /** SetWatches2 content for a reconnect (server paths), or null when there is no watch. */
  watchesToRestore(): SetWatches2 | null;
}

type Settle = (err: number, response: OperationResponse | null) => void;

interface Pending {
  xid: number;
  opCode: number;
  frame: Buffer;
  /** Resends left after a lost connection (0 for writes). */
  retriesLeft: number;
  settle: Settle;
  fail(error: KeeperError): void;
}

interface StoredAuth {
  scheme: string;
  auth: Buffer;
  waiters: Array<{ resolve(): void; reject(error: Error): void }>;
}

export class RemoteSession {
  sessionId = 0n;
  password: Buffer = Buffer.alloc(PASSWORD_BYTES);
  negotiatedTimeoutMs: number;
  lastZxidSeen = 0n;
  state: 'connecting' | 'connected' | 'expired' | 'closed' = 'connecting';

  private readonly hosts: HostProvider;
  private connection: RemoteConnection | undefined;
  private handshakeDone = false;
  private everConnected = false;
  private failuresInRow = 0;
  private xid = 0;
  private readonly pending: Pending[] = [];
  private readonly outgoing: Pending[] = [];
  private readonly auths: StoredAuth[] = [];
  private authsInFlight: StoredAuth[] = [];
  private pingTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lostTimer: NodeJS.Timeout | undefined;
  private lastReceivedAt = 0;
  private firstConnection: { resolve(): void; reject(error: Error): void } | undefined;

  constructor(
    private readonly options: RemoteSessionOptions,
    private readonly events: RemoteSessionEvents,
  ) {
    this.negotiatedTimeoutMs = options.sessionTimeoutMs;
    this.hosts = new HostProvider(options.servers, options.hostOrder === 'shuffle' ? options.random : null);
    if (options.session !== undefined) {
      this.sessionId = options.session.sessionId;
      this.password = Buffer.from(options.session.password);
    }
    for (const info of options.auth) this.auths.push(toStoredAuth(info));
  }

  /** Starts connecting; resolves on the first established connection. */
  start(): Promise<void> {
    const connected = new Promise<void>((resolve, reject) => {
      this.firstConnection = { resolve, reject };
    });
    this.connectNext();
    return connected;
  }

  /** `host:port` of the server the session is connected to, or undefined. */
  get connectedServer(): string | undefined {
    return this.handshakeDone ? this.connection?.address : undefined;
  }

  get isConnected(): boolean {
    return this.handshakeDone;
  }

  /**
   * Sends `request` now, or once connected. `settle` runs in the socket callback with the
   * reply's error code and body, before any later frame is handled.
   */
  call(request: OperationRequest, settle: Settle, fail: (error: KeeperError) => void): void {
    this.checkUsable();
    this.xid = this.xid >= XID_MAX ? 1 : this.xid + 1;
    const frame = serializeClientRequest(this.xid, request);
    if (frame.length - FRAME_LENGTH_BYTES > this.options.limits.requestBytesMax) {
      throw keeperError(
        ErrorCode.BadArguments, undefined,
        `request of ${frame.length - FRAME_LENGTH_BYTES} bytes exceeds requestBytesMax ${this.options.limits.requestBytesMax}`,
      );
    }
    const retriesLeft = RETRIED_OPS.has(request.type) ? READ_RETRIES_MAX : 0;
    const entry: Pending = { xid: this.xid, opCode: request.type, frame, settle, fail, retriesLeft };
    if (this.handshakeDone) this.transmit(entry);
    else this.outgoing.push(entry);
  }

  /** ZooKeeper's addAuth: sent now and after every reconnect; resolves when accepted. */
  addAuth(info: AuthInfo): Promise<void> {
    this.checkUsable();
    const stored = toStoredAuth(info);
    const accepted = new Promise<void>((resolve, reject) => stored.waiters.push({ resolve, reject }));
    this.auths.push(stored);
    if (this.handshakeDone) this.sendAuth(stored);
    return accepted;
  }

  /** Throws the error a call gets once the session is over. */
  checkUsable(): void {
    if (this.state === 'expired') throw keeperError(ErrorCode.SessionExpired);
    if (this.state === 'closed') {
      throw keeperError(ErrorCode.ConnectionLoss, undefined, 'the session was closed');
    }
  }

  /** Ends the session here (no closeSession is sent): fails what waits, drops the connection. */
  end(state: 'expired' | 'closed', reason: string): void {
    if (this.state === 'expired' || this.state === 'closed') return;
    this.state = state;
    this.clearTimers();
    this.connection?.close(reason);
    this.connection = undefined;
    this.handshakeDone = false;
    const error = state === 'expired'
      ? keeperError(ErrorCode.SessionExpired, undefined, reason)
      : keeperError(ErrorCode.ConnectionLoss, undefined, 'the session was closed');
    for (const entry of this.pending.splice(0)) entry.fail(error);
    for (const entry of this.outgoing.splice(0)) entry.fail(error);
    for (const stored of this.auths.splice(0)) for (const waiter of stored.waiters) waiter.reject(error);
    this.firstConnection?.reject(error);
    this.firstConnection = undefined;
    this.events.ended(state);
  }

  private connectNext(): void {
    if (this.state === 'expired' || this.state === 'closed') return;
    const server = this.hosts.nextServer();
    const frame = serializeConnectRequest({
      protocolVersion: 0,
      lastZxidSeen: this.lastZxidSeen,
      timeOut: this.options.sessionTimeoutMs,
      sessionId: this.sessionId,
      passwd: this.password,
      readOnly: false,
    });
    // ZooKeeper's connect timeout: the session timeout shared among the servers to try.
    const handshakeTimeoutMs = Math.max(1000, Math.floor(this.negotiatedTimeoutMs / this.hosts.size));
    const connection: RemoteConnection = RemoteConnection.open(
      server, frame, this.options.limits, handshakeTimeoutMs, {
        onConnected: (response) => this.connected(connection, response),
        onFrame: (payload) => {
          if (this.connection === connection) this.receive(connection, payload);
        },
        onClosed: (reason) => this.disconnected(connection, reason),
      },
    );
    this.connection = connection;
  }

  private connected(connection: RemoteConnection, response: ConnectResponse): void {
    if (this.connection !== connection) return;
    if (response.timeOut <= 0) {
      this.end('expired', `${connection.address} reports session 0x${this.sessionId.toString(16)} expired`);
      return;
    }
    this.sessionId = response.sessionId;
    if (response.passwd !== null) this.password = Buffer.from(response.passwd);
    this.negotiatedTimeoutMs = response.timeOut;
    this.handshakeDone = true;
    this.state = 'connected';
    this.failuresInRow = 0;
    this.lastReceivedAt = performance.now();
    clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
    this.startPings();
    this.restoreWatches(connection);
    this.authsInFlight = [];
    for (const stored of this.auths) this.sendAuth(stored);
    for (const entry of this.outgoing.splice(0)) this.transmit(entry);
    if (!this.everConnected) {
      this.everConnected = true;
      this.firstConnection?.resolve();
      this.firstConnection = undefined;
    } else {
      this.options.logger.log(`session 0x${this.sessionId.toString(16)} reconnected to ${connection.address}`);
      this.events.reconnected();
    }
  }

  /** SetWatches2 frames of at most ~128 KiB each (as ZooKeeper's client), all watches. */
  private restoreWatches(connection: RemoteConnection): void {
    const watches = this.events.watchesToRestore();
    if (watches === null) return;
    for (const chunk of chunkSetWatches({ ...watches, relativeZxid: this.lastZxidSeen }, SET_WATCHES_BYTES_MAX)) {
      connection.send(serializeClientRequest(SpecialXid.setWatches, { type: OpCode.setWatches2, body: chunk }));
    }
  }

  private disconnected(connection: RemoteConnection, reason: string): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    const wasConnected = this.handshakeDone;
    this.handshakeDone = false;
    clearInterval(this.pingTimer);
    this.authsInFlight = [];
    if (this.state === 'expired' || this.state === 'closed') return;
    const loss = keeperError(ErrorCode.ConnectionLoss, undefined, `connection to ${connection.address} lost: ${reason}`);
    const resend: Pending[] = [];
    for (const entry of this.pending.splice(0)) {
      if (entry.retriesLeft > 0) {
        entry.retriesLeft -= 1;
        resend.push(entry);
      } else {
        entry.fail(loss);
      }
    }
    this.outgoing.unshift(...resend);
    if (wasConnected) {
      this.options.logger.warn(`session 0x${this.sessionId.toString(16)}: ${loss.message}; reconnecting`);
      this.startLostTimer();
      this.events.suspended();
      this.connectNext();
      return;
    }
    this.failuresInRow += 1;
    if (this.failuresInRow < this.hosts.size) {
      this.connectNext();
      return;
    }
    // Every server failed in a row: back off (jittered) before the next round.
    this.failuresInRow = 0;
    const delayMs = 100 + Math.floor(this.options.random() * 400);
    this.retryTimer = setTimeout(() => this.connectNext(), delayMs);
    this.retryTimer.unref();
  }

  /** Curator: suspended for a whole session timeout means the ensemble expired the session. */
  private startLostTimer(): void {
    if (this.lostTimer !== undefined) return;
    this.lostTimer = setTimeout(() => {
      this.end('expired', `no server reachable within the session timeout of ${this.negotiatedTimeoutMs} ms`);
    }, this.negotiatedTimeoutMs);
    this.lostTimer.unref();
  }

  private receive(connection: RemoteConnection, payload: Buffer): void {
    this.lastReceivedAt = performance.now();
    const head = this.pending[0];
    const reply = parseServerReply(payload, (xid) => (head?.xid === xid ? head.opCode : undefined), this.options.limits);
    switch (reply.kind) {
      case 'malformed':
      case 'tooLarge':
        connection.close(`bad reply from ${connection.address}: ${reply.error.message}`);
        return;
      case 'unexpectedXid':
        connection.close(`reply xid ${reply.header.xid} from ${connection.address} answers no request in flight (next: ${head?.xid ?? 'none'})`);
        return;
      case 'notification':
        this.events.notification(reply.event, reply.header.zxid);
        return;
      case 'reply':
        this.handleReply(connection, reply.header, reply.response);
        return;
    }
  }

  private handleReply(
    connection: RemoteConnection,
    header: { xid: number; zxid: bigint; err: number },
    response: OperationResponse | null,
  ): void {
    if (header.zxid > this.lastZxidSeen) this.lastZxidSeen = header.zxid;
    switch (header.xid) {
      case SpecialXid.ping:
        return;
      case SpecialXid.setWatches:
        if (header.err !== ErrorCode.Ok) this.options.logger.warn(`setWatches failed with code ${header.err}`);
        return;
      case SpecialXid.authPacket:
        this.authReply(connection, header.err);
        return;
      default: {
        const entry = this.pending.shift()!;
        entry.settle(header.err, response);
      }
    }
  }

  private authReply(connection: RemoteConnection, err: number): void {
    const stored = this.authsInFlight.shift();
    if (stored === undefined) return;
    const waiters = stored.waiters.splice(0);
    if (err === ErrorCode.Ok) {
      for (const waiter of waiters) waiter.resolve();
      return;
    }
    // A refused identity is not sent again (the server closes the connection after it).
    this.auths.splice(this.auths.indexOf(stored), 1);
    this.options.logger.error(`addAuth ${stored.scheme} refused by ${connection.address} (code ${err})`);
    for (const waiter of waiters) waiter.reject(keeperError(err, undefined, `addAuth ${stored.scheme} refused`));
  }

  private sendAuth(stored: StoredAuth): void {
    this.authsInFlight.push(stored);
    this.connection?.send(serializeClientRequest(SpecialXid.authPacket, {
      type: OpCode.auth,
      body: { type: 0, scheme: stored.scheme, auth: stored.auth },
    }));
  }

  private transmit(entry: Pending): void {
    this.pending.push(entry);
    this.connection!.send(entry.frame);
  }

  private startPings(): void {
    clearInterval(this.pingTimer);
    const intervalMs = Math.max(10, Math.floor(this.negotiatedTimeoutMs / 3));
    const readTimeoutMs = Math.floor((this.negotiatedTimeoutMs * 2) / 3);
    const ping = serializeClientRequest(SpecialXid.ping, { type: OpCode.ping, body: null });
    this.pingTimer = setInterval(() => {
      const connection = this.connection;
      if (connection === undefined || !this.handshakeDone) return;
      if (performance.now() - this.lastReceivedAt > readTimeoutMs) {
        connection.close(`nothing received from ${connection.address} for ${readTimeoutMs} ms`);
        return;
      }
      connection.send(ping);
    }, intervalMs);
    this.pingTimer.unref();
  }

  private clearTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.lostTimer);
  }
}

const WATCH_LISTS = ['dataWatches', 'existWatches', 'childWatches', 'persistentWatches', 'persistentRecursiveWatches'] as const;

/**
 * Splits `watches` into SetWatches2 bodies whose paths take at most `bytesMax` bytes each
 * (a single longer path gets a body of its own), so no frame exceeds the server's limit.
 */
export function chunkSetWatches(watches: SetWatches2, bytesMax: number): SetWatches2[] {
  const empty = (): SetWatches2 => ({
    relativeZxid: watches.relativeZxid, dataWatches: [], existWatches: [], childWatches: [],
    persistentWatches: [], persistentRecursiveWatches: [],
  });
  const chunks: SetWatches2[] = [];
  let current = empty();
  let bytes = 0;
  for (const list of WATCH_LISTS) {
    for (const path of watches[list]) {
      const pathBytes = 4 + Buffer.byteLength(path);
      if (bytes > 0 && bytes + pathBytes > bytesMax) {
        chunks.push(current);
        current = empty();
        bytes = 0;
      }
      current[list].push(path);
      bytes += pathBytes;
    }
  }
  if (bytes > 0) chunks.push(current);
  return chunks;
}

function toStoredAuth(info: AuthInfo): StoredAuth {
  if (info === null || typeof info !== 'object' || typeof info.scheme !== 'string' || info.scheme.length === 0) {
    throw keeperError(ErrorCode.BadArguments, undefined, 'auth needs a scheme such as "digest"');
  }
  const { credentials } = info;
  if (typeof credentials !== 'string' && !Buffer.isBuffer(credentials)) {
    throw keeperError(ErrorCode.BadArguments, undefined, 'auth credentials must be a string or a Buffer');
  }
  return { scheme: info.scheme, auth: Buffer.from(credentials), waiters: [] };
}
