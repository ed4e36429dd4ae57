/**
 * Goal: node-zookeeper-client (npm; a real ZooKeeper client nobody here wrote) works against
 * the client port of a standalone replica: sessions, the operations it offers (create in each
 * mode, getData, setData, exists, getChildren, remove, setACL/getACL, mkdirp, transactions
 * that commit and that fail), ZooKeeper's error codes, one-shot watches (fired once, and before the reply of the write that caused them), ephemerals
 * removed when the session closes, and a session re-established on a new connection with its
 * watches re-registered (SetWatches), firing for a change made while it was away.
 * (listSubTreeBFS and removeRecursive are left out: in node-zookeeper-client 1.1.3 they stop
 * after the first level whatever the server answers.)
 * Method: a `Replica` with an in-memory store and its client port on 127.0.0.1, port 0. Every
 * wait is on an event or a reply, bounded by `withTimeout`; clients and the replica are closed
 * in `after` hooks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Replica } from '../libs/zab/src/node/replica.js';
import { resolveReplicaOptions } from '../libs/zab/src/node/replica-options.js';
import { ClientPortServer, startClientPort } from '../libs/zab/src/node/client-port-server.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { codeOf, nextEvent, zookeeper, ZkTestClient } from './fixtures/zookeeper-client.js';

const WAIT_MS = 10_000;
const { CreateMode, Event, Exception } = zookeeper;

let replica: Replica;
let server: ClientPortServer;
let servers: string;
const clients: ZkTestClient[] = [];

async function connect(): Promise<ZkTestClient> {
  const client = await ZkTestClient.connect(servers);
  clients.push(client);
  return client;
}

before(async () => {
  const options = resolveReplicaOptions({ dataDir: ':memory:', tickMs: 500, clientPort: 0, clientHost: '127.0.0.1' });
  replica = await Replica.open(options);
  server = (await startClientPort(replica, options, { log() {}, warn() {}, error() {} }))!;
  servers = `127.0.0.1:${server.port}`;
});

after(async () => {
  for (const client of clients) client.raw.close();
  await server?.close();
  await replica?.close();
});

test('a session negotiates its timeout into [2, 20] ticks and gets a non-zero id', async () => {
  const client = await connect();
  assert.notEqual(client.sessionId, 0n);
  assert.equal(client.raw.getSessionTimeout(), 6000);
  assert.equal(replica.tree.hasSession(client.sessionId), true);
});

test('create in each mode, read back, and ZooKeeper error codes', async () => {
  const client = await connect();
  assert.equal(await client.create('/ops', Buffer.from('root')), '/ops');
  const seq = await client.create('/ops/seq-', Buffer.from('s'), CreateMode.PERSISTENT_SEQUENTIAL);
  assert.match(seq, /^\/ops\/seq-\d{10}$/);
  const eph = await client.create('/ops/eph', null, CreateMode.EPHEMERAL);
  assert.equal(eph, '/ops/eph');
  const { data, stat } = await client.getData('/ops');
  assert.equal(data.toString(), 'root');
  assert.equal(stat.version, 0);
  assert.equal(stat.numChildren, 2);
  const ephStat = await client.exists('/ops/eph');
  assert.equal(ephStat?.ephemeralOwner.readBigInt64BE(0), client.sessionId);
  assert.equal(await client.exists('/ops/missing'), null);
  assert.equal(await codeOf(client.create('/ops', null)), Exception.NODE_EXISTS);
  assert.equal(await codeOf(client.getData('/ops/missing')), Exception.NO_NODE);
  assert.equal(await codeOf(client.create('/no/parent', null)), Exception.NO_NODE);
  assert.equal(await codeOf(client.create('/ops/eph/child', null)), Exception.NO_CHILDREN_FOR_EPHEMERALS);
  assert.equal(await codeOf(client.remove('/ops')), Exception.NOT_EMPTY);
  assert.equal(await codeOf(client.setData('/ops', Buffer.from('x'), 7)), Exception.BAD_VERSION);
  const updated = await client.setData('/ops', Buffer.from('v1'), 0);
  assert.equal(updated.version, 1);
  const { children } = await client.getChildren('/ops');
  assert.deepEqual(children.sort(), ['eph', seq.slice('/ops/'.length)].sort());
  assert.equal(await codeOf(client.remove(seq, 5)), Exception.BAD_VERSION);
  await client.remove(seq, 0);
  assert.equal(await client.exists(seq), null);
});

test('setACL and getACL round-trip; mkdirp works', async () => {
  const client = await connect();
  await client.mkdirp('/tree/a/b/c');
  await client.create('/tree/a/x', Buffer.from('x'));
  assert.deepEqual((await client.getChildren('/tree/a')).children.sort(), ['b', 'x']);
  assert.deepEqual((await client.getChildren('/tree/a/b')).children, ['c']);
  const readOnly = [new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id('world', 'anyone'))];
  assert.equal(await codeOf(client.setACL('/tree/a/x', readOnly as never, 5)), Exception.BAD_VERSION);
  const stat = await client.setACL('/tree/a/x', readOnly as never, 0);
  assert.equal(stat.aversion, 1);
  const { acl } = await client.getACL('/tree/a/x');
  assert.deepEqual(acl.map((a) => [a.permission, a.id.scheme, a.id.id]), [[1, 'world', 'anyone']]);
  // The replica enforces the new ACL on requests from the port: no WRITE, no ADMIN.
  assert.equal(await codeOf(client.setData('/tree/a/x', Buffer.from('y'))), Exception.NO_AUTH);
  assert.equal(await codeOf(client.setACL('/tree/a/x', readOnly as never, 1)), Exception.NO_AUTH);
  for (const path of ['/tree/a/b/c', '/tree/a/b', '/tree/a/x', '/tree/a', '/tree']) await client.remove(path);
  assert.equal(await client.exists('/tree'), null);
});

test('a transaction commits all its ops, or none with the failing op\'s code', async () => {
  const client = await connect();
  const results = await new Promise<Array<{ type: number }>>((resolve, reject) => {
    client.raw.transaction().create('/tx', Buffer.from('a')).create('/tx/child', Buffer.from('b'))
      .setData('/tx', Buffer.from('c'), 0).check('/tx', 1)
      .commit((error, r) => (error ? reject(error) : resolve(r)));
  });
  assert.deepEqual(results.map((r) => r.type), [1, 1, 5, 13]);
  assert.equal((await client.getData('/tx')).data.toString(), 'c');
  const failure = await new Promise<number>((resolve) => {
    // Version 5 (node-zookeeper-client turns a check of version 0 into -1, "any").
    client.raw.transaction().create('/tx/new', Buffer.from('n')).check('/tx', 5).remove('/tx/child')
      .commit((error) => resolve(error?.getCode() ?? 0));
  });
  assert.equal(failure, Exception.BAD_VERSION);
  assert.equal(await client.exists('/tx/new'), null, 'the failed transaction created nothing');
  assert.notEqual(await client.exists('/tx/child'), null, 'the failed transaction deleted nothing');
});

test('watches fire once, before the reply of the write that caused them', async () => {
  const watcher = await connect();
  const writer = await connect();
  await writer.create('/w', Buffer.from('0'));
  const data = nextEvent();
  const children = nextEvent();
  const created = nextEvent();
  await watcher.getData('/w', data.watcher);
  await watcher.getChildren('/w', children.watcher);
  await watcher.exists('/w/later', created.watcher);
  // The watcher's own write: its data watch must arrive before the setData reply.
  const order: string[] = [];
  void data.event.then(() => order.push('event'));
  await watcher.setData('/w', Buffer.from('1'));
  order.push('reply');
  assert.deepEqual(order, ['event', 'reply']);
  const event = await data.event;
  assert.equal(event.getType(), Event.NODE_DATA_CHANGED);
  assert.equal(event.getPath(), '/w');
  await writer.create('/w/later', null);
  assert.equal((await withTimeout(created.event, WAIT_MS, 'NodeCreated')).getType(), Event.NODE_CREATED);
  assert.equal((await withTimeout(children.event, WAIT_MS, 'NodeChildrenChanged')).getType(),
    Event.NODE_CHILDREN_CHANGED);
  // One-shot: a second change is not reported (the watch count is back to zero).
  await writer.setData('/w', Buffer.from('2'));
  assert.equal(replica.watches.watchCount, 0);
});

test('closing a session removes its ephemerals and tells their watchers', async () => {
  const owner = await connect();
  const observer = await connect();
  await owner.create('/owned', null, CreateMode.EPHEMERAL);
  const deleted = nextEvent();
  assert.notEqual(await observer.exists('/owned', deleted.watcher), null);
  const sessionId = owner.sessionId;
  await owner.close();
  assert.equal((await withTimeout(deleted.event, WAIT_MS, 'NodeDeleted')).getType(), Event.NODE_DELETED);
  assert.equal(replica.tree.hasSession(sessionId), false);
});

test('a session moves to a new connection with its watches, which fire for missed changes', async () => {
  const client = await connect();
  const writer = await connect();
  await writer.create('/moved', Buffer.from('0'));
  await writer.create('/moved-stays', Buffer.from('0'));
  const missed = nextEvent();
  const later = nextEvent();
  await client.getData('/moved', missed.watcher);
  await client.getData('/moved-stays', later.watcher);
  const sessionId = client.sessionId;
  const reconnected = client.next('connected');
  // Drop every connection of the port: the client reconnects with its id and password.
  const watchesBefore = replica.watches.watchCount;
  assert.equal(watchesBefore >= 2, true);
  const disconnected = client.next('disconnected');
  server.dropConnections();
  await withTimeout(disconnected, WAIT_MS, 'the client noticed the dropped connection');
  // Changed while the client was away: SetWatches fires it at once (mzxid > relativeZxid).
  await writer.setData('/moved', Buffer.from('1')).catch(() => undefined);
  await withTimeout(reconnected, WAIT_MS, 'the client reconnected');
  assert.equal(client.sessionId, sessionId, 'the same session');
  assert.equal((await withTimeout(missed.event, WAIT_MS, 'the missed change')).getType(), Event.NODE_DATA_CHANGED);
  // The other watch was re-registered and fires on the next change.
  const writer2 = await connect();
  await writer2.setData('/moved-stays', Buffer.from('1'));
  assert.equal((await withTimeout(later.event, WAIT_MS, 're-registered watch')).getPath(), '/moved-stays');
});
