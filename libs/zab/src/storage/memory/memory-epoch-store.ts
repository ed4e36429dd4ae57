/** The Zab epochs in memory; a `set` resolves on a later microtask, like a durable write. */
import type { Epoch } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import type { EpochRecord, EpochStore } from '../storage.js';

export class MemoryEpochStore implements EpochStore {
  private data = true;

  constructor(
    private accepted: Epoch = 0,
    private current: Epoch = 0,
  ) {}

  get hasData(): boolean {
    return this.data;
  }

  async setEpochs(record: EpochRecord): Promise<void> {
    checkEpoch(record.acceptedEpoch);
    checkEpoch(record.currentEpoch);
    const copy = { ...record };
    await Promise.resolve();
    this.accepted = copy.acceptedEpoch;
    this.current = copy.currentEpoch;
    this.data = copy.hasData;
  }

  get acceptedEpoch(): Epoch {
    return this.accepted;
  }

  get currentEpoch(): Epoch {
    return this.current;
  }

  async setAcceptedEpoch(epoch: Epoch): Promise<void> {
    checkEpoch(epoch);
    await Promise.resolve();
    this.accepted = epoch;
  }

  async setCurrentEpoch(epoch: Epoch): Promise<void> {
    checkEpoch(epoch);
    await Promise.resolve();
    this.current = epoch;
  }

  async close(): Promise<void> {}
}

function checkEpoch(epoch: Epoch): void {
  assert(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, `bad epoch ${epoch}`);
}
