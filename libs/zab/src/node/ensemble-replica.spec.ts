/**
 * Goal: three `EnsembleReplica`s in one process, over real TCP on 127.0.0.1 and real file
 * storage in temp directories, elect a leader, replicate writes taken by the leader and by a
 * follower, survive closing the leader (a new leader, writes continue, no acknowledged write
 * lost), and bring the restarted old leader back to the same tree digest (DIFF); a replica
 * the leader's history no longer covers is synced by SNAP; writes in flight during failover
 * lose no acknowledged write; an observer serves reads and forwards writes; 5 replicas
 * survive losing two; a write no leader can take fails with ConnectionLoss once its
 * `requestTimeoutMs` passes (not before), and several such writes all fail. A leader change
 * the test did not cause (a starved event loop under load) may fail a write in flight with
 * ConnectionLoss, as ZooKeeper may: the tests then send it again and accept NodeExists only
 * with their own data (NoNode for a delete) — the lost attempt committed — never another
 * error (the in-flight test counts such failures itself).
 * A sync while no leader is established waits for one (it used to fail at once, so a
 * remote client's resent sync failed on every looking server in a row).
 * Method: every wait is event-driven (role changes and applied batches of the replicas, the
 * writes' own promises) and bounded by a timeout; nothing sleeps or polls. Ports come from the
 * OS (listen on port 0, then close: `reserveLoopbackPorts`). Every replica and client is
 * closed at the end, also when the test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerId } from '../core/ids.js';
import { withTempDirectory } from '../testing/temp-directory.js';
import {
  reserveLoopbackPorts,
  waitUntil,
} from '../transport/tcp/tcp-peer-transport.test-support.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { withTimeout } from '../testing/with-timeout.js';
import { EnsembleReplica } from './ensemble-replica.js';
import { LocalCoordinationClient } from './local-client.js';

const TICK_MS = 50;
const WAIT_MS = 15_000;

class Ensemble {
  readonly replicas = new Map<PeerId, EnsembleReplica>();
  readonly clients: LocalCoordinationClient[] = [];
  private readonly wakers = new Set<() => void>();

  constructor(private readonly root: string, private readonly spec: string,
    private readonly historyCountMax = 10_000) {}

  async open(id: PeerId): Promise<EnsembleReplica> {
    // A snapshot every 10 txns: restarts recover from a snapshot plus the log after it.
    const replica = await EnsembleReplica.open({ id, ensemble: this.spec,
      dataDir: `${this.root}/${id}`, tickMs: TICK_MS, secret: 'ensemble-test-secret-0123',
      snapshotEveryTxns: 10, containerCheckIntervalMs: 100 },
    { requestTimeoutMs: 5_000, history: { countMax: this.historyCountMax, bytesMax: 1 << 20 } });
    const wake = (): void => {
      for (const waker of [...this.wakers]) waker();
    };
    replica.onRoleChange(wake);
    replica.onApply(wake);
    this.replicas.set(id, replica);
    return replica;
  }

  async closeReplica(id: PeerId): Promise<void> {
    const replica = this.replicas.get(id);
    this.replicas.delete(id);
    await replica?.close();
  }

  /** Resolves once `check` holds, re-checked on every role change and applied batch. */
  waitFor<T>(check: () => T | undefined, what: string): Promise<T> {
    return waitUntil(check, (wake) => {
      this.wakers.add(wake);
      return () => this.wakers.delete(wake);
    }, WAIT_MS, what);
  }

  /** The established leader every open replica follows, once they all agree. */
  agreedLeader(): Promise<EnsembleReplica> {
    return this.waitFor(() => {
      const all = [...this.replicas.values()];
      const leader = all.find((r) => r.role === 'leading' && r.isEstablished);
      const agreed = leader !== undefined &&
        all.every((r) => r.isEstablished && r.leader === leader.id);
      return agreed ? leader : undefined;
    }, 'an established leader followed by every open replica');
  }

  async connect(replica: EnsembleReplica): Promise<LocalCoordinationClient> {
    const client = await LocalCoordinationClient.connect(replica, 2_000);
    this.clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.close()));
    await Promise.allSettled([...this.replicas.values()].map((r) => r.close()));
    this.replicas.clear();
  }
}

async function ensembleSpec(count = 3): Promise<string> {
  const ports = await reserveLoopbackPorts(count);
  return ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
}

