/**
 * Goal: TcpPeerTransport keeps the PeerTransport contract on real sockets: FIFO per pair,
 * one link per pair of replicas however the dials cross, reconnection after a restart,
 * bounded send queues that drop and count, and writes that honour backpressure.
 * Method: 3 (and 5) transports on 127.0.0.1 with OS-assigned ports, started at the same
 * moment so their dials cross; every wait is on a transport event or a log line with a
 * bounded timeout (no sleeps); every loop has a fixed count; every transport is closed in
 * `finally`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerId } from '../../core/ids.js';
import { TcpPeerTransport } from './tcp-peer-transport.js';
import {
  closeAll,
  ensembleOf,
  MessageRecorder,
  RecordingLogger,
  reserveLoopbackPorts,
  startEnsemble,
  waitForConnectedPeers,
  waitUntil,
  type StartedPeer,
} from './tcp-peer-transport.test-support.js';

const WAIT_MS = 10_000;

function others(peers: StartedPeer[], id: PeerId): PeerId[] {
  return peers.map((peer) => peer.id).filter((other) => other !== id);
}

async function allConnected(peers: StartedPeer[]): Promise<void> {
  await Promise.all(
    peers.map((peer) => waitForConnectedPeers(peer.transport, others(peers, peer.id), WAIT_MS)),
  );
}

function message(from: PeerId, to: PeerId, sequence: number): Buffer {
  return Buffer.from(`${from}->${to}#${sequence}`);
}

test('three transports exchange messages in FIFO order per pair', async () => {
  const { peers } = await startEnsemble(3);
  try {
    await allConnected(peers);
    const recorders = new Map(peers.map((peer) => [peer.id, new MessageRecorder(peer.transport)]));
    const perPair = 500;
    for (let sequence = 0; sequence < perPair; sequence += 1) {
      for (const sender of peers) {
        for (const to of others(peers, sender.id)) {
          assert.equal(sender.transport.send(to, message(sender.id, to, sequence)), true);
        }
      }
    }
    for (const receiver of peers) {
      const recorder = recorders.get(receiver.id)!;
      for (const from of others(peers, receiver.id)) {
        await recorder.waitForCount(from, perPair, WAIT_MS);
        const got = recorder.bySender.get(from)!.map((payload) => payload.toString());
        const expected = Array.from({ length: perPair }, (_, sequence) =>
          message(from, receiver.id, sequence).toString(),
        );
        assert.deepEqual(got, expected);
      }
    }
    for (const peer of peers) {
      const metrics = peer.transport.metrics();
      assert.equal(metrics.framesSent, 2 * perPair);
      assert.equal(metrics.framesReceived, 2 * perPair);
      assert.equal(metrics.drops.queueFull, 0);
    }
  } finally {
    await closeAll(peers);
  }
});

test('simultaneous dials converge to exactly one link per pair (3 and 5 replicas)', async () => {
  const rounds = [3, 3, 3, 5, 5];
  for (const size of rounds) {
    const events: string[] = [];
    const { peers } = await startEnsemble(size);
    try {
      for (const peer of peers) {
        peer.transport.onPeerState((other, state) => events.push(`${peer.id}:${other}:${state}`));
      }
      await allConnected(peers);
      for (const peer of peers) {
        const metrics = peer.transport.metrics();
        assert.equal(metrics.connectionsEstablished, size - 1, `peer ${peer.id} of ${size}`);
        assert.equal(metrics.connectionsLost, 0, `peer ${peer.id} of ${size}`);
      }
      assert.ok(events.every((event) => event.endsWith(':connected')), events.join(' '));
      assert.equal(events.length, size * (size - 1));
    } finally {
      await closeAll(peers);
    }
  }
});

test('a peer restarted on the same port is reconnected, with backoff, by both sides', async () => {
  const { peers, ensemble } = await startEnsemble(3);
  const restartedLogger = new RecordingLogger();
  let restarted: TcpPeerTransport | null = null;
  try {
    await allConnected(peers);
    const [first, second, third] = peers as [StartedPeer, StartedPeer, StartedPeer];
    await second.transport.close();
    await waitForConnectedPeers(first.transport, [3], WAIT_MS);
    await waitForConnectedPeers(third.transport, [1], WAIT_MS);
    // The old link is gone: sends to peer 2 queue (bounded) until the new instance is up.
    assert.equal(third.transport.send(2, Buffer.from('queued while 2 was down')), true);
    await third.logger.waitFor(/cannot reach peer 2/, WAIT_MS);

    restarted = await TcpPeerTransport.start({ id: 2, ensemble }, { logger: restartedLogger });
    await waitForConnectedPeers(restarted, [1, 3], WAIT_MS);
    await waitForConnectedPeers(first.transport, [2, 3], WAIT_MS);
    await waitForConnectedPeers(third.transport, [1, 2], WAIT_MS);
    const recorder = new MessageRecorder(restarted);
    await recorder.waitForCount(3, 1, WAIT_MS);
    assert.equal(recorder.bySender.get(3)![0]!.toString(), 'queued while 2 was down');
    assert.equal(restarted.send(1, Buffer.from('hello again')), true);
    const fromRestarted = new MessageRecorder(first.transport);
    await fromRestarted.waitForCount(2, 1, WAIT_MS);
    assert.ok(third.transport.metrics().reconnects >= 1, 'peer 3 redialed after a delay');
    assert.ok(first.transport.metrics().connectionsLost >= 1);
    await restarted.close();
    assert.deepEqual(restarted.connectedPeers(), [], 'no link is reported after close()');
  } finally {
    await closeAll(peers);
    await restarted?.close();
  }
});

test('a full send queue drops and counts; what was queued is delivered in order', async () => {
  const ports = await reserveLoopbackPorts(2);
  const ensemble = ensembleOf(ports);
  const logger = new RecordingLogger();
  const options = { id: 2, ensemble, sendQueueMessagesMax: 5, sendQueueBytesMax: 4096 };
  const sender = await TcpPeerTransport.start({ ...options, frameBytesMax: 1024 }, { logger });
  let receiver: TcpPeerTransport | null = null;
  try {
    for (let sequence = 0; sequence < 5; sequence += 1) {
      assert.equal(sender.send(1, Buffer.from(`m${sequence}`)), true, `message ${sequence}`);
    }
    assert.equal(sender.send(1, Buffer.from('m5')), false, 'the sixth message is over the count');
    assert.deepEqual(sender.queued(1), { messages: 5, bytes: 10 });
    const [line] = sender.metrics().peers;
    assert.deepEqual({ ...line, failedAttempts: 0 }, {
      id: 1,
      connected: false,
      queuedMessages: 5,
      queuedBytes: 10,
      failedAttempts: 0,
    });
    assert.equal(sender.metrics().drops.queueFull, 1);

    receiver = await TcpPeerTransport.start({ id: 1, ensemble });
    const recorder = new MessageRecorder(receiver);
    await recorder.waitForCount(2, 5, WAIT_MS);
    const got = recorder.bySender.get(2)!.map((payload) => payload.toString());
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
    await waitUntil(
      () => (sender.queued(1).messages === 0 ? true : undefined),
      (wake) => receiver!.onMessage(wake),
      WAIT_MS,
      'an empty queue',
    );
  } finally {
    await sender.close();
    await receiver?.close();
  }
});

test('the byte bound drops too; send refuses unknown, self, oversize, closed', async () => {
  const ensemble = ensembleOf(await reserveLoopbackPorts(2));
  const options = { sendQueueBytesMax: 1000, frameBytesMax: 600 };
  const sender = await TcpPeerTransport.start({ id: 1, ensemble, ...options });
  try {
    assert.equal(sender.send(2, Buffer.alloc(600)), true);
    assert.equal(sender.send(2, Buffer.alloc(400)), true, 'exactly at sendQueueBytesMax');
    assert.equal(sender.send(2, Buffer.alloc(1)), false, 'one byte over sendQueueBytesMax');
    assert.equal(sender.send(2, Buffer.alloc(601)), false, 'over frameBytesMax');
    assert.equal(sender.send(9, Buffer.from('x')), false, 'not in the ensemble');
    assert.equal(sender.send(1, Buffer.from('x')), false, 'self');
    await sender.close();
    assert.equal(sender.send(2, Buffer.from('x')), false, 'closed');
    assert.deepEqual(sender.connectedPeers(), []);
    assert.deepEqual(sender.metrics().drops, {
      queueFull: 1,
      peerUnknown: 2,
      frameTooLarge: 1,
      transportClosed: 1,
      peerDisconnected: 0,
    });
  } finally {
    await sender.close();
  }
});

test('large payloads under write backpressure arrive whole and in order', async () => {
  const { peers } = await startEnsemble(2);
  try {
    await allConnected(peers);
    const [receiver, sender] = peers as [StartedPeer, StartedPeer];
    const recorder = new MessageRecorder(receiver.transport);
    const count = 200;
    const payloadBytes = 256 * 1024;
    for (let sequence = 0; sequence < count; sequence += 1) {
      assert.equal(sender.transport.send(1, Buffer.alloc(payloadBytes, sequence % 251)), true);
    }
    await recorder.waitForCount(2, count, 30_000);
    const got = recorder.bySender.get(2)!;
    for (let sequence = 0; sequence < count; sequence += 1) {
      assert.equal(got[sequence]!.length, payloadBytes);
      assert.equal(got[sequence]![payloadBytes - 1], sequence % 251);
    }
    assert.equal(sender.transport.metrics().payloadBytesSent, count * payloadBytes);
  } finally {
    await closeAll(peers);
  }
});

test('idleTimeoutMs closes a silent link, which is then re-established', async () => {
  const { peers } = await startEnsemble(2, () => ({ idleTimeoutMs: 200 }));
  try {
    await allConnected(peers);
    const [first] = peers as [StartedPeer, StartedPeer];
    await first.logger.waitFor(/idle \(no bytes either way\) for 200 ms/, WAIT_MS);
    await allConnected(peers);
    assert.ok(first.transport.metrics().connectionsLost >= 1);
  } finally {
    await closeAll(peers);
  }
});

test('queueWhileDisconnected: false drops and counts sends to a peer with no link', async () => {
  const ensemble = ensembleOf(await reserveLoopbackPorts(2));
  const sender = await TcpPeerTransport.start({ id: 2, ensemble, queueWhileDisconnected: false });
  let receiver: TcpPeerTransport | null = null;
  try {
    assert.equal(sender.send(1, Buffer.from('lost')), false);
    assert.equal(sender.metrics().drops.peerDisconnected, 1);
    receiver = await TcpPeerTransport.start({ id: 1, ensemble });
    await waitForConnectedPeers(sender, [1], WAIT_MS);
    const recorder = new MessageRecorder(receiver);
    assert.equal(sender.send(1, Buffer.from('kept')), true);
    await recorder.waitForCount(2, 1, WAIT_MS);
    assert.deepEqual(recorder.bySender.get(2)!.map(String), ['kept']);
  } finally {
    await sender.close();
    await receiver?.close();
  }
});
