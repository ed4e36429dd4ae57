/**
 * Goal: kazoo 2.8 (Debian's python3-kazoo, a ZooKeeper client nobody here wrote) runs its
 * Lock, Election, Counter and Barrier recipes correctly against a 3-replica nestjs-zab
 * ensemble, with its clients spread over the three members: no two lock holders overlap
 * (while the same critical section without the lock does overlap), exactly one leader at a
 * time with a hand-over when the leader's client stops, N×M concurrent increments sum
 * exactly, and barrier waiters are released only after the barrier is removed.
 * Method: `ClientPortEnsemble` (client ports on 127.0.0.1:0); test/compat/kazoo_recipes.py
 * runs one recipe per process under /usr/bin/python3 (bounded by a timeout, killed by pid in
 * `after`) and prints a JSON result that these tests assert on.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ClientPortEnsemble } from './fixtures/client-port-ensemble.js';
import { ForeignPrograms, SHARED_MACHINE_TIMING } from './compat/foreign-programs.js';

const PYTHON = '/usr/bin/python3';
// build/test/ -> the source tree's test/compat/ (the script is not compiled).
const SCRIPT = fileURLToPath(new URL('../../test/compat/kazoo_recipes.py', import.meta.url));
const RUN_MS = 60_000;

let ensemble: ClientPortEnsemble;
const programs = new ForeignPrograms();

/** Runs one recipe of the script against the three members; returns its JSON result. */
async function kazoo<T>(t: TestContext, recipe: string): Promise<T & { hosts: string[] }> {
  const hosts = ensemble.connectString();
  const run = await programs.run(PYTHON, [SCRIPT, recipe, hosts], RUN_MS);
  const result = ForeignPrograms.lastJson<T & { hosts: string[] }>(run);
  t.diagnostic(`kazoo ${recipe}: ${run.stdout.trim()}`);
  if (run.stderr.trim() !== '') t.diagnostic(`kazoo ${recipe} stderr: ${run.stderr.trim().slice(0, 2000)}`);
  assert.deepEqual(new Set(result.hosts), new Set(hosts.split(',')), 'clients on all three members');
  return result;
}

before(async () => {
  assert.ok(existsSync(SCRIPT), `${SCRIPT} exists`);
  const probe = await new ForeignPrograms().run(PYTHON, ['-c', 'import kazoo.version; print(kazoo.version.__version__)'], RUN_MS);
  assert.match(probe.stdout, /^2\./, 'python3-kazoo 2.x is installed (Debian package; .ci/run installs it)');
  ensemble = await ClientPortEnsemble.start(SHARED_MACHINE_TIMING);
});

after(async () => {
  programs.killAll();
  await ensemble?.close();
});

interface LockRun { entries: number; overlaps: number; finalValue: number; expected?: number; errors: string[] }

test('Lock: six clients never overlap in the critical section; without the lock they do', async (t) => {
  const result = await kazoo<{ locked: LockRun; control: LockRun; contendersAfter: string[] }>(t, 'lock');
  assert.deepEqual(result.locked.errors, []);
  assert.equal(result.locked.entries, result.locked.expected);
  assert.equal(result.locked.overlaps, 0, 'no two lock holders at once');
  assert.equal(result.locked.finalValue, result.locked.expected, 'no read-modify-write under the lock lost an update');
  assert.deepEqual(result.control.errors, []);
  assert.ok(result.control.overlaps > 0, `the same section without the lock overlaps (${result.control.entries} entries)`);
  assert.deepEqual(result.contendersAfter, [], 'every lock node was deleted on release');
});

test('Election: exactly one leader at a time; the leader\'s client stops and another member\'s client leads', async (t) => {
  const result = await kazoo<{
    elected: string[]; maxSimultaneousLeaders: number; contendersAtStart: string[]; handoverMs: number[];
  }>(t, 'election');
  assert.equal(result.maxSimultaneousLeaders, 1);
  assert.equal(result.elected.length, 3, 'each contender leads once, in turn');
  assert.equal(new Set(result.elected).size, 3);
  assert.deepEqual(result.contendersAtStart, ['contender-0', 'contender-1', 'contender-2']);
  assert.equal(result.handoverMs.length, 2);
});

test('Counter: six clients × 20 increments sum exactly', async (t) => {
  const result = await kazoo<{ value: number; expected: number; errors: string[] }>(t, 'counter');
  assert.deepEqual(result.errors, []);
  assert.equal(result.expected, 120);
  assert.equal(result.value, 120);
});

test('Barrier: waiters on every member hold while it stands and are released after remove', async (t) => {
  const result = await kazoo<{
    waiters: number; heldWhileStanding: boolean[]; outcomes: Array<{ released: boolean; beforeRemove: boolean }>;
  }>(t, 'barrier');
  assert.equal(result.waiters, 3);
  assert.deepEqual(result.heldWhileStanding, [true, true, true], 'a bounded wait times out while the barrier stands');
  assert.deepEqual(result.outcomes, Array.from({ length: 3 }, () => ({ released: true, beforeRemove: false })));
});
