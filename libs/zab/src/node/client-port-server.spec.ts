/**
 * Goal: the client port's protocol rules at the byte level, where a real client library would
 * hide them: replies leave in request order (a pipelined write then read), unknown ops get
 * Unimplemented, a client that saw a newer zxid is refused without a response, a reconnect
 * with a wrong password is told "expired" (timeout 0) and one with the right password
 * resumes the session and closes its older connection, oversized and malformed frames close
 * only their own connection, the per-host connection cap holds, no connection has more than
 * `clientRequestsInFlightMax` requests unanswered (the rest wait unread), replies to requests that
 * arrive together leave in one socket write (counted by the connection), and the four-letter words answer in
 * ZooKeeper's formats, refusing those not allow-listed. Also the ops no client library here
 * offers (createTTL, createContainer, getEphemerals, getAllChildrenNumber, multiRead, sync,
 * addWatch, checkWatches, removeWatches, SetWatches2), the ACL hooks (addAuth, checkPermission) and session expiry after a
 * disconnect.
 * Method: a standalone in-memory `Replica` with a client port on 127.0.0.1:0, driven by
 * `RawClient` (wire codec over a plain socket). A sync that loses its leader (ConnectionLoss
 * from the replica's barrier, injected) closes its connection instead of answering
 * ConnectionLoss, which no client resends. Waits are on frames or socket events,
 * bounded by `withTimeout`; the port and the replica are closed in `after`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Replica } from './replica.js';
import { resolveReplicaOptions, type ReplicaOptions } from './replica-options.js';
import { ClientPortServer, startClientPort } from './client-port-server.js';
import { connectRequest, RawClient } from '../testing/raw-client-port-client.js';
import { OpCode } from '../wire/op-code.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError, keeperError } from '../state/keeper-error.js';
import { Perms } from '../state/stat.js';
import { withTimeout } from '../testing/with-timeout.js';
import { SessionPasswords } from './client-session-password.js';

const logged: string[] = [];
const logger = { log: (m: string) => logged.push(m), warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };

let replica: Replica;
let server: ClientPortServer;
let options: ReplicaOptions;
const raws: RawClient[] = [];

async function session(request = {}): Promise<{ client: RawClient; response: Awaited<ReturnType<typeof RawClient.session>>['response'] }> {
  const opened = await RawClient.session(server.port, request);
  raws.push(opened.client);
  return opened;
}

async function fourLetters(word: string): Promise<string> {
  const socket = connect(server.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(word);
  await withTimeout(new Promise((resolve) => socket.on('close', resolve)), 10_000, `${word} answer`);
  return Buffer.concat(chunks).toString('latin1');
}

/** A RequestHeader frame with an op ZooKeeper does not have (the serializer refuses one). */
function unknownOp(xid: number, type: number): Buffer {
  const frame = Buffer.alloc(12);
  frame.writeInt32BE(8, 0);
  frame.writeInt32BE(xid, 4);
  frame.writeInt32BE(type, 8);
  return frame;
}

before(async () => {
  options = resolveReplicaOptions({ dataDir: ':memory:', tickMs: 500, clientPort: 0, clientHost: '127.0.0.1',
    secret: 'raw-client-port-secret-0123', clientConnectionsPerHostMax: 12, clientRequestsInFlightMax: 4,
    clientRequestBytesMax: 4096, fourLetterWords: ['ruok', 'srvr', 'mntr', 'wchs', 'cons'] });
  replica = await Replica.open(options);
  server = (await startClientPort(replica, options, logger))!;
});

after(async () => {
  for (const raw of raws) raw.close();
  await server?.close();
  await replica?.close();
});

test('pipelined requests are answered in order; a read sees the write before it, not the one after', async () => {
  const { client, response } = await session();
  assert.equal(response.timeOut, 4000);
  assert.deepEqual(response.passwd, new SessionPasswords(options.secret).passwordOf(response.sessionId));
  client.send(Buffer.concat([
    client.request(1, { type: OpCode.create, body: { path: '/order', data: Buffer.from('x'), acl: [{ perms: 31, scheme: 'world', id: 'anyone' }], flags: 0 } }),
    client.request(2, { type: OpCode.getData, body: { path: '/order', watch: false } }),
    client.request(3, { type: OpCode.getData, body: { path: '/missing', watch: false } }),
    client.request(-2, { type: OpCode.ping, body: null }),
    unknownOp(4, 9999),
    // Sent after the read: the read (waiting for the create) must not see it.
    client.request(5, { type: OpCode.setData, body: { path: '/order', data: Buffer.from('y'), version: -1 } }),
  ]));
  const replies = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => client.reply(i)));
  const headers = replies.map((r) => (r.kind === 'reply' || r.kind === 'unexpectedXid' ? r.header : undefined));
  assert.deepEqual(headers.map((h) => h?.xid), [1, 2, 3, -2, 4, 5]);
  assert.deepEqual(headers.map((h) => h?.err), [0, 0, ErrorCode.NoNode, 0, ErrorCode.Unimplemented, 0]);
  const read = replies[1]!;
  assert.ok(read.kind === 'reply' && read.response?.type === OpCode.getData);
  assert.equal(read.response.body.data?.toString(), 'x');
  assert.equal(headers[0]!.zxid <= headers[1]!.zxid, true, 'the read reply carries a zxid at least the write\'s');
});

