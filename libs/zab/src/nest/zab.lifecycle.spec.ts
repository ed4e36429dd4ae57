/**
 * Goal: an app's shutdown survives a closeSession lost to a leader change: `ZabLifecycle`
 * resolves and still closes the replica when the session close fails with ConnectionLoss
 * (the ensemble expires the session later), while any other close failure still rejects.
 * Method: the lifecycle provider alone, with a stand-in client whose `close` rejects as told
 * and a stand-in replica that records `close`; no timers, no I/O.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '@nestjs/common';
import type { CoordinationClient } from '../node/coordination-client.js';
import type { Replica } from '../node/replica.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import { ZabLifecycle } from './zab.lifecycle.js';

function lifecycleWith(closeError: Error): { lifecycle: ZabLifecycle; replicaClosed: () => boolean } {
  let closed = false;
  const replica = { state: 'serving', close: async () => { closed = true; } } as unknown as Replica;
  const client = { close: () => Promise.reject(closeError) } as unknown as CoordinationClient;
  return { lifecycle: new ZabLifecycle(replica, client), replicaClosed: () => closed };
}

test('a closeSession lost to a leader change does not fail the shutdown; the replica closes', async (t) => {
  t.mock.method(Logger.prototype, 'warn', () => undefined);
  const { lifecycle, replicaClosed } = lifecycleWith(
    keeperError(ErrorCode.ConnectionLoss, undefined, 'leadership changed (leader: stepped down)'));
  await lifecycle.onApplicationShutdown();
  assert.equal(replicaClosed(), true);
});

test('any other failure to close the session still rejects, after closing the replica', async () => {
  const { lifecycle, replicaClosed } = lifecycleWith(keeperError(ErrorCode.SystemError, undefined, 'boom'));
  await assert.rejects(lifecycle.onApplicationShutdown(), /boom/);
  assert.equal(replicaClosed(), true);
});
