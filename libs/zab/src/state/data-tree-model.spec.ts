/**
 * Test support, no tests: a deliberately naive Map-based model of the data tree (the apply
 * rules written the obvious way) and a generator of random valid transaction sequences. The
 * property tests apply the same sequence to `DataTree` and to the model and compare.
 */
import fc from 'fast-check';
import { Hash64, Sum64 } from '../util/hash.js';
import type { NodeKind } from './create-mode.js';
import { DataTree, ephemeralOwnerOf, hashSession, hashZnode } from './data-tree.js';
import { ErrorCode } from './error-code.js';
import { childPath, nameOf, parentOf } from './path.js';
import { OPEN_ACL_UNSAFE, type Acl, type Stat } from './stat.js';
import type { MultiOpTxn, Txn, TxnBody } from './txn.js';
import type { WatchEvent } from './watch-event.js';

export interface ModelNode {
  data: Buffer;
  acl: Acl[];
  kind: NodeKind;
  ttlMs: number;
  session: bigint;
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
}

export const SYSTEM_PATHS = ['/', '/zookeeper', '/zookeeper/quota'];

export class ModelTree {
  nodes = new Map<string, ModelNode>();
  sessions = new Map<bigint, number>();
  lastZxid = 0n;

  constructor() {
    for (const path of SYSTEM_PATHS) this.nodes.set(path, blankNode());
  }

  clone(): ModelTree {
    const copy = new ModelTree();
    copy.nodes = new Map([...this.nodes].map(([path, node]) => [path, { ...node }]));
    copy.sessions = new Map(this.sessions);
    copy.lastZxid = this.lastZxid;
    return copy;
  }

  childNames(path: string): string[] {
    const names: string[] = [];
    for (const other of this.nodes.keys()) {
      if (other !== '/' && parentOf(other) === path) names.push(nameOf(other));
    }
    return names.sort();
  }

  stat(path: string): Stat {
    const node = this.nodes.get(path)!;
    return {
      czxid: node.czxid,
      mzxid: node.mzxid,
      ctime: node.ctime,
      mtime: node.mtime,
      version: node.version,
      cversion: node.cversion,
      aversion: node.aversion,
      ephemeralOwner: ephemeralOwnerOf(node.kind, node.session, node.ttlMs),
      dataLength: node.data.length,
      numChildren: this.childNames(path).length,
      pzxid: node.pzxid,
    };
  }

  digest(): bigint {
    const sum = new Sum64();
    const hash = new Hash64();
    for (const [path, node] of this.nodes) {
      const stat = this.stat(path);
      hashZnode(hash, { ...stat, path, kind: node.kind, acl: node.acl, data: node.data });
      sum.add(hash.low, hash.high);
    }
    for (const [sessionId, timeoutMs] of this.sessions) {
      hashSession(hash, sessionId, timeoutMs);
      sum.add(hash.low, hash.high);
    }
    return sum.value;
  }

  apply(txn: Txn): { code: number; events: WatchEvent[] } {
    const events: WatchEvent[] = [];
    const code = this.applyBody(txn, txn.body, events);
    this.lastZxid = txn.header.zxid;
    return { code, events };
  }

  private applyBody(txn: Txn, body: TxnBody, events: WatchEvent[]): number {
    const { zxid, time, sessionId } = txn.header;
    switch (body.type) {
      case 'create': {
        const parent = this.nodes.get(parentOf(body.path))!;
        parent.cversion = body.parentCVersion;
        parent.pzxid = zxid;
        this.nodes.set(body.path, {
          ...blankNode(),
          data: Buffer.from(body.data),
          acl: body.acl.map((a) => ({ ...a })),
          kind: body.kind,
          ttlMs: body.ttlMs,
          session: body.ephemeralOwner,
          czxid: zxid,
          mzxid: zxid,
          pzxid: zxid,
          ctime: time,
          mtime: time,
        });
        events.push({ type: 'created', path: body.path, zxid });
        events.push({ type: 'childrenChanged', path: parentOf(body.path), zxid });
        return 0;
      }
      case 'delete':
        this.deleteNode(body.path, zxid, events);
        return 0;
      case 'setData': {
        const node = this.nodes.get(body.path)!;
        Object.assign(node, {
          data: Buffer.from(body.data),
          version: body.version,
          mzxid: zxid,
          mtime: time,
        });
        events.push({ type: 'dataChanged', path: body.path, zxid });
        return 0;
      }
      case 'setACL':
        Object.assign(this.nodes.get(body.path)!, { acl: body.acl, aversion: body.version });
        return 0;
      case 'check':
      case 'closeSession':
        if (body.type === 'closeSession') {
          const owned = [...this.nodes].filter(
            ([, n]) => n.kind === 'ephemeral' && n.session === sessionId,
          );
          for (const path of owned.map(([p]) => p).sort()) this.deleteNode(path, zxid, events);
          this.sessions.delete(sessionId);
        }
        return 0;
      case 'createSession':
        this.sessions.set(sessionId, body.timeoutMs);
        return 0;
      case 'error':
        return body.code;
      case 'multi': {
        const failed = body.txns.find((op) => op.type === 'error' && op.code !== 0);
        if (failed !== undefined && failed.type === 'error') return failed.code;
        for (const op of body.txns) this.applyBody(txn, op, events);
        return 0;
      }
    }
  }