function digestsAgree(ensemble: Ensemble): Promise<bigint> {
  return ensemble.waitFor(() => {
    const digests = [...ensemble.replicas.values()].map((r) => r.tree.digest());
    return digests.every((d) => d === digests[0]) ? digests[0] : undefined;
  }, 'equal tree digests on every open replica');
}

const LOSS_RETRIES_MAX = 3;

/**
 * Creates `path` with `data` as an acknowledged write. Under load a leader change can happen
 * at any time (a follower that does not hear its leader for syncLimit ticks looks for a new
 * one), and ZooKeeper answers a write in flight then with ConnectionLoss: its outcome is
 * unknown. So the create is sent again (at most `LOSS_RETRIES_MAX` times; each attempt waits
 * for a serving leader itself), and NodeExists on a retry counts as done only if the node
 * holds exactly our data, i.e. the lost attempt did commit. Never hides another error.
 */
async function createAcknowledged(client: LocalCoordinationClient, path: string, data: Buffer,
  options: Parameters<LocalCoordinationClient['create']>[2] = {}): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.create(path, data, options);
      return;
    } catch (error) {
      if (attempt > 1 && isCode(error, ErrorCode.NodeExists)) {
        assert.deepEqual((await client.getData(path)).data, data, `${path}: the lost create committed`);
        return;
      }
      if (!isCode(error, ErrorCode.ConnectionLoss) || attempt > LOSS_RETRIES_MAX) throw error;
    }
  }
}

/** A delete of a node only this test deletes: NoNode on a resend means the lost one committed. */
async function deleteAcknowledged(client: LocalCoordinationClient, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.delete(path);
    } catch (error) {
      if (attempt > 1 && isCode(error, ErrorCode.NoNode)) return;
      if (!isCode(error, ErrorCode.ConnectionLoss) || attempt > LOSS_RETRIES_MAX) throw error;
    }
  }
}

/** `sync` is idempotent: sent again after a ConnectionLoss (a leader change), bounded. */
async function syncAcknowledged(client: LocalCoordinationClient): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.sync('/');
    } catch (error) {
      if (!isCode(error, ErrorCode.ConnectionLoss) || attempt > LOSS_RETRIES_MAX) throw error;
    }
  }
}


function isCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof KeeperError && error.code === code;
}

test('3 replicas: elect, replicate from follower and leader, fail over, resync the old leader',
  withTempDirectory('zab-ensemble', async (root) => {
    const ensemble = new Ensemble(root, await ensembleSpec());
    try {
      await Promise.all([1, 2, 3].map((id) => ensemble.open(id)));
      const leader = await ensemble.agreedLeader();
      const followers = [...ensemble.replicas.values()].filter((r) => r !== leader);
      const onLeader = await ensemble.connect(leader);
      const onFollower = await ensemble.connect(followers[0]!);
      await createAcknowledged(onFollower, '/from-follower', Buffer.from('f'));
      await createAcknowledged(onLeader, '/from-leader', Buffer.from('l'));
      const acknowledged = ['/from-follower', '/from-leader'];
      for (let i = 0; i < 20; i++) {
        const client = i % 2 === 0 ? onFollower : onLeader;
        await createAcknowledged(client, `/w${i}`, Buffer.from([i]));
        acknowledged.push(`/w${i}`);
      }
      const reader = await ensemble.connect(followers[1]!);
      for (const client of [onLeader, onFollower, reader]) {
        await syncAcknowledged(client);
        for (const path of acknowledged) assert.ok(await client.exists(path), path);
      }
      assert.equal((await reader.getData('/from-follower')).data.toString(), 'f');
      await digestsAgree(ensemble);

      // Close the leader of now (a leader change under load may have moved it), its client
      // first so no session expiry adds writes later; the clients of the other two go on.
      const clientOf = new Map([[leader.id, onLeader], [followers[0]!.id, onFollower],
        [followers[1]!.id, reader]]);
      const oldLeader = (await ensemble.agreedLeader()).id;
      const gone = clientOf.get(oldLeader)!;
      await gone.close();
      ensemble.clients.splice(ensemble.clients.indexOf(gone), 1);
      await ensemble.closeReplica(oldLeader);
      const survivors = [...clientOf].filter(([id]) => id !== oldLeader).map(([, c]) => c);
      const newLeader = await ensemble.agreedLeader();
      assert.notEqual(newLeader.id, oldLeader);
      for (let i = 0; i < 10; i++) {
        await createAcknowledged(survivors[i % 2]!, `/after${i}`, Buffer.from([i]));
        acknowledged.push(`/after${i}`);
      }
      for (const client of survivors) {
        await syncAcknowledged(client);
        for (const path of acknowledged) assert.ok(await client.exists(path), path);
      }

      // Restart the old leader from its data directory: it syncs and reaches the same state.
      const restarted = await ensemble.open(oldLeader);
      await ensemble.agreedLeader();
      const digest = await digestsAgree(ensemble);
      assert.equal(restarted.tree.digest(), digest);
      for (const path of acknowledged) assert.ok(restarted.tree.stat(path) !== undefined, path);
      assert.equal(restarted.stats.snapshotsInstalled, 0, 'synced by DIFF, not SNAP');
      assert.ok(newLeader.status().snapshotsTaken > 0, 'periodic snapshots were taken');
    } finally {
      await ensemble.closeAll();
    }
  }));

