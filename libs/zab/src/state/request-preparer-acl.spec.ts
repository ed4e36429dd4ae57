/**
 * Goal: the leader's preparer enforces ZooKeeper 3.8's write ACLs (PrepRequestProcessor):
 * create needs CREATE on the parent, delete DELETE on the parent, setData WRITE, setACL
 * ADMIN, check (in a multi) READ; each op of a multi is checked; the check comes at
 * ZooKeeper's place among the other checks (InvalidACL before NoAuth, NoAuth before NoNode of
 * a deleted child, before NodeExists and BadVersion); it sees prepared-but-unapplied ACL
 * changes; the super identity passes; `auth` ACLs expand to the request's identities. And a
 * denied write changes nothing: the tree and its digest stay as they were.
 * Method: a table (op x identities) on a fresh harness per case over the real DataTree, and a
 * fast-check property over random request streams with random identities and ACLs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SUPER_ID, type AuthId } from './acl.js';
import { DataTree } from './data-tree.js';
import { ErrorCode as E } from './error-code.js';
import { codeOf, create, PreparerHarness, SESSION_A } from './preparer-harness.test-support.js';
import type { MultiOpRequest, WriteRequest } from './request.js';
import { Perms, type Acl } from './stat.js';

const ALICE: AuthId = { scheme: 'digest', id: 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=' };
const BOB: AuthId = { scheme: 'digest', id: 'bob:XLxaz+Ncb96LYEamU3XmgjUU5Cw=' };
const WORLD_ALL: Acl = { perms: Perms.All, scheme: 'world', id: 'anyone' };
const aliceCan = (perms: number): Acl => ({ perms, scheme: 'digest', id: ALICE.id });

/** /n and /n/c exist (world:anyone all); then /n's ACL becomes alice with `perms`. */
function harnessWith(perms: number): PreparerHarness<DataTree> {
  const harness = PreparerHarness.withSessions(undefined, new DataTree());
  harness.setup(create('/n'), create('/n/c'));
  harness.setup({ op: 'setACL', path: '/n', acl: [aliceCan(perms)], version: -1 });
  return harness;
}

interface OpCase {
  name: string;
  permission: number;
  request: WriteRequest;
}

const check = (path: string, version = -1): MultiOpRequest => ({ op: 'check', path, version });

const OPS: OpCase[] = [
  { name: 'create (CREATE on the parent)', permission: Perms.Create, request: create('/n/new') },
  { name: 'delete (DELETE on the parent)', permission: Perms.Delete,
    request: { op: 'delete', path: '/n/c', version: -1 } },
  { name: 'setData (WRITE)', permission: Perms.Write,
    request: { op: 'setData', path: '/n', data: Buffer.from('x'), version: -1 } },
  { name: 'setACL (ADMIN)', permission: Perms.Admin,
    request: { op: 'setACL', path: '/n', acl: [WORLD_ALL], version: -1 } },
  { name: 'multi create', permission: Perms.Create, request: { op: 'multi', ops: [create('/n/m')] } },
  { name: 'multi delete', permission: Perms.Delete,
    request: { op: 'multi', ops: [{ op: 'delete', path: '/n/c', version: -1 }] } },
  { name: 'multi setData', permission: Perms.Write,
    request: { op: 'multi', ops: [{ op: 'setData', path: '/n', data: Buffer.from('x'), version: -1 }] } },
  { name: 'multi check (READ)', permission: Perms.Read, request: { op: 'multi', ops: [check('/n')] } },
];

test('each write needs its permission: granted, every other bit, no identity, super', () => {
  for (const op of OPS) {
    const rows: Array<[string, number, AuthId[], number]> = [
      ['exactly the bit', op.permission, [ALICE], E.Ok],
      ['every other bit', Perms.All & ~op.permission, [ALICE], E.NoAuth],
      ['the bit, but another identity', op.permission, [BOB], E.NoAuth],
      ['the bit, no identity (world only)', op.permission, [], E.NoAuth],
      ['no bit, super', 0, [SUPER_ID], E.Ok],
      ['the bit among several identities', op.permission, [BOB, ALICE], E.Ok],
    ];
    for (const [row, perms, identities, expected] of rows) {
      // perms 0 cannot be stored (it is still a valid ACL): ZooKeeper allows it, so do we.
      const harness = harnessWith(perms);
      const txn = harness.run(op.request, SESSION_A, identities);
      assert.equal(codeOf(txn), expected, `${op.name}: ${row}`);
    }
  }
});

