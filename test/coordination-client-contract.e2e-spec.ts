/**
 * Goal: the `CoordinationClient` contract holds on every backend: the in-process client on a
 * replica on this thread, the worker-backed client whose replica runs in a worker thread, and
 * the remote client (`connect` mode) of a 3-node Apache ZooKeeper 3.8 ensemble and of a
 * 3-replica nestjs-zab ensemble over its ZooKeeper client ports. All pass the
 * same table: operations and typed errors, per-session FIFO, ZooKeeper's watch ordering (event
 * before the changed data can be read), observations, ephemerals on close and on expiry, multi
 * errors, buffer ownership.
 * Method: one table of tests (`describeCoordinationClient`) registered once per backend, on
 * real replicas over memory storage, and on a real ZooKeeper ensemble started once for the
 * file (each test in its own chroot, both sessions on one server as they share one replica on
 * the embedded backends). Per-backend differences, each stated where it applies: a session is
 * made to expire by not pinging (embedded) or by closing it from a second connection that
 * re-attached to it (remote: ZooKeeper's own expiry test method, the client always pings);
 * watches are counted in the replica's registry (embedded, and summed over the members of the
 * nestjs-zab ensemble) or with `wchc` on every server (Apache ZooKeeper lists its data-side
 * watches there); the remote `observe` re-reads after each event, so changes that land between two
 * reads coalesce (ZooKeeper keeps no history): it is held to "current value first, then an
 * in-order subsequence ending with the final value". On the ensemble backends a leader change
 * can happen under load at any time; a write it fails with ConnectionLoss (outcome unknown, as
 * in ZooKeeper) is checked after a sync and sent again only if it did not take effect
 * (`writeOnce`, where a test counts effects). Waits are on events with bounded timeouts,
 * never sleeps.
 */
import { test, describe, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorCode,
  BadVersionError,
  InvalidPathError,
  KeeperError,
  NoChildrenForEphemeralsError,
  NodeExistsError,
  NoNodeError,
  NotEmptyError,
  NoWatcherError,
  SessionExpiredError,
  LocalCoordinationClient,
  MultiError,
  Replica,
  WorkerReplicaHandle,
  type CoordinationClient,
  type Observation,
  type ReplicaOptions,
  type WatchEvent,
} from '../libs/zab/src/index.js';
import { RemoteCoordinationClient } from '../libs/zab/src/node/remote-client.js';
import { deferred, withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { fourLetterWord, ZooKeeperEnsemble } from '../libs/zab/src/testing/zookeeper-ensemble.js';
import { ClientPortEnsemble } from './fixtures/client-port-ensemble.js';

/** One replica with sessions on it, however it is hosted. */
interface BackendInstance {
  connect(sessionTimeoutMs: number): Promise<CoordinationClient>;
  /**
   * A new session and how to make it expire: embedded, a non-local session that is never
   * pinged (expires by itself: `expire` does nothing); remote, closing it from a second
   * connection that re-attached with its id and password.
   */
  expiringSession(): Promise<{ client: CoordinationClient; expire(): Promise<void>; timeoutMs: number | undefined }>;
  /** Watches the server side holds for this instance's sessions. */
  watchCount(): Promise<number>;
  close(): Promise<void>;
}

interface Backend {
  name: string;
  /** False when `observe` may coalesce changes that land between two reads (remote). */
  observesEveryChange: boolean;
  open(options: Partial<ReplicaOptions>): Promise<BackendInstance>;
  /** Once per file, around the backend's tests (the remote backend's ensemble). */
  setUp?(): Promise<void>;
  tearDown?(): Promise<void>;
}

const text = (s: string): Buffer => Buffer.from(s);

/** Attempts of one write whose outcome a connection loss left unknown (`writeOnce`). */
const WRITE_ATTEMPTS_MAX = 3;

/**
 * Runs `write` so that it takes effect once. On an ensemble a leader change can happen at any
 * time under load (a follower that misses its leader's heartbeats for a few ticks looks for a
 * new one); a write in flight then fails with ConnectionLoss and the server drops the
 * connection, as ZooKeeper does, and no client resends a write (its outcome is unknown). So
 * after a ConnectionLoss this syncs, asks `committed` whether the write took effect, and
 * sends it again only if not (bounded). Any other error is thrown.
 */
async function writeOnce(client: CoordinationClient, write: () => Promise<unknown>,
  committed: () => Promise<boolean>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (!(error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss) ||
        attempt >= WRITE_ATTEMPTS_MAX) throw error;
      await client.sync('/');
      if (await committed()) return;
    }
  }
}

