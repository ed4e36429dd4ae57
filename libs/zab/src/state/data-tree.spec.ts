/**
 * Goal: `DataTree.apply` follows ZooKeeper's DataTree rules exactly (stats, parent cversion and
 * pzxid, ephemerals, multi, watch events), keeps its indexes and digest consistent, and agrees
 * with a naive model on random valid histories.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvariantViolation } from '../util/assert.js';
import { DataTree } from './data-tree.js';
import { commandArbitrary, dumpModel, dumpTree, ModelTree, toTxn } from './data-tree-model.spec.js';
import { ErrorCode } from './error-code.js';
import { OPEN_ACL_UNSAFE, type Acl } from './stat.js';
import type { CreateTxn, Txn, TxnBody } from './txn.js';

const OPEN: Acl[] = OPEN_ACL_UNSAFE.map((a) => ({ ...a }));

function txn(zxid: bigint, body: TxnBody, sessionId = 7n): Txn {
  return { header: { sessionId, cxid: 1, zxid, time: 1000n + zxid }, body };
}

function create(path: string, parentCVersion: number, extra: Partial<CreateTxn> = {}): TxnBody {
  return {
    type: 'create',
    path,
    data: Buffer.from('v'),
    acl: OPEN,
    kind: 'persistent',
    ephemeralOwner: 0n,
    ttlMs: 0,
    parentCVersion,
    ...extra,
  };
}

/** A tree with session 7 and /app created at zxid 2. */
function treeWithApp(): DataTree {
  const tree = new DataTree();
  tree.apply(txn(1n, { type: 'createSession', timeoutMs: 4000 }));
  tree.apply(txn(2n, create('/app', 2)));
  return tree;
}

describe('DataTree initial state', () => {
  test('holds /, /zookeeper, /zookeeper/quota at zxid 0', () => {
    const tree = new DataTree();
    assert.equal(tree.nodeCount, 3);
    assert.equal(tree.lastZxid, 0n);
    assert.deepEqual(tree.getChildren('/'), ['zookeeper']);
    assert.deepEqual(tree.getChildren('/zookeeper'), ['quota']);
    assert.equal(tree.stat('/')!.numChildren, 1);
    assert.deepEqual(tree.getAcl('/zookeeper')!.acl, OPEN);
    assert.equal(tree.getAllChildrenNumber('/'), 2);
    tree.checkInvariants();
  });
});