test('a denied op fails its multi: earlier ops Ok, later ones RuntimeInconsistency', () => {
  const harness = harnessWith(Perms.Read);
  const txn = harness.run({ op: 'multi', ops: [
    check('/n'), { op: 'setData', path: '/n', data: Buffer.from('x'), version: -1 }, check('/n'),
  ] }, SESSION_A, [ALICE]);
  assert.ok(txn.body.type === 'multi');
  assert.deepEqual(txn.body.txns.map((t) => (t.type === 'error' ? t.code : 0)),
    [E.Ok, E.NoAuth, E.RuntimeInconsistency]);
});

test('the ACL check comes where ZooKeeper does it among the other checks', () => {
  const none: AuthId[] = [];
  const cases: Array<[string, WriteRequest, number]> = [
    ['create: InvalidACL before NoAuth', create('/n/x', 'persistent', { acl: [] }), E.InvalidAcl],
    ['create: NoNode parent before NoAuth', create('/missing/x'), E.NoNode],
    ['create: NoAuth before NodeExists', create('/n/c'), E.NoAuth],
    ['delete: NoAuth on the parent before NoNode', { op: 'delete', path: '/n/gone', version: -1 }, E.NoAuth],
    ['setData: NoAuth before BadVersion', { op: 'setData', path: '/n', data: Buffer.alloc(0), version: 7 }, E.NoAuth],
    ['setACL: InvalidACL before NoAuth', { op: 'setACL', path: '/n', acl: [], version: -1 }, E.InvalidAcl],
    ['setACL: NoAuth before BadVersion', { op: 'setACL', path: '/n', acl: [WORLD_ALL], version: 7 }, E.NoAuth],
    ['check: NoAuth before BadVersion', { op: 'multi', ops: [check('/n', 7)] }, E.NoAuth],
  ];
  for (const [name, request, expected] of cases) {
    const harness = harnessWith(Perms.Read);
    assert.equal(codeOf(harness.run(request, SESSION_A, none)), expected, name);
  }
});

test('checks see prepared-but-unapplied ACL changes and nodes created earlier in a multi', () => {
  const harness = PreparerHarness.withSessions(undefined, new DataTree());
  harness.setup(create('/n'));
  harness.prepare({ op: 'setACL', path: '/n', acl: [aliceCan(Perms.All)], version: -1 });
  const denied = harness.prepare({ op: 'setData', path: '/n', data: Buffer.from('x'), version: -1 });
  assert.equal(codeOf(denied), E.NoAuth, 'the outstanding setACL already applies');
  const allowed = harness.prepare(
    { op: 'setData', path: '/n', data: Buffer.from('y'), version: -1 }, SESSION_A, 2, [ALICE]);
  assert.equal(codeOf(allowed), E.Ok);
  harness.applyPending();
  const multi = harness.run({ op: 'multi', ops: [
    create('/n/x', 'persistent', { acl: [aliceCan(Perms.Read)] }),
    { op: 'setData', path: '/n/x', data: Buffer.from('z'), version: -1 },
  ] }, SESSION_A, [ALICE]);
  assert.equal(codeOf(multi), E.NoAuth, 'the node created by the multi has READ only');
});

test('auth expands to the request\'s identities; InvalidACL without one', () => {
  const harness = PreparerHarness.withSessions(undefined, new DataTree());
  const auth: Acl = { perms: Perms.All, scheme: 'auth', id: '' };
  assert.equal(codeOf(harness.run(create('/a', 'persistent', { acl: [auth] }))), E.InvalidAcl);
  assert.equal(codeOf(harness.run(create('/a', 'persistent', { acl: [auth] }), SESSION_A, [ALICE])), E.Ok);
  assert.deepEqual(harness.tree.getAcl('/a')?.acl, [aliceCan(Perms.All)]);
  assert.equal(codeOf(harness.run({ op: 'setData', path: '/a', data: Buffer.alloc(0), version: -1 },
    SESSION_A, [BOB])), E.NoAuth);
});