/** Registers the contract's tests for `backend` under a `describe` named after it. */
function describeCoordinationClient(backend: Backend): void {
  const opened: BackendInstance[] = [];
  async function start(options: Partial<ReplicaOptions> = {}): Promise<{
    instance: BackendInstance;
    a: CoordinationClient;
    b: CoordinationClient;
  }> {
    const instance = await backend.open({ dataDir: ':memory:', ...options });
    opened.push(instance);
    return { instance, a: await instance.connect(10_000), b: await instance.connect(10_000) };
  }

  describe(`CoordinationClient contract on ${backend.name}`, () => {
    if (backend.setUp !== undefined) before(() => backend.setUp!());
    if (backend.tearDown !== undefined) after(() => backend.tearDown!());
    afterEach(async () => {
      for (const instance of opened.splice(0)) await instance.close();
    });
    describeOperations(start);
    describeOrdering(start);
    describeWatches(start, backend.observesEveryChange);
    describeSessions(start);
  });
}

type Start = (options?: Partial<ReplicaOptions>) => Promise<{
  instance: BackendInstance;
  a: CoordinationClient;
  b: CoordinationClient;
}>;

function describeOperations(start: Start): void {
  test('create, get, set with version, delete with version; Stat fields are bigints', async () => {
    const { a } = await start();
    const created = await a.create('/app', text('v0'));
    assert.equal(created.path, '/app');
    assert.equal(typeof created.stat.czxid, 'bigint');
    assert.equal(typeof created.stat.ctime, 'bigint');
    const stat = await a.setData('/app', text('v1'), 0);
    assert.equal(stat.version, 1);
    assert.ok(stat.mzxid > created.stat.czxid);
    const read = await a.getData('/app');
    assert.ok(Buffer.isBuffer(read.data));
    assert.equal(read.data.toString(), 'v1');
    await assert.rejects(a.setData('/app', text('v2'), 0), BadVersionError);
    await assert.rejects(a.delete('/app', 0), BadVersionError);
    await a.delete('/app', 1);
    assert.equal(await a.exists('/app'), null);
    assert.deepEqual((await a.getAcl('/')).acl[0]?.scheme, 'world');
    await a.create('/count', text(''));
    await a.create('/count/a', text(''));
    await a.create('/count/a/b', text(''));
    assert.equal(await a.getAllChildrenNumber('/count'), 2);
  });

  test('error codes come as typed errors with the path and the message', async () => {
    const { a } = await start();
    await a.create('/p', text(''));
    await a.create('/p/c', text(''));
    await assert.rejects(a.create('/p', text('')), (e: unknown) =>
      e instanceof NodeExistsError && e.path === '/p' && e.message === 'NodeExists: a node already exists at this path (path /p)');
    await assert.rejects(a.getData('/missing'), (e: unknown) => e instanceof NoNodeError && e.code === ErrorCode.NoNode);
    await assert.rejects(a.create('/missing/child', text('')), NoNodeError);
    await assert.rejects(a.delete('/p'), NotEmptyError);
    await a.create('/eph', text(''), { mode: 'ephemeral' });
    await assert.rejects(a.create('/eph/child', text('')), NoChildrenForEphemeralsError);
    await assert.rejects(a.create('/bad//path', text('')), (e: unknown) =>
      e instanceof InvalidPathError && /empty node name/.test(e.message));
    await assert.rejects(a.getData('relative'), InvalidPathError);
  });

  test('the caller may reuse its buffer once a write is issued', async () => {
    const { a } = await start();
    const buffer = text('original');
    const pending = a.create('/copy', buffer);
    buffer.fill(0x21);
    await pending;
    const read = await a.getData('/copy');
    read.data.fill(0x21);
    assert.equal((await a.getData('/copy')).data.toString(), 'original');
  });

  test('multi is all-or-nothing with per-op results; failures are MultiError', async () => {
    const { a } = await start();
    const ok = await a.multi([
      { op: 'create', path: '/m', data: text('1') },
      { op: 'create', path: '/m/x' },
      { op: 'check', path: '/m', version: 0 },
      { op: 'setData', path: '/m', data: text('2'), version: 0 },
    ]);
    assert.deepEqual(ok.map((r) => r.code), [0, 0, 0, 0]);
    await assert.rejects(
      a.multi([
        { op: 'setData', path: '/m', data: text('3') },
        { op: 'create', path: '/m/x' },
        { op: 'delete', path: '/m' },
      ]),
      (e: unknown) => {
        assert.ok(e instanceof MultiError);
        assert.equal(e.code, ErrorCode.NodeExists);
        assert.equal(e.path, '/m/x');
        assert.deepEqual(e.results.map((r) => r.code), [0, ErrorCode.NodeExists, ErrorCode.RuntimeInconsistency]);
        return true;
      },
    );
    assert.equal((await a.getData('/m')).data.toString(), '2');
  });
}

