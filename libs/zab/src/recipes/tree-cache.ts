/**
 * A local cache of a subtree kept current by one persistent recursive watch (Curator's
 * CuratorCache / TreeCache, ZooKeeper 3.6 `addWatch`). Subscribers get the state as one
 * `initialized` snapshot, then ordered changes: `added`, `updated`, `removed`, each with the
 * node's data and stat (for `removed`, the last cached ones).
 *
 * How it stays consistent under rapid changes: the watch is registered before the first
 * read, so no change can fall between; every event only names a path to re-read, and events
 * are handled one at a time in arrival order. A re-read returns the node's state at or after
 * the event (a session sees an event before the data it changed), so the cache only moves
 * forward. Changes may coalesce (a node created and deleted between two reads produces no
 * event), but the cache never misses a final state, and a node deleted and re-created is
 * reported as `removed` then `added` (compared by `czxid`, not by version).
 * Invariants a subscriber can rely on: `added` only for an absent path whose parent is
 * present; `updated`/`removed` only for a present path; `removed` only for a childless one
 * (a subtree is removed deepest first).
 *
 * A node's cached `stat` is as of its last data change or creation: the recursive watch does
 * not report child changes, so `numChildren`/`cversion` may be older. Ends with a `closed`
 * event, reason `'closed'` on `close()` or `'lost'` when the session is lost (a new session
 * needs a new cache, as for Curator after LOST).
 */
import type { CoordinationClient, WatchListener } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import type { WatchEvent } from '../state/watch-event.js';
import { checkRecipePath, isKeeperCode, joinPath, parentOf } from './recipe-support.js';

export interface CachedNode {
  path: string;
  data: Buffer;
  stat: Stat;
}

export type TreeCacheEvent =
  | { type: 'initialized'; nodes: ReadonlyMap<string, CachedNode> }
  | { type: 'added'; node: CachedNode }
  | { type: 'updated'; node: CachedNode; previous: CachedNode }
  | { type: 'removed'; node: CachedNode }
  | { type: 'closed'; reason: 'closed' | 'lost' };

export interface TreeCacheOptions {
  /** Deepest level cached below the root (root = 0); default unlimited. */
  maxDepth?: number;
  /** Called with errors of the cache itself (a failed re-read) and of listeners. */
  onError?: (error: unknown) => void;
}

type CacheState = 'latent' | 'started' | 'closed';

