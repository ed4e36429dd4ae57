/**
 * Entry module of the replica worker (`worker_threads`), started by `WorkerReplicaHandle.open`
 * with the validated options as `workerData`. Opens the replica (`Replica`, or `EnsembleReplica`
 * for several members) in this thread and serves
 * the main thread's batched requests through `WorkerServer`. The replica's log lines are sent
 * to the main thread, which writes them with the app's logger.
 *
 * Lifecycle: posts `opened` (or `openFailed`, then lets the thread end); exits when the main
 * thread terminates it after a `shutdown` reply, or dies of an uncaught error, which the main
 * thread reports as a crash.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Replica, type ReplicaLogger } from './replica.js';
import { EnsembleReplica } from './ensemble-replica.js';
import type { ServedReplica } from './client-replica.js';
import { WorkerServer } from './worker-server.js';
import { startClientPort, type ClientPortServer } from './client-port-server.js';
import {
  Outbox,
  toWireError,
  type Batch,
  type HostRequest,
  type WorkerItem,
  type WorkerStartData,
} from './worker-protocol.js';

async function serve(port: MessagePort, start: WorkerStartData): Promise<void> {
  const outbox = new Outbox<WorkerItem>((message, transfer) => port.postMessage(message, transfer));
  const logger: ReplicaLogger = {
    log: (message) => outbox.push({ kind: 'log', level: 'log', message }),
    warn: (message) => outbox.push({ kind: 'log', level: 'warn', message }),
    error: (message) => outbox.push({ kind: 'log', level: 'error', message }),
  };
  let replica: ServedReplica;
  try {
    // Several members: the Zab ensemble driver, on this thread's event loop (its ticks, peer
    // transport and lag guard are then independent of the app's main thread).
    replica = (start.options.ensemble?.length ?? 1) > 1
      ? await EnsembleReplica.open(start.options, { logger })
      : await Replica.open(start.options, { logger });
  } catch (error) {
    outbox.push({ kind: 'openFailed', error: toWireError(error) });
    outbox.flush();
    return;
  }
  // The client port runs here, next to the replica, on the worker's event loop.
  let clientPort: ClientPortServer | undefined;
  try {
    clientPort = await startClientPort(replica, start.options, logger);
  } catch (error) {
    await replica.close().catch(() => undefined);
    outbox.push({ kind: 'openFailed', error: toWireError(error) });
    outbox.flush();
    return;
  }
  const server = new WorkerServer(replica, outbox);
  port.on('message', (message: Batch<HostRequest>) => {
    for (const request of message.batch) {
      if (!Array.isArray(request) && request.kind === 'shutdown' && clientPort !== undefined) {
        // No client request may reach a closing replica: the port closes first.
        const closing = clientPort;
        clientPort = undefined;
        void closing.close().finally(() => server.handle(request));
        continue;
      }
      server.handle(request);
    }
  });
  outbox.push(clientPort === undefined ? { kind: 'opened' } : { kind: 'opened', clientPort: clientPort.port });
}

if (parentPort === null) {
  throw new Error('worker-entry.js runs only as a worker_threads worker (see WorkerReplicaHandle)');
}
await serve(parentPort, workerData as WorkerStartData);
