/**
 * Transactions (op multi) and batched reads (op multiRead). Neither is a jute record of its
 * own: the body is a run of `MultiHeader { int type; boolean done; int err }`, each followed
 * by the op's record, closed by a header with done = true (ZooKeeper writes type -1, err -1).
 * Requests write err = -1 in each header; responses write, per result, the op's type and
 * err 0, or type `error` (-1) with the result code, followed by `ErrorResponse { int err }`.
 * The reader stops at the first done header; each header is 9 bytes, so a hostile frame can
 * announce no more operations than its length allows.
 */
import { JuteDecodeError } from '../../jute/jute-error.js';
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { assertNever } from '../../util/assert.js';
import { OpCode } from '../op-code.js';
import { decodeCheckVersionRequest, encodeCheckVersionRequest } from './check.js';
import type { CheckVersionRequest } from './check.js';
import * as create from './create.js';
import { decodeErrorResponse, encodeErrorResponse } from './error-response.js';
import { decodeDeleteRequest, encodeDeleteRequest, type DeleteRequest } from './delete.js';
import * as getChildren from './get-children.js';
import * as getData from './get-data.js';
import * as setData from './set-data.js';

export interface MultiHeader {
  type: number;
  done: boolean;
  err: number;
}

export type MultiOperation =
  | {
      type: typeof OpCode.create | typeof OpCode.create2 | typeof OpCode.createContainer;
      body: create.CreateRequest;
    }
  | { type: typeof OpCode.createTTL; body: create.CreateTTLRequest }
  | { type: typeof OpCode.delete; body: DeleteRequest }
  | { type: typeof OpCode.setData; body: setData.SetDataRequest }
  | { type: typeof OpCode.check; body: CheckVersionRequest }
  | { type: typeof OpCode.getChildren; body: getChildren.GetChildrenRequest }
  | { type: typeof OpCode.getData; body: getData.GetDataRequest };

/** The body of both multi and multiRead (which ops are allowed is the server's call). */
export interface MultiRequest {
  operations: MultiOperation[];
}

export type MultiResult =
  | { type: typeof OpCode.create; body: create.CreateResponse }
  | {
      type: typeof OpCode.create2 | typeof OpCode.createTTL | typeof OpCode.createContainer;
      body: create.Create2Response;
    }
  | { type: typeof OpCode.delete | typeof OpCode.check; body: null }
  | { type: typeof OpCode.setData; body: setData.SetDataResponse }
  | { type: typeof OpCode.getChildren; body: getChildren.GetChildrenResponse }
  | { type: typeof OpCode.getData; body: getData.GetDataResponse }
  | { type: typeof OpCode.error; err: number };

export interface MultiResponse {
  results: MultiResult[];
}

const END: MultiHeader = { type: -1, done: true, err: -1 };

export function encodeMultiHeader(writer: JuteWriter, header: MultiHeader): void {
  writer.writeInt(header.type).writeBool(header.done).writeInt(header.err);
}

export function decodeMultiHeader(reader: JuteReader): MultiHeader {
  return { type: reader.readInt(), done: reader.readBool(), err: reader.readInt() };
}

export function encodeMultiRequest(writer: JuteWriter, request: MultiRequest): void {
  for (const operation of request.operations) {
    encodeMultiHeader(writer, { type: operation.type, done: false, err: -1 });
    encodeMultiOperationBody(writer, operation);
  }
  encodeMultiHeader(writer, END);
}

export function decodeMultiRequest(reader: JuteReader): MultiRequest {
  const operations: MultiOperation[] = [];
  for (let header = decodeMultiHeader(reader); !header.done; header = decodeMultiHeader(reader)) {
    operations.push(decodeMultiOperation(header.type, reader));
  }
  return { operations };
}

