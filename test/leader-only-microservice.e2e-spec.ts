/**
 * Goal: LeaderOnlyGuard on a @nestjs/microservices @MessagePattern handler: while another
 * instance leads the handler's @LeaderOnly group, a request is refused (the client's call
 * errors with Nest's "Forbidden resource"); once this instance leads, it is answered.
 * Method: a real app through @nestjs/testing with a TCP microservice bound to 127.0.0.1 on a
 * port the OS chose, a TCP ClientProxy, and a second session on the app's in-memory replica
 * that plays the other instance (a LeaderElection that joins the group first, then leaves).
 * Every wait is on an event with a bounded timeout.
 */
import 'reflect-metadata';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Controller, Module, UseGuards, type INestApplication } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Transport, type ClientProxy } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import {
  LeaderElection,
  LeaderOnly,
  LeaderOnlyGuard,
  LocalCoordinationClient,
  Replica,
  ZAB_REPLICA,
  ZabElections,
  ZabModule,
} from '../libs/zab/src/index.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

@Controller()
@LeaderOnly('rpc')
class ReportsController {
  @MessagePattern('whoami')
  @UseGuards(LeaderOnlyGuard)
  whoami(): string {
    return 'the leader';
  }
}

@Module({ controllers: [ReportsController] })
class ReportsModule {}

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** A port the OS reports free on 127.0.0.1 (Nest's TCP server does not report port 0's choice). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('LeaderOnlyGuard on a @MessagePattern handler: refused on a follower, answered on the leader', async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ isolation: 'main', dataDir: ':memory:' }), ReportsModule],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  const app: INestApplication = moduleRef.createNestApplication({ logger: false });
  cleanups.push(() => app.close());
  const port = await freePort();
  app.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await app.startAllMicroservices();
  await app.init();

  const other = await LocalCoordinationClient.connect(app.get<Replica>(ZAB_REPLICA), 10_000);
  cleanups.push(() => other.close());
  const rival = new LeaderElection(other, 'rpc', { participantId: 'rival' });
  await rival.start(); // joins before the guard's first use: the rival leads
  assert.equal(rival.isLeader, true);

  const client: ClientProxy = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  cleanups.push(async () => client.close());
  await client.connect();
  await assert.rejects(withTimeout(firstValueFrom(client.send<string>('whoami', {})), 10_000, 'refusal'),
    (error: unknown) => (error as { message?: string }).message === 'Forbidden resource');

  const election = app.get(ZabElections).get('rpc')!;
  const leading = new Promise<void>((resolve) => election.onLeadershipChange((isLeader) => isLeader && resolve()));
  await rival.close();
  await withTimeout(leading, 10_000, 'the app leads the group');
  assert.equal(await withTimeout(firstValueFrom(client.send<string>('whoami', {})), 10_000, 'answer'), 'the leader');
});
