/**
 * A double barrier (Curator's DistributedDoubleBarrier): `memberQty` members `enter()`
 * together — nobody gets past `enter` until `memberQty` members have entered — and `leave()`
 * together — nobody gets past `leave` until every member has left.
 *
 * Entering creates an ephemeral member node `<path>/<memberId>`; the member that sees the
 * count reach `memberQty` creates `<path>/ready`, whose creation wakes every waiter (one
 * `exists` watch each, no polling). Leaving follows Curator's algorithm: the lowest member
 * waits for the highest to go, every other member deletes its node and waits for the lowest,
 * so each member watches one node; the last one out deletes `ready` for the next round.
 * As in Curator, a new round may enter only after the previous round has left.
 *
 * Failure semantics: waits reject on `timeoutMs` (`RecipeTimeoutError`), abort
 * (`signal.reason`) or session loss; a failed `enter` deletes this member's node. Session
 * loss deletes the member node (it is ephemeral), so the others see the member leave.
 */
import { randomUUID } from 'node:crypto';
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import { RecipeStateError } from './recipe-errors.js';
import {
  checkRecipePath,
  createWithParents,
  deleteQuietly,
  isKeeperCode,
  joinPath,
  WaitScope,
  type WaitOptions,
  watchOnce,
} from './recipe-support.js';

const READY = 'ready';

export interface DoubleBarrierOptions {
  /** This member's node name (default: a random UUID); unique among the members. */
  memberId?: string;
}

export class DoubleBarrier {
  readonly memberId: string;
  private readonly ourPath: string;
  private readonly readyPath: string;

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    readonly memberQty: number,
    options: DoubleBarrierOptions = {},
  ) {
    checkRecipePath(path, 'double barrier');
    if (!Number.isInteger(memberQty) || memberQty < 1) {
      throw keeperError(ErrorCode.BadArguments, path, `memberQty must be an integer >= 1, got ${String(memberQty)}`);
    }
    this.memberId = options.memberId ?? randomUUID();
    if (this.memberId === READY || this.memberId.includes('/')) {
      throw keeperError(ErrorCode.BadArguments, path, `invalid memberId ${this.memberId}`);
    }
    this.ourPath = joinPath(path, this.memberId);
    this.readyPath = joinPath(path, READY);
  }

  /** Resolves once `memberQty` members have entered. */
  async enter(options: WaitOptions = {}): Promise<void> {
    const scope = new WaitScope(this.client, options, `${this.memberQty} members to enter`, this.path);
    try {
      scope.check();
      const readyWatch = watchOnce();
      const ready = await scope.race(this.client.exists(this.readyPath, readyWatch.listener));
      await this.createOurNode();
      try {
        scope.check();
        if (ready !== null) return;
        await this.waitForReady(scope, readyWatch.fired);
      } catch (error) {
        await deleteQuietly(this.client, this.ourPath);
        throw error;
      }
    } finally {
      scope.dispose();
    }
  }

  /** Resolves once every member has left. */
  async leave(options: WaitOptions = {}): Promise<void> {
    const scope = new WaitScope(this.client, options, 'every member to leave', this.path);
    try {
      await this.leaveIn(scope);
      await deleteQuietly(this.client, this.readyPath);
    } finally {
      scope.dispose();
    }
  }

  /** Not raced with the wait: a node created after an abort would be left behind. */
  private async createOurNode(): Promise<void> {
    try {
      await createWithParents(this.client, this.ourPath, Buffer.alloc(0), { mode: 'ephemeral' });
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.NodeExists)) {
        throw new RecipeStateError(`member ${this.memberId} has already entered`, this.ourPath);
      }
      throw error;
    }
  }

  private async waitForReady(scope: WaitScope, firstFired: Promise<unknown>): Promise<void> {
    let fired = firstFired;
    for (;;) {
      scope.check();
      const { children } = await scope.race(this.client.getChildren(this.path));
      if (children.filter((name) => name !== READY).length >= this.memberQty) {
        await this.createReady();
        return;
      }
      await scope.race(fired);
      const watch = watchOnce();
      if ((await scope.race(this.client.exists(this.readyPath, watch.listener))) !== null) return;
      fired = watch.fired;
    }
  }

  private async createReady(): Promise<void> {
    try {
      await this.client.create(this.readyPath, Buffer.alloc(0), { mode: 'persistent' });
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NodeExists)) throw error;
    }
  }

  private async leaveIn(scope: WaitScope): Promise<void> {
    let ourNodeShouldExist = true;
    for (;;) {
      scope.check();
      const { children } = await scope.race(this.client.getChildren(this.path));
      const members = children.filter((name) => name !== READY).sort();
      if (members.length === 0) return;
      const ourIndex = members.indexOf(this.memberId);
      if (ourIndex < 0 && ourNodeShouldExist) {
        throw new RecipeStateError(`member ${this.memberId} has not entered (or its session ended)`, this.ourPath);
      }
      if (members.length === 1) {
        if (ourNodeShouldExist) await deleteQuietly(this.client, this.ourPath);
        return;
      }
      const watched = ourIndex === 0 ? members[members.length - 1]! : members[0]!;
      if (ourIndex !== 0 && ourNodeShouldExist) {
        await deleteQuietly(this.client, this.ourPath);
        ourNodeShouldExist = false;
      }
      const watch = watchOnce();
      if ((await scope.race(this.client.exists(joinPath(this.path, watched), watch.listener))) !== null) {
        await scope.race(watch.fired);
      }
    }
  }
}
