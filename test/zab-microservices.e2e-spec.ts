/**
 * Goal: the `@nestjs/microservices` transport over a 3-app ensemble: events emitted
 * concurrently from every instance reach the `@EventPattern` handlers of every instance in one
 * total order; an instance that was down resumes from its committed offset and gets exactly
 * what it missed; `send()` reaches the `@MessagePattern` handler of the named instance, also
 * when that instance starts after the request was queued, and of the leader of a group, also
 * after that leader closes (the next one answers).
 * Method: three hybrid Nest apps (`connectMicroservice({ strategy })`) through
 * @nestjs/testing, one in-process ensemble on 127.0.0.1 with file storage in a temp dir;
 * waits are the strategies' `caughtUp` promises and the proxies' replies, bounded.
 * Under load a leader change can happen at any time (a starved event loop): an emit in
 * flight then fails with ConnectionLoss and its event may or may not be in the log (as a
 * ZooKeeper create would; an emit is not resent, it could duplicate). So every emit is
 * tracked: each acknowledged event must be delivered, a lost one at most once, nothing else;
 * and delivery is at-least-once (a consumer that lost its connection retries from its
 * committed offset), so orders are compared by each event's first delivery.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Inject, type INestApplication } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { filter, firstValueFrom, lastValueFrom } from 'rxjs';
import { CoordinationService, ErrorCode, KeeperError, ZabModule } from '../libs/zab/src/index.js';
import { ZabClientProxy, ZabTransportStrategy } from '../libs/zab/src/microservices.js';
import { reserveLoopbackPorts } from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

const INSTANCE = 'INSTANCE';
const seen = new Map<number, string[]>();

@Controller()
class OrdersController {
  constructor(@Inject(INSTANCE) private readonly id: number) {}

  @EventPattern('order.placed')
  placed(@Payload() data: { from: number; n: number }): void {
    seen.get(this.id)!.push(`${data.from}:${data.n}`);
  }

  @MessagePattern('whoami')
  whoami(@Payload() data: { question: string }): { id: number; answer: string } {
    return { id: this.id, answer: data.question.toUpperCase() };
  }
}

interface Instance {
  app: INestApplication;
  strategy: ZabTransportStrategy;
  proxy: ZabClientProxy;
}

async function startInstance(id: number, ensemble: string, root: string): Promise<Instance> {
  if (!seen.has(id)) seen.set(id, []);
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ id, ensemble, dataDir: join(root, String(id)),
      tickMs: 50, sessionTimeoutMs: 2_000, secret: 'zab-microservices-secret-0123456789' })],
    controllers: [OrdersController],
    providers: [{ provide: INSTANCE, useValue: id }],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  const coordination = app.get(CoordinationService);
  const strategy = new ZabTransportStrategy(coordination,
    { consumerId: `instance-${id}`, instance: `instance-${id}`, leaderOf: ['default'] });
  app.connectMicroservice({ strategy });
  await app.startAllMicroservices();
  await app.init();
  return { app, strategy, proxy: new ZabClientProxy(coordination) };
}

interface Emitted {
  label: string;
  /** Its sequence number; undefined when the emit failed with ConnectionLoss (outcome unknown). */
  sequence: number | undefined;
}

async function emitTracked(proxy: ZabClientProxy, from: number, n: number): Promise<Emitted> {
  try {
    return { label: `${from}:${n}`, sequence: await lastValueFrom(proxy.emit<number>('order.placed', { from, n })) };
  } catch (error) {
    if (!(error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss)) throw error;
    return { label: `${from}:${n}`, sequence: undefined };
  }
}

/** An acknowledged marker event (from 0), sent again after a ConnectionLoss (bounded). */
async function marker(proxy: ZabClientProxy, n: number): Promise<number> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const { sequence } = await emitTracked(proxy, 0, n * 10 + attempt);
    if (sequence !== undefined) return sequence;
  }
  throw new Error('three marker emits in a row lost their connection');
}

/** Each event's first delivery, in order, without the markers. */
function firstDeliveries(events: readonly string[]): string[] {
  return [...new Set(events)].filter((label) => !label.startsWith('0:'));
}

