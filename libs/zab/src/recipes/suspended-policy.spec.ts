/**
 * Goal: the holders' suspended policy works as documented: under `'lost'` (the default) a
 * suspended connection aborts a held lease's and a member's signal at once (ownership is
 * doubtful); under `'keep'` they stay held through suspended and reconnected; waiters are
 * not failed by a suspension (only by session loss).
 * Method: a real in-memory Replica and a proxy client whose connection state the test sets
 * (a standalone replica never suspends by itself); the recipes see it only through the
 * `CoordinationClient` interface.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionState, CoordinationClient } from '../node/coordination-client.js';
import { ConnectionLossError } from '../state/keeper-error.js';
import { withTimeout } from '../testing/with-timeout.js';
import { GroupMember } from './group-member.js';
import { ReadWriteLock } from './read-write-lock.js';
import { Semaphore } from './semaphore.js';
import { childCount, recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

/** `client` whose connection state the test drives with `set`. */
function controlled(client: CoordinationClient): { client: CoordinationClient; set: (state: ConnectionState) => void } {
  let state: ConnectionState = 'connected';
  const listeners = new Set<(state: ConnectionState) => void>();
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property === 'connectionState') return state;
      if (property === 'onConnectionStateChange') {
        return (listener: (s: ConnectionState) => void) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    client: proxy,
    set: (next) => {
      state = next;
      for (const listener of [...listeners]) listener(next);
    },
  };
}

describe('suspended policy', () => {
  test('default \'lost\': a suspension aborts held leases and memberships at once', async () => {
    const h = await harness();
    const { client, set } = controlled(await h.client());
    const lease = await new Semaphore(client, '/s', 2).acquire();
    const write = await new ReadWriteLock(client, '/l').writeLock.acquire();
    const member = new GroupMember(client, '/g', 'me');
    await member.register();
    set('suspended');
    for (const signal of [lease.signal, write.signal, member.registration!]) {
      assert.equal(signal.aborted, true);
      assert.ok(signal.reason instanceof ConnectionLossError);
    }
    assert.equal(lease.isHeld, false);
    assert.equal(member.isRegistered, false);
    set('reconnected');
    await lease.release();
    await write.release();
    assert.deepEqual(await new Semaphore(client, '/s', 2).participantNodes(), [], 'release after loss still deletes');
  });

  test('\'wait\': leases stay held through suspended and reconnected; waiters keep waiting', async () => {
    const h = await harness();
    const other = await h.client();
    const { client, set } = controlled(await h.client());
    const lease = await new Semaphore(client, '/w', 1, { suspendedPolicy: 'keep' }).acquire();
    const waiting = new Semaphore(client, '/w', 1).acquire({ timeoutMs: WAIT_MS });
    await withTimeout(childCount(other, '/w', 2), WAIT_MS, 'the waiter queued');
    set('suspended');
    set('reconnected');
    assert.equal(lease.signal.aborted, false);
    assert.equal(lease.isHeld, true);
    await lease.release();
    const next = await withTimeout(waiting, WAIT_MS, 'the waiter, not failed by the suspension');
    await next.release();
  });
});
