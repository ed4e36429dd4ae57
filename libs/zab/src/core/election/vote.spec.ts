/**
 * Goal: FLE's vote order is ZooKeeper's totalOrderPredicate — lexicographic on (peerEpoch,
 * zxid, id) — and majority quorum maths is right. Method: a table of the rule's cases, then
 * fast-check against a naive tuple comparison and a naive majority count.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAhead, isBetterVote, type Vote } from './vote.js';
import { isQuorum, majorityOf, quorumValue } from '../quorum/majority.js';

const vote = (peerEpoch: number, zxid: bigint, leader: number): Vote =>
  ({ leader, zxid, peerEpoch });

describe('vote order (FastLeaderElection.totalOrderPredicate)', () => {
  test('table', () => {
    assert.equal(isBetterVote(vote(2, 1n, 1), vote(1, 9n, 9)), true, 'epoch first');
    assert.equal(isBetterVote(vote(1, 9n, 1), vote(1, 8n, 9)), true, 'then zxid');
    assert.equal(isBetterVote(vote(1, 8n, 9), vote(1, 8n, 1)), true, 'then id');
    assert.equal(isBetterVote(vote(1, 8n, 1), vote(1, 8n, 1)), false, 'irreflexive');
  });

  test('matches a naive lexicographic comparison and is a strict total order', () => {
    const arbitrary = fc.record({ leader: fc.integer({ min: 1, max: 9 }),
      zxid: fc.bigInt({ min: 0n, max: 20n }), peerEpoch: fc.integer({ min: 0, max: 3 }) });
    fc.assert(fc.property(arbitrary, arbitrary, (a, b) => {
      const naive = a.peerEpoch !== b.peerEpoch ? a.peerEpoch > b.peerEpoch
        : a.zxid !== b.zxid ? a.zxid > b.zxid : a.leader > b.leader;
      assert.equal(isBetterVote(a, b), naive);
      const same = a.peerEpoch === b.peerEpoch && a.zxid === b.zxid && a.leader === b.leader;
      assert.equal(isBetterVote(a, b) || isBetterVote(b, a) || same, true);
    }));
  });

  test('"follower is ahead" compares (currentEpoch, lastZxid)', () => {
    assert.equal(isAhead({ epoch: 2, zxid: 0n }, { epoch: 1, zxid: 9n }), true);
    assert.equal(isAhead({ epoch: 1, zxid: 9n }, { epoch: 1, zxid: 9n }), false);
  });
});

describe('majority quorums', () => {
  test('majority sizes and membership', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(majorityOf), [1, 2, 2, 3, 3]);
    assert.equal(isQuorum([1, 2, 3], [1, 4, 4, 1]), false, 'non-voters and duplicates ignored');
    assert.equal(isQuorum([1, 2, 3], [1, 3]), true);
  });

  test('quorumValue is the largest value reached by a majority', () => {
    fc.assert(fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 50 })), { minLength: 1,
      maxLength: 7 }), (values) => {
      const voters = values.map((_, i) => i + 1);
      const result = quorumValue(voters, (id) => values[id - 1] ?? undefined, -1);
      const reached = (x: number) => values.filter((v) => (v ?? -1) >= x).length;
      assert.ok(reached(result) >= majorityOf(voters.length));
      assert.ok(reached(result + 1) < majorityOf(voters.length) || result === 50);
    }));
  });
});
