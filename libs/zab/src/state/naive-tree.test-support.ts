/**
 * Test support: a small, obviously correct Map-based `TreeView` that can also apply
 * transactions naively, so tests can prepare -> apply -> prepare again without the real
 * DataTree. It follows ZooKeeper's DataTree rules that the preparer's overlay must mirror:
 * - create sets the parent's cversion to the txn's `parentCVersion` and its pzxid;
 * - delete changes only the parent's child set and pzxid (ZooKeeper does not bump cversion);
 * - closeSession deletes every ephemeral the session owns and forgets the session;
 * - a multi with any `error` op changes nothing.
 * Applying a transaction the preparer should never have produced (create over an existing
 * node, delete of a missing one, ...) throws: the tests use that to catch preparer bugs.
 */
import type { SessionId, Zxid } from '../core/ids.js';
import { assert, assertNever } from '../util/assert.js';
import type { NodeKind } from './create-mode.js';
import { childPath, nameOf, parentOf } from './path.js';
import type { Acl, Stat } from './stat.js';
import { OPEN_ACL_UNSAFE } from './stat.js';
import type { NodeInfo, NodeState, TreeView } from './tree-view.js';
import type { MultiOpTxn, Txn, TxnBody, TxnHeader } from './txn.js';

interface NaiveNode {
  data: Buffer;
  acl: Acl[];
  kind: NodeKind;
  ttlMs: number;
  stat: Stat;
  children: Set<string>;
}

function freshStat(zxid: Zxid, time: bigint, ephemeralOwner: SessionId, dataLength: number): Stat {
  return {
    czxid: zxid, mzxid: zxid, ctime: time, mtime: time, version: 0, cversion: 0, aversion: 0,
    ephemeralOwner, dataLength, numChildren: 0, pzxid: zxid,
  };
}

export class NaiveTree implements TreeView {
  lastZxid: Zxid = 0n;
  readonly nodes = new Map<string, NaiveNode>();
  readonly sessions = new Map<SessionId, number>();

  /** Starts with `/`, `/zookeeper` and `/zookeeper/quota`, as ZooKeeper's DataTree does. */
  constructor() {
    const root = this.node(0n, 0n, 'persistent', 0, 0n);
    this.nodes.set('/', root);
    this.insert('/zookeeper', this.node(0n, 0n, 'persistent', 0, 0n));
    this.insert('/zookeeper/quota', this.node(0n, 0n, 'persistent', 0, 0n));
  }

  nodeInfo(path: string): NodeInfo | undefined {
    const node = this.nodes.get(path);
    if (node === undefined) return undefined;
    return {
      stat: { ...node.stat, numChildren: node.children.size },
      kind: node.kind,
      ttlMs: node.ttlMs,
      acl: node.acl.map((entry) => ({ ...entry })),
    };
  }

  nodeState(path: string): NodeState | undefined {
    const node = this.nodes.get(path);
    if (node === undefined) return undefined;
    return { kind: node.kind, ttlMs: node.ttlMs,
      ephemeralOwner: node.kind === 'ephemeral' ? node.stat.ephemeralOwner : 0n,
      version: node.stat.version, cversion: node.stat.cversion, aversion: node.stat.aversion,
      mtime: node.stat.mtime, childCount: node.children.size, acl: node.acl };
  }

  childrenOf(path: string): string[] | undefined {
    const node = this.nodes.get(path);
    return node === undefined ? undefined : [...node.children];
  }

  hasSession(sessionId: SessionId): boolean {
    return this.sessions.has(sessionId);
  }

  sessionTimeoutMs(sessionId: SessionId): number | undefined {
    return this.sessions.get(sessionId);
  }

  ephemeralsOf(sessionId: SessionId): string[] {
    const found: string[] = [];
    for (const [path, node] of this.nodes) {
      if (node.kind === 'ephemeral' && node.stat.ephemeralOwner === sessionId) found.push(path);
    }
    return found;
  }

