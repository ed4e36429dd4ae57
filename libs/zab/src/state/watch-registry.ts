/**
 * Per-replica watch registry (ZooKeeper's server-side `WatchManager` pair in `DataTree`,
 * with the 3.9 semantics of ZOOKEEPER-4466/4472: one watcher may hold several modes on the
 * same path, and each mode can be removed on its own). Watches are not replicated: each
 * replica maps the watch events its tree produces onto the watchers of its own sessions.
 *
 * Two tables, as in ZooKeeper:
 * - the data table holds one-shot data/exists watches, persistent watches and persistent
 *   recursive watches; it is triggered by created, deleted and dataChanged;
 * - the child table holds one-shot child watches and persistent watches; it is triggered by
 *   childrenChanged and deleted.
 * A persistent watch lives in both tables, so it sees every event of its path; a recursive
 * watch lives only in the data table, so it never sees childrenChanged, and it also fires
 * for events on every descendant (found by walking the event path's ancestors, only while
 * some recursive watch exists). One-shot modes are removed when they fire. A watcher gets
 * each event at most once even when several of its watches match (ZooKeeper's suppression
 * set for NodeDeleted).
 *
 * Output order is deterministic: watchers on the event path in the order they first
 * registered there, then recursive watchers of ancestors from the nearest to the root; for
 * deleted, the data table before the child table.
 */
import { assertNever } from '../util/assert.js';
import type { WatchEvent } from './watch-event.js';

/** How a watch was set: getData (`data`), exists, getChildren (`child`), or addWatch. */
export type WatchKind = 'data' | 'exists' | 'child' | 'persistent' | 'persistentRecursive';

/** ZooKeeper's `WatcherType` for removeWatches / checkWatches. */
export type WatcherType = 'children' | 'data' | 'any' | 'persistent' | 'persistentRecursive';

/** ZooKeeper's `WatcherMode` as bits, so one (path, watcher) entry can hold several. */
const STANDARD = 1;
const PERSISTENT = 2;
const PERSISTENT_RECURSIVE = 4;
const ALL_MODES = STANDARD | PERSISTENT | PERSISTENT_RECURSIVE;

export interface TriggeredWatch<W> {
  watcher: W;
  event: WatchEvent;
}

/** Counts for the `wchs` four-letter command and metrics. */
export interface WatchSummary {
  /** Watchers (sessions) holding at least one watch. */
  watcherCount: number;
  pathsWatched: number;
  watchCount: number;
}

const NOTHING_TRIGGERED: ReadonlyArray<never> = Object.freeze([]);

/** One of ZooKeeper's two `WatchManager`s: path -> watcher -> mode bits, and the reverse. */
class WatchTable<W> {
  private readonly byPath = new Map<string, Map<W, number>>();
  private readonly byWatcher = new Map<W, Set<string>>();
  private recursiveCount = 0;
  /** Number of (path, watcher) entries, ZooKeeper's `WatchManager.size()`. */
  size = 0;

  add(path: string, watcher: W, mode: number): void {
    let watchers = this.byPath.get(path);
    if (watchers === undefined) {
      watchers = new Map();
      this.byPath.set(path, watchers);
    }
    const old = watchers.get(watcher) ?? 0;
    if (old === 0) {
      this.size++;
      let paths = this.byWatcher.get(watcher);
      if (paths === undefined) {
        paths = new Set();
        this.byWatcher.set(watcher, paths);
      }
      paths.add(path);
    }
    this.setModes(path, watchers, watcher, old, old | mode);
  }

  /** True if the watcher holds any of `modes` on exactly `path`. */
  has(path: string, watcher: W, modes: number): boolean {
    return ((this.byPath.get(path)?.get(watcher) ?? 0) & modes) !== 0;
  }

  /** Removes `modes` of the watcher on `path`; true if it held any of them. */
  remove(path: string, watcher: W, modes: number): boolean {
    const watchers = this.byPath.get(path);
    const old = watchers?.get(watcher) ?? 0;
    if (watchers === undefined || (old & modes) === 0) return false;
    this.setModes(path, watchers, watcher, old, old & ~modes);
    return true;
  }

