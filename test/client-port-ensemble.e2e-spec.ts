/**
 * Goal: node-zookeeper-client works against a 3-replica ensemble's client ports: writes taken
 * by any member are seen by clients of every member, watches set on one member fire for
 * writes made through another, and a session moves to another replica when its replica's
 * client port goes away: same session id (verified there with the password derived from the
 * shared secret), its ephemeral node kept, its watches re-registered by SetWatches and firing.
 * Method: three `EnsembleReplica`s in this process (test/fixtures/client-port-ensemble.ts),
 * client ports on OS-assigned 127.0.0.1 ports. Waits are on events or replies, bounded by
 * `withTimeout`; everything is closed in `after`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { ClientPortEnsemble } from './fixtures/client-port-ensemble.js';
import { nextEvent, zookeeper, ZkTestClient } from './fixtures/zookeeper-client.js';

const WAIT_MS = 20_000;
const { CreateMode, Event } = zookeeper;

let ensemble: ClientPortEnsemble;
const clients: ZkTestClient[] = [];

async function connect(servers: string): Promise<ZkTestClient> {
  const client = await ZkTestClient.connect(servers, 6000, WAIT_MS);
  clients.push(client);
  return client;
}

before(async () => {
  ensemble = await ClientPortEnsemble.start();
});

after(async () => {
  for (const client of clients) client.raw.close();
  await ensemble?.close();
});

/** Resolves once `path` exists as `client` sees it: now, or at its NodeCreated event. */
async function visible(client: ZkTestClient, path: string): Promise<void> {
  const created = nextEvent();
  if (await client.exists(path, created.watcher) !== null) return;
  await withTimeout(created.event, WAIT_MS, `${path} visible`);
}

/** Sends a four-letter word to `port` and resolves with the whole answer. */
async function fourLetters(port: number, word: string): Promise<string> {
  const socket = tcpConnect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.write(word);
  await withTimeout(new Promise((resolve) => socket.on('close', resolve)), WAIT_MS, `${word} answer`);
  return Buffer.concat(chunks).toString('latin1');
}

test('srvr reports one leader and two followers', async () => {
  const modes: string[] = [];
  for (const member of ensemble.members) {
    const lines = (await fourLetters(member.server.port, 'srvr')).split('\n');
    const mode = lines.find((line) => line.startsWith('Mode: '));
    assert.ok(mode, 'srvr has a Mode line');
    modes.push(mode.slice('Mode: '.length));
    assert.ok(lines.some((line) => /^Zxid: 0x[0-9a-f]+$/.test(line)));
  }
  assert.deepEqual(modes.sort(), ['follower', 'follower', 'leader']);
});

test('a write through one member is read, and watched, through the others', async () => {
  const one = await connect(ensemble.connectString([1]));
  const two = await connect(ensemble.connectString([2]));
  const three = await connect(ensemble.connectString([3]));
  await one.create('/shared', Buffer.from('v0'));
  await visible(two, '/shared');
  await visible(three, '/shared');
  const changed = nextEvent();
  const { data } = await two.getData('/shared', changed.watcher);
  assert.equal(data.toString(), 'v0');
  const stat = await three.setData('/shared', Buffer.from('v1'));
  assert.equal(stat.version, 1);
  const event = await withTimeout(changed.event, WAIT_MS, 'the data watch set on member 2');
  assert.equal(event.getType(), Event.NODE_DATA_CHANGED);
  assert.equal((await two.getData('/shared')).data.toString(), 'v1');
});

test('a session moves to another member with its ephemeral and its watches', async () => {
  for (const client of clients.splice(0)) await client.close();
  const mover = await connect(ensemble.connectString());
  const home = ensemble.memberWithConnections();
  assert.ok(home, 'the client is connected to exactly one member');
  const others = ensemble.members.filter((m) => m !== home).map((m) => ensemble.members.indexOf(m) + 1);
  const writer = await connect(ensemble.connectString(others));
  await mover.create('/moving', null, CreateMode.EPHEMERAL);
  await mover.create('/watched', Buffer.from('0'));
  const dataWatch = nextEvent();
  const childWatch = nextEvent();
  await mover.getData('/watched', dataWatch.watcher);
  await mover.getChildren('/watched', childWatch.watcher);
  const sessionId = mover.sessionId;
  const reconnected = mover.next('connected');
  await home!.server.close(); // the port goes away: the client must move to another member
  await withTimeout(reconnected, WAIT_MS, 'the client re-established its session elsewhere');
  assert.equal(mover.sessionId, sessionId, 'the same session');
  assert.equal(home!.server.connectionCount, 0);
  const stat = await mover.exists('/moving');
  assert.equal(stat?.ephemeralOwner.readBigInt64BE(0), sessionId, 'the ephemeral survived the move');
  await writer.setData('/watched', Buffer.from('1'));
  await writer.create('/watched/child', null);
  assert.equal((await withTimeout(dataWatch.event, WAIT_MS, 'data watch after the move')).getType(),
    Event.NODE_DATA_CHANGED);
  assert.equal((await withTimeout(childWatch.event, WAIT_MS, 'child watch after the move')).getType(),
    Event.NODE_CHILDREN_CHANGED);
});

