/**
 * Goal: ZooKeeper's ACLs hold through the `CoordinationClient` on every embedded backend: the
 * standalone replica on the main thread, the worker-hosted replica, and a 3-replica in-process
 * ensemble whose writers sit on followers (so each write is forwarded to the leader with its
 * session's identities, and reads are checked on the replica serving them). Each permission
 * for each operation (incl. multi), world/auth/digest, getACL redaction, the superuser digest,
 * InvalidACL, AuthFailed, identities forgotten with the session; and ACLs survive a restart
 * (snapshot plus log replay); and `CoordinationService.addAuth` with `superDigest` given to
 * `ZabModule.forRoot` (default worker isolation).
 * Method: one table of tests registered per backend, on real replicas (memory storage; file
 * storage in a temp directory for the restart); ensemble peers on 127.0.0.1 with ports from
 * the OS; every wait is on an event or a promise with a bounded timeout, nothing sleeps.
 */
import 'reflect-metadata';
import { test, describe, afterEach } from 'node:test';
import { Test } from '@nestjs/testing';
import assert from 'node:assert/strict';
import {
  AuthFailedError,
  CoordinationService,
  ErrorCode,
  EnsembleReplica,
  InvalidAclError,
  LocalCoordinationClient,
  MultiError,
  NoAuthError,
  Perms,
  Replica,
  WorkerReplicaHandle,
  ZAB_REPLICA,
  ZabModule,
  type Acl,
  type CoordinationClient,
  type ReplicaOptions,
} from '../libs/zab/src/index.js';
import { withTempDirectory } from '../libs/zab/src/testing/temp-directory.js';
import { reserveLoopbackPorts, waitUntil } from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

/** `super:test`, as ZooKeeper's DigestAuthenticationProvider prints it. */
const SUPER_DIGEST = 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=';
const ALICE_ID = 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=';
const WAIT_MS = 15_000;
const text = (s: string): Buffer => Buffer.from(s);

/** Three sessions: `owner` and `other` where writes are forwarded (ensemble), `admin` anywhere. */
interface Sessions {
  owner: CoordinationClient;
  other: CoordinationClient;
  admin: CoordinationClient;
  close(): Promise<void>;
}

interface Backend {
  name: string;
  open(options: Partial<ReplicaOptions>): Promise<Sessions>;
}

const isNoAuth = (path: string) => (e: unknown): boolean =>
  e instanceof NoAuthError && e.code === ErrorCode.NoAuth && e.path === path;

/** Makes `client` see every write committed before the call (another replica may lag). */
const caughtUp = (client: CoordinationClient): Promise<void> => client.sync('/');

