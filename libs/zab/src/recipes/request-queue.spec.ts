/**
 * Goal: requests through znodes are answered by the serving instance, wait for a server that
 * starts later, are answered at most once when two servers compete (an old and a new leader),
 * are de-duplicated when re-queued under the same id, and time out with a typed error.
 * Method: a standalone replica in memory with separate sessions for requesters and servers.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Replica } from '../node/replica.js';
import { LocalCoordinationClient } from '../node/local-client.js';
import { RequestQueue, RequestTimeoutError } from './request-queue.js';
import { deferred, withTimeout } from '../testing/with-timeout.js';

const open: Replica[] = [];

async function sessions(count: number): Promise<LocalCoordinationClient[]> {
  const replica = await Replica.open({ dataDir: ':memory:' });
  open.push(replica);
  return Promise.all(Array.from({ length: count }, () => LocalCoordinationClient.connect(replica, 10_000)));
}

afterEach(async () => {
  for (const replica of open.splice(0)) await replica.close();
});

const upper = async (payload: Buffer): Promise<Buffer> => Buffer.from(payload.toString().toUpperCase());
const asError = (error: unknown): Buffer => Buffer.from(`error: ${(error as Error).message}`);

test('a request is answered by the server; nothing is left behind', async () => {
  const [requester, serving] = await sessions(2);
  const server = await new RequestQueue(serving!, { target: 'group.default' }).serve(upper, asError);
  const queue = new RequestQueue(requester!, { target: 'group.default' });
  const answers = await Promise.all(['a', 'b', 'c'].map((s, i) => queue.request(`r${i}`, Buffer.from(s), 5_000)));
  assert.deepEqual(answers.map(String), ['A', 'B', 'C']);
  assert.deepEqual((await requester!.getChildren(`${queue.base}/requests`)).children, []);
  assert.deepEqual((await requester!.getChildren(`${queue.base}/responses`)).children, []);
  await server.stop();
});

test('a request queued while no one serves is answered by the next server', async () => {
  const [requester, serving] = await sessions(2);
  const queue = new RequestQueue(requester!, { target: 'group.late' });
  const answer = queue.request('early', Buffer.from('hello'), 10_000);
  // The request is in the tree before any server exists.
  const queued = deferred<void>();
  const stop = await requester!.observe(`${queue.base}/requests/early`, 'exists', (o) => {
    if (o.kind === 'exists' && o.value !== null) queued.resolve();
  });
  await withTimeout(queued.promise, 5_000, 'the queued request');
  stop();
  const server = await new RequestQueue(serving!, { target: 'group.late' }).serve(upper, asError);
  assert.equal((await answer).toString(), 'HELLO');
  await server.stop();
});

test('two competing servers answer each request once; a handler error is an answer', async () => {
  const [requester, s1, s2] = await sessions(3);
  const runs = new Map<string, number>();
  const handler = async (payload: Buffer, id: string): Promise<Buffer> => {
    runs.set(id, (runs.get(id) ?? 0) + 1);
    if (payload.toString() === 'boom') throw new Error('handler failed');
    return upper(payload);
  };
  const servers = [
    await new RequestQueue(s1!, { target: 'group.race' }).serve(handler, asError),
    await new RequestQueue(s2!, { target: 'group.race' }).serve(handler, asError),
  ];
  const queue = new RequestQueue(requester!, { target: 'group.race' });
  const ids = Array.from({ length: 40 }, (_, i) => `q${i}`);
  const answers = await Promise.all(ids.map((id) => queue.request(id, Buffer.from(id), 10_000)));
  assert.deepEqual(answers.map(String), ids.map((id) => id.toUpperCase()));
  assert.equal((await queue.request('bad', Buffer.from('boom'), 5_000)).toString(), 'error: handler failed');
  assert.deepEqual((await requester!.getChildren(`${queue.base}/responses`)).children, []);
  for (const server of servers) await server.stop();
});

test('re-queuing under the same id is de-duplicated; an unanswered request times out', async () => {
  const [requester, serving] = await sessions(2);
  const queue = new RequestQueue(requester!, { target: 'group.dedup' });
  const first = queue.request('same', Buffer.from('x'), 10_000);
  const second = queue.request('same', Buffer.from('x'), 10_000);
  let runs = 0;
  const server = await new RequestQueue(serving!, { target: 'group.dedup' }).serve(async (p) => {
    runs++;
    return upper(p);
  }, asError);
  assert.deepEqual([(await first).toString(), (await second).toString()], ['X', 'X']);
  assert.equal(runs, 1, 'one queued request, one handler run');
  await server.stop();
  await assert.rejects(new RequestQueue(requester!, { target: 'group.nobody' }).request('lonely', Buffer.from('?'), 200),
    RequestTimeoutError);
});