test('a replica the leader\'s history no longer covers is synced by SNAP and recovers from it',
  withTempDirectory('zab-ensemble-snap', async (root) => {
    // The history keeps 5 applied txns at most, so 30 writes leave a stopped follower behind it.
    const ensemble = new Ensemble(root, await ensembleSpec(), 5);
    try {
      await Promise.all([1, 2, 3].map((id) => ensemble.open(id)));
      const leader = await ensemble.agreedLeader();
      const behind = [...ensemble.replicas.values()].find((r) => r !== leader)!.id;
      await ensemble.closeReplica(behind);
      await ensemble.agreedLeader();
      const client = await ensemble.connect(leader);
      for (let i = 0; i < 30; i++) await createAcknowledged(client, `/s${i}`, Buffer.from([i]));
      const restarted = await ensemble.open(behind);
      await ensemble.agreedLeader();
      await digestsAgree(ensemble);
      assert.equal(restarted.stats.snapshotsInstalled, 1);
      assert.ok(restarted.tree.stat('/s29') !== undefined);
      // Its state now comes from the installed snapshot (plus the log after it).
      await ensemble.closeReplica(behind);
      const again = await ensemble.open(behind);
      await ensemble.agreedLeader();
      const digest = await digestsAgree(ensemble);
      assert.equal(again.tree.digest(), digest);
      await createAcknowledged(client, '/after-snap', Buffer.from('x'));
      await syncAcknowledged(client);
      await digestsAgree(ensemble);
    } finally {
      await ensemble.closeAll();
    }
  }));

test('writes in flight while the leader closes: every acknowledged one is on every replica',
  withTempDirectory('zab-ensemble-inflight', async (root) => {
    const ensemble = new Ensemble(root, await ensembleSpec());
    try {
      await Promise.all([1, 2, 3].map((id) => ensemble.open(id)));
      const leader = await ensemble.agreedLeader();
      const followers = [...ensemble.replicas.values()].filter((r) => r !== leader);
      const clients = await Promise.all(followers.map((f) => ensemble.connect(f)));
      const acknowledged: string[] = [];
      let failed = 0;
      // 40 writes per client, pipelined 4 at a time; the leader closes after the first ones.
      const writer = async (client: LocalCoordinationClient, name: string): Promise<void> => {
        for (let i = 0; i < 40; i += 4) {
          await Promise.all([0, 1, 2, 3].map(async (j) => {
            const path = `/${name}-${i + j}`;
            try {
              await client.create(path, Buffer.from(path));
              acknowledged.push(path);
            } catch {
              failed++; // ConnectionLoss: outcome unknown, as in ZooKeeper
            }
          }));
        }
      };
      const writing = Promise.all(clients.map((c, i) => writer(c, `c${i}`)));
      await ensemble.waitFor(() => (acknowledged.length >= 8 ? true : undefined),
        'the first acknowledged writes');
      await ensemble.closeReplica(leader.id);
      await writing;
      await ensemble.agreedLeader();
      for (const client of clients) await syncAcknowledged(client);
      await digestsAgree(ensemble);
      for (const replica of ensemble.replicas.values()) {
        for (const path of acknowledged) assert.ok(replica.tree.stat(path) !== undefined, path);
      }
      assert.ok(acknowledged.length >= 8 && acknowledged.length + failed === 80);
    } finally {
      await ensemble.closeAll();
    }
  }));

