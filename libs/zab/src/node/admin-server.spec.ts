/**
 * Goal: the admin endpoint answers ZooKeeper-AdminServer-like JSON for srvr, mntr and ruok
 * with figures that match the replica, refuses everything else with a JSON error, and no
 * bad input (wrong method, unknown command, long URL, garbage bytes, a failing status source)
 * can crash it or the replica.
 * Method: a table over the pure `adminResponse`; then a real endpoint on an OS-assigned
 * loopback port over an in-memory replica, queried with fetch and with raw sockets.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { AdminServer, adminResponse } from './admin-server.js';
import { Replica } from './replica.js';
import { LocalCoordinationClient } from './local-client.js';
import { ZAB_VERSION, type ReplicaStatus } from './replica-status.js';
import { withTimeout } from '../testing/with-timeout.js';
import { withTempDirectory } from '../testing/temp-directory.js';
import { FaultInjectingFileSystem } from '../testing/fault-injecting-file-system.js';
import { openFileStorage } from '../storage/index.js';
import { ReplicaStoppedError } from './replica-errors.js';

const STATUS: ReplicaStatus = {
  version: ZAB_VERSION, serverId: 3, role: 'participant', mode: 'standalone', state: 'serving', established: true, leaderId: 3, commitLagTxns: 0,
  failure: undefined, epoch: 2, lastZxid: 0x200000005n, digest: 0xabcn, znodeCount: 9, sessionCount: 2,
  watchCount: 4,
  ephemeralsCount: 1, outstandingRequests: 0, proposalCount: 5, commitCount: 5, snapshotsTaken: 0,
  latency: { minMs: 0.1, avgMs: 0.5, maxMs: 2, count: 5 }, followers: 0, syncedFollowers: 0,
  pendingSyncs: 3, ensembleSize: 1, uptimeMs: 1234,
};

test('adminResponse: commands, aliases, errors', async () => {
  const status = (): ReplicaStatus => STATUS;
  type Case = [method: string, url: string, code: number, fields: Record<string, unknown>];
  const cases: Case[] = [
    ['GET', '/commands/srvr', 200, {
      command: 'srvr', error: null, server_id: 3, server_state: 'standalone', epoch: 2,
      established: true, leader_id: 3,
      last_zxid: '0x200000005', digest: '0xabc', node_count: 9, outstanding_requests: 0,
      min_latency: 0.1,
      avg_latency: 0.5, max_latency: 2,
    }],
    ['GET', '/commands/server_stats', 200, { command: 'server_stats', server_id: 3 }],
    ['GET', '/commands/mntr?x=1', 200, {
      command: 'mntr', established: true, leader_id: 3, znode_count: 9, global_sessions: 2, watch_count: 4, ephemerals_count: 1,
      followers: 0, synced_followers: 0, pending_syncs: 3, proposal_count: 5, commit_count: 5,
      server_state: 'standalone', version: ZAB_VERSION,
    }],
    ['GET', '/commands/monitor/', 200, { command: 'monitor', znode_count: 9 }],
    ['GET', '/commands/ruok', 200, { command: 'ruok', error: null }],
    ['GET', '/commands', 200, { commands: ['srvr', 'server_stats', 'mntr', 'monitor', 'ruok'] }],
    ['GET', '/commands/stat', 404, {
      command: 'stat',
      error: 'unknown command "stat"; ' +
        'try one of srvr, server_stats, mntr, monitor, ruok under /commands/',
    }],
    ['GET', '/commands/../etc', 404, { command: null }],
    ['GET', '/', 404, { command: null }],
    ['POST', '/commands/srvr', 405, { error: 'method POST not allowed; use GET' }],
    ['HEAD', '/commands/srvr', 405, {}],
  ];
  for (const [method, url, code, fields] of cases) {
    const answer = await adminResponse(method, url, status);
    assert.equal(answer.statusCode, code, `${method} ${url}`);
    for (const [key, value] of Object.entries(fields)) {
      assert.deepEqual(answer.body[key], value, `${method} ${url} ${key}`);
    }
  }
  const failing = await adminResponse('GET', '/commands/srvr', () => {
    throw new Error('boom');
  });
  assert.deepEqual(failing, {
    statusCode: 500,
    body: { command: 'srvr', error: 'status unavailable: boom' },
  });
});

test('the reported version is package.json\'s', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  assert.equal(ZAB_VERSION, pkg.version);
});

const replica = await Replica.open({ dataDir: ':memory:', id: 7 });
const client = await LocalCoordinationClient.connect(replica, 10_000);
const server = await AdminServer.start({ port: 0, status: () => replica.status() });
after(async () => {
  await server.close();
  await client.close();
  await replica.close();
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('srvr and mntr report the replica: znodes, sessions, watches, ephemerals', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  await client.create('/a', Buffer.from('x'));
  await client.create('/a/e', Buffer.alloc(0), { mode: 'ephemeral' });
  await client.getData('/a', () => undefined);
  await client.exists('/b', () => undefined);
  const srvr = (await get('/commands/srvr')).body;
  assert.equal(srvr.server_id, 7);
  assert.equal(srvr.server_state, 'standalone');
  assert.equal(srvr.state, 'serving');
  assert.equal(srvr.node_count, replica.tree.nodeCount);
  assert.equal(srvr.last_zxid, '0x' + replica.lastZxid.toString(16));
  assert.equal(srvr.digest, '0x' + replica.tree.digest().toString(16));
  assert.equal(srvr.epoch, Number(replica.lastZxid >> 32n));
  assert.equal(srvr.outstanding_requests, 0);
  const [min, avg, max] = [srvr.min_latency, srvr.avg_latency, srvr.max_latency] as number[];
  assert.ok(min! >= 0 && min! <= avg! && avg! <= max!, `latency ${min}/${avg}/${max}`);
  const mntr = (await get('/commands/mntr')).body;
  assert.equal(mntr.znode_count, 5); // '/', '/zookeeper', '/zookeeper/quota', '/a', '/a/e'
  assert.equal(mntr.global_sessions, 1);
  assert.equal(mntr.ephemerals_count, 1);
  assert.equal(mntr.watch_count, 2);
  assert.equal(mntr.proposal_count, 3); // createSession, two creates
  assert.equal(mntr.commit_count, 3);
  assert.deepEqual([mntr.followers, mntr.synced_followers, mntr.ensemble_size], [0, 0, 1]);
  assert.equal((await get('/commands/ruok')).status, 200);
});

test('outstanding requests count writes submitted and not yet answered', async () => {
  const writes = [1, 2, 3].map((i) => client.create(`/o${i}`, Buffer.alloc(0)));
  assert.equal(replica.status().outstandingRequests, 3);
  await Promise.all(writes);
  assert.equal(replica.status().outstandingRequests, 0);
  assert.equal(replica.status().latency.count, replica.status().commitCount);
});

test('unknown commands and other methods get JSON errors', async () => {
  const unknown = await get('/commands/dump');
  assert.equal(unknown.status, 404);
  assert.match(String(unknown.body.error), /unknown command "dump"/);
  const body = 'x'.repeat(100_000);
  const post = await fetch(`${server.url}/commands/srvr`, { method: 'POST', body });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
  const long = await fetch(`${server.url}/commands/${'a'.repeat(2000)}`);
  assert.equal(long.status, 414);
});

/** Writes raw bytes, returns what the server answered before closing the connection. */
function raw(bytes: string): Promise<string> {
  const url = new URL(server.url);
  return withTimeout(new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(url.port), url.hostname, () => socket.end(bytes));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  }), 10_000, 'the admin endpoint to answer raw bytes');
}