describe('DataTree.apply create', () => {
  test('sets the stat and the parent cversion, pzxid and numChildren', () => {
    const tree = treeWithApp();
    const result = tree.apply(txn(3n, create('/app/x', 1, { data: Buffer.from('hello') })));
    const expected = {
      czxid: 3n,
      mzxid: 3n,
      pzxid: 3n,
      ctime: 1003n,
      mtime: 1003n,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength: 5,
      numChildren: 0,
    };
    assert.deepEqual(result, {
      code: 0,
      path: '/app/x',
      stat: expected,
      events: [
        { type: 'created', path: '/app/x', zxid: 3n },
        { type: 'childrenChanged', path: '/app', zxid: 3n },
      ],
    });
    const parent = tree.stat('/app')!;
    assert.equal(parent.cversion, 1);
    assert.equal(parent.pzxid, 3n);
    assert.equal(parent.numChildren, 1);
    assert.equal(parent.mzxid, 2n, 'a child create does not touch the parent mzxid');
    assert.deepEqual(tree.getData('/app/x')!.data, Buffer.from('hello'));
    tree.checkInvariants();
  });

  test('takes the parent cversion from the txn (sequential style, gaps allowed)', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/app/q0000000000', 1)));
    tree.apply(txn(4n, create('/app/q0000000005', 6)));
    assert.equal(tree.stat('/app')!.cversion, 6);
    assert.deepEqual(tree.getChildren('/app')!.sort(), ['q0000000000', 'q0000000005']);
  });

  test('ephemeral, container and ttl nodes report ZooKeeper ephemeralOwner encodings', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/app/e', 1, { kind: 'ephemeral', ephemeralOwner: 7n })));
    tree.apply(txn(4n, create('/app/c', 2, { kind: 'container' })));
    tree.apply(txn(5n, create('/app/t', 3, { kind: 'ttl', ttlMs: 5000 })));
    assert.equal(tree.stat('/app/e')!.ephemeralOwner, 7n);
    assert.equal(tree.stat('/app/c')!.ephemeralOwner, -(1n << 63n));
    assert.equal(
      tree.stat('/app/t')!.ephemeralOwner,
      BigInt.asIntN(64, 0xff00000000000000n | 5000n),
    );
    assert.deepEqual(tree.nodeInfo('/app/t')!.kind, 'ttl');
    assert.equal(tree.nodeInfo('/app/t')!.ttlMs, 5000);
    assert.deepEqual(tree.getEphemerals(7n), ['/app/e']);
    tree.checkInvariants();
  });

  test('a create that does not fit the tree is a broken invariant', () => {
    const tree = treeWithApp();
    assert.throws(() => tree.apply(txn(3n, create('/missing/x', 1))), InvariantViolation);
    const tree2 = treeWithApp();
    assert.throws(() => tree2.apply(txn(3n, create('/app', 3))), InvariantViolation);
    const tree3 = treeWithApp();
    tree3.apply(txn(3n, create('/app/e', 1, { kind: 'ephemeral', ephemeralOwner: 7n })));
    assert.throws(() => tree3.apply(txn(4n, create('/app/e/x', 1))), InvariantViolation);
    const tree4 = treeWithApp();
    assert.throws(
      () => tree4.apply(txn(3n, create('/app/e', 1, { kind: 'ephemeral', ephemeralOwner: 99n }))),
      InvariantViolation,
    );
  });

  test('zxids must increase', () => {
    const tree = treeWithApp();
    assert.throws(() => tree.apply(txn(2n, create('/b', 3))), InvariantViolation);
  });
});

describe('DataTree.apply delete', () => {
  test('keeps the parent cversion (ZooKeeper 3.5+), sets its pzxid, drops numChildren, emits events', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/app/x', 1)));
    const result = tree.apply(txn(4n, { type: 'delete', path: '/app/x' }));
    assert.deepEqual(result, {
      code: 0,
      events: [
        { type: 'deleted', path: '/app/x', zxid: 4n },
        { type: 'childrenChanged', path: '/app', zxid: 4n },
      ],
    });
    const parent = tree.stat('/app')!;
    assert.deepEqual([parent.cversion, parent.pzxid, parent.numChildren], [1, 4n, 0]);
    assert.equal(tree.stat('/app/x'), undefined);
    assert.equal(tree.nodeCount, 4);
    tree.checkInvariants();
  });

  test('of a missing or non-empty node is a broken invariant', () => {
    const tree = treeWithApp();
    assert.throws(() => tree.apply(txn(3n, { type: 'delete', path: '/nope' })), InvariantViolation);
    const tree2 = treeWithApp();
    tree2.apply(txn(3n, create('/app/x', 1)));
    assert.throws(() => tree2.apply(txn(4n, { type: 'delete', path: '/app' })), InvariantViolation);
  });

  test('keeps ephemeral, container and ttl indexes right', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/app/e', 1, { kind: 'ephemeral', ephemeralOwner: 7n })));
    tree.apply(txn(4n, create('/app/t', 2, { kind: 'ttl', ttlMs: 10 })));
    tree.apply(txn(5n, { type: 'delete', path: '/app/e' }));
    tree.apply(txn(6n, { type: 'delete', path: '/app/t' }));
    assert.deepEqual(tree.getEphemerals(7n), []);
    assert.deepEqual(tree.expiredTtlCandidates(1_000_000n, 10), []);
    tree.checkInvariants();
  });
});