  private deleteNode(path: string, zxid: bigint, events: WatchEvent[]): void {
    this.nodes.delete(path);
    const parent = this.nodes.get(parentOf(path))!;
    // ZooKeeper 3.5+: a delete moves the parent's pzxid only; its cversion counts creates.
    parent.pzxid = zxid;
    events.push({ type: 'deleted', path, zxid });
    events.push({ type: 'childrenChanged', path: parentOf(path), zxid });
  }
}

function blankNode(): ModelNode {
  return {
    data: Buffer.alloc(0),
    acl: OPEN_ACL_UNSAFE.map((a) => ({ ...a })),
    kind: 'persistent',
    ttlMs: 0,
    session: 0n,
    czxid: 0n,
    mzxid: 0n,
    pzxid: 0n,
    ctime: 0n,
    mtime: 0n,
    version: 0,
    cversion: 0,
    aversion: 0,
  };
}

// ---- random valid transactions --------------------------------------------------------------

const ACLS: Acl[][] = [
  [{ perms: 31, scheme: 'world', id: 'anyone' }],
  [
    { perms: 1, scheme: 'digest', id: 'u:x' },
    { perms: 30, scheme: 'ip', id: '10.0.0.0/8' },
  ],
  [{ perms: 3, scheme: 'auth', id: '' }],
];

export type Command =
  | {
      op: 'create';
      parent: number;
      name: string;
      kind: number;
      data: Uint8Array;
      acl: number;
      session: number;
      sequential: boolean;
    }
  | { op: 'delete'; pick: number }
  | { op: 'setData'; pick: number; data: Uint8Array }
  | { op: 'setACL'; pick: number; acl: number }
  | { op: 'check'; pick: number }
  | { op: 'createSession'; session: number; timeoutMs: number }
  | { op: 'closeSession'; session: number }
  | { op: 'error'; code: number }
  | { op: 'multi'; ops: Command[]; failAt: number };

const dataArbitrary = fc.uint8Array({ maxLength: 48 });
const leafCommand: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('create' as const),
      parent: fc.nat(),
      name: fc.constantFrom('a', 'b', 'c', 'dd'),
      kind: fc.integer({ min: 0, max: 3 }),
      data: dataArbitrary,
      acl: fc.integer({ min: 0, max: 2 }),
      session: fc.nat(),
      sequential: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('setData' as const),
      pick: fc.nat(),
      data: dataArbitrary,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('setACL' as const),
      pick: fc.nat(),
      acl: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('check' as const), pick: fc.nat() }) },
);
export const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: leafCommand },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('createSession' as const),
      session: fc.integer({ min: 1, max: 3 }),
      timeoutMs: fc.integer({ min: 1, max: 60000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('closeSession' as const),
      session: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('error' as const),
      code: fc.constantFrom(-101, -110, -103),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('multi' as const),
      ops: fc.array(leafCommand, { minLength: 1, maxLength: 4 }),
      failAt: fc.integer({ min: -3, max: 3 }),
    }),
  },
);

/** Turns a command into a transaction valid for `model` (an error txn when it cannot apply). */
export function toTxn(model: ModelTree, command: Command, zxid: bigint): Txn {
  const sessionId =
    command.op === 'createSession' || command.op === 'closeSession' ? BigInt(command.session) : 1n;
  const header = { sessionId, cxid: 1, zxid, time: 1_000_000n + zxid * 10n };
  if (command.op === 'multi') return { header, body: toMulti(model, command, zxid) };
  if (command.op === 'createSession')
    return { header, body: { type: 'createSession', timeoutMs: command.timeoutMs } };
  if (command.op === 'closeSession') return { header, body: { type: 'closeSession' } };
  if (command.op === 'error') return { header, body: { type: 'error', code: command.code } };
  return { header, body: toOp(model, command) };
}

