/**
 * Group membership (Curator's GroupMember): each instance registers itself as an ephemeral
 * node `<group>/<memberId>` carrying its metadata; any session lists the members or
 * subscribes to the member map.
 * - `register(metadata)` creates the node (the group's missing parents as containers);
 *   registering again with the same session updates the metadata; a member id held by
 *   another session rejects with `NodeExistsError` (ids must be unique, as in Curator).
 * - `unregister()` deletes it; `registration` (an AbortSignal) fires when the session is
 *   lost — or suspended, under the default policy — because the node goes with the session.
 * - `members()` reads the map once; `subscribe(listener)` reports the map at once and after
 *   every change (join, leave, metadata), through a `TreeCache` of depth 1.
 * Unlike Curator (whose PersistentNode re-creates the node after a new session),
 * re-registering after the session is lost is the application's choice: open a new session
 * and call `register` again on a new `GroupMember`. Until then the instance is not a member.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError } from '../state/keeper-error.js';
import { sessionLostError } from './recipe-errors.js';
import {
  checkRecipePath,
  createWithParents,
  deleteQuietly,
  isKeeperCode,
  joinPath,
  nameOf,
  Ownership,
  type SuspendedPolicy,
} from './recipe-support.js';
import { TreeCache } from './tree-cache.js';

export interface GroupMemberOptions {
  /** Default `'lost'`: a suspended connection aborts `registration`. */
  suspendedPolicy?: SuspendedPolicy;
}

export type MemberMap = ReadonlyMap<string, Buffer>;

export class GroupMember {
  private readonly ourPath: string;
  private ownership: Ownership | undefined;
  private readonly policy: SuspendedPolicy;

  constructor(
    private readonly client: CoordinationClient,
    readonly groupPath: string,
    readonly memberId: string,
    options: GroupMemberOptions = {},
  ) {
    checkRecipePath(groupPath, 'group');
    if (typeof memberId !== 'string' || memberId.length === 0 || memberId.includes('/')) {
      throw keeperError(ErrorCode.BadArguments, groupPath, `invalid memberId ${String(memberId)}`);
    }
    this.ourPath = joinPath(groupPath, memberId);
    this.policy = options.suspendedPolicy ?? 'lost';
  }

  /** True while registered and the session holds the node. */
  get isRegistered(): boolean {
    return this.ownership !== undefined && !this.ownership.isLost;
  }

  /** Fires when the registration is lost; undefined before `register`. */
  get registration(): AbortSignal | undefined {
    return this.ownership?.signal;
  }

  async register(metadata: Buffer = Buffer.alloc(0)): Promise<void> {
    try {
      await createWithParents(this.client, this.ourPath, metadata, { mode: 'ephemeral' });
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NodeExists)) throw error;
      await this.updateOwn(metadata);
    }
    if (this.ownership === undefined || this.ownership.isLost) {
      this.ownership = new Ownership(this.client, this.policy, this.ourPath);
    }
  }

  /** Replaces this member's metadata; it must be registered. */
  async setMetadata(metadata: Buffer): Promise<void> {
    await this.updateOwn(metadata);
  }

  async unregister(): Promise<void> {
    this.ownership?.end();
    this.ownership = undefined;
    await deleteQuietly(this.client, this.ourPath);
  }

  /** The current members and their metadata. */
  async members(): Promise<Map<string, Buffer>> {
    const members = new Map<string, Buffer>();
    let children: string[];
    try {
      ({ children } = await this.client.getChildren(this.groupPath));
    } catch (error) {
      if (isKeeperCode(error, ErrorCode.NoNode)) return members;
      throw error;
    }
    for (const name of children.sort()) {
      try {
        members.set(name, (await this.client.getData(joinPath(this.groupPath, name))).data);
      } catch (error) {
        if (!isKeeperCode(error, ErrorCode.NoNode)) throw error;
      }
    }
    return members;
  }

  /**
   * Reports the member map now and after every change (only when it differs from the last
   * report), until the returned function is
   * called or the session is lost (then `onError` gets `SessionExpiredError`).
   */
  async subscribe(listener: (members: MemberMap) => void, onError?: (error: unknown) => void): Promise<() => Promise<void>> {
    const cache = new TreeCache(this.client, this.groupPath, { maxDepth: 1, onError });
    let last: MemberMap | undefined;
    const report = (): void => {
      const members = new Map<string, Buffer>();
      for (const node of cache.snapshot().values()) {
        if (node.path !== this.groupPath) members.set(nameOf(node.path), node.data);
      }
      if (last !== undefined && sameMembers(last, members)) return;
      last = members;
      listener(members);
    };
    cache.subscribe((event) => {
      if (event.type !== 'closed') report();
      else if (event.reason === 'lost') onError?.(sessionLostError('lost', this.groupPath));
    });
    await cache.start();
    return () => cache.close();
  }

  private async updateOwn(metadata: Buffer): Promise<void> {
    const stat = await this.client.exists(this.ourPath);
    if (stat === null) throw keeperError(ErrorCode.NoNode, this.ourPath, `member ${this.memberId} is not registered`);
    if (stat.ephemeralOwner !== BigInt(this.client.sessionId)) {
      throw keeperError(ErrorCode.NodeExists, this.ourPath, `member id ${this.memberId} is registered by another session`);
    }
    await this.client.setData(this.ourPath, metadata, stat.version);
  }
}

function sameMembers(a: MemberMap, b: MemberMap): boolean {
  if (a.size !== b.size) return false;
  for (const [id, data] of a) {
    const other = b.get(id);
    if (other === undefined || !other.equals(data)) return false;
  }
  return true;
}
