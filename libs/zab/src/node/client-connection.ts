/**
 * One client connection of the client port: ZooKeeper's `ServerCnxn` for the 3.5+ protocol.
 *
 * Lifecycle: the first frame is a ConnectRequest; the session is created (sessionId 0) or
 * re-established (id + password, on any replica of the ensemble), then every later frame is
 * a RequestHeader and an op. A client that has seen a newer zxid than this replica is
 * refused (closed without a response, as ZooKeeper does), so it never reads older state.
 *
 * Ordering contract:
 * - Replies leave in request order (one slot per request, flushed from the head).
 * - Writes (and sync, closeSession) are submitted at once, pipelined; a read that arrives
 *   while writes of this session are in flight is served after they were applied, so a
 *   session always reads its own writes (ZooKeeper's CommitProcessor rule), and a write that
 *   arrives while such a read waits is submitted after it, so the read never sees it.
 * - Watch events are written the moment the replica applies the change, before the reply of
 *   any read that could see it (reads are computed after the apply that fired the event).
 *
 * Untrusted input: a frame over `requestBytesMax` or one that does not decode closes this
 * connection with a logged reason; nothing a client sends can throw into the replica.
 * Backpressure: with `requestsInFlightMax` requests unanswered, or while the socket's write
 * buffer is full, the connection stops reading the socket.
 */
import type { Socket } from 'node:net';
import type { SessionId, Zxid } from '../core/ids.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import type { WatchEvent, WatchEventType } from '../state/watch-event.js';
import { FrameDecoder } from '../transport/frame-decoder.js';
import { OpCode, opCodeName } from '../wire/op-code.js';
import type { OperationRequest } from '../wire/operation.js';
import { parseClientRequest, type ClientRequest } from '../wire/client-request-parser.js';
import type { ConnectRequest } from '../wire/records/connect.js';
import { KeeperState } from '../wire/records/watcher-event.js';
import {
  appendNotification,
  appendReply,
  serializeConnectResponse,
  serializeNotification,
  serializeReply,
} from '../wire/server-reply-serializer.js';
import { JuteWriter } from '../jute/jute-writer.js';
import type { ReplyHeader } from '../wire/records/reply-header.js';
import type { WatcherEvent } from '../wire/records/watcher-event.js';
import type { ClientReplica } from './client-replica.js';
import {
  eventTypeCode,
  isOrderedLikeWrite,
  outcomeOfError,
  serveRead,
  serveWrite,
  type OperationContext,
  type OperationOutcome,
} from './client-operations.js';
import type { SessionPasswords } from './client-session-password.js';
import type { ReplicaLogger, ReplicaWatcher } from './replica.js';

/** What a connection needs from its server. */
export interface ClientConnectionHost {
  readonly replica: ClientReplica;
  readonly passwords: SessionPasswords;
  readonly logger: ReplicaLogger;
  readonly requestBytesMax: number;
  readonly requestsInFlightMax: number;
  /** The connection now serves `sessionId` (another connection of it is closed). */
  attach(connection: ClientConnection): void;
  detach(connection: ClientConnection): void;
}

/** Counters for `cons` and `stat`. */
export interface ConnectionStats {
  received: number;
  sent: number;
  lastOperation: string;
  lastCxid: number;
  lastZxid: Zxid;
  establishedMs: number;
  /** Most requests this connection ever had unanswered at once (bounded by the limit). */
  queuedMax: number;
  /** Socket writes made: frames written in one event-loop turn share one (see `outbox`). */
  socketWrites: number;
}

type Phase = 'connecting' | 'establishing' | 'serving' | 'closing' | 'closed';

interface ReplySlot {
  frame: Buffer | undefined;
  /** End the connection once this reply was written (closeSession). */
  endAfter: boolean;
}