function toMulti(
  model: ModelTree,
  command: Extract<Command, { op: 'multi' }>,
  zxid: bigint,
): TxnBody {
  const scratch = model.clone();
  const ops: MultiOpTxn[] = [];
  for (const sub of command.ops) {
    // setACL is not allowed inside a multi (as in ZooKeeper): check the node instead.
    const op = toOp(scratch, sub.op === 'setACL' ? { op: 'check', pick: sub.pick } : sub);
    if (op.type === 'setACL') throw new Error('unreachable');
    ops.push(op);
    if (op.type !== 'error')
      scratch.apply({ header: { sessionId: 1n, cxid: 1, zxid, time: 0n }, body: op });
  }
  const failAt =
    command.failAt >= 0 && command.failAt < ops.length
      ? command.failAt
      : ops.findIndex((op) => op.type === 'error');
  if (failAt < 0) return { type: 'multi', txns: ops };
  return {
    type: 'multi',
    txns: ops.map((_, k) => ({
      type: 'error' as const,
      code:
        k < failAt
          ? ErrorCode.Ok
          : k === failAt
            ? ErrorCode.NoNode
            : ErrorCode.RuntimeInconsistency,
    })),
  };
}

function pickPath(
  model: ModelTree,
  pick: number,
  filter: (path: string) => boolean,
): string | undefined {
  const paths = [...model.nodes.keys()].filter(filter).sort();
  return paths.length === 0 ? undefined : paths[pick % paths.length];
}

function toOp(model: ModelTree, command: Command): MultiOpTxn | (TxnBody & { type: 'setACL' }) {
  switch (command.op) {
    case 'create':
      return toCreate(model, command);
    case 'delete': {
      const path = pickPath(
        model,
        command.pick,
        (p) => !SYSTEM_PATHS.includes(p) && model.childNames(p).length === 0,
      );
      return path === undefined
        ? { type: 'error', code: ErrorCode.NoNode }
        : { type: 'delete', path };
    }
    case 'setData': {
      const path = pickPath(model, command.pick, () => true)!;
      const version = (model.nodes.get(path)!.version + 1) | 0;
      return { type: 'setData', path, data: Buffer.from(command.data), version };
    }
    case 'setACL': {
      const path = pickPath(model, command.pick, () => true)!;
      return {
        type: 'setACL',
        path,
        acl: ACLS[command.acl]!,
        version: model.nodes.get(path)!.aversion + 1,
      };
    }
    case 'check': {
      const path = pickPath(model, command.pick, () => true)!;
      return { type: 'check', path, version: model.nodes.get(path)!.version };
    }
    default:
      return { type: 'error', code: ErrorCode.BadArguments };
  }
}

function toCreate(model: ModelTree, command: Extract<Command, { op: 'create' }>): MultiOpTxn {
  const parentPath = pickPath(
    model,
    command.parent,
    (p) => model.nodes.get(p)!.kind !== 'ephemeral',
  )!;
  const parent = model.nodes.get(parentPath)!;
  const name = command.sequential
    ? `${command.name}${String(parent.cversion).padStart(10, '0')}`
    : command.name;
  const path = childPath(parentPath, name);
  if (model.nodes.has(path)) return { type: 'error', code: ErrorCode.NodeExists };
  const sessions = [...model.sessions.keys()].sort();
  let kind = (['persistent', 'ephemeral', 'container', 'ttl'] as const)[command.kind]!;
  if (kind === 'ephemeral' && sessions.length === 0) kind = 'persistent';
  return {
    type: 'create',
    path,
    data: Buffer.from(command.data),
    acl: ACLS[command.acl]!,
    kind,
    ephemeralOwner: kind === 'ephemeral' ? sessions[command.session % sessions.length]! : 0n,
    ttlMs: kind === 'ttl' ? 1000 + command.session : 0,
    parentCVersion: (parent.cversion + 1) | 0,
  };
}

/** Every observable of the tree, for deep comparison (paths sorted). */
export function dumpTree(tree: DataTree): unknown {
  const nodes: unknown[] = [];
  const stack = ['/'];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const info = tree.nodeInfo(path)!;
    const children = tree.getChildren(path)!.sort();
    nodes.push({ path, info, data: tree.getData(path)!.data.toString('hex'), children });
    for (const name of children) stack.push(childPath(path, name));
  }
  nodes.sort((a, b) => ((a as { path: string }).path < (b as { path: string }).path ? -1 : 1));
  return { nodes, sessions: tree.sessions(), digest: tree.digest(), lastZxid: tree.lastZxid };
}

/** The model's observables in the shape of `dumpTree`. */
export function dumpModel(model: ModelTree): unknown {
  const nodes = [...model.nodes.keys()].sort().map((path) => {
    const node = model.nodes.get(path)!;
    return {
      path,
      info: {
        stat: model.stat(path),
        kind: node.kind,
        ttlMs: node.ttlMs,
        acl: node.acl.map((a) => ({ ...a })),
      },
      data: node.data.toString('hex'),
      children: model.childNames(path),
    };
  });
  const sessions = [...model.sessions]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([sessionId, timeoutMs]) => ({ sessionId, timeoutMs }));
  return { nodes, sessions, digest: model.digest(), lastZxid: model.lastZxid };
}
