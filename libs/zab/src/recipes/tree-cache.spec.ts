/**
 * Goal: `TreeCache` gives an initial snapshot and then ordered changes that, replayed on a
 * model, always describe a valid tree (added only under a present parent, removed only when
 * childless, updates only move forward) and end equal to the real tree, also under rapid
 * pipelined changes; a delete + re-create is reported as removed + added; `maxDepth` limits
 * the cache; session loss ends it with `closed`/`lost`.
 * Method: a real in-memory Replica; a seeded PRNG drives 200 random creates/sets/deletes
 * in bursts sent without waiting (one session's FIFO keeps them in order), the first while
 * the cache is starting; a sentinel node marks the end; the model replay checks every
 * event's precondition and the final state is compared
 * with a fresh recursive read.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { Prng } from '../testing/sim/prng.js';
import type { LocalCoordinationClient } from '../node/local-client.js';
import { TreeCache, type CachedNode, type TreeCacheEvent } from './tree-cache.js';
import { recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

/** Replays cache events on a model, asserting each event's precondition. */
class TreeModel {
  readonly nodes = new Map<string, CachedNode>();
  private initialized = false;

  apply(event: TreeCacheEvent): void {
    assert.equal(event.type === 'initialized', !this.initialized, 'initialized comes first, once');
    switch (event.type) {
      case 'initialized':
        this.initialized = true;
        for (const [path, node] of event.nodes) this.nodes.set(path, node);
        return;
      case 'added':
        assert.equal(this.nodes.has(event.node.path), false, `added ${event.node.path} twice`);
        assert.ok(this.hasParent(event.node.path), `added ${event.node.path} without its parent`);
        this.nodes.set(event.node.path, event.node);
        return;
      case 'updated': {
        const before = this.nodes.get(event.node.path);
        assert.ok(before !== undefined, `updated absent ${event.node.path}`);
        assert.ok(event.node.stat.mzxid > before.stat.mzxid, 'updates move forward');
        this.nodes.set(event.node.path, event.node);
        return;
      }
      case 'removed':
        assert.ok(this.nodes.has(event.node.path), `removed absent ${event.node.path}`);
        assert.ok(![...this.nodes.keys()].some((p) => p.startsWith(`${event.node.path}/`)),
          `removed ${event.node.path} before its children`);
        this.nodes.delete(event.node.path);
        return;
      case 'closed':
        return;
    }
  }

  private hasParent(path: string): boolean {
    const parent = path.slice(0, path.lastIndexOf('/'));
    return this.nodes.size === 0 || this.nodes.has(parent);
  }
}

async function readTree(client: LocalCoordinationClient, path: string, out = new Map<string, string>()): Promise<Map<string, string>> {
  const { data } = await client.getData(path);
  out.set(path, data.toString());
  for (const child of (await client.getChildren(path)).children) await readTree(client, `${path}/${child}`, out);
  return out;
}

function contents(nodes: ReadonlyMap<string, CachedNode>): Map<string, string> {
  return new Map([...nodes].map(([path, node]) => [path, node.data.toString()]));
}

/** Resolves when an event matching `match` arrives. */
function eventOf(cache: TreeCache, match: (event: TreeCacheEvent) => boolean): Promise<TreeCacheEvent> {
  return new Promise((resolve) => {
    const stop = cache.subscribe((event) => {
      if (match(event)) {
        queueMicrotask(stop);
        resolve(event);
      }
    });
  });
}

