/**
 * Goal: with `tls`, peers link only over mutually verified TLS (each side checks the other's
 * certificate against the shared CA, and the dialer checks the host name), messages still
 * flow in FIFO order with HMAC on top, and a peer whose certificate another CA signed, or a
 * plain-TCP client, is refused and logged while the good link carries on.
 * Method: the `openssl` CLI makes, in a temporary directory, a CA, a certificate for
 * 127.0.0.1 signed by it, and a second "rogue" CA and certificate (Node cannot issue X.509
 * certificates itself); `.ci/run` installs it, and the test fails when it is missing.
 * Transports listen on 127.0.0.1 on OS-assigned ports; waits are bounded and event-driven.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerTlsOptions } from './tcp-peer-transport-options.js';
import {
  closeAll,
  LOOPBACK,
  MessageRecorder,
  startEnsemble,
  waitForConnectedPeers,
  type StartedPeer,
} from './tcp-peer-transport.test-support.js';

const WAIT_MS = 10_000;

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A CA and one certificate it signed for IP 127.0.0.1, usable as server and client. */
function issue(directory: string, name: string): PeerTlsOptions {
  const file = (suffix: string) => join(directory, `${name}.${suffix}`);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2',
    '-subj', `/CN=${name} test CA`);
  openssl('req', ...ec, '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${name} peer`);
  writeFileSync(
    file('ext'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' +
      'basicConstraints=CA:FALSE\n',
  );
  openssl('x509', '-req', '-in', file('csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-out', file('crt'), '-days', '2', '-extfile', file('ext'));
  return {
    key: readFileSync(file('key')),
    cert: readFileSync(file('crt')),
    ca: readFileSync(file('ca.crt')),
  };
}

test('mutual TLS: verified peers link; a rogue CA and plain TCP are refused', async () => {
  assert.ok(hasOpenssl(), 'openssl is needed to issue test certificates (apt-get install openssl)');
  const directory = mkdtempSync(join(tmpdir(), 'zab-transport-tls-'));
  let peers: StartedPeer[] = [];
  try {
    const trusted = issue(directory, 'trusted');
    const rogue = issue(directory, 'rogue');
    // The rogue peer trusts our CA, so only our side's verification can refuse it.
    const rogueOptions = { ...rogue, ca: [rogue.ca as Buffer, trusted.ca as Buffer] };
    ({ peers } = await startEnsemble(3, (id) => ({
      secret: 'shared',
      tls: id === 2 ? rogueOptions : trusted,
    })));
    const [first, rogueTransport, third] = peers as [StartedPeer, StartedPeer, StartedPeer];
    await waitForConnectedPeers(first.transport, [3], WAIT_MS);
    await waitForConnectedPeers(third.transport, [1], WAIT_MS);

    const recorder = new MessageRecorder(first.transport);
    for (let sequence = 0; sequence < 100; sequence += 1) {
      assert.equal(third.transport.send(1, Buffer.from(`tls#${sequence}`)), true);
    }
    await recorder.waitForCount(3, 100, WAIT_MS);
    const got = recorder.bySender.get(3)!.map((payload) => payload.toString());
    assert.deepEqual(got, Array.from({ length: 100 }, (_, sequence) => `tls#${sequence}`));

    // Peer 3 dials the rogue peer 2 and refuses its certificate; 2's wake-ups to 3 and its
    // dial to 1 fail TLS on the acceptor's side.
    await third.logger.waitFor(/cannot reach peer 2 .*certificate/, WAIT_MS);
    await first.logger.waitFor(/refused the TLS client certificate of 127\.0\.0\.1:\d+: /, WAIT_MS);
    assert.ok(first.transport.metrics().authenticationFailures >= 1);
    assert.deepEqual(rogueTransport.transport.connectedPeers(), []);

    const plain = net.connect({ host: LOOPBACK, port: first.transport.listenAddress.port });
    plain.on('error', () => {});
    await new Promise<void>((resolve) => {
      plain.on('close', () => resolve());
      plain.write(Buffer.from('plain bytes, not a TLS ClientHello'));
    });
    assert.deepEqual(first.transport.connectedPeers(), [3]);
    assert.equal(first.transport.metrics().connectionsLost, 0);
  } finally {
    await closeAll(peers);
    rmSync(directory, { recursive: true, force: true });
  }
});
