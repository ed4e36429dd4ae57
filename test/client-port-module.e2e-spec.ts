/**
 * Goal: `ZabModule.forRoot({ clientPort })` serves ZooKeeper clients next to the replica with
 * either isolation: in the replica's worker thread (the default) and on the main thread
 * (`isolation: 'main'`). A node-zookeeper-client session and the instance's own
 * CoordinationService see each other's writes and ephemerals, a watch set over the port fires
 * for the instance's write, and `app.close()` closes the port (new connections are refused).
 * Method: real applications through @nestjs/testing with in-memory replicas and the port on
 * 127.0.0.1:0 (read back from ZabClientPortEndpoint). Waits are on replies and events,
 * bounded by `withTimeout`; clients and apps are closed in `finally` blocks.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Test } from '@nestjs/testing';
import {
  CoordinationService,
  WorkerReplicaHandle,
  ZAB_REPLICA,
  ZabClientPortEndpoint,
  ZabModule,
} from '../libs/zab/src/index.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import { nextEvent, zookeeper, ZkTestClient } from './fixtures/zookeeper-client.js';

async function refused(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  return withTimeout(new Promise<boolean>((resolve) => {
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  }), 10_000, 'the connection attempt to settle');
}

for (const isolation of ['worker', 'main'] as const) {
  test(`the client port serves ZooKeeper clients with isolation ${isolation}`, async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ZabModule.forRoot({ dataDir: ':memory:', isolation, clientPort: 0, clientHost: '127.0.0.1' })],
    }).compile();
    await moduleRef.init();
    const port = moduleRef.get(ZabClientPortEndpoint).port;
    assert.equal(typeof port, 'number');
    assert.equal(moduleRef.get(ZAB_REPLICA) instanceof WorkerReplicaHandle, isolation === 'worker');
    const zk = moduleRef.get(CoordinationService);
    let client: ZkTestClient | undefined;
    try {
      client = await ZkTestClient.connect(`127.0.0.1:${port}`);
      await client.create('/from-wire', Buffer.from('w'), zookeeper.CreateMode.EPHEMERAL);
      await zk.sync('/');
      assert.equal((await zk.get('/from-wire')).data.toString(), 'w');
      const watch = nextEvent();
      assert.equal(await client.exists('/from-app', watch.watcher), null);
      await zk.create('/from-app', Buffer.from('a'));
      const event = await withTimeout(watch.event, 10_000, 'NodeCreated over the client port');
      assert.equal(event.getPath(), '/from-app');
      assert.equal((await client.getData('/from-app')).data.toString(), 'a');
    } finally {
      client?.raw.close();
      await moduleRef.close();
    }
    assert.equal(await refused(port!), true, 'the port is closed with the app');
  });
}
