/**
 * Goal: five `apps/replica` processes form an ensemble that survives what a 5-ensemble must:
 * kill -9 of its leader and then of the next leader (two failures at once), a restart of
 * both killed replicas, SIGSTOP of the leader and its SIGCONT; after each step a leader
 * serves, no acknowledged write is lost, and every replica reaches the same last zxid and
 * digest.
 * Method: five child processes on temporary data directories, peers on OS-reserved loopback
 * ports, admin endpoints on port 0, a 100 ms Zab tick. The test process runs a sixth member
 * in-process as an observer (it cannot vote, so the voting ensemble is the five processes)
 * and writes through it all the time (a bounded writer of 4 sequential lanes: each write is
 * forwarded to whichever leader serves; it pauses while digests are compared); a write counts as
 * acknowledged when its create resolved. At the end the observer's tree holds every
 * acknowledged znode and all six replicas report the same digest, so each process holds
 * them too. Roles and digests of other processes have no event to wait on: the admin
 * endpoints are polled (bounded, 50 ms apart). Only children started here are signalled, by
 * pid, and killed in the after hook. The observer's log is shown when a wait times out; the
 * time of each phase is reported as a diagnostic.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import { ErrorCode } from '../libs/zab/src/state/error-code.js';
import { KeeperError } from '../libs/zab/src/state/keeper-error.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import {
  reserveLoopbackPorts,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';
import {
  killReplica, modesOf, pollAdmins, readyAdmin, ReplicaProcesses, stopReplica,
  type RunningReplica, type Srvr,
} from './fixtures/replica-process.js';

const SECRET = 'a-long-enough-shared-secret';
/**
 * Zab tick of every member: 50 ms (a silent leader is noticed after 10 ticks, 500 ms, a
 * stalled loop after 250 ms) keeps six members on a loaded 2-core CI machine from failing
 * over on their own between the failures this test makes.
 */
const ZAB_TICK_MS = 50;
const VOTERS = [1, 2, 3, 4, 5];
const OBSERVER_ID = 6;
/** The writer's bounds: at most this many writes, and it stops when told. */
const WRITES_MAX = 20_000;
/** Concurrent write lanes of the writer. */
const LANES = 4;

const processes = new ReplicaProcesses();
/** The observer's log, shown when a wait times out (what was it doing?). */
const observerLines: string[] = [];
const observerLogger = {
  log: (m: string) => observerLines.push(`${Math.round(performance.now())} ${m}`),
  warn: (m: string) => observerLines.push(`${Math.round(performance.now())} WARN ${m}`),
  error: (m: string) => observerLines.push(`${Math.round(performance.now())} ERROR ${m}`),
};
let observer: EnsembleReplica | undefined;
after(async () => {
  await observer?.close().catch(() => undefined);
  processes.cleanup();
});

/**
 * Writes /w/<lane>-0, /w/<lane>-1, ... in LANES concurrent lanes (each sequential, so the
 * log's group commit serves several writes per fsync: a disk slowed by the rest of the CI
 * run then delays writes less) until stopped; records which ones were acknowledged.
 */
class Writer {
  readonly acknowledged: string[] = [];
  failures = 0;
  private stopped = false;
  private readonly done: Promise<void>;
  private progress: (() => void) | undefined;
  /** While set, lanes wait on it before their next write (see `pause`). */
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private busyLanes = 0;
  private idle: (() => void) | undefined;

  constructor(private readonly client: LocalCoordinationClient) {
    this.done = Promise.all(Array.from({ length: LANES }, (_, lane) => this.run(lane)))
      .then(() => undefined);
  }

  private async run(lane: number): Promise<void> {
    for (let n = 0; n < WRITES_MAX / LANES && !this.stopped; n++) {
      if (this.gate !== undefined) await this.gate;
      if (this.stopped) return;
      const path = `/w/${lane}-${n}`;
      this.busyLanes++;
      try {
        await this.client.create(path, Buffer.from(String(n)));
        this.acknowledged.push(path);
        this.progress?.();
      } catch (error) {
        // Outcome unknown (ConnectionLoss while leaders change): it may or may not commit.
        if (!(error instanceof KeeperError)) throw error;
        this.failures++;
      } finally {
        this.busyLanes--;
        if (this.busyLanes === 0) this.idle?.();
      }
    }
  }

  /** Resolves once `count` more writes were acknowledged (a leader serves writes). */
  async more(count: number, what: string): Promise<void> {
    const target = this.acknowledged.length + count;
    const waitingFor = `${count} acknowledged writes ${what}`;
    await withTimeout(new Promise<void>((resolve) => {
      this.progress = () => {
        if (this.acknowledged.length >= target) resolve();
      };
    }), 20_000, waitingFor).catch((error: Error) => {
      throw new Error(`${error.message} (${this.acknowledged.length} acknowledged, ` +
        `${this.failures} failed so far); observer: ${observer?.describeState()}; its log:\n` +
        observerLines.slice(-30).join('\n'));
    });
    this.progress = undefined;
  }

  /** Resolves once the writes in flight are settled and none starts until `resume`. */
  async pause(): Promise<void> {
    this.gate = new Promise<void>((resolve) => (this.openGate = resolve));
    if (this.busyLanes === 0) return;
    const idle = new Promise<void>((resolve) => (this.idle = resolve));
    await withTimeout(idle, 20_000, 'the writer to pause');
    this.idle = undefined;
  }

  resume(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await withTimeout(this.done, 20_000, 'the writer to stop');
  }
}

interface Member {
  readonly id: number;
  readonly dataDir: string;
  app: RunningReplica;
  admin: string;
  alive: boolean;
}