  /** Applies one transaction; throws when the transaction is not valid for this tree. */
  apply(txn: Txn): void {
    assert(txn.header.zxid > this.lastZxid, `zxid ${txn.header.zxid} not after ${this.lastZxid}`);
    this.applyBody(txn.body, txn.header);
    this.lastZxid = txn.header.zxid;
  }

  private applyBody(body: TxnBody, header: TxnHeader): void {
    switch (body.type) {
      case 'create':
      case 'delete':
      case 'setData':
      case 'check':
      case 'error':
        this.applyOp(body, header);
        return;
      case 'setACL': {
        const node = this.existing(body.path);
        node.acl = body.acl.map((entry) => ({ ...entry }));
        node.stat.aversion = body.version;
        return;
      }
      case 'createSession':
        // ZooKeeper's DataTree overwrites an existing session's timeout (ids are unique anyway).
        this.sessions.set(header.sessionId, body.timeoutMs);
        return;
      case 'closeSession':
        for (const path of this.ephemeralsOf(header.sessionId).sort()) this.remove(path, header);
        this.sessions.delete(header.sessionId);
        return;
      case 'multi':
        if (body.txns.some((op) => op.type === 'error')) return;
        for (const op of body.txns) this.applyOp(op, header);
        return;
      default:
        assertNever(body, 'txn');
    }
  }

  private applyOp(op: MultiOpTxn, header: TxnHeader): void {
    switch (op.type) {
      case 'create': {
        assert(!this.nodes.has(op.path), `create over existing ${op.path}`);
        const node = this.node(header.zxid, header.time, op.kind, op.ttlMs, op.ephemeralOwner);
        node.data = Buffer.from(op.data);
        node.acl = op.acl.map((entry) => ({ ...entry }));
        node.stat.dataLength = op.data.length;
        this.insert(op.path, node);
        const parent = this.existing(parentOf(op.path));
        parent.stat.cversion = op.parentCVersion;
        parent.stat.pzxid = header.zxid;
        return;
      }
      case 'delete':
        this.remove(op.path, header);
        return;
      case 'setData': {
        const node = this.existing(op.path);
        node.data = Buffer.from(op.data);
        node.stat.version = op.version;
        node.stat.dataLength = op.data.length;
        node.stat.mtime = header.time;
        node.stat.mzxid = header.zxid;
        return;
      }
      case 'check':
      case 'error':
        return;
      default:
        assertNever(op, 'multi op');
    }
  }

  private node(
    zxid: Zxid, time: bigint, kind: NodeKind, ttlMs: number, owner: SessionId,
  ): NaiveNode {
    return {
      data: Buffer.alloc(0),
      acl: OPEN_ACL_UNSAFE.map((entry) => ({ ...entry })),
      kind,
      ttlMs,
      stat: freshStat(zxid, time, owner, 0),
      children: new Set(),
    };
  }

  private existing(path: string): NaiveNode {
    const node = this.nodes.get(path);
    assert(node !== undefined, `no node ${path}`);
    return node;
  }

  private insert(path: string, node: NaiveNode): void {
    const parent = this.existing(parentOf(path));
    assert(parent.kind !== 'ephemeral', `child under ephemeral ${path}`);
    parent.children.add(nameOf(path));
    this.nodes.set(path, node);
  }

  private remove(path: string, header: TxnHeader): void {
    const node = this.existing(path);
    assert(node.children.size === 0, `delete of non-empty ${path}`);
    assert(path !== '/', 'delete of the root');
    const parent = this.existing(parentOf(path));
    parent.children.delete(nameOf(path));
    parent.stat.pzxid = header.zxid;
    this.nodes.delete(path);
  }

  /** Sorted paths of every node, for comparing two trees in tests. */
  dump(): string[] {
    return [...this.nodes.entries()]
      .map(([path, node]) => {
        const s = node.stat;
        const kids = [...node.children].sort().map((name) => childPath(path, name)).join(',');
        return `${path} ${node.kind} v${s.version} c${s.cversion} a${s.aversion} ` +
          `o${s.ephemeralOwner} m${s.mtime} [${kids}] ${node.data.toString('hex')}`;
      })
      .sort();
  }
}
