import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AdminServer } from '../node/admin-server.js';
import type { EnsembleReplica } from '../node/ensemble-replica.js';
import type { Replica } from '../node/replica.js';
import type { WorkerReplicaHandle } from '../node/worker-host.js';
import { ZAB_REPLICA } from './zab.constants.js';

/**
 * Serves the admin HTTP endpoint (`/commands/srvr`, `mntr`, `ruok`) when the `adminPort`
 * option is set, from the application's bootstrap until before its shutdown (so it is gone
 * before the replica closes). With no `adminPort` it does nothing. With the replica in a
 * worker thread, each request asks the worker for the figures.
 */
@Injectable()
export class ZabAdminEndpoint implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ZabAdmin');
  private server: AdminServer | undefined;

  constructor(
    @Inject(ZAB_REPLICA)
    private readonly replica: Replica | EnsembleReplica | WorkerReplicaHandle | null,
  ) {}

  /** `http://host:port` of the running endpoint, or undefined when none runs. */
  get url(): string | undefined {
    return this.server?.url;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.replica === null) return; // connect mode: no replica to report on
    const replica = this.replica;
    const { adminPort, adminHost } = replica.options;
    if (adminPort === undefined) return;
    try {
      this.server = await AdminServer.start({
        host: adminHost,
        port: adminPort,
        status: () => replica.status(),
        warn: (message) => this.logger.warn(message),
      });
    } catch (error) {
      // The start fails: release the data directory so a retry in this process can open it.
      await replica.close().catch(() => undefined);
      throw error;
    }
    this.logger.log(`admin endpoint on ${this.server.url}/commands`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}
