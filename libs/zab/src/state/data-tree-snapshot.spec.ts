/**
 * Goal: snapshots are exact, not fuzzy. A cursor opened at zxid Z yields the tree at Z even
 * while `apply` keeps changing, deleting and creating nodes between its chunks (copy-on-write),
 * the body loads back into an equal tree with the same digest, and bad bodies raise typed
 * errors, never anything else.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataTree, type SnapshotCursor } from './data-tree.js';
import {
  commandArbitrary,
  dumpModel,
  dumpTree,
  ModelTree,
  toTxn,
  type Command,
} from './data-tree-model.spec.js';
import { SnapshotDecodeError, SnapshotDigestMismatchError } from './snapshot-error.js';

function drain(cursor: SnapshotCursor, chunkBytes: number): Buffer {
  const chunks: Buffer[] = [];
  for (let chunk = cursor.next(chunkBytes); chunk !== null; chunk = cursor.next(chunkBytes)) {
    assert.ok(chunk.length > 0 && chunk.length <= chunkBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Applies commands to a tree and its model; returns the next zxid. */
function run(tree: DataTree, model: ModelTree, commands: Command[], zxid: bigint): bigint {
  let next = zxid;
  for (const command of commands) {
    const txn = toTxn(model, command, next++);
    tree.apply(txn);
    model.apply(txn);
  }
  return next;
}

describe('DataTree snapshot round trip', () => {
  test('fromSnapshot of the concatenated chunks equals the tree (property)', () => {
    fc.assert(
      fc.property(
        fc.array(commandArbitrary, { maxLength: 100, size: 'max' }),
        fc.integer({ min: 1, max: 300 }),
        (commands, chunkBytes) => {
          const tree = new DataTree({ slabBytes: 256 });
          run(tree, new ModelTree(), commands, 1n);
          const cursor = tree.beginSnapshot();
          assert.equal(cursor.zxid, tree.lastZxid);
          const loaded = DataTree.fromSnapshot(drain(cursor, chunkBytes), { slabBytes: 512 });
          loaded.checkInvariants();
          assert.deepEqual(dumpTree(loaded), dumpTree(tree));
          assert.equal(loaded.nodeCount, tree.nodeCount);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('an empty tree round-trips; next after the end returns null; close is idempotent', () => {
    const tree = new DataTree();
    const cursor = tree.beginSnapshot();
    const body = drain(cursor, 1 << 20);
    assert.equal(cursor.next(10), null);
    cursor.close();
    cursor.close();
    assert.deepEqual(dumpTree(DataTree.fromSnapshot(body)), dumpTree(tree));
  });
});

describe('DataTree snapshot while writes continue', () => {
  test('the loaded snapshot equals the tree at the cursor zxid (property)', () => {
    fc.assert(
      fc.property(
        fc.array(commandArbitrary, { maxLength: 80, size: 'max' }),
        fc.array(fc.tuple(commandArbitrary, fc.integer({ min: 0, max: 2 })), {
          maxLength: 100,
          size: 'max',
        }),
        fc.integer({ min: 1, max: 200 }),
        (before, during, chunkBytes) => {
          const tree = new DataTree({ slabBytes: 128 });
          const model = new ModelTree();
          let zxid = run(tree, model, before, 1n);
          const expected = dumpTree(tree);
          const cursor = tree.beginSnapshot();
          const chunks: Buffer[] = [];
          let finished = false;
          for (const [command, reads] of during) {
            for (let k = 0; k < reads && !finished; k++) {
              const chunk = cursor.next(chunkBytes);
              if (chunk === null) finished = true;
              else chunks.push(chunk);
            }
            zxid = run(tree, model, [command], zxid);
            tree.checkInvariants();
          }
          if (!finished) chunks.push(drain(cursor, chunkBytes));
          const loaded = DataTree.fromSnapshot(Buffer.concat(chunks));
          loaded.checkInvariants();
          assert.deepEqual(dumpTree(loaded), expected);
          assert.deepEqual(dumpTree(tree), dumpModel(model));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('two overlapping cursors each see their own zxid; ids are reused after they close', () => {
    const tree = new DataTree({ slabBytes: 128 });
    const model = new ModelTree();
    const commands = fc.sample(commandArbitrary, { numRuns: 80, seed: 42 });
    let zxid = run(tree, model, commands.slice(0, 30), 1n);
    const first = tree.beginSnapshot();
    const firstExpected = dumpTree(tree);
    const firstChunks = [first.next(50)!];
    zxid = run(tree, model, commands.slice(30, 50), zxid);
    const second = tree.beginSnapshot();
    const secondExpected = dumpTree(tree);
    const secondChunks = [second.next(70)!];
    zxid = run(tree, model, commands.slice(50), zxid);
    firstChunks.push(drain(first, 33));
    secondChunks.push(drain(second, 1000));
    assert.deepEqual(dumpTree(DataTree.fromSnapshot(Buffer.concat(firstChunks))), firstExpected);
    assert.deepEqual(dumpTree(DataTree.fromSnapshot(Buffer.concat(secondChunks))), secondExpected);
    tree.checkInvariants();
    assert.deepEqual(dumpTree(tree), dumpModel(model));
  });

  test('a closed cursor stops saving pre-images and returns null', () => {
    const tree = new DataTree();
    const cursor = tree.beginSnapshot();
    cursor.close();
    assert.equal(cursor.next(10), null);
    tree.apply({
      header: { sessionId: 1n, cxid: 0, zxid: 1n, time: 0n },
      body: { type: 'createSession', timeoutMs: 5 },
    });
    tree.checkInvariants();
  });
});

describe('DataTree.fromSnapshot on bad input', () => {
  function sampleBody(): { tree: DataTree; body: Buffer } {
    const tree = new DataTree();
    run(tree, new ModelTree(), fc.sample(commandArbitrary, { numRuns: 25, seed: 7 }), 1n);
    return { tree, body: drain(tree.beginSnapshot(), 1 << 20) };
  }

  test('every truncation raises SnapshotDecodeError', () => {
    const { body } = sampleBody();
    for (let length = 0; length < body.length; length++) {
      assert.throws(
        () => DataTree.fromSnapshot(body.subarray(0, length)),
        SnapshotDecodeError,
        `at ${length}`,
      );
    }
    assert.throws(
      () => DataTree.fromSnapshot(Buffer.concat([body, Buffer.from([0])])),
      SnapshotDecodeError,
    );
  });

  test('any byte flip raises a typed error or decodes to the same tree', () => {
    const { tree, body } = sampleBody();
    const original = dumpTree(tree);
    for (let offset = 0; offset < body.length; offset++) {
      const corrupt = Buffer.from(body);
      corrupt[offset] ^= 0x41;
      try {
        assert.deepEqual(dumpTree(DataTree.fromSnapshot(corrupt)), original);
      } catch (error) {
        assert.ok(error instanceof SnapshotDecodeError, `offset ${offset}: ${String(error)}`);
      }
    }
  });

  test('a changed data byte is caught by the digest', () => {
    const tree = new DataTree();
    tree.apply({
      header: { sessionId: 1n, cxid: 0, zxid: 1n, time: 0n },
      body: {
        type: 'create',
        path: '/a',
        data: Buffer.from('payload!'),
        acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
        kind: 'persistent',
        ephemeralOwner: 0n,
        ttlMs: 0,
        parentCVersion: 2,
      },
    });
    const body = drain(tree.beginSnapshot(), 4096);
    const at = body.indexOf('payload!');
    body[at] = 0x50 ^ 1;
    assert.throws(() => DataTree.fromSnapshot(body), SnapshotDigestMismatchError);
  });
});
