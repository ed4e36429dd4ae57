/**
 * Goal: the remote client's connection rules that a healthy ZooKeeper never exercises: a
 * write in flight when the connection drops fails with ConnectionLoss and is NOT resent, a
 * read is resent (a bounded number of times);
 * the reconnect carries the session id, password and last zxid seen; bad server bytes
 * (undecodable frame, a reply to no request, an oversized length) drop the connection and the
 * client reconnects instead of crashing; a server that reports the session expired makes it
 * lost; pings flow at a third of the negotiated timeout; the requests of one event-loop turn
 * leave in one socket write, in order.
 * Method: a scripted fake server on a loopback port the OS picks, speaking the protocol with
 * the shared wire codec; each accepted connection gets the next script. Waits are on events
 * with bounded timeouts.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Socket, type Server } from 'node:net';
import { ConnectionLossError, SessionExpiredError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import { deferred, withTimeout } from '../testing/with-timeout.js';
import { FrameDecoder } from '../transport/frame-decoder.js';
import { parseClientRequest } from '../wire/client-request-parser.js';
import { OpCode } from '../wire/op-code.js';
import type { OperationRequest } from '../wire/operation.js';
import type { ConnectRequest } from '../wire/records/connect.js';
import { serializeConnectResponse, serializeReply } from '../wire/server-reply-serializer.js';
import type { ConnectionState } from './coordination-client.js';
import { RemoteCoordinationClient } from './remote-client.js';
import { chunkSetWatches, READ_RETRIES_MAX } from './remote-session.js';

const STAT: Stat = {
  czxid: 1n, mzxid: 1n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0,
  ephemeralOwner: 0n, dataLength: 1, numChildren: 0, pzxid: 1n,
};
const PASSWORD = Buffer.alloc(16, 7);

interface FakeConnection {
  socket: Socket;
  connect: ConnectRequest;
  /** Operations received, in order (pings included). */
  received: Array<{ xid: number; request: OperationRequest }>;
  /** Answers the handshake with this session and timeout (0: expired). */
  accept(timeOutMs: number): void;
  reply(xid: number, zxid: bigint, request: OperationRequest): void;
}

type Script = (connection: FakeConnection, xid: number, request: OperationRequest) => void;

/** A fake ZooKeeper server; connection n runs `scripts[n]` on every operation it receives. */
async function fakeServer(scripts: Array<{ timeOutMs: number; onRequest: Script }>): Promise<{
  server: Server; port: number; connections: FakeConnection[]; accepted: (n: number) => Promise<FakeConnection>;
}> {
  const connections: FakeConnection[] = [];
  const waiters = new Map<number, (c: FakeConnection) => void>();
  const server = createServer((socket) => {
    const index = connections.length;
    const script = scripts[Math.min(index, scripts.length - 1)]!;
    const decoder = new FrameDecoder(1 << 20);
    let connection: FakeConnection | undefined;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (payload) => {
      if (connection === undefined) {
        const parsed = parseClientRequest(payload, 'connect');
        assert.equal(parsed.kind, 'connect');
        if (parsed.kind !== 'connect') return;
        connection = newConnection(socket, parsed.request);
        connections.push(connection);
        connection.accept(script.timeOutMs);
        waiters.get(index)?.(connection);
        return;
      }
      const parsed = parseClientRequest(payload, 'operation');
      if (parsed.kind !== 'operation') return;
      connection.received.push({ xid: parsed.header.xid, request: parsed.request });
      script.onRequest(connection, parsed.header.xid, parsed.request);
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const accepted = (n: number): Promise<FakeConnection> =>
    connections[n] !== undefined ? Promise.resolve(connections[n]!) : new Promise((resolve) => waiters.set(n, resolve));
  return { server, port, connections, accepted };
}

function newConnection(socket: Socket, connect: ConnectRequest): FakeConnection {
  return {
    socket,
    connect,
    received: [],
    accept: (timeOutMs) => socket.write(serializeConnectResponse({
      protocolVersion: 0, timeOut: timeOutMs, sessionId: 0x42n, passwd: PASSWORD, readOnly: false,
    })),
    reply: (xid, zxid, request) => {
      if (request.type === OpCode.getData) {
        socket.write(serializeReply({ xid, zxid, err: 0 }, { type: OpCode.getData, body: { data: Buffer.from('v'), stat: STAT } }));
      } else if (request.type === OpCode.setData) {
        socket.write(serializeReply({ xid, zxid, err: 0 }, { type: OpCode.setData, body: { stat: STAT } }));
      } else if (request.type === OpCode.exists) {
        socket.write(serializeReply({ xid, zxid, err: 0 }, { type: OpCode.exists, body: { stat: STAT } }));
      } else if (request.type === OpCode.ping) {
        socket.write(serializeReply({ xid, zxid, err: 0 }, { type: OpCode.ping, body: null }));
      } else if (request.type === OpCode.closeSession) {
        socket.write(serializeReply({ xid, zxid, err: 0 }, { type: OpCode.closeSession, body: null }));
      }
    },
  };
}

const serve: Script = (connection, xid, request) => connection.reply(xid, 5n, request);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); // clients before servers
});

