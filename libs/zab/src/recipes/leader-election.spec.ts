/**
 * Goal: LeaderElection (LeaderLatch semantics) has at most one leader per group at every
 * change, hands leadership over on close() (the old leader stops before the node goes),
 * reports the leader's id to any session, throws NotLeaderError from assertLeader on
 * followers, ends leadership at once on a suspended connection under the default policy (and
 * keeps it under 'keep'), takes it back on reconnected when still at the head, and passes it
 * on when the leader's session expires.
 * Method: real standalone Replica over memory storage with several sessions; leadership is
 * checked inside the change callbacks (one event loop: an overlap is seen exactly when it
 * happens). Suspension is driven through a client whose connection state the test sets (the
 * embedded ensemble's own suspension is tested end to end in test/). Bounded event waits.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Replica } from '../node/replica.js';
import { LocalCoordinationClient } from '../node/local-client.js';
import { ConnectionStateTracker } from '../node/connection-state.js';
import type { CoordinationClient } from '../node/coordination-client.js';
import { withTimeout } from '../testing/with-timeout.js';
import { LeaderElection } from './leader-election.js';
import { NotLeaderError } from './lock-errors.js';

const open: Replica[] = [];
const elections: LeaderElection[] = [];

async function start(clients: number, options: { tickMs?: number } = {}):
  Promise<{ replica: Replica; sessions: LocalCoordinationClient[] }> {
  const replica = await Replica.open({ dataDir: ':memory:', ...options });
  open.push(replica);
  const sessions = await Promise.all(
    Array.from({ length: clients }, () => LocalCoordinationClient.connect(replica, 10_000)));
  return { replica, sessions };
}

function join(client: CoordinationClient, group: string, id: string,
  options: { suspendedPolicy?: 'lost' | 'keep' } = {}): LeaderElection {
  const election = new LeaderElection(client, group, { participantId: id, ...options });
  elections.push(election);
  return election;
}

afterEach(async () => {
  for (const election of elections.splice(0)) await election.close();
  for (const replica of open.splice(0)) await replica.close();
});

function becomes(election: LeaderElection, value: boolean): Promise<void> {
  if (election.isLeader === value) return Promise.resolve();
  return new Promise((resolve) => {
    const off = election.onLeadershipChange((now) => {
      if (now === value) {
        off();
        resolve();
      }
    });
  });
}

test('one leader at a time while leaders close one after another; followers learn its id', async () => {
  const { sessions } = await start(4);
  const participants = sessions.slice(0, 3).map((client, i) => join(client, 'jobs', `p${i}`));
  let overlaps = 0;
  const gains: string[] = [];
  for (const election of participants) {
    election.onLeadershipChange((leading) => {
      if (!leading) return;
      gains.push(election.participantId);
      if (participants.filter((p) => p.isLeader).length > 1) overlaps += 1;
    });
  }
  for (const election of participants) await election.start();
  const observer = sessions[3]!;
  const seen: Array<string | undefined> = [];
  const stop = await LeaderElection.watchLeader(observer, 'jobs', (id) => seen.push(id));
  for (let round = 0; round < 3; round += 1) {
    const leaders = participants.filter((p) => p.isLeader);
    assert.equal(leaders.length, 1, `round ${round}: one leader`);
    const leader = leaders[0]!;
    assert.equal(await new LeaderElection(observer, 'jobs').leader(), leader.participantId,
      'a non-participant reads the leader id');
    for (const follower of participants.filter((p) => p !== leader && !p.isLeader)) {
      assert.throws(() => follower.assertLeader(), NotLeaderError);
    }
    const signal = leader.signal!;
    const rest = participants.filter((p) => p !== leader);
    await leader.close();
    assert.ok(signal.aborted, 'the old term is aborted');
    participants.splice(participants.indexOf(leader), 1);
    if (rest.length > 0) await withTimeout(Promise.race(rest.map((p) => becomes(p, true))), 5000, 'next leader');
  }
  stop();
  assert.equal(overlaps, 0);
  assert.deepEqual(gains, ['p0', 'p1', 'p2'], 'leadership passes in queue order');
  assert.deepEqual(seen.slice(0, 3), ['p0', 'p1', 'p2']);
});

/** A client whose connection state the test drives (the rest is the real session). */
function suspendable(real: LocalCoordinationClient): { client: CoordinationClient; tracker: ConnectionStateTracker } {
  const tracker = new ConnectionStateTracker((call) => call());
  const client = new Proxy(real, {
    get(target, property) {
      if (property === 'connectionState') return tracker.state;
      if (property === 'onConnectionStateChange') return (l: Parameters<typeof tracker.subscribe>[0]) => tracker.subscribe(l);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as CoordinationClient;
  return { client, tracker };
}

test('suspended ends leadership at once (default policy); reconnected at the head takes it back', async () => {
  const { sessions: [a, b] } = await start(2);
  const { client, tracker } = suspendable(a!);
  const first = join(client, 'g', 'a');
  await first.start();
  const second = join(b!, 'g', 'b');
  await second.start();
  assert.equal(first.isLeader, true);
  const signal = first.signal!;
  tracker.suspended();
  assert.equal(first.isLeader, false, 'synchronously with the state change');
  assert.ok(signal.aborted && signal.reason instanceof NotLeaderError);
  assert.equal(second.isLeader, false, 'nobody else leads: the node is still at the head');
  tracker.reconnected();
  await withTimeout(becomes(first, true), 5000, 'leader again after reconnected');
  assert.equal(second.isLeader, false);
});

test("suspendedPolicy 'keep' keeps leadership until the connection is lost", async () => {
  const { sessions: [a] } = await start(1);
  const { client, tracker } = suspendable(a!);
  const election = join(client, 'keep', 'a', { suspendedPolicy: 'keep' });
  await election.start();
  assert.equal(election.isLeader, true);
  tracker.suspended();
  assert.equal(election.isLeader, true);
  tracker.lost();
  assert.equal(election.isLeader, false);
});

test("the leader's expired session passes leadership on and aborts its term", async () => {
  const { replica, sessions: [survivor] } = await start(1, { tickMs: 20 });
  const doomed = await LocalCoordinationClient.connect(replica, 300, { local: false });
  const old = join(doomed, 'expiry', 'old');
  await old.start();
  const next = join(survivor!, 'expiry', 'next');
  await next.start();
  assert.equal(old.isLeader, true);
  const signal = old.signal!;
  await withTimeout(becomes(next, true), 10_000, 'successor leads after expiry');
  assert.equal(old.isLeader, false);
  assert.ok(signal.aborted);
  assert.equal(await next.leader(), 'next');
});