const PROTOCOL_VERSION = 0;
const OUTBOX_INITIAL_BYTES = 4 * 1024;
/** An outbox that had to hold more than this (large replies) is replaced after its flush, so an idle connection keeps little. */
const OUTBOX_KEPT_BYTES_MAX = 64 * 1024;

export class ClientConnection implements ReplicaWatcher {
  sessionId: SessionId = 0n;
  timeoutMs = 0;
  readonly stats: ConnectionStats;
  private phase: Phase = 'connecting';
  private readonly decoder: FrameDecoder;
  private readonly slots: ReplySlot[] = [];
  /**
   * Frames decoded but not yet served: those that arrived while the session was being
   * established, and those over the in-flight limit (one socket chunk may hold many frames;
   * they wait here, and the socket is paused, until replies drain).
   */
  private readonly backlog: Buffer[] = [];
  private writesInFlight = 0;
  private lastWrite: Promise<unknown> = Promise.resolve();
  /** Reads waiting for this session's writes, and the promise of the newest of them. */
  private readsWaiting = 0;
  private lastWaitingRead: Promise<unknown> = Promise.resolve();
  private readPaused = false;
  /**
   * Frames written this event-loop turn, in order, sent as one socket write from a
   * `process.nextTick` (a chunk of pipelined reads, or a batch of committed writes, costs one
   * syscall instead of one per reply). Replies and events are encoded straight into it (no
   * Buffer per reply). Order is that of the writes, so events still precede the replies that
   * could see their change.
   */
  private outbox = new JuteWriter(OUTBOX_INITIAL_BYTES);
  private outboxScheduled = false;
  private readonly context: OperationContext;

