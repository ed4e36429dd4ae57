/**
 * Goal: hostile or broken input closes only the connection it came on, with a logged reason,
 * and never the process or another link: wrong, missing and foreign secrets, ids outside the
 * ensemble, garbage bytes, silence during the handshake, too many handshakes at once, and a
 * frame over `frameBytesMax` on an established link.
 * Method: transports on 127.0.0.1 with OS-assigned ports, plus raw `net.Socket` clients that
 * write crafted bytes; each case waits (bounded) for the close and the log line, then checks
 * that the good links never dropped and still carry messages. Garbage comes from a seeded
 * fast-check generator, so a failure is reproducible.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { PeerId } from '../../core/ids.js';
import { encodeFrame, encodeFrameHeader } from '../frame-encoder.js';
import { FrameDecoder } from '../frame-decoder.js';
import { DialerHandshake, encodeHello, NONCE_BYTES, type HandshakeStep } from './handshake.js';
import {
  closeAll,
  LOOPBACK,
  MessageRecorder,
  startEnsemble,
  waitForConnectedPeers,
  type StartedPeer,
} from './tcp-peer-transport.test-support.js';

const WAIT_MS = 10_000;

type Quartet = [StartedPeer, StartedPeer, StartedPeer, StartedPeer];

async function rawConnect(port: number): Promise<{ socket: net.Socket; closed: Promise<Buffer> }> {
  const socket = net.connect({ host: LOOPBACK, port });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {}); // a reset by the transport is an expected outcome here
  const closed = new Promise<Buffer>((resolve) => {
    socket.on('close', () => resolve(Buffer.concat(received)));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

async function waitClosed<T>(closed: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function assertStillLinked(peers: StartedPeer[], ids: PeerId[]): Promise<void> {
  const chosen = peers.filter((peer) => ids.includes(peer.id));
  for (const peer of chosen) {
    const others = ids.filter((id) => id !== peer.id);
    await waitForConnectedPeers(peer.transport, others, WAIT_MS);
    assert.equal(peer.transport.metrics().connectionsLost, 0, `peer ${peer.id} lost a link`);
  }
  const [first, second] = chosen as [StartedPeer, StartedPeer];
  const recorder = new MessageRecorder(second.transport);
  assert.equal(first.transport.send(second.id, Buffer.from('still fine')), true);
  await recorder.waitForCount(first.id, 1, WAIT_MS);
}

/** A hand-driven dialer: completes the handshake as `localId` on a raw socket. */
async function rawLink(port: number, localId: PeerId, targetId: PeerId, secret: string) {
  const client = await rawConnect(port);
  const context = {
    localId,
    isKnownPeer: () => true,
    secret: Buffer.from(secret),
    randomNonce: () => randomBytes(NONCE_BYTES),
  };
  const handshake = new DialerHandshake(context, targetId);
  const decoder = new FrameDecoder(1024);
  const established = new Promise<HandshakeStep>((resolve) => {
    client.socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (frame) => {
        const step = handshake.onFrame(frame);
        if (step.kind === 'send') client.socket.write(encodeFrame(step.frame));
        else resolve(step);
      });
    });
  });
  client.socket.write(encodeFrame(handshake.start()));
  const step = await waitClosed(established, `a raw handshake as peer ${localId}`);
  assert.equal(step.kind, 'established');
  return client;
}

function helloFrom(senderId: PeerId, targetId: PeerId, secret: Buffer | null): Buffer {
  const context = {
    localId: senderId,
    isKnownPeer: () => true,
    secret,
    randomNonce: () => randomBytes(NONCE_BYTES),
  };
  return encodeFrame(encodeHello(context, targetId, randomBytes(NONCE_BYTES)));
}

