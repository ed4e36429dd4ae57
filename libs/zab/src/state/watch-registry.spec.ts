/**
 * Goal: the watch registry delivers exactly what ZooKeeper's server delivers: one-shot data,
 * exists and child watches, persistent and persistent-recursive watches, at most one event
 * per watcher, removeWatches/checkWatches by WatcherType with NoWatcher, and clean removal.
 * Method: tables per mode and event type, then a fast-check property against a naive model
 * that scans every registration on every event.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isWithin } from './path.js';
import type { WatchEvent, WatchEventType } from './watch-event.js';
import type { WatcherType, WatchKind } from './watch-registry.js';
import { WatchRegistry } from './watch-registry.js';

const event = (type: WatchEventType, path: string): WatchEvent => ({ type, path, zxid: 7n });

function fired(registry: WatchRegistry<string>, type: WatchEventType, path: string): string[] {
  return registry.trigger(event(type, path)).map((delivery) => delivery.watcher);
}

describe('which watches fire, and whether they stay', () => {
  // [kind set on /a, event type, event path, fires?, still there afterwards?]
  const table: Array<[WatchKind, WatchEventType, string, boolean, boolean]> = [
    ['data', 'created', '/a', true, false],
    ['data', 'dataChanged', '/a', true, false],
    ['data', 'deleted', '/a', true, false],
    ['data', 'childrenChanged', '/a', false, true],
    ['data', 'dataChanged', '/a/b', false, true],
    ['exists', 'created', '/a', true, false],
    ['exists', 'deleted', '/a', true, false],
    ['child', 'childrenChanged', '/a', true, false],
    ['child', 'deleted', '/a', true, false],
    ['child', 'created', '/a', false, true],
    ['child', 'dataChanged', '/a', false, true],
    ['persistent', 'created', '/a', true, true],
    ['persistent', 'dataChanged', '/a', true, true],
    ['persistent', 'childrenChanged', '/a', true, true],
    ['persistent', 'deleted', '/a', true, true],
    ['persistent', 'dataChanged', '/a/b', false, true],
    ['persistentRecursive', 'created', '/a', true, true],
    ['persistentRecursive', 'deleted', '/a', true, true],
    ['persistentRecursive', 'childrenChanged', '/a', false, true],
    ['persistentRecursive', 'created', '/a/b', true, true],
    ['persistentRecursive', 'dataChanged', '/a/b/c', true, true],
    ['persistentRecursive', 'deleted', '/a/b/c', true, true],
    ['persistentRecursive', 'childrenChanged', '/a/b', false, true],
    ['persistentRecursive', 'created', '/ab', false, true],
    ['persistentRecursive', 'created', '/', false, true],
  ];
  for (const [kind, type, path, fires, stays] of table) {
    test(`${kind} on /a, ${type} ${path}: ${fires ? 'fires' : 'silent'}, ${
      stays ? 'stays' : 'removed'}`, () => {
      const registry = new WatchRegistry<string>();
      registry.add('/a', kind, 'w');
      assert.deepEqual(fired(registry, type, path), fires ? ['w'] : []);
      assert.equal(registry.watchCount > 0, stays);
      assert.deepEqual(registry.watchesOf('w'), stays ? ['/a'] : []);
    });
  }

  test('a recursive watch on / sees the whole tree', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/', 'persistentRecursive', 'w');
    assert.deepEqual(fired(registry, 'created', '/x/y/z'), ['w']);
    assert.deepEqual(fired(registry, 'dataChanged', '/'), ['w']);
    assert.deepEqual(fired(registry, 'childrenChanged', '/'), []);
  });
});

describe('dedupe and ordering', () => {
  test('data and child watches on a deleted node give ONE NodeDeleted', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/a', 'data', 'w');
    registry.add('/a', 'child', 'w');
    registry.add('/a', 'persistent', 'w');
    registry.add('/', 'persistentRecursive', 'w');
    const deliveries = registry.trigger(event('deleted', '/a'));
    assert.deepEqual(deliveries, [{ watcher: 'w', event: event('deleted', '/a') }]);
    assert.equal(registry.has('/a', 'data', 'w'), false);
    assert.equal(registry.has('/a', 'children', 'w'), false);
    assert.equal(registry.has('/a', 'persistent', 'w'), true);
  });

  test('path watchers in registration order, then recursive ancestors nearest first', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/', 'persistentRecursive', 'root');
    registry.add('/a', 'persistentRecursive', 'parent');
    registry.add('/a/b', 'data', 'second');
    registry.add('/a/b', 'exists', 'first');
    registry.add('/a/b', 'persistent', 'second');
    registry.add('/a/b', 'child', 'child-only');
    assert.deepEqual(fired(registry, 'deleted', '/a/b'),
      ['second', 'first', 'parent', 'root', 'child-only']);
  });

  test('one-shot and persistent modes on the same path coexist (ZOOKEEPER-4466)', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/a', 'persistent', 'w');
    registry.add('/a', 'data', 'w');
    assert.deepEqual(fired(registry, 'dataChanged', '/a'), ['w']);
    assert.equal(registry.has('/a', 'data', 'w'), false, 'one-shot consumed');
    assert.equal(registry.has('/a', 'persistent', 'w'), true, 'persistent kept');
    registry.add('/a', 'data', 'w');
    assert.deepEqual(fired(registry, 'dataChanged', '/a'), ['w']);
  });
});

describe('removeWatches and checkWatches', () => {
  // [kinds set on /a by w, type removed, removed?, kinds left]
  const table: Array<[WatchKind[], WatcherType, boolean, WatcherType[]]> = [
    [['data'], 'data', true, []],
    [['exists'], 'data', true, []],
    [['data'], 'children', false, ['data']],
    [['child'], 'children', true, []],
    [['child'], 'data', false, ['children']],
    [['data', 'child'], 'any', true, []],
    [['persistent'], 'persistent', true, []],
    [['persistent'], 'data', false, ['persistent']],
    [['persistent'], 'any', true, []],
    [['persistentRecursive'], 'persistentRecursive', true, []],
    [['persistentRecursive'], 'persistent', false, ['persistentRecursive']],
    [['persistent', 'persistentRecursive'], 'persistentRecursive', true, ['persistent']],
    [['persistent', 'data'], 'persistent', true, ['data']],
    [[], 'any', false, []],
  ];
  const allTypes: WatcherType[] = ['children', 'data', 'persistent', 'persistentRecursive'];
  for (const [kinds, type, removed, left] of table) {
    test(`[${kinds.join(',')}] remove ${type}: ${removed ? 'removed' : 'NoWatcher'}`, () => {
      const registry = new WatchRegistry<string>();
      for (const kind of kinds) registry.add('/a', kind, 'w');
      assert.equal(registry.has('/a', type, 'w'), removed, 'checkWatches agrees');
      assert.equal(registry.remove('/a', type, 'w'), removed);
      assert.deepEqual(allTypes.filter((t) => registry.has('/a', t, 'w')), left);
      assert.equal(registry.has('/a', 'any', 'w'), left.length > 0);
    });
  }

  test('removal is per watcher and per path', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/a', 'data', 'w1');
    registry.add('/a', 'data', 'w2');
    registry.add('/b', 'data', 'w1');
    assert.equal(registry.remove('/a', 'data', 'w1'), true);
    assert.equal(registry.remove('/a', 'data', 'w1'), false, 'NoWatcher the second time');
    assert.deepEqual(fired(registry, 'dataChanged', '/a'), ['w2']);
    assert.deepEqual(fired(registry, 'dataChanged', '/b'), ['w1']);
  });

  test('a removed recursive watch no longer fires for descendants', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/a', 'persistentRecursive', 'w');
    assert.equal(registry.remove('/a', 'any', 'w'), true);
    assert.deepEqual(fired(registry, 'created', '/a/b'), []);
  });
});

describe('removeWatcher and counts', () => {
  test('removeWatcher drops every watch of the watcher only', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/a', 'data', 'gone');
    registry.add('/a', 'child', 'gone');
    registry.add('/b', 'persistent', 'gone');
    registry.add('/', 'persistentRecursive', 'gone');
    registry.add('/a', 'data', 'kept');
    assert.deepEqual(registry.watchesOf('gone'), ['/', '/a', '/b']);
    assert.deepEqual(registry.summary(), { watcherCount: 2, pathsWatched: 3, watchCount: 6 });
    registry.removeWatcher('gone');
    assert.deepEqual(registry.watchesOf('gone'), []);
    assert.deepEqual(registry.watchersOf('/a'), ['kept']);
    assert.deepEqual(registry.summary(), { watcherCount: 1, pathsWatched: 1, watchCount: 1 });
    assert.deepEqual(fired(registry, 'created', '/b/c'), []);
    registry.removeWatcher('never-seen');
  });

  test('counts follow ZooKeeper: a persistent watch is one entry in each table', () => {
    const registry = new WatchRegistry<string>();
    registry.add('/a', 'persistent', 'w');
    registry.add('/a', 'persistent', 'w');
    registry.add('/a', 'data', 'w');
    assert.equal(registry.watchCount, 2);
    assert.equal(registry.pathsWatched, 1);
  });
});

/** Naive model: a list of registrations; every event scans all of them. */
type Table = 'data' | 'child';
type Mode = 'standard' | 'persistent' | 'recursive';
interface Registration { table: Table; path: string; watcher: string; mode: Mode }

