import { Body, Controller, Get, Inject, Injectable, Module, Param, Post, type DynamicModule, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { lastValueFrom } from 'rxjs';
import {
  CoordinationService,
  currentLeadership,
  Fence,
  GroupMember,
  InjectLiveConfig,
  LeaderOnly,
  LiveConfig,
  WithLock,
  ZabModule,
  defineLiveConfig,
  type LockContext,
} from 'nestjs-zab';
import { ZabClientProxy } from 'nestjs-zab/microservices';
import { INSTANCE, report, type InstanceSettings } from './instance.settings.js';

/** The live configuration every instance follows. */
export const greeting = defineLiveConfig<{ text: string }>({
  path: '/demo/config/greeting',
  parse: (data) => {
    const value = JSON.parse(data.toString('utf8')) as { text?: unknown };
    if (typeof value.text !== 'string' || value.text.length === 0) throw new Error('expected { "text": "..." }');
    return { text: value.text };
  },
  defaultValue: { text: 'hello' },
});

/**
 * A cron job every instance schedules; only the leader of the `reports` group runs it, and
 * each scheduled fire at most once across the instances (recorded through the log).
 */
@Injectable()
export class ReportJob {
  constructor(@Inject(INSTANCE) private readonly settings: InstanceSettings) {}

  @Cron('* * * * * *')
  @LeaderOnly('reports', { oncePerFire: true })
  runReport(): void {
    report({ type: 'job', id: this.settings.id, fire: Number(currentLeadership()!.fireTime) });
  }
}

/** Follows the live config and the group membership, and reports both. */
@Injectable()
export class Watchers implements OnApplicationBootstrap, OnModuleDestroy {
  private member: GroupMember | undefined;
  constructor(
    @Inject(INSTANCE) private readonly settings: InstanceSettings,
    @InjectLiveConfig(greeting) private readonly config: LiveConfig<{ text: string }>,
    private readonly coordination: CoordinationService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.config.onChange((value) => report({ type: 'config', id: this.settings.id, text: value.text }));
    this.member = new GroupMember(this.coordination.coordinationClient(), '/demo/members', `instance-${this.settings.id}`);
    await this.member.register(Buffer.from(JSON.stringify({ pid: process.pid, http: this.settings.httpPort })));
  }

  async members(): Promise<string[]> {
    return [...(await this.member!.members()).keys()].sort();
  }

  onModuleDestroy(): void {
    void this.member?.unregister().catch(() => undefined);
  }
}

@Controller()
export class DemoController {
  private readonly events: ZabClientProxy;
  constructor(
    @Inject(INSTANCE) private readonly settings: InstanceSettings,
    @InjectLiveConfig(greeting) private readonly config: LiveConfig<{ text: string }>,
    private readonly watchers: Watchers,
    coordination: CoordinationService,
  ) {
    this.events = new ZabClientProxy(coordination);
  }

  /** Settles a payment under the account's lock; answers with the fencing token. */
  @Post('pay/:account')
  @WithLock((account: string) => `account-${account}`, { waitMs: 10_000 })
  async pay(@Param('account') _account: string, @Fence() lock?: LockContext): Promise<{ instance: number; token: string }> {
    await new Promise((resolve) => setTimeout(resolve, 20)); // the critical section
    return { instance: this.settings.id, token: lock!.fencingToken.toString() };
  }

  @Post('config')
  async setGreeting(@Body() body: { text: string }): Promise<{ ok: true }> {
    await this.config.set({ text: body.text });
    return { ok: true };
  }

  @Get('members')
  members(): Promise<string[]> {
    return this.watchers.members();
  }

  @Post('emit')
  async emit(@Body() body: { n: number }): Promise<{ sequence: number }> {
    const sequence = await lastValueFrom(this.events.emit<number>('demo.event', { from: this.settings.id, n: body.n }));
    return { sequence };
  }

  @EventPattern('demo.event')
  onEvent(@Payload() data: { from: number; n: number }): void {
    report({ type: 'event', id: this.settings.id, event: `${data.from}.${data.n}` });
  }
}

export function instanceModule(settings: InstanceSettings): DynamicModule {
  return {
    module: InstanceModule,
    imports: [
      ScheduleModule.forRoot(),
      ZabModule.forRoot({
        id: settings.id,
        ensemble: settings.ensemble,
        dataDir: settings.dataDir,
        tickMs: 200,
        sessionTimeoutMs: 2_000,
        secret: 'nestjs-zab-demo-secret-change-me',
      }),
      ZabModule.forFeature({ configs: [greeting] }),
    ],
    providers: [{ provide: INSTANCE, useValue: settings }],
  };
}

@Module({ controllers: [DemoController], providers: [ReportJob, Watchers] })
export class InstanceModule {}