describe('DataTree.apply setData, setACL, check, error', () => {
  test('setData takes the version from the txn and sets mzxid, mtime, dataLength', () => {
    const tree = treeWithApp();
    const result = tree.apply(
      txn(3n, { type: 'setData', path: '/app', data: Buffer.from('abc'), version: 1 }),
    );
    assert.equal(result.code, 0);
    assert.deepEqual(result.events, [{ type: 'dataChanged', path: '/app', zxid: 3n }]);
    const stat = tree.stat('/app')!;
    assert.deepEqual(
      [stat.version, stat.mzxid, stat.mtime, stat.dataLength, stat.czxid, stat.ctime],
      [1, 3n, 1003n, 3, 2n, 1002n],
    );
    assert.deepEqual(result.stat, stat);
    assert.deepEqual(tree.getData('/app')!.data, Buffer.from('abc'));
    tree.apply(txn(4n, { type: 'setData', path: '/app', data: Buffer.alloc(0), version: 2 }));
    assert.equal(tree.getData('/app')!.data.length, 0);
    tree.checkInvariants();
  });

  test('getData returns a copy the caller may change', () => {
    const tree = treeWithApp();
    tree.getData('/app')!.data.fill(0);
    assert.deepEqual(tree.getData('/app')!.data, Buffer.from('v'));
  });

  test('setACL takes the aversion from the txn, shares ACL lists by reference count', () => {
    const tree = treeWithApp();
    const acl = [{ perms: 1, scheme: 'digest', id: 'bob:x' }];
    const result = tree.apply(txn(3n, { type: 'setACL', path: '/app', acl, version: 1 }));
    assert.equal(result.stat!.aversion, 1);
    assert.deepEqual(result.events, []);
    assert.deepEqual(tree.getAcl('/app')!.acl, acl);
    assert.deepEqual(tree.nodeInfo('/app')!.acl, acl);
    tree.checkInvariants();
  });

  test('check and error change nothing; error returns its code', () => {
    const tree = treeWithApp();
    const before = tree.digest();
    assert.deepEqual(tree.apply(txn(3n, { type: 'check', path: '/app', version: 0 })), {
      code: 0,
      events: [],
    });
    assert.deepEqual(tree.apply(txn(4n, { type: 'error', code: ErrorCode.NoNode })), {
      code: ErrorCode.NoNode,
      events: [],
    });
    assert.equal(tree.digest(), before);
    assert.equal(tree.lastZxid, 4n);
  });
});

describe('DataTree sessions', () => {
  test('createSession adds, closeSession deletes the ephemerals in path order then forgets', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/app/b', 1, { kind: 'ephemeral', ephemeralOwner: 7n })));
    tree.apply(txn(4n, create('/app/a', 2, { kind: 'ephemeral', ephemeralOwner: 7n })));
    tree.apply(txn(5n, create('/z', 3, { kind: 'ephemeral', ephemeralOwner: 7n })));
    assert.deepEqual(tree.sessions(), [{ sessionId: 7n, timeoutMs: 4000 }]);
    assert.deepEqual(tree.ephemeralsOf(7n), ['/app/a', '/app/b', '/z']);
    assert.deepEqual(tree.getEphemerals(7n, '/app'), ['/app/a', '/app/b']);
    const result = tree.apply(txn(6n, { type: 'closeSession' }));
    assert.deepEqual(
      result.events.map((e) => `${e.type} ${e.path}`),
      [
        'deleted /app/a',
        'childrenChanged /app',
        'deleted /app/b',
        'childrenChanged /app',
        'deleted /z',
        'childrenChanged /',
      ],
    );
    assert.equal(tree.hasSession(7n), false);
    assert.equal(tree.sessionTimeoutMs(7n), undefined);
    assert.equal(tree.stat('/app')!.cversion, 2);
    assert.equal(tree.stat('/app')!.pzxid, 6n);
    tree.checkInvariants();
  });

  test('closeSession of an unknown session succeeds and changes nothing', () => {
    const tree = treeWithApp();
    const before = tree.digest();
    assert.deepEqual(tree.apply(txn(3n, { type: 'closeSession' }, 99n)), { code: 0, events: [] });
    assert.equal(tree.digest(), before);
  });
});

