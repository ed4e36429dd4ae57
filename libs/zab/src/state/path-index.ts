/**
 * Path → node id index for the data tree: an open-addressing hash table (linear probing,
 * backward-shift deletion) of `id + 1` in one Int32Array, keyed by the tree's own `paths[id]`
 * strings. It replaces a `Map<string, number>` (~29 bytes and a rehash of JS objects per entry)
 * with 12–20 bytes per node (slots plus a hash per id) and no per-entry allocation, which
 * matters at 1M znodes, mostly when loading a snapshot.
 *
 * Contract: the owner keeps `paths[id]` equal to the key of every id in the index (set it before
 * `set`, clear it only after `delete`).
 */
const EMPTY_SLOT = 0;
const LOAD_FACTOR_MAX = 0.5;

export class PathIndex {
  private slots: Int32Array;
  private mask: number;
  private entries = 0;
  /** Hash of each indexed id's path: probes compare it before the (long-prefixed) strings. */
  private hashById = new Int32Array(64);

  constructor(
    private readonly paths: ReadonlyArray<string | undefined>,
    initialSlots = 64,
  ) {
    const size = powerOfTwoAtLeast(initialSlots);
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.entries;
  }

  get(path: string): number | undefined {
    const slots = this.slots;
    const mask = this.mask;
    const hash = hashPath(path);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry === EMPTY_SLOT) return undefined;
      if (this.hashById[entry - 1] === hash && this.paths[entry - 1] === path) return entry - 1;
    }
  }

  has(path: string): boolean {
    return this.get(path) !== undefined;
  }

  /** Adds `path` → `id`; returns false (and changes nothing) when `path` is present. */
  set(path: string, id: number): boolean {
    if (this.entries + 1 > this.slots.length * LOAD_FACTOR_MAX) this.resize(this.slots.length * 2);
    const slots = this.slots;
    const mask = this.mask;
    const hash = hashPath(path);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry === EMPTY_SLOT) {
        slots[slot] = id + 1;
        if (id >= this.hashById.length) this.growHashes(id + 1);
        this.hashById[id] = hash;
        this.entries++;
        return true;
      }
      if (this.hashById[entry - 1] === hash && this.paths[entry - 1] === path) return false;
    }
  }

  /** Removes `path`; returns false when absent. */
  delete(path: string): boolean {
    const slots = this.slots;
    const mask = this.mask;
    const hash = hashPath(path);
    let hole = hash & mask;
    for (; ; hole = (hole + 1) & mask) {
      const entry = slots[hole]!;
      if (entry === EMPTY_SLOT) return false;
      if (this.hashById[entry - 1] === hash && this.paths[entry - 1] === path) break;
    }
    // Backward shift: move later entries of the probe run into the hole when their home slot
    // does not lie cyclically after the hole, so lookups never meet a gap in their run.
    for (let slot = (hole + 1) & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry === EMPTY_SLOT) break;
      const home = this.hashById[entry - 1]! & mask;
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        slots[hole] = entry;
        hole = slot;
      }
    }
    slots[hole] = EMPTY_SLOT;
    this.entries--;
    return true;
  }

  /** Makes room for `count` entries in total without further resizing (bulk loading). */
  reserve(count: number): void {
    const needed = powerOfTwoAtLeast(Math.ceil(count / LOAD_FACTOR_MAX) + 1);
    if (needed > this.slots.length) this.resize(needed);
    if (count > this.hashById.length) this.growHashes(count);
  }

  private growHashes(minimum: number): void {
    const grown = new Int32Array(Math.max(minimum, Math.ceil(this.hashById.length * 1.5)));
    grown.set(this.hashById);
    this.hashById = grown;
  }

  private resize(size: number): void {
    const old = this.slots;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (const entry of old) {
      if (entry === EMPTY_SLOT) continue;
      let slot = this.hashById[entry - 1]! & this.mask;
      while (this.slots[slot] !== EMPTY_SLOT) slot = (slot + 1) & this.mask;
      this.slots[slot] = entry;
    }
  }
}

function powerOfTwoAtLeast(value: number): number {
  let size = 16;
  while (size < value) size *= 2;
  return size;
}

/** FNV-1a over UTF-16 code units with a final avalanche (paths share long prefixes). */
export function hashPath(path: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash | 0;
}
