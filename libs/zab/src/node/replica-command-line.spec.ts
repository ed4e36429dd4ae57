/**
 * Goal: the replica server's command line turns flags and ZAB_* variables into validated
 * options, flags winning over variables, and reports every mistake at once naming the flag
 * or variable it came from (never echoing the secret).
 * Method: tables of (argv, env) with the options or the problems expected; the function is
 * pure, so no process is started here (test/replica-app.e2e-spec.ts runs the real app).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseReplicaCommandLine,
  REPLICA_USAGE,
  type ReplicaCommandLine,
} from './replica-command-line.js';
import type { ReplicaOptions } from './replica-options.js';

function run(result: ReplicaCommandLine): ReplicaOptions {
  assert.equal(result.kind, 'run', JSON.stringify(result));
  return (result as { options: ReplicaOptions }).options;
}

function invalid(result: ReplicaCommandLine): string[] {
  assert.equal(result.kind, 'invalid', JSON.stringify(result));
  return (result as { problems: string[] }).problems;
}

test('every setting as a flag', () => {
  const options = run(parseReplicaCommandLine([
    '--id', '2', '--ensemble', '2=127.0.0.1:2889', '--data-dir', '/tmp/z2',
    '--admin-port', '0', '--admin-host', '::1', '--secret', 's3cret-s3cret-s3cret',
    '--tick-ms', '100', '--zab-tick-ms', '20',
    '--role', 'participant',
  ], {}));
  assert.equal(options.id, 2);
  assert.deepEqual(options.ensemble, [
    { id: 2, host: '127.0.0.1', port: 2889, role: 'participant' },
  ]);
  assert.equal(options.role, 'participant');
  assert.equal(options.dataDir, '/tmp/z2');
  assert.equal(options.adminPort, 0);
  assert.equal(options.adminHost, '::1');
  assert.equal(options.secret, 's3cret-s3cret-s3cret');
  assert.equal(options.tickMs, 100);
  assert.equal(options.zabTickMs, 20);
  assert.equal(options.minSessionTimeoutMs, 200);
});

test('every setting as an environment variable; --flag=value works too', () => {
  const env = {
    ZAB_ID: '1', ZAB_ENSEMBLE: '1=127.0.0.1:2888', ZAB_DATA_DIR: '/tmp/z1', ZAB_ADMIN_PORT: '8081',
    ZAB_ADMIN_HOST: '127.0.0.2', ZAB_SECRET: 'x'.repeat(20), ZAB_TICK_MS: '500',
    ZAB_ROLE: 'participant',
  };
  const options = run(parseReplicaCommandLine([], env));
  assert.deepEqual(
    [options.id, options.dataDir, options.adminPort, options.adminHost, options.secret,
      options.tickMs, options.role],
    [1, '/tmp/z1', 8081, '127.0.0.2', 'x'.repeat(20), 500, 'participant'],
  );
  assert.equal(run(parseReplicaCommandLine(['--tick-ms=300'], env)).tickMs, 300);
  assert.equal(run(parseReplicaCommandLine([], { ZAB_ZAB_TICK_MS: '75' })).zabTickMs, 75);
  assert.equal(run(parseReplicaCommandLine([], {})).zabTickMs, 25);
});

test('flags win over variables; empty variables count as unset', () => {
  const env = { ZAB_DATA_DIR: '/from/env', ZAB_TICK_MS: '500', ZAB_ADMIN_PORT: '', ZAB_ID: '' };
  const options = run(parseReplicaCommandLine(['--data-dir', '/from/flag'], env));
  assert.equal(options.dataDir, '/from/flag');
  assert.equal(options.tickMs, 500);
  assert.equal(options.adminPort, undefined);
  assert.equal(options.id, 1);
  const flagWins = parseReplicaCommandLine(['--role', 'participant'], { ZAB_ROLE: 'observer' });
  assert.equal(run(flagWins).role, 'participant');
});

test('defaults: standalone id 1 in ./.zab/1, no admin endpoint; --id moves the data dir', () => {
  const options = run(parseReplicaCommandLine([], {}));
  assert.deepEqual(
    [options.id, options.dataDir, options.adminPort, options.ensemble],
    [1, './.zab/1', undefined, undefined],
  );
  assert.equal(run(parseReplicaCommandLine(['--id', '4'], {})).dataDir, './.zab/4');
});

test('--help and -h give the usage, whatever else is there', () => {
  for (const argv of [['--help'], ['-h'], ['--bogus', '--help']]) {
    assert.deepEqual(parseReplicaCommandLine(argv, {}), { kind: 'help', text: REPLICA_USAGE });
  }
  for (const word of [
    '--id', '--ensemble', '--data-dir', '--admin-port', '--observer', '--secret', '--tick-ms',
    'ZAB_ID', 'ZAB_ENSEMBLE', 'ZAB_DATA_DIR', 'ZAB_ADMIN_PORT', 'ZAB_ROLE', 'ZAB_SECRET',
    'ZAB_TICK_MS',
  ]) {
    assert.ok(REPLICA_USAGE.includes(word), word);
  }
});

const BAD: Array<[argv: string[], env: Record<string, string>, problems: RegExp[]]> = [
  [['--bogus', '1'], {}, [
    /^unknown flag --bogus; see --help for the flags$/,
    /^unexpected argument at position 2 \(not shown, it may be a secret\); every setting is a flag/,
  ]],
  [['--secrte', 'hunter2-hunter2-hunter2'], {}, [
    /^unknown flag --secrte/,
    /^unexpected argument at position 2 \(not shown/,
  ]],
  [['--id'], {}, [/^--id needs a value, e.g\. --id 1$/]],
  [['--data-dir', '--id', '1'], {}, [/^--data-dir needs a value, e.g\. --data-dir/]],
  [['--id', 'one', '--tick-ms', '1.5'], {}, [
    /^--id: "one" is not a whole number; e\.g\. --id 1$/,
    /^--tick-ms: "1\.5" is not a whole number; e\.g\. --tick-ms 2000$/,
  ]],
  [[], { ZAB_ADMIN_PORT: 'http' }, [
    /^ZAB_ADMIN_PORT: "http" is not a whole number; e\.g\. --admin-port 8081$/,
  ]],
  [['--id', '1', '--id', '2'], {}, [/^--id conflicts with --id given before it; give it once$/]],
  [['--observer', '--role', 'participant'], {}, [
    /^--role conflicts with --observer given before it/,
  ]],
  [['--observer=yes'], {}, [/^--observer takes no value/]],
  [['--zab-tick-ms', '2'], {}, [
    /^--zab-tick-ms: zabTickMs must be an integer from 5 to 60000; got 2/,
  ]],
  [['--tick-ms', '5', '--admin-port', '70000'], {}, [
    /^--tick-ms: tickMs must be an integer from 10 to 600000; got 5/,
    /^--admin-port: adminPort must be an integer from 0 to 65535 \(0: any free port\); got 70000$/,
  ]],
  [['--ensemble', '1=127.0.0.1:2888,2=127.0.0.1'], { ZAB_ID: '1' }, [
    /^--ensemble: ensemble entry 2 \("2=127\.0\.0\.1"\) is malformed/,
  ]],
  [['--id', '4', '--ensemble', '1=h:1,2=h:2,3=h:3'], {}, [
    /^--id: id 4 is not in the ensemble \(ids 1, 2, 3\)/,
  ]],
  [['--observer'], {}, [
    /^--observer: role "observer" needs an ensemble with participants to follow/,
  ]],
  [[], { ZAB_ROLE: 'leader' }, [
    /^ZAB_ROLE: role must be "participant" or "observer"; got "leader"$/,
  ]],
];

test('an ensemble of several members runs (the app drives it on its main thread)', () => {
  const parsed = parseReplicaCommandLine(
    ['--id', '2', '--ensemble', '1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890'], {});
  assert.equal(parsed.kind, 'run');
  const observer = parseReplicaCommandLine(
    ['--id', '2', '--observer', '--ensemble', '1=h:2888,2=h:2889:observer'], {});
  assert.equal(observer.kind, 'run');
  if (observer.kind === 'run') assert.equal(observer.options.role, 'observer');
});

for (const [argv, env, expected] of BAD) {
  test(`rejects ${JSON.stringify(argv)} ${JSON.stringify(env)}`, () => {
    const problems = invalid(parseReplicaCommandLine(argv, env));
    assert.equal(problems.length, expected.length, JSON.stringify(problems, null, 2));
    expected.forEach((pattern, i) => assert.match(problems[i]!, pattern));
  });
}

test('the secret never appears in a message', () => {
  const secret = 'do-not-print-me-0123456789';
  const problems = invalid(parseReplicaCommandLine(['--secret', secret, '--tick-ms', 'x'], {}));
  const again = invalid(parseReplicaCommandLine(['--tick-ms', '5'], { ZAB_SECRET: secret }));
  const typo = invalid(parseReplicaCommandLine(['--secrte', secret], {}));
  assert.ok(![...problems, ...again, ...typo].some((p) => p.includes(secret)));
});

test('warnings: unknown ZAB_ variables, even voter counts, short secrets', () => {
  const result = parseReplicaCommandLine(['--secret', 'short'], { ZAB_DATADIR: '/x', ZAB_ID: '1' });
  assert.equal(result.kind, 'run');
  const { warnings } = result as { warnings: string[] };
  assert.match(
    warnings[0]!,
    /^ignoring unknown environment variable ZAB_DATADIR; known: ZAB_ID, ZAB_ENSEMBLE, ZAB_DATA_DIR/,
  );
  assert.match(warnings[1]!, /the secret has only 5 characters/);
});

test('--client-port and --client-host, or ZAB_CLIENT_PORT and ZAB_CLIENT_HOST', () => {
  const flags = run(parseReplicaCommandLine(['--client-port', '2181', '--client-host', '127.0.0.1'], {}));
  assert.equal(flags.clientPort, 2181);
  assert.equal(flags.clientHost, '127.0.0.1');
  const env = run(parseReplicaCommandLine([], { ZAB_CLIENT_PORT: '0' }));
  assert.equal(env.clientPort, 0);
  assert.equal(env.clientHost, '0.0.0.0');
  const bad = parseReplicaCommandLine(['--client-port', 'x'], {});
  assert.equal(bad.kind, 'invalid');
  assert.match(JSON.stringify(bad), /--client-port: \\"x\\" is not a whole number; e\.g\. --client-port 2181/);
});

test('--super-digest and ZAB_SUPER_DIGEST set superDigest; a bad one is named, not echoed', () => {
  const digest = 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=';
  assert.equal(run(parseReplicaCommandLine(['--super-digest', digest], {})).superDigest, digest);
  assert.equal(run(parseReplicaCommandLine([], { ZAB_SUPER_DIGEST: digest })).superDigest, digest);
  const problems = invalid(parseReplicaCommandLine([], { ZAB_SUPER_DIGEST: 'super:plain-password' }));
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^ZAB_SUPER_DIGEST: superDigest must be user:base64/);
  assert.ok(!problems[0]!.includes('plain-password'));
  assert.match(REPLICA_USAGE, /--super-digest D .*\n.*ZAB_SUPER_DIGEST/);
});