test('an observer follows the ensemble, serves reads and forwards writes without voting',
  withTempDirectory('zab-ensemble-observer', async (root) => {
    const ports = await reserveLoopbackPorts(4);
    const spec = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}${i === 3 ? ':observer' : ''}`)
      .join(',');
    const ensemble = new Ensemble(root, spec);
    try {
      await Promise.all([1, 2, 3, 4].map((id) => ensemble.open(id)));
      const leader = await ensemble.agreedLeader();
      const observer = ensemble.replicas.get(4)!;
      assert.equal(observer.role, 'observing');
      assert.equal(observer.status().mode, 'observer');
      assert.notEqual(leader.id, 4);
      const client = await ensemble.connect(observer);
      await createAcknowledged(client, '/from-observer', Buffer.from('o'));
      const onLeader = await ensemble.connect(leader);
      await createAcknowledged(onLeader, '/from-leader', Buffer.from('l'));
      await syncAcknowledged(client);
      assert.equal((await client.getData('/from-leader')).data.toString(), 'l');
      await digestsAgree(ensemble);
    } finally {
      await ensemble.closeAll();
    }
  }));

test('5 replicas survive the loss of two, the leader among them',
  withTempDirectory('zab-ensemble-five', async (root) => {
    const ensemble = new Ensemble(root, await ensembleSpec(5));
    try {
      await Promise.all([1, 2, 3, 4, 5].map((id) => ensemble.open(id)));
      const leader = await ensemble.agreedLeader();
      const follower = [...ensemble.replicas.values()].find((r) => r !== leader)!;
      await ensemble.closeReplica(follower.id);
      const client = await ensemble.connect(leader);
      await createAcknowledged(client, '/before', Buffer.from('b'));
      await client.close();
      ensemble.clients.splice(0);
      await ensemble.closeReplica(leader.id);
      const next = await ensemble.agreedLeader();
      assert.equal(ensemble.replicas.size, 3);
      const survivor = await ensemble.connect(next);
      await createAcknowledged(survivor, '/after', Buffer.from('a'));
      await syncAcknowledged(survivor);
      await digestsAgree(ensemble);
      for (const replica of ensemble.replicas.values()) {
        assert.ok(replica.tree.stat('/before') !== undefined);
        assert.ok(replica.tree.stat('/after') !== undefined);
      }
    } finally {
      await ensemble.closeAll();
    }
  }));

test('lag guard: a leader whose event loop stalls past half the election timeout steps down',
  withTempDirectory('zab-ensemble-lag', async (root) => {
    const ensemble = new Ensemble(root, await ensembleSpec());
    try {
      await Promise.all([1, 2, 3].map((id) => ensemble.open(id)));
      const leader = await ensemble.agreedLeader();
      const epoch = leader.epoch;
      const reasons: string[] = [];
      leader.onRoleChange((change) => reasons.push(change.reason));
      // All three replicas share this loop; only the leader acts on the stall (followers
      // ignore stepDown). 8 ticks > the limit of 2.5 ticks (syncLimit 5 × 0.5).
      const start = performance.now();
      while (performance.now() - start < 8 * TICK_MS) {
        // Deliberate bounded busy loop: the stall under test.
      }
      const next = await ensemble.waitFor(() => {
        const all = [...ensemble.replicas.values()];
        const chosen = all.find((r) => r.role === 'leading' && r.isEstablished);
        const agreed = chosen !== undefined && chosen.epoch > epoch &&
          all.every((r) => r.isEstablished && r.leader === chosen.id);
        return agreed ? chosen : undefined;
      }, 'a leader of a newer epoch after the stall');
      assert.ok(reasons.some((r) => /stepped down \(event loop stalled \d+ ms/.test(r)),
        `the old leader stepped down: ${reasons.join('; ')}`);
      const client = await ensemble.connect(next);
      await createAcknowledged(client, '/after-stall', Buffer.from('ok'));
    } finally {
      await ensemble.closeAll();
    }
  }));

test('a restarted replica answers its new writes, not the txns it logged before the restart',
  withTempDirectory('zab-ensemble-restart-tags', async (root) => {
    // Session-less writes (createSession, closeSession) are matched by a tag that restarts
    // from 0 with the process, and a restarted replica commits the txns of its log again: the
    // first createSession after a restart must not be answered by the first one before it.
    const ensemble = new Ensemble(root, await ensembleSpec());
    try {
      for (const id of [1, 2, 3] as PeerId[]) await ensemble.open(id);
      await ensemble.agreedLeader();
      const before = await LocalCoordinationClient.connect(ensemble.replicas.get(3 as PeerId)!, 2_000);
      await createAcknowledged(before, '/before-restart', Buffer.from('x'));
      await before.close();
      for (const id of [1, 2, 3] as PeerId[]) await ensemble.closeReplica(id);
      // Replica 3 comes back alone: its new session waits for a leader while the txns it
      // logged before (its old createSession among them) await their commit.
      const reopened = await ensemble.open(3 as PeerId);
      const connecting = ensemble.connect(reopened);
      for (const id of [1, 2] as PeerId[]) await ensemble.open(id);
      const after = await connecting;
      assert.notEqual(after.sessionId, before.sessionId, 'a new session, not the closed one');
      await createAcknowledged(after, '/after-restart', Buffer.from('y'));
      assert.ok(await after.exists('/after-restart'));
    } finally {
      await ensemble.closeAll();
    }
  }));

test('the leader deletes empty containers and expired TTL nodes on every replica',
  withTempDirectory('zab-ensemble-containers', async (root) => {
    const ensemble = new Ensemble(root, await ensembleSpec());
    try {
      for (const id of [1, 2, 3] as PeerId[]) await ensemble.open(id);
      const leader = await ensemble.agreedLeader();
      const follower = [...ensemble.replicas.values()].find((r) => r !== leader)!;
      const client = await ensemble.connect(follower);
      await createAcknowledged(client, '/jobs', Buffer.alloc(0), { mode: 'container' });
      await createAcknowledged(client, '/jobs/one', Buffer.alloc(0));
      await createAcknowledged(client, '/kept', Buffer.alloc(0), { mode: 'container' });
      await createAcknowledged(client, '/kept/child', Buffer.alloc(0));
      await createAcknowledged(client, '/lease', Buffer.alloc(0), { mode: 'ttl', ttlMs: 200 });
      await deleteAcknowledged(client, '/jobs/one');
      await ensemble.waitFor(() => [...ensemble.replicas.values()].every((r) =>
        r.tree.stat('/jobs') === undefined && r.tree.stat('/lease') === undefined) || undefined,
      'the empty container and the expired TTL node gone from every replica');
      for (const replica of ensemble.replicas.values()) {
        assert.ok(replica.tree.stat('/kept') !== undefined, 'a container with a child stays');
      }
    } finally {
      await ensemble.closeAll();
    }
  }));

test('a write no leader can take fails with ConnectionLoss after requestTimeoutMs, not before',
  withTempDirectory('zab-ensemble-timeout', async (root) => {
    // One member of three: it stays looking, so every write waits for a leader until its
    // deadline (swept at each Zab tick).
    const requestTimeoutMs = 300;
    const replica = await EnsembleReplica.open({ id: 1, ensemble: await ensembleSpec(),
      dataDir: `${root}/1`, tickMs: TICK_MS, secret: 'ensemble-test-secret-0123' },
    { requestTimeoutMs });
    try {
      const started = performance.now();
      const outcomes = await withTimeout(Promise.allSettled([0, 1, 2].map(() =>
        replica.createSession(10_000, true))), 10_000, 'the writes to time out');
      const elapsedMs = performance.now() - started;
      for (const outcome of outcomes) {
        assert.equal(outcome.status, 'rejected');
        const error = (outcome as PromiseRejectedResult).reason as KeeperError;
        assert.ok(error instanceof KeeperError, String(error));
        assert.equal(error.code, ErrorCode.ConnectionLoss);
        assert.match(error.message, /no commit within 300 ms/);
      }
      assert.ok(elapsedMs >= requestTimeoutMs - 1, `failed after ${elapsedMs} ms, too early`);
      assert.equal(replica.status().outstandingRequests, 0, 'nothing left pending');
    } finally {
      await replica.close();
    }
  }));

test('a sync while no leader is established waits for one, like a write, instead of failing at once',
  withTempDirectory('zab-ensemble-sync-wait', async (root) => {
    // One member of three stays looking: its sync must wait. The other two join (a new
    // ensemble elects once every voter is known to be empty), a leader is established, and the
    // waiting sync completes.
    const ensemble = new Ensemble(root, await ensembleSpec());
    try {
      const lonely = await ensemble.open(1);
      const sync = lonely.barrier();
      await Promise.all([2, 3].map((id) => ensemble.open(id)));
      await withTimeout(sync, WAIT_MS, 'the waiting sync to complete once a leader is established');
      assert.ok(lonely.isEstablished, 'completed through an established leader');
    } finally {
      await ensemble.closeAll();
    }
  }));