function startMember(id: number, ensemble: string, dataDir: string): RunningReplica {
  return processes.start(['--id', String(id), '--ensemble', ensemble, '--data-dir', dataDir,
    '--admin-port', '0', '--tick-ms', '50', '--zab-tick-ms', String(ZAB_TICK_MS)],
  { ZAB_SECRET: SECRET });
}

function leaderOf(members: Member[], srvrs: Srvr[]): Member {
  return members[srvrs.findIndex((srvr) => srvr.server_state === 'leader')]!;
}

/**
 * Polls the live members until exactly one leads, the others follow it, and all of them are
 * established (a leader in discovery or sync may still fail and re-elect).
 */
async function oneLeader(members: Member[], what: string): Promise<Member> {
  const live = members.filter((m) => m.alive);
  const expected = ['leader', ...live.slice(1).map(() => 'follower')].sort().join(',');
  const srvrs = await pollAdmins(live.map((m) => m.admin), (all) => {
    if (modesOf(all) !== expected || !all.every((srvr) => srvr.established === true)) {
      return false;
    }
    const leaderId = all.find((srvr) => srvr.server_state === 'leader')!.server_id;
    return all.every((srvr) => srvr.leader_id === leaderId);
  }, what);
  return leaderOf(live, srvrs);
}

/** Polls until every live member reports the observer's last zxid and digest. */
async function converged(members: Member[], what: string): Promise<void> {
  const admins = members.filter((m) => m.alive).map((m) => m.admin);
  await pollAdmins(admins, (all) => {
    const status = observer!.status();
    const zxid = `0x${status.lastZxid.toString(16)}`;
    const digest = `0x${status.digest.toString(16)}`;
    return all.every((srvr) => srvr.last_zxid === zxid && srvr.digest === digest);
  }, what);
}

async function kill(member: Member): Promise<void> {
  await killReplica(member.app);
  member.alive = false;
}

test('five processes: kill -9 of two leaders in turn, restarts, SIGSTOP/SIGCONT lose nothing',
  async (t) => {
    const phases: string[] = [];
    let phaseStartMs = performance.now();
    const phase = (name: string): void => {
      const now = performance.now();
      phases.push(`${name} ${Math.round(now - phaseStartMs)} ms`);
      phaseStartMs = now;
    };
    const ports = await reserveLoopbackPorts(VOTERS.length + 1);
    const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}` +
      (i + 1 === OBSERVER_ID ? ':observer' : '')).join(',');
    const members: Member[] = VOTERS.map((id) => {
      const dataDir = processes.tempDir();
      return { id, dataDir, app: startMember(id, ensemble, dataDir), admin: '', alive: true };
    });
    observer = await EnsembleReplica.open({ id: OBSERVER_ID, ensemble, secret: SECRET,
      dataDir: processes.tempDir(), tickMs: 50, zabTickMs: ZAB_TICK_MS },
    { logger: observerLogger });
    const admins = await Promise.all(members.map((m) => readyAdmin(m.app)));
    members.forEach((m, i) => (m.admin = admins[i]!));
    const first = await oneLeader(members, 'one leader and four followers');
    const client = await LocalCoordinationClient.connect(observer, 1_000);
    await client.create('/w', Buffer.alloc(0));
    const writer = new Writer(client);
    await writer.more(20, 'at the start');
    phase('start');

    await kill(first);
    const second = await oneLeader(members, 'a new leader after kill -9 of the first');
    assert.notEqual(second.id, first.id);
    await writer.more(20, 'after the first leader died');
    phase('kill -9 leader');

    await kill(second);
    await oneLeader(members, 'a leader of three after kill -9 of the second');
    await writer.more(20, 'with two of five down');
    phase('kill -9 next leader');

    for (const member of [first, second]) {
      member.app = startMember(member.id, ensemble, member.dataDir);
    }
    for (const member of [first, second]) {
      member.admin = await readyAdmin(member.app);
      member.alive = true;
    }
    await oneLeader(members, 'five members after the restarts');
    await writer.more(20, 'after the restarts');
    await writer.pause();
    await converged(members, 'the restarted members at the same digest');
    writer.resume();
    phase('restarts');

    const leader = await oneLeader(members, 'the leader to freeze');
    leader.app.child.kill('SIGSTOP');
    leader.alive = false;
    try {
      const next = await oneLeader(members, 'a new leader while the old one is frozen');
      assert.notEqual(next.id, leader.id);
      await writer.more(20, 'while the old leader is frozen');
      phase('SIGSTOP');
    } finally {
      leader.app.child.kill('SIGCONT');
      leader.alive = true;
    }
    await oneLeader(members, 'five members after SIGCONT');
    await writer.more(20, 'after SIGCONT');
    await writer.stop();
    await converged(members, 'all five and the observer at the same digest');
    phase('SIGCONT');

    const missing = writer.acknowledged.filter((path) => observer!.tree.getData(path) === undefined);
    assert.deepEqual(missing, [], 'every acknowledged write is present');
    assert.ok(writer.acknowledged.length >= 120);
    t.diagnostic(`${writer.acknowledged.length} writes acknowledged, ${writer.failures} ` +
      'failed with an unknown outcome');
    t.diagnostic(`phases: ${phases.join(', ')}`);
    const stat = await client.exists('/w');
    assert.ok(stat !== null && stat.numChildren >= writer.acknowledged.length);
    await client.close().catch((error: unknown) => {
      if (!(error instanceof KeeperError) || error.code !== ErrorCode.ConnectionLoss) throw error;
    });
    for (const member of members) await stopReplica(member.app, 'SIGTERM');
  });
