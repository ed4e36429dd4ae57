/**
 * Goal: the request preparer returns exactly ZooKeeper's PrepRequestProcessor outcomes (txn
 * values and result codes), and its outstanding-changes overlay is invisible: preparing
 * requests pipelined, before earlier ones are applied, gives the same txns as preparing each
 * after the previous one was applied.
 * Method: a table per rule against a naive Map-based tree; pipelining and multi scenarios;
 * a fast-check property comparing pipelined and one-at-a-time runs of random request streams.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SessionId } from '../core/ids.js';
import { InvariantViolation } from '../util/assert.js';
import { TTL_MS_MAX } from './create-mode.js';
import type { CreateModeName } from './create-mode.js';
import { ErrorCode } from './error-code.js';
import { fixupAcl, nextVersion, RequestPreparer, sequenceSuffix } from './request-preparer.js';
import type { MultiOpRequest, WriteRequest } from './request.js';
import type { Txn } from './txn.js';
import {
  codeOf,
  create,
  PreparerHarness,
  SESSION_A,
  SESSION_B,
} from './preparer-harness.test-support.js';
import { NaiveTree } from './naive-tree.test-support.js';
import { DataTree } from './data-tree.js';
import type { TreeView } from './tree-view.js';

const E = ErrorCode;
const UNKNOWN_SESSION: SessionId = 0x999n;

interface RuleRow {
  name: string;
  setup?: WriteRequest[];
  request: WriteRequest;
  sessionId?: SessionId;
  code: number;
}

function runTable(rows: RuleRow[]): void {
  for (const row of rows) {
    test(row.name, () => {
      const harness = PreparerHarness.withSessions({ dataBytesMax: 8 });
      harness.setup(...(row.setup ?? []));
      const txn = harness.run(row.request, row.sessionId ?? SESSION_A);
      if (codeOf(txn) !== row.code) assert.fail(`expected code ${row.code}: ${show(txn)}`);
      if (row.code !== 0) assert.equal(txn.body.type, 'error');
    });
  }
}

function show(txn: Txn): string {
  return JSON.stringify(txn.body, (_, value: unknown) =>
    typeof value === 'bigint' ? `${value}n` : value);
}

const small = (path: string, mode: CreateModeName = 'persistent') =>
  create(path, mode, { data: Buffer.from('x') });

describe('create rules', () => {
  runTable([
    { name: 'relative path is BadArguments', request: small('a'), code: E.BadArguments },
    { name: 'trailing slash is BadArguments', request: small('/a/'), code: E.BadArguments },
    { name: 'empty component is BadArguments', request: small('/a//b'), code: E.BadArguments },
    { name: 'dot component is BadArguments', request: small('/a/.'), code: E.BadArguments },
    {
      name: 'sequential allows a trailing slash', setup: [small('/q')],
      request: small('/q/', 'persistent_sequential'), code: 0,
    },
    { name: 'missing parent is NoNode', request: small('/x/y'), code: E.NoNode },
    {
      name: 'child of an ephemeral is NoChildrenForEphemerals', setup: [small('/e', 'ephemeral')],
      request: small('/e/c'), code: E.NoChildrenForEphemerals,
    },
    { name: 'existing node is NodeExists', setup: [small('/a')], request: small('/a'),
      code: E.NodeExists },
    { name: 'creating / is NodeExists (the root always exists)', request: small('/'),
      code: E.NodeExists },
    { name: 'data at the limit is accepted', request: create('/d', 'persistent',
      { data: Buffer.alloc(8) }), code: 0 },
    { name: 'data over the limit is BadArguments', request: create('/d', 'persistent',
      { data: Buffer.alloc(9) }), code: E.BadArguments },
    { name: 'ephemeral without a session is SessionExpired', request: small('/e', 'ephemeral'),
      sessionId: 0n, code: E.SessionExpired },
    { name: 'persistent from the internal session 0 is accepted', request: small('/p'),
      sessionId: 0n, code: 0 },
    { name: 'create from an unknown session is SessionExpired', request: small('/p'),
      sessionId: UNKNOWN_SESSION, code: E.SessionExpired },
    { name: 'ttl mode without ttl is BadArguments', request: small('/t', 'ttl'),
      code: E.BadArguments },
    { name: 'ttl 0 is BadArguments', request: create('/t', 'ttl', { ttlMs: 0 }),
      code: E.BadArguments },
    { name: 'ttl above TTL_MS_MAX is BadArguments',
      request: create('/t', 'ttl', { ttlMs: TTL_MS_MAX + 1 }), code: E.BadArguments },
    { name: 'ttl TTL_MS_MAX is accepted', request: create('/t', 'ttl', { ttlMs: TTL_MS_MAX }),
      code: 0 },
    { name: 'ttl on a persistent node is BadArguments',
      request: create('/t', 'persistent', { ttlMs: 5 }), code: E.BadArguments },
    { name: 'ttl on a container is BadArguments',
      request: create('/t', 'container', { ttlMs: 5 }), code: E.BadArguments },
    { name: 'ttl -1 on a persistent node means "no ttl"',
      request: create('/t', 'persistent', { ttlMs: -1 }), code: 0 },
    { name: 'empty ACL is InvalidAcl', request: create('/a', 'persistent', { acl: [] }),
      code: E.InvalidAcl },
    { name: 'world:someone is InvalidAcl', request: create('/a', 'persistent',
      { acl: [{ perms: 31, scheme: 'world', id: 'someone' }] }), code: E.InvalidAcl },
    { name: 'auth scheme is InvalidAcl (no authenticated ids)', request: create('/a',
      'persistent', { acl: [{ perms: 31, scheme: 'auth', id: '' }] }), code: E.InvalidAcl },
    { name: 'unknown scheme is InvalidAcl', request: create('/a', 'persistent',
      { acl: [{ perms: 31, scheme: 'nope', id: 'x' }] }), code: E.InvalidAcl },
    { name: 'path is checked before the session', request: small('bad'),
      sessionId: UNKNOWN_SESSION, code: E.BadArguments },
    { name: 'NodeExists is checked before NoChildrenForEphemerals (ZooKeeper order)',
      setup: [small('/a')], request: small('/a', 'ephemeral'), code: E.NodeExists },
  ]);

  test('a create txn carries every resolved value', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/q'), create('/q/a'), create('/q/b'));
    const txn = harness.run(create('/q/n-', 'ephemeral_sequential'), SESSION_B);
    assert.deepEqual(txn.body, {
      type: 'create', path: '/q/n-0000000002', data: Buffer.from('/q/n-'),
      acl: [{ perms: 31, scheme: 'world', id: 'anyone' }], kind: 'ephemeral',
      ephemeralOwner: SESSION_B, ttlMs: 0, parentCVersion: 3,
    });
    assert.equal(harness.tree.nodeInfo('/q')?.stat.cversion, 3);
  });

  test('ttl and container kinds; only ephemerals have an owner', () => {
    const harness = PreparerHarness.withSessions();
    const ttl = harness.run(create('/t', 'persistent_sequential_ttl', { ttlMs: 500 }));
    assert.ok(ttl.body.type === 'create');
    assert.equal(ttl.body.path, '/t0000000000', 'the root\'s cversion starts at 0');
    assert.equal(ttl.body.kind, 'ttl');
    assert.equal(ttl.body.ttlMs, 500);
    assert.equal(ttl.body.ephemeralOwner, 0n);
    const container = harness.run(create('/c', 'container'));
    assert.ok(container.body.type === 'create');
    assert.equal(container.body.kind, 'container');
    assert.equal(container.body.ephemeralOwner, 0n);
  });

  test('ACL lists are deduplicated and valid schemes accepted', () => {
    const digest = { perms: 1, scheme: 'digest', id: 'bob:abc=' };
    assert.deepEqual(fixupAcl([digest, { ...digest }]), [digest]);
    assert.equal(fixupAcl([{ perms: 3, scheme: 'ip', id: '10.0.0.0/8' }])?.length, 1);
    assert.equal(fixupAcl([{ perms: 3, scheme: 'ip', id: 'fe80::1/64' }])?.length, 1);
    assert.equal(fixupAcl([{ perms: 3, scheme: 'ip', id: '10.0.0.300' }]), undefined);
    assert.equal(fixupAcl([{ perms: 3, scheme: 'ip', id: '10.0.0.1/33' }]), undefined);
    assert.equal(fixupAcl([{ perms: 3, scheme: 'digest', id: 'bob' }]), undefined);
    const malformed = [null, 'world:anyone', { perms: 1, scheme: 'world' }];
    for (const entry of malformed) assert.equal(fixupAcl([entry] as never), undefined);
    assert.equal(fixupAcl('nope' as never), undefined);
  });

  test('sequence suffix is %010d of a signed int', () => {
    assert.equal(sequenceSuffix(0), '0000000000');
    assert.equal(sequenceSuffix(42), '0000000042');
    assert.equal(sequenceSuffix(2147483647), '2147483647');
    assert.equal(sequenceSuffix(-5), '-000000005');
    assert.equal(sequenceSuffix(-2147483648), '-2147483648');
  });

  test('parent cversion wraps like a Java int', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/q'));
    harness.tree.nodes.get('/q')!.stat.cversion = 2147483647;
    const txn = harness.run(create('/q/n', 'persistent_sequential'));
    assert.ok(txn.body.type === 'create');
    assert.equal(txn.body.path, '/q/n2147483647');
    assert.equal(txn.body.parentCVersion, -2147483648);
  });
});

describe('delete, setData, setACL, check rules', () => {
  runTable([
    { name: 'delete missing is NoNode', request: { op: 'delete', path: '/a', version: -1 },
      code: E.NoNode },
    { name: 'delete with missing parent is NoNode',
      request: { op: 'delete', path: '/a/b', version: -1 }, code: E.NoNode },
    { name: 'delete wrong version is BadVersion', setup: [small('/a')],
      request: { op: 'delete', path: '/a', version: 3 }, code: E.BadVersion },
    { name: 'delete right version', setup: [small('/a')],
      request: { op: 'delete', path: '/a', version: 0 }, code: 0 },
    { name: 'delete with children is NotEmpty', setup: [small('/a'), small('/a/b')],
      request: { op: 'delete', path: '/a', version: -1 }, code: E.NotEmpty },
    { name: 'BadVersion is checked before NotEmpty', setup: [small('/a'), small('/a/b')],
      request: { op: 'delete', path: '/a', version: 7 }, code: E.BadVersion },
    { name: 'delete / is BadArguments', request: { op: 'delete', path: '/', version: -1 },
      code: E.BadArguments },
    { name: 'delete /zookeeper is BadArguments',
      request: { op: 'delete', path: '/zookeeper', version: -1 }, code: E.BadArguments },
    { name: 'delete /zookeeper/quota is BadArguments',
      request: { op: 'delete', path: '/zookeeper/quota', version: -1 }, code: E.BadArguments },
    { name: 'delete from an unknown session is SessionExpired', setup: [small('/a')],
      request: { op: 'delete', path: '/a', version: -1 }, sessionId: UNKNOWN_SESSION,
      code: E.SessionExpired },
    { name: 'setData missing is NoNode',
      request: { op: 'setData', path: '/a', data: Buffer.from('y'), version: -1 },
      code: E.NoNode },
    { name: 'setData wrong version is BadVersion', setup: [small('/a')],
      request: { op: 'setData', path: '/a', data: Buffer.from('y'), version: 1 },
      code: E.BadVersion },
    { name: 'setData over the limit is BadArguments', setup: [small('/a')],
      request: { op: 'setData', path: '/a', data: Buffer.alloc(9), version: -1 },
      code: E.BadArguments },
    { name: 'setData bad path is BadArguments',
      request: { op: 'setData', path: '/a/', data: Buffer.from('y'), version: -1 },
      code: E.BadArguments },
    { name: 'setACL missing is NoNode',
      request: { op: 'setACL', path: '/a', acl: [{ perms: 1, scheme: 'world', id: 'anyone' }],
        version: -1 }, code: E.NoNode },
    { name: 'setACL wrong aversion is BadVersion', setup: [small('/a')],
      request: { op: 'setACL', path: '/a', acl: [{ perms: 1, scheme: 'world', id: 'anyone' }],
        version: 2 }, code: E.BadVersion },
    { name: 'setACL empty is InvalidAcl', setup: [small('/a')],
      request: { op: 'setACL', path: '/a', acl: [], version: -1 }, code: E.InvalidAcl },
    { name: 'check outside a multi is Unimplemented (ZOOKEEPER-2623)', setup: [small('/a')],
      request: { op: 'check', path: '/a', version: 0 }, code: E.Unimplemented },
  ]);

  test('setData and setACL txns carry the incremented versions', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/a'));
    const first = harness.run({ op: 'setData', path: '/a', data: Buffer.from('1'), version: 0 });
    assert.deepEqual(first.body, { type: 'setData', path: '/a', data: Buffer.from('1'),
      version: 1 });
    const acl = [{ perms: 1, scheme: 'world', id: 'anyone' }];
    const setAcl = harness.run({ op: 'setACL', path: '/a', acl, version: 0 });
    assert.deepEqual(setAcl.body, { type: 'setACL', path: '/a', acl, version: 1 });
  });

  test('version increment wraps like a Java int and skips -1 (ZOOKEEPER-4743)', () => {
    assert.equal(nextVersion(0), 1);
    assert.equal(nextVersion(2147483647), -2147483648);
    assert.equal(nextVersion(-2), 0);
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/a'));
    harness.tree.nodes.get('/a')!.stat.version = 2147483647;
    const txn = harness.run({ op: 'setData', path: '/a', data: Buffer.from('1'),
      version: 2147483647 });
    assert.ok(txn.body.type === 'setData');
    assert.equal(txn.body.version, -2147483648);
  });
});

describe('sessions', () => {
  test('createSession takes the header session id; closeSession always succeeds', () => {
    const harness = new PreparerHarness();
    const created = harness.run({ op: 'createSession', timeoutMs: 4000 }, SESSION_A);
    assert.deepEqual(created.body, { type: 'createSession', timeoutMs: 4000 });
    assert.equal(harness.tree.sessionTimeoutMs(SESSION_A), 4000);
    const closed = harness.run({ op: 'closeSession' }, SESSION_A);
    assert.deepEqual(closed.body, { type: 'closeSession' });
    const again = harness.run({ op: 'closeSession' }, SESSION_A);
    assert.deepEqual(again.body, { type: 'closeSession' }, 'ZooKeeper does not check here');
  });

  test('requests of a closing session fail with SessionExpired', () => {
    const harness = PreparerHarness.withSessions();
    harness.prepare({ op: 'closeSession' }, SESSION_A);
    assert.equal(codeOf(harness.prepare(create('/a'), SESSION_A)), E.SessionExpired);
    assert.equal(codeOf(harness.prepare(create('/a'), SESSION_B)), 0);
  });

  test('a session created but not yet applied is live', () => {
    const harness = new PreparerHarness();
    harness.prepare({ op: 'createSession', timeoutMs: 4000 }, SESSION_A);
    assert.equal(codeOf(harness.prepare(create('/e', 'ephemeral'), SESSION_A)), 0);
  });

  test('createSession with a non-positive timeout is BadArguments', () => {
    const harness = new PreparerHarness();
    assert.equal(codeOf(harness.run({ op: 'createSession', timeoutMs: 0 })), E.BadArguments);
  });
});

describe('sweeper deletes', () => {
  const ttl = (path: string, ttlMs: number) => create(path, 'ttl', { ttlMs });
  runTable([
    { name: 'container that had a child and is empty is deleted',
      setup: [create('/c', 'container'), small('/c/x'),
        { op: 'delete', path: '/c/x', version: -1 }],
      request: { op: 'deleteContainer', path: '/c' }, sessionId: 0n, code: 0 },
    { name: 'container never used is BadVersion', setup: [create('/c', 'container')],
      request: { op: 'deleteContainer', path: '/c' }, sessionId: 0n, code: E.BadVersion },
    { name: 'container with a child is NotEmpty', setup: [create('/c', 'container'),
      small('/c/x')], request: { op: 'deleteContainer', path: '/c' }, sessionId: 0n,
    code: E.NotEmpty },
    { name: 'container gone is NoNode', request: { op: 'deleteContainer', path: '/c' },
      sessionId: 0n, code: E.NoNode },
    { name: 'persistent node is not a container: BadVersion',
      setup: [small('/c'), small('/c/x'), { op: 'delete', path: '/c/x', version: -1 }],
      request: { op: 'deleteContainer', path: '/c' }, sessionId: 0n, code: E.BadVersion },
    { name: 'deleteContainer of / is BadArguments',
      request: { op: 'deleteContainer', path: '/' }, sessionId: 0n, code: E.BadArguments },
    { name: 'ttl node not yet expired is BadVersion', setup: [ttl('/t', 1000)],
      request: { op: 'deleteExpiredTtl', path: '/t' }, sessionId: 0n, code: E.BadVersion },
    { name: 'ttl sweep of a persistent node is BadVersion', setup: [small('/t')],
      request: { op: 'deleteExpiredTtl', path: '/t' }, sessionId: 0n, code: E.BadVersion },
    { name: 'ttl node with a child is NotEmpty', setup: [ttl('/t', 1), small('/t/x')],
      request: { op: 'deleteExpiredTtl', path: '/t' }, sessionId: 0n, code: E.NotEmpty },
  ]);

  test('ttl node expires strictly after mtime + ttl, counting outstanding setData', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/t', 'ttl', { ttlMs: 1000 }));
    harness.timeMs += 1000n;
    assert.equal(codeOf(harness.prepare({ op: 'deleteExpiredTtl', path: '/t' }, 0n)),
      E.BadVersion);
    harness.prepare({ op: 'setData', path: '/t', data: Buffer.from('z'), version: -1 });
    harness.timeMs += 1n;
    assert.equal(codeOf(harness.prepare({ op: 'deleteExpiredTtl', path: '/t' }, 0n)),
      E.BadVersion, 'the outstanding setData refreshed mtime');
    harness.timeMs += 1000n;
    assert.equal(codeOf(harness.prepare({ op: 'deleteExpiredTtl', path: '/t' }, 0n)), 0);
    harness.applyPending();
    assert.equal(harness.tree.nodeInfo('/t'), undefined);
  });
});

describe('pipelining through the outstanding-changes overlay', () => {
  test('create /a, create /a/b, delete /a (nothing applied) is NotEmpty', () => {
    const harness = PreparerHarness.withSessions();
    assert.equal(codeOf(harness.prepare(create('/a'))), 0);
    assert.equal(codeOf(harness.prepare(create('/a/b'))), 0);
    assert.equal(codeOf(harness.prepare({ op: 'delete', path: '/a', version: -1 })),
      E.NotEmpty);
    assert.equal(codeOf(harness.prepare({ op: 'delete', path: '/a/b', version: 0 })), 0);
    assert.equal(codeOf(harness.prepare({ op: 'delete', path: '/a', version: 0 })), 0);
    harness.applyPending();
    assert.equal(harness.tree.nodeInfo('/a'), undefined);
  });

  test('two sequential creates get consecutive counters', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/q'));
    const first = harness.prepare(create('/q/n', 'persistent_sequential'));
    const second = harness.prepare(create('/q/n', 'ephemeral_sequential'));
    assert.ok(first.body.type === 'create' && second.body.type === 'create');
    assert.equal(first.body.path, '/q/n0000000000');
    assert.equal(second.body.path, '/q/n0000000001');
    assert.equal(second.body.parentCVersion, 2);
    harness.applyPending();
  });

  test('versions chain through outstanding setData', () => {
    const harness = PreparerHarness.withSessions();
    harness.prepare(create('/a'));
    const one = harness.prepare({ op: 'setData', path: '/a', data: Buffer.from('1'), version: 0 });
    const two = harness.prepare({ op: 'setData', path: '/a', data: Buffer.from('2'), version: 1 });
    assert.ok(one.body.type === 'setData' && two.body.type === 'setData');
    assert.equal(two.body.version, 2);
    harness.applyPending();
    assert.equal(harness.tree.nodeInfo('/a')?.stat.version, 2);
  });

  test('closeSession hides committed and outstanding ephemerals from later requests', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/p'));
    harness.run(create('/p/e1', 'ephemeral'), SESSION_A);
    harness.prepare(create('/p/e2', 'ephemeral'), SESSION_A);
    harness.prepare(create('/p/other', 'ephemeral'), SESSION_B);
    harness.prepare({ op: 'closeSession' }, SESSION_A);
    assert.equal(codeOf(harness.prepare(create('/p/e1'), SESSION_B)), 0);
    assert.equal(codeOf(harness.prepare(create('/p/e2'), SESSION_B)), 0);
    assert.equal(codeOf(harness.prepare(create('/p/other'), SESSION_B)), E.NodeExists);
    assert.equal(codeOf(harness.prepare({ op: 'delete', path: '/p', version: -1 })),
      E.SessionExpired, 'session A is closing');
    assert.equal(codeOf(harness.prepare({ op: 'delete', path: '/p', version: -1 }, SESSION_B)),
      E.NotEmpty);
    harness.applyPending();
    assert.deepEqual(harness.tree.childrenOf('/p')?.sort(), ['e1', 'e2', 'other']);
    assert.equal(harness.tree.nodeInfo('/p/e1')?.kind, 'persistent');
  });

  test('closeSession releases the parent for a pipelined delete', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/p'));
    harness.prepare(create('/p/e', 'ephemeral'), SESSION_A);
    harness.prepare({ op: 'closeSession' }, SESSION_A);
    assert.equal(codeOf(harness.prepare({ op: 'delete', path: '/p', version: -1 }, SESSION_B)),
      0);
    harness.applyPending();
    assert.equal(harness.tree.nodeInfo('/p'), undefined);
  });

  test('committed drops the overlay; reset forgets it', () => {
    const harness = PreparerHarness.withSessions();
    harness.prepare(create('/a'));
    harness.prepare(create('/b'));
    assert.equal(harness.preparer.outstandingCount, 4, 'two nodes and two parent records');
    harness.applyPending(1);
    assert.equal(harness.preparer.outstandingCount, 2);
    harness.applyPending();
    assert.equal(harness.preparer.outstandingCount, 0);

    const fresh = new RequestPreparer(new NaiveTree());
    fresh.prepare({ op: 'createSession', timeoutMs: 1 }, header(1n, SESSION_A));
    fresh.prepare(create('/x'), header(2n, SESSION_A));
    assert.equal(codeOf(fresh.prepare(create('/x'), header(3n, SESSION_A))), E.NodeExists);
    fresh.reset();
    assert.equal(fresh.outstandingCount, 0);
    assert.equal(codeOf(fresh.prepare(create('/x'), header(4n, SESSION_A))),
      E.SessionExpired, 'after reset only the tree counts, and it has no session');
  });

  test('zxids must increase (the overlay is ordered by zxid)', () => {
    const preparer = new RequestPreparer(new NaiveTree());
    preparer.prepare({ op: 'createSession', timeoutMs: 1 }, header(5n, SESSION_A));
    assert.throws(() => preparer.prepare(create('/a'), header(5n, SESSION_A)),
      InvariantViolation);
    preparer.reset();
    preparer.prepare({ op: 'createSession', timeoutMs: 1 }, header(1n, SESSION_A));
  });

  test('delete then re-create the same path in flight', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/a'));
    harness.prepare({ op: 'setData', path: '/a', data: Buffer.from('1'), version: -1 });
    harness.prepare({ op: 'delete', path: '/a', version: 1 });
    assert.equal(codeOf(harness.prepare(create('/a'))), 0);
    const set = harness.prepare({ op: 'setData', path: '/a', data: Buffer.from('2'),
      version: 0 });
    assert.equal(codeOf(set), 0, 'the new node starts at version 0');
    harness.applyPending();
  });
});

function header(zxid: bigint, sessionId: SessionId): Txn['header'] {
  return { sessionId, cxid: 0, zxid, time: 0n };
}

describe('multi', () => {
  test('ops see earlier ops of the same multi and all commit together', () => {
    const harness = PreparerHarness.withSessions();
    const txn = harness.run({ op: 'multi', ops: [
      create('/m'), create('/m/c', 'persistent_sequential'),
      { op: 'setData', path: '/m', data: Buffer.from('d'), version: 0 },
      { op: 'check', path: '/m', version: 1 },
      { op: 'delete', path: '/m/c0000000000', version: 0 },
    ] });
    assert.ok(txn.body.type === 'multi');
    assert.deepEqual(txn.body.txns.map((op) => op.type),
      ['create', 'create', 'setData', 'check', 'delete']);
    const check = txn.body.txns[3]!;
    assert.ok(check.type === 'check');
    assert.equal(check.version, 2, 'ZooKeeper logs checkAndIncVersion\'s result');
    assert.equal(harness.tree.nodeInfo('/m')?.stat.cversion, 1);
    assert.equal(harness.tree.nodeInfo('/m')?.stat.numChildren, 0);
  });

  test('a failing op: earlier Ok, its code, later RuntimeInconsistency; overlay unchanged', () => {
    const harness = PreparerHarness.withSessions();
    harness.setup(create('/q'));
    const txn = harness.prepare({ op: 'multi', ops: [
      create('/q/n', 'persistent_sequential'), create('/m'),
      { op: 'delete', path: '/missing', version: -1 },
      create('/m2'), { op: 'check', path: '/q', version: 0 },
    ] });
    assert.deepEqual(txn.body, { type: 'multi', txns: [
      { type: 'error', code: 0 }, { type: 'error', code: 0 },
      { type: 'error', code: E.NoNode },
      { type: 'error', code: E.RuntimeInconsistency },
      { type: 'error', code: E.RuntimeInconsistency },
    ] });
    assert.equal(harness.preparer.outstandingCount, 0);
    const next = harness.prepare(create('/q/n', 'persistent_sequential'));
    assert.ok(next.body.type === 'create');
    assert.equal(next.body.path, '/q/n0000000000', 'counter not consumed (ZOOKEEPER-1624)');
    assert.equal(codeOf(harness.prepare(create('/m'))), 0, '/m was not created');
    harness.applyPending();
  });

  test('per-op codes for check, version and session failures', () => {
    const cases: Array<{ ops: MultiOpRequest[]; sessionId?: SessionId; codes: number[] }> = [
      { ops: [{ op: 'check', path: '/a', version: 5 }, create('/b')],
        codes: [E.BadVersion, E.RuntimeInconsistency] },
      { ops: [create('/b'), { op: 'check', path: '/nope', version: -1 }],
        codes: [0, E.NoNode] },
      { ops: [create('/b'), create('/b')], codes: [0, E.NodeExists] },
      { ops: [create('/b'), create('/c')], sessionId: UNKNOWN_SESSION,
        codes: [E.SessionExpired, E.RuntimeInconsistency] },
      { ops: [{ op: 'setData', path: '/a', data: Buffer.alloc(9), version: -1 }],
        codes: [E.BadArguments] },
    ];
    for (const { ops, sessionId, codes } of cases) {
      const harness = PreparerHarness.withSessions({ dataBytesMax: 8 });
      harness.setup(create('/a'));
      const txn = harness.run({ op: 'multi', ops }, sessionId ?? SESSION_A);
      assert.deepEqual(txn.body, { type: 'multi',
        txns: codes.map((code) => ({ type: 'error', code })) });
    }
  });

  test('an empty multi succeeds with no ops', () => {
    const harness = PreparerHarness.withSessions();
    assert.deepEqual(harness.run({ op: 'multi', ops: [] }).body, { type: 'multi', txns: [] });
  });
});

/** Random request streams over a small namespace, so that conflicts are frequent. */
const PATHS = ['/a', '/a', '/b', '/a/x', '/a/y', '/b/x', '/a/x/z', '/c'];
const SESSIONS: SessionId[] = [SESSION_A, SESSION_B, 0x300n, 0n];
const MODES: CreateModeName[] = ['persistent', 'ephemeral', 'persistent_sequential',
  'ephemeral_sequential', 'container', 'ttl', 'persistent_sequential_ttl'];

