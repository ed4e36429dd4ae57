/**
 * Goal: the ensemble configuration accepts ZooKeeper-like member lists in both forms and
 * rejects every malformed one with a message that names the entry and says what to change;
 * `id`, `role` and `ensemble` are checked together.
 * Method: tables of inputs with the members expected, or with the problems (as regular
 * expressions, all of them, in order) and warnings expected; a round-trip through the
 * string form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatEnsemble,
  parseEnsemble,
  quorumSize,
  resolveMembership,
  type EnsembleMember,
} from './ensemble-config.js';

const local = (
  id: number,
  port: number,
  role: 'participant' | 'observer' = 'participant',
): EnsembleMember => ({ id, host: '127.0.0.1', port, role });

/** A pattern for a message that starts with the literal text of `parts`. */
const starts = (...parts: string[]): RegExp =>
  new RegExp('^' + parts.join('').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
/** A pattern for exactly the literal text of `parts`. */
const exactly = (...parts: string[]): RegExp => new RegExp(starts(...parts).source + '$');

const GOOD: Array<[name: string, spec: unknown, members: EnsembleMember[]]> = [
  ['three voters', '1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890',
    [local(1, 2888), local(2, 2889), local(3, 2890)]],
  ['one voter', '1=127.0.0.1:2888', [local(1, 2888)]],
  ['observer suffix, blanks, unsorted',
    ' 3=127.0.0.1:2890:observer , 1=127.0.0.1:2888,2=127.0.0.1:2889:participant',
    [local(1, 2888), local(2, 2889), local(3, 2890, 'observer')]],
  ['host names and IPv6', '1=zk-a.example:2888,2=[::1]:2889', [
    { id: 1, host: 'zk-a.example', port: 2888, role: 'participant' },
    { id: 2, host: '::1', port: 2889, role: 'participant' },
  ]],
  ['array form', [
    { id: 2, host: '127.0.0.1', port: 2889 },
    { id: 1, host: '127.0.0.1', port: 2888, role: 'observer' },
  ], [local(1, 2888, 'observer'), local(2, 2889)]],
];

for (const [name, spec, members] of GOOD) {
  test(`parses ${name}`, () => {
    const parsed = parseEnsemble(spec);
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.members, members);
    assert.deepEqual(parseEnsemble(formatEnsemble(parsed.members)).members, members, 'round trip');
  });
}

const BAD: Array<[name: string, spec: unknown, problems: RegExp[]]> = [
  ['empty string', '  ', [exactly(
    'ensemble is empty; give id=host:port or id=host:port:observer entries separated by ',
    'commas, e.g. 1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890',
  )]],
  ['empty array', [], [starts('ensemble is an empty array; list at least this server')]],
  ['a number', 3, [exactly(
    'ensemble must be a string like "1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890" ',
    'or an array of { id, host, port, role? }; got 3',
  )]],
  ['extra comma', '1=127.0.0.1:2888,,2=127.0.0.1:2889',
    [exactly('ensemble entry 2 ("") is empty; remove the extra comma')]],
  ['no port', '1=127.0.0.1', [exactly(
    'ensemble entry 1 ("1=127.0.0.1") is malformed: ',
    'expected id=host:port or id=host:port:observer, e.g. 2=127.0.0.1:2889',
  )]],
  ['no id', '127.0.0.1:2888', [starts('ensemble entry 1 ("127.0.0.1:2888") is malformed')]],
  ['IPv6 without brackets', '1=::1:2888', [starts('ensemble entry 1 ("1=::1:2888") is malformed')]],
  ['too many parts', '1=h:2888:3888:observer',
    [starts('ensemble entry 1 ("1=h:2888:3888:observer") is malformed')]],
  ['bad ids', '0=h:2888,x=h:2889,2147483648=h:2890,-1=h:2891', [
    exactly('ensemble entry 1 ("0=h:2888"): id "0" must be an integer from 1 to 2147483647'),
    starts('ensemble entry 2 ("x=h:2889"): id "x" must be'),
    starts('ensemble entry 3 ("2147483648=h:2890"): id "2147483648" must be'),
    starts('ensemble entry 4 ("-1=h:2891"): id "-1" must be'),
  ]],
  ['bad ports', '1=h:0,2=h:65536,3=h:http,4=h:', [
    exactly(
      'ensemble entry 1 ("1=h:0"): port "0" must be an integer from 1 to 65535 ',
      '(the peer port, e.g. 2888)',
    ),
    starts('ensemble entry 2 ("2=h:65536"): port "65536" must be'),
    starts('ensemble entry 3 ("3=h:http"): port "http" must be'),
    starts('ensemble entry 4 ("4=h:"): port "" must be'),
  ]],
  ['bad host', '1=:2888,2=a b:2889', [
    exactly(
      'ensemble entry 1 ("1=:2888"): host "" must be a host name or an IP address ',
      '(IPv6 in brackets)',
    ),
    starts('ensemble entry 2 ("2=a b:2889"): host "a b" must be'),
  ]],
  ['unknown role', '1=h:2888:observe', [
    exactly(
      'ensemble entry 1 ("1=h:2888:observe"): role "observe" must be "participant" or "observer"',
    ),
  ]],
  ['several mistakes in one entry', 'x=:0:boss', [/id "x"/, /host ""/, /port "0"/, /role "boss"/]],
  ['duplicate ids', '1=h:2888,2=h:2889,1=h:2890',
    [exactly('ensemble lists id 1 more than once; give each server its own id')]],
  ['duplicate addresses', '1=h:2888,2=H:2888',
    [exactly('ensemble members 1 and 2 both use H:2888; each server needs its own host:port')]],
  ['no voters', '1=h:2888:observer,2=h:2889:observer',
    [starts('ensemble has no participants: at least one member must vote')]],
  ['array entries', [
    null,
    { id: 1, host: 'h', port: 2888, name: 'a' },
    { id: '2', host: 7, port: '2889', role: 'boss' },
  ], [
    exactly('ensemble[0] must be an object { id, host, port, role? }; got null'),
    exactly('ensemble[1]: unknown key "name"; members have id, host, port, role'),
    exactly('ensemble[2]: id must be an integer from 1 to 2147483647; got "2"'),
    exactly('ensemble[2]: host must be a string; got 7'),
    starts('ensemble[2]: port "2889" must be an integer from 1 to 65535'),
    starts('ensemble[2]: role "boss" must be'),
  ]],
];

