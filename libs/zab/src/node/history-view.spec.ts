/**
 * Goal: the replica's history view answers the core's sync questions from memory exactly like
 * the simulator's (`historyOf`): largest logged zxid at or before, txns after (bounded),
 * nothing before its base; it never drops an unapplied txn; its snapshot is the committed tree;
 * through thousands of append/apply/trim rounds (its dead prefix compacted in place) it keeps
 * exactly what a plain array model keeps.
 * Method: a real DataTree and prepared create txns; no I/O.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeZxid, type Zxid } from '../core/ids.js';
import { DataTree } from '../state/data-tree.js';
import { RequestPreparer } from '../state/request-preparer.js';
import { encodeTxn } from '../state/txn-codec.js';
import { OPEN_ACL_UNSAFE } from '../state/stat.js';
import type { Txn } from '../state/txn.js';
import { ReplicaHistory } from './history-view.js';

function prepared(tree: DataTree, count: number, epoch = 1): Txn[] {
  const preparer = new RequestPreparer(tree);
  return Array.from({ length: count }, (_, i) => preparer.prepare(
    { op: 'create', path: `/n${epoch}-${i}`, data: Buffer.from([i]), acl: [...OPEN_ACL_UNSAFE],
      mode: 'persistent' },
    { sessionId: 0n, cxid: i, zxid: makeZxid(epoch, i + 1), time: 0n }));
}

function logged(txn: Txn): { zxid: Zxid; txn: Buffer } {
  return { zxid: txn.header.zxid, txn: encodeTxn(txn) };
}

test('answers lastZxidAtOrBefore and txnsAfter over the retained log; cut by truncate', () => {
  const tree = new DataTree();
  const history = new ReplicaHistory(() => tree, 0n);
  const txns = prepared(tree, 5);
  for (const txn of txns) history.append(logged(txn));
  assert.equal(history.lastZxidAtOrBefore(makeZxid(1, 3)), makeZxid(1, 3));
  assert.equal(history.lastZxidAtOrBefore(makeZxid(2, 0)), makeZxid(1, 5));
  assert.equal(history.lastZxidAtOrBefore(0n), 0n);
  assert.deepEqual(history.txnsAfter(makeZxid(1, 3), 10)?.map((t) => t.zxid),
    [makeZxid(1, 4), makeZxid(1, 5)]);
  assert.equal(history.txnsAfter(0n, 4), undefined, 'more than countMax');
  history.truncateAfter(makeZxid(1, 2));
  assert.equal(history.lastZxid, makeZxid(1, 2));
  assert.deepEqual(history.txnsAfter(makeZxid(1, 1), 10)?.map((t) => t.zxid), [makeZxid(1, 2)]);
  assert.deepEqual(history.between(0n, makeZxid(1, 1)).map((t) => t.zxid), [makeZxid(1, 1)]);
});

test('keeps unapplied txns past the limits; trims applied ones; nothing before the base', () => {
  const tree = new DataTree();
  const history = new ReplicaHistory(() => tree, 0n, { countMax: 2, bytesMax: 1 << 20 });
  const txns = prepared(tree, 5);
  for (const txn of txns) history.append(logged(txn));
  assert.equal(history.size, 5, 'nothing applied yet: nothing dropped');
  for (const txn of txns.slice(0, 4)) tree.apply(txn);
  history.trim();
  assert.equal(history.size, 2);
  assert.equal(history.lastZxidAtOrBefore(makeZxid(1, 2)), undefined);
  assert.equal(history.txnsAfter(makeZxid(1, 2), 10), undefined);
  assert.equal(history.lastZxidAtOrBefore(makeZxid(1, 3)), makeZxid(1, 3));
  assert.deepEqual(history.txnsAfter(makeZxid(1, 3), 10)?.map((t) => t.zxid),
    [makeZxid(1, 4), makeZxid(1, 5)]);
  history.reset(makeZxid(1, 9));
  assert.equal(history.lastZxid, makeZxid(1, 9));
  assert.deepEqual(history.txnsAfter(makeZxid(1, 9), 10), []);
});

test('snapshot() is the committed tree at its zxid and decodes to the same digest', () => {
  const tree = new DataTree();
  const history = new ReplicaHistory(() => tree, 0n);
  const txns = prepared(tree, 3);
  for (const txn of txns) history.append(logged(txn));
  tree.apply(txns[0]!);
  tree.apply(txns[1]!);
  const snapshot = history.snapshot();
  assert.equal(snapshot.zxid, makeZxid(1, 2));
  const copy = DataTree.fromSnapshot(snapshot.bytes);
  assert.equal(copy.lastZxid, makeZxid(1, 2));
  assert.equal(copy.digest(), tree.digest());
  assert.deepEqual(history.txnsAfter(snapshot.zxid, 10)?.map((t) => t.zxid), [makeZxid(1, 3)]);
});

test('long append/apply/trim/truncate runs keep exactly what an array model keeps', () => {
  const tree = new DataTree();
  const countMax = 300;
  const history = new ReplicaHistory(() => tree, 0n, { countMax, bytesMax: 1 << 20 });
  const txns = prepared(tree, 6000);
  // The rounds append about 4,200 of them, leaving a tail for the TRUNC at the end.
  let model: Zxid[] = [];
  let base = 0n;
  let next = 0;
  let applied = 0;
  for (let round = 0; round < 400 && next < txns.length; round++) {
    // Append 1..20 txns, apply all but the newest few, trim: the ensemble driver's rhythm.
    for (let i = 0; i <= round % 20 && next < txns.length; i++) {
      history.append(logged(txns[next]!));
      model.push(txns[next++]!.header.zxid);
    }
    for (; applied < next - (round % 3); applied++) tree.apply(txns[applied]!);
    history.trim();
    while (model.length > countMax && model[0]! <= tree.lastZxid) base = model.shift()!;
    assert.equal(history.size, model.length);
    assert.equal(history.lastZxid, model[model.length - 1] ?? base);
    assert.deepEqual(history.txnsAfter(base, 10_000)?.map((t) => t.zxid), model);
    if (base > 0n) {
      assert.equal(history.txnsAfter(base - 1n, 10_000), undefined, 'nothing before the base');
      assert.equal(history.lastZxidAtOrBefore(base - 1n), undefined);
    }
    assert.deepEqual(history.between(tree.lastZxid, model[model.length - 1] ?? base)
      .map((t) => t.zxid), model.filter((zxid) => zxid > tree.lastZxid));
    assert.equal(history.lastZxidAtOrBefore(base), base);
  }
  assert.ok(next > 3000, 'the run went well past the limit many times over');
  // TRUNC after compaction: unapplied txns past the cut go, the rest stays.
  const tail = txns.slice(next, next + 5);
  for (const txn of tail) history.append(logged(txn));
  model.push(...tail.map((txn) => txn.header.zxid));
  const cut = tail[1]!.header.zxid;
  history.truncateAfter(cut);
  model = model.filter((zxid) => zxid <= cut);
  assert.equal(history.lastZxid, cut);
  assert.deepEqual(history.txnsAfter(base, 10_000)?.map((t) => t.zxid), model);
});
