/**
 * Goal (issue 3 item 10): with the default `isolation: 'worker'`, app code that blocks the
 * main thread for 5 s does not stall the replica. The app instance's session survives (never
 * expired, its ephemeral never deleted), and the replica keeps doing its own work during the
 * block: an unrelated session without pings expires and a TTL node is swept *while* the main
 * thread is blocked. The same scenario with `isolation: 'main'` is the control: there, that
 * work can only happen after the block ends.
 * Method: a real Nest application (temp data directory, tickMs 100, app session timeout 400 ms,
 * sweep every 100 ms). A second, independent observer records every watch event under the
 * test's subtree with the wall time at which the replica applied it: inside the worker (a
 * recording watcher registered through the handle's test probe) or, for the control, on the
 * main-thread replica. After the block, the recorded times and zxids are compared with the
 * block's bounds, and the replica's own session list is read. The block is a deliberate busy
 * loop bounded with `Date.now()`; it is the feature under test, not a synchronisation.
 */
import 'reflect-metadata';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationService,
  LocalCoordinationClient,
  Replica,
  WorkerReplicaHandle,
  ZAB_CLIENT,
  ZAB_REPLICA,
  ZabModule,
  type CoordinationClient,
  type RecordedEvent,
  type ReplicaIsolation,
  type SessionId,
} from '../libs/zab/src/index.js';
import { deferred, withTimeout } from '../libs/zab/src/testing/with-timeout.js';

const BLOCK_MS = 5000;
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** What the scenario needs from either backend, observed from the replica's side. */
interface ReplicaSide {
  record(path: string): Promise<void>;
  recorded(): Promise<RecordedEvent[]>;
  sessionIds(): Promise<SessionId[]>;
  connectWithoutPings(timeoutMs: number): Promise<CoordinationClient>;
}

function replicaSide(backend: WorkerReplicaHandle | Replica): ReplicaSide {
  if (backend instanceof WorkerReplicaHandle) {
    return {
      record: (path) => backend.recordEvents(path),
      recorded: () => backend.recordedEvents(),
      sessionIds: () => backend.sessionIds(),
      connectWithoutPings: (timeoutMs) => backend.connect(timeoutMs, { local: false }),
    };
  }
  const events: RecordedEvent[] = [];
  return {
    record: async (path) =>
      backend.watches.add(path, 'persistentRecursive', { notify: (event) => events.push({ event, atMs: Date.now() }) }),
    recorded: async () => [...events],
    sessionIds: async () => backend.tree.sessions().map((s) => s.sessionId),
    connectWithoutPings: (timeoutMs) => LocalCoordinationClient.connect(backend, timeoutMs, { local: false }),
  };
}

interface Outcome {
  blockStart: number;
  blockEnd: number;
  recorded: RecordedEvent[];
  sessions: SessionId[];
  appSession: SessionId;
  leaseSession: SessionId;
  leaseState: string;
  memberStillThere: boolean;
  leaseCreatedZxid: bigint;
}

function busyBlock(ms: number): { blockStart: number; blockEnd: number } {
  const blockStart = Date.now();
  let spins = 0;
  while (Date.now() - blockStart < ms) spins += 1;
  assert.ok(spins > 0);
  return { blockStart, blockEnd: Date.now() };
}

