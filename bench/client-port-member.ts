/**
 * One nestjs-zab replica of the `zookeeper` benchmark, run as a child process
 * (`child_process.fork`): a durable `EnsembleReplica` (file storage in its data dir, fdatasync
 * before acknowledging, like the `ensemble` benchmark's members) serving ZooKeeper clients on
 * a client port that the OS picks on 127.0.0.1. Its first IPC message is
 * `{ tag: 0, result: { ready: true, clientPort } }`; then it answers
 *
 *   { cmd: 'status' } → { role, leader, established }
 *   { cmd: 'stats' }  → { framesSent, socketWrites } since start (all client connections)
 *
 * Argv: id, ensemble spec, data dir, zabTickMs. Bench-only; 127.0.0.1 only. The parent ends
 * it by pid; a closed IPC channel (parent gone) closes the replica and exits.
 */
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { startClientPort } from '../libs/zab/src/node/client-port-server.js';

const [idText, ensemble, dataDir, zabTickText] = process.argv.slice(2);
const logger = {
  log: () => undefined,
  warn: (message: string) => console.error(`member ${idText}: ${message}`),
  error: (message: string) => console.error(`member ${idText}: ${message}`),
};

const replica = await EnsembleReplica.open({ id: Number(idText), ensemble, dataDir,
  zabTickMs: Number(zabTickText), tickMs: 2000, pendingWritesMax: 100_000,
  clientPort: 0, clientHost: '127.0.0.1', clientConnectionsPerHostMax: 0,
  secret: 'bench-ensemble-secret-0123456789' }, { requestTimeoutMs: 10_000, logger });
const server = (await startClientPort(replica, replica.options, logger))!;

process.on('message', (message: { cmd: string; tag: number }) => {
  const result = message.cmd === 'status'
    ? { role: replica.role, leader: replica.leader, established: replica.isEstablished }
    : message.cmd === 'stats'
      ? server.sendTotals()
      : { error: `unknown command ${message.cmd}` };
  process.send!({ tag: message.tag, result });
});
process.on('disconnect', () => {
  server.close().then(() => replica.close()).finally(() => process.exit(0));
});
process.send!({ tag: 0, result: { ready: true, clientPort: server.port } });
