import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { resolveZabOptions, type ResolvedZabOptions } from '../node/connect-options.js';
import type { CoordinationClient } from '../node/coordination-client.js';
import { EnsembleReplica } from '../node/ensemble-replica.js';
import { LocalCoordinationClient } from '../node/local-client.js';
import { Replica, type ReplicaLogger } from '../node/replica.js';
import { RemoteCoordinationClient } from '../node/remote-client.js';
import { replicaOptionWarnings, type ReplicaOptions } from '../node/replica-options.js';
import { WorkerReplicaHandle } from '../node/worker-host.js';
import { CoordinationService } from './coordination.service.js';
import { ZAB_CLIENT, ZAB_REPLICA, ZAB_RESOLVED_OPTIONS } from './zab.constants.js';
import { ZabLifecycle } from './zab.lifecycle.js';
import { CoordinationExplorer } from './coordination.explorer.js';
import { LeaderOnlyGuard } from './leader-only.guard.js';
import { ZabElections } from './zab-elections.service.js';
import { ZabLocks } from './zab-locks.service.js';
import { ZabAdminEndpoint } from './zab-admin.endpoint.js';
import { ZabClientPortEndpoint } from './zab-client-port.endpoint.js';
import { LiveConfig, liveConfigToken, type LiveConfigDefinition } from './live-config.js';
import {
  ZAB_ASYNC_OPTIONS_TYPE,
  ZAB_MODULE_OPTIONS,
  ZAB_OPTIONS_TYPE,
  ZabConfigurableModule,
} from './zab.module-definition.js';
import type { ZabModuleOptions } from './zab-module-options.interface.js';

function nestLogger(): ReplicaLogger {
  const logger = new Logger('Zab');
  return {
    log: (message) => logger.log(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
  };
}

type AnyReplica = Replica | EnsembleReplica | WorkerReplicaHandle;

/**
 * The replica backend `isolation` asks for: a `WorkerReplicaHandle` (replica in a worker
 * thread, the default) or, on the app's event loop (`'main'`), the `Replica` itself or, for an
 * ensemble of several members, the Zab ensemble driver `EnsembleReplica` (the worker runs the
 * same choice in its own thread). Each has the `state`, `options`,
 * `status()` and `close()` that `ZabLifecycle` and the admin endpoint use.
 */
function openReplica(options: ReplicaOptions, logger: ReplicaLogger): Promise<AnyReplica> {
  if (options.isolation === 'worker') return WorkerReplicaHandle.open(options, { logger });
  if ((options.ensemble?.length ?? 1) > 1) return EnsembleReplica.open(options, { logger });
  return Replica.open(options, { logger });
}

/** This instance's own session: a local one, kept alive by the replica wherever it runs. */
/**
 * Opens this instance's session (a leader change during an ensemble's start is retried by
 * `EnsembleReplica.createSession` itself).
 */
function connectClient(replica: AnyReplica): Promise<CoordinationClient> {
  const timeoutMs = replica.options.sessionTimeoutMs;
  if (replica instanceof WorkerReplicaHandle) return replica.connect(timeoutMs);
  return LocalCoordinationClient.connect(replica, timeoutMs);
}

/**
 * Runs an embedded replica as a provider, in a worker thread unless `isolation: 'main'`. The
 * replica is opened (recovered from its data directory) by an async provider factory, so the
 * application's start waits until it serves; `app.close()` closes this instance's session and
 * the replica last. `ZAB_REPLICA` is the `WorkerReplicaHandle` or (main) the `Replica` or the
 * `EnsembleReplica`. With `connect` there is no replica (`ZAB_REPLICA` is null): the client is
 * a `RemoteCoordinationClient` of that ensemble, whose session the start waits for and
 * `app.close()` closes.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: ZAB_RESOLVED_OPTIONS,
      inject: [ZAB_MODULE_OPTIONS],
      useFactory: (options: ZabModuleOptions | undefined) => resolveZabOptions(stripExtras(options)),
    },
    {
      provide: ZAB_REPLICA,
      inject: [ZAB_RESOLVED_OPTIONS],
      useFactory: (resolved: ResolvedZabOptions) => {
        if (resolved.mode === 'connect') return null;
        const logger = nestLogger();
        for (const warning of replicaOptionWarnings(resolved.replica)) logger.warn(warning);
        return openReplica(resolved.replica, logger);
      },
    },
    {
      provide: ZAB_CLIENT,
      inject: [ZAB_REPLICA, ZAB_RESOLVED_OPTIONS],
      useFactory: async (replica: AnyReplica | null, resolved: ResolvedZabOptions) => {
        if (replica === null && resolved.mode === 'connect') {
          const { connect, sessionTimeoutMs, auth, connectTimeoutMs } = resolved.connect;
          return RemoteCoordinationClient.connect({ connect, sessionTimeoutMs, auth, connectTimeoutMs, logger: nestLogger() });
        }
        if (replica === null) throw new Error('no replica and no connect string');
        try {
          return await connectClient(replica);
        } catch (error) {
          // The start fails: release the data directory so a retry in this process can open it.
          await replica.close().catch(() => undefined);
          throw error;
        }
      },
    },
    CoordinationService,
    ZabLifecycle,
    ZabAdminEndpoint,
    ZabClientPortEndpoint,
    ZabElections,
    ZabLocks,
    CoordinationExplorer,
    LeaderOnlyGuard,
  ],
  exports: [CoordinationService, ZAB_CLIENT, ZAB_REPLICA, ZabAdminEndpoint, ZabClientPortEndpoint,
    ZabElections, ZabLocks, LeaderOnlyGuard],
})
export class ZabModule extends ZabConfigurableModule {
  /** `ZabModule.forRoot()` with no options runs a durable single replica in `./.zab/1`. */
  static override forRoot(options: typeof ZAB_OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ZAB_ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }

  /**
   * Live configuration values for a feature module: one `LiveConfig<T>` provider per
   * definition (`defineLiveConfig`), injected with `@InjectLiveConfig(definition)`. Each waits
   * for its first value, so the app starts with its configuration loaded. Needs `forRoot`.
   */
  static forFeature(options: { configs: LiveConfigDefinition<unknown>[] }): DynamicModule {
    const providers = options.configs.map((definition) => ({
      provide: liveConfigToken(definition),
      inject: [CoordinationService],
      useFactory: (coordination: CoordinationService) => LiveConfig.open(coordination, definition),
    }));
    return { module: ZabFeatureModule, providers, exports: providers.map((p) => p.provide) };
  }
}

/** The options object also carries module extras (`isGlobal`); the replica must not see them. */
function stripExtras(options: ZabModuleOptions | undefined): ZabModuleOptions {
  if (options === undefined || options === null) return {};
  const { isGlobal: _isGlobal, ...rest } = options as ZabModuleOptions & { isGlobal?: boolean };
  return rest;
}

/** The module `ZabModule.forFeature` returns (its providers only; the replica is forRoot's). */
@Module({})
export class ZabFeatureModule {}
