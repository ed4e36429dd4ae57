/**
 * Goal: the in-process client on an embedded replica behaves like a ZooKeeper session:
 * operations and their error codes, per-session FIFO, pipelined writes, one-shot and
 * persistent watches with ZooKeeper's ordering (event before the changed data can be read),
 * observations that capture every change, ephemerals, session close and expiry, containers
 * and TTL nodes, limits.
 * Method: real Replica over memory storage (durability has its own tests); every wait is on an
 * event with a bounded timeout. The behaviours every CoordinationClient shares (CRUD, FIFO,
 * watch ordering, observe, multi, session close and expiry) are tested once for both backends
 * in test/coordination-client-contract.e2e-spec.ts; this file keeps what is specific to the
 * local client and the replica behind it.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Replica } from './replica.js';
import { LocalCoordinationClient } from './local-client.js';
import { ErrorCode } from '../state/error-code.js';
import {
  KeeperError,
  NoWatcherError,
  SessionExpiredError,
} from '../state/keeper-error.js';
import type { WatchEvent } from '../state/watch-event.js';
import { deferred, withTimeout } from '../testing/with-timeout.js';
import type { ReplicaOptions } from './replica-options.js';

const open: Replica[] = [];

async function start(options: Partial<ReplicaOptions> = {}): Promise<{ replica: Replica; a: LocalCoordinationClient; b: LocalCoordinationClient }> {
  const replica = await Replica.open({ dataDir: ':memory:', ...options });
  open.push(replica);
  const a = await LocalCoordinationClient.connect(replica, 10_000);
  const b = await LocalCoordinationClient.connect(replica, 10_000);
  return { replica, a, b };
}

afterEach(async () => {
  for (const replica of open.splice(0)) await replica.close();
});

const text = (s: string): Buffer => Buffer.from(s);

describe('operations', () => {


  test('sequential nodes take the parent cversion as a 10-digit counter', async () => {
    const { a } = await start();
    await a.create('/q', text(''));
    const first = await a.create('/q/item-', text(''), { mode: 'persistent_sequential' });
    await a.create('/q/other', text(''));
    const second = await a.create('/q/item-', text(''), { mode: 'ephemeral_sequential' });
    assert.equal(first.path, '/q/item-0000000000');
    assert.equal(second.path, '/q/item-0000000002');
  });

  test('data size limit is enforced', async () => {
    const { a } = await start({ dataBytesMax: 1024 });
    await a.create('/big', Buffer.alloc(1024));
    await assert.rejects(a.setData('/big', Buffer.alloc(1025)), (e: unknown) =>
      e instanceof KeeperError && e.code === ErrorCode.BadArguments);
  });

  test('bad input is refused with a typed error and never stops the replica', async () => {
    const { replica, a } = await start();
    const bad = a as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['unknown mode', () => bad.create!('/a', Buffer.alloc(1), { mode: 'bogus' })],
      ['string data', () => bad.create!('/b', 'text')],
      ['number data', () => bad.setData!('/', 12)],
      ['fractional version', () => bad.setData!('/', Buffer.alloc(1), 1.5)],
      ['string version', () => bad.delete!('/zookeeper', 'v')],
      ['non-array multi', () => bad.multi!('ops')],
      ['unknown multi op', () => bad.multi!([{ op: 'nope', path: '/x' }])],
      ['TTL not a number', () => bad.create!('/c', Buffer.alloc(1), { mode: 'ttl', ttlMs: 'x' })],
      ['TTL too large', () => bad.create!('/d', Buffer.alloc(1), { mode: 'ttl', ttlMs: 1e20 })],
      ['malformed ACL', () => bad.create!('/e', Buffer.alloc(1), { acl: [{ perms: 'all' }] })],
      ['ACL perms out of range', () => bad.create!('/e', Buffer.alloc(1),
        { acl: [{ perms: 2 ** 31, scheme: 'world', id: 'anyone' }] })],
      ['ACL id with a lone surrogate', () => bad.create!('/e', Buffer.alloc(1),
        { acl: [{ perms: 31, scheme: 'digest', id: 'bob\ud800:x' }] })],
      ['request over the size bound', () => bad.multi!(Array.from({ length: 3 },
        (_, i) => ({ op: 'create', path: `/big${i}`, data: Buffer.alloc(1_000_000) })))],
      ['null path', () => bad.getData!(null)],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(call(), KeeperError, name);
      assert.equal(replica.state, 'serving', `${name} stopped the replica`);
    }
    const raw = [
      { op: 'frobnicate', path: '/x' },
      { op: 'create', path: '/y', data: Buffer.alloc(0), acl: [], mode: 'bogus' },
      { op: 'multi', ops: 'nope' },
      { op: 'multi', ops: [{ op: 'nope' }] },
    ];
    for (const request of raw) {
      const result = await replica.submit(a.sessionId, 1, request as never);
      assert.notEqual(result.code, ErrorCode.Ok, JSON.stringify(request));
      assert.equal(replica.state, 'serving');
    }
    await a.create('/still-serving', Buffer.alloc(0));
  });


});

describe('ordering', () => {
  test('pipelined writes commit in issue order and each sees the earlier ones', async () => {
    const { a } = await start();
    await a.create('/seq', text(''));
    const writes = [];
    for (let i = 0; i < 500; i++) writes.push(a.create('/seq/n-', text(String(i)), { mode: 'persistent_sequential' }));
    writes.push(a.delete('/seq/n-0000000000').then(() => ({ path: 'deleted', stat: undefined })));
    const results = await Promise.all(writes);
    results.slice(0, 500).forEach((r, i) => assert.equal(r.path, `/seq/n-${String(i).padStart(10, '0')}`));
    const zxids = results.slice(0, 500).map((r) => r.stat!.czxid);
    assert.deepEqual([...zxids].sort((x, y) => (x < y ? -1 : 1)), zxids);
    assert.equal((await a.getChildren('/seq')).children.length, 499);
  });


});

describe('watches', () => {
  test('one-shot watches fire once, exists watches fire on create', async () => {
    const { a, b } = await start();
    const events: WatchEvent[] = [];
    const created = deferred<void>();
    assert.equal(await a.exists('/later', (e) => { events.push(e); created.resolve(); }), null);
    await b.create('/later', text(''));
    await withTimeout(created.promise, 2000, 'exists watch');
    await b.setData('/later', text('x'));
    await b.sync('/');
    await a.sync('/');
    assert.deepEqual(events.map((e) => `${e.type} ${e.path}`), ['created /later']);
  });

  test('data and child watches of one watcher give one NodeDeleted', async () => {
    const { a, b } = await start();
    await b.create('/d', text(''));
    const events: string[] = [];
    const done = deferred<void>();
    const listener = (e: WatchEvent): void => {
      events.push(`${e.type} ${e.path}`);
      done.resolve();
    };
    await a.getData('/d', listener);
    await a.getChildren('/d', listener);
    await b.delete('/d');
    await withTimeout(done.promise, 2000, 'delete watch');
    await a.sync('/');
    assert.deepEqual(events, ['deleted /d']);
  });

  test('child watch fires on a new child; persistent watches stay; removeWatches', async () => {
    const { a, b } = await start();
    await b.create('/c', text(''));
    const child = deferred<WatchEvent>();
    await a.getChildren('/c', (e) => child.resolve(e));
    await b.create('/c/1', text(''));
    assert.equal((await withTimeout(child.promise, 2000, 'child watch')).type, 'childrenChanged');

    const seen: string[] = [];
    const listener = (e: WatchEvent): void => {
      seen.push(`${e.type} ${e.path}`);
    };
    await a.addWatch('/c', 'persistentRecursive', listener);
    await b.create('/c/2', text(''));
    await b.setData('/c/2', text('x'));
    await b.delete('/c/2');
    await a.sync('/');
    assert.deepEqual(seen, ['created /c/2', 'dataChanged /c/2', 'deleted /c/2']);
    await a.removeWatches('/c', listener, 'persistentRecursive');
    await b.create('/c/3', text(''));
    await a.sync('/');
    assert.equal(seen.length, 3);
    await assert.rejects(a.removeWatches('/c', listener), NoWatcherError);
  });

  test('fired and removed one-shot watches leave nothing behind', async () => {
    const { replica, a, b } = await start();
    await b.create('/many', text(''));
    const baseline = replica.watches.watchCount;
    let fired = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 20; i++) await a.getData('/many', () => { fired += 1; });
      await b.setData('/many', text(String(round)));
      await a.sync('/');
    }
    assert.equal(fired, 1000);
    assert.equal(replica.watches.watchCount, baseline);
    const listener = (): void => { fired += 1; };
    await a.getData('/many', listener);
    await a.getChildren('/many', listener);
    await a.removeWatches('/many', listener, 'data');
    await b.setData('/many', text('after removal'));
    await a.sync('/');
    assert.equal(fired, 1000, 'a removed data watch fired');
    await assert.rejects(a.removeWatches('/many', listener, 'data'), NoWatcherError);
    await a.removeWatches('/many', listener, 'children');
    assert.equal(replica.watches.watchCount, baseline);
  });

});

describe('listeners', () => {
  test('a throwing watch or session listener is logged and never stops the replica', async () => {
    const errors: string[] = [];
    const replica = await Replica.open({ dataDir: ':memory:' }, {
      logger: { log() {}, warn() {}, error: (m) => errors.push(m) },
    });
    open.push(replica);
    const a = await LocalCoordinationClient.connect(replica, 10_000);
    const b = await LocalCoordinationClient.connect(replica, 10_000);
    await a.create('/t', text(''));
    const second = deferred<WatchEvent>();
    await b.getData('/t', () => {
      throw new Error('listener bug');
    });
    await b.getData('/t', (e) => second.resolve(e));
    b.onSessionEnd(() => {
      throw new Error('end listener bug');
    });
    await a.setData('/t', text('x'));
    assert.equal((await withTimeout(second.promise, 2000, 'the second listener')).type, 'dataChanged');
    await b.close();
    assert.equal(replica.state, 'serving');
    assert.match(errors.join('\n'), /listener bug/);
    assert.match(errors.join('\n'), /end listener bug/);
    await a.create('/after', text(''));
  });
});

describe('sessions', () => {

  test('a session without pings expires: ephemerals go, calls fail with SessionExpired', async () => {
    const replica = await Replica.open({ dataDir: ':memory:', tickMs: 20 });
    open.push(replica);
    const watcher = await LocalCoordinationClient.connect(replica, 10_000);
    const remote = await LocalCoordinationClient.connect(replica, 40, { local: false });
    assert.equal(remote.sessionTimeoutMs, 40);
    await remote.create('/lease', text(''), { mode: 'ephemeral' });
    const ended = deferred<string>();
    remote.onSessionEnd((state) => ended.resolve(state));
    const deleted = deferred<WatchEvent>();
    await watcher.exists('/lease', (e) => deleted.resolve(e));
    assert.equal(await withTimeout(ended.promise, 5000, 'session expiry'), 'expired');
    assert.equal((await withTimeout(deleted.promise, 2000, 'ephemeral deletion')).type, 'deleted');
    assert.equal(remote.state, 'expired');
    await assert.rejects(remote.getData('/'), SessionExpiredError);
    assert.equal(await watcher.exists('/lease'), null);
  });

  test('session timeouts are negotiated into [2, 20] ticks', async () => {
    const replica = await Replica.open({ dataDir: ':memory:', tickMs: 100 });
    open.push(replica);
    assert.equal(replica.negotiateSessionTimeout(1), 200);
    assert.equal(replica.negotiateSessionTimeout(1000), 1000);
    assert.equal(replica.negotiateSessionTimeout(999_999), 2000);
  });
});

describe('containers, TTL and limits', () => {
  test('an emptied container is deleted by the sweep; a never-used one stays', async () => {
    const { a, b } = await start({ containerCheckIntervalMs: 10 });
    await a.create('/box', text(''), { mode: 'container' });
    await a.create('/unused', text(''), { mode: 'container' });
    await a.create('/box/item', text(''));
    const deleted = deferred<WatchEvent>();
    await b.exists('/box', (e) => deleted.resolve(e));
    await a.delete('/box/item');
    assert.equal((await withTimeout(deleted.promise, 5000, 'container deletion')).type, 'deleted');
    assert.notEqual(await a.exists('/unused'), null);
  });

  test('a TTL node is deleted once unmodified for its TTL; one with children stays', async () => {
    const { a, b } = await start({ containerCheckIntervalMs: 10 });
    await a.create('/ttl', text(''), { mode: 'ttl', ttlMs: 30 });
    await a.create('/ttl-parent', text(''), { mode: 'ttl', ttlMs: 30 });
    await a.create('/ttl-parent/child', text(''));
    const deleted = deferred<WatchEvent>();
    await b.exists('/ttl', (e) => deleted.resolve(e));
    assert.equal((await withTimeout(deleted.promise, 5000, 'TTL deletion')).type, 'deleted');
    assert.notEqual(await a.exists('/ttl-parent'), null);
    await assert.rejects(a.create('/no-ttl', text(''), { mode: 'ttl' }), KeeperError);
  });

  test('writes beyond pendingWritesMax are refused with ThrottledOp', async () => {
    const { a } = await start({ pendingWritesMax: 8 });
    const results = await Promise.allSettled(
      Array.from({ length: 9 }, (_, i) => a.create(`/t${i}`, text(''))),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(refused.length, 1);
    const reason = (refused[0] as PromiseRejectedResult).reason as KeeperError;
    assert.equal(reason.code, ErrorCode.ThrottledOp);
  });
});