function describeOrdering(start: Start): void {
  test('pipelined writes commit in issue order', async () => {
    const { a } = await start();
    await a.create('/seq', text(''));
    const writes = [];
    for (let i = 0; i < 300; i++) writes.push(a.create('/seq/n-', text(String(i)), { mode: 'persistent_sequential' }));
    const results = await Promise.all(writes);
    results.forEach((r, i) => assert.equal(r.path, `/seq/n-${String(i).padStart(10, '0')}`));
    const zxids = results.map((r) => r.stat.czxid);
    assert.deepEqual([...zxids].sort((x, y) => (x < y ? -1 : 1)), zxids);
  });

  test('a session reads its own writes even without awaiting them (FIFO)', async () => {
    const { a } = await start();
    void a.create('/fifo', text('one'));
    void a.setData('/fifo', text('two'));
    assert.equal((await a.getData('/fifo')).data.toString(), 'two');
  });

  test('a watcher sees the event before it can read the changed data', async () => {
    const { a, b } = await start();
    await a.create('/w', text('old'));
    const order: string[] = [];
    const fired = deferred<void>();
    await a.getData('/w', (event) => {
      order.push(`event ${event.type}`);
      fired.resolve();
    });
    await b.setData('/w', text('new')).then(async () => {
      const read = await a.getData('/w');
      order.push(`read ${read.data.toString()}`);
    });
    await withTimeout(fired.promise, 2000, 'data watch');
    assert.deepEqual(order, ['event dataChanged', 'read new']);
  });
}

/** True when `seen` is an in-order subsequence of `all` (a coalescing observer's promise). */
function isSubsequence<T>(seen: T[], all: T[]): boolean {
  let next = 0;
  for (const value of seen) {
    while (next < all.length && all[next] !== value) next++;
    if (next === all.length) return false;
    next++;
  }
  return true;
}