async function runScenario(isolation: ReplicaIsolation): Promise<Outcome> {
  const dataDir = mkdtempSync(join(tmpdir(), `zab-isolation-${isolation}-`));
  dirs.push(dataDir);
  const moduleRef: TestingModule = await Test.createTestingModule({
    imports: [
      ZabModule.forRoot({ dataDir, isolation, tickMs: 100, sessionTimeoutMs: 400, containerCheckIntervalMs: 100 }),
    ],
  }).compile();
  await moduleRef.init();
  try {
    const zk = moduleRef.get(CoordinationService);
    const side = replicaSide(moduleRef.get<WorkerReplicaHandle | Replica>(ZAB_REPLICA));
    await zk.create('/isolation');
    await side.record('/isolation');
    const member = await zk.create('/isolation/member-', 'me', { mode: 'ephemeral_sequential' });
    const client = moduleRef.get<CoordinationClient>(ZAB_CLIENT);
    // 1 s for the unpinged session and the TTL: well inside the 5 s block, well after its start.
    const lease = await side.connectWithoutPings(1000);
    const leaseEnded = deferred<string>();
    lease.onSessionEnd((state) => leaseEnded.resolve(state));
    const ttlDeleted = deferred<void>();
    const [leaseNode] = await Promise.all([
      lease.create('/isolation/lease', Buffer.from('lease'), { mode: 'ephemeral' }),
      zk.create('/isolation/ttl', 'short-lived', { mode: 'ttl', ttlMs: 1000 }),
      // Same session as the create above, so FIFO puts this watch after it.
      client.exists('/isolation/ttl', () => ttlDeleted.resolve()),
    ]);
    const { blockStart, blockEnd } = busyBlock(BLOCK_MS);
    // After the block: wait for the two pieces of replica work to be reported (already done
    // with a worker; about to happen on the main thread), then read when they happened.
    await withTimeout(leaseEnded.promise, 5000, 'the unpinged session to end');
    await withTimeout(ttlDeleted.promise, 5000, 'the TTL node to be swept');
    const recorded = await side.recorded();
    const sessions = await side.sessionIds();
    const memberStillThere = (await zk.exists(member)) !== null;
    await zk.create('/isolation/after-block', 'ok');
    return {
      blockStart, blockEnd, recorded, sessions, memberStillThere,
      appSession: zk.sessionId as SessionId,
      leaseSession: lease.sessionId,
      leaseState: lease.state,
      leaseCreatedZxid: leaseNode.stat.czxid,
    };
  } finally {
    await moduleRef.close();
  }
}

function deletion(outcome: Outcome, path: string): RecordedEvent | undefined {
  return outcome.recorded.find((r) => r.event.type === 'deleted' && r.event.path === path);
}

function describeOutcome(outcome: Outcome): string {
  const times = outcome.recorded.map((r) => `${r.event.type} ${r.event.path} zxid 0x${r.event.zxid.toString(16)} ` +
    `at block+${r.atMs - outcome.blockStart} ms`);
  return `block ${outcome.blockEnd - outcome.blockStart} ms; events: ${times.join('; ')}`;
}

test('worker isolation: a 5 s main-thread block neither expires the app session nor stalls the replica', async (t) => {
  const outcome = await runScenario('worker');
  t.diagnostic(describeOutcome(outcome));
  assert.ok(outcome.blockEnd - outcome.blockStart >= BLOCK_MS);
  // The app's session was never expired: the replica still holds it, its ephemeral was never
  // deleted (no such event was ever recorded), and it still reads and writes.
  assert.ok(outcome.sessions.includes(outcome.appSession), 'app session still open in the replica');
  assert.ok(outcome.memberStillThere);
  assert.equal(outcome.recorded.filter((r) => r.event.path.startsWith('/isolation/member-') && r.event.type === 'deleted').length, 0);
  // The replica worked during the block: the unrelated session expired and the TTL node was
  // swept while the main thread was still spinning.
  const leaseGone = deletion(outcome, '/isolation/lease');
  const ttlGone = deletion(outcome, '/isolation/ttl');
  assert.ok(leaseGone !== undefined && ttlGone !== undefined, describeOutcome(outcome));
  assert.ok(leaseGone.atMs > outcome.blockStart && leaseGone.atMs < outcome.blockEnd, 'lease expired during the block');
  assert.ok(ttlGone.atMs > outcome.blockStart && ttlGone.atMs < outcome.blockEnd, 'TTL node swept during the block');
  assert.ok(leaseGone.event.zxid > outcome.leaseCreatedZxid);
  assert.ok(!outcome.sessions.includes(outcome.leaseSession), 'the unpinged session is gone');
  assert.equal(outcome.leaseState, 'expired');
});

test('control, isolation main: the same replica work waits until the block ends', async (t) => {
  const outcome = await runScenario('main');
  t.diagnostic(describeOutcome(outcome));
  assert.ok(outcome.sessions.includes(outcome.appSession));
  assert.ok(outcome.memberStillThere);
  const leaseGone = deletion(outcome, '/isolation/lease');
  const ttlGone = deletion(outcome, '/isolation/ttl');
  assert.ok(leaseGone !== undefined && ttlGone !== undefined, describeOutcome(outcome));
  assert.ok(leaseGone.atMs >= outcome.blockEnd, 'on the main thread the expiry had to wait for the block');
  assert.ok(ttlGone.atMs >= outcome.blockEnd);
});