for (const [name, spec, expected] of BAD) {
  test(`rejects ${name}, saying what to change`, () => {
    const { problems, members } = parseEnsemble(spec);
    assert.equal(problems.length, expected.length, JSON.stringify(problems, null, 2));
    expected.forEach((pattern, i) => assert.match(problems[i]!, pattern));
    if (problems.some((p) => p.startsWith('ensemble entry') || p.startsWith('ensemble['))) {
      const entries = Array.isArray(spec) ? spec.length : String(spec).split(',').length;
      assert.ok(members.length < entries, 'bad entries are left out');
    }
  });
}

test('an even number of voters is allowed with a warning; observers do not count', () => {
  const four = parseEnsemble('1=h:1,2=h:2,3=h:3,4=h:4');
  assert.deepEqual(four.problems, []);
  assert.equal(four.warnings.length, 1);
  assert.match(four.warnings[0]!, exactly(
    'ensemble has 4 voting members: an even number survives no more failures than 3 would ',
    '(a quorum is 3); an odd number is recommended',
  ));
  assert.deepEqual(parseEnsemble('1=h:1,2=h:2,3=h:3,4=h:4:observer').warnings, []);
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3]);
});

test('membership: id, role and ensemble must agree', () => {
  type Case = [given: Record<string, unknown>, problems: RegExp[], id?: number, role?: string];
  const cases: Case[] = [
    [{}, [], 1, 'participant'],
    [{ id: 7 }, [], 7, 'participant'],
    [{ ensemble: '4=h:2888' }, [], 4, 'participant'],
    [{ id: 2, ensemble: '1=h:1,2=h:2:observer,3=h:3' }, [], 2, 'observer'],
    [{ id: 2, role: 'observer', ensemble: '1=h:1,2=h:2:observer,3=h:3' }, [], 2, 'observer'],
    [{ id: 0 }, [exactly(
      'id must be an integer from 1 to 2147483647 (this server\'s id in the ensemble); got 0',
    )]],
    [{ id: '1' }, [/^id must be an integer .*; got "1"$/]],
    [{ role: 'leader' }, [/^role must be "participant" or "observer"; got "leader"$/]],
    [{ role: 'observer' }, [exactly(
      'role "observer" needs an ensemble with participants to follow; give ensemble, or drop role',
    )]],
    [{ ensemble: '1=h:1,2=h:2,3=h:3' }, [exactly(
      'id is required with an ensemble of 3 members: set it to this server\'s id (one of 1, 2, 3)',
    )]],
    [{ id: 4, ensemble: '1=h:1,2=h:2,3=h:3' }, [exactly(
      'id 4 is not in the ensemble (ids 1, 2, 3): set id to this server\'s id, ',
      'or add an entry 4=host:port',
    )]],
    [{ id: 2, role: 'observer', ensemble: '1=h:1,2=h:2,3=h:3' }, [exactly(
      'role is "observer" but the ensemble lists server 2 as a participant; ',
      'make them agree (append ":observer" to entry 2, or drop role)',
    )]],
    [{ id: 2, role: 'participant', ensemble: '1=h:1,2=h:2:observer' }, [exactly(
      'role is "participant" but the ensemble lists server 2 as an observer; ',
      'make them agree (drop ":observer" from entry 2, or drop role)',
    )]],
    [{ id: 'x', role: 1, ensemble: '1=h' }, [
      /^id must be/, /^role must be/, /^ensemble entry 1 .* is malformed/,
    ]],
  ];
  for (const [given, expected, id, role] of cases) {
    const problems: string[] = [];
    const membership = resolveMembership(given, problems, []);
    const shown = `${JSON.stringify(given)}: ${JSON.stringify(problems)}`;
    assert.equal(problems.length, expected.length, shown);
    expected.forEach((pattern, i) => assert.match(problems[i]!, pattern));
    if (id !== undefined) assert.equal(membership.id, id, JSON.stringify(given));
    if (role !== undefined) assert.equal(membership.role, role, JSON.stringify(given));
  }
});