test('HMAC: good peers link; wrong-secret and no-secret peers are refused and logged', async () => {
  const secrets: Record<number, string | undefined> = { 1: 'wrong', 2: 'right', 3: 'right' };
  const { peers } = await startEnsemble(4, (id) => {
    const secret = secrets[id];
    return secret === undefined ? {} : { secret };
  });
  const [wrong, second, third, open] = peers as Quartet;
  const connectedEvents: string[] = [];
  for (const peer of [second, third]) {
    peer.transport.onPeerState((other, state) => {
      connectedEvents.push(`${peer.id}:${other}:${state}`);
    });
  }
  try {
    await waitForConnectedPeers(second.transport, [3], WAIT_MS);
    await second.logger.waitFor(/peer 1 did not prove the shared secret/, WAIT_MS);
    await third.logger.waitFor(/peer 4 has no secret but this replica requires one/, WAIT_MS);
    await wrong.logger.waitFor(/rejected the handshake/, WAIT_MS);
    assert.equal(open.logger.matching(/WARNING: no peer secret is set/).length, 1);
    assert.equal(second.logger.matching(/WARNING: no peer secret/).length, 0);
    assert.ok(second.transport.metrics().authenticationFailures >= 1);
    assert.ok(third.transport.metrics().authenticationFailures >= 1);
    assert.deepEqual(wrong.transport.connectedPeers(), []);
    assert.deepEqual(open.transport.connectedPeers(), []);
    await assertStillLinked(peers, [2, 3]);
    const strangers = connectedEvents.filter((event) => /:[14]:/.test(event));
    assert.deepEqual(strangers, [], 'no link to a peer without the secret was ever reported');
  } finally {
    await closeAll(peers);
  }
});

test('an id outside the ensemble is rejected with a reason, and logged', async () => {
  const { peers } = await startEnsemble(2, () => ({ secret: 'k' }));
  try {
    await waitForConnectedPeers(peers[0]!.transport, [2], WAIT_MS);
    const { socket, closed } = await rawConnect(peers[0]!.transport.listenAddress.port);
    socket.write(helloFrom(9, 1, Buffer.from('k')));
    const reply = await waitClosed(closed, 'the close of a stranger with id 9');
    assert.match(reply.toString('latin1'), /peer id 9 is not in the ensemble/);
    await peers[0]!.logger.waitFor(/UnknownPeerError: peer id 9 is not in the ensemble/, WAIT_MS);
    assert.equal(peers[0]!.transport.metrics().handshakeFailures, 1);
    await assertStillLinked(peers, [1, 2]);
  } finally {
    await closeAll(peers);
  }
});

test('garbage bytes from raw clients close only their connection and never crash', async () => {
  const { peers } = await startEnsemble(3, () => ({ handshakeTimeoutMs: 300 }));
  try {
    for (const peer of peers) {
      const others = [1, 2, 3].filter((id) => id !== peer.id);
      await waitForConnectedPeers(peer.transport, others, WAIT_MS);
    }
    const target = peers[0]!;
    const crafted = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      encodeFrameHeader(0xffffffff),
      encodeFrame(Buffer.concat([Buffer.from([1]), Buffer.alloc(47, 0x41)])), // HELLO, bad magic
      encodeFrame(Buffer.alloc(0)), // an empty frame where HELLO is due
      helloFrom(2, 1, null).subarray(0, 20), // a truncated HELLO, then silence
    ];
    const garbage = fc.uint8Array({ minLength: 1, maxLength: 200 });
    const random = fc.sample(garbage, { numRuns: 10, seed: 42 });
    const inputs = [...crafted, ...random.map((bytes) => Buffer.from(bytes))];
    for (const [index, bytes] of inputs.entries()) {
      const { socket, closed } = await rawConnect(target.transport.listenAddress.port);
      socket.write(bytes);
      await waitClosed(closed, `the close of garbage connection ${index}`);
    }
    const warnings = target.logger.lines.filter((line) => line.level === 'warn');
    assert.ok(warnings.length >= inputs.length - 1, `${warnings.length} warnings`);
    assert.ok(target.logger.matching(/bad magic/).length >= 1);
    assert.ok(target.logger.matching(/\(127\.0\.0\.1:\d+, inbound\)/).length >= inputs.length);
    assert.ok(target.logger.matching(/handshake did not complete within 300 ms/).length >= 1);
    await assertStillLinked(peers, [1, 2, 3]);
  } finally {
    await closeAll(peers);
  }
});

