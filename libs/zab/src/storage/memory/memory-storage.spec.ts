/**
 * Goal: the memory snapshot and epoch stores and openMemoryStorage keep the port contracts
 * (snapshots visible only after commit, newest loads, purge keeps K and returns the oldest
 * kept, bodies copied; epochs start at 0 and change when the set resolves).
 * Method: direct calls, checking results and buffer ownership.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStorage } from './open-memory-storage.js';

test('memory snapshots: commit publishes, newest loads, purge keeps K', async () => {
  const storage = openMemoryStorage();
  const snapshots = storage.snapshots;
  assert.equal(await snapshots.loadLatest(), null);
  for (const zxid of [1n, 2n, 3n]) {
    const writer = await snapshots.begin(zxid);
    const chunk = Buffer.from(`body-${zxid}`);
    await writer.write(chunk);
    chunk.fill(0); // the caller may reuse its chunk
    assert.ok(!(await snapshots.list()).some((info) => info.zxid === zxid), 'visible early');
    const info = await writer.commit();
    assert.deepEqual(info, { zxid, name: `memory:0x${zxid.toString(16)}` });
  }
  const pending = await snapshots.begin(4n);
  await pending.write(Buffer.from('never committed'));
  assert.equal((await snapshots.loadLatest())?.body.toString(), 'body-3');
  await pending.abort();
  assert.equal((await snapshots.purge(2))?.zxid, 2n);
  assert.deepEqual((await snapshots.list()).map((info) => info.zxid), [2n, 3n]);
  const loaded = await snapshots.loadLatest();
  loaded!.body.fill(0);
  assert.equal((await snapshots.loadLatest())?.body.toString(), 'body-3');
  await storage.close();
});

test('memory epochs start at 0 and change once set resolves', async () => {
  const { epochs } = openMemoryStorage();
  assert.equal(epochs.acceptedEpoch, 0);
  assert.equal(epochs.currentEpoch, 0);
  const setting = epochs.setAcceptedEpoch(3);
  assert.equal(epochs.acceptedEpoch, 0);
  await setting;
  assert.equal(epochs.acceptedEpoch, 3);
  await epochs.setCurrentEpoch(2);
  assert.equal(epochs.currentEpoch, 2);
});

test('memory storage close flushes the log', async () => {
  const storage = openMemoryStorage();
  storage.log.append(1n, Buffer.from('x'));
  assert.equal(storage.log.durableZxid, 0n);
  await storage.close();
  assert.equal(storage.log.durableZxid, 1n);
});

test('memory setEpochs replaces the whole record once it resolves', async () => {
  const { epochs } = openMemoryStorage();
  assert.equal(epochs.hasData, true);
  const setting = epochs.setEpochs({ acceptedEpoch: 4, currentEpoch: 3, hasData: false });
  assert.equal(epochs.acceptedEpoch, 0);
  await setting;
  assert.deepEqual([epochs.acceptedEpoch, epochs.currentEpoch, epochs.hasData], [4, 3, false]);
});