test('replies to requests that arrive together leave in one socket write, in order', async () => {
  const { client } = await session();
  const count = 16;
  const lastXid = 7001 + count - 1;
  client.send(Buffer.concat([
    client.request(7000, { type: OpCode.create, body: { path: '/batched', data: Buffer.alloc(100, 1),
      acl: [{ perms: 31, scheme: 'world', id: 'anyone' }], flags: 0 } }),
  ]));
  await client.reply(1);
  client.send(Buffer.concat(Array.from({ length: count }, (_, i) =>
    client.request(7001 + i, { type: OpCode.getData, body: { path: '/batched', watch: false } }))));
  const replies = await Promise.all(Array.from({ length: count }, (_, i) => client.reply(2 + i)));
  assert.deepEqual(replies.map((r) => (r.kind === 'reply' ? r.header.xid : undefined)),
    Array.from({ length: count }, (_, i) => 7001 + i));
  const stats = server.connectionStats().find((s) => s.lastCxid === lastXid);
  assert.ok(stats !== undefined);
  // connect response, create reply, then the reads: one write per turn, not one per reply
  // (over the in-flight limit of 4 the backlog is served in the same turn as replies drain).
  assert.equal(stats.sent, 2 + count);
  assert.ok(stats.socketWrites <= 4, `${stats.socketWrites} socket writes for ${stats.sent} frames`);
});

test('a client that has seen a newer zxid is refused without a response', async () => {
  const client = await RawClient.open(server.port);
  raws.push(client);
  client.send(connectRequest({ lastZxidSeen: replica.tree.lastZxid + 1000n }));
  await client.waitClosed();
  assert.equal(client.frames.length, 0);
  assert.match(logged.join('\n'), /has seen zxid/);
});

test('a reconnect with a wrong password is told the session expired', async () => {
  const { response } = await session();
  const client = await RawClient.open(server.port);
  raws.push(client);
  client.send(connectRequest({ sessionId: response.sessionId, passwd: Buffer.alloc(16, 7) }));
  const refused = await client.connectResponse();
  assert.equal(refused.timeOut, 0);
  await client.waitClosed();
  assert.equal(replica.tree.hasSession(response.sessionId), true, 'the session itself is untouched');
});

test('a reconnect with the right password resumes the session and closes the old connection', async () => {
  const first = await session();
  const second = await session({ sessionId: first.response.sessionId, passwd: first.response.passwd });
  assert.equal(second.response.sessionId, first.response.sessionId);
  assert.equal(second.response.timeOut, first.response.timeOut);
  await first.client.waitClosed();
  second.client.send(second.client.request(1, { type: OpCode.exists, body: { path: '/', watch: false } }));
  const reply = await second.client.reply(1);
  assert.ok(reply.kind === 'reply' && reply.header.err === 0);
});

test('an oversized frame and a malformed frame close only their own connection', async () => {
  const healthy = await session();
  const big = await session();
  const huge = Buffer.alloc(8);
  huge.writeInt32BE(4097, 0);
  big.client.send(huge);
  await big.client.waitClosed();
  const bad = await session();
  const garbage = Buffer.from([0, 0, 0, 6, 0, 0, 0, 1, 0, 0]); // header cut short
  bad.client.send(garbage);
  await bad.client.waitClosed();
  const badConnect = await RawClient.open(server.port);
  raws.push(badConnect);
  badConnect.send(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
  await badConnect.waitClosed();
  assert.match(logged.join('\n'), /4097/);
  assert.match(logged.join('\n'), /malformed/);
  healthy.client.send(healthy.client.request(7, { type: OpCode.exists, body: { path: '/', watch: false } }));
  const reply = await healthy.client.reply(1);
  assert.ok(reply.kind === 'reply' && reply.header.xid === 7 && reply.header.err === 0);
  assert.equal(replica.state, 'serving');
});

test('a sync that loses its leader closes its connection, never answers ConnectionLoss', async () => {
  const healthy = await session();
  const { client } = await session();
  const barrier = replica.barrier;
  replica.barrier = () => Promise.reject(keeperError(ErrorCode.ConnectionLoss, undefined, 'sync failed: leadership changed'));
  try {
    client.send(client.request(1, { type: OpCode.sync, body: { path: '/' } }));
    await client.waitClosed();
  } finally {
    replica.barrier = barrier;
  }
  assert.equal(client.frames.length, 1, 'only the connect response: no reply carrying ConnectionLoss');
  healthy.client.send(healthy.client.request(2, { type: OpCode.sync, body: { path: '/' } }));
  assert.equal(errOf(await healthy.client.reply(1)), ErrorCode.Ok);
});

const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];

