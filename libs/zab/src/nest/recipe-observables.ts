/**
 * Thin RxJS wrappers over the recipes' subscribe APIs (recipes/ has no rxjs). Each observable
 * is cold: subscribing starts the underlying subscription, unsubscribing ends it. A lost
 * session errors the stream with `SessionExpiredError`.
 */
import { Observable } from 'rxjs';
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import type { GroupMember, MemberMap } from '../recipes/group-member.js';
import type { SharedCounter, VersionedValue } from '../recipes/shared-counter.js';
import { TreeCache, type TreeCacheEvent, type TreeCacheOptions } from '../recipes/tree-cache.js';

/**
 * The tree cache of `path` as a stream: `initialized` (the snapshot), then `added` /
 * `updated` / `removed` in order. Completes on unsubscribe; errors when the session is lost.
 */
export function treeCache$(
  client: CoordinationClient,
  path: string,
  options: Omit<TreeCacheOptions, 'onError'> = {},
): Observable<Exclude<TreeCacheEvent, { type: 'closed' }>> {
  return new Observable((subscriber) => {
    const cache = new TreeCache(client, path, { ...options, onError: (error) => subscriber.error(error) });
    cache.subscribe((event) => {
      if (event.type !== 'closed') subscriber.next(event);
      else if (event.reason === 'lost') subscriber.error(keeperError(ErrorCode.SessionExpired, path, 'the session was lost'));
    });
    cache.start().catch((error: unknown) => subscriber.error(error));
    return () => {
      void cache.close();
    };
  });
}

/** The group's member map now and after every change; errors when the session is lost. */
export function members$(member: GroupMember): Observable<MemberMap> {
  return fromAsyncSubscribe<MemberMap>((next, error) => member.subscribe(next, error));
}

/** The counter's value now and after every change; errors when the session ends. */
export function counter$(counter: SharedCounter): Observable<VersionedValue> {
  return fromAsyncSubscribe<VersionedValue>((next, error) => counter.subscribe(next, error));
}

/** Adapts `subscribe(listener) → Promise<unsubscribe>` to a cold Observable. */
function fromAsyncSubscribe<T>(
  subscribe: (next: (value: T) => void, error: (error: unknown) => void) => Promise<() => unknown>,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let closed = false;
    let stop: (() => unknown) | undefined;
    subscribe((value) => subscriber.next(value), (error) => subscriber.error(error)).then(
      (unsubscribe) => {
        if (closed) void unsubscribe();
        else stop = unsubscribe;
      },
      (error: unknown) => subscriber.error(error),
    );
    return () => {
      closed = true;
      void stop?.();
    };
  });
}
