/**
 * Goal: transport options fail early with every problem listed, and resolve to the
 * documented defaults; a port in use is a typed error that names the address.
 * Method: a table of bad option sets, checked against the messages; one default run; a
 * server on an OS-assigned 127.0.0.1 port blocks the transport's port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { TransportConfigurationError } from '../errors/transport-configuration-error.js';
import { PeerPortUnavailableError } from '../errors/peer-port-unavailable-error.js';
import { TcpPeerTransport } from './tcp-peer-transport.js';
import {
  resolveTcpPeerTransportOptions,
  TCP_PEER_TRANSPORT_DEFAULTS,
} from './tcp-peer-transport-options.js';

const ensemble = { 1: { host: '127.0.0.1', port: 2888 }, 2: { host: '127.0.0.1', port: 2889 } };

test('defaults apply and the ensemble record becomes a map', () => {
  const resolved = resolveTcpPeerTransportOptions({ id: 1, ensemble });
  assert.equal(resolved.frameBytesMax, TCP_PEER_TRANSPORT_DEFAULTS.frameBytesMax);
  assert.equal(resolved.reconnectDelayMsMax, 2000);
  assert.equal(resolved.secret, null);
  assert.equal(resolved.listenPort, 2888);
  assert.deepEqual([...resolved.ensemble.keys()], [1, 2]);
});

test('every problem is reported at once', () => {
  assert.throws(
    () =>
      resolveTcpPeerTransportOptions({
        id: 3,
        ensemble: { ...ensemble, 4: { host: '', port: 70_000 } },
        frameBytesMax: 0,
        reconnectDelayMsMin: 500,
        reconnectDelayMsMax: 100,
        secret: '',
      }),
    (error: unknown) => {
      assert.ok(error instanceof TransportConfigurationError);
      assert.match(error.message, /ensemble entry 4 needs a non-empty host/);
      assert.match(error.message, /ensemble entry 4 needs a port from 1 to 65535; got 70000/);
      assert.match(error.message, /id 3 is not in the ensemble/);
      assert.match(error.message, /frameBytesMax must be an integer from 1/);
      assert.match(error.message, /reconnectDelayMsMin must not exceed reconnectDelayMsMax/);
      assert.match(error.message, /secret must not be empty/);
      assert.equal(error.problems.length, 6);
      return true;
    },
  );
});

test('a port in use fails start with PeerPortUnavailableError naming the address', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const taken = { 1: { host: '127.0.0.1', port }, 2: { host: '127.0.0.1', port: 1 } };
    await assert.rejects(
      TcpPeerTransport.start({ id: 1, ensemble: taken }),
      (error: unknown) => {
        assert.ok(error instanceof PeerPortUnavailableError);
        assert.match(error.message, new RegExp(`cannot listen for peers on 127.0.0.1:${port}`));
        return true;
      },
    );
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('the send queue must hold at least one full frame', () => {
  assert.throws(
    () =>
      resolveTcpPeerTransportOptions({
        id: 1,
        ensemble,
        frameBytesMax: 2000,
        sendQueueBytesMax: 1000,
      }),
    /sendQueueBytesMax must be at least frameBytesMax/,
  );
});