function errOf(reply: Awaited<ReturnType<RawClient['reply']>>): number | undefined {
  return reply.kind === 'reply' || reply.kind === 'notification' ? reply.header.err : undefined;
}

test('the ops no library here offers: TTL, container, ephemerals, counts, multiRead, sync, watch management', async () => {
  const { client } = await session();
  client.send(Buffer.concat([
    client.request(1, { type: OpCode.createTTL, body: { path: '/ops2', data: null, acl: OPEN, flags: 5, ttl: 60_000n } }),
    client.request(2, { type: OpCode.createContainer, body: { path: '/ops2/box', data: null, acl: OPEN, flags: 4 } }),
    client.request(3, { type: OpCode.create2, body: { path: '/ops2/box/e', data: Buffer.from('e'), acl: OPEN, flags: 1 } }),
    client.request(4, { type: OpCode.getEphemerals, body: { prefixPath: '/ops2' } }),
    client.request(5, { type: OpCode.getAllChildrenNumber, body: { path: '/ops2' } }),
    client.request(6, { type: OpCode.multiRead, body: { operations: [
      { type: OpCode.getData, body: { path: '/ops2/box/e', watch: false } },
      { type: OpCode.getChildren, body: { path: '/missing', watch: false } }] } }),
    client.request(7, { type: OpCode.sync, body: { path: '/ops2' } }),
    client.request(8, { type: OpCode.createTTL, body: { path: '/ops2/bad', data: null, acl: OPEN, flags: 0, ttl: 1n } }),
    client.request(9, { type: OpCode.addWatch, body: { path: '/ops2', mode: 1 } }),
    client.request(10, { type: OpCode.checkWatches, body: { path: '/ops2', type: 5 } }),
    client.request(11, { type: OpCode.checkWatches, body: { path: '/ops2', type: 1 } }),
    client.request(12, { type: OpCode.removeWatches, body: { path: '/ops2', type: 5 } }),
    client.request(13, { type: OpCode.checkWatches, body: { path: '/ops2', type: 5 } }),
  ]));
  const replies = await Promise.all(Array.from({ length: 13 }, (_, i) => client.reply(i + 1)));
  assert.deepEqual(replies.map(errOf), [0, 0, 0, 0, 0, 0, 0, ErrorCode.BadArguments, 0, 0,
    ErrorCode.NoWatcher, 0, ErrorCode.NoWatcher]);
  const body = (i: number): unknown => (replies[i]!.kind === 'reply' ? (replies[i] as { response: { body: unknown } }).response.body : undefined);
  assert.deepEqual(body(3), { ephemerals: ['/ops2/box/e'] });
  assert.deepEqual(body(4), { totalNumber: 2 });
  const multi = body(5) as { results: Array<{ type: number; err?: number; body?: { data: Buffer } }> };
  assert.equal(multi.results[0]!.body!.data.toString(), 'e');
  assert.deepEqual(multi.results[1], { type: OpCode.error, err: ErrorCode.NoNode });
  assert.deepEqual(body(6), { path: '/ops2' });
  assert.equal(replica.tree.nodeInfo('/ops2')?.kind, 'ttl');
  assert.equal(replica.tree.nodeInfo('/ops2/box')?.kind, 'container');
});

