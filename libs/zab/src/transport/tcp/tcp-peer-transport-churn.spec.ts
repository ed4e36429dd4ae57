/**
 * Goal: under repeated restarts, one and two replicas at a time, the ensemble always comes
 * back to exactly one live link per pair (no leaked or duplicate links), and every pair
 * carries messages in order afterwards.
 * Method: 3 replicas on 127.0.0.1 with OS-assigned ports; a seeded fast-check draw picks,
 * for each of 8 rounds, which replicas to close and start again on the same port at the
 * same moment; after each round the test waits (bounded, on events) for full connectivity,
 * checks `connectionsEstablished - connectionsLost == peers - 1` on every live transport,
 * then sends a numbered burst on every ordered pair and checks order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PeerId } from '../../core/ids.js';
import { TcpPeerTransport } from './tcp-peer-transport.js';
import {
  MessageRecorder,
  RecordingLogger,
  startEnsemble,
  waitForConnectedPeers,
} from './tcp-peer-transport.test-support.js';

const WAIT_MS = 10_000;
const ROUNDS = 8;
const BURST = 20;

test('restarts of one or two replicas always converge to one live link per pair', async () => {
  const { peers, ensemble } = await startEnsemble(3);
  const live = new Map<PeerId, TcpPeerTransport>(peers.map((peer) => [peer.id, peer.transport]));
  const ids = [...live.keys()];
  const plan = fc.sample(fc.subarray(ids, { minLength: 1, maxLength: 2 }), {
    numRuns: ROUNDS,
    seed: 7,
  });
  try {
    for (const [round, restarting] of plan.entries()) {
      await Promise.all(restarting.map((id) => live.get(id)!.close()));
      const restarted = await Promise.all(
        restarting.map((id) => {
          return TcpPeerTransport.start({ id, ensemble }, { logger: new RecordingLogger() });
        }),
      );
      restarting.forEach((id, index) => live.set(id, restarted[index]!));
      for (const [id, transport] of live) {
        const others = ids.filter((other) => other !== id);
        await waitForConnectedPeers(transport, others, WAIT_MS);
      }
      for (const [id, transport] of live) {
        const metrics = transport.metrics();
        const links = metrics.connectionsEstablished - metrics.connectionsLost;
        assert.equal(links, ids.length - 1, `round ${round}: peer ${id} has ${links} live links`);
      }
      await checkBursts(live, ids, round);
    }
  } finally {
    await Promise.all([...live.values()].map((transport) => transport.close()));
  }
});

async function checkBursts(live: Map<PeerId, TcpPeerTransport>, ids: PeerId[], round: number) {
  const recorders = new Map(ids.map((id) => [id, new MessageRecorder(live.get(id)!)]));
  for (let sequence = 0; sequence < BURST; sequence += 1) {
    for (const from of ids) {
      for (const to of ids.filter((other) => other !== from)) {
        live.get(from)!.send(to, Buffer.from(`r${round}:${from}->${to}#${sequence}`));
      }
    }
  }
  for (const to of ids) {
    for (const from of ids.filter((other) => other !== to)) {
      const recorder = recorders.get(to)!;
      await recorder.waitForCount(from, BURST, WAIT_MS);
      const got = recorder.bySender.get(from)!.map(String);
      const expected = Array.from({ length: BURST }, (_, index) => {
        return `r${round}:${from}->${to}#${index}`;
      });
      assert.deepEqual(got, expected);
    }
  }
}
