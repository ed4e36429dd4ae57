import { Injectable } from '@nestjs/common';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { CoordinationService, KeeperError, MultiError, errorCodeName } from 'nestjs-zab';

interface FeatureFlags {
  greeting: string;
  rolloutPercent: number;
}

function parseFlags(data: Buffer): FeatureFlags {
  const value = JSON.parse(data.toString('utf8')) as Partial<FeatureFlags>;
  if (typeof value.greeting !== 'string' || typeof value.rolloutPercent !== 'number') {
    throw new Error('expected { greeting: string, rolloutPercent: number }');
  }
  return value as FeatureFlags;
}

/** A guided tour of the embedded replica, printed step by step. */
@Injectable()
export class DemoService {
  constructor(private readonly zk: CoordinationService) {}

  async run(say: (line: string) => void): Promise<void> {
    await this.ensure('/demo');
    const runs = await this.countRun();
    say(`1. Durable state: this is run #${runs} of the demo on this data directory ` +
      '(the counter /demo/runs is kept on disk and updated with a compare-and-set on its version).');

    await this.liveConfig(say);
    await this.membership(say);
    await this.transactions(say);
    await this.watches(say);
  }

  private async countRun(): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const current = await this.zk.exists('/demo/runs');
      if (current === null) {
        try {
          await this.zk.create('/demo/runs', '1');
          return 1;
        } catch (error) {
          if (error instanceof KeeperError && error.codeName === 'NodeExists') continue;
          throw error;
        }
      }
      const { data, stat } = await this.zk.get('/demo/runs');
      const next = Number(data.toString()) + 1;
      try {
        await this.zk.set('/demo/runs', String(next), { version: stat.version });
        return next;
      } catch (error) {
        if (error instanceof KeeperError && error.codeName === 'BadVersion') continue;
        throw error;
      }
    }
    throw new Error('could not update /demo/runs after 100 attempts');
  }

  private async liveConfig(say: (line: string) => void): Promise<void> {
    await this.zk.delete('/demo/flags').catch(() => undefined);
    const seen = firstValueFrom(
      this.zk
        .config$('/demo/flags', { parse: parseFlags, defaultValue: { greeting: 'hello', rolloutPercent: 0 } })
        .pipe(take(4), toArray()),
    );
    await this.zk.create('/demo/flags', JSON.stringify({ greeting: 'hi', rolloutPercent: 10 }));
    await this.zk.set('/demo/flags', 'not json at all');
    await this.zk.set('/demo/flags', JSON.stringify({ greeting: 'hey', rolloutPercent: 50 }));
    await this.zk.set('/demo/flags', JSON.stringify({ greeting: 'hey', rolloutPercent: 100 }));
    const values = await seen;
    say('2. Live config: config$ emitted the default, then every valid update ' +
      '(the invalid one was logged and skipped):');
    for (const value of values) say(`     ${JSON.stringify(value)}`);
  }

  private async membership(say: (line: string) => void): Promise<void> {
    await this.ensure('/demo/members', 'container');
    const me = await this.zk.create('/demo/members/instance-', JSON.stringify({ pid: process.pid }), {
      mode: 'ephemeral_sequential',
    });
    const members = await this.zk.getChildren('/demo/members');
    say(`3. Membership: registered ${me} (ephemeral, sequential); members now: ${members.join(', ')}. ` +
      'It disappears when this instance closes its session.');
  }

  private async transactions(say: (line: string) => void): Promise<void> {
    await this.zk.delete('/demo/tx/a').catch(() => undefined);
    await this.zk.delete('/demo/tx').catch(() => undefined);
    await this.zk.multi([
      { op: 'create', path: '/demo/tx' },
      { op: 'create', path: '/demo/tx/a', data: 'first' },
    ]);
    try {
      await this.zk.multi([
        { op: 'set', path: '/demo/tx/a', data: 'second' },
        { op: 'create', path: '/demo/tx/a' },
      ]);
    } catch (error) {
      if (!(error instanceof MultiError)) throw error;
      const codes = error.results.map((r) => errorCodeName(r.code)).join(', ');
      const { data } = await this.zk.get('/demo/tx/a');
      say(`4. Transactions: a multi whose second op fails changes nothing (per-op results: ${codes}); ` +
        `/demo/tx/a is still "${data.toString()}".`);
    }
  }

  private async watches(say: (line: string) => void): Promise<void> {
    const events = firstValueFrom(
      this.zk.events$('/demo/watched', { recursive: true }).pipe(
        filter((e) => e.path.startsWith('/demo/watched')),
        take(4),
        toArray(),
      ),
    );
    await this.ensure('/demo/watched');
    await this.zk.create('/demo/watched/child', 'x');
    await this.zk.set('/demo/watched/child', 'y');
    await this.zk.delete('/demo/watched/child');
    await this.zk.delete('/demo/watched');
    const list = (await events).map((e) => `${e.type} ${e.path}`).join('; ');
    say(`5. Watches: a persistent recursive watch saw, in zxid order: ${list}.`);
  }

  private async ensure(path: string, mode: 'persistent' | 'container' = 'persistent'): Promise<void> {
    try {
      await this.zk.create(path, undefined, { mode });
    } catch (error) {
      if (!(error instanceof KeeperError && error.codeName === 'NodeExists')) throw error;
    }
  }
}
