/**
 * Operation bodies keyed by op code: `OperationRequest` is what follows a RequestHeader,
 * `OperationResponse` what follows a ReplyHeader with err 0. The `type` discriminant is the
 * op code (`OpCode`), the same number as in the header. One dispatch for both directions, so
 * the server and the future client backend share every byte of the codec.
 */
import type { JuteReader } from '../jute/jute-reader.js';
import type { JuteWriter } from '../jute/jute-writer.js';
import { assertNever } from '../util/assert.js';
import { OpCode } from './op-code.js';
import * as aclOps from './records/acl-ops.js';
import * as addWatch from './records/add-watch.js';
import * as auth from './records/auth.js';
import * as check from './records/check.js';
import * as create from './records/create.js';
import * as deletion from './records/delete.js';
import * as errorResponse from './records/error-response.js';
import * as exists from './records/exists.js';
import * as allChildren from './records/get-all-children-number.js';
import * as getChildren from './records/get-children.js';
import * as getData from './records/get-data.js';
import * as ephemerals from './records/get-ephemerals.js';
import * as multi from './records/multi.js';
import * as removeWatches from './records/remove-watches.js';
import * as setData from './records/set-data.js';
import * as setWatches from './records/set-watches.js';
import * as sync from './records/sync.js';

type Op<T extends keyof typeof OpCode> = (typeof OpCode)[T];

export type OperationRequest =
  | { type: Op<'create'> | Op<'create2'> | Op<'createContainer'>; body: create.CreateRequest }
  | { type: Op<'createTTL'>; body: create.CreateTTLRequest }
  | { type: Op<'delete'>; body: deletion.DeleteRequest }
  | { type: Op<'exists'>; body: exists.ExistsRequest }
  | { type: Op<'getData'>; body: getData.GetDataRequest }
  | { type: Op<'setData'>; body: setData.SetDataRequest }
  | { type: Op<'getACL'>; body: aclOps.GetACLRequest }
  | { type: Op<'setACL'>; body: aclOps.SetACLRequest }
  | { type: Op<'getChildren'> | Op<'getChildren2'>; body: getChildren.GetChildrenRequest }
  | { type: Op<'getAllChildrenNumber'>; body: allChildren.GetAllChildrenNumberRequest }
  | { type: Op<'getEphemerals'>; body: ephemerals.GetEphemeralsRequest }
  | { type: Op<'sync'>; body: sync.SyncRequest }
  | { type: Op<'check'>; body: check.CheckVersionRequest }
  | { type: Op<'multi'> | Op<'multiRead'>; body: multi.MultiRequest }
  | { type: Op<'setWatches'>; body: setWatches.SetWatches }
  | { type: Op<'setWatches2'>; body: setWatches.SetWatches2 }
  | { type: Op<'addWatch'>; body: addWatch.AddWatchRequest }
  | {
      type: Op<'removeWatches'> | Op<'checkWatches'>;
      body: removeWatches.RemoveWatchesRequest;
    }
  | { type: Op<'auth'>; body: auth.AuthPacket }
  | { type: Op<'ping'> | Op<'closeSession'>; body: null };

export type OperationResponse =
  | { type: Op<'create'>; body: create.CreateResponse }
  | {
      type: Op<'create2'> | Op<'createContainer'> | Op<'createTTL'>;
      body: create.Create2Response;
    }
  | { type: Op<'exists'>; body: exists.ExistsResponse }
  | { type: Op<'getData'>; body: getData.GetDataResponse }
  | { type: Op<'setData'>; body: setData.SetDataResponse }
  | { type: Op<'getACL'>; body: aclOps.GetACLResponse }
  | { type: Op<'setACL'>; body: aclOps.SetACLResponse }
  | { type: Op<'getChildren'>; body: getChildren.GetChildrenResponse }
  | { type: Op<'getChildren2'>; body: getChildren.GetChildren2Response }
  | { type: Op<'getAllChildrenNumber'>; body: allChildren.GetAllChildrenNumberResponse }
  | { type: Op<'getEphemerals'>; body: ephemerals.GetEphemeralsResponse }
  | { type: Op<'sync'>; body: sync.SyncResponse }
  | { type: Op<'multi'> | Op<'multiRead'>; body: multi.MultiResponse }
  | { type: Op<'addWatch'>; body: errorResponse.ErrorResponse }
  | { type: OpWithoutResponseBody; body: null };