async function clientOf(port: number): Promise<RemoteCoordinationClient> {
  const client = await RemoteCoordinationClient.connect({ connect: `127.0.0.1:${port}`, sessionTimeoutMs: 3000 });
  cleanups.push(() => client.close());
  return client;
}

function track(client: RemoteCoordinationClient): { states: ConnectionState[]; reached(state: ConnectionState): Promise<void> } {
  const states: ConnectionState[] = [];
  const waiting = new Map<ConnectionState, () => void>();
  client.onConnectionStateChange((state) => {
    states.push(state);
    waiting.get(state)?.();
  });
  return {
    states,
    reached: (state) => (states.includes(state) ? Promise.resolve()
      : withTimeout(new Promise<void>((resolve) => waiting.set(state, resolve)), 5000, state)),
  };
}

test('in flight when the connection drops: a write fails with ConnectionLoss and is not resent, a read is resent; the reconnect carries id, password and last zxid', async () => {
  const dropOnWrite: Script = (connection, xid, request) => {
    if (request.type === OpCode.setData) connection.socket.destroy();
    else if (request.type === OpCode.getData && request.body.path === '/held') return; // unanswered
    else connection.reply(xid, 5n, request);
  };
  const fake = await fakeServer([{ timeOutMs: 3000, onRequest: dropOnWrite }, { timeOutMs: 3000, onRequest: serve }]);
  cleanups.push(() => new Promise((resolve) => fake.server.close(() => resolve())));
  const client = await clientOf(fake.port);
  const tracked = track(client);
  assert.equal((await client.getData('/a')).data.toString(), 'v');
  const read = client.getData('/held');
  await assert.rejects(client.setData('/b', Buffer.from('w')), ConnectionLossError);
  assert.equal((await withTimeout(read, 5000, 'the resent read')).data.toString(), 'v');
  await tracked.reached('reconnected');
  assert.deepEqual(tracked.states, ['suspended', 'reconnected']);
  const second = await withTimeout(fake.accepted(1), 5000, 'second connection');
  assert.equal(second.connect.sessionId, 0x42n);
  assert.deepEqual(second.connect.passwd, PASSWORD);
  assert.equal(second.connect.lastZxidSeen, 5n);
  assert.notEqual(await client.exists('/c'), null);
  const ops = second.received.filter((r) => r.request.type !== OpCode.ping);
  assert.deepEqual(ops.map((r) => r.request.type), [OpCode.getData, OpCode.exists], 'the lost setData was not resent');
});

test('a read rides out at most READ_RETRIES_MAX connection losses, then fails with ConnectionLoss', async () => {
  const dropOnRead: Script = (connection, xid, request) => {
    if (request.type === OpCode.getData) connection.socket.destroy();
    else connection.reply(xid, 5n, request);
  };
  const fake = await fakeServer([{ timeOutMs: 3000, onRequest: dropOnRead }]);
  cleanups.push(() => new Promise((resolve) => fake.server.close(() => resolve())));
  const client = await clientOf(fake.port);
  await assert.rejects(client.getData('/x'), ConnectionLossError);
  const reads = fake.connections.flatMap((c) => c.received).filter((r) => r.request.type === OpCode.getData);
  assert.equal(reads.length, 1 + READ_RETRIES_MAX);
});

test('bad server bytes drop the connection and the client reconnects, never crashing', async () => {
  const badReplies: Array<(socket: Socket, xid: number) => void> = [
    (socket) => socket.write(Buffer.from([0, 0, 0, 3, 1, 2, 3])), // undecodable reply header
    (socket, xid) => socket.write(serializeReply({ xid: xid + 1000, zxid: 1n, err: 0 }, { type: OpCode.ping, body: null })),
    (socket) => socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff])), // length over replyBytesMax
  ];
  const misbehave = (bad: (socket: Socket, xid: number) => void): Script => (connection, xid, request) => {
    if (request.type === OpCode.setData) bad(connection.socket, xid);
    else connection.reply(xid, 5n, request);
  };
  const fake = await fakeServer([...badReplies.map((bad) => ({ timeOutMs: 3000, onRequest: misbehave(bad) })), { timeOutMs: 3000, onRequest: serve }]);
  cleanups.push(() => new Promise((resolve) => fake.server.close(() => resolve())));
  const client = await clientOf(fake.port);
  for (let round = 0; round < badReplies.length; round++) {
    await assert.rejects(client.setData('/x', Buffer.from('w')), ConnectionLossError, `round ${round}`);
    await withTimeout(fake.accepted(round + 1), 5000, `connection ${round + 1}`);
  }
  assert.equal((await client.getData('/x')).data.toString(), 'v');
  assert.equal(client.sessionId, 0x42n);
  assert.equal(client.state, 'connected');
});

