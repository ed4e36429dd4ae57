/**
 * Goal: `Barrier` holds its waiters exactly while it is set and releases all of them on
 * removal; `DoubleBarrier` lets nobody past `enter` before `memberQty` members entered and
 * nobody past `leave` before every member left; waits time out, abort, and end on session
 * loss with typed errors, cleaning up their nodes.
 * Method: a real in-memory Replica, one session per member. "Not yet released" is checked
 * after an event proving the others are waiting (their nodes exist, observed) plus a
 * round trip through the replica; releases are awaited with `withTimeout`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { SessionExpiredError } from '../state/keeper-error.js';
import { Barrier } from './barrier.js';
import { DoubleBarrier } from './double-barrier.js';
import { RecipeStateError, RecipeTimeoutError } from './recipe-errors.js';
import { childCount, recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

/** Tracks whether a promise has settled, for "not yet" checks. */
function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const wrapped = promise.finally(() => {
    done = true;
  });
  wrapped.catch(() => undefined);
  return { promise: wrapped, settled: () => done };
}

describe('Barrier', () => {
  test('waiters block while the barrier is set and all go when it is removed', async () => {
    const h = await harness();
    const [owner, ...waiters] = await h.clientsOf(4);
    const barrier = new Barrier(owner!, '/jobs/barrier');
    await barrier.setBarrier();
    await barrier.setBarrier();
    assert.equal(await barrier.isSet(), true);
    const waits = waiters.map((client) => tracked(new Barrier(client, '/jobs/barrier').waitOnBarrier({ timeoutMs: WAIT_MS })));
    await Promise.all(waiters.map((client) => client.sync('/')));
    await owner!.setData('/jobs/barrier', Buffer.from('still set'));
    assert.equal(waits.some((w) => w.settled()), false, 'nobody passes a set barrier');
    await barrier.removeBarrier();
    await barrier.removeBarrier();
    await withTimeout(Promise.all(waits.map((w) => w.promise)), WAIT_MS, 'every waiter released');
    await new Barrier(waiters[0]!, '/jobs/barrier').waitOnBarrier();
  });

  test('a wait times out, aborts, or ends with the session, each with its typed error', async () => {
    const h = await harness();
    const owner = await h.client();
    await new Barrier(owner, '/b').setBarrier();
    await assert.rejects(new Barrier(owner, '/b').waitOnBarrier({ timeoutMs: 100 }), RecipeTimeoutError);
    const controller = new AbortController();
    const aborted = new Barrier(owner, '/b').waitOnBarrier({ signal: controller.signal });
    controller.abort(new Error('stop waiting'));
    await assert.rejects(aborted, /stop waiting/);
    const expiring = await h.expiringClient();
    const lost = new Barrier(expiring.client, '/b').waitOnBarrier();
    expiring.letExpire();
    await assert.rejects(withTimeout(lost, WAIT_MS, 'the lost session'), SessionExpiredError);
  });
});

describe('DoubleBarrier', () => {
  test('enter releases only when 3 of 3 entered; leave only when all 3 left', async () => {
    const h = await harness();
    const [a, b, c, watcher] = await h.clientsOf(4);
    const members = [a, b, c].map((client, i) => new DoubleBarrier(client!, '/db', 3, { memberId: `m${i}` }));
    const enterA = tracked(members[0]!.enter({ timeoutMs: WAIT_MS }));
    const enterB = tracked(members[1]!.enter({ timeoutMs: WAIT_MS }));
    await withTimeout(childCount(watcher!, '/db', 2), WAIT_MS, 'two members entered');
    await Promise.all([a!.sync('/'), b!.sync('/')]);
    assert.equal(enterA.settled() || enterB.settled(), false, 'two of three may not pass');
    await withTimeout(Promise.all([members[2]!.enter(), enterA.promise, enterB.promise]), WAIT_MS, 'all three entered');

    const leaveA = tracked(members[0]!.leave({ timeoutMs: WAIT_MS }));
    const leaveB = tracked(members[1]!.leave({ timeoutMs: WAIT_MS }));
    // m1 (not the lowest) deletes its node at once; m0 waits for the highest (m2).
    await withTimeout(childCount(watcher!, '/db', 3), WAIT_MS, 'm1 left its node (m0, m2, ready remain)');
    await Promise.all([a!.sync('/'), b!.sync('/')]);
    assert.equal(leaveA.settled() || leaveB.settled(), false, 'nobody passes leave while m2 is inside');
    await withTimeout(Promise.all([members[2]!.leave(), leaveA.promise, leaveB.promise]), WAIT_MS, 'all three left');
    assert.deepEqual((await watcher!.getChildren('/db')).children, [], 'members and ready node are gone');
  });

  test('entering twice is refused; a timed-out enter removes its member node', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const member = new DoubleBarrier(a!, '/db2', 2, { memberId: 'only' });
    await assert.rejects(member.enter({ timeoutMs: 100 }), RecipeTimeoutError);
    assert.deepEqual((await b!.getChildren('/db2')).children, []);
    const entering = member.enter({ timeoutMs: WAIT_MS });
    await withTimeout(childCount(b!, '/db2', 1), WAIT_MS, 'the member entered');
    await assert.rejects(new DoubleBarrier(a!, '/db2', 2, { memberId: 'only' }).enter(), RecipeStateError);
    await new DoubleBarrier(b!, '/db2', 2).enter({ timeoutMs: WAIT_MS });
    await withTimeout(entering, WAIT_MS, 'the first member released');
  });
});
