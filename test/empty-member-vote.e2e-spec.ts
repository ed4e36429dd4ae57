/**
 * Goal: a member whose data directory is empty or wiped does not vote until a leader synced
 * it (ZK-261), while a brand-new ensemble still forms with default options. Scenario of the
 * hazard: in a 3-ensemble, member C is down while A (leader) and B commit writes; then A and
 * B stop, B's directory is wiped, and B and C restart. B must not vote: B (empty) and C
 * (without the writes) would form a quorum that loses the acknowledged writes. Once A is
 * back, A and C elect A, and B is synced with every write. With `ensembleState: 'new'`
 * (ZooKeeper's behaviour) the same scenario elects C and the writes are gone: the contrast
 * shows the observation window is long enough for the hazard to happen.
 * Method: in-process `EnsembleReplica`s over real TCP on OS-reserved loopback ports and file
 * storage in temporary directories, a failure detector tolerant of a loaded machine. Waits for a leader are event-driven (role changes),
 * bounded. That NO leader forms is observed over a fixed window of 120 Zab ticks (3 s; an
 * election takes a few ticks: the contrast run elects within it), recording every role
 * change: the absence of an event has nothing else to wait on.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerId } from '../libs/zab/src/core/ids.js';
import type { RoleChange } from '../libs/zab/src/core/ready.js';
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import { ErrorCode } from '../libs/zab/src/state/error-code.js';
import { KeeperError } from '../libs/zab/src/state/keeper-error.js';
import type { EnsembleState } from '../libs/zab/src/node/replica-options.js';
import {
  reserveLoopbackPorts,
  waitUntil,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

const ZAB_TICK_MS = 25;
const WINDOW_MS = 120 * ZAB_TICK_MS;
const WAIT_MS = 15_000;
const WRITES = ['/w0', '/w1', '/w2', '/w3', '/w4'];

const root = mkdtempSync(join(tmpdir(), 'zab-empty-member-'));
const open = new Set<EnsembleReplica>();
after(async () => {
  await Promise.allSettled([...open].map((replica) => replica.close()));
  rmSync(root, { recursive: true, force: true });
});

class Members {
  readonly replicas = new Map<PeerId, EnsembleReplica>();
  /** Every role change an open replica reported, in order. */
  readonly changes: Array<RoleChange & { id: PeerId }> = [];
  private readonly wakers = new Set<() => void>();

  constructor(private readonly name: string, private readonly ensemble: string) {}

  dataDir(id: PeerId): string {
    return join(root, this.name, String(id));
  }

  async start(id: PeerId, ensembleState?: EnsembleState): Promise<EnsembleReplica> {
    const replica = await EnsembleReplica.open({ id, ensemble: this.ensemble,
      dataDir: this.dataDir(id), tickMs: 50, zabTickMs: ZAB_TICK_MS,
      secret: 'empty-member-vote-secret', ...(ensembleState ? { ensembleState } : {}) },
    // Three replicas share this event loop: a failure detector tolerant of a loaded CI
    // machine (800 ms of silence, 400 ms stall) keeps spurious failovers out of the scenario.
    { requestTimeoutMs: 5_000,
      timing: { syncLimitTicks: 32, leaseWaitTicks: 26, leaseTicks: 20 } });
    open.add(replica);
    this.replicas.set(id, replica);
    replica.onRoleChange((change) => {
      this.changes.push({ ...change, id });
      for (const wake of [...this.wakers]) wake();
    });
    return replica;
  }

  async stop(id: PeerId): Promise<void> {
    const replica = this.replicas.get(id)!;
    this.replicas.delete(id);
    await replica.close();
    open.delete(replica);
  }

  wipe(id: PeerId): void {
    rmSync(this.dataDir(id), { recursive: true, force: true });
  }

  /** The established leader every running member follows. */
  agreedLeader(what: string): Promise<EnsembleReplica> {
    return waitUntil(() => {
      const all = [...this.replicas.values()];
      const leader = all.find((r) => r.role === 'leading' && r.isEstablished);
      return leader !== undefined && all.every((r) => r.isEstablished && r.leader === leader.id)
        ? leader : undefined;
    }, (wake) => {
      this.wakers.add(wake);
      return () => this.wakers.delete(wake);
    }, WAIT_MS, what);
  }

  /** Role changes to an established role during the observation window. */
  async establishedDuringWindow(): Promise<Array<RoleChange & { id: PeerId }>> {
    const from = this.changes.length;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    return this.changes.slice(from).filter((change) => change.established);
  }
}