describe('DataTree.apply multi', () => {
  test('applies the ops in order with per-op results and accumulated events', () => {
    const tree = treeWithApp();
    const result = tree.apply(
      txn(3n, {
        type: 'multi',
        txns: [
          create('/app/x', 1) as CreateTxn,
          { type: 'setData', path: '/app/x', data: Buffer.from('z'), version: 1 },
          { type: 'check', path: '/app', version: 0 },
          { type: 'delete', path: '/app/x' },
        ],
      }),
    );
    assert.equal(result.code, 0);
    assert.deepEqual(
      result.results!.map((r) => [r.type, r.code, r.path]),
      [
        ['create', 0, '/app/x'],
        ['setData', 0, undefined],
        ['check', 0, undefined],
        ['delete', 0, undefined],
      ],
    );
    assert.equal(result.results![1]!.stat!.version, 1);
    assert.deepEqual(
      result.events.map((e) => e.type),
      ['created', 'childrenChanged', 'dataChanged', 'deleted', 'childrenChanged'],
    );
    assert.equal(tree.stat('/app')!.cversion, 1);
    tree.checkInvariants();
  });

  test('with error ops changes nothing and reports ZooKeeper per-op codes', () => {
    const tree = treeWithApp();
    const before = tree.digest();
    const result = tree.apply(
      txn(3n, {
        type: 'multi',
        txns: [
          { type: 'error', code: 0 },
          { type: 'error', code: ErrorCode.BadVersion },
          { type: 'error', code: ErrorCode.RuntimeInconsistency },
        ],
      }),
    );
    assert.deepEqual(result, {
      code: ErrorCode.BadVersion,
      results: [
        { type: 'error', code: 0 },
        { type: 'error', code: ErrorCode.BadVersion },
        { type: 'error', code: ErrorCode.RuntimeInconsistency },
      ],
      events: [],
    });
    assert.equal(tree.digest(), before);
    // Non-error ops in a failed multi are reported, not applied (ZooKeeper converts them).
    const mixed = tree.apply(
      txn(4n, {
        type: 'multi',
        txns: [
          create('/app/y', 1) as CreateTxn,
          { type: 'error', code: ErrorCode.NoNode },
          create('/app/z', 1) as CreateTxn,
        ],
      }),
    );
    assert.deepEqual(
      mixed.results!.map((r) => r.code),
      [0, ErrorCode.NoNode, ErrorCode.RuntimeInconsistency],
    );
    assert.equal(tree.stat('/app/y'), undefined);
  });
});

describe('DataTree sweeper candidates', () => {
  test('containers that had children and are empty; TTL nodes unmodified past their ttl', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/c1', 3, { kind: 'container' })));
    tree.apply(txn(4n, create('/c2', 4, { kind: 'container' })));
    tree.apply(txn(5n, create('/c1/x', 1)));
    assert.deepEqual(tree.containerCandidates(10), []);
    tree.apply(txn(6n, { type: 'delete', path: '/c1/x' }));
    assert.deepEqual(tree.containerCandidates(10), ['/c1']);
    tree.apply(txn(7n, create('/t', 5, { kind: 'ttl', ttlMs: 100 })));
    const mtime = tree.stat('/t')!.mtime;
    assert.deepEqual(tree.expiredTtlCandidates(mtime + 100n, 10), []);
    assert.deepEqual(tree.expiredTtlCandidates(mtime + 101n, 10), ['/t']);
    tree.apply(txn(8n, create('/t/child', 1)));
    assert.deepEqual(tree.expiredTtlCandidates(mtime + 1000n, 10), []);
    assert.deepEqual(tree.containerCandidates(0), []);
  });

  test('getAllChildrenNumber counts all descendants', () => {
    const tree = treeWithApp();
    tree.apply(txn(3n, create('/app/a', 1)));
    tree.apply(txn(4n, create('/app/a/b', 1)));
    assert.equal(tree.getAllChildrenNumber('/app'), 2);
    assert.equal(tree.getAllChildrenNumber('/'), 5);
    assert.equal(tree.getAllChildrenNumber('/none'), undefined);
  });
});