test('a multi with an invalid op is answered as a failed multi, with nothing applied', async () => {
  const { client } = await session();
  client.send(client.request(1, { type: OpCode.multi, body: { operations: [
    { type: OpCode.create, body: { path: '/m-ok', data: null, acl: OPEN, flags: 0 } },
    { type: OpCode.create, body: { path: 'no-slash', data: null, acl: OPEN, flags: 0 } },
    { type: OpCode.delete, body: { path: '/m-ok', version: -1 } }] } }));
  const reply = await client.reply(1);
  assert.ok(reply.kind === 'reply' && reply.header.err === 0 && reply.response?.type === OpCode.multi);
  assert.deepEqual(reply.response.body.results, [
    { type: OpCode.error, err: ErrorCode.Ok },
    { type: OpCode.error, err: ErrorCode.BadArguments },
    { type: OpCode.error, err: ErrorCode.RuntimeInconsistency }]);
  assert.equal(replica.tree.stat('/m-ok'), undefined);
});

test('addAuth and reads go through the replica\'s addAuth and checkPermission (the ACL hooks)', async (t) => {
  const auths: Array<[bigint, string, string]> = [];
  t.mock.method(replica, 'addAuth', (sessionId: bigint, scheme: string, auth: Buffer) => {
    if (scheme === 'bad') throw new KeeperError(ErrorCode.AuthFailed, undefined, 'bad credentials');
    auths.push([sessionId, scheme, auth.toString()]);
  });
  t.mock.method(replica, 'checkPermission', (_sessionId: bigint, path: string, permission: number) => {
    if (path === '/secret' && (permission & Perms.Read) !== 0) throw new KeeperError(ErrorCode.NoAuth, path);
  });
  const { client, response } = await session();
  client.send(Buffer.concat([
    client.request(-4, { type: OpCode.auth, body: { type: 0, scheme: 'digest', auth: Buffer.from('u:p') } }),
    client.request(1, { type: OpCode.create, body: { path: '/secret', data: Buffer.from('s'), acl: OPEN, flags: 0 } }),
    client.request(2, { type: OpCode.getData, body: { path: '/secret', watch: false } }),
    client.request(3, { type: OpCode.getChildren2, body: { path: '/secret', watch: false } }),
    client.request(4, { type: OpCode.exists, body: { path: '/secret', watch: false } }),
  ]));
  const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => client.reply(i)));
  assert.deepEqual(replies.map(errOf), [0, 0, ErrorCode.NoAuth, ErrorCode.NoAuth, 0]);
  assert.deepEqual(auths, [[response.sessionId, 'digest', 'u:p']]);
  // A failed addAuth: the AuthFailed reply, an AuthFailed state event, then the close.
  client.send(client.request(-4, { type: OpCode.auth, body: { type: 0, scheme: 'bad', auth: null } }));
  const failed = await client.reply(6);
  assert.ok(failed.kind === 'reply' && failed.header.xid === -4 && failed.header.err === ErrorCode.AuthFailed);
  const event = await client.reply(7);
  assert.ok(event.kind === 'notification' && event.event.state === 4 && event.event.path === null);
  await client.waitClosed();
});

test('SetWatches2 fires at once for changes after relativeZxid and re-adds persistent watches', async () => {
  const { client } = await session();
  client.send(client.request(1, { type: OpCode.create, body: { path: '/sw', data: null, acl: OPEN, flags: 0 } }));
  const created = await client.reply(1);
  const seen = created.kind === 'reply' ? created.header.zxid : 0n;
  client.send(client.request(2, { type: OpCode.setData, body: { path: '/sw', data: Buffer.from('1'), version: -1 } }));
  await client.reply(2);
  client.send(client.request(-8, { type: OpCode.setWatches2, body: { relativeZxid: seen,
    dataWatches: ['/sw', '/sw-gone'], existWatches: ['/sw'], childWatches: [],
    persistentWatches: ['/sw'], persistentRecursiveWatches: [] } }));
  const frames = await Promise.all([3, 4, 5, 6].map((i) => client.reply(i)));
  const events = frames.filter((f) => f.kind === 'notification').map((f) => f.kind === 'notification' ? [f.event.type, f.event.path] : []);
  assert.deepEqual(events, [[3, '/sw'], [2, '/sw-gone'], [1, '/sw']]);
  assert.ok(frames[3]!.kind === 'reply' && frames[3]!.header.xid === -8, 'the reply comes after its events');
  client.send(client.request(3, { type: OpCode.delete, body: { path: '/sw', version: -1 } }));
  const deleted = await client.reply(7);
  assert.ok(deleted.kind === 'notification' && deleted.event.type === 2, 'the persistent watch was re-added');
});