const pathArbitrary = fc.constantFrom(...PATHS);
const versionArbitrary = fc.oneof(
  { arbitrary: fc.constant(-1), weight: 3 }, { arbitrary: fc.constantFrom(0, 1, 2), weight: 1 });
const createArbitrary = fc.record({
  path: pathArbitrary, mode: fc.constantFrom(...MODES), size: fc.nat(3),
}).map(({ path, mode, size }) => create(path, mode, {
  data: Buffer.alloc(size, 7), ...(mode.includes('ttl') ? { ttlMs: 5 } : {}),
}));
const opArbitrary: fc.Arbitrary<MultiOpRequest> = fc.oneof(
  { arbitrary: createArbitrary, weight: 3 },
  { arbitrary: fc.record({ path: pathArbitrary, version: versionArbitrary })
    .map(({ path, version }): MultiOpRequest => ({ op: 'delete', path, version })), weight: 2 },
  { arbitrary: fc.record({ path: pathArbitrary, version: versionArbitrary }).map(
    ({ path, version }): MultiOpRequest =>
      ({ op: 'setData', path, data: Buffer.from([version & 0xff]), version })), weight: 2 },
  { arbitrary: fc.record({ path: pathArbitrary, version: versionArbitrary })
    .map(({ path, version }): MultiOpRequest => ({ op: 'check', path, version })), weight: 1 },
);
const requestArbitrary: fc.Arbitrary<WriteRequest> = fc.oneof(
  { arbitrary: opArbitrary, weight: 12 },
  { arbitrary: fc.array(opArbitrary, { maxLength: 3 }).map((ops): WriteRequest =>
    ({ op: 'multi', ops })), weight: 2 },
  { arbitrary: fc.record({ path: pathArbitrary, version: versionArbitrary })
    .map(({ path, version }): WriteRequest => ({ op: 'setACL', path, version,
      acl: [{ perms: 31, scheme: 'world', id: 'anyone' }] })), weight: 1 },
  { arbitrary: fc.constant<WriteRequest>({ op: 'createSession', timeoutMs: 3000 }), weight: 2 },
  { arbitrary: fc.constant<WriteRequest>({ op: 'closeSession' }), weight: 1 },
  { arbitrary: pathArbitrary.map((path): WriteRequest => ({ op: 'deleteContainer', path })),
    weight: 1 },
  { arbitrary: pathArbitrary.map((path): WriteRequest => ({ op: 'deleteExpiredTtl', path })),
    weight: 1 },
);
const stepArbitrary = fc.record({
  request: requestArbitrary,
  sessionId: fc.oneof(
    { arbitrary: fc.constant(SESSIONS[0]!), weight: 6 },
    { arbitrary: fc.constantFrom(...SESSIONS.slice(1)), weight: 3 }),
  advanceMs: fc.constantFrom(0, 1, 3, 10),
  /** How many pending txns the pipelined run applies after preparing this one. */
  applyCount: fc.oneof({ arbitrary: fc.constant(0), weight: 6 },
    { arbitrary: fc.constantFrom(1, 2), weight: 3 }, { arbitrary: fc.constant(1000), weight: 1 }),
});