function describeAcls(backend: Backend): void {
  const opened: Sessions[] = [];
  const start = async (): Promise<Sessions> => {
    const sessions = await backend.open({ dataDir: ':memory:', superDigest: SUPER_DIGEST });
    opened.push(sessions);
    return sessions;
  };

  describe(`ACLs on ${backend.name}`, () => {
    afterEach(async () => {
      for (const sessions of opened.splice(0)) await sessions.close();
    });

    test('a digest-protected node: the owner may do everything, others nothing but exists', async () => {
      const { owner, other } = await start();
      await owner.addAuth('digest', 'alice:secret');
      await owner.create('/secure', text('s'), { acl: [{ perms: Perms.All, scheme: 'auth', id: '' }] });
      await owner.create('/secure/child', text('c'));
      assert.deepEqual((await owner.getAcl('/secure')).acl, [{ perms: Perms.All, scheme: 'digest', id: ALICE_ID }]);
      await caughtUp(other);
      assert.equal((await other.exists('/secure'))?.version, 0, 'exists needs no permission');
      await assert.rejects(other.getData('/secure'), isNoAuth('/secure'));
      await assert.rejects(other.getChildren('/secure'), isNoAuth('/secure'));
      await assert.rejects(other.getAllChildrenNumber('/secure'), isNoAuth('/secure'));
      await assert.rejects(other.getAcl('/secure'), isNoAuth('/secure'));
      await assert.rejects(other.observe('/secure', 'data', () => undefined), isNoAuth('/secure'));
      await assert.rejects(other.setData('/secure', text('x')), isNoAuth('/secure'));
      await assert.rejects(other.create('/secure/new', text('')), isNoAuth('/secure/new'));
      await assert.rejects(other.delete('/secure/child'), isNoAuth('/secure/child'));
      await assert.rejects(other.setAcl('/secure', [{ perms: Perms.All, scheme: 'world', id: 'anyone' }]),
        isNoAuth('/secure'));
      await assert.rejects(other.multi([{ op: 'check', path: '/secure', version: 0 }]),
        (e: unknown) => e instanceof MultiError && e.code === ErrorCode.NoAuth);
      // Another user's identity is no better than none.
      await other.addAuth('digest', 'bob:other');
      await assert.rejects(other.getData('/secure'), isNoAuth('/secure'));
      await assert.rejects(other.setData('/secure', text('x')), isNoAuth('/secure'));
      // The same credentials on another session are: ACLs name identities, not sessions.
      await other.addAuth('digest', 'alice:secret');
      assert.equal((await other.setData('/secure', text('by-other'))).version, 1);
      await caughtUp(owner);
      assert.equal((await owner.getData('/secure')).data.toString(), 'by-other');
    });

    test('each permission allows exactly its operations', async () => {
      const { owner, other } = await start();
      await owner.addAuth('digest', 'alice:secret');
      const only = async (path: string, perms: number): Promise<void> => {
        const acl: Acl[] = [{ perms: Perms.All, scheme: 'digest', id: ALICE_ID },
          { perms, scheme: 'world', id: 'anyone' }];
        await owner.create(path, text(path), { acl });
        await owner.create(`${path}/child`, text(''));
      };
      await only('/r', Perms.Read);
      await only('/w', Perms.Write);
      await only('/c', Perms.Create);
      await only('/d', Perms.Delete);
      await only('/a', Perms.Admin);
      await caughtUp(other);
      type Attempt = [name: string, run: (node: string) => Promise<unknown>, permission: number];
      const attempts: Attempt[] = [
        ['getData', (n) => other.getData(n), Perms.Read],
        ['getChildren', (n) => other.getChildren(n), Perms.Read],
        ['getAllChildrenNumber', (n) => other.getAllChildrenNumber(n), Perms.Read],
        ['multi check', (n) => other.multi([{ op: 'check', path: n, version: -1 }]), Perms.Read],
        ['setData', (n) => other.setData(n, text('x')), Perms.Write],
        ['multi setData', (n) => other.multi([{ op: 'setData', path: n, data: text('y') }]), Perms.Write],
        ['create child', (n) => other.create(`${n}/made`, text('')), Perms.Create],
        ['multi create', (n) => other.multi([{ op: 'create', path: `${n}/made2` }]), Perms.Create],
        ['delete child', (n) => other.delete(`${n}/child`), Perms.Delete],
        ['multi delete', (n) => other.multi([{ op: 'delete', path: `${n}/made` }]), Perms.Delete],
      ];
      const nodes: Array<[string, number]> = [['/r', Perms.Read], ['/w', Perms.Write],
        ['/c', Perms.Create], ['/d', Perms.Delete], ['/a', Perms.Admin]];
      for (const [name, run, permission] of attempts) {
        for (const [node, granted] of nodes) {
          // /d/child is gone once `delete child` ran there; nothing left for `multi delete`.
          if (name === 'multi delete' && node === '/d') continue;
          const outcome = await run(node).then(() => 'ok', (e: unknown) =>
            e instanceof NoAuthError || (e instanceof MultiError && e.code === ErrorCode.NoAuth)
              ? 'NoAuth' : `other: ${String(e)}`);
          const expected = granted === permission ? 'ok' : 'NoAuth';
          assert.equal(outcome, expected, `${name} on ${node}`);
        }
      }
      // setACL needs ADMIN; getACL READ or ADMIN, and without ADMIN digests are redacted.
      await assert.rejects(other.setAcl('/r', [{ perms: Perms.All, scheme: 'world', id: 'anyone' }]), isNoAuth('/r'));
      assert.equal((await other.getAcl('/r')).acl[0]!.id, 'alice:x', 'READ only: the hash is hidden');
      assert.equal((await other.getAcl('/a')).acl[0]!.id, ALICE_ID, 'ADMIN: the ACL as stored');
      await assert.rejects(other.getAcl('/w'), isNoAuth('/w'));
      const stat = await other.setAcl('/a', [{ perms: Perms.Read, scheme: 'world', id: 'anyone' }]);
      assert.equal(stat.aversion, 1);
    });

    test('the superuser digest passes every check; a wrong super password does not', async () => {
      const { owner, other, admin } = await start();
      await owner.addAuth('digest', 'alice:secret');
      await owner.create('/private', text('p'), { acl: [{ perms: Perms.Read, scheme: 'auth', id: '' }] });
      await other.addAuth('digest', 'super:wrong');
      await caughtUp(other);
      await assert.rejects(other.setData('/private', text('x')), isNoAuth('/private'));
      await admin.addAuth('digest', 'super:test');
      await caughtUp(admin);
      assert.equal((await admin.getData('/private')).data.toString(), 'p');
      await admin.setData('/private', text('by-super'));
      await admin.create('/private/c', text(''));
      await admin.setAcl('/private', [{ perms: Perms.All, scheme: 'world', id: 'anyone' }]);
      await caughtUp(other);
      assert.equal((await other.getData('/private')).data.toString(), 'by-super');
    });

    test('InvalidACL and AuthFailed come as typed errors and change nothing', async () => {
      const { other } = await start();
      const invalid: Acl[][] = [
        [], [{ perms: Perms.All, scheme: 'auth', id: '' }], [{ perms: Perms.All, scheme: 'super', id: 'x' }],
        [{ perms: Perms.All, scheme: 'digest', id: 'no-hash' }], [{ perms: Perms.All, scheme: 'world', id: 'me' }],
      ];
      for (const acl of invalid) {
        await assert.rejects(other.create('/x', text(''), { acl }), (e: unknown) =>
          e instanceof InvalidAclError && e.code === ErrorCode.InvalidAcl, JSON.stringify(acl));
        await assert.rejects(other.setAcl('/', acl), InvalidAclError);
      }
      assert.equal(await other.exists('/x'), null);
      for (const [scheme, auth] of [['ip', '127.0.0.1'], ['world', 'anyone'], ['digest', 'no-colon']]) {
        await assert.rejects(other.addAuth(scheme!, auth!), (e: unknown) =>
          e instanceof AuthFailedError && e.code === ErrorCode.AuthFailed, scheme);
      }
      // A failed addAuth added nothing: auth still has no identity to expand to.
      await assert.rejects(other.create('/x', text(''), { acl: [{ perms: 31, scheme: 'auth', id: '' }] }),
        InvalidAclError);
    });
  });
}

