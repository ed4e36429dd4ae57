/**
 * Goal: the event log gives every consumer the same total order, at least once, resuming from
 * its committed offset; a failing handler does not stop the stream; new consumers start where
 * asked; pruning keeps the log bounded without dropping what a live consumer still needs.
 * Method: a standalone replica in memory with several client sessions (producers and
 * consumers); waits are the consumers' `caughtUp` promises with bounded timeouts.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Replica } from '../node/replica.js';
import { LocalCoordinationClient } from '../node/local-client.js';
import { EventLog, type EventConsumer } from './event-log.js';

const open: Replica[] = [];

async function sessions(count: number): Promise<LocalCoordinationClient[]> {
  const replica = await Replica.open({ dataDir: ':memory:' });
  open.push(replica);
  return Promise.all(Array.from({ length: count }, () => LocalCoordinationClient.connect(replica, 10_000)));
}

afterEach(async () => {
  for (const replica of open.splice(0)) await replica.close();
});

const text = (s: string): Buffer => Buffer.from(s);

test('concurrent producers; every consumer sees every event once, in one order', async () => {
  const [p1, p2, p3, c1, c2] = await sessions(5);
  const seen = new Map<string, string[]>([['one', []], ['two', []]]);
  const consumers: EventConsumer[] = [];
  for (const [name, client] of [['one', c1!], ['two', c2!]] as const) {
    consumers.push(await new EventLog(client, { stream: 'orders' }).consume(name, async (event) => {
      seen.get(name)!.push(`${event.sequence}:${event.payload.toString()}`);
    }));
  }
  const appends: Promise<number>[] = [];
  for (let i = 0; i < 60; i++) {
    for (const [name, producer] of [['a', p1!], ['b', p2!], ['c', p3!]] as const) {
      appends.push(new EventLog(producer, { stream: 'orders' }).append(text(`${name}${i}`)));
    }
  }
  const sequences = await Promise.all(appends);
  assert.equal(new Set(sequences).size, 180, 'every append got its own sequence number');
  const last = Math.max(...sequences);
  await Promise.all(consumers.map((c) => c.caughtUp(last, 10_000)));
  assert.equal(seen.get('one')!.length, 180);
  assert.deepEqual(seen.get('one'), seen.get('two'), 'one total order for every consumer');
  const order = seen.get('one')!.map((entry) => Number(entry.split(':')[0]));
  assert.deepEqual(order, [...order].sort((x, y) => x - y), 'delivered in sequence order');
  // Each producer's own events keep their issue order (a session's writes are FIFO).
  for (const name of ['a', 'b', 'c']) {
    const own = seen.get('one')!.map((entry) => entry.split(':')[1]!).filter((p) => p.startsWith(name));
    assert.deepEqual(own, Array.from({ length: 60 }, (_, i) => `${name}${i}`));
  }
  await Promise.all(consumers.map((c) => c.stop()));
});

test('a restarted consumer resumes after its committed offset; a failing handler moves on', async () => {
  const [producer, consumerClient] = await sessions(2);
  const log = new EventLog(producer!);
  const first: number[] = [];
  const warnings: string[] = [];
  let consumer = await new EventLog(consumerClient!).consume('worker', async (event) => {
    first.push(event.sequence);
    if (event.payload.toString() === 'poison') throw new Error('cannot handle poison');
  }, { warn: (message) => warnings.push(message) });
  const early: number[] = [];
  for (const payload of ['one', 'poison', 'three']) early.push(await log.append(text(payload)));
  await consumer.caughtUp(early[2]!, 5_000);
  await consumer.stop();
  assert.deepEqual(first, early);
  assert.ok(warnings.some((w) => w.includes('cannot handle poison')), warnings.join('\n'));

  const later: number[] = [];
  for (const payload of ['four', 'five']) later.push(await log.append(text(payload)));
  const second: string[] = [];
  consumer = await new EventLog(consumerClient!).consume('worker', async (event) => {
    second.push(event.payload.toString());
  });
  await consumer.caughtUp(later[1]!, 5_000);
  assert.deepEqual(second, ['four', 'five'], 'nothing before the committed offset is delivered again');
  await consumer.stop();
});

test('a new consumer starts from the earliest retained event or only new ones', async () => {
  const [producer, a, b] = await sessions(3);
  const log = new EventLog(producer!);
  await log.append(text('old'));
  const earliest: string[] = [];
  const latest: string[] = [];
  const fromStart = await new EventLog(a!).consume('from-start', async (e) => { earliest.push(e.payload.toString()); });
  const fromNow = await new EventLog(b!).consume('from-now', async (e) => { latest.push(e.payload.toString()); },
    { startFrom: 'latest' });
  const last = await log.append(text('new'));
  await Promise.all([fromStart.caughtUp(last, 5_000), fromNow.caughtUp(last, 5_000)]);
  assert.deepEqual(earliest, ['old', 'new']);
  assert.deepEqual(latest, ['new']);
  await Promise.all([fromStart.stop(), fromNow.stop()]);
});

test('pruning deletes what every consumer passed and caps the log for laggards', async () => {
  const [producer, fast, slowClient] = await sessions(3);
  const log = new EventLog(producer!, { retainEventsMax: 50 });
  // A registered consumer that never moves: only the cap may prune past it.
  const slow = await new EventLog(slowClient!, { retainEventsMax: 50 }).consume('slow', async () => {
    await new Promise<void>(() => undefined); // never finishes its first event
  });
  let last = -1;
  for (let i = 0; i < 200; i++) last = await log.append(text(`e${i}`));
  const consumer = await new EventLog(fast!, { retainEventsMax: 50 }).consume('fast', async () => undefined);
  await consumer.caughtUp(last, 10_000);
  const { children } = await producer!.getChildren(`${log.root}/log`);
  assert.ok(children.length <= 50 + 64, `the log holds ${children.length} events, not all 200`);
  assert.ok(children.length < 200);
  await consumer.stop();
  void slow.stop();
});

test('bad names are rejected with a clear error', async () => {
  const [client] = await sessions(1);
  assert.throws(() => new EventLog(client!, { stream: 'a/b' }), /stream must be/);
  await assert.rejects(new EventLog(client!).consume('no spaces', async () => undefined), /consumer id must be/);
});