describe('the overlay is invisible (property)', () => {
  test('pipelined preparation gives the same txns as one-at-a-time preparation', () => {
    const seen = {
      requests: 0, succeeded: 0, preparedBehindThree: 0, outcomes: new Set<string>(),
    };
    const streams = fc.array(stepArbitrary, { minLength: 10, maxLength: 80, size: 'max' });
    fc.assert(fc.property(streams, (steps) => {
      const serial = PreparerHarness.withSessions();
      const pipelined = PreparerHarness.withSessions();
      for (const step of steps) {
        serial.timeMs += BigInt(step.advanceMs);
        pipelined.timeMs += BigInt(step.advanceMs);
        const expected = serial.run(step.request, step.sessionId);
        const actual = pipelined.prepare(step.request, step.sessionId);
        assert.deepEqual(actual, expected);
        seen.requests++;
        if (codeOf(actual) === 0) seen.succeeded++;
        if (pipelined.pending.length > 3) seen.preparedBehindThree++;
        seen.outcomes.add(`${step.request.op}:${codeOf(actual)}`);
        pipelined.applyPending(Math.min(step.applyCount, pipelined.pending.length));
      }
      pipelined.applyPending();
      assert.equal(pipelined.preparer.outstandingCount, 0);
      assert.deepEqual(pipelined.tree.dump(), serial.tree.dump());
    }), { numRuns: 500 });
    // The property is only as good as its streams: check they exercise the overlay.
    assert.ok(seen.succeeded > seen.requests / 4,
      `few successes ${seen.succeeded}/${seen.requests}`);
    assert.ok(seen.preparedBehindThree > seen.requests / 10,
      `pipelines too shallow ${seen.preparedBehindThree}/${seen.requests}`);
    assert.ok(seen.outcomes.size >= 25, [...seen.outcomes].sort().join(' '));
  });
});

