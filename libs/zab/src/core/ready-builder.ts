/**
 * Accumulates the effects of the inputs given since the last `advance()` into one `Ready`.
 */
import { assert } from '../util/assert.js';
import type { PeerId, Zxid } from './ids.js';
import type { PeerMessage, SessionTouch } from './peer-message.js';
import type {
  EpochWrite,
  ForwardedRequest,
  LoggedTxn,
  OutboundMessage,
  Ready,
  RoleChange,
  SnapshotInstall,
  SyncResult,
} from './ready.js';

export class ReadyBuilder {
  epochWrite: EpochWrite | undefined;
  truncateAfterZxid: Zxid | undefined;
  installSnapshot: SnapshotInstall | undefined;
  append: LoggedTxn[] = [];
  messages: OutboundMessage[] = [];
  commitThroughZxid: Zxid | undefined;
  roleChanges: RoleChange[] = [];
  requests: ForwardedRequest[] = [];
  sessionTouches: SessionTouch[] = [];
  resetSessions = false;
  syncResults: SyncResult[] = [];

  send(to: PeerId, message: PeerMessage): void {
    this.messages.push({ to, message });
  }

  /**
   * The driver truncates before it appends, so a truncation requested after appends of the same
   * Ready drops the queued appends it covers (the same final log as appending then truncating).
   */
  truncate(zxid: Zxid): void {
    assert(this.installSnapshot === undefined, 'truncation and snapshot in the same Ready');
    this.append = this.append.filter((logged) => logged.zxid <= zxid);
    this.truncateAfterZxid = this.truncateAfterZxid === undefined ? zxid
      : (zxid < this.truncateAfterZxid ? zxid : this.truncateAfterZxid);
  }

  /** A snapshot replaces the whole log, so appends queued before it are moot. */
  snapshot(install: SnapshotInstall): void {
    this.append = [];
    assert(this.truncateAfterZxid === undefined, 'snapshot and truncation in the same Ready');
    this.installSnapshot = install;
  }

  commitThrough(zxid: Zxid): void {
    if (this.commitThroughZxid === undefined || zxid > this.commitThroughZxid) {
      this.commitThroughZxid = zxid;
    }
  }

  isEmpty(): boolean {
    return this.epochWrite === undefined && this.truncateAfterZxid === undefined &&
      this.installSnapshot === undefined && this.append.length === 0 &&
      this.messages.length === 0 && this.commitThroughZxid === undefined &&
      this.roleChanges.length === 0 && this.requests.length === 0 &&
      this.sessionTouches.length === 0 && !this.resetSessions && this.syncResults.length === 0;
  }

  build(): Ready {
    return {
      epochWrite: this.epochWrite,
      truncateAfterZxid: this.truncateAfterZxid,
      installSnapshot: this.installSnapshot,
      append: this.append,
      messages: this.messages,
      commitThroughZxid: this.commitThroughZxid,
      roleChanges: this.roleChanges,
      requests: this.requests,
      sessionTouches: this.sessionTouches,
      resetSessions: this.resetSessions,
      syncResults: this.syncResults,
    };
  }
}
