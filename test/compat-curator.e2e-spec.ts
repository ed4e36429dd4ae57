/**
 * Goal: Apache Curator 5.4 (Debian's libcurator-*-java, a ZooKeeper client nobody here
 * wrote) runs InterProcessMutex and LeaderLatch correctly against a 3-replica nestjs-zab
 * ensemble: six clients spread over the members never overlap under the mutex (while the same
 * section without it does), LeaderLatch has exactly one leader at a time and hands over on
 * close, and both keep their guarantees while a follower member is closed under clients whose
 * connect strings name two members each (so they can move to a live one).
 * Method: `ClientPortEnsemble` (client ports on 127.0.0.1:0); one JVM launch of
 * test/compat/CuratorRecipes.java (the JDK's single-file source launcher, classpath from the
 * jars Debian installed, whose manifests name their dependencies) prints one JSON line per
 * phase; when it prints {"phase":"kill"} this file closes the follower serving the most
 * client connections and answers "killed" on the program's stdin. Bounded by a timeout; the
 * JVM is killed by pid in `after` if still alive.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { ClientPortEnsemble, type ServedMember } from './fixtures/client-port-ensemble.js';
import { ForeignPrograms, SHARED_MACHINE_TIMING, type ProgramRun } from './compat/foreign-programs.js';

const JAVA = 'java';
const PROGRAM = fileURLToPath(new URL('../../test/compat/CuratorRecipes.java', import.meta.url));
// curator-recipes.jar's manifest Class-Path pulls in curator-framework/-client, zookeeper,
// zookeeper-jute, guava, netty and slf4j-api; slf4j-nop silences the logging binding warning.
const CLASSPATH = ['/usr/share/java/curator-recipes.jar', '/usr/share/java/slf4j-nop.jar'];
const RUN_MS = 120_000;

let ensemble: ClientPortEnsemble;
const programs = new ForeignPrograms();
let killedMember: { id: number; connections: number; role: string } | undefined;
let phases: Promise<{ run: ProgramRun; byPhase: Map<string, Record<string, unknown>> }> | undefined;

/** Closes the follower with the most client connections (so clients must fail over). */
async function closeBusiestFollower(): Promise<void> {
  const followers = ensemble.members
    .map((member, index) => ({ member, id: index + 1 }))
    .filter(({ member }) => member.replica.role === 'following');
  followers.sort((a, b) => b.member.server.connectionCount - a.member.server.connectionCount);
  const { member, id }: { member: ServedMember; id: number } = followers[0]!;
  killedMember = { id, connections: member.server.connectionCount, role: member.replica.role };
  await member.server.close();
  await member.replica.close();
}

/** One JVM run for the whole file; every test awaits it and checks its phase. */
function curator(): Promise<{ run: ProgramRun; byPhase: Map<string, Record<string, unknown>> }> {
  phases ??= (async () => {
    const onLine = (line: string, child: ChildProcess): void => {
      if (line.trim() !== '{"phase":"kill"}') return;
      void closeBusiestFollower().then(
        () => child.stdin!.write('killed\n'),
        (error: unknown) => child.stdin!.write(`failed ${String(error)}\n`),
      );
    };
    const run = await programs.run(JAVA, ['-cp', CLASSPATH.join(':'), PROGRAM, ensemble.connectString()], RUN_MS, onLine);
    const byPhase = new Map<string, Record<string, unknown>>();
    for (const line of run.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      byPhase.set(String(parsed.phase), parsed);
    }
    return { run, byPhase };
  })();
  return phases;
}

async function phase(t: TestContext, name: string): Promise<Record<string, unknown>> {
  const { byPhase, run } = await curator();
  const result = byPhase.get(name);
  t.diagnostic(`curator ${name}: ${JSON.stringify(result)}`);
  if (name === 'mutex' && run.stderr.trim() !== '') t.diagnostic(`curator stderr: ${run.stderr.trim().slice(0, 3000)}`);
  assert.ok(result !== undefined, `phase ${name} reported\n${run.stdout}\n${run.stderr}`);
  return result;
}

before(async () => {
  assert.ok(existsSync(PROGRAM), `${PROGRAM} exists`);
  for (const jar of CLASSPATH) assert.ok(existsSync(jar), `${jar} is installed (Debian libcurator-*-java; .ci/run installs it)`);
  ensemble = await ClientPortEnsemble.start(SHARED_MACHINE_TIMING);
});

after(async () => {
  programs.killAll();
  await ensemble?.close();
});

test('InterProcessMutex: six clients on three members never overlap; the section without it does', async (t) => {
  const mutex = await phase(t, 'mutex');
  assert.deepEqual(mutex.errors, []);
  assert.equal(mutex.entries, 6 * 15);
  assert.equal(mutex.overlaps, 0, 'no two mutex holders at once');
  assert.equal(mutex.finalValue, 6 * 15, 'no read-modify-write under the mutex lost an update');
  assert.equal(mutex.lockNodesAfter, 0, 'every lock node was deleted on release');
  const control = await phase(t, 'control');
  assert.deepEqual(control.errors, []);
  assert.ok(Number(control.overlaps) > 0, `the same section without the mutex overlaps (${String(control.entries)} entries)`);
});

test('LeaderLatch: exactly one leader at a time, every participant names it, hand-over on close', async (t) => {
  const latch = await phase(t, 'latch');
  assert.equal(latch.maxSimultaneousLeaders, 1);
  const handovers = latch.handovers as string[];
  assert.equal(handovers.length, 3);
  assert.equal(new Set(handovers).size, 3, 'each participant leads once, in turn');
  assert.deepEqual(latch.agreed, [true, true, true]);
});

test('a follower closed under contending clients: the mutex still excludes, clients fail over, the latch hands over', async (t) => {
  const mutex = await phase(t, 'failover-mutex');
  assert.equal(mutex.killed, true, 'the driver closed a follower mid-run');
  assert.ok(killedMember !== undefined && killedMember.connections > 0, 'the closed follower served clients');
  assert.deepEqual(mutex.errors, []);
  assert.equal(mutex.overlaps, 0, 'no two mutex holders at once, across the failover');
  assert.ok(Number(mutex.entriesAfterKill) > 0, 'clients kept acquiring the mutex after the follower closed');
  assert.ok(Number(mutex.suspended) > 0 && Number(mutex.reconnected) > 0, 'the closed follower\'s clients were suspended and reconnected');
  assert.equal(mutex.lost, 0, 'no session was lost');
  assert.equal(mutex.lockNodesAfter, 0);
  const latch = await phase(t, 'failover-latch');
  assert.equal(latch.maxSimultaneousLeaders, 1);
  assert.equal(new Set(latch.handovers as string[]).size, 3);
  assert.deepEqual(latch.agreed, [true, true, true]);
});
