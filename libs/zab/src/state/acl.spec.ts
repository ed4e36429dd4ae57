/**
 * Goal: the pure ACL rules match ZooKeeper 3.8's: `checkACL` (any matching bit of the asked
 * permission, world:anyone, digest by equal id, ip by prefix, the super identity passes all),
 * `fixupACL` (auth expanded to the session's digest identities, InvalidACL without one, only
 * schemes with a default provider, DigestAuthenticationProvider.isValid's Java split rule) and
 * getACL's digest redaction.
 * Method: tables of inputs and ZooKeeper's outcome for each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixupAcl, isPermitted, isValidAclId, redactDigests, SUPER_ID, type AuthId } from './acl.js';
import { Perms, type Acl } from './stat.js';

const ALICE: AuthId = { scheme: 'digest', id: 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=' };
const BOB: AuthId = { scheme: 'digest', id: 'bob:XLxaz+Ncb96LYEamU3XmgjUU5Cw=' };
const aliceCan = (perms: number): Acl => ({ perms, scheme: 'digest', id: ALICE.id });

test('checkACL: world, digest, ip, super, and any bit of the asked permission', () => {
  const cases: Array<[string, Acl[], number, AuthId[], boolean]> = [
    ['world:anyone with the bit', [{ perms: Perms.Read, scheme: 'world', id: 'anyone' }], Perms.Read, [], true],
    ['world:anyone without the bit', [{ perms: Perms.Read, scheme: 'world', id: 'anyone' }], Perms.Write, [], false],
    ['digest, same identity', [aliceCan(Perms.Write)], Perms.Write, [ALICE], true],
    ['digest, other identity', [aliceCan(Perms.Write)], Perms.Write, [BOB], false],
    ['digest, no identity', [aliceCan(Perms.All)], Perms.Read, [], false],
    ['digest, identity lacks the bit', [aliceCan(Perms.All & ~Perms.Delete)], Perms.Delete, [ALICE], false],
    ['second entry grants', [aliceCan(Perms.Read), { ...aliceCan(Perms.Admin), id: BOB.id }], Perms.Admin, [ALICE, BOB], true],
    ['READ|ADMIN: read alone suffices', [aliceCan(Perms.Read)], Perms.Read | Perms.Admin, [ALICE], true],
    ['READ|ADMIN: admin alone suffices', [aliceCan(Perms.Admin)], Perms.Read | Perms.Admin, [ALICE], true],
    ['READ|ADMIN: neither', [aliceCan(Perms.Write)], Perms.Read | Perms.Admin, [ALICE], false],
    ['super passes a list it is not in', [aliceCan(Perms.Read)], Perms.Admin, [SUPER_ID], true],
    ['ip in prefix', [{ perms: Perms.Read, scheme: 'ip', id: '10.1.0.0/16' }], Perms.Read, [{ scheme: 'ip', id: '10.1.2.3' }], true],
    ['ip outside prefix', [{ perms: Perms.Read, scheme: 'ip', id: '10.1.0.0/16' }], Perms.Read, [{ scheme: 'ip', id: '10.2.0.1' }], false],
    ['ip exact v6', [{ perms: Perms.Read, scheme: 'ip', id: 'fe80::1' }], Perms.Read, [{ scheme: 'ip', id: 'fe80:0:0:0:0:0:0:1' }], true],
    ['an identity of another scheme never matches', [aliceCan(Perms.Read)], Perms.Read, [{ scheme: 'ip', id: ALICE.id }], false],
    ['empty ACL allows (ZooKeeper)', [], Perms.Admin, [], true],
  ];
  for (const [name, acl, permission, identities, expected] of cases) {
    assert.equal(isPermitted(acl, permission, identities), expected, name);
  }
});

test('fixupACL expands auth to the session\'s digest identities; InvalidACL without one', () => {
  const auth: Acl = { perms: Perms.Read | Perms.Write, scheme: 'auth', id: '' };
  assert.deepEqual(fixupAcl([auth], [ALICE, BOB]), [
    { perms: 3, scheme: 'digest', id: ALICE.id }, { perms: 3, scheme: 'digest', id: BOB.id },
  ]);
  assert.equal(fixupAcl([auth], []), undefined);
  // super and ip identities are not "authenticated" ids: they do not satisfy auth.
  assert.equal(fixupAcl([auth], [SUPER_ID, { scheme: 'ip', id: '127.0.0.1' }]), undefined);
  // The auth id text is ignored, as in ZooKeeper; duplicates after expansion are removed.
  assert.deepEqual(fixupAcl([{ ...auth, id: 'whatever' }, aliceCan(3)], [ALICE]), [aliceCan(3)]);
  const world = { perms: Perms.All, scheme: 'world', id: 'anyone' };
  assert.deepEqual(fixupAcl([world, auth], [ALICE]), [world, aliceCan(3)]);
});

test('only schemes with a default ZooKeeper provider are valid, with the provider\'s id rule', () => {
  const cases: Array<[string, string, boolean]> = [
    ['world', 'anyone', true], ['world', 'someone', false],
    ['digest', 'bob:hash', true], ['digest', ':hash', true], ['digest', 'bob:hash:', true],
    ['digest', 'bob', false], ['digest', 'bob:', false], ['digest', 'a:b:c', false], ['digest', '', false],
    ['ip', '10.0.0.0/8', true], ['ip', 'fe80::1/64', true], ['ip', '10.0.0.300', false],
    ['ip', '10.0.0.1/33', false], ['ip', '1::2::3', false],
    ['super', 'x', false], ['sasl', 'x', false], ['x509', 'CN=x', false], ['auth', '', false],
    ['nope', 'x', false],
  ];
  for (const [scheme, id, valid] of cases) {
    assert.equal(isValidAclId(scheme, id), valid, `${scheme}:${id}`);
    assert.equal(fixupAcl([{ perms: 1, scheme, id }]) !== undefined, valid, `fixupAcl ${scheme}:${id}`);
  }
});

test('getACL without ADMIN shows digest ids as user:x, other entries unchanged', () => {
  const acl: Acl[] = [aliceCan(Perms.All), { perms: 1, scheme: 'world', id: 'anyone' }];
  assert.deepEqual(redactDigests(acl), [
    { perms: Perms.All, scheme: 'digest', id: 'alice:x' }, { perms: 1, scheme: 'world', id: 'anyone' },
  ]);
  assert.equal(acl[0]!.id, ALICE.id, 'the input is not modified');
});
