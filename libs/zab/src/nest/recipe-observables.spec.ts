/**
 * Goal: the RxJS wrappers of the recipes are cold streams with the recipes' semantics:
 * `treeCache$` emits the snapshot then ordered changes and nothing after unsubscribe,
 * `members$` and `counter$` emit the current value then each change, and every one errors
 * with `SessionExpiredError` when the session is lost.
 * Method: a real in-memory Replica; values are awaited with rxjs operators under
 * `withTimeout`; the lost session is a non-local session whose pings the test stops.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray, type Observable } from 'rxjs';
import { withTimeout } from '../testing/with-timeout.js';
import { SessionExpiredError } from '../state/keeper-error.js';
import { GroupMember } from '../recipes/group-member.js';
import { SharedCounter } from '../recipes/shared-counter.js';
import { recipeHarnesses } from '../recipes/recipe-harness.test-support.js';
import { counter$, members$, treeCache$ } from './recipe-observables.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

/** Resolves with the first `count` values, subscribing now. */
function firstValues<T>(source: Observable<T>, count: number, what: string): Promise<T[]> {
  return withTimeout(firstValueFrom(source.pipe(take(count), toArray())), WAIT_MS, what);
}

describe('recipe observables', () => {
  test('treeCache$: snapshot, then ordered changes; nothing after unsubscribing', async () => {
    const h = await harness();
    const [writer, reader] = await h.clientsOf(2);
    await writer!.create('/cfg', Buffer.from('v0'));
    const seen: string[] = [];
    let initialized!: () => void;
    let removed!: () => void;
    const ready = new Promise<void>((resolve) => {
      initialized = resolve;
    });
    const gone = new Promise<void>((resolve) => {
      removed = resolve;
    });
    const subscription = treeCache$(reader!, '/cfg').subscribe((event) => {
      seen.push(event.type === 'initialized' ? `initialized ${[...event.nodes.keys()].join(',')}` : `${event.type} ${event.node.path}`);
      if (event.type === 'initialized') initialized();
      if (event.type === 'removed') removed();
    });
    await withTimeout(ready, WAIT_MS, 'the snapshot');
    await writer!.create('/cfg/a', Buffer.from('1'));
    await writer!.setData('/cfg', Buffer.from('v1'));
    await writer!.delete('/cfg/a');
    await withTimeout(gone, WAIT_MS, 'the removal');
    subscription.unsubscribe();
    await writer!.create('/cfg/after', Buffer.alloc(0));
    await reader!.sync('/');
    assert.deepEqual(seen, ['initialized /cfg', 'added /cfg/a', 'updated /cfg', 'removed /cfg/a']);
  });

  test('members$ and counter$ emit the current value, then each change', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const memberReports = firstValues(members$(new GroupMember(b!, '/grp', 'watcher')), 2, 'two member reports');
    const counterReports = firstValues(counter$(new SharedCounter(b!, '/cnt')), 3, 'three counter values');
    await new GroupMember(a!, '/grp', 'alpha').register(Buffer.from('x'));
    const counter = new SharedCounter(a!, '/cnt');
    await counter.increment(5n);
    await counter.increment(-2n);
    assert.deepEqual((await memberReports).map((m) => [...m.keys()]), [[], ['alpha']]);
    assert.deepEqual((await counterReports).map((v) => v.value), [0n, 5n, 3n]);
  });

  test('every stream errors with SessionExpiredError when the session is lost', async () => {
    const h = await harness();
    const expiring = await h.expiringClient();
    const client = expiring.client;
    const errorOf = (source: Observable<unknown>): Promise<unknown> =>
      new Promise((resolve) => source.subscribe({ error: resolve }));
    const errors = [
      errorOf(treeCache$(client, '/x')),
      errorOf(members$(new GroupMember(client, '/g', 'me'))),
      errorOf(counter$(new SharedCounter(client, '/n'))),
    ];
    await withTimeout(new SharedCounter(client, '/n').get(), WAIT_MS, 'the counter node');
    await client.sync('/');
    expiring.letExpire();
    for (const error of await withTimeout(Promise.all(errors), WAIT_MS, 'three stream errors')) {
      assert.ok(error instanceof SessionExpiredError, String(error));
    }
  });
});