/** Every node under `/` but the system subtree, by its TreeView: comparable across trees. */
function walk(tree: TreeView): string[] {
  const lines: string[] = [];
  const stack = ['/'];
  while (stack.length > 0) {
    const path = stack.pop()!;
    if (path === '/zookeeper') continue;
    const { stat, kind } = tree.nodeInfo(path)!;
    const children = [...tree.childrenOf(path)!].sort();
    lines.push(`${path} ${kind} v${stat.version} c${stat.cversion} a${stat.aversion} ` +
      `n${stat.numChildren} d${stat.dataLength} cz${stat.czxid} mz${stat.mzxid} ` +
      `pz${path === '/' ? '' : stat.pzxid} m${stat.mtime} [${children.join(',')}]`);
    for (const name of children) stack.push(path === '/' ? `/${name}` : `${path}/${name}`);
  }
  return lines.sort();
}

describe('the preparer and the real DataTree agree (property)', () => {
  test('pipelined txns applied to DataTree never break it and end as the naive tree', () => {
    const streams = fc.array(stepArbitrary, { minLength: 10, maxLength: 80, size: 'max' });
    fc.assert(fc.property(streams, (steps) => {
      const serial = PreparerHarness.withSessions();
      const real = new DataTree();
      const pipelined = PreparerHarness.withSessions(undefined, real);
      for (const step of steps) {
        serial.timeMs += BigInt(step.advanceMs);
        pipelined.timeMs += BigInt(step.advanceMs);
        const expected = serial.run(step.request, step.sessionId);
        assert.deepEqual(pipelined.prepare(step.request, step.sessionId), expected);
        pipelined.applyPending(Math.min(step.applyCount, pipelined.pending.length));
      }
      pipelined.applyPending();
      real.checkInvariants();
      assert.deepEqual(walk(real), walk(serial.tree));
    }), { numRuns: 300 });
  });
});
