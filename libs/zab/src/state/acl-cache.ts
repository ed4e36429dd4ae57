/**
 * ZooKeeper's `ReferenceCountedACLCache` idea: most nodes share a handful of ACL lists, so each
 * node stores a small int id of its list and the cache keeps each distinct list once, counting
 * the nodes that use it. A list is dropped when its count reaches zero.
 *
 * Ids come from a counter and are never reused while the cache lives, so an id held by a
 * snapshot pre-image can never come to mean a different list. Ids are local to a replica (they
 * are not part of the tree digest; the digest hashes the list content, see `hashLow/hashHigh`).
 */
import { assert, invariantFailed } from '../util/assert.js';
import { Hash64 } from '../util/hash.js';
import type { Acl } from './stat.js';

interface AclEntry {
  readonly acl: readonly Acl[];
  readonly key: string;
  references: number;
  readonly hashLow: number;
  readonly hashHigh: number;
}

const ACL_HASH_SEED = 0x41434c31;

export class ReferenceCountedAclCache {
  private readonly idByKey = new Map<string, number>();
  private readonly entries = new Map<number, AclEntry>();
  private nextId = 1;
  private readonly hash = new Hash64();

  /** The id of `acl` (order matters, as in ZooKeeper), adding one reference. */
  addUsage(acl: readonly Acl[]): number {
    const key = keyOf(acl);
    const known = this.idByKey.get(key);
    if (known !== undefined) {
      this.entries.get(known)!.references++;
      return known;
    }
    const id = this.nextId++;
    this.insert(id, acl, key, 1);
    return id;
  }

  /** Adds one reference to a known id (snapshot loading). */
  addReference(id: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined) invariantFailed(`unknown ACL id ${id}`);
    entry.references++;
  }

  removeUsage(id: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.references <= 0) {
      invariantFailed(`ACL id ${id} has no references`);
    }
    if (--entry.references === 0) {
      this.entries.delete(id);
      this.idByKey.delete(entry.key);
    }
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  /** The frozen list of `id`; callers copy before handing it out. */
  aclOf(id: number): readonly Acl[] {
    const entry = this.entries.get(id);
    // On the read path (ACL checks): the message is built only when the invariant breaks.
    if (entry === undefined) assert(false, `unknown ACL id ${id}`);
    return entry.acl;
  }

  hashLow(id: number): number {
    return this.entries.get(id)!.hashLow;
  }

  hashHigh(id: number): number {
    return this.entries.get(id)!.hashHigh;
  }

  referencesOf(id: number): number {
    return this.entries.get(id)?.references ?? 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get nextIdValue(): number {
    return this.nextId;
  }

  /** Every entry, by id (a consistent copy for a snapshot). */
  list(): Array<{ id: number; acl: readonly Acl[] }> {
    return [...this.entries]
      .sort((a, b) => a[0] - b[0])
      .map(([id, entry]) => ({ id, acl: entry.acl }));
  }

  /**
   * Restores an entry with no references (snapshot loading); returns false when the id or the
   * list is already present (bad input for the loader to report).
   */
  restore(id: number, acl: readonly Acl[]): boolean {
    const key = keyOf(acl);
    if (this.entries.has(id) || this.idByKey.has(key) || id < 1) return false;
    this.insert(id, acl, key, 0);
    if (id >= this.nextId) this.nextId = id + 1;
    return true;
  }

  /** Sets the id counter after loading (never below the largest id + 1). */
  restoreNextId(nextId: number): void {
    if (nextId > this.nextId) this.nextId = nextId;
  }

  /** Drops entries no node references (after loading a snapshot). */
  purgeUnused(): void {
    for (const [id, entry] of this.entries) {
      if (entry.references === 0) {
        this.entries.delete(id);
        this.idByKey.delete(entry.key);
      }
    }
  }

  private insert(id: number, acl: readonly Acl[], key: string, references: number): void {
    const frozen = Object.freeze(
      acl.map((entry) => Object.freeze({ perms: entry.perms, scheme: entry.scheme, id: entry.id })),
    );
    this.hash.reset(ACL_HASH_SEED).addInt(frozen.length);
    for (const entry of frozen) {
      this.hash.addInt(entry.perms).addString(entry.scheme).addString(entry.id);
    }
    this.hash.finish();
    this.entries.set(id, {
      acl: frozen,
      key,
      references,
      hashLow: this.hash.low,
      hashHigh: this.hash.high,
    });
    this.idByKey.set(key, id);
  }
}

function keyOf(acl: readonly Acl[]): string {
  return JSON.stringify(acl.map((entry) => [entry.perms, entry.scheme, entry.id]));
}