async function writeAll(replica: EnsembleReplica): Promise<void> {
  const client = await LocalCoordinationClient.connect(replica, 2_000);
  try {
    for (const path of WRITES) await createOnce(client, path);
  } finally {
    await client.close();
  }
}

/**
 * Creates `path`, retrying (at most 3 times) a ConnectionLoss, whose outcome is unknown: a
 * retry that finds the node means the earlier attempt committed.
 */
async function createOnce(client: LocalCoordinationClient, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.create(path, Buffer.from(path));
      return;
    } catch (error) {
      if (attempt > 1 && error instanceof KeeperError && error.code === ErrorCode.NodeExists) {
        return;
      }
      const lost = error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss;
      if (!lost || attempt === 3) throw error;
    }
  }
}

function present(replica: EnsembleReplica): string[] {
  return WRITES.filter((path) => replica.tree.getData(path) !== undefined);
}

/**
 * Forms the ensemble (1, 2 first: no leader while 3 is unheard of; then 3), commits the
 * writes with C down, stops A and B and wipes B. Returns [A, B, C].
 */
async function prepareHazard(members: Members): Promise<[PeerId, PeerId, PeerId]> {
  await members.start(1);
  await members.start(2);
  assert.deepEqual(await members.establishedDuringWindow(), [],
    'two empty members of three do not form a new ensemble without the third');
  await members.start(3);
  const first = await members.agreedLeader('a new ensemble of three empty members');
  const a = first.id;
  const c = [1, 2, 3].find((id) => id !== a)!;
  const b = [1, 2, 3].find((id) => id !== a && id !== c)!;
  await members.stop(c);
  await writeAll(first);
  const follower = members.replicas.get(b)!;
  await follower.barrier();
  assert.deepEqual(present(follower), WRITES, 'B acknowledged the writes with A');
  await members.stop(a);
  await members.stop(b);
  members.wipe(b);
  return [a, b, c];
}

test('a wiped member does not vote: no quorum without the writes; it syncs once A is back',
  async () => {
    const ports = await reserveLoopbackPorts(3);
    const members = new Members('safe',
      ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(','));
    const [a, b, c] = await prepareHazard(members);
    await members.start(b);
    await members.start(c);
    assert.deepEqual(await members.establishedDuringWindow(), [],
      'the wiped member and the stale one must not elect a leader');
    await members.start(a);
    const leader = await members.agreedLeader('A back: a leader with the writes');
    assert.equal(leader.id, a, 'only A holds the writes: it must lead');
    for (const replica of members.replicas.values()) await replica.barrier();
    for (const id of [a, b, c]) {
      assert.deepEqual(present(members.replicas.get(id)!), WRITES, `writes on member ${id}`);
    }
    const digests = new Set([...members.replicas.values()].map((r) => r.status().digest));
    assert.equal(digests.size, 1, 'one digest everywhere');
  });

test('contrast, ensembleState new (ZooKeeper\'s default): the same wipe loses the writes',
  async () => {
    const ports = await reserveLoopbackPorts(3);
    const members = new Members('unsafe',
      ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(','));
    const [, b, c] = await prepareHazard(members);
    await members.start(b, 'new');
    await members.start(c);
    const started = Date.now();
    const leader = await members.agreedLeader('the wiped member and C elect a leader');
    const electedMs = Date.now() - started;
    assert.equal(leader.id, c, 'C has the better vote');
    assert.ok(electedMs < WINDOW_MS, `elected in ${electedMs} ms, within the window`);
    assert.deepEqual(present(leader), [], 'the acknowledged writes are lost');
  });
