import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ZabAdminEndpoint,
  ZabClientPortEndpoint,
  ZabModule,
  ZAB_REPLICA,
  formatEnsemble,
  parseReplicaCommandLine,
  type Replica,
  type ReplicaOptions,
} from 'nestjs-zab';

/**
 * Standalone replica server: a Nest application that imports only ZabModule.
 *   npm run replica -- --id 1 --ensemble 1=127.0.0.1:2888 --data-dir DIR --admin-port 8081
 * Settings come from flags or ZAB_* variables (see --help). Exit codes: 0 after --help or a
 * clean stop (SIGINT/SIGTERM: session closed, writes drained, log closed), 2 for a
 * configuration mistake (one message per problem, no stack), 1 when the replica cannot start
 * (unusable data directory, admin port taken). Once it serves, it prints one line
 *   zab-replica ready id=1 mode=standalone admin=http://127.0.0.1:PORT client=0.0.0.0:PORT data-dir=DIR
 * (`admin=none` without --admin-port, `client=none` without --client-port), which scripts and
 * tests wait for.
 */
@Module({})
class ReplicaAppModule {
  /**
   * No application code runs on this server's main thread, so the replica runs there
   * (`isolation: 'main'`): the worker hop would only cost throughput.
   */
  static register(options: ReplicaOptions): DynamicModule {
    return {
      module: ReplicaAppModule,
      imports: [ZabModule.forRoot({ ...options, isolation: 'main' })],
    };
  }
}

async function main(): Promise<void> {
  const parsed = parseReplicaCommandLine(process.argv.slice(2), process.env);
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(parsed.text);
      return;
    case 'invalid':
      process.stderr.write(
        `zab-replica: invalid configuration:\n  - ${parsed.problems.join('\n  - ')}\n` +
          `Run with --help for the flags.\n`,
      );
      process.exitCode = 2;
      return;
    case 'run':
      for (const warning of parsed.warnings) {
        process.stderr.write(`zab-replica: warning: ${warning}\n`);
      }
      await serve(parsed.options);
      return;
  }
}

async function serve(options: ReplicaOptions): Promise<void> {
  const app = await NestFactory.createApplicationContext(ReplicaAppModule.register(options), {
    abortOnError: false,
  });
  // useProcessExit: after a clean close the process exits with 0 (by default Nest re-raises
  // the signal, which would make a clean stop look like a kill to supervisors).
  app.enableShutdownHooks(['SIGINT', 'SIGTERM'], { useProcessExit: true });
  const status = await app.get<Replica>(ZAB_REPLICA).status();
  const admin = app.get(ZabAdminEndpoint).url ?? 'none';
  const clientPort = app.get(ZabClientPortEndpoint).port;
  const client = clientPort === undefined ? 'none' : `${options.clientHost}:${clientPort}`;
  const ensemble =
    options.ensemble === undefined ? '' : ` ensemble=${formatEnsemble(options.ensemble)}`;
  process.stdout.write(
    `zab-replica ready id=${status.serverId} mode=${status.mode} admin=${admin} client=${client} ` +
      `data-dir=${options.dataDir}${ensemble}\n`,
  );
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`zab-replica: cannot start: ${message}\n`);
  process.exit(1);
});
