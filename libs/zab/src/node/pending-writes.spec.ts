/**
 * Goal: the pending-write table finds a write by (session id, cxid) with no key string, refuses
 * a second write with the same pair, forgets a write once it is removed (settled), and yields
 * the unsettled writes in submit order (`oldest`, `list`) through thousands of random
 * add/remove rounds, its dead queue prefix compacted along the way.
 * Method: a seeded random sequence checked against a plain array model; no I/O.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingWrites, type PendingWriteEntry } from './pending-writes.js';

interface Write extends PendingWriteEntry {
  readonly seq: number;
}

function write(sessionId: bigint, cxid: number, seq: number): Write {
  return { sessionId, cxid, seq, settled: false };
}

test('a write is found by its session and cxid, once, until removed', () => {
  const table = new PendingWrites<Write>();
  const a = write(7n, 1, 0);
  assert.equal(table.add(a), true);
  assert.equal(table.add(write(7n, 1, 1)), false, 'same (session, cxid) refused');
  assert.equal(table.add(write(8n, 1, 2)), true, 'same cxid, other session');
  assert.equal(table.get(7n, 1), a);
  assert.equal(table.get(7n, 2), undefined);
  assert.equal(table.size, 2);
  assert.equal(table.remove(a), true);
  assert.equal(a.settled, true);
  assert.equal(table.remove(a), false, 'removed twice');
  assert.equal(table.get(7n, 1), undefined);
  assert.equal(table.size, 1);
  assert.equal(table.oldest()?.seq, 2);
});

test('oldest and list follow submit order through random adds and removes', () => {
  let seed = 12345;
  const random = (bound: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % bound;
  };
  const table = new PendingWrites<Write>();
  const model: Write[] = [];
  let seq = 0;
  for (let round = 0; round < 20_000; round++) {
    if (model.length === 0 || random(3) !== 0) {
      const w = write(BigInt(random(5)), seq, seq);
      seq++;
      assert.equal(table.add(w), true);
      model.push(w);
    } else {
      // Mostly the oldest (answers come in order), sometimes any one.
      const index = random(4) === 0 ? random(model.length) : 0;
      const [w] = model.splice(index, 1);
      assert.equal(table.remove(w!), true);
    }
    assert.equal(table.size, model.length);
    assert.equal(table.oldest(), model[0]);
    if (round % 997 === 0) {
      assert.deepEqual(table.list().map((w) => w.seq), model.map((w) => w.seq));
    }
  }
  for (const w of table.list()) assert.equal(table.remove(w), true);
  assert.equal(table.size, 0);
  assert.equal(table.oldest(), undefined);
});
