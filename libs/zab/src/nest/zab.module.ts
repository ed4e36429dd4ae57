import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { LocalCoordinationClient } from '../node/local-client.js';
import { Replica, type ReplicaLogger } from '../node/replica.js';
import { replicaOptionWarnings, resolveReplicaOptions } from '../node/replica-options.js';
import { CoordinationService } from './coordination.service.js';
import { ZAB_CLIENT, ZAB_REPLICA } from './zab.constants.js';
import { ZabLifecycle } from './zab.lifecycle.js';
import { ZabAdminEndpoint } from './zab-admin.endpoint.js';
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

/**
 * Runs an embedded replica as a provider. The replica is opened (recovered from its data
 * directory) by an async provider factory, so the application's start waits until it serves;
 * `app.close()` closes this instance's session and the replica last.
 */
@Module({
  providers: [
    {
      provide: ZAB_REPLICA,
      inject: [ZAB_MODULE_OPTIONS],
      useFactory: (options: ZabModuleOptions | undefined) => {
        const resolved = resolveReplicaOptions(stripExtras(options));
        const logger = nestLogger();
        for (const warning of replicaOptionWarnings(resolved)) logger.warn(warning);
        return Replica.open(resolved, { logger });
      },
    },
    {
      provide: ZAB_CLIENT,
      inject: [ZAB_REPLICA],
      useFactory: async (replica: Replica) => {
        try {
          return await LocalCoordinationClient.connect(replica, replica.options.sessionTimeoutMs);
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
  ],
  exports: [CoordinationService, ZAB_CLIENT, ZAB_REPLICA, ZabAdminEndpoint],
})
export class ZabModule extends ZabConfigurableModule {
  /** `ZabModule.forRoot()` with no options runs a durable single replica in `./.zab/1`. */
  static override forRoot(options: typeof ZAB_OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ZAB_ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }
}

/** The options object also carries module extras (`isGlobal`); the replica must not see them. */
function stripExtras(options: ZabModuleOptions | undefined): ZabModuleOptions {
  if (options === undefined || options === null) return {};
  const { isGlobal: _isGlobal, ...rest } = options as ZabModuleOptions & { isGlobal?: boolean };
  return rest;
}