/** Every acknowledged emit was delivered; a lost one at most once (first deliveries); nothing else. */
function assertDelivered(delivered: readonly string[], emitted: readonly Emitted[]): void {
  const byLabel = new Map(emitted.map((e) => [e.label, e]));
  for (const label of delivered) assert.ok(byLabel.has(label), `delivered ${label}, never emitted`);
  const missing = emitted.filter((e) => e.sequence !== undefined && !delivered.includes(e.label));
  assert.deepEqual(missing, [], 'every acknowledged event was delivered');
}

test('events in one total order on every instance; offsets resume; send to a named instance', async () => {
  const root = mkdtempSync(join(tmpdir(), 'zab-microservices-'));
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const instances = new Map<number, Instance>();
  try {
    const started = await Promise.all([1, 2, 3].map((id) => startInstance(id, ensemble, root)));
    started.forEach((instance, i) => instances.set(i + 1, instance));

    const emits: Promise<Emitted>[] = [];
    for (let n = 0; n < 20; n++) {
      for (const [id, { proxy }] of instances) emits.push(emitTracked(proxy, id, n));
    }
    const emitted = await Promise.all(emits);
    // A marker after every emit settled: once delivered, so is every event before it.
    const last = await marker(instances.get(1)!.proxy, 1);
    await Promise.all([...instances.values()].map(({ strategy }) => strategy.caughtUp(last, 15_000)));
    const one = firstDeliveries(seen.get(1)!);
    assertDelivered(one, emitted);
    const lost = emitted.filter((e) => e.sequence === undefined).length;
    assert.ok(one.length >= 60 - lost && one.length <= 60, `${one.length} events of 60 (${lost} emits lost)`);
    assert.deepEqual(firstDeliveries(seen.get(2)!), one, 'instance 2 saw the same order as instance 1');
    assert.deepEqual(firstDeliveries(seen.get(3)!), one, 'instance 3 saw the same order as instance 1');

    // Instance 3 goes down; events go on; it comes back and gets exactly what it missed.
    await instances.get(3)!.app.close();
    instances.delete(3);
    const missed: Emitted[] = [];
    for (let n = 20; n < 25; n++) missed.push(await emitTracked(instances.get(1)!.proxy, 1, n));
    const missedLast = await marker(instances.get(1)!.proxy, 2);
    // A request for instance 3 waits in the tree while it is down.
    const answer = lastValueFrom(instances.get(1)!.proxy.to({ instance: 'instance-3' })
      .send<{ id: number; answer: string }>('whoami', { question: 'who is there' }));
    const before = seen.get(3)!.length;
    instances.set(3, await startInstance(3, ensemble, root));
    await instances.get(3)!.strategy.caughtUp(missedLast, 15_000);
    // Replays of events it had before going down are at-least-once delivery, not news.
    const earlier = new Set(seen.get(3)!.slice(0, before));
    const resumed = firstDeliveries(seen.get(3)!.slice(before)).filter((label) => !earlier.has(label));
    assertDelivered(resumed, missed);
    assert.deepEqual(resumed, missed.map((e) => e.label).filter((label) => resumed.includes(label)),
      'exactly what it missed, in order');
    assert.deepEqual(await answer, { id: 3, answer: 'WHO IS THERE' });

    const fromTwo = await lastValueFrom(instances.get(3)!.proxy.to({ instance: 'instance-2' })
      .send<{ id: number }>('whoami', { question: 'x' }));
    assert.equal(fromTwo.id, 2);
    await assert.rejects(lastValueFrom(instances.get(1)!.proxy.to({ instance: 'instance-2' })
      .send('no-such-pattern', {})), /no matching message handler/);

    // send() to the leader of group `default` (the proxy's default target): answered by the
    // instance the election names; after that instance closes, by the next leader.
    const leaderNow = async (via: Instance): Promise<number> =>
      (await lastValueFrom(via.proxy.send<{ id: number }>('whoami', { question: 'leader?' }))).id;
    const first = await leaderNow(instances.get(1)!);
    const elected = await firstValueFrom(instances.get(2)!.app.get(CoordinationService).leader$('default')
      .pipe(filter((id) => id !== undefined)));
    assert.equal(String(first), elected, 'the group leader answers');
    await instances.get(first)!.app.close();
    instances.delete(first);
    const other = [...instances.values()][0]!;
    const second = await leaderNow(other);
    assert.notEqual(second, first, 'the next leader answers after the hand-over');
  } finally {
    await Promise.allSettled([...instances.values()].map(({ app }) => app.close()));
    rmSync(root, { recursive: true, force: true });
  }
});