/**
 * Ops whose successful reply is the ReplyHeader alone. A standalone check is among them
 * here; ZooKeeper's FinalRequestProcessor builds a SetDataResponse for it but its check
 * transaction carries no Stat, so in practice check is only sent inside multi.
 */
export type OpWithoutResponseBody =
  | Op<'delete'>
  | Op<'check'>
  | Op<'ping'>
  | Op<'closeSession'>
  | Op<'setWatches'>
  | Op<'setWatches2'>
  | Op<'removeWatches'>
  | Op<'checkWatches'>
  | Op<'auth'>;

export function encodeOperationRequest(writer: JuteWriter, request: OperationRequest): void {
  switch (request.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      return create.encodeCreateRequest(writer, request.body);
    case OpCode.createTTL: return create.encodeCreateTTLRequest(writer, request.body);
    case OpCode.delete: return deletion.encodeDeleteRequest(writer, request.body);
    case OpCode.exists: return exists.encodeExistsRequest(writer, request.body);
    case OpCode.getData: return getData.encodeGetDataRequest(writer, request.body);
    case OpCode.setData: return setData.encodeSetDataRequest(writer, request.body);
    case OpCode.getACL: return aclOps.encodeGetACLRequest(writer, request.body);
    case OpCode.setACL: return aclOps.encodeSetACLRequest(writer, request.body);
    case OpCode.getChildren:
    case OpCode.getChildren2:
      return getChildren.encodeGetChildrenRequest(writer, request.body);
    case OpCode.getAllChildrenNumber:
      return allChildren.encodeGetAllChildrenNumberRequest(writer, request.body);
    case OpCode.getEphemerals: return ephemerals.encodeGetEphemeralsRequest(writer, request.body);
    case OpCode.sync: return sync.encodeSyncRequest(writer, request.body);
    case OpCode.check: return check.encodeCheckVersionRequest(writer, request.body);
    case OpCode.multi:
    case OpCode.multiRead:
      return multi.encodeMultiRequest(writer, request.body);
    case OpCode.setWatches: return setWatches.encodeSetWatches(writer, request.body);
    case OpCode.setWatches2: return setWatches.encodeSetWatches2(writer, request.body);
    case OpCode.addWatch: return addWatch.encodeAddWatchRequest(writer, request.body);
    case OpCode.removeWatches:
    case OpCode.checkWatches:
      return removeWatches.encodeRemoveWatchesRequest(writer, request.body);
    case OpCode.auth: return auth.encodeAuthPacket(writer, request.body);
    case OpCode.ping:
    case OpCode.closeSession:
      return;
    default:
      return assertNever(request, 'operation request');
  }
}

/** Decodes the body of op `type`; undefined for an op this codec does not serve. */
export function decodeOperationRequest(
  type: number,
  reader: JuteReader,
): OperationRequest | undefined {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      return { type, body: create.decodeCreateRequest(reader) };
    case OpCode.createTTL: return { type, body: create.decodeCreateTTLRequest(reader) };
    case OpCode.delete: return { type, body: deletion.decodeDeleteRequest(reader) };
    case OpCode.exists: return { type, body: exists.decodeExistsRequest(reader) };
    case OpCode.getData: return { type, body: getData.decodeGetDataRequest(reader) };
    case OpCode.setData: return { type, body: setData.decodeSetDataRequest(reader) };
    case OpCode.getACL: return { type, body: aclOps.decodeGetACLRequest(reader) };
    case OpCode.setACL: return { type, body: aclOps.decodeSetACLRequest(reader) };
    case OpCode.getChildren:
    case OpCode.getChildren2:
      return { type, body: getChildren.decodeGetChildrenRequest(reader) };
    case OpCode.getAllChildrenNumber:
      return { type, body: allChildren.decodeGetAllChildrenNumberRequest(reader) };
    case OpCode.getEphemerals: return { type, body: ephemerals.decodeGetEphemeralsRequest(reader) };
    case OpCode.sync: return { type, body: sync.decodeSyncRequest(reader) };
    case OpCode.check: return { type, body: check.decodeCheckVersionRequest(reader) };
    case OpCode.multi:
    case OpCode.multiRead:
      return { type, body: multi.decodeMultiRequest(reader) };
    case OpCode.setWatches: return { type, body: setWatches.decodeSetWatches(reader) };
    case OpCode.setWatches2: return { type, body: setWatches.decodeSetWatches2(reader) };
    case OpCode.addWatch: return { type, body: addWatch.decodeAddWatchRequest(reader) };
    case OpCode.removeWatches:
    case OpCode.checkWatches:
      return { type, body: removeWatches.decodeRemoveWatchesRequest(reader) };
    case OpCode.auth: return { type, body: auth.decodeAuthPacket(reader) };
    case OpCode.ping:
    case OpCode.closeSession:
      return { type, body: null };
    default:
      return undefined;
  }
}

