/**
 * Snapshots in memory (`memory:<zxid>` names). A snapshot becomes visible only at `commit()`;
 * bodies are copied in and out, so callers own the buffers they pass and receive. Memory
 * snapshots cannot be corrupt, so `purge` keeps exactly the newest `keep`.
 */
import type { Zxid } from '../../core/ids.js';
import { zxidToHex } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import type { SnapshotInfo, SnapshotStore, SnapshotWriter } from '../storage.js';

export class MemorySnapshotStore implements SnapshotStore {
  private readonly snapshots = new Map<Zxid, Buffer>();

  async begin(zxid: Zxid): Promise<SnapshotWriter> {
    const chunks: Buffer[] = [];
    let state: 'writing' | 'committed' | 'aborted' = 'writing';
    const store = this.snapshots;
    return {
      zxid,
      async write(chunk: Uint8Array) {
        assert(state === 'writing', `write on a ${state} snapshot ${zxidToHex(zxid)}`);
        chunks.push(Buffer.from(chunk));
      },
      async commit() {
        assert(state === 'writing', `commit of a ${state} snapshot ${zxidToHex(zxid)}`);
        state = 'committed';
        store.set(zxid, Buffer.concat(chunks));
        return infoOf(zxid);
      },
      async abort() {
        if (state === 'writing') state = 'aborted';
      },
    };
  }

  async loadLatest(): Promise<{ info: SnapshotInfo; body: Buffer } | null> {
    const newest = (await this.list()).pop();
    if (newest === undefined) return null;
    return { info: newest, body: Buffer.from(this.snapshots.get(newest.zxid)!) };
  }

  async load(info: SnapshotInfo): Promise<Buffer | null> {
    const body = this.snapshots.get(info.zxid);
    return body === undefined ? null : Buffer.from(body);
  }

  async list(): Promise<SnapshotInfo[]> {
    return [...this.snapshots.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(infoOf);
  }

  async purge(keep: number): Promise<SnapshotInfo | null> {
    assert(Number.isInteger(keep) && keep >= 1, `purge must keep at least one, got ${keep}`);
    const all = await this.list();
    const kept = all.slice(Math.max(0, all.length - keep));
    for (const info of all.slice(0, all.length - kept.length)) this.snapshots.delete(info.zxid);
    return kept[0] ?? null;
  }

  async close(): Promise<void> {}
}

function infoOf(zxid: Zxid): SnapshotInfo {
  return { zxid, name: `memory:${zxidToHex(zxid)}` };
}
