/**
 * Goal: the connection state tracker reports Curator's sequence — connected, suspended,
 * reconnected, lost — each change once, in order, with `lost` final, and keeps a throwing
 * listener from stopping the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionState } from './coordination-client.js';
import { ConnectionStateTracker } from './connection-state.js';

test('suspended → reconnected → suspended → lost, each reported once; lost is final', () => {
  const errors: unknown[] = [];
  const tracker = new ConnectionStateTracker((call) => {
    try { call(); } catch (error) { errors.push(error); }
  });
  const seen: ConnectionState[] = [];
  tracker.subscribe(() => { throw new Error('listener bug'); });
  tracker.subscribe((state) => seen.push(state));
  assert.equal(tracker.state, 'connected');
  tracker.reconnected(); // not suspended: nothing to report
  tracker.suspended();
  tracker.suspended();
  tracker.reconnected();
  tracker.reconnected();
  tracker.suspended();
  tracker.lost();
  tracker.suspended();
  tracker.reconnected();
  tracker.lost();
  assert.deepEqual(seen, ['suspended', 'reconnected', 'suspended', 'lost']);
  assert.equal(tracker.state, 'lost');
  assert.equal(errors.length, 4);
});

test('an unsubscribed listener hears nothing more', () => {
  const tracker = new ConnectionStateTracker((call) => call());
  const seen: ConnectionState[] = [];
  const unsubscribe = tracker.subscribe((state) => seen.push(state));
  tracker.suspended();
  unsubscribe();
  tracker.reconnected();
  assert.deepEqual(seen, ['suspended']);
});