export function encodeOperationResponse(writer: JuteWriter, response: OperationResponse): void {
  switch (response.type) {
    case OpCode.create: return create.encodeCreateResponse(writer, response.body);
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return create.encodeCreate2Response(writer, response.body);
    case OpCode.exists: return exists.encodeExistsResponse(writer, response.body);
    case OpCode.getData: return getData.encodeGetDataResponse(writer, response.body);
    case OpCode.setData: return setData.encodeSetDataResponse(writer, response.body);
    case OpCode.getACL: return aclOps.encodeGetACLResponse(writer, response.body);
    case OpCode.setACL: return aclOps.encodeSetACLResponse(writer, response.body);
    case OpCode.getChildren: return getChildren.encodeGetChildrenResponse(writer, response.body);
    case OpCode.getChildren2:
      return getChildren.encodeGetChildren2Response(writer, response.body);
    case OpCode.getAllChildrenNumber:
      return allChildren.encodeGetAllChildrenNumberResponse(writer, response.body);
    case OpCode.getEphemerals:
      return ephemerals.encodeGetEphemeralsResponse(writer, response.body);
    case OpCode.sync: return sync.encodeSyncResponse(writer, response.body);
    case OpCode.multi:
    case OpCode.multiRead:
      return multi.encodeMultiResponse(writer, response.body);
    case OpCode.addWatch: return errorResponse.encodeErrorResponse(writer, response.body);
    default:
      return; // the ops without a response body
  }
}

/** Decodes the successful response body of op `type`; undefined for an op not served. */
export function decodeOperationResponse(
  type: number,
  reader: JuteReader,
): OperationResponse | undefined {
  switch (type) {
    case OpCode.create: return { type, body: create.decodeCreateResponse(reader) };
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return { type, body: create.decodeCreate2Response(reader) };
    case OpCode.exists: return { type, body: exists.decodeExistsResponse(reader) };
    case OpCode.getData: return { type, body: getData.decodeGetDataResponse(reader) };
    case OpCode.setData: return { type, body: setData.decodeSetDataResponse(reader) };
    case OpCode.getACL: return { type, body: aclOps.decodeGetACLResponse(reader) };
    case OpCode.setACL: return { type, body: aclOps.decodeSetACLResponse(reader) };
    case OpCode.getChildren: return { type, body: getChildren.decodeGetChildrenResponse(reader) };
    case OpCode.getChildren2:
      return { type, body: getChildren.decodeGetChildren2Response(reader) };
    case OpCode.getAllChildrenNumber:
      return { type, body: allChildren.decodeGetAllChildrenNumberResponse(reader) };
    case OpCode.getEphemerals:
      return { type, body: ephemerals.decodeGetEphemeralsResponse(reader) };
    case OpCode.sync: return { type, body: sync.decodeSyncResponse(reader) };
    case OpCode.multi:
    case OpCode.multiRead:
      return { type, body: multi.decodeMultiResponse(reader) };
    case OpCode.addWatch: return { type, body: errorResponse.decodeErrorResponse(reader) };
    case OpCode.delete:
    case OpCode.check:
    case OpCode.ping:
    case OpCode.closeSession:
    case OpCode.setWatches:
    case OpCode.setWatches2:
    case OpCode.removeWatches:
    case OpCode.checkWatches:
    case OpCode.auth:
      return { type, body: null };
    default:
      return undefined;
  }
}
