/**
 * Goal: zkCli.sh from Apache ZooKeeper 3.8 (Debian's package, a client nobody here wrote)
 * works against a 3-replica nestjs-zab ensemble: create (-e, -s, -c, -t), ls, get -s, get -w
 * and set with the watch firing, stat, addWatch (recursive) firing, setAcl/getAcl round-trip,
 * delete and deleteall; a second zkCli on another member then sees the writes (after sync)
 * and no longer the first session's ephemeral. ACLs: after `addauth digest`, `setAcl` with
 * the auth and digest schemes and `getAcl` showing the digest identity; a zkCli session on
 * another member without that identity gets zkCli's "Insufficient permission" (NoAuth) on
 * get, set and getAcl, still after adding a wrong password, and reads once it adds the right one;
 * with `world:anyone:r` beside the digest it reads but may not set, and getAcl shows `alice:x`.
 * Method: `ClientPortEnsemble` (three EnsembleReplicas, client ports on 127.0.0.1:0); each
 * zkCli run reads a batch of commands from stdin (one JVM start per batch), bounded by a
 * timeout; a run still alive in `after` is killed by its pid.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { ClientPortEnsemble } from './fixtures/client-port-ensemble.js';
import { SHARED_MACHINE_TIMING } from './compat/foreign-programs.js';

const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';
const RUN_MS = 60_000;

let ensemble: ClientPortEnsemble;
const running = new Set<ChildProcess>();

/** Runs zkCli against `server` with `commands` on stdin; resolves with its output. */
async function zkCli(server: string, commands: string[]): Promise<string> {
  const child = spawn(ZKCLI, ['-server', server], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  const out: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  // zkCli prints results on stdout and confirmations and errors ("Created /a") on stderr.
  child.stderr!.on('data', (chunk: Buffer) => out.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.stdin!.end(commands.join('\n') + '\nquit\n');
  try {
    await withTimeout(exited, RUN_MS, `zkCli ${commands[0]}...`);
  } finally {
    running.delete(child);
  }
  return Buffer.concat(out).toString();
}

before(async () => {
  assert.ok(existsSync(ZKCLI), `${ZKCLI} is installed (Debian package zookeeper; .ci/run installs it)`);
  ensemble = await ClientPortEnsemble.start(SHARED_MACHINE_TIMING);
});

after(async () => {
  for (const child of running) if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await ensemble?.close();
});

test('zkCli creates, reads, watches, sets ACLs and deletes on one member', async () => {
  const out = await zkCli(ensemble.connectString([1]), [
    'create /cli hello',
    'create -e /cli/eph e',
    'create -s /cli/seq- s',
    'create -c /cli/container',
    'create -t 60000 /cli/ttl t',
    'ls /cli',
    'get -s /cli',
    'get -w /cli',
    'set /cli world',
    'stat /cli',
    'addWatch -m PERSISTENT_RECURSIVE /cli/container',
    'create /cli/container/child c',
    'setAcl /cli/ttl world:anyone:rw',
    'getAcl /cli/ttl',
    'delete /cli/ttl',
    'deleteall /cli/container',
    'ls /cli',
  ]);
  for (const path of ['/cli', '/cli/eph', '/cli/container', '/cli/ttl']) {
    assert.match(out, new RegExp(`^Created ${path}$`, 'm'));
  }
  assert.match(out, /^Created \/cli\/seq-\d{10}$/m);
  assert.match(out, /^\[container, eph, seq-\d{10}, ttl\]$/m, 'ls lists the children sorted');
  assert.match(out, /^hello$/m);
  assert.match(out, /^numChildren = 4$/m);
  assert.match(out, /WatchedEvent state:SyncConnected type:NodeDataChanged path:\/cli$/m);
  assert.match(out, /^dataVersion = 1$/m);
  assert.match(out, /WatchedEvent state:SyncConnected type:NodeCreated path:\/cli\/container\/child$/m);
  assert.match(out, /^'world,'anyone\n: rw$/m);
  assert.match(out, /^\[eph, seq-\d{10}\]$/m, 'after delete and deleteall');
  assert.doesNotMatch(out, /KeeperErrorCode|Exception|ERROR/);
});

test('another member serves the same tree to a second zkCli, without the closed session\'s ephemeral', async () => {
  const out = await zkCli(ensemble.connectString([2]), ['sync /cli', 'ls /cli', 'get /cli', 'stat /nothing']);
  assert.match(out, /^\[seq-\d{10}\]$/m);
  assert.match(out, /^world$/m);
  assert.match(out, /Node does not exist: \/nothing/);
});

const ALICE_DIGEST = `alice:${createHash('sha1').update('alice:secret').digest('base64')}`;

test('zkCli addauth digest, setAcl auth:: and digest:, getAcl shows the identity', async () => {
  const out = await zkCli(ensemble.connectString([1]), [
    'create /acl-auth a',
    'create /acl-digest d',
    'create /acl-shared s',
    'addauth digest alice:secret',
    `setAcl /acl-shared digest:${ALICE_DIGEST}:cdrwa,world:anyone:r`,
    'setAcl /acl-auth auth::cdrwa',
    'getAcl /acl-auth',
    `setAcl /acl-digest digest:${ALICE_DIGEST}:cdrwa`,
    'getAcl /acl-digest',
    'get /acl-auth',
    'set /acl-digest d2',
    'get /acl-digest',
  ]);
  const aclLines = out.match(new RegExp(`^'digest,'${escape(ALICE_DIGEST)}\n: cdrwa$`, 'gm')) ?? [];
  assert.equal(aclLines.length, 2, `getAcl prints alice's digest with cdrwa for both nodes\n${out}`);
  assert.match(out, /^a$/m);
  assert.match(out, /^d2$/m);
  assert.doesNotMatch(out, /Insufficient permission|KeeperErrorCode|Exception|ERROR/);
});

test('a zkCli session on another member without the identity gets Insufficient permission, until it adds it', async () => {
  const out = await zkCli(ensemble.connectString([2]), [
    'sync /acl-digest',
    'get /acl-auth',
    'set /acl-auth x',
    'get /acl-digest',
    'set /acl-digest x',
    'getAcl /acl-digest',
    'get /acl-shared',
    'set /acl-shared x',
    'getAcl /acl-shared',
    'addauth digest alice:wrong',
    'get /acl-digest',
    'addauth digest alice:secret',
    'get /acl-digest',
    'set /acl-auth by-alice',
    'get /acl-auth',
  ]);
  const denied = out.match(/^Insufficient permission : \/acl-\w+$/gm) ?? [];
  assert.deepEqual(denied, [
    'Insufficient permission : /acl-auth',
    'Insufficient permission : /acl-auth',
    'Insufficient permission : /acl-digest',
    'Insufficient permission : /acl-digest',
    'Insufficient permission : /acl-digest',
    'Insufficient permission : /acl-shared',
    'Insufficient permission : /acl-digest',
  ], `get, set and getAcl are refused without alice's identity, also with a wrong password\n${out}`);
  assert.match(out, /^s$/m, 'world:anyone:r lets anyone read');
  assert.match(out, /^'digest,'alice:x\n: cdrwa\n'world,'anyone\n: r$/m, 'getAcl without ADMIN shows the digest redacted');
  assert.match(out, /^d2$/m, 'readable once the right password is added');
  assert.match(out, /^by-alice$/m);
  assert.doesNotMatch(out, /KeeperErrorCode|Exception|ERROR/);
});

/** `text` with regular-expression metacharacters escaped. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
