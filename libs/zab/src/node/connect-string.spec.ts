/**
 * Goal: connection strings parse like ZooKeeper's ConnectStringParser (servers, default port,
 * IPv6 brackets, chroot) with clear errors; the host order is a shuffle then round-robin; the
 * chroot maps paths both ways; `connect` options reject replica options next to them.
 * Method: tables of inputs and expected values; a seeded sequence as the randomness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicaConfigurationError } from './replica-options.js';
import { resolveZabOptions } from './connect-options.js';
import { ConnectStringError, HostProvider, parseConnectString, toClientPath, toServerPath } from './connect-string.js';

test('connection strings: servers, default port, IPv6, chroot', () => {
  assert.deepEqual(parseConnectString('a:1,b:2/app/x'), {
    servers: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }], chroot: '/app/x',
  });
  assert.deepEqual(parseConnectString('h'), { servers: [{ host: 'h', port: 2181 }], chroot: '' });
  assert.deepEqual(parseConnectString('[::1]:7,h:8/'), {
    servers: [{ host: '::1', port: 7 }, { host: 'h', port: 8 }], chroot: '',
  });
  for (const bad of ['', 'h:0', 'h:99999', 'h:x', '/only-chroot', 'h:1/bad//chroot', 'h:1/trailing/']) {
    assert.throws(() => parseConnectString(bad), ConnectStringError, bad);
  }
});

test('hosts: shuffled once, then round-robin; "given" keeps the order', () => {
  const servers = [1, 2, 3].map((port) => ({ host: 'h', port }));
  const given = new HostProvider(servers, null);
  assert.deepEqual([1, 2, 3, 4].map(() => given.nextServer().port), [1, 2, 3, 1]);
  const shuffled = new HostProvider(servers, () => 0);
  const order = [1, 2, 3, 4, 5, 6].map(() => shuffled.nextServer().port);
  assert.deepEqual(order.slice(0, 3), [2, 3, 1]);
  assert.deepEqual(order.slice(3), order.slice(0, 3));
});

test('chroot maps paths both ways', () => {
  assert.equal(toServerPath('/app', '/'), '/app');
  assert.equal(toServerPath('/app', '/x'), '/app/x');
  assert.equal(toClientPath('/app', '/app'), '/');
  assert.equal(toClientPath('/app', '/app/x'), '/x');
  assert.equal(toClientPath('', '/x'), '/x');
});

test('connect options: replica options next to connect are errors; auth needs connect', () => {
  assert.deepEqual(resolveZabOptions({ connect: 'h:1', sessionTimeoutMs: 5000 }), {
    mode: 'connect', connect: { connect: 'h:1', sessionTimeoutMs: 5000, connectTimeoutMs: 15_000, auth: [] },
  });
  assert.throws(() => resolveZabOptions({ connect: 'h:1', dataDir: '/d', tickMs: 100 }), (e: unknown) =>
    e instanceof ReplicaConfigurationError && e.problems.length === 2 && /dataDir is a replica option/.test(e.message));
  assert.throws(() => resolveZabOptions({ connect: 'h:0' }), /invalid port/);
  assert.throws(() => resolveZabOptions({ auth: [{ scheme: 'digest', credentials: 'u:p' }] }), /auth applies only with connect/);
  assert.throws(() => resolveZabOptions({ connect: 'h:1', auth: [{ scheme: '', credentials: 1 }] as never }), /auth must be an array/);
  assert.equal(resolveZabOptions({ dataDir: ':memory:' }).mode, 'replica');
});