function registrationsFor(kind: WatchKind): Array<[Table, Mode]> {
  switch (kind) {
    case 'data':
    case 'exists':
      return [['data', 'standard']];
    case 'child':
      return [['child', 'standard']];
    case 'persistent':
      return [['data', 'persistent'], ['child', 'persistent']];
    case 'persistentRecursive':
      return [['data', 'recursive']];
  }
}

class NaiveWatches {
  entries: Registration[] = [];

  add(path: string, kind: WatchKind, watcher: string): void {
    for (const [table, mode] of registrationsFor(kind)) {
      if (!this.entries.some((e) => e.table === table && e.path === path &&
        e.watcher === watcher && e.mode === mode)) {
        this.entries.push({ table, path, watcher, mode });
      }
    }
  }

  private matching(path: string, type: WatcherType, watcher: string, forRemoval: boolean) {
    return this.entries.filter((e) => e.path === path && e.watcher === watcher && (
      type === 'any' ||
      (type === 'children' && e.table === 'child' && e.mode === 'standard') ||
      (type === 'data' && e.table === 'data' && e.mode === 'standard') ||
      (type === 'persistent' && e.mode === 'persistent' && (forRemoval || e.table === 'data')) ||
      (type === 'persistentRecursive' && e.mode === 'recursive')));
  }

