/**
 * fast-check arbitraries for every operation request and response the codec serves, shared
 * by the wire specs. Values stay small (short strings, few items) so round trips at every
 * truncation offset run quickly; strings are whole graphemes, so they survive UTF-8.
 */
import fc from 'fast-check';
import type { Acl, Stat } from '../state/stat.js';
import { OpCode } from './op-code.js';
import type { OperationRequest, OperationResponse } from './operation.js';
import type { ConnectRequest, ConnectResponse } from './records/connect.js';
import type { MultiOperation, MultiResult } from './records/multi.js';
import type { WatcherEvent } from './records/watcher-event.js';

/** fc.record with ordinary prototypes, so assert.deepEqual compares to decoded values. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

export const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
export const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const path = text.map((name) => `/${name}`);
const data = fc.option(fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes)), {
  nil: null,
});
const paths = fc.array(path, { maxLength: 4 });

export const stat: fc.Arbitrary<Stat> = record({
  czxid: int64, mzxid: int64, ctime: int64, mtime: int64, version: int32, cversion: int32,
  aversion: int32, ephemeralOwner: int64, dataLength: int32, numChildren: int32, pzxid: int64,
});
const acl: fc.Arbitrary<Acl> = record({ perms: int32, scheme: text, id: text });
const acls = fc.array(acl, { maxLength: 3 });

const createRequest = record({ path, data, acl: acls, flags: int32 });
const createTTLRequest = record({ path, data, acl: acls, flags: int32, ttl: int64 });
const pathVersion = record({ path, version: int32 });
const pathWatch = record({ path, watch: fc.boolean() });
const setDataRequest = record({ path, data, version: int32 });

export const multiOperation: fc.Arbitrary<MultiOperation> = fc.oneof(
  record({
    type: fc.constantFrom(OpCode.create, OpCode.create2, OpCode.createContainer),
    body: createRequest,
  }),
  record({ type: fc.constant(OpCode.createTTL), body: createTTLRequest }),
  record({ type: fc.constantFrom(OpCode.delete, OpCode.check), body: pathVersion }),
  record({ type: fc.constant(OpCode.setData), body: setDataRequest }),
  record({ type: fc.constantFrom(OpCode.getChildren, OpCode.getData), body: pathWatch }),
);

const setWatches = record({
  relativeZxid: int64, dataWatches: paths, existWatches: paths, childWatches: paths,
});

export const operationRequest: fc.Arbitrary<OperationRequest> = fc.oneof(
  multiOperation,
  record({
    type: fc.constantFrom(OpCode.exists, OpCode.getChildren2),
    body: pathWatch,
  }),
  record({
    type: fc.constantFrom(OpCode.getACL, OpCode.sync, OpCode.getAllChildrenNumber),
    body: record({ path }),
  }),
  record({
    type: fc.constant(OpCode.setACL),
    body: record({ path, acl: acls, version: int32 }),
  }),
  record({ type: fc.constant(OpCode.getEphemerals), body: record({ prefixPath: path }) }),
  record({
    type: fc.constantFrom(OpCode.multi, OpCode.multiRead),
    body: record({ operations: fc.array(multiOperation, { maxLength: 4 }) }),
  }),
  record({ type: fc.constant(OpCode.setWatches), body: setWatches }),
  record({
    type: fc.constant(OpCode.setWatches2),
    body: fc
      .tuple(setWatches, paths, paths)
      .map(([base, persistentWatches, persistentRecursiveWatches]) => ({
        ...base, persistentWatches, persistentRecursiveWatches,
      })),
  }),
  record({
    type: fc.constant(OpCode.addWatch),
    body: record({ path, mode: int32 }),
  }),
  record({
    type: fc.constantFrom(OpCode.removeWatches, OpCode.checkWatches),
    body: record({ path, type: int32 }),
  }),
  record({
    type: fc.constant(OpCode.auth),
    body: record({ type: int32, scheme: text, auth: data }),
  }),
  record({ type: fc.constantFrom(OpCode.ping, OpCode.closeSession), body: fc.constant(null) }),
);

const getDataResponse = record({ data, stat });
const children = fc.array(text, { maxLength: 4 });

export const multiResult: fc.Arbitrary<MultiResult> = fc.oneof(
  record({ type: fc.constant(OpCode.create), body: record({ path }) }),
  record({
    type: fc.constantFrom(OpCode.create2, OpCode.createTTL, OpCode.createContainer),
    body: record({ path, stat }),
  }),
  record({ type: fc.constantFrom(OpCode.delete, OpCode.check), body: fc.constant(null) }),
  record({ type: fc.constant(OpCode.setData), body: record({ stat }) }),
  record({ type: fc.constant(OpCode.getChildren), body: record({ children }) }),
  record({ type: fc.constant(OpCode.getData), body: getDataResponse }),
  record({ type: fc.constant(OpCode.error), err: int32 }),
);

export const operationResponse: fc.Arbitrary<OperationResponse> = fc.oneof(
  multiResult.filter((result): result is Exclude<MultiResult, { type: -1 }> => result.type !== -1)
    .map((result) => result as OperationResponse),
  record({ type: fc.constantFrom(OpCode.exists, OpCode.setACL), body: record({ stat }) }),
  record({ type: fc.constant(OpCode.getACL), body: record({ acl: acls, stat }) }),
  record({ type: fc.constant(OpCode.getChildren2), body: record({ children, stat }) }),
  record({
    type: fc.constant(OpCode.getAllChildrenNumber),
    body: record({ totalNumber: int32 }),
  }),
  record({ type: fc.constant(OpCode.getEphemerals), body: record({ ephemerals: paths }) }),
  record({ type: fc.constant(OpCode.sync), body: record({ path }) }),
  record({ type: fc.constant(OpCode.addWatch), body: record({ err: int32 }) }),
  record({
    type: fc.constantFrom(OpCode.multi, OpCode.multiRead),
    body: record({ results: fc.array(multiResult, { maxLength: 4 }) }),
  }),
  record({
    type: fc.constantFrom(
      OpCode.ping, OpCode.closeSession, OpCode.setWatches, OpCode.setWatches2,
      OpCode.removeWatches, OpCode.checkWatches, OpCode.auth,
    ),
    body: fc.constant(null),
  }),
);

export const connectRequest: fc.Arbitrary<ConnectRequest> = record({
  protocolVersion: int32, lastZxidSeen: int64, timeOut: int32, sessionId: int64, passwd: data,
  readOnly: fc.boolean(),
});

export const connectResponse: fc.Arbitrary<ConnectResponse> = record({
  protocolVersion: int32, timeOut: int32, sessionId: int64, passwd: data, readOnly: fc.boolean(),
});

export const watcherEvent: fc.Arbitrary<WatcherEvent> = record({
  type: int32, state: int32, path: fc.option(path, { nil: null }),
});

/** Positive xids as clients choose them (the special ones are tested by name). */
export const xid = fc.integer({ min: 1, max: 0x7fffffff });
