import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ZabModule, type ZabModuleOptions } from 'nestjs-zab';

/**
 * Standalone replica server: a Nest application that imports only ZabModule.
 *   npm run replica -- --data-dir ./.zab/replica [--tick-ms 2000]
 * It serves until SIGINT/SIGTERM, then closes cleanly (log flushed).
 */
function parseArguments(argv: string[]): ZabModuleOptions {
  const options: ZabModuleOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value after ${flag}`);
    switch (flag) {
      case '--data-dir':
        options.dataDir = value;
        break;
      case '--tick-ms':
        options.tickMs = Number(value);
        break;
      default:
        throw new Error(`unknown argument ${flag}; usage: npm run replica -- --data-dir DIR [--tick-ms N]`);
    }
    i += 1;
  }
  return options;
}

@Module({})
class ReplicaAppModule {
  static register(options: ZabModuleOptions): DynamicModule {
    return { module: ReplicaAppModule, imports: [ZabModule.forRoot(options)] };
  }
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  const app = await NestFactory.createApplicationContext(ReplicaAppModule.register(options));
  app.enableShutdownHooks();
}

main().catch((error: unknown) => {
  process.stderr.write(`replica failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