  constructor(
    readonly socket: Socket,
    private readonly host: ClientConnectionHost,
    /** Bytes already read from the socket (the four-letter-word sniff). */
    firstChunk: Buffer,
  ) {
    this.decoder = new FrameDecoder(host.requestBytesMax);
    this.stats = { received: 0, sent: 0, lastOperation: 'NA', lastCxid: -1, lastZxid: -1n,
      establishedMs: Date.now(), queuedMax: 0, socketWrites: 0 };
    const connection = this;
    this.context = {
      replica: host.replica,
      get sessionId() { return connection.sessionId; },
      watcher: this,
      notify: (type, path, zxid) => this.sendEvent(type, path, zxid),
    };
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateReading());
    socket.on('close', () => this.closed());
    socket.on('error', () => undefined); // 'close' follows; nothing to report per client
    this.onData(firstChunk);
  }

  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  get queued(): number {
    return this.slots.length;
  }

  /** ReplicaWatcher: a watch of this session fired on this replica. */
  notify(event: WatchEvent): void {
    this.sendEvent(event.type, event.path, event.zxid);
  }

  /** Ends the connection (the server is closing, or the session ended elsewhere). */
  close(reason?: string): void {
    if (this.phase === 'closed') return;
    if (reason !== undefined) this.host.logger.log(`client ${this.remote}: ${reason}`);
    this.phase = 'closing';
    this.flushOutbox();
    this.socket.end();
    this.socket.destroySoon();
  }

  /** The session ended (expired, or closed by another connection): ZooKeeper drops the link. */
  sessionEnded(state: 'expired' | 'closed'): void {
    if (this.phase !== 'serving') return;
    this.close(`session 0x${this.sessionId.toString(16)} ${state}`);
  }

  /** Never throws: whatever goes wrong with one client's bytes closes only its connection. */
  private onData(chunk: Buffer): void {
    if (this.phase === 'closing' || this.phase === 'closed') return;
    try {
      if (this.phase === 'serving') this.host.replica.touchSession(this.sessionId);
      const tooLarge = this.decoder.push(chunk, (payload) => this.onFrame(payload));
      if (tooLarge !== null) this.abort(`${tooLarge.message}; closing the connection`);
    } catch (error) {
      this.host.logger.error(`client ${this.remote}: unexpected ${(error as Error).stack ?? String(error)}`);
      this.abort('closing the connection after an unexpected error');
    }
  }

  private onFrame(payload: Buffer): void {
    if (this.phase === 'closing' || this.phase === 'closed') return;
    this.stats.received += 1;
    if (this.phase === 'establishing' || this.backlog.length > 0 || this.atLimit()) {
      this.backlog.push(payload);
      this.updateReading();
      return;
    }
    this.serveFrame(payload);
  }

  private atLimit(): boolean {
    return this.phase === 'serving' && this.slots.length >= this.host.requestsInFlightMax;
  }

  /** Serves backlogged frames while under the in-flight limit. */
  private drainBacklog(): void {
    while (this.backlog.length > 0 && this.phase === 'serving' && !this.atLimit()) {
      this.serveFrame(this.backlog.shift()!);
    }
  }

  private serveFrame(payload: Buffer): void {
    const parsed = parseClientRequest(payload, this.phase === 'connecting' ? 'connect' : 'operation',
      { requestBytesMax: this.host.requestBytesMax, replyBytesMax: Number.MAX_SAFE_INTEGER });
    this.dispatch(parsed);
  }

  private dispatch(parsed: ClientRequest): void {
    switch (parsed.kind) {
      case 'tooLarge':
      case 'malformed':
        this.abort(`${parsed.kind} request (${parsed.error.message}); closing the connection`);
        return;
      case 'connect':
        this.phase = 'establishing';
        this.pauseReading();
        void this.establish(parsed.request);
        return;
      case 'unknownOperation':
        this.reply(parsed.header.xid, {
          err: ErrorCode.Unimplemented, zxid: this.host.replica.tree.lastZxid, response: null });
        return;
      case 'operation':
        this.operation(parsed.header.xid, parsed.request);
        return;
    }
  }

  // ---- the handshake ----

  private async establish(request: ConnectRequest): Promise<void> {
    const { replica, passwords } = this.host;
    const lastZxid = replica.tree.lastZxid;
    if (request.lastZxidSeen > lastZxid) {
      this.abort(`refusing session request: the client has seen zxid 0x${request.lastZxidSeen.toString(16)}, ` +
        `our last zxid is 0x${lastZxid.toString(16)}; it will try another server`);
      return;
    }
    try {
      if (request.sessionId === 0n) {
        const created = await replica.createSession(request.timeOut, false);
        this.sessionId = created.sessionId;
        this.timeoutMs = created.timeoutMs;
      } else {
        const valid = passwords.verify(request.sessionId, request.passwd) &&
          replica.touchSession(request.sessionId);
        if (!valid) {
          this.refuseSession(request.sessionId);
          return;
        }
        this.sessionId = request.sessionId;
        this.timeoutMs = replica.tree.sessionTimeoutMs(request.sessionId) ?? request.timeOut;
      }
    } catch (error) {
      this.abort(`cannot establish a session: ${(error as Error).message}`);
      return;
    }
    if (this.phase !== 'establishing') return; // the socket closed meanwhile
    // A read-write server answers a read-only-capable client as read-write (ZooKeeper too).
    this.startServing();
  }

  private startServing(): void {
    this.phase = 'serving';
    this.host.attach(this);
    this.write(serializeConnectResponse({ protocolVersion: PROTOCOL_VERSION, timeOut: this.timeoutMs,
      sessionId: this.sessionId, passwd: this.host.passwords.passwordOf(this.sessionId), readOnly: false }));
    this.drainBacklog();
    this.updateReading();
  }

  /** ZooKeeper's answer to a bad password or an expired session: timeout 0, then close. */
  private refuseSession(sessionId: SessionId): void {
    this.host.logger.log(`client ${this.remote}: session 0x${sessionId.toString(16)} ` +
      'is expired or its password is wrong; telling the client it expired');
    this.write(serializeConnectResponse({ protocolVersion: PROTOCOL_VERSION, timeOut: 0,
      sessionId: 0n, passwd: Buffer.alloc(16), readOnly: false }));
    this.close();
  }

  // ---- operations ----

  private operation(xid: number, request: OperationRequest): void {
    this.stats.lastOperation = opCodeName(request.type);
    this.stats.lastCxid = xid;
    switch (request.type) {
      case OpCode.auth:
        this.auth(xid, request.body.scheme, request.body.auth);
        return;
      case OpCode.closeSession:
        this.closeSession(xid);
        return;
      default:
        break;
    }
    if (isOrderedLikeWrite(request.type)) {
      // Behind a waiting read, a write waits too: the read must not see it.
      this.ordered(xid, () => (this.readsWaiting === 0 ? serveWrite(this.context, xid, request)
        : this.lastWaitingRead.then(() => serveWrite(this.context, xid, request))));
    } else if (this.writesInFlight === 0 && this.readsWaiting === 0) {
      this.reply(xid, serveRead(this.context, request));
    } else {
      this.waitingRead(xid, request);
    }
  }

  /** A read behind in-flight writes: served once they were applied, in arrival order. */
  private waitingRead(xid: number, request: OperationRequest): void {
    this.readsWaiting += 1;
    const read = this.lastWrite.then(() => serveRead(this.context, request)).finally(() => {
      this.readsWaiting -= 1;
    });
    this.lastWaitingRead = read.catch(() => undefined);
    this.ordered(xid, () => read, false);
  }

  /**
   * Runs `serve` in this session's order: a write starts now (the replica keeps a session's
   * writes in order), a deferred read once the writes before it were applied.
   */
  private ordered(xid: number, serve: () => Promise<OperationOutcome>, isWrite = true, endAfter = false): void {
    const slot = this.reserve(endAfter);
    if (isWrite) this.writesInFlight += 1;
    // The write was applied (or failed) when its promise settles: it stops counting before its
    // reply is filled, so a read drained from the backlog by that fill needs not wait for it.
    const promise = serve().then(
      (outcome) => {
        if (isWrite) this.writesInFlight -= 1;
        this.fill(slot, xid, outcome);
      },
      (error: unknown) => {
        if (isWrite) this.writesInFlight -= 1;
        this.failed(slot, xid, error);
      },
    );
    if (isWrite) this.lastWrite = promise;
  }

  private auth(xid: number, scheme: string, auth: Buffer | null): void {
    const zxid = this.host.replica.tree.lastZxid;
    try {
      this.host.replica.addAuth(this.sessionId, scheme, auth === null ? Buffer.alloc(0) : Buffer.from(auth));
      this.reply(xid, { err: ErrorCode.Ok, zxid, response: null });
    } catch (error) {
      // ZooKeeper: the AuthFailed reply, an AuthFailed state event, then the connection closes.
      this.reply(xid, { err: ErrorCode.AuthFailed, zxid, response: null });
      this.write(serializeNotification({ type: 0, state: KeeperState.authFailed, path: null }, -1n));
      this.close(`authentication failed for scheme ${scheme}: ${(error as Error).message}`);
    }
  }

  private closeSession(xid: number): void {
    this.ordered(xid, async () => {
      await this.lastWrite;
      this.phase = 'closing';
      await this.host.replica.closeSession(this.sessionId);
      return { err: ErrorCode.Ok, zxid: this.host.replica.tree.lastZxid, response: null };
    }, true, true);
  }

  // ---- replies ----

  private reply(xid: number, outcome: OperationOutcome): void {
    this.fill(this.reserve(false), xid, outcome);
  }

  private reserve(endAfter: boolean): ReplySlot {
    const slot: ReplySlot = { frame: undefined, endAfter };
    this.slots.push(slot);
    if (this.slots.length > this.stats.queuedMax) this.stats.queuedMax = this.slots.length;
    this.updateReading();
    return slot;
  }

  /**
   * The reply of `slot`: encoded straight into the outbox when it is next in order (the usual
   * case), else kept as a frame until the replies before it were sent.
   */
  private fill(slot: ReplySlot, xid: number, outcome: OperationOutcome): void {
    this.stats.lastZxid = outcome.zxid;
    const header: ReplyHeader = { xid, zxid: outcome.zxid, err: outcome.err };
    const response = outcome.err === ErrorCode.Ok ? outcome.response : null;
    if (this.slots[0] !== slot) {
      slot.frame = serializeReply(header, response);
      this.flush();
      return;
    }
    this.slots.shift();
    if (this.phase !== 'closed') this.send((outbox) => appendReply(outbox, header, response));
    if (slot.endAfter) {
      this.close();
      return;
    }
    this.flush();
  }

  /**
   * A write that neither committed nor failed with a result code: throttled (ThrottledOp is a
   * result), or the replica lost its leader or stopped. The client must reconnect elsewhere.
   */
  private failed(slot: ReplySlot, xid: number, error: unknown): void {
    if (error instanceof KeeperError && error.code !== ErrorCode.ConnectionLoss) {
      this.fill(slot, xid, outcomeOfError(error, this.host.replica.tree.lastZxid));
      return;
    }
    this.abort(`request 0x${xid.toString(16)} failed: ${(error as Error).message}; closing the connection`);
  }

  private flush(): void {
    while (this.slots.length > 0 && this.slots[0]!.frame !== undefined) {
      const slot = this.slots.shift()!;
      if (this.phase !== 'closed') this.write(slot.frame!);
      if (slot.endAfter) {
        this.close();
        return;
      }
    }
    this.drainBacklog();
    this.updateReading();
  }

  private sendEvent(type: WatchEventType, path: string, zxid: Zxid): void {
    if (this.phase !== 'serving') return;
    const event: WatcherEvent = { type: eventTypeCode(type), state: KeeperState.syncConnected, path };
    this.send((outbox) => appendNotification(outbox, event, zxid));
  }

  private write(frame: Buffer): void {
    this.send((outbox) => outbox.writeRaw(frame));
  }

  /** Appends one frame to the outbox (`append` writes it whole or throws leaving nothing). */
  private send(append: (outbox: JuteWriter) => void): void {
    if (this.socket.destroyed) return;
    append(this.outbox);
    this.stats.sent += 1;
    if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      process.nextTick(() => this.flushOutbox());
    }
  }

  /** Sends the frames written so far as one write (see `outbox`); safe to call any time. */
  private flushOutbox(): void {
    this.outboxScheduled = false;
    const bytes = this.outbox.length;
    if (bytes === 0) return;
    const data = this.outbox.toBuffer();
    if (bytes > OUTBOX_KEPT_BYTES_MAX) this.outbox = new JuteWriter(OUTBOX_INITIAL_BYTES);
    else this.outbox.reset();
    if (this.socket.destroyed || !this.socket.writable) return;
    this.stats.socketWrites += 1;
    this.socket.write(data);
    this.updateReading();
  }

  /**
   * Reads only while serving, under the in-flight limit, with nothing backlogged and while the
   * socket drains its writes (a client that does not read its replies stops being read).
   */
  private updateReading(): void {
    if (this.phase !== 'serving') return;
    const shouldPause = this.backlog.length > 0 || this.atLimit() || this.socket.writableNeedDrain;
    if (shouldPause) this.pauseReading();
    else if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  private pauseReading(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.socket.pause();
  }

  /** Bad input or a failed request: log why and drop the connection (never the replica). */
  private abort(reason: string): void {
    if (this.phase === 'closed') return;
    this.host.logger.warn(`client ${this.remote}: ${reason}`);
    this.phase = 'closing';
    this.socket.destroy();
  }

  private closed(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.host.replica.watches.removeWatcher(this);
    this.host.detach(this);
  }
}