  has(path: string, type: WatcherType, watcher: string): boolean {
    return this.matching(path, type, watcher, false).length > 0;
  }

  remove(path: string, type: WatcherType, watcher: string): boolean {
    const doomed = new Set(this.matching(path, type, watcher, true));
    this.entries = this.entries.filter((e) => !doomed.has(e));
    return doomed.size > 0;
  }

  trigger(type: WatchEventType, path: string): string[] {
    const tables: Table[] = type === 'deleted' ? ['data', 'child']
      : type === 'childrenChanged' ? ['child'] : ['data'];
    const reached = new Set<string>();
    for (const table of tables) {
      for (const e of this.entries.filter((entry) => entry.table === table)) {
        if (e.path === path) reached.add(e.watcher);
        else if (e.mode === 'recursive' && isWithin(path, e.path)) reached.add(e.watcher);
      }
      this.entries = this.entries.filter((e) =>
        !(e.table === table && e.path === path && e.mode === 'standard'));
    }
    return [...reached].sort();
  }
}

describe('matches a naive model (property)', () => {
  const paths = ['/', '/a', '/a/b', '/a/b/c', '/b', '/ab'];
  const watchers = ['w1', 'w2', 'w3'];
  const kinds: WatchKind[] = ['data', 'exists', 'child', 'persistent', 'persistentRecursive'];
  const types: WatcherType[] = ['children', 'data', 'any', 'persistent', 'persistentRecursive'];
  const events: WatchEventType[] = ['created', 'deleted', 'dataChanged', 'childrenChanged'];
  const path = fc.constantFrom(...paths);
  const watcher = fc.constantFrom(...watchers);
  const step = fc.oneof(
    { arbitrary: fc.tuple(fc.constant('add' as const), path, fc.constantFrom(...kinds), watcher),
      weight: 4 },
    { arbitrary: fc.tuple(fc.constant('remove' as const), path, fc.constantFrom(...types),
      watcher), weight: 1 },
    { arbitrary: fc.tuple(fc.constant('trigger' as const), path, fc.constantFrom(...events)),
      weight: 3 },
    { arbitrary: fc.tuple(fc.constant('removeWatcher' as const), watcher), weight: 1 },
  );

  test('deliveries, removals, checks and counts agree', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 60, size: 'max' }), (steps) => {
      const registry = new WatchRegistry<string>();
      const model = new NaiveWatches();
      for (const s of steps) {
        switch (s[0]) {
          case 'add':
            registry.add(s[1], s[2], s[3]);
            model.add(s[1], s[2], s[3]);
            break;
          case 'remove':
            assert.equal(registry.remove(s[1], s[2], s[3]), model.remove(s[1], s[2], s[3]));
            break;
          case 'trigger': {
            const got = fired(registry, s[2], s[1]);
            assert.equal(new Set(got).size, got.length, 'each watcher at most once');
            assert.deepEqual([...got].sort(), model.trigger(s[2], s[1]));
            break;
          }
          case 'removeWatcher':
            registry.removeWatcher(s[1]);
            model.entries = model.entries.filter((e) => e.watcher !== s[1]);
            break;
        }
        for (const p of paths) for (const w of watchers) for (const t of types) {
          assert.equal(registry.has(p, t, w), model.has(p, t, w), `has ${p} ${t} ${w}`);
        }
        const pairs = new Set(model.entries.map((e) => `${e.table} ${e.path} ${e.watcher}`));
        assert.equal(registry.watchCount, pairs.size);
        assert.equal(registry.pathsWatched, new Set(model.entries.map((e) => e.path)).size);
      }
    }), { numRuns: 300 });
  });
});