test('inbound handshakes beyond pendingHandshakesMax are refused at once', async () => {
  const { peers } = await startEnsemble(2, () => ({ pendingHandshakesMax: 2 }));
  const sockets: net.Socket[] = [];
  try {
    await waitForConnectedPeers(peers[0]!.transport, [2], WAIT_MS);
    const port = peers[0]!.transport.listenAddress.port;
    const silent = [await rawConnect(port), await rawConnect(port)];
    sockets.push(...silent.map((client) => client.socket));
    const refused = await rawConnect(port);
    sockets.push(refused.socket);
    await waitClosed(refused.closed, 'the refusal of a third pending handshake');
    assert.equal(peers[0]!.transport.metrics().inboundRefused, 1);
    await assertStillLinked(peers, [1, 2]);
  } finally {
    for (const socket of sockets) socket.destroy();
    await closeAll(peers);
  }
});

test('a second link dialed by the same higher id replaces the first; one remains', async () => {
  const { peers } = await startEnsemble(3, () => ({ secret: 'k' }));
  const [first, second, third] = peers as [StartedPeer, StartedPeer, StartedPeer];
  const events: string[] = [];
  try {
    // Stop the real peer 3, then impersonate it (it knows the secret) and dial twice
    // without closing the first link, as a peer that lost its link unnoticed would.
    await third.transport.close();
    await waitForConnectedPeers(first.transport, [2], WAIT_MS);
    first.transport.onPeerState((peer, state) => events.push(`${peer}:${state}`));
    const port = first.transport.listenAddress.port;
    const older = await rawLink(port, 3, 1, 'k');
    const newer = await rawLink(port, 3, 1, 'k');
    await waitClosed(older.closed, 'the close of the replaced link');
    assert.deepEqual(events, ['3:connected', '3:disconnected', '3:connected']);
    assert.deepEqual(first.transport.connectedPeers(), [2, 3]);
    await first.logger.waitFor(/peer 3 dialed again; replacing its old link/, WAIT_MS);
    const recorder = new MessageRecorder(first.transport);
    newer.socket.write(encodeFrame(Buffer.from('over the newer link')));
    await recorder.waitForCount(3, 1, WAIT_MS);
    assert.equal(second.transport.send(1, Buffer.from('the 1-2 link is untouched')), true);
    await recorder.waitForCount(2, 1, WAIT_MS);
    assert.ok(!events.includes('2:disconnected'));
    newer.socket.destroy();
  } finally {
    await closeAll(peers);
  }
});

test('a frame over frameBytesMax closes only that link, which is then re-established', async () => {
  const { peers } = await startEnsemble(3, (id) => ({ frameBytesMax: id === 1 ? 1024 : 4096 }));
  const [first, second, third] = peers as [StartedPeer, StartedPeer, StartedPeer];
  try {
    await waitForConnectedPeers(first.transport, [2, 3], WAIT_MS);
    await waitForConnectedPeers(second.transport, [1, 3], WAIT_MS);
    assert.equal(third.transport.send(1, Buffer.alloc(2048)), true);
    await first.logger.waitFor(/frame of 2048 payload bytes exceeds frameBytesMax 1024/, WAIT_MS);
    assert.equal(first.transport.metrics().protocolErrors, 1);
    await waitForConnectedPeers(first.transport, [2, 3], WAIT_MS);
    const recorder = new MessageRecorder(first.transport);
    assert.equal(third.transport.send(1, Buffer.from('small again')), true);
    await recorder.waitForCount(3, 1, WAIT_MS);
    assert.equal(second.transport.metrics().connectionsLost, 0, 'the 1-2 link never dropped');
    assert.equal(recorder.count(2), 0);
    assert.equal(second.transport.send(1, Buffer.from('from 2')), true);
    await recorder.waitForCount(2, 1, WAIT_MS);
  } finally {
    await closeAll(peers);
  }
});