function describeWatches(start: Start, observesEveryChange: boolean): void {
  test('one-shot watches fire once; persistent watches stay; removeWatches', async () => {
    const { a, b } = await start();
    const once: string[] = [];
    const created = deferred<void>();
    assert.equal(await a.exists('/c', (e) => { once.push(e.type); created.resolve(); }), null);
    await b.create('/c', text(''));
    await withTimeout(created.promise, 2000, 'exists watch');
    const seen: string[] = [];
    const listener = (e: WatchEvent): void => {
      seen.push(`${e.type} ${e.path}`);
    };
    await a.addWatch('/c', 'persistentRecursive', listener);
    await b.create('/c/2', text(''));
    await b.setData('/c/2', text('x'));
    await b.delete('/c/2');
    await a.sync('/');
    assert.deepEqual(once, ['created']);
    assert.deepEqual(seen, ['created /c/2', 'dataChanged /c/2', 'deleted /c/2']);
    await a.removeWatches('/c', listener, 'persistentRecursive');
    await b.create('/c/3', text(''));
    await a.sync('/');
    assert.equal(seen.length, 3);
    await assert.rejects(a.removeWatches('/c', listener), NoWatcherError);
  });

  test('bad listeners and bad multi ops get typed errors; a throwing listener is ignored', async () => {
    const { a, b } = await start();
    await a.create('/bad', text(''));
    const loose = a as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await assert.rejects(loose.getData!('/bad', 'not a function'), KeeperError);
    await assert.rejects(loose.addWatch!('/bad', 'persistent', 42), KeeperError);
    await assert.rejects(loose.multi!(['bogus']), KeeperError);
    await assert.rejects(loose.multi!('ops'), KeeperError);
    const second = deferred<WatchEvent>();
    await a.getData('/bad', () => {
      throw new Error('a bug in application code');
    });
    await a.getData('/bad', (e) => second.resolve(e));
    await b.setData('/bad', text('x'));
    assert.equal((await withTimeout(second.promise, 2000, 'second listener')).type, 'dataChanged');
    await a.create('/still-working', text(''));
  });

  test('fired and removed one-shot watches leave nothing behind', async () => {
    const { instance, a, b } = await start();
    // The writes go through writeOnce: on the ensemble backends a leader change under load
    // may fail one with ConnectionLoss; each takes effect once, so each round fires once.
    const exists = async (): Promise<boolean> => (await b.exists('/many')) !== null;
    await writeOnce(b, () => b.create('/many', text('')), exists);
    const baseline = await instance.watchCount();
    let fired = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 20; i++) await a.getData('/many', () => { fired += 1; });
      await writeOnce(b, () => b.setData('/many', text(String(round))),
        async () => (await b.getData('/many')).data.toString() === String(round));
      await a.sync('/');
    }
    assert.equal(fired, 400);
    assert.equal(await instance.watchCount(), baseline);
    const both = (): void => { fired += 1; };
    await a.getData('/many', both);
    await a.getChildren('/many', both);
    await writeOnce(b, () => b.delete('/many'), async () => !(await exists()));
    await a.sync('/');
    assert.equal(fired, 401, 'one listener with data and child watches gets one NodeDeleted');
    assert.equal(await instance.watchCount(), baseline);
    const late = (): void => { fired += 1; };
    await a.exists('/many', late);
    await a.removeWatches('/many', late, 'data');
    await writeOnce(b, () => b.create('/many', text('')), exists);
    await a.sync('/');
    assert.equal(fired, 401, 'a removed exists watch fired');
    await assert.rejects(a.removeWatches('/many', late, 'data'), NoWatcherError);
  });

  test('observe reports the current value then every change, even within one batch', async () => {
    const { a, b } = await start();
    await b.create('/o', text('0'));
    const seen: Array<string | null> = [];
    const last = deferred<void>();
    const stop = await a.observe('/o', 'data', (o: Observation) => {
      if (o.kind !== 'data') return;
      seen.push(o.value === null ? null : o.value.data.toString());
      if (o.value === null) last.resolve();
    });
    assert.deepEqual(seen, ['0'], 'the current value is reported before observe resolves');
    const writes = [];
    for (let i = 1; i <= 20; i++) writes.push(b.setData('/o', text(String(i))));
    writes.push(b.delete('/o'));
    await Promise.all(writes);
    await withTimeout(last.promise, 2000, 'deletion observed');
    const every = ['0', ...Array.from({ length: 20 }, (_, i) => String(i + 1)), null];
    if (observesEveryChange) assert.deepEqual(seen, every);
    else {
      assert.equal(seen[0], '0');
      assert.equal(seen.at(-1), null);
      assert.ok(isSubsequence(seen, every), `observations out of order: ${JSON.stringify(seen)}`);
    }
    const reported = seen.length;
    stop();
    await b.create('/o', text('again'));
    await a.sync('/');
    assert.equal(seen.length, reported, 'nothing is reported after stop');
  });

  test('observe children and events kinds', async () => {
    const { a, b } = await start();
    const children: Array<string[] | null> = [];
    const events: string[] = [];
    const done = deferred<void>();
    const settled = deferred<void>();
    await a.observe('/dir', 'children', (o) => {
      if (o.kind !== 'children') return;
      children.push(o.value?.children ?? null);
      if (o.value?.children.length === 1) settled.resolve();
    });
    await a.observe('/dir', 'recursiveEvents', (o) => {
      if (o.kind !== 'event') return;
      events.push(`${o.value.type} ${o.value.path}`);
      if (events.length === 2) done.resolve();
    });
    await b.create('/dir', text(''));
    await b.create('/dir/x', text(''));
    await withTimeout(done.promise, 2000, 'two events');
    await withTimeout(settled.promise, 2000, 'children [x]');
    if (observesEveryChange) assert.deepEqual(children, [null, [], ['x']]);
    else assert.ok(isSubsequence(children.map((c) => JSON.stringify(c)), ['null', '[]', '["x"]']), JSON.stringify(children));
    assert.deepEqual(events, ['created /dir', 'created /dir/x']);
  });
}