describeAcls({
  name: 'the main thread (Replica + LocalCoordinationClient)',
  async open(options) {
    const replica = await Replica.open(options);
    const connect = (): Promise<LocalCoordinationClient> => LocalCoordinationClient.connect(replica, 10_000);
    const [owner, other, admin] = [await connect(), await connect(), await connect()];
    return { owner, other, admin, close: () => replica.close() };
  },
});

describeAcls({
  name: 'a worker thread (WorkerCoordinationClient)',
  async open(options) {
    const handle = await WorkerReplicaHandle.open(options);
    const connect = (): Promise<CoordinationClient> => handle.connect(10_000);
    const [owner, other, admin] = [await connect(), await connect(), await connect()];
    return { owner, other, admin, close: () => handle.close() };
  },
});

/** Three EnsembleReplicas in this process; resolves once one leads and all follow it. */
async function openEnsemble(options: Partial<ReplicaOptions>): Promise<{
  leader: EnsembleReplica; followers: EnsembleReplica[]; close(): Promise<void>;
}> {
  const ports = await reserveLoopbackPorts(3);
  const spec = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const wakers = new Set<() => void>();
  const replicas: EnsembleReplica[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(replicas.map((r) => r.close()));
  };
  try {
    for (const id of [1, 2, 3]) {
      const replica = await EnsembleReplica.open({ ...options, id, ensemble: spec, tickMs: 50,
        secret: 'acl-test-secret-0123456789' }, { requestTimeoutMs: 5_000 });
      replica.onRoleChange(() => { for (const wake of [...wakers]) wake(); });
      replicas.push(replica);
    }
    const leader = await waitUntil(() => {
      const found = replicas.find((r) => r.role === 'leading' && r.isEstablished);
      return found !== undefined && replicas.every((r) => r.isEstablished && r.leader === found.id)
        ? found : undefined;
    }, (wake) => {
      wakers.add(wake);
      return () => wakers.delete(wake);
    }, WAIT_MS, 'an established leader followed by every replica');
    return { leader, followers: replicas.filter((r) => r !== leader), close };
  } catch (error) {
    await close();
    throw error;
  }
}

describeAcls({
  name: 'a 3-replica ensemble (writers on followers)',
  async open(options) {
    const { leader, followers, close } = await openEnsemble(options);
    const connect = (replica: EnsembleReplica): Promise<LocalCoordinationClient> =>
      LocalCoordinationClient.connect(replica, 10_000);
    const owner = await connect(followers[0]!);
    const other = await connect(followers[1]!);
    const admin = await connect(leader);
    return { owner, other, admin, close };
  },
});