test('a disconnected session lives until its timeout, then expires and loses its ephemerals', async () => {
  const { client, response } = await session({ timeOut: 1000 });
  assert.equal(response.timeOut, 1000);
  client.send(client.request(1, { type: OpCode.create, body: { path: '/left', data: null, acl: OPEN, flags: 1 } }));
  await client.reply(1);
  const ended = new Promise<string>((resolve) => replica.onSessionEnd((id, state) => {
    if (id === response.sessionId) resolve(state);
  }));
  client.close();
  await client.waitClosed();
  assert.equal(replica.tree.hasSession(response.sessionId), true, 'alive right after the disconnect');
  assert.equal(await withTimeout(ended, 10_000, 'the session to expire'), 'expired');
  assert.equal(replica.tree.stat('/left'), undefined);
});

test('pings keep a session alive; a silent one expires and its connection is closed', async () => {
  const pinging = await session({ timeOut: 1000 });
  const silent = await session({ timeOut: 1000 });
  const expired = new Promise<void>((resolve) => replica.onSessionEnd((id, state) => {
    if (id === silent.response.sessionId && state === 'expired') resolve();
  }));
  // The client's heartbeat (a third of the timeout, as ZooKeeper clients ping); bounded by
  // the wait below, cleared in finally.
  let pings = 0;
  const heartbeat = setInterval(() => {
    pings += 1;
    pinging.client.send(pinging.client.request(-2, { type: OpCode.ping, body: null }));
  }, 300);
  try {
    await withTimeout(expired, 10_000, 'the silent session to expire');
  } finally {
    clearInterval(heartbeat);
  }
  // Created first with the same timeout: without its pings it would have expired first.
  assert.equal(replica.tree.hasSession(pinging.response.sessionId), true);
  assert.equal(pings > 0, true);
  await silent.client.waitClosed();
});

test('no connection has more than clientRequestsInFlightMax requests unanswered', async () => {
  for (const raw of raws.splice(0)) raw.close();
  const { client } = await session();
  // 64 pipelined writes in one chunk: with 4 in flight the rest wait, unread, until replies drain.
  const creates = Array.from({ length: 64 }, (_, i) => client.request(i + 1, { type: OpCode.create,
    body: { path: `/limit-${i}`, data: null, acl: [{ perms: 31, scheme: 'world', id: 'anyone' }], flags: 0 } }));
  client.send(Buffer.concat(creates));
  const last = await client.reply(64);
  assert.ok(last.kind === 'reply' && last.header.xid === 64 && last.header.err === 0);
  const stats = server.connectionStats();
  assert.equal(stats.length, 1);
  assert.equal(stats[0]!.queuedMax, 4);
  assert.equal(replica.tree.getChildren('/')!.filter((name) => name.startsWith('limit-')).length, 64);
});

test('four-letter words answer in ZooKeeper\'s formats; others are refused', async () => {
  assert.equal(await fourLetters('ruok'), 'imok');
  const srvr = await fourLetters('srvr');
  const fields = new Map(srvr.trim().split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
  assert.match(fields.get('Zookeeper version')!, /^3\.8\.0-nestjs-zab-/);
  assert.equal(fields.get('Mode'), 'standalone');
  assert.equal(fields.get('Zxid'), `0x${replica.tree.lastZxid.toString(16)}`);
  assert.equal(fields.get('Node count'), String(replica.tree.nodeCount));
  assert.match(fields.get('Latency min/avg/max')!, /^\d+\/[\d.]+\/\d+$/);
  const mntr = new Map((await fourLetters('mntr')).trim().split('\n').map((line) => line.split('\t') as [string, string]));
  assert.equal(mntr.get('zk_server_state'), 'standalone');
  assert.equal(mntr.get('zk_znode_count'), String(replica.tree.nodeCount));
  assert.equal(Number(mntr.get('zk_num_alive_connections')), server.connectionCount);
  assert.match(await fourLetters('wchs'), /^\d+ connections watching \d+ paths\nTotal watches:\d+\n$/);
  assert.match(await fourLetters('cons'), /^ \/127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,/);
  assert.equal(await fourLetters('envi'), 'envi is not executed because it is not in the whitelist.\n');
});

test('connections from one host beyond the cap are closed at once', async () => {
  for (const raw of raws.splice(0)) raw.close();
  await withTimeout(new Promise<void>((resolve) => {
    const check = (): void => (server.connectionCount === 0 ? resolve() : void setImmediate(check));
    check();
  }), 10_000, 'old connections gone');
  const open = await Promise.all(Array.from({ length: 12 }, () => session()));
  const extra = await RawClient.open(server.port);
  raws.push(extra);
  await extra.waitClosed();
  assert.equal(open.length, 12);
  assert.match(logged.join('\n'), /too many connections from 127\.0\.0\.1 - max is 12/);
});