test('garbage and malformed requests are refused; the endpoint keeps serving', async () => {
  assert.match(await raw('\x00\x01\x02 not http at all\r\n\r\n'), /^HTTP\/1\.1 400/);
  const hugeHeader = `GET /commands/srvr HTTP/1.1\r\nHost: x\r\nX: ${'y'.repeat(20_000)}\r\n\r\n`;
  assert.match(await raw(hugeHeader), /^HTTP\/1\.1 4\d\d/);
  assert.match(await raw('GET /commands/ruok HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200/);
  assert.equal((await get('/commands/srvr')).body.state, 'serving');
});

test('a taken port is a clear error; close is idempotent', async () => {
  await assert.rejects(
    AdminServer.start({ port: server.port, status: () => replica.status() }),
    new RegExp('admin endpoint cannot listen on 127\\.0\\.0\\.1:\\d+: EADDRINUSE; ' +
      'choose another adminPort \\(0 picks a free one\\) or adminHost'),
  );
  const extra = await AdminServer.start({ port: 0, status: () => replica.status() });
  await extra.close();
  await extra.close();
});

test('a fail-stopped replica says so in srvr: state failed, the cause, nothing outstanding',
  withTempDirectory('zab-admin', async (dataDir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const storage = await openFileStorage(dataDir, { fileSystem });
    const failing = await Replica.open({ dataDir }, { storage });
    const endpoint = await AdminServer.start({ port: 0, status: () => failing.status() });
    try {
      fileSystem.inject({ operation: 'datasync', nth: 1, code: 'EIO', pathContains: 'log' });
      await assert.rejects(failing.createSession(10_000, false), ReplicaStoppedError);
      const response = await fetch(`${endpoint.url}/commands/srvr`);
      const srvr = (await response.json()) as Record<string, unknown>;
      assert.equal(srvr.state, 'failed');
      assert.match(String(srvr.failure), /EIO/);
      assert.equal(srvr.outstanding_requests, 0);
      const ruok = await fetch(`${endpoint.url}/commands/ruok`);
      assert.equal(ruok.status, 200, 'the process is alive');
    } finally {
      await endpoint.close();
      await failing.close();
    }
  }),
);
