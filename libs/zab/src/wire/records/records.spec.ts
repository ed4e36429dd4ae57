/**
 * Goal: every jute record of the client protocol encodes to exactly ZooKeeper's bytes and
 * decodes back from them.
 * Method: for each record, one hand-picked value (negative numbers, nulls, multi-byte UTF-8,
 * empty vectors where they matter); the expected bytes come from GoldenBytes, an independent
 * encoder that restates zookeeper.jute's field order by hand. The production encoder must
 * produce those bytes, and the production decoder must read them back to the value and
 * consume every byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JuteReader } from '../../jute/jute-reader.js';
import { JuteWriter } from '../../jute/jute-writer.js';
import type { Acl, Stat } from '../../state/stat.js';
import { OpCode } from '../op-code.js';
import * as aclOps from './acl-ops.js';
import * as acl from './acl.js';
import * as addWatch from './add-watch.js';
import * as auth from './auth.js';
import * as check from './check.js';
import * as connect from './connect.js';
import * as create from './create.js';
import * as deletion from './delete.js';
import * as errorResponse from './error-response.js';
import * as exists from './exists.js';
import * as allChildren from './get-all-children-number.js';
import * as getChildren from './get-children.js';
import * as getData from './get-data.js';
import * as ephemerals from './get-ephemerals.js';
import { GoldenBytes } from './golden-encoder.test-support.js';
import * as multi from './multi.js';
import * as removeWatches from './remove-watches.js';
import * as replyHeader from './reply-header.js';
import * as requestHeader from './request-header.js';
import * as setData from './set-data.js';
import * as setWatches from './set-watches.js';
import * as stat from './stat.js';
import * as sync from './sync.js';
import * as watcherEvent from './watcher-event.js';

const STAT: Stat = {
  czxid: 0x100000001n,
  mzxid: -2n,
  ctime: 1_700_000_000_123n,
  mtime: 1_700_000_000_456n,
  version: 7,
  cversion: -1,
  aversion: 2,
  ephemeralOwner: 0x7fffffffffffffffn,
  dataLength: 5,
  numChildren: 3,
  pzxid: -0x8000000000000000n,
};
const ACLS: Acl[] = [
  { perms: 31, scheme: 'world', id: 'anyone' },
  { perms: 1, scheme: 'digest', id: 'bob:hash=' },
];
const DATA = Buffer.from([0, 1, 0xfe, 0xff, 0x80]);

function golden<T>(
  name: string,
  value: T,
  expected: GoldenBytes,
  encode: (writer: JuteWriter, value: T) => void,
  decode: (reader: JuteReader) => T,
): void {
  test(`${name}: encodes to the golden bytes and decodes back`, () => {
    const writer = new JuteWriter(8);
    encode(writer, value);
    assert.deepEqual(writer.toBuffer(), expected.toBuffer());
    const reader = new JuteReader(expected.toBuffer());
    assert.deepEqual(decode(reader), value);
    reader.expectEnd(name);
  });
}

golden('Stat', STAT, new GoldenBytes().stat(STAT), stat.encodeStat, stat.decodeStat);
test('Stat is 68 bytes', () => assert.equal(new GoldenBytes().stat(STAT).length, stat.STAT_BYTES));
golden('ACL', ACLS[0]!, new GoldenBytes().int(31).ustring('world').ustring('anyone'),
  acl.encodeAcl, acl.decodeAcl);
golden('vector<ACL>', ACLS, new GoldenBytes().acls(ACLS), acl.encodeAclList, acl.decodeAclList);

const connectRequest: connect.ConnectRequest = {
  protocolVersion: 0, lastZxidSeen: 0x500000003n, timeOut: 30_000, sessionId: -0x1234n,
  passwd: Buffer.alloc(16, 0xab), readOnly: true,
};
golden('ConnectRequest', connectRequest,
  new GoldenBytes().int(0).long(0x500000003n).int(30_000).long(-0x1234n)
    .buffer(Buffer.alloc(16, 0xab)).bool(true),
  connect.encodeConnectRequest, connect.decodeConnectRequest);

test('ConnectRequest from an old client (no readOnly byte) decodes with readOnly false', () => {
  const bytes = new GoldenBytes().int(0).long(0n).int(4000).long(0n).buffer(null).toBuffer();
  const reader = new JuteReader(bytes);
  assert.deepEqual(connect.decodeConnectRequest(reader), {
    protocolVersion: 0, lastZxidSeen: 0n, timeOut: 4000, sessionId: 0n, passwd: null,
    readOnly: false,
  });
  reader.expectEnd('ConnectRequest');
});

const connectResponse: connect.ConnectResponse = {
  protocolVersion: 0, timeOut: 4000, sessionId: 0x1000000abcn, passwd: Buffer.alloc(16, 1),
  readOnly: false,
};
golden('ConnectResponse', connectResponse,
  new GoldenBytes().int(0).int(4000).long(0x1000000abcn).buffer(Buffer.alloc(16, 1)).bool(false),
  connect.encodeConnectResponse, connect.decodeConnectResponse);

test('ConnectResponse from an old server (no readOnly byte) decodes with readOnly false', () => {
  const bytes = new GoldenBytes().int(0).int(4000).long(9n).buffer(Buffer.alloc(0)).toBuffer();
  assert.equal(connect.decodeConnectResponse(new JuteReader(bytes)).readOnly, false);
});

golden('RequestHeader', { xid: -2, type: 11 }, new GoldenBytes().int(-2).int(11),
  requestHeader.encodeRequestHeader, requestHeader.decodeRequestHeader);
golden('ReplyHeader', { xid: 12, zxid: 0x300000007n, err: -101 },
  new GoldenBytes().int(12).long(0x300000007n).int(-101),
  replyHeader.encodeReplyHeader, replyHeader.decodeReplyHeader);

const createRequest: create.CreateRequest = { path: '/a/ü-€', data: DATA, acl: ACLS, flags: 3 };
golden('CreateRequest', createRequest,
  new GoldenBytes().ustring('/a/ü-€').buffer(DATA).acls(ACLS).int(3),
  create.encodeCreateRequest, create.decodeCreateRequest);
golden('CreateRequest with null data and no ACL',
  { path: '/n', data: null, acl: [], flags: 0 },
  new GoldenBytes().ustring('/n').buffer(null).int(0).int(0),
  create.encodeCreateRequest, create.decodeCreateRequest);
golden('CreateTTLRequest', { ...createRequest, flags: 5, ttl: 0xffffffffffn },
  new GoldenBytes().ustring('/a/ü-€').buffer(DATA).acls(ACLS).int(5).long(0xffffffffffn),
  create.encodeCreateTTLRequest, create.decodeCreateTTLRequest);
golden('CreateResponse', { path: '/q/x0000000007' },
  new GoldenBytes().ustring('/q/x0000000007'),
  create.encodeCreateResponse, create.decodeCreateResponse);
golden('Create2Response', { path: '/q', stat: STAT }, new GoldenBytes().ustring('/q').stat(STAT),
  create.encodeCreate2Response, create.decodeCreate2Response);

golden('DeleteRequest', { path: '/d', version: -1 }, new GoldenBytes().ustring('/d').int(-1),
  deletion.encodeDeleteRequest, deletion.decodeDeleteRequest);
golden('CheckVersionRequest', { path: '/c', version: 4 }, new GoldenBytes().ustring('/c').int(4),
  check.encodeCheckVersionRequest, check.decodeCheckVersionRequest);
golden('ExistsRequest', { path: '/e', watch: true }, new GoldenBytes().ustring('/e').bool(true),
  exists.encodeExistsRequest, exists.decodeExistsRequest);
golden('ExistsResponse', { stat: STAT }, new GoldenBytes().stat(STAT),
  exists.encodeExistsResponse, exists.decodeExistsResponse);
golden('GetDataRequest', { path: '/g', watch: false }, new GoldenBytes().ustring('/g').bool(false),
  getData.encodeGetDataRequest, getData.decodeGetDataRequest);
golden('GetDataResponse', { data: DATA, stat: STAT }, new GoldenBytes().buffer(DATA).stat(STAT),
  getData.encodeGetDataResponse, getData.decodeGetDataResponse);
golden('SetDataRequest', { path: '/s', data: DATA, version: 9 },
  new GoldenBytes().ustring('/s').buffer(DATA).int(9),
  setData.encodeSetDataRequest, setData.decodeSetDataRequest);
golden('SetDataResponse', { stat: STAT }, new GoldenBytes().stat(STAT),
  setData.encodeSetDataResponse, setData.decodeSetDataResponse);
golden('GetChildrenRequest', { path: '/', watch: true }, new GoldenBytes().ustring('/').bool(true),
  getChildren.encodeGetChildrenRequest, getChildren.decodeGetChildrenRequest);
golden('GetChildrenResponse', { children: ['a', 'bé', ''] },
  new GoldenBytes().strings(['a', 'bé', '']),
  getChildren.encodeGetChildrenResponse, getChildren.decodeGetChildrenResponse);
golden('GetChildren2Response', { children: ['z'], stat: STAT },
  new GoldenBytes().strings(['z']).stat(STAT),
  getChildren.encodeGetChildren2Response, getChildren.decodeGetChildren2Response);
golden('GetAllChildrenNumberRequest', { path: '/t' }, new GoldenBytes().ustring('/t'),
  allChildren.encodeGetAllChildrenNumberRequest, allChildren.decodeGetAllChildrenNumberRequest);
golden('GetAllChildrenNumberResponse', { totalNumber: 123456 }, new GoldenBytes().int(123456),
  allChildren.encodeGetAllChildrenNumberResponse, allChildren.decodeGetAllChildrenNumberResponse);
golden('GetEphemeralsRequest', { prefixPath: '/p' }, new GoldenBytes().ustring('/p'),
  ephemerals.encodeGetEphemeralsRequest, ephemerals.decodeGetEphemeralsRequest);
golden('GetEphemeralsResponse', { ephemerals: ['/p/1', '/p/2'] },
  new GoldenBytes().strings(['/p/1', '/p/2']),
  ephemerals.encodeGetEphemeralsResponse, ephemerals.decodeGetEphemeralsResponse);
golden('SyncRequest', { path: '/y' }, new GoldenBytes().ustring('/y'),
  sync.encodeSyncRequest, sync.decodeSyncRequest);
golden('SyncResponse', { path: '/y' }, new GoldenBytes().ustring('/y'),
  sync.encodeSyncResponse, sync.decodeSyncResponse);

const watches: setWatches.SetWatches = {
  relativeZxid: 0x200000010n, dataWatches: ['/d1', '/d2'], existWatches: [], childWatches: ['/c'],
};
golden('SetWatches', watches,
  new GoldenBytes().long(0x200000010n).strings(['/d1', '/d2']).strings([]).strings(['/c']),
  setWatches.encodeSetWatches, setWatches.decodeSetWatches);
golden('SetWatches2', { ...watches, persistentWatches: ['/p'], persistentRecursiveWatches: [] },
  new GoldenBytes().long(0x200000010n).strings(['/d1', '/d2']).strings([]).strings(['/c'])
    .strings(['/p']).strings([]),
  setWatches.encodeSetWatches2, setWatches.decodeSetWatches2);
golden('AddWatchRequest', { path: '/w', mode: addWatch.AddWatchMode.persistentRecursive },
  new GoldenBytes().ustring('/w').int(1),
  addWatch.encodeAddWatchRequest, addWatch.decodeAddWatchRequest);
golden('RemoveWatchesRequest', { path: '/r', type: removeWatches.WatcherType.any },
  new GoldenBytes().ustring('/r').int(3),
  removeWatches.encodeRemoveWatchesRequest, removeWatches.decodeRemoveWatchesRequest);
golden('GetACLRequest', { path: '/acl' }, new GoldenBytes().ustring('/acl'),
  aclOps.encodeGetACLRequest, aclOps.decodeGetACLRequest);
golden('GetACLResponse', { acl: ACLS, stat: STAT }, new GoldenBytes().acls(ACLS).stat(STAT),
  aclOps.encodeGetACLResponse, aclOps.decodeGetACLResponse);
golden('SetACLRequest', { path: '/acl', acl: ACLS, version: -1 },
  new GoldenBytes().ustring('/acl').acls(ACLS).int(-1),
  aclOps.encodeSetACLRequest, aclOps.decodeSetACLRequest);
golden('SetACLResponse', { stat: STAT }, new GoldenBytes().stat(STAT),
  aclOps.encodeSetACLResponse, aclOps.decodeSetACLResponse);
golden('AuthPacket', { type: 0, scheme: 'digest', auth: Buffer.from('bob:secret') },
  new GoldenBytes().int(0).ustring('digest').buffer(Buffer.from('bob:secret')),
  auth.encodeAuthPacket, auth.decodeAuthPacket);
golden('WatcherEvent', { type: 3, state: 3, path: '/watched' },
  new GoldenBytes().int(3).int(3).ustring('/watched'),
  watcherEvent.encodeWatcherEvent, watcherEvent.decodeWatcherEvent);
golden('WatcherEvent for a session state change (null path)',
  { type: 0, state: watcherEvent.KeeperState.expired, path: null },
  new GoldenBytes().int(0).int(-112).ustring(null),
  watcherEvent.encodeWatcherEvent, watcherEvent.decodeWatcherEvent);
golden('MultiHeader', { type: -1, done: true, err: -1 },
  new GoldenBytes().int(-1).bool(true).int(-1),
  multi.encodeMultiHeader, multi.decodeMultiHeader);

const multiRequest: multi.MultiRequest = {
  operations: [
    { type: OpCode.create, body: { path: '/m', data: null, acl: ACLS, flags: 0 } },
    { type: OpCode.check, body: { path: '/m', version: 2 } },
    { type: OpCode.setData, body: { path: '/m', data: DATA, version: -1 } },
    { type: OpCode.delete, body: { path: '/m', version: 3 } },
  ],
};
golden('MultiRequest (multi)', multiRequest,
  new GoldenBytes()
    .int(1).bool(false).int(-1).ustring('/m').buffer(null).acls(ACLS).int(0)
    .int(13).bool(false).int(-1).ustring('/m').int(2)
    .int(5).bool(false).int(-1).ustring('/m').buffer(DATA).int(-1)
    .int(2).bool(false).int(-1).ustring('/m').int(3)
    .int(-1).bool(true).int(-1),
  multi.encodeMultiRequest, multi.decodeMultiRequest);
golden('MultiRequest (multiRead)', {
  operations: [
    { type: OpCode.getData, body: { path: '/r', watch: false } },
    { type: OpCode.getChildren, body: { path: '/r', watch: true } },
  ],
} satisfies multi.MultiRequest,
  new GoldenBytes()
    .int(4).bool(false).int(-1).ustring('/r').bool(false)
    .int(8).bool(false).int(-1).ustring('/r').bool(true)
    .int(-1).bool(true).int(-1),
  multi.encodeMultiRequest, multi.decodeMultiRequest);
golden('MultiResponse', {
  results: [
    { type: OpCode.create, body: { path: '/m' } },
    { type: OpCode.create2, body: { path: '/m2', stat: STAT } },
    { type: OpCode.check, body: null },
    { type: OpCode.error, err: -103 },
    { type: OpCode.getData, body: { data: DATA, stat: STAT } },
  ],
} satisfies multi.MultiResponse,
  new GoldenBytes()
    .int(1).bool(false).int(0).ustring('/m')
    .int(15).bool(false).int(0).ustring('/m2').stat(STAT)
    .int(13).bool(false).int(0)
    .int(-1).bool(false).int(-103).int(-103)
    .int(4).bool(false).int(0).buffer(DATA).stat(STAT)
    .int(-1).bool(true).int(-1),
  multi.encodeMultiResponse, multi.decodeMultiResponse);
golden('MultiResponse of an empty transaction', { results: [] },
  new GoldenBytes().int(-1).bool(true).int(-1),
  multi.encodeMultiResponse, multi.decodeMultiResponse);
golden('ErrorResponse (multi error result, addWatch reply)', { err: -101 },
  new GoldenBytes().int(-101),
  errorResponse.encodeErrorResponse, errorResponse.decodeErrorResponse);
