import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { CoordinationClient } from '../node/coordination-client.js';
import { LeaderElection } from '../recipes/leader-election.js';
import type { SuspendedPolicy } from '../recipes/lock-errors.js';
import { ZAB_CLIENT, ZAB_REPLICA } from './zab.constants.js';

/**
 * This instance's elections, one per group, joined on first use (`@LeaderOnly` groups at
 * module init). The participant id is the replica id (`options.id`), so `leader$` names the
 * instance. `onModuleDestroy` hands every leadership over (nodes deleted) before the
 * scheduler stops in `beforeApplicationShutdown`, so a job never runs on two instances across
 * a rolling restart and the next leader does not wait for a session timeout.
 */
@Injectable()
export class ZabElections implements OnModuleDestroy {
  private readonly logger = new Logger('ZabElections');
  private readonly elections = new Map<string, { election: LeaderElection; policy: SuspendedPolicy; started: Promise<void> }>();
  private closing = false;

  constructor(
    @Inject(ZAB_CLIENT) private readonly client: CoordinationClient,
    @Inject(ZAB_REPLICA) private readonly replica: { options: { id: number } },
  ) {}

  /** The election of `group` if this instance joined it. */
  get(group: string): LeaderElection | undefined {
    return this.elections.get(group)?.election;
  }

  /**
   * Joins `group` (once; later calls return the same election). Every user of a group must
   * ask for the same `suspendedPolicy`.
   */
  async join(group: string, policy: SuspendedPolicy = 'lost'): Promise<LeaderElection> {
    let entry = this.elections.get(group);
    if (entry === undefined) {
      if (this.closing) throw new Error(`cannot join election ${group}: the application is shutting down`);
      const election = new LeaderElection(this.client, group, {
        participantId: String(this.replica.options.id), suspendedPolicy: policy });
      entry = { election, policy, started: election.start() };
      this.elections.set(group, entry);
      election.onLeadershipChange((leading) => this.logger.log(
        `${leading ? 'leads' : 'no longer leads'} group ${group}`));
    } else if (entry.policy !== policy) {
      throw new Error(`election ${group} is used with suspendedPolicy '${entry.policy}' and '${policy}'; use one`);
    }
    await entry.started;
    return entry.election;
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    const closed = Promise.all([...this.elections.values()].map(({ election }) => election.close()));
    // Out of quorum the deletions cannot commit now; leadership already ended (isLeader is
    // false at once) and the session's end removes the nodes: do not hold the shutdown.
    if (this.client.connectionState === 'suspended') {
      void closed.catch(() => undefined);
      return;
    }
    // A hand-over that fails (the quorum went while shutting down, e.g. every instance stops
    // at once) is not an error of this app: the session's end removes the nodes.
    await closed.catch((error: unknown) => this.logger.warn(
      `leadership not handed over at shutdown (${(error as Error).message}); the session's end releases it`));
  }
}
