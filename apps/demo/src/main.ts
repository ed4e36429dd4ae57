import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { DemoModule } from './demo.module.js';
import { DemoService } from './demo.service.js';

/**
 * `npm run demo`: starts an application with an embedded durable replica, walks through the
 * coordination features, and closes (the instance's ephemerals vanish with its session).
 * Run it twice: the state survives restarts.
 */
async function main(): Promise<void> {
  const started = Date.now();
  const app = await NestFactory.createApplicationContext(DemoModule, { logger: ['log', 'warn', 'error'] });
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  say('\nnestjs-zab demo: one app instance with an embedded replica (./.zab/demo)\n');
  await app.get(DemoService).run(say);
  await app.close();
  say(`\nDone in ${Date.now() - started} ms. Run \`npm run demo\` again: the run counter goes on.`);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