test('a server reporting the session expired (timeout 0) makes it lost; calls fail with SessionExpired', async () => {
  const dropOnSet: Script = (connection, xid, request) => {
    if (request.type === OpCode.setData) connection.socket.destroy();
    else connection.reply(xid, 5n, request);
  };
  const fake = await fakeServer([{ timeOutMs: 3000, onRequest: dropOnSet }, { timeOutMs: 0, onRequest: serve }]);
  cleanups.push(() => new Promise((resolve) => fake.server.close(() => resolve())));
  const client = await clientOf(fake.port);
  const tracked = track(client);
  const ended = deferred<string>();
  client.onSessionEnd((state) => ended.resolve(state));
  await assert.rejects(client.setData('/x', Buffer.from('w')), ConnectionLossError);
  assert.equal(await withTimeout(ended.promise, 5000, 'session end'), 'expired');
  assert.deepEqual(tracked.states, ['suspended', 'lost']);
  await assert.rejects(client.exists('/x'), SessionExpiredError);
});

test('the requests issued in one event-loop turn leave in one socket write, in order', async () => {
  const fake = await fakeServer([{ timeOutMs: 3000, onRequest: serve }]);
  cleanups.push(() => new Promise((resolve) => fake.server.close(() => resolve())));
  const client = await clientOf(fake.port);
  // Counts the writes of the client's socket (its remote port is the fake server's).
  const write = Socket.prototype.write;
  let clientWrites = 0;
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (this.remotePort === fake.port) clientWrites += 1;
    return write.apply(this, args);
  } as Socket['write'];
  let reads: Array<{ data: Buffer }>;
  try {
    reads = await withTimeout(Promise.all(Array.from({ length: 20 }, (_, i) => client.getData(`/n${i}`))), 5000, '20 reads');
  } finally {
    Socket.prototype.write = write;
  }
  assert.equal(reads.length, 20);
  assert.equal(clientWrites, 1, 'one write for the 20 requests');
  const paths = fake.connections[0]!.received.filter((r) => r.request.type === OpCode.getData)
    .map((r) => (r.request.body as { path: string }).path);
  assert.deepEqual(paths, Array.from({ length: 20 }, (_, i) => `/n${i}`));
});

test('pings flow at a third of the negotiated timeout', async () => {
  const pinged = deferred<number>();
  const started = performance.now();
  const fake = await fakeServer([{
    timeOutMs: 600,
    onRequest: (connection, xid, request) => {
      if (request.type === OpCode.ping) pinged.resolve(performance.now() - started);
      connection.reply(xid, 5n, request);
    },
  }]);
  cleanups.push(() => new Promise((resolve) => fake.server.close(() => resolve())));
  const client = await clientOf(fake.port);
  assert.equal(client.sessionTimeoutMs, 600, 'the negotiated timeout');
  const afterMs = await withTimeout(pinged.promise, 5000, 'a ping');
  assert.ok(afterMs >= 150, `first ping after ${afterMs} ms`);
});

test('SetWatches2 after a reconnect is split into bodies of at most 128 KiB, every watch once', () => {
  const paths = Array.from({ length: 3000 }, (_, i) => `/watched/${String(i).padStart(90, '0')}`);
  const watches = {
    relativeZxid: 9n, dataWatches: paths.slice(0, 1000), existWatches: paths.slice(1000, 1500),
    childWatches: paths.slice(1500, 2500), persistentWatches: paths.slice(2500, 2900),
    persistentRecursiveWatches: paths.slice(2900),
  };
  const chunks = chunkSetWatches(watches, 128 * 1024);
  assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
  const lists = ['dataWatches', 'existWatches', 'childWatches', 'persistentWatches', 'persistentRecursiveWatches'] as const;
  for (const chunk of chunks) {
    assert.equal(chunk.relativeZxid, 9n);
    const bytes = lists.reduce((sum, list) => sum + chunk[list].reduce((s, p) => s + 4 + p.length, 0), 0);
    assert.ok(bytes <= 128 * 1024, `chunk of ${bytes} bytes`);
  }
  for (const list of lists) assert.deepEqual(chunks.flatMap((c) => c[list]), watches[list]);
});

test('no server reachable for a whole session timeout: lost, as Curator decides (session expired)', async () => {
  const fake = await fakeServer([{ timeOutMs: 600, onRequest: serve }]);
  const client = await clientOf(fake.port);
  const tracked = track(client);
  const ended = deferred<string>();
  client.onSessionEnd((state) => ended.resolve(state));
  const closed = new Promise<void>((resolve) => fake.server.close(() => resolve()));
  for (const connection of fake.connections) connection.socket.destroy();
  await closed; // nothing listens on the port any more: every reconnect is refused
  assert.equal(await withTimeout(ended.promise, 5000, 'session end'), 'expired');
  assert.deepEqual(tracked.states, ['suspended', 'lost']);
  await assert.rejects(client.getData('/x'), SessionExpiredError);
});
