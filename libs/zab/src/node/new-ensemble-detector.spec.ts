/**
 * Goal: the new-ensemble rule of an empty member (ZK-261, `ensembleState: 'auto'`): it may
 * start voting only after every other voter was seen empty, and never once any voter was
 * seen with data (an epoch, a zxid, or an established role), whatever the order.
 * The option that selects the rule is validated and read from flags and variables.
 * Method: a table of notification sequences for a member of a 3-voter (and a 2-voter)
 * ensemble, each with the expected answer after its last notification; option parsing by
 * its pure functions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerId } from '../core/ids.js';
import { NO_DATA_ZXID, type Notification, type ServerState } from '../core/peer-message.js';
import { NewEnsembleDetector } from './new-ensemble-detector.js';
import { parseReplicaCommandLine } from './replica-command-line.js';
import { resolveReplicaOptions, type EnsembleState } from './replica-options.js';

function note(state: ServerState, peerEpoch: number, zxid: bigint): Notification {
  return { type: 'notification', state, leader: 1, zxid, round: 1, peerEpoch };
}

const EMPTY = note('looking', 0, NO_DATA_ZXID);
/** A member that started voting as new: epoch 0, nothing logged. */
const NEW_VOTER = note('looking', 0, 0n);

type Case = [name: string, voters: PeerId[], seen: Array<[PeerId, Notification]>, starts: boolean];

const CASES: Case[] = [
  ['every other voter empty', [1, 2, 3], [[2, EMPTY], [3, EMPTY]], true],
  ['empty and new voters', [1, 2, 3], [[2, NEW_VOTER], [3, EMPTY]], true],
  ['one voter unheard of', [1, 2, 3], [[2, EMPTY], [2, EMPTY]], false],
  ['a voter with an epoch', [1, 2, 3], [[2, EMPTY], [3, note('looking', 1, 0n)]], false],
  ['a voter with a zxid', [1, 2, 3], [[2, EMPTY], [3, note('looking', 0, 5n)]], false],
  ['a leader forming', [1, 2, 3], [[2, EMPTY], [3, note('leading', 0, 0n)]], false],
  ['data seen, later empty', [1, 2, 3], [[3, note('looking', 2, 9n)], [2, EMPTY], [3, EMPTY]],
    false],
  ['a non-voter does not count', [1, 2, 3], [[2, EMPTY], [4, EMPTY]], false],
  ['two voters', [1, 2], [[2, EMPTY]], true],
];

test('an empty member starts voting only when every other voter is empty', () => {
  for (const [name, voters, seen, starts] of CASES) {
    const detector = new NewEnsembleDetector(1, voters);
    let answer = false;
    for (const [from, notification] of seen) answer = detector.observe(from, notification);
    assert.equal(answer, starts, name);
    assert.equal(detector.ensembleExists, !starts && seen.some(([from, n]) =>
      voters.includes(from) && from !== 1 && (n.peerEpoch > 0 || n.zxid > 0n ||
        n.state !== 'looking')), `${name}: ensembleExists`);
  }
});

test('ensembleState: default auto, set by flag or ZAB_ENSEMBLE_STATE, bad values refused', () => {
  assert.equal(resolveReplicaOptions({}).ensembleState, 'auto');
  assert.equal(resolveReplicaOptions({ ensembleState: 'existing' }).ensembleState, 'existing');
  assert.throws(() => resolveReplicaOptions({ ensembleState: 'old' as EnsembleState }),
    /ensembleState must be 'auto', 'new' or 'existing'; got "old"/);
  const byFlag = parseReplicaCommandLine(['--ensemble-state', 'new'], {});
  assert.equal(byFlag.kind === 'run' && byFlag.options.ensembleState, 'new');
  const byEnv = parseReplicaCommandLine([], { ZAB_ENSEMBLE_STATE: 'existing' });
  assert.equal(byEnv.kind === 'run' && byEnv.options.ensembleState, 'existing');
  const bad = parseReplicaCommandLine(['--ensemble-state', 'nope'], {});
  assert.equal(bad.kind, 'invalid');
  assert.match(bad.kind === 'invalid' ? bad.problems.join('\n') : '',
    /^--ensemble-state: ensembleState must be/m);
});