describe('TreeCache', () => {
  test('200 rapid random changes: events replay to a valid tree equal to the real one', async () => {
    const h = await harness();
    const [writer, reader] = await h.clientsOf(2);
    await writer!.create('/tree', Buffer.from('root'));
    await writer!.create('/tree/a', Buffer.from('a0'));
    const errors: unknown[] = [];
    const cache = new TreeCache(reader!, '/tree', { onError: (error) => errors.push(error) });
    const model = new TreeModel();
    const counts = { initialized: 0, added: 0, updated: 0, removed: 0, closed: 0 };
    cache.subscribe((event) => {
      counts[event.type]++;
      model.apply(event);
    });
    // The cache starts while the first writes are in flight.
    const starting = cache.start();

    const random = new Prng(20261125);
    const present = ['/tree', '/tree/a'];
    let writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 200; i++) {
      // Bursts of 1 to 8 pipelined writes, so some changes coalesce and some do not.
      if (random.nextInt(5) === 0) {
        await withTimeout(Promise.all(writes), WAIT_MS, 'a burst of writes');
        writes = [];
      }
      const choice = random.nextInt(3);
      const target = present[random.nextInt(present.length)]!;
      if (choice === 0 && target.split('/').length < 5) {
        const path = `${target}/n${i}`;
        present.push(path);
        writes.push(writer!.create(path, Buffer.from(`c${i}`)));
      } else if (choice === 1 || target === '/tree' || present.some((p) => p.startsWith(`${target}/`))) {
        writes.push(writer!.setData(target, Buffer.from(`s${i}`)));
      } else {
        present.splice(present.indexOf(target), 1);
        writes.push(writer!.delete(target));
      }
    }
    await withTimeout(Promise.all(writes), WAIT_MS, 'the random writes');
    await withTimeout(starting, WAIT_MS, 'the cache start');
    const sentinel = eventOf(cache, (e) => e.type === 'added' && e.node.path === '/tree/done');
    await writer!.create('/tree/done', Buffer.from('end'));
    await withTimeout(sentinel, WAIT_MS, 'the sentinel in the cache');
    const real = await readTree(writer!, '/tree');
    assert.deepEqual(contents(model.nodes), real, 'the replayed events equal the real tree');
    assert.deepEqual(contents(cache.snapshot()), real, 'the cache equals the real tree');
    assert.deepEqual(errors, [], 'every event met its precondition in the model');
    assert.ok(counts.added > 10 && counts.updated > 5 && counts.removed > 5, JSON.stringify(counts));
    await cache.close();
  });

  test('delete + re-create is removed then added; updates carry the previous node', async () => {
    const h = await harness();
    const [writer, reader] = await h.clientsOf(2);
    await writer!.create('/r', Buffer.alloc(0));
    await writer!.create('/r/x', Buffer.from('first'));
    const cache = new TreeCache(reader!, '/r');
    const events: TreeCacheEvent[] = [];
    cache.subscribe((event) => events.push(event));
    await cache.start();
    const done = eventOf(cache, (e) => e.type === 'updated' && e.node.path === '/r');
    await Promise.all([
      writer!.delete('/r/x'),
      writer!.create('/r/x', Buffer.from('second')),
      writer!.setData('/r', Buffer.from('marker')),
    ]);
    await withTimeout(done, WAIT_MS, 'the marker update');
    const described = events.map((e) => (e.type === 'initialized' ? 'initialized'
      : e.type === 'closed' ? 'closed' : `${e.type} ${e.node.path} ${e.node.data.toString()}`));
    assert.deepEqual(described, ['initialized', 'removed /r/x first', 'added /r/x second', 'updated /r marker']);
    const update = events[3]!;
    assert.ok(update.type === 'updated' && update.previous.data.length === 0);
    await cache.close();
  });

  test('maxDepth limits the cache; session loss ends it with closed/lost', async () => {
    const h = await harness();
    const writer = await h.client();
    const expiring = await h.expiringClient();
    await writer.create('/d', Buffer.alloc(0));
    await writer.create('/d/child', Buffer.alloc(0));
    await writer.create('/d/child/grandchild', Buffer.alloc(0));
    const cache = new TreeCache(expiring.client, '/d', { maxDepth: 1 });
    await cache.start();
    assert.deepEqual([...cache.snapshot().keys()].sort(), ['/d', '/d/child']);
    const added = eventOf(cache, (e) => e.type === 'added');
    await writer.create('/d/child/other', Buffer.alloc(0));
    await writer.create('/d/second', Buffer.alloc(0));
    const first = await withTimeout(added, WAIT_MS, 'the depth-1 addition');
    assert.ok(first.type === 'added' && first.node.path === '/d/second');
    const closed = eventOf(cache, (e) => e.type === 'closed');
    expiring.letExpire();
    assert.deepEqual(await withTimeout(closed, WAIT_MS, 'the lost session'), { type: 'closed', reason: 'lost' });
  });
});