test('ensemble: a follower\'s write with digest auth is allowed, without it NoAuth; ACLs replicate',
  async () => {
    const { leader, followers, close } = await openEnsemble({ dataDir: ':memory:' });
    try {
      const onLeader = await LocalCoordinationClient.connect(leader, 10_000);
      await onLeader.addAuth('digest', 'alice:secret');
      await onLeader.create('/guarded', text('g'), { acl: [{ perms: Perms.All, scheme: 'auth', id: '' }] });
      const withAuth = await LocalCoordinationClient.connect(followers[0]!, 10_000);
      const without = await LocalCoordinationClient.connect(followers[0]!, 10_000);
      await withAuth.addAuth('digest', 'alice:secret');
      await withAuth.sync('/');
      assert.deepEqual(followers[0]!.tree.getAcl('/guarded')?.acl,
        [{ perms: Perms.All, scheme: 'digest', id: ALICE_ID }], 'the ACL is replicated');
      assert.equal((await withAuth.setData('/guarded', text('from-follower'))).version, 1);
      await assert.rejects(without.setData('/guarded', text('no')), isNoAuth('/guarded'));
      await assert.rejects(without.create('/guarded/c', text('')), isNoAuth('/guarded/c'));
      assert.equal((await onLeader.getData('/guarded')).data.toString(), 'from-follower');
      // Identities are per replica: the follower's addAuth gives nothing on the leader.
      assert.equal(leader.tree.hasSession(withAuth.sessionId), true);
      assert.throws(() => leader.checkPermission(withAuth.sessionId, '/guarded', Perms.Read), NoAuthError);
      followers[0]!.checkPermission(withAuth.sessionId, '/guarded', Perms.Read);
      // The session's end forgets its identities (a closed session's id cannot reuse them).
      await withAuth.close();
      assert.throws(() => followers[0]!.checkPermission(withAuth.sessionId, '/guarded', Perms.Read),
        NoAuthError);
      await assert.rejects(withAuth.addAuth('digest', 'alice:secret'));
    } finally {
      await close();
    }
  });

test('ACLs survive a restart: recovered from the snapshot and from log replay',
  withTempDirectory('zab-acl', async (dataDir) => {
    const first = await Replica.open({ dataDir });
    try {
      const owner = await LocalCoordinationClient.connect(first, 10_000);
      await owner.addAuth('digest', 'alice:secret');
      await owner.create('/in-snapshot', text('s'), { acl: [{ perms: Perms.All, scheme: 'auth', id: '' }] });
      await first.takeSnapshot();
      await owner.create('/in-log', text('l'), { acl: [{ perms: Perms.Read | Perms.Write, scheme: 'auth', id: '' }] });
      await owner.setAcl('/in-snapshot', [{ perms: Perms.Read | Perms.Admin, scheme: 'digest', id: ALICE_ID }]);
      await owner.close();
    } finally {
      await first.close();
    }
    const second = await Replica.open({ dataDir });
    try {
      assert.deepEqual(second.tree.getAcl('/in-snapshot')?.acl,
        [{ perms: Perms.Read | Perms.Admin, scheme: 'digest', id: ALICE_ID }]);
      assert.deepEqual(second.tree.getAcl('/in-log')?.acl,
        [{ perms: Perms.Read | Perms.Write, scheme: 'digest', id: ALICE_ID }]);
      const stranger = await LocalCoordinationClient.connect(second, 10_000);
      await assert.rejects(stranger.getData('/in-log'), isNoAuth('/in-log'));
      await assert.rejects(stranger.setData('/in-log', text('x')), isNoAuth('/in-log'));
      const owner = await LocalCoordinationClient.connect(second, 10_000);
      await owner.addAuth('digest', 'alice:secret');
      assert.equal((await owner.setData('/in-log', text('again'))).version, 1);
      await assert.rejects(owner.setData('/in-snapshot', text('x')), isNoAuth('/in-snapshot'));
      assert.equal((await owner.getData('/in-snapshot')).data.toString(), 's');
    } finally {
      await second.close();
    }
  }));

test('CoordinationService.addAuth: the app\'s session acts as its digest identity; superDigest via ZabModule',
  async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ZabModule.forRoot({ dataDir: ':memory:', superDigest: SUPER_DIGEST })],
    }).compile();
    await moduleRef.init();
    try {
      const coordination = moduleRef.get(CoordinationService);
      const handle = moduleRef.get<WorkerReplicaHandle>(ZAB_REPLICA);
      assert.equal(handle.options.superDigest, SUPER_DIGEST);
      await coordination.addAuth('digest', 'alice:secret');
      await coordination.create('/app', '{}', { acl: [{ perms: Perms.All, scheme: 'auth', id: '' }] });
      await coordination.set('/app', '{"v":1}');
      const stranger = await handle.connect(10_000);
      await assert.rejects(stranger.getData('/app'), isNoAuth('/app'));
      await stranger.addAuth('digest', 'super:test');
      assert.equal((await stranger.getData('/app')).data.toString(), '{"v":1}');
      await assert.rejects(coordination.addAuth('sasl', 'x'), AuthFailedError);
      await stranger.close();
    } finally {
      await moduleRef.close();
    }
  });
