import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { CoordinationClient } from '../node/coordination-client.js';
import type { Replica } from '../node/replica.js';
import type { WorkerReplicaHandle } from '../node/worker-host.js';
import { ZAB_CLIENT, ZAB_REPLICA } from './zab.constants.js';

/**
 * Shuts the replica down last, after every other provider's shutdown hooks: closes this
 * instance's session (its ephemerals vanish at once, watchers are told), waits for in-flight
 * writes and snapshots, then flushes and closes the log. The replica is the `Replica` itself
 * (`isolation: 'main'`) or the handle of the one in the worker thread.
 */
@Injectable()
export class ZabLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Zab');

  constructor(
    @Inject(ZAB_REPLICA) private readonly replica: Replica | WorkerReplicaHandle | null,
    @Inject(ZAB_CLIENT) private readonly client: CoordinationClient,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.replica === null) {
      await this.client.close(); // connect mode: closeSession to the remote ensemble
      return;
    }
    try {
      if (this.replica.state === 'serving') await this.client.close();
    } catch (error) {
      // E.g. the ensemble lost its leader while shutting down (every instance stopping at
      // once): not an error of this app. The session expires after its timeout, and its
      // ephemerals with it.
      this.logger.warn(`session not closed at shutdown (${(error as Error).message}); it ends at its timeout`);
    } finally {
      await this.replica.close();
    }
  }
}