  removeWatcher(watcher: W): void {
    const paths = this.byWatcher.get(watcher);
    if (paths === undefined) return;
    for (const path of [...paths]) this.remove(path, watcher, ALL_MODES);
  }

  /**
   * Adds to `out` every watcher this event reaches in this table: any watch on the path
   * itself (one-shot modes are consumed), and recursive watches on its ancestors.
   */
  /** Whether an event at `path` can reach any watcher of this table (cheap, no allocation). */
  mayFire(path: string): boolean {
    return this.recursiveCount > 0 || this.byPath.has(path);
  }

  trigger(path: string, out: Set<W>): void {
    const watchers = this.byPath.get(path);
    if (watchers !== undefined) {
      for (const [watcher, modes] of [...watchers]) {
        out.add(watcher);
        if ((modes & STANDARD) === 0) continue;
        this.setModes(path, watchers, watcher, modes, modes & ~STANDARD);
      }
    }
    if (this.recursiveCount === 0 || path === '/') return;
    for (let end = path.lastIndexOf('/'); end >= 0; end = path.lastIndexOf('/', end - 1)) {
      const ancestor = end === 0 ? '/' : path.slice(0, end);
      const candidates = this.byPath.get(ancestor);
      if (candidates !== undefined) {
        for (const [watcher, modes] of candidates) {
          if ((modes & PERSISTENT_RECURSIVE) !== 0) out.add(watcher);
        }
      }
      if (end === 0) break;
    }
  }

  pathsOf(watcher: W): ReadonlySet<string> {
    return this.byWatcher.get(watcher) ?? new Set();
  }

  paths(): IterableIterator<string> {
    return this.byPath.keys();
  }

  watchersOf(path: string): W[] {
    return [...(this.byPath.get(path)?.keys() ?? [])];
  }

  watchers(): IterableIterator<W> {
    return this.byWatcher.keys();
  }

  /** Single place that changes an entry's modes, keeping both maps and counters exact. */
  private setModes(
    path: string, watchers: Map<W, number>, watcher: W, old: number, next: number,
  ): void {
    const wasRecursive = (old & PERSISTENT_RECURSIVE) !== 0;
    const isRecursive = (next & PERSISTENT_RECURSIVE) !== 0;
    this.recursiveCount += Number(isRecursive) - Number(wasRecursive);
    if (next !== 0) {
      watchers.set(watcher, next);
      return;
    }
    watchers.delete(watcher);
    if (watchers.size === 0) this.byPath.delete(path);
    const paths = this.byWatcher.get(watcher);
    paths?.delete(path);
    if (paths?.size === 0) this.byWatcher.delete(watcher);
    if (old !== 0) this.size--;
  }
}

export class WatchRegistry<W> {
  private readonly dataWatches = new WatchTable<W>();
  private readonly childWatches = new WatchTable<W>();

  /** Registers a watch (ZooKeeper's `DataTree.getData/statNode/getChildren/addWatch`). */
  add(path: string, kind: WatchKind, watcher: W): void {
    switch (kind) {
      case 'data':
      case 'exists':
        this.dataWatches.add(path, watcher, STANDARD);
        return;
      case 'child':
        this.childWatches.add(path, watcher, STANDARD);
        return;
      case 'persistent':
        this.dataWatches.add(path, watcher, PERSISTENT);
        this.childWatches.add(path, watcher, PERSISTENT);
        return;
      case 'persistentRecursive':
        this.dataWatches.add(path, watcher, PERSISTENT_RECURSIVE);
        return;
      default:
        assertNever(kind, 'watch kind');
    }
  }

