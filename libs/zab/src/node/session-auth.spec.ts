/**
 * Goal: the digest provider hashes exactly as ZooKeeper's DigestAuthenticationProvider, the
 * superDigest grants the super identity, bad addAuth is AuthFailed, identities are per session
 * (deduplicated, bounded, forgotten), and the read check says NoAuth only when it should.
 * Method: golden digests printed by ZooKeeper 3.8 itself (`java -cp zookeeper.jar
 * org.apache.zookeeper.server.auth.DigestAuthenticationProvider alice:secret ...` on this
 * machine's Debian zookeeper package), then tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../state/error-code.js';
import { AuthFailedError, NoAuthError } from '../state/keeper-error.js';
import { Perms } from '../state/stat.js';
import { generateDigest, SESSION_IDENTITIES_MAX, SessionAuth } from './session-auth.js';

const ZOOKEEPER_DIGESTS: Array<[string, string]> = [
  ['alice:secret', 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='],
  ['super:test', 'super:D/InIHSb7yEEbrWz8b9l71RjZJU='],
  ['bob:p:ss', 'bob:XLxaz+Ncb96LYEamU3XmgjUU5Cw='],
  ['ünï:cödé', 'ünï:4N0Z7i1Vy70+ZD4+ckp/xGYhC78='],
];

test('digests equal those ZooKeeper 3.8 computes (password may hold colons, UTF-8)', () => {
  for (const [credentials, digest] of ZOOKEEPER_DIGESTS) assert.equal(generateDigest(credentials), digest);
});

test('addAuth digest adds the identity once; superDigest adds super; sessions are separate', () => {
  const auth = new SessionAuth({ superDigest: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=' });
  auth.addAuth(1n, 'digest', Buffer.from('alice:secret'));
  auth.addAuth(1n, 'digest', Buffer.from('alice:secret'));
  assert.deepEqual(auth.identitiesOf(1n), [{ scheme: 'digest', id: 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=' }]);
  assert.deepEqual(auth.identitiesOf(2n), []);
  auth.addAuth(2n, 'digest', Buffer.from('super:test'));
  assert.deepEqual(auth.identitiesOf(2n), [
    { scheme: 'digest', id: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=' }, { scheme: 'super', id: '' },
  ]);
  auth.addAuth(3n, 'digest', Buffer.from('super:wrong'));
  assert.equal(auth.identitiesOf(3n).some((id) => id.scheme === 'super'), false);
  const captured = auth.identitiesOf(1n);
  auth.addAuth(1n, 'digest', Buffer.from('bob:p:ss'));
  assert.equal(captured.length, 1, 'a captured list does not change with later addAuth calls');
  assert.equal(auth.identitiesOf(1n).length, 2);
  auth.forget(1n);
  assert.deepEqual(auth.identitiesOf(1n), []);
  auth.retainOnly((sessionId) => sessionId === 3n);
  assert.equal(auth.size, 1);
});

test('bad addAuth is AuthFailed and adds nothing', () => {
  const auth = new SessionAuth();
  const bad: Array<[string, Uint8Array]> = [
    ['ip', Buffer.from('127.0.0.1')],
    ['world', Buffer.from('anyone')],
    ['super', Buffer.from('super:test')],
    ['digest', Buffer.from('no-colon')],
    ['digest', Buffer.from([0xff, 0x3a, 0xfe])],
    ['digest', Buffer.alloc(2000, 0x3a)],
  ];
  for (const [scheme, bytes] of bad) {
    assert.throws(() => auth.addAuth(1n, scheme, bytes),
      (e: unknown) => e instanceof AuthFailedError && e.code === ErrorCode.AuthFailed, scheme);
  }
  assert.equal(auth.size, 0);
  for (let i = 0; i < SESSION_IDENTITIES_MAX; i++) auth.addAuth(1n, 'digest', Buffer.from(`u${i}:p`));
  assert.throws(() => auth.addAuth(1n, 'digest', Buffer.from('one:more')), AuthFailedError);
  assert.equal(auth.identitiesOf(1n).length, SESSION_IDENTITIES_MAX);
});

test('check: NoAuth with the path unless granted; a missing node passes', () => {
  const auth = new SessionAuth();
  auth.addAuth(1n, 'digest', Buffer.from('alice:secret'));
  const acl = [{ perms: Perms.Read, scheme: 'digest', id: generateDigest('alice:secret') }];
  auth.check(1n, acl, Perms.Read, '/n');
  auth.check(2n, undefined, Perms.Read, '/missing');
  assert.throws(() => auth.check(2n, acl, Perms.Read, '/n'),
    (e: unknown) => e instanceof NoAuthError && e.path === '/n' && e.code === ErrorCode.NoAuth);
  assert.throws(() => auth.check(1n, acl, Perms.Write, '/n'), NoAuthError);
});