describe('DataTree digest', () => {
  test('equal states reached through different histories have equal digests', () => {
    const a = treeWithApp();
    a.apply(txn(3n, { type: 'setData', path: '/app', data: Buffer.from('a'), version: 1 }));
    a.apply(
      txn(4n, {
        type: 'setACL',
        path: '/app',
        acl: [{ perms: 1, scheme: 'ip', id: '1.2.3.4' }],
        version: 1,
      }),
    );
    a.apply(txn(5n, { type: 'setData', path: '/app', data: Buffer.from('b'), version: 2 }));
    a.apply(txn(6n, { type: 'setACL', path: '/app', acl: OPEN, version: 2 }));
    const b = treeWithApp();
    b.apply(txn(5n, { type: 'setData', path: '/app', data: Buffer.from('b'), version: 2 }));
    b.apply(txn(6n, { type: 'setACL', path: '/app', acl: OPEN, version: 2 }));
    assert.equal(a.digest(), b.digest());

    const c = new DataTree();
    const d = new DataTree();
    c.apply(txn(1n, { type: 'createSession', timeoutMs: 10 }, 1n));
    c.apply(txn(2n, { type: 'createSession', timeoutMs: 20 }, 2n));
    d.apply(txn(1n, { type: 'createSession', timeoutMs: 20 }, 2n));
    d.apply(txn(2n, { type: 'createSession', timeoutMs: 99 }, 3n));
    d.apply(txn(3n, { type: 'createSession', timeoutMs: 10 }, 1n));
    d.apply(txn(4n, { type: 'closeSession' }, 3n));
    assert.equal(c.digest(), d.digest());
  });

  test('a tree loaded from a snapshot of another history has the same digest', () => {
    const a = treeWithApp();
    a.apply(txn(3n, create('/app/x', 1)));
    a.apply(txn(4n, { type: 'setData', path: '/app/x', data: Buffer.from('q'), version: 1 }));
    const cursor = a.beginSnapshot();
    const chunks: Buffer[] = [];
    for (let chunk = cursor.next(100); chunk !== null; chunk = cursor.next(100)) chunks.push(chunk);
    assert.equal(DataTree.fromSnapshot(Buffer.concat(chunks)).digest(), a.digest());
  });

  test('any single field change changes the digest', () => {
    const base = (): DataTree => {
      const tree = treeWithApp();
      tree.apply(txn(3n, create('/app/x', 1)));
      return tree;
    };
    const reference = base().digest();
    const variants: Array<[string, TxnBody]> = [
      ['data', { type: 'setData', path: '/app/x', data: Buffer.from('w'), version: 0 }],
      ['version', { type: 'setData', path: '/app/x', data: Buffer.from('v'), version: 5 }],
      [
        'acl',
        {
          type: 'setACL',
          path: '/app/x',
          acl: [{ perms: 1, scheme: 'world', id: 'anyone' }],
          version: 0,
        },
      ],
      ['aversion', { type: 'setACL', path: '/app/x', acl: OPEN, version: 1 }],
      ['session', { type: 'createSession', timeoutMs: 4001 }],
    ];
    const seen = new Set<bigint>([reference]);
    for (const [name, body] of variants) {
      const tree = base();
      // Same zxid and time as a no-op error txn so only the named field differs.
      tree.apply(txn(4n, body));
      const noop = base();
      noop.apply(txn(4n, { type: 'error', code: 0 }));
      assert.equal(noop.digest(), reference);
      assert.notEqual(tree.digest(), reference, name);
      assert.ok(!seen.has(tree.digest()), `${name} collides`);
      seen.add(tree.digest());
    }
  });
});

describe('DataTree against a naive model (property)', () => {
  test('random valid histories give the same nodes, stats, children, events and digest', () => {
    fc.assert(
      fc.property(
        fc.array(commandArbitrary, { minLength: 1, maxLength: 100, size: 'max' }),
        (commands) => {
          const tree = new DataTree({ slabBytes: 256 });
          const model = new ModelTree();
          let zxid = 0n;
          for (const command of commands) {
            zxid += 1n;
            const next = toTxn(model, command, zxid);
            const actual = tree.apply(next);
            const expected = model.apply(next);
            assert.equal(actual.code, expected.code);
            assert.deepEqual(actual.events, expected.events);
            tree.checkInvariants();
            assert.deepEqual(dumpTree(tree), dumpModel(model));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