export class TreeCache {
  private readonly nodes = new Map<string, CachedNode>();
  private readonly listeners = new Set<(event: TreeCacheEvent) => void>();
  private readonly maxDepth: number;
  private readonly onError: (error: unknown) => void;
  private readonly rootDepth: number;
  private state: CacheState = 'latent';
  private initialized = false;
  private work: Promise<void> = Promise.resolve();
  private unsubscribeConnection: () => void = () => undefined;
  private readonly watchListener: WatchListener = (event) => this.enqueue(event);

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    options: TreeCacheOptions = {},
  ) {
    checkRecipePath(path, 'cache');
    this.maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
    if (!(this.maxDepth >= 0)) throw keeperError(ErrorCode.BadArguments, path, 'maxDepth must be >= 0');
    this.onError = options.onError ?? (() => undefined);
    this.rootDepth = depthOf(path);
  }

  /** Registers the watch, loads the snapshot and reports `initialized`. */
  async start(): Promise<void> {
    if (this.state !== 'latent') throw keeperError(ErrorCode.BadArguments, this.path, 'a tree cache starts once');
    this.state = 'started';
    this.unsubscribeConnection = this.client.onConnectionStateChange((state) => {
      if (state === 'lost') this.finish('lost');
    });
    // Events that arrive while the snapshot loads queue behind it, so `initialized` comes
    // first and each later event is applied to the loaded state.
    let snapshotLoaded!: () => void;
    this.work = new Promise<void>((resolve) => {
      snapshotLoaded = resolve;
    });
    try {
      await this.client.addWatch(this.path, 'persistentRecursive', this.watchListener);
      await this.loadInitial();
    } catch (error) {
      this.finish('closed');
      throw error;
    } finally {
      snapshotLoaded();
    }
  }

  /** Subscribes; a subscriber that comes after the snapshot first gets it as `initialized`. */
  subscribe(listener: (event: TreeCacheEvent) => void): () => void {
    if (this.initialized && this.state === 'started') this.call(listener, { type: 'initialized', nodes: new Map(this.nodes) });
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(path: string): CachedNode | undefined {
    return this.nodes.get(path);
  }

  /** A copy of the cached nodes by path. */
  snapshot(): Map<string, CachedNode> {
    return new Map(this.nodes);
  }

  /** Resolves once every event received so far has been applied. */
  settled(): Promise<void> {
    return this.work;
  }

  async close(): Promise<void> {
    if (this.state !== 'started') {
      this.state = 'closed';
      return;
    }
    this.finish('closed');
    if (this.client.state !== 'connected') return;
    await this.client.removeWatches(this.path, this.watchListener, 'persistentRecursive').catch(() => undefined);
  }

  private finish(reason: 'closed' | 'lost'): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.unsubscribeConnection();
    this.emit({ type: 'closed', reason });
    this.listeners.clear();
  }

  private enqueue(event: WatchEvent): void {
    if (this.state !== 'started') return;
    this.work = this.work.then(() => this.refresh(event.path)).catch((error: unknown) => {
      if (this.state === 'started') this.onError(error);
    });
  }

  private async loadInitial(): Promise<void> {
    const root = await this.read(this.path);
    if (root !== null) {
      this.nodes.set(this.path, root);
      await this.loadChildren(this.path, false);
    }
    this.initialized = true;
    this.emit({ type: 'initialized', nodes: new Map(this.nodes) });
  }

  /** Adds the uncached children of `path` and their subtrees. */
  private async loadChildren(path: string, report: boolean): Promise<void> {
    if (depthOf(path) - this.rootDepth >= this.maxDepth) return;
    let children: string[];
    try {
      ({ children } = await this.client.getChildren(path));
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.NoNode)) return;
      throw error;
    }
    for (const name of children.sort()) {
      const childPath = joinPath(path, name);
      if (this.nodes.has(childPath) || !this.nodes.has(path)) continue;
      const child = await this.read(childPath);
      if (child === null) continue;
      this.add(child, report);
      await this.loadChildren(childPath, report);
    }
  }

  /** Brings one path up to date with a fresh read; see the file comment. */
  private async refresh(path: string): Promise<void> {
    if (this.state !== 'started' || depthOf(path) - this.rootDepth > this.maxDepth) return;
    const current = await this.read(path);
    if (this.state !== 'started') return;
    let cached = this.nodes.get(path);
    if (cached !== undefined && (current === null || current.stat.czxid !== cached.stat.czxid)) {
      this.removeSubtree(path);
      cached = undefined;
    }
    if (current === null) return;
    if (cached === undefined) {
      if (path !== this.path && !this.nodes.has(parentOf(path))) return;
      this.add(current, true);
      await this.loadChildren(path, true);
    } else if (current.stat.mzxid > cached.stat.mzxid) {
      this.nodes.set(path, current);
      this.emit({ type: 'updated', node: current, previous: cached });
    }
  }

  private add(node: CachedNode, report: boolean): void {
    this.nodes.set(node.path, node);
    if (report) this.emit({ type: 'added', node });
  }

  /** Removes `path` and its cached descendants, deepest first. */
  private removeSubtree(path: string): void {
    const prefix = path === '/' ? '/' : `${path}/`;
    const doomed = [...this.nodes.keys()].filter((p) => p === path || p.startsWith(prefix));
    doomed.sort((a, b) => depthOf(b) - depthOf(a) || (a < b ? -1 : 1));
    for (const p of doomed) {
      const node = this.nodes.get(p)!;
      this.nodes.delete(p);
      this.emit({ type: 'removed', node });
    }
  }

  private async read(path: string): Promise<CachedNode | null> {
    try {
      const { data, stat } = await this.client.getData(path);
      return { path, data, stat };
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.NoNode)) return null;
      throw error;
    }
  }

  private emit(event: TreeCacheEvent): void {
    for (const listener of [...this.listeners]) this.call(listener, event);
  }

  private call(listener: (event: TreeCacheEvent) => void, event: TreeCacheEvent): void {
    try {
      listener(event);
    } catch (error) {
      this.onError(error);
    }
  }
}

function depthOf(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}
