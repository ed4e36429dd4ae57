/**
 * Goal: `apps/replica` works as an operator runs it: it takes its settings from flags and
 * ZAB_* variables, serves the admin endpoint on the port asked for (0: the OS picks one and
 * the app prints it), stops with exit code 0 on SIGTERM or SIGINT keeping its data, refuses
 * configuration mistakes with exit code 2 and readable messages (no stack trace), and three
 * processes form an ensemble that survives kill -9 and SIGSTOP/SIGCONT of its leader.
 * Method: the compiled app (build/apps/replica, run against the library compiled beside it
 * through the source-package resolve hook) as a child process on temporary data directories,
 * admin endpoint on 127.0.0.1 port 0. Waits are on its output lines and its exit, each
 * bounded; only the children started here are signalled, by pid. The ensemble test polls the
 * admin endpoints (bounded number of 50 ms waits): other processes' roles and session counts
 * have no event this test could wait on.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Replica } from '../libs/zab/src/node/replica.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import {
  getJson,
  PROCESS_WAIT_MS,
  readyAdmin,
  ReplicaProcesses,
  stopReplica,
  type RunningReplica,
} from './fixtures/replica-process.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { ZkTestClient } from './fixtures/zookeeper-client.js';
import {
  reserveLoopbackPorts,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

const WAIT_MS = PROCESS_WAIT_MS;

const processes = new ReplicaProcesses();
after(() => processes.cleanup());

const tempDir = (): string => processes.tempDir();
const startApp = (args: string[], zabEnv: Record<string, string> = {}): RunningReplica => processes.start(args, zabEnv);
const ready = readyAdmin;
const stop = stopReplica;

test('serves srvr and mntr, stops on SIGTERM and SIGINT with exit 0, keeps its data', async () => {
  const dataDir = tempDir();
  const seed = await Replica.open({ dataDir });
  const seeder = await LocalCoordinationClient.connect(seed, 10_000);
  await seeder.create('/persist', Buffer.from('kept'));
  await seeder.close();
  await seed.close();

  const first = startApp([
    '--id', '1', '--ensemble', '1=127.0.0.1:2888', '--data-dir', dataDir, '--admin-port', '0',
    '--tick-ms', '100',
  ]);
  const admin = await ready(first);
  const srvr = await getJson(`${admin}/commands/srvr`);
  assert.equal(srvr.server_id, 1);
  assert.equal(srvr.server_state, 'standalone');
  assert.match(String(srvr.last_zxid), /^0x[0-9a-f]+$/);
  const mntr = await getJson(`${admin}/commands/mntr`);
  assert.equal(mntr.znode_count, 4); // '/', '/zookeeper', '/zookeeper/quota', '/persist'
  assert.equal(mntr.global_sessions, 1); // the app's own session
  assert.deepEqual([mntr.followers, mntr.synced_followers, mntr.ensemble_size], [0, 0, 1]);
  assert.equal((await getJson(`${admin}/commands/ruok`)).error, null);
  await stop(first, 'SIGTERM');

  const second = startApp([], {
    ZAB_DATA_DIR: dataDir, ZAB_ADMIN_PORT: '0', ZAB_ID: '1', ZAB_TICK_MS: '100',
  });
  const admin2 = await ready(second);
  const srvr2 = await getJson(`${admin2}/commands/srvr`);
  assert.equal(srvr2.epoch, (srvr.epoch as number) + 1, 'a restart opens a new epoch');
  assert.ok(BigInt(String(srvr2.last_zxid)) > BigInt(String(srvr.last_zxid)), 'the log goes on');
  assert.equal((await getJson(`${admin2}/commands/mntr`)).znode_count, 4);
  await stop(second, 'SIGINT');

  const reopened = await Replica.open({ dataDir });
  try {
    assert.equal(reopened.tree.getData('/persist')?.data.toString(), 'kept');
    assert.equal(reopened.tree.sessions().length, 0, 'both app sessions were closed at stop');
  } finally {
    await reopened.close();
  }
});

async function expectExit2(
  args: string[],
  zabEnv: Record<string, string>,
  messages: RegExp[],
): Promise<void> {
  const app = startApp(args, zabEnv);
  const { code } = await withTimeout(app.exited, WAIT_MS, 'the app to refuse its configuration');
  const stderr = app.stderr();
  assert.equal(code, 2, stderr);
  assert.match(stderr, /^zab-replica: invalid configuration:\n {2}- /);
  for (const message of messages) assert.match(stderr, message);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(app.stdout.join('\n'), /zab-replica ready/);
}

test('configuration mistakes exit with code 2 and say what to change', async () => {
  await expectExit2(['--tick-ms', '5', '--bogus', '--admin-port', 'x'], {}, [
    /- unknown flag --bogus; see --help for the flags/,
    /- --admin-port: "x" is not a whole number; e\.g\. --admin-port 8081/,
  ]);
  await expectExit2([], { ZAB_ENSEMBLE: '1=127.0.0.1:2888,1=127.0.0.1:2889', ZAB_TICK_MS: '5' }, [
    /- ZAB_ENSEMBLE: ensemble lists id 1 more than once; give each server its own id/,
    /- ZAB_TICK_MS: tickMs must be an integer from 10 to 600000; got 5/,
  ]);
});

/** Polls `srvr` on every admin URL until `check` accepts them all (bounded: 200 × 50 ms). */
async function pollSrvr(
  admins: string[],
  check: (srvrs: Array<Record<string, unknown>>) => boolean,
  what: string,
): Promise<Array<Record<string, unknown>>> {
  let last: Array<Record<string, unknown>> = [];
  for (let attempt = 0; attempt < 200; attempt++) {
    last = await Promise.all(admins.map((admin) => getJson(`${admin}/commands/srvr`)));
    if (check(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

async function sessionsOf(admin: string): Promise<unknown> {
  return (await getJson(`${admin}/commands/mntr`)).global_sessions;
}

/** The `server_state` of every replica, sorted: `follower,follower,leader`. */
const modes = (srvrs: Array<Record<string, unknown>>): string =>
  srvrs.map((srvr) => srvr.server_state).sort().join(',');

/** Three `apps/replica` processes forming one ensemble, once one leads and two follow. */
async function startThreeProcesses(): Promise<{
  apps: RunningReplica[];
  admins: string[];
  srvrs: Array<Record<string, unknown>>;
}> {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const apps = [1, 2, 3].map((id) => startApp(
    ['--id', String(id), '--ensemble', ensemble, '--data-dir', tempDir(), '--admin-port', '0',
      '--tick-ms', '50'],
    { ZAB_SECRET: 'a-long-enough-shared-secret' }));
  const admins = await Promise.all(apps.map((app) => ready(app)));
  const srvrs = await pollSrvr(admins, (all) => modes(all) === 'follower,follower,leader',
    'one leader and two followers');
  return { apps, admins, srvrs };
}

test('three processes form an ensemble; kill -9 of the leader: a new leader, its session expires',
  async () => {
    // Each app prints ready once its own session was created through the elected leader.
    const { apps, admins, srvrs } = await startThreeProcesses();
    for (const admin of admins) assert.equal(await sessionsOf(admin), 3);
    const leaderIndex = srvrs.findIndex((srvr) => srvr.server_state === 'leader');
    apps[leaderIndex]!.child.kill('SIGKILL');
    await withTimeout(apps[leaderIndex]!.exited, WAIT_MS, 'the leader to die');
    const survivors = admins.filter((_, i) => i !== leaderIndex);
    await pollSrvr(survivors, (all) => modes(all) === 'follower,leader', 'a new leader');
    // The dead app's session expires on the new leader (a replicated closeSession write).
    const sessions = await pollSrvrSessions(survivors, 2);
    assert.deepEqual(sessions, [2, 2]);
    await pollSrvr(survivors, (all) => new Set(all.map((srvr) => srvr.last_zxid)).size === 1 &&
      new Set(all.map((srvr) => srvr.digest)).size === 1, 'the survivors at the same digest');
    for (const app of apps.filter((_, i) => i !== leaderIndex)) await stop(app, 'SIGTERM');
  });

test('SIGSTOP of the leader: a new leader serves; after SIGCONT the old one rejoins and syncs',
  async () => {
    const { apps, admins, srvrs } = await startThreeProcesses();
    const leaderIndex = srvrs.findIndex((srvr) => srvr.server_state === 'leader');
    const frozen = apps[leaderIndex]!;
    frozen.child.kill('SIGSTOP');
    try {
      const survivors = admins.filter((_, i) => i !== leaderIndex);
      await pollSrvr(survivors, (all) => modes(all) === 'follower,leader', 'a new leader');
      // Frozen past its session timeout (1 s at most with 50 ms ticks): its session expires.
      assert.deepEqual(await pollSrvrSessions(survivors, 2), [2, 2]);
    } finally {
      frozen.child.kill('SIGCONT');
    }
    const rejoined = await pollSrvr(admins, (all) => modes(all) === 'follower,follower,leader' &&
      all[leaderIndex]!.server_state === 'follower' &&
      new Set(all.map((srvr) => srvr.last_zxid)).size === 1 &&
      new Set(all.map((srvr) => srvr.digest)).size === 1, 'the old leader synced as follower');
    assert.equal(rejoined[leaderIndex]!.server_state, 'follower');
    for (const app of apps) await stop(app, 'SIGTERM');
  });

/** Polls mntr until every admin reports `count` sessions (bounded: 200 × 50 ms). */
async function pollSrvrSessions(admins: string[], count: number): Promise<unknown[]> {
  let last: unknown[] = [];
  for (let attempt = 0; attempt < 200; attempt++) {
    last = await Promise.all(admins.map((admin) => sessionsOf(admin)));
    if (last.every((sessions) => sessions === count)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return last;
}

test('--help prints the usage and exits 0', async () => {
  const app = startApp(['--help']);
  await app.line(/^Usage: npm run replica -- \[flags\]$/);
  const exit = await withTimeout(app.exited, WAIT_MS, 'the app to exit after --help');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(app.stdout.some((text) => text.includes('ZAB_ENSEMBLE')));
});

test('an admin port in use exits 1 with the reason', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const port = (blocker.address() as { port: number }).port;
    const app = startApp(['--data-dir', tempDir(), '--admin-port', String(port)]);
    const { code } = await withTimeout(app.exited, WAIT_MS, 'the app to fail on a taken port');
    assert.equal(code, 1, app.stderr());
    assert.match(app.stderr(), new RegExp(
      'zab-replica: cannot start: admin endpoint cannot listen on ' +
        `127\\.0\\.0\\.1:${port}: EADDRINUSE`,
    ));
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

test('--client-port serves ZooKeeper clients and is printed in the ready line', async () => {
  const app = startApp(['--data-dir', tempDir(), '--tick-ms', '100', '--client-host', '127.0.0.1'],
    { ZAB_CLIENT_PORT: '0' });
  const match = await app.line(/^zab-replica ready .* client=127\.0\.0\.1:(\d+) /);
  const client = await ZkTestClient.connect(`127.0.0.1:${match[1]}`);
  try {
    assert.equal(await client.create('/over-the-wire', Buffer.from('w')), '/over-the-wire');
    assert.equal((await client.getData('/over-the-wire')).data.toString(), 'w');
  } finally {
    await client.close();
  }
  await stop(app, 'SIGTERM');
});
