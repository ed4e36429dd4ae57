/**
 * Goal: the `connect` backend behaves like a ZooKeeper client against Apache ZooKeeper 3.8
 * where the shared contract suite cannot look: when the server it is connected to dies it
 * reports suspended, moves to another server with the same session (its ephemerals survive)
 * and its watches (re-registered by SetWatches2), then reports reconnected, while a request in
 * flight to the dead server fails with ConnectionLoss and is not resent; digest auth and ACLs
 * (auth option, addAuth, AuthFailed, setAcl/getAcl, NoAuth for others); chroot isolation; and
 * `ZabModule.forRoot({ connect })` serving CoordinationService with the `auth` identity and a
 * ready health indicator, closing its session on app.close(), and refusing replica options
 * next to `connect`.
 * Method: one 3-node ensemble from the Debian package started for the file on free loopback
 * ports; a server is frozen (SIGSTOP) then killed (SIGKILL) by pid; waits are on
 * connection-state and watch events with bounded timeouts.
 */
import 'reflect-metadata';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import {
  ConnectionLossError,
  CoordinationService,
  KeeperError,
  ErrorCode,
  Perms,
  ReplicaConfigurationError,
  RemoteCoordinationClient,
  ZAB_REPLICA,
  ZabModule,
  type ConnectionState,
  type WatchEvent,
} from '../libs/zab/src/index.js';
import { ZabHealthIndicator } from '../libs/zab/src/health.js';
import { deferred, withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { ZooKeeperEnsemble } from '../libs/zab/src/testing/zookeeper-ensemble.js';

const text = (s: string): Buffer => Buffer.from(s);

describe('RemoteCoordinationClient against a 3-node Apache ZooKeeper 3.8 ensemble', () => {
  let ensemble: ZooKeeperEnsemble;
  const clients: RemoteCoordinationClient[] = [];
  async function connect(connectString: string, extra: { auth?: Array<{ scheme: string; credentials: string }> } = {}): Promise<RemoteCoordinationClient> {
    const client = await RemoteCoordinationClient.connect({ connect: connectString, sessionTimeoutMs: 10_000, ...extra });
    clients.push(client);
    return client;
  }

  before(async () => {
    ensemble = await ZooKeeperEnsemble.start({ tickMs: 500 });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await ensemble?.stop();
  });

  test('digest auth: ACLs are enforced by the ensemble; auth option and addAuth both work', async () => {
    const digest = createHash('sha1').update('alice:secret').digest('base64');
    const alice = await connect(ensemble.connectString(), { auth: [{ scheme: 'digest', credentials: 'alice:secret' }] });
    const stranger = await connect(ensemble.connectString());
    const acl = [{ perms: Perms.All, scheme: 'digest', id: `alice:${digest}` }];
    await alice.create('/secret', text('s'), { acl });
    assert.deepEqual((await alice.getAcl('/secret')).acl, acl);
    assert.equal((await alice.getData('/secret')).data.toString(), 's');
    await assert.rejects(stranger.getData('/secret'), (e: unknown) => e instanceof KeeperError && e.code === ErrorCode.NoAuth);
    await assert.rejects(stranger.addAuth('no-such-scheme', 'x'), (e: unknown) =>
      e instanceof KeeperError && e.code === ErrorCode.AuthFailed);
    await stranger.addAuth('digest', 'alice:secret');
    assert.equal((await stranger.getData('/secret')).data.toString(), 's');
    const stat = await alice.setAcl('/secret', [{ perms: Perms.Read, scheme: 'world', id: 'anyone' }], 0);
    assert.equal(stat.aversion, 1);
  });

  test('a chroot confines paths both ways (created paths, events, ephemerals)', async () => {
    const root = await connect(ensemble.connectString());
    await root.create('/jail', text(''));
    const jailed = await connect(ensemble.connectString('/jail'));
    const created = await jailed.create('/e-', text(''), { mode: 'ephemeral_sequential' });
    assert.equal(created.path, '/e-0000000000');
    assert.deepEqual((await root.getChildren('/jail')).children, ['e-0000000000']);
    assert.deepEqual(await jailed.getEphemerals('/'), ['/e-0000000000']);
    const event = deferred<WatchEvent>();
    await jailed.getData('/e-0000000000', (e) => event.resolve(e));
    await root.setData('/jail/e-0000000000', text('x'));
    const fired = await withTimeout(event.promise, 5000, 'watch in chroot');
    assert.deepEqual([fired.type, fired.path], ['dataChanged', '/e-0000000000']);
  });

  test('the connected server dies: suspended, then reconnected to another with the same session and watches', async () => {
    const client = await connect(ensemble.connectString());
    const states: ConnectionState[] = [];
    const suspended = deferred<void>();
    const reconnected = deferred<void>();
    client.onConnectionStateChange((state) => {
      states.push(state);
      if (state === 'suspended') suspended.resolve();
      if (state === 'reconnected') reconnected.resolve();
    });
    await client.create('/failover', text('v0'));
    await client.create('/failover/lease', text(''), { mode: 'ephemeral' });
    const dataChanged = deferred<WatchEvent>();
    await client.getData('/failover', (e) => dataChanged.resolve(e));
    const recursive: string[] = [];
    const childCreated = deferred<void>();
    await client.addWatch('/failover', 'persistentRecursive', (e) => {
      recursive.push(`${e.type} ${e.path}`);
      if (e.type === 'created') childCreated.resolve();
    });
    const sessionId = client.sessionId;
    const before = client.connectedServer!;
    const victim = ensemble.indexOfClientPort(Number(before.split(':')[1]));
    assert.ok(victim >= 0, `connected to ${before}`);

    // Frozen, the server holds the request unanswered; killed, it fails with ConnectionLoss.
    await ensemble.pause(victim);
    const inFlight = assert.rejects(client.setData('/failover', text('never applied')), ConnectionLossError);
    await ensemble.kill(victim);
    await inFlight;
    await withTimeout(suspended.promise, 10_000, 'suspended');
    await withTimeout(reconnected.promise, 20_000, 'reconnected');
    assert.deepEqual(states, ['suspended', 'reconnected']);
    assert.equal(client.sessionId, sessionId, 'the same session');
    assert.notEqual(client.connectedServer, before);
    assert.notEqual(await client.exists('/failover/lease'), null, 'the session\'s ephemeral survived');
    assert.equal((await client.getData('/failover')).data.toString(), 'v0', 'the lost write was not resent');

    // The watches set before the failover fire for changes made after it (SetWatches2).
    await client.setData('/failover', text('v1'));
    await client.create('/failover/after', text(''));
    assert.equal((await withTimeout(dataChanged.promise, 5000, 'one-shot watch after failover')).type, 'dataChanged');
    await withTimeout(childCreated.promise, 5000, 'recursive watch after failover');
    assert.deepEqual(recursive, ['dataChanged /failover', 'created /failover/after']);
    await ensemble.restart(victim);
  });

  test('ZabModule.forRoot({ connect }) serves CoordinationService from the ensemble; app.close() closes the session', async () => {
    const observer = await connect(ensemble.connectString());
    await observer.create('/nest', text(''));
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule, ZabModule.forRoot({ connect: ensemble.connectString('/nest'), sessionTimeoutMs: 8000, auth: [{ scheme: 'digest', credentials: 'nest:pw' }] })],
      providers: [ZabHealthIndicator],
    }).compile();
    await moduleRef.init();
    const zk = moduleRef.get(CoordinationService);
    assert.equal(moduleRef.get(ZAB_REPLICA), null, 'no replica runs in connect mode');
    const health = await moduleRef.get(ZabHealthIndicator).isReady();
    assert.deepEqual(health.zab, { status: 'up', session: 'connected', connection: 'connected' });
    // The auth option's identity is the session's: a node only it may read.
    const digest = createHash('sha1').update('nest:pw').digest('base64');
    await zk.create('/private', 'p', { acl: [{ perms: Perms.All, scheme: 'digest', id: `nest:${digest}` }] });
    assert.equal((await zk.get('/private')).data.toString(), 'p');
    await assert.rejects(observer.getData('/nest/private'), (e: unknown) => e instanceof KeeperError && e.code === ErrorCode.NoAuth);
    assert.equal(await zk.create('/worker', 'up', { mode: 'ephemeral' }), '/worker');
    assert.equal((await observer.getData('/nest/worker')).data.toString(), 'up');
    const first = await firstValueFrom(zk.data$('/worker'));
    assert.equal(first?.data.toString(), 'up');
    const gone = deferred<WatchEvent>();
    await observer.exists('/nest/worker', (e) => gone.resolve(e));
    await moduleRef.close();
    assert.equal((await withTimeout(gone.promise, 5000, 'ephemeral deleted at close')).type, 'deleted');
  });
});

describe('ZabModule connect options', () => {
  test('replica options next to connect fail the start with a clear error', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ZabModule.forRoot({ connect: '127.0.0.1:2181', dataDir: '/tmp/x', ensemble: '1=127.0.0.1:2888' })],
    }).compile().catch((error: unknown) => error);
    assert.ok(moduleRef instanceof ReplicaConfigurationError, String(moduleRef));
    assert.match(moduleRef.message, /dataDir is a replica option, but connect runs no replica/);
    assert.match(moduleRef.message, /ensemble is a replica option/);
  });
});
