/**
 * Goal: option validation says what is wrong and how to fix it, for every problem at once,
 * and defaults follow ZooKeeper (session bounds 2 and 20 ticks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ReplicaConfigurationError,
  replicaOptionWarnings,
  resolveReplicaOptions,
} from './replica-options.js';

test('no options gives the durable default in ./.zab/1 with ZooKeeper session bounds', () => {
  const options = resolveReplicaOptions(undefined);
  assert.equal(options.dataDir, './.zab/1');
  assert.equal(options.minSessionTimeoutMs, 2 * options.tickMs);
  assert.equal(options.maxSessionTimeoutMs, 20 * options.tickMs);
  assert.equal(options.dataBytesMax, 1_048_576);
});

test('session bounds follow a custom tick unless given', () => {
  const options = resolveReplicaOptions({ tickMs: 100 });
  assert.equal(options.minSessionTimeoutMs, 200);
  assert.equal(options.maxSessionTimeoutMs, 2000);
});

test('every problem is reported, each with a hint', () => {
  assert.throws(
    () => resolveReplicaOptions({ tickMs: -1, dataDir: '', snapshotsRetained: 1.5, tickMS: 3 } as never),
    (error: unknown) => {
      assert.ok(error instanceof ReplicaConfigurationError);
      assert.equal(error.problems.length, 4);
      assert.match(error.message, /tickMs must be an integer from 10 to 600000; got -1/);
      assert.match(error.message, /dataDir must be a non-empty string/);
      assert.match(error.message, /snapshotsRetained must be an integer/);
      assert.match(error.message, /unknown option "tickMS"; known options: dataDir, tickMs/);
      return true;
    },
  );
});

test('min session timeout above max is rejected with the fix', () => {
  assert.throws(
    () => resolveReplicaOptions({ minSessionTimeoutMs: 5000, maxSessionTimeoutMs: 4000 }),
    /minSessionTimeoutMs \(5000\) must not exceed maxSessionTimeoutMs \(4000\)/,
  );
});

test('without ensemble options a replica is standalone as before: id 1, no endpoint', () => {
  const options = resolveReplicaOptions({});
  assert.equal(options.id, 1);
  assert.equal(options.role, 'participant');
  assert.equal(options.ensemble, undefined);
  assert.equal(options.secret, undefined);
  assert.equal(options.adminPort, undefined);
  assert.equal(options.adminHost, '127.0.0.1');
  assert.deepEqual(replicaOptionWarnings(options), []);
});

test('a one-member ensemble runs standalone; its id names the default data directory', () => {
  const options = resolveReplicaOptions({ ensemble: '3=127.0.0.1:2890', adminPort: 0 });
  assert.equal(options.id, 3);
  assert.equal(options.dataDir, './.zab/3');
  assert.deepEqual(options.ensemble, [
    { id: 3, host: '127.0.0.1', port: 2890, role: 'participant' },
  ]);
  assert.deepEqual(resolveReplicaOptions(options), options, 'resolved options resolve to same');
});

test('several members are accepted with either isolation (issue 3 item 10)', () => {
  const ensemble = '1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890';
  const worker = resolveReplicaOptions({ id: 1, ensemble });
  assert.equal(worker.isolation, 'worker');
  assert.equal(worker.ensemble?.length, 3);
  const main = resolveReplicaOptions({ id: 2, ensemble, isolation: 'main' });
  assert.equal(main.ensemble?.length, 3);
  assert.equal(main.id, 2);
});

test('ensemble, secret and admin problems are reported together with the others', () => {
  assert.throws(
    () => resolveReplicaOptions({
      id: 5, ensemble: '1=h:2888,2=h:0', secret: '', adminPort: 70000, adminHost: '', tickMs: 1,
    }),
    (error: unknown) => {
      assert.ok(error instanceof ReplicaConfigurationError);
      assert.deepEqual(error.problems.map((p) => p.slice(0, 40)), [
        'ensemble entry 2 ("2=h:0"): port "0" mus',
        'tickMs must be an integer from 10 to 600',
        'secret must be a non-empty string shared',
        'adminPort must be an integer from 0 to 6',
        'adminHost must be a host name or an IP a',
      ]);
      return true;
    },
  );
});

test('warnings: short secret, exposed admin endpoint', () => {
  const options = resolveReplicaOptions({ secret: 'short', adminPort: 0, adminHost: '0.0.0.0' });
  const warnings = replicaOptionWarnings(options);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /the secret has only 5 characters; use at least 16 random ones/);
  assert.match(warnings[1]!, /the admin endpoint binds to 0\.0\.0\.0 and has no authentication/);
});

test('isolation defaults to the worker thread and takes only worker or main', () => {
  assert.equal(resolveReplicaOptions(undefined).isolation, 'worker');
  assert.equal(resolveReplicaOptions({ isolation: 'main' }).isolation, 'main');
  assert.throws(
    () => resolveReplicaOptions({ isolation: 'process' as never }),
    /isolation must be 'worker' or 'main'; got "process"/,
  );
});

test('client port options: off by default, ZooKeeper\'s defaults, validated with hints', () => {
  const defaults = resolveReplicaOptions(undefined);
  assert.equal(defaults.clientPort, undefined);
  assert.equal(defaults.clientHost, '0.0.0.0');
  assert.equal(defaults.clientRequestBytesMax, 1_048_576);
  assert.equal(defaults.clientConnectionsPerHostMax, 60);
  assert.deepEqual(defaults.fourLetterWords, ['srvr']);
  assert.equal(resolveReplicaOptions({ clientPort: 0, fourLetterWords: ['*'] }).clientPort, 0);
  assert.throws(
    () => resolveReplicaOptions({ clientPort: 70000, clientHost: '', fourLetterWords: ['ruok', 'kill'],
      clientRequestBytesMax: 10 }),
    (error: unknown) => {
      assert.ok(error instanceof ReplicaConfigurationError);
      assert.equal(error.problems.length, 4);
      assert.match(error.message, /clientPort must be an integer from 0 to 65535 \(0: any free port\); got 70000/);
      assert.match(error.message, /clientHost must be a host name or an IP address/);
      assert.match(error.message, /fourLetterWords must be a list of ruok, srvr/);
      assert.match(error.message, /clientRequestBytesMax must be an integer from 1024/);
      return true;
    },
  );
});

test('superDigest: absent by default; user:base64(sha1) accepted; anything else rejected unechoed', () => {
  assert.equal(resolveReplicaOptions({}).superDigest, undefined);
  const digest = 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=';
  assert.equal(resolveReplicaOptions({ superDigest: digest }).superDigest, digest);
  for (const bad of ['super:test', 'D/InIHSb7yEEbrWz8b9l71RjZJU=', 'super:D/InIHSb7yEEbrWz8b9l71RjZJU', '', 42]) {
    assert.throws(() => resolveReplicaOptions({ superDigest: bad as string }), (e: unknown) =>
      e instanceof ReplicaConfigurationError && e.problems.length === 1 &&
      /^superDigest must be user:base64\(sha1\(user:password\)\)/.test(e.problems[0]!) &&
      (typeof bad !== 'string' || bad === '' || !e.message.includes(bad)), String(bad));
  }
});