function encodeMultiOperationBody(writer: JuteWriter, operation: MultiOperation): void {
  switch (operation.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      return create.encodeCreateRequest(writer, operation.body);
    case OpCode.createTTL:
      return create.encodeCreateTTLRequest(writer, operation.body);
    case OpCode.delete:
      return encodeDeleteRequest(writer, operation.body);
    case OpCode.setData:
      return setData.encodeSetDataRequest(writer, operation.body);
    case OpCode.check:
      return encodeCheckVersionRequest(writer, operation.body);
    case OpCode.getChildren:
      return getChildren.encodeGetChildrenRequest(writer, operation.body);
    case OpCode.getData:
      return getData.encodeGetDataRequest(writer, operation.body);
    default:
      return assertNever(operation, 'multi operation');
  }
}

function decodeMultiOperation(type: number, reader: JuteReader): MultiOperation {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      return { type, body: create.decodeCreateRequest(reader) };
    case OpCode.createTTL:
      return { type, body: create.decodeCreateTTLRequest(reader) };
    case OpCode.delete:
      return { type, body: decodeDeleteRequest(reader) };
    case OpCode.setData:
      return { type, body: setData.decodeSetDataRequest(reader) };
    case OpCode.check:
      return { type, body: decodeCheckVersionRequest(reader) };
    case OpCode.getChildren:
      return { type, body: getChildren.decodeGetChildrenRequest(reader) };
    case OpCode.getData:
      return { type, body: getData.decodeGetDataRequest(reader) };
    default:
      throw new JuteDecodeError(`op ${type} not allowed in multi at ${reader.position}`);
  }
}

export function encodeMultiResponse(writer: JuteWriter, response: MultiResponse): void {
  for (const result of response.results) {
    if (result.type === OpCode.error) {
      encodeMultiHeader(writer, { type: OpCode.error, done: false, err: result.err });
      encodeErrorResponse(writer, { err: result.err });
    } else {
      encodeMultiHeader(writer, { type: result.type, done: false, err: 0 });
      encodeMultiResultBody(writer, result);
    }
  }
  encodeMultiHeader(writer, END);
}

export function decodeMultiResponse(reader: JuteReader): MultiResponse {
  const results: MultiResult[] = [];
  for (let header = decodeMultiHeader(reader); !header.done; header = decodeMultiHeader(reader)) {
    results.push(decodeMultiResult(header.type, reader));
  }
  return { results };
}

function encodeMultiResultBody(
  writer: JuteWriter,
  result: Exclude<MultiResult, { type: typeof OpCode.error }>,
): void {
  switch (result.type) {
    case OpCode.create:
      return create.encodeCreateResponse(writer, result.body);
    case OpCode.create2:
    case OpCode.createTTL:
    case OpCode.createContainer:
      return create.encodeCreate2Response(writer, result.body);
    case OpCode.delete:
    case OpCode.check:
      return;
    case OpCode.setData:
      return setData.encodeSetDataResponse(writer, result.body);
    case OpCode.getChildren:
      return getChildren.encodeGetChildrenResponse(writer, result.body);
    case OpCode.getData:
      return getData.encodeGetDataResponse(writer, result.body);
    default:
      return assertNever(result, 'multi result');
  }
}

function decodeMultiResult(type: number, reader: JuteReader): MultiResult {
  switch (type) {
    case OpCode.create:
      return { type, body: create.decodeCreateResponse(reader) };
    case OpCode.create2:
    case OpCode.createTTL:
    case OpCode.createContainer:
      return { type, body: create.decodeCreate2Response(reader) };
    case OpCode.delete:
    case OpCode.check:
      return { type, body: null };
    case OpCode.setData:
      return { type, body: setData.decodeSetDataResponse(reader) };
    case OpCode.getChildren:
      return { type, body: getChildren.decodeGetChildrenResponse(reader) };
    case OpCode.getData:
      return { type, body: getData.decodeGetDataResponse(reader) };
    case OpCode.error:
      return { type, err: decodeErrorResponse(reader).err };
    default:
      throw new JuteDecodeError(`op ${type} not allowed in a multi result at ${reader.position}`);
  }
}