function describeSessions(start: Start): void {
  test('closing a session deletes its ephemerals at once and tells watchers', async () => {
    const { a, b } = await start();
    await a.create('/members', text(''));
    await a.create('/members/a-', text(''), { mode: 'ephemeral_sequential' });
    const gone = deferred<WatchEvent>();
    await b.getChildren('/members', (e) => gone.resolve(e));
    assert.deepEqual(await a.getEphemerals('/'), ['/members/a-0000000000']);
    const ended = deferred<string>();
    a.onSessionEnd((state) => ended.resolve(state));
    const connectionStates: string[] = [];
    assert.equal(a.connectionState, 'connected');
    a.onConnectionStateChange((state) => connectionStates.push(state));
    await a.close();
    assert.equal(a.state, 'closed');
    assert.equal(await withTimeout(ended.promise, 2000, 'session end'), 'closed');
    assert.deepEqual(connectionStates, ['lost'], 'a closed session is lost to its connection listeners');
    assert.equal(a.connectionState, 'lost');
    assert.equal((await withTimeout(gone.promise, 2000, 'children watch')).type, 'childrenChanged');
    assert.deepEqual((await b.getChildren('/members')).children, []);
    await assert.rejects(a.getData('/members'), (e: unknown) =>
      e instanceof KeeperError && e.code === ErrorCode.ConnectionLoss);
  });

  test('a session without pings expires: ephemerals go, calls fail with SessionExpired', async () => {
    const { instance, a: watcher } = await start({ tickMs: 20 });
    const { client: remote, expire, timeoutMs } = await instance.expiringSession();
    if (timeoutMs !== undefined) assert.equal(remote.sessionTimeoutMs, timeoutMs);
    const ended = deferred<string>();
    remote.onSessionEnd((state) => ended.resolve(state));
    const lost = deferred<string>();
    // Remote: the server drops the connection first (suspended), then reports the expiry.
    remote.onConnectionStateChange((state) => {
      if (state === 'lost') lost.resolve(state);
    });
    await remote.create('/lease', text(''), { mode: 'ephemeral' }).catch(() => undefined);
    await expire();
    assert.equal(await withTimeout(ended.promise, 5000, 'session expiry'), 'expired');
    assert.equal(remote.state, 'expired');
    assert.equal(await withTimeout(lost.promise, 2000, 'connection lost'), 'lost');
    await assert.rejects(remote.getData('/'), SessionExpiredError);
    assert.equal(await watcher.exists('/lease'), null);
  });
}

describeCoordinationClient({
  name: 'the main thread (LocalCoordinationClient)',
  observesEveryChange: true,
  async open(options) {
    const replica = await Replica.open(options);
    return {
      connect: (timeoutMs) => LocalCoordinationClient.connect(replica, timeoutMs),
      expiringSession: async () => ({
        client: await LocalCoordinationClient.connect(replica, 40, { local: false }),
        expire: async () => undefined,
        timeoutMs: 40,
      }),
      watchCount: async () => replica.watches.watchCount,
      close: () => replica.close(),
    };
  },
});

describeCoordinationClient({
  name: 'a worker thread (WorkerCoordinationClient)',
  observesEveryChange: true,
  async open(options) {
    const handle = await WorkerReplicaHandle.open(options);
    return {
      connect: (timeoutMs) => handle.connect(timeoutMs),
      expiringSession: async () => ({
        client: await handle.connect(40, { local: false }),
        expire: async () => undefined,
        timeoutMs: 40,
      }),
      watchCount: () => handle.watchCount(),
      close: () => handle.close(),
    };
  },
});

