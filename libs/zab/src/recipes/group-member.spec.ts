/**
 * Goal: `GroupMember` registers each instance as an ephemeral member with metadata, lists
 * members, reports the member map on every join, leave and metadata change, refuses a member
 * id held by another session, and drops a member whose session is lost (its `registration`
 * signal fires; re-registering needs a new session).
 * Method: a real in-memory Replica with one session per instance; subscriptions are awaited
 * through the reports they deliver, each wait bounded by `withTimeout`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { NodeExistsError, NoNodeError } from '../state/keeper-error.js';
import { GroupMember, type MemberMap } from './group-member.js';
import { recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

function describeMap(members: MemberMap): string {
  return [...members].map(([id, data]) => `${id}=${data.toString()}`).join(',');
}

/** Collects reports; `next(text)` resolves when a report equal to `text` arrives. */
class Reports {
  readonly seen: string[] = [];
  private readonly waiters = new Map<string, () => void>();

  listener = (members: MemberMap): void => {
    const text = describeMap(members);
    this.seen.push(text);
    this.waiters.get(text)?.();
  };

  next(text: string): Promise<void> {
    if (this.seen.at(-1) === text) return Promise.resolve();
    return withTimeout(new Promise((resolve) => this.waiters.set(text, resolve)), WAIT_MS, `members ${text}`);
  }
}

describe('GroupMember', () => {
  test('join, metadata change and leave are listed and reported in order', async () => {
    const h = await harness();
    const [a, b, watcher] = await h.clientsOf(3);
    const reports = new Reports();
    const stop = await new GroupMember(watcher!, '/svc/members', 'watcher').subscribe(reports.listener);
    await reports.next('');
    const alpha = new GroupMember(a!, '/svc/members', 'alpha');
    await alpha.register(Buffer.from('10.0.0.1'));
    await reports.next('alpha=10.0.0.1');
    const beta = new GroupMember(b!, '/svc/members', 'beta');
    await beta.register(Buffer.from('10.0.0.2'));
    await reports.next('alpha=10.0.0.1,beta=10.0.0.2');
    await alpha.setMetadata(Buffer.from('10.0.0.9'));
    await reports.next('alpha=10.0.0.9,beta=10.0.0.2');
    assert.equal(describeMap(await beta.members()), 'alpha=10.0.0.9,beta=10.0.0.2');
    await alpha.unregister();
    await reports.next('beta=10.0.0.2');
    assert.equal(alpha.isRegistered, false);
    await assert.rejects(alpha.setMetadata(Buffer.from('x')), NoNodeError);
    await stop();
    assert.deepEqual(reports.seen, ['', 'alpha=10.0.0.1', 'alpha=10.0.0.1,beta=10.0.0.2',
      'alpha=10.0.0.9,beta=10.0.0.2', 'beta=10.0.0.2']);
  });

  test('a member id held by another session is refused; the same session re-registers', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const first = new GroupMember(a!, '/g', 'worker-1');
    await first.register(Buffer.from('v1'));
    await first.register(Buffer.from('v2'));
    assert.equal((await a!.getData('/g/worker-1')).data.toString(), 'v2');
    await assert.rejects(new GroupMember(b!, '/g', 'worker-1').register(), NodeExistsError);
    assert.equal(first.isRegistered, true);
  });

  test('session loss removes the member and fires its registration signal', async () => {
    const h = await harness();
    const watcher = await h.client();
    const expiring = await h.expiringClient();
    const reports = new Reports();
    const stop = await new GroupMember(watcher, '/lost', 'watcher').subscribe(reports.listener);
    const member = new GroupMember(expiring.client, '/lost', 'doomed');
    await member.register(Buffer.from('m'));
    await reports.next('doomed=m');
    const lost = new Promise((resolve) => member.registration!.addEventListener('abort', resolve));
    expiring.letExpire();
    await withTimeout(lost, WAIT_MS, 'the registration signal');
    await reports.next('');
    assert.equal(member.isRegistered, false);
    await stop();
  });
});
