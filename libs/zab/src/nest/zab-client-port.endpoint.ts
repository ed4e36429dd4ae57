import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ClientPortServer, startClientPort } from '../node/client-port-server.js';
import type { EnsembleReplica } from '../node/ensemble-replica.js';
import type { Replica } from '../node/replica.js';
import { WorkerReplicaHandle } from '../node/worker-host.js';
import { ZAB_REPLICA } from './zab.constants.js';

/**
 * The ZooKeeper client port (option `clientPort`). With the replica in a worker thread (the
 * default) the worker already serves it next to the replica and this provider only reports
 * the port; with `isolation: 'main'` it starts the port at bootstrap on the app's event loop
 * and closes it before the replica closes. With no `clientPort` it does nothing.
 */
@Injectable()
export class ZabClientPortEndpoint implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ZabClientPort');
  private server: ClientPortServer | undefined;

  constructor(
    /** `null` in `connect` mode: no replica here, so no client port either. */
    @Inject(ZAB_REPLICA)
    private readonly replica: Replica | EnsembleReplica | WorkerReplicaHandle | null,
  ) {}

  /** The port clients connect to, or undefined when no client port runs. */
  get port(): number | undefined {
    if (this.replica instanceof WorkerReplicaHandle) return this.replica.clientPort;
    return this.server?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.replica === null || this.replica instanceof WorkerReplicaHandle) return;
    const logger = {
      log: (message: string) => this.logger.log(message),
      warn: (message: string) => this.logger.warn(message),
      error: (message: string) => this.logger.error(message),
    };
    try {
      this.server = await startClientPort(this.replica, this.replica.options, logger);
    } catch (error) {
      // The start fails: release the data directory so a retry in this process can open it.
      await this.replica.close().catch(() => undefined);
      throw error;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}