describeCoordinationClient(remoteBackend('a remote Apache ZooKeeper 3.8 ensemble (RemoteCoordinationClient)', apacheZooKeeper));
describeCoordinationClient(remoteBackend(
  'a nestjs-zab 3-replica ensemble over its client ports (RemoteCoordinationClient)', nestjsZabClientPorts));


/** A server ensemble the remote client connects to, started once for the file. */
interface RemoteServers {
  /** `host:port,...` of every server. */
  connectString(): string;
  /** Watches the servers hold for these sessions. */
  watchCount(sessions: bigint[]): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The remote client on a server ensemble started once for the file. Each instance gets a fresh
 * chroot, so tests see an empty tree; its sessions all start on the first server
 * (`hostOrder: 'given'`), as the embedded backends' sessions share one replica. A session is
 * made to expire by re-attaching to it from a second connection and closing it there.
 */
function remoteBackend(name: string, start: () => Promise<RemoteServers>): Backend {
  let servers: RemoteServers | undefined;
  let admin: RemoteCoordinationClient | undefined;
  let instances = 0;
  return {
    name,
    observesEveryChange: false,
    async setUp() {
      servers = await start();
      admin = await RemoteCoordinationClient.connect({ connect: servers.connectString() });
    },
    async tearDown() {
      await admin?.close();
      await servers?.stop();
    },
    async open() {
      const chroot = `/contract-${++instances}`;
      await admin!.create(chroot, text(''));
      const connectString = `${servers!.connectString()}${chroot}`;
      const clients: RemoteCoordinationClient[] = [];
      const connect = async (sessionTimeoutMs: number): Promise<RemoteCoordinationClient> => {
        const client = await RemoteCoordinationClient.connect({ connect: connectString, sessionTimeoutMs, hostOrder: 'given' });
        clients.push(client);
        return client;
      };
      return {
        connect,
        expiringSession: async () => {
          const client = await connect(10_000);
          const expire = async (): Promise<void> => {
            const intruder = await RemoteCoordinationClient.connect({
              connect: connectString,
              session: { sessionId: client.sessionId, password: client.sessionPassword },
            });
            await intruder.close();
          };
          return { client, expire, timeoutMs: undefined };
        },
        watchCount: () => servers!.watchCount(clients.map((c) => c.sessionId)),
        close: async () => {
          for (const client of clients) await client.close();
        },
      };
    },
  };
}

/** Apache ZooKeeper 3.8, 3 nodes; watches counted with `wchc` on every server. */
async function apacheZooKeeper(): Promise<RemoteServers> {
  const ensemble = await ZooKeeperEnsemble.start({ tickMs: 500 });
  return {
    connectString: () => ensemble.connectString(),
    watchCount: (sessions) => watchesOfSessions(ensemble, sessions),
    stop: () => ensemble.stop(),
  };
}

/**
 * A 3-replica nestjs-zab ensemble over its ZooKeeper client ports: our wire server against
 * our wire client, through the table Apache ZooKeeper passes. Watches are counted in the
 * members' registries (all sessions: the table compares with a baseline).
 */
async function nestjsZabClientPorts(): Promise<RemoteServers> {
  const ensemble = await ClientPortEnsemble.start({ tickMs: 500 });
  return {
    connectString: () => ensemble.connectString(),
    watchCount: async () => ensemble.members.reduce((sum, m) => sum + m.replica.watches.watchCount, 0),
    stop: () => ensemble.close(),
  };
}

/** Watches the servers hold for `sessions`, from `wchc` (paths listed under each session). */
async function watchesOfSessions(ensemble: ZooKeeperEnsemble, sessions: bigint[]): Promise<number> {
  const wanted = new Set(sessions.map((id) => `0x${id.toString(16)}`));
  let count = 0;
  for (const index of ensemble.running) {
    let current = '';
    for (const line of (await fourLetterWord(ensemble.clientPort(index), 'wchc')).split('\n')) {
      if (line.startsWith('0x')) current = line.trim();
      else if (line.trim().startsWith('/') && wanted.has(current)) count += 1;
    }
  }
  return count;
}
