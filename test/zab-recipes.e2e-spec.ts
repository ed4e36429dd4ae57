/**
 * Goal: the recipes are injectable in Nest: `ZabRecipes` makes each recipe bound to the
 * instance's own session — a counter two apps increment sums exactly, a member registered
 * through it is an ephemeral of the app's session (gone when the app closes), a semaphore of
 * one refuses a second lease while the first is held.
 * Method: two Nest apps through @nestjs/testing on one 3-replica in-process ensemble
 * (isolation main, memory storage); waits are the recipes' own promises, bounded.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Test, type TestingModule } from '@nestjs/testing';
import { CoordinationService, ZabModule, ZabRecipes } from '../libs/zab/src/index.js';
import { reserveLoopbackPorts } from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

async function startApp(id: number, ensemble: string): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ id, ensemble, isolation: 'main', dataDir: ':memory:', tickMs: 100,
      zabTickMs: 50, sessionTimeoutMs: 3_000, secret: 'zab-recipes-secret-0123456789' })],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  await moduleRef.init();
  return moduleRef;
}

test('ZabRecipes gives recipes bound to the instance session', async () => {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const apps = await Promise.all([1, 2, 3].map((id) => startApp(id, ensemble)));
  try {
    const [a, b] = apps.map((app) => app.get(ZabRecipes));
    const counters = [a!.sharedCounter('/counters/orders'), b!.sharedCounter('/counters/orders')];
    await Promise.all(counters.flatMap((counter) => Array.from({ length: 10 }, () => counter.increment(1n))));
    await apps[0]!.get(CoordinationService).sync('/');
    assert.equal((await counters[0]!.get()).value, 20n);

    const member = b!.groupMember('/members', 'app-2');
    await member.register(Buffer.from('{"http":8080}'));
    const sessionOfB = apps[1]!.get(CoordinationService).sessionId;
    const ephemerals = await apps[1]!.get(CoordinationService).coordinationClient().getEphemerals('/members');
    assert.deepEqual(ephemerals.length, 1, 'the member node is an ephemeral of app 2\'s session');
    const stat = await apps[1]!.get(CoordinationService).exists(ephemerals[0]!);
    assert.equal(stat?.ephemeralOwner, sessionOfB);

    const lease = await a!.semaphore('/semaphores/one', 1).acquire({ timeoutMs: 5_000 });
    await assert.rejects(b!.semaphore('/semaphores/one', 1).acquire({ timeoutMs: 300 }), /time/i);
    await lease.release();
    const second = await b!.semaphore('/semaphores/one', 1).acquire({ timeoutMs: 5_000 });
    await second.release();
  } finally {
    await Promise.allSettled(apps.map((app) => app.close()));
  }
});