  /** ZooKeeper's `removeWatches` on the server; false means NoWatcher. */
  remove(path: string, type: WatcherType, watcher: W): boolean {
    switch (type) {
      case 'children':
        return this.childWatches.remove(path, watcher, STANDARD);
      case 'data':
        return this.dataWatches.remove(path, watcher, STANDARD);
      case 'persistent': {
        const fromChildren = this.childWatches.remove(path, watcher, PERSISTENT);
        const fromData = this.dataWatches.remove(path, watcher, PERSISTENT);
        return fromChildren || fromData;
      }
      case 'persistentRecursive':
        return this.dataWatches.remove(path, watcher, PERSISTENT_RECURSIVE);
      case 'any': {
        const fromChildren = this.childWatches.remove(path, watcher, ALL_MODES);
        const fromData = this.dataWatches.remove(path, watcher, ALL_MODES);
        return fromChildren || fromData;
      }
      default:
        return assertNever(type, 'watcher type');
    }
  }

  /** ZooKeeper's `checkWatches` (`DataTree.containsWatcher`); false means NoWatcher. */
  has(path: string, type: WatcherType, watcher: W): boolean {
    switch (type) {
      case 'children':
        return this.childWatches.has(path, watcher, STANDARD);
      case 'data':
        return this.dataWatches.has(path, watcher, STANDARD);
      case 'persistent':
        return this.dataWatches.has(path, watcher, PERSISTENT);
      case 'persistentRecursive':
        return this.dataWatches.has(path, watcher, PERSISTENT_RECURSIVE);
      case 'any':
        return this.childWatches.has(path, watcher, ALL_MODES) ||
          this.dataWatches.has(path, watcher, ALL_MODES);
      default:
        return assertNever(type, 'watcher type');
    }
  }

  /** Drops every watch of the watcher (its session closed or its connection went away). */
  removeWatcher(watcher: W): void {
    this.dataWatches.removeWatcher(watcher);
    this.childWatches.removeWatcher(watcher);
  }

  /** The deliveries one tree event causes; one-shot watches that fired are removed. */
  trigger(event: WatchEvent): ReadonlyArray<TriggeredWatch<W>> {
    // Most writes reach no watcher: answer them without building a set and an array.
    if (!this.dataWatches.mayFire(event.path) && !this.childWatches.mayFire(event.path)) {
      return NOTHING_TRIGGERED;
    }
    const reached = new Set<W>();
    switch (event.type) {
      case 'created':
      case 'dataChanged':
        this.dataWatches.trigger(event.path, reached);
        break;
      case 'deleted':
        this.dataWatches.trigger(event.path, reached);
        this.childWatches.trigger(event.path, reached);
        break;
      case 'childrenChanged':
        this.childWatches.trigger(event.path, reached);
        break;
      default:
        assertNever(event.type, 'watch event type');
    }
    return [...reached].map((watcher) => ({ watcher, event }));
  }

  /** (path, watcher) entries over both tables, ZooKeeper's `DataTree.getWatchCount()`. */
  get watchCount(): number {
    return this.dataWatches.size + this.childWatches.size;
  }

  /** Distinct paths with at least one watch. */
  get pathsWatched(): number {
    const paths = new Set(this.dataWatches.paths());
    for (const path of this.childWatches.paths()) paths.add(path);
    return paths.size;
  }

  /** Sorted paths the watcher watches (`wchc`). */
  watchesOf(watcher: W): string[] {
    const paths = new Set(this.dataWatches.pathsOf(watcher));
    for (const path of this.childWatches.pathsOf(watcher)) paths.add(path);
    return [...paths].sort();
  }

  /** Watchers with any watch on exactly `path` (`wchp`), in registration order. */
  watchersOf(path: string): W[] {
    const watchers = new Set(this.dataWatches.watchersOf(path));
    for (const watcher of this.childWatches.watchersOf(path)) watchers.add(watcher);
    return [...watchers];
  }

  /** Counts for `wchs`. */
  summary(): WatchSummary {
    const watchers = new Set(this.dataWatches.watchers());
    for (const watcher of this.childWatches.watchers()) watchers.add(watcher);
    return {
      watcherCount: watchers.size,
      pathsWatched: this.pathsWatched,
      watchCount: this.watchCount,
    };
  }
}