test('internal requests (sweeps, session closes) are not ACL-checked', () => {
  const harness = PreparerHarness.withSessions(undefined, new DataTree());
  harness.setup(create('/locked', 'persistent', { acl: [aliceCan(Perms.Read)] }));
  harness.run(create('/locked/e', 'ephemeral'), SESSION_A, [SUPER_ID]);
  const close = harness.run({ op: 'closeSession' }, SESSION_A);
  assert.equal(codeOf(close), E.Ok);
  assert.equal(harness.tree.stat('/locked/e'), undefined, 'its ephemeral went despite no DELETE');
});

// ---- property: a denied write changes nothing ----

const PATHS = ['/a', '/a/b', '/c'];
const ACLS: Acl[][] = [
  [WORLD_ALL],
  [{ perms: Perms.Read, scheme: 'world', id: 'anyone' }],
  [aliceCan(Perms.All)],
  [aliceCan(Perms.Read | Perms.Create), { perms: Perms.Write | Perms.Delete | Perms.Admin, scheme: 'digest', id: BOB.id }],
  [{ perms: Perms.Read | Perms.Write, scheme: 'auth', id: '' }],
];
const IDENTITY_SETS: AuthId[][] = [[], [ALICE], [BOB], [ALICE, BOB]];

const pathArb = fc.constantFrom(...PATHS);
const aclArb = fc.constantFrom(...ACLS);
const opArb: fc.Arbitrary<MultiOpRequest> = fc.oneof(
  fc.record({ path: pathArb, acl: aclArb }).map(({ path, acl }) => create(path, 'persistent', { acl })),
  pathArb.map((path): MultiOpRequest => ({ op: 'delete', path, version: -1 })),
  pathArb.map((path): MultiOpRequest => ({ op: 'setData', path, data: Buffer.from(path), version: -1 })),
  pathArb.map((path) => check(path)),
);
const requestArb: fc.Arbitrary<WriteRequest> = fc.oneof(
  opArb.filter((op) => op.op !== 'check'),
  fc.record({ path: pathArb, acl: aclArb }).map(({ path, acl }): WriteRequest =>
    ({ op: 'setACL', path, acl, version: -1 })),
  fc.array(opArb, { minLength: 1, maxLength: 3 }).map((ops): WriteRequest => ({ op: 'multi', ops })),
);
const stepArb = fc.record({ request: requestArb, identities: fc.constantFrom(...IDENTITY_SETS) });

/** Everything a write could change, except lastZxid (every txn, even an error, moves it). */
function snapshotOf(tree: DataTree): unknown {
  const nodes = PATHS.map((path) => [path, tree.getData(path)?.data.toString(), tree.getAcl(path)]);
  return { digest: tree.digest(), nodes, count: tree.nodeCount };
}

test('property: a NoAuth write leaves the tree and its digest unchanged; super is never denied', () => {
  let denied = 0;
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => {
    const harness = PreparerHarness.withSessions(undefined, new DataTree());
    for (const { request, identities } of steps) {
      // As super first, prepared then discarded: super is never NoAuth.
      const asSuper = harness.prepare(request, SESSION_A, 1, [SUPER_ID]);
      assert.notEqual(codeOf(asSuper), E.NoAuth);
      harness.pending.pop();
      harness.preparer.reset();
      const before = snapshotOf(harness.tree);
      const txn = harness.run(request, SESSION_A, identities);
      if (codeOf(txn) === E.NoAuth) {
        denied++;
        assert.deepEqual(snapshotOf(harness.tree), before);
      }
    }
  }), { numRuns: 300 });
  assert.ok(denied > 50, `the streams exercise denials (${denied})`);
});
