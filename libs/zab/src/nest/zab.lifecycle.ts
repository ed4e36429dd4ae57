import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { CoordinationClient } from '../node/coordination-client.js';
import type { Replica } from '../node/replica.js';
import type { WorkerReplicaHandle } from '../node/worker-host.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { ZAB_CLIENT, ZAB_REPLICA } from './zab.constants.js';

/**
 * Shuts the replica down last, after every other provider's shutdown hooks: closes this
 * instance's session (its ephemerals vanish at once, watchers are told), waits for in-flight
 * writes and snapshots, then flushes and closes the log. The replica is the `Replica` itself
 * (`isolation: 'main'`) or the handle of the one in the worker thread. A closeSession lost to
 * a leader change (ConnectionLoss) does not fail the shutdown: it is logged, and the ensemble
 * expires the session after its timeout instead.
 */
@Injectable()
export class ZabLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('ZabModule');

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
      if (this.replica.state === 'serving') await this.closeSession();
    } finally {
      await this.replica.close();
    }
  }

  private async closeSession(): Promise<void> {
    try {
      await this.client.close();
    } catch (error) {
      if (!(error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss)) throw error;
      this.logger.warn(`closing the session lost its connection (${error.message}); ` +
        'the ensemble expires it after its timeout');
    }
  }
}
