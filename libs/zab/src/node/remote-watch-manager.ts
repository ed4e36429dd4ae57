/**
 * The remote client's watches, in ZooKeeper's client model (ZKWatchManager): the server holds
 * at most one watch per (connection, path, kind) and sends one notification per change; the
 * client keeps the listeners per path and kind and decides who hears each event:
 * - created / dataChanged: the path's data and exist listeners (one-shot, removed);
 * - childrenChanged: the path's child listeners (one-shot, removed);
 * - deleted: data, exist and child listeners (one-shot, removed);
 * - every type: the path's persistent listeners; every type but childrenChanged: the
 *   persistent-recursive listeners of the path and of each of its ancestors (they stay).
 * A listener registered under several kinds hears an event once. Paths here are the
 * application's (chroot stripped); the client converts at the wire.
 */
import type { WatchEvent } from '../state/watch-event.js';
import type { WatchListener } from './coordination-client.js';

export type OneShotKind = 'data' | 'exist' | 'child';
export type PersistentKind = 'persistent' | 'persistentRecursive';
export type RemoteWatchKind = OneShotKind | PersistentKind;

/** What `SetWatches2` re-registers after a reconnect (application paths). */
export interface WatchedPaths {
  data: string[];
  exist: string[];
  child: string[];
  persistent: string[];
  persistentRecursive: string[];
}

export class RemoteWatchManager {
  private readonly byKind: Record<RemoteWatchKind, Map<string, Set<WatchListener>>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
    persistent: new Map(),
    persistentRecursive: new Map(),
  };

  add(kind: RemoteWatchKind, path: string, listener: WatchListener): void {
    const byPath = this.byKind[kind];
    let listeners = byPath.get(path);
    if (listeners === undefined) {
      listeners = new Set();
      byPath.set(path, listeners);
    }
    listeners.add(listener);
  }

  has(kind: RemoteWatchKind, path: string, listener: WatchListener): boolean {
    return this.byKind[kind].get(path)?.has(listener) ?? false;
  }

  /** Removes `listener` from `kind` at `path`; true if it was there. */
  remove(kind: RemoteWatchKind, path: string, listener: WatchListener): boolean {
    const listeners = this.byKind[kind].get(path);
    if (listeners === undefined || !listeners.delete(listener)) return false;
    if (listeners.size === 0) this.byKind[kind].delete(path);
    return true;
  }

  /** True while any listener holds `kind` at `path` (the server's watch is still wanted). */
  watched(kind: RemoteWatchKind, path: string): boolean {
    return this.byKind[kind].has(path);
  }

  /** True while any listener holds any watch at `path`. */
  watchedAny(path: string): boolean {
    return Object.values(this.byKind).some((byPath) => byPath.has(path));
  }

  /** The listeners that hear `event`, each once; one-shot registrations it fires are dropped. */
  materialize(event: WatchEvent): Set<WatchListener> {
    const result = new Set<WatchListener>();
    const take = (kind: OneShotKind): void => {
      for (const listener of this.byKind[kind].get(event.path) ?? []) result.add(listener);
      this.byKind[kind].delete(event.path);
    };
    switch (event.type) {
      case 'created':
      case 'dataChanged':
        take('data');
        take('exist');
        break;
      case 'childrenChanged':
        take('child');
        break;
      case 'deleted':
        take('data');
        take('exist');
        take('child');
        break;
    }
    for (const listener of this.byKind.persistent.get(event.path) ?? []) result.add(listener);
    if (event.type !== 'childrenChanged') {
      for (const path of selfAndAncestors(event.path)) {
        for (const listener of this.byKind.persistentRecursive.get(path) ?? []) result.add(listener);
      }
    }
    return result;
  }

  paths(): WatchedPaths {
    const keys = (kind: RemoteWatchKind): string[] => [...this.byKind[kind].keys()];
    return {
      data: keys('data'),
      exist: keys('exist'),
      child: keys('child'),
      persistent: keys('persistent'),
      persistentRecursive: keys('persistentRecursive'),
    };
  }

  get isEmpty(): boolean {
    return Object.values(this.byKind).every((byPath) => byPath.size === 0);
  }

  clear(): void {
    for (const byPath of Object.values(this.byKind)) byPath.clear();
  }
}

function selfAndAncestors(path: string): string[] {
  const result = [path];
  for (let end = path.lastIndexOf('/'); end > 0; end = path.lastIndexOf('/', end - 1)) {
    result.push(path.slice(0, end));
  }
  if (path !== '/') result.push('/');
  return result;
}
