import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { CoordinationService } from 'nestjs-zab';
import { ZabTransportStrategy } from 'nestjs-zab/microservices';
import { instanceModule } from './instance.module.js';
import { report, type InstanceSettings } from './instance.settings.js';

/**
 * One instance of the demo: a Nest HTTP app with an embedded replica of the 3-member ensemble,
 * a leader-only job, a locked endpoint, a live config, membership and the event transport.
 * Started by the demo's orchestrator (`npm run demo`) with its settings in argv[2].
 */
async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2]!) as InstanceSettings;
  const app = await NestFactory.create(instanceModule(settings), { logger: ['error', 'warn'] });
  app.connectMicroservice({
    strategy: new ZabTransportStrategy(app.get(CoordinationService), { consumerId: `instance-${settings.id}`, startFrom: 'latest' }),
  });
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(settings.httpPort, '127.0.0.1');
  report({ type: 'ready', id: settings.id });
}

main().catch((error: unknown) => {
  process.stderr.write(`demo instance failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
