/**
 * The coordination recipes as an injectable factory: each method makes a recipe bound to this
 * instance's session (`ZAB_CLIENT`), with the recipe's own options and Curator's semantics.
 * `ZabLocks` (mutexes) and `ZabElections` (leader elections) are the other two recipe
 * providers; they also own their recipes' shutdown.
 *
 *   constructor(private readonly recipes: ZabRecipes) {}
 *   const counter = this.recipes.sharedCounter('/counters/orders');
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CoordinationClient } from '../node/coordination-client.js';
import { Barrier } from '../recipes/barrier.js';
import { DistributedQueue, type DistributedQueueOptions } from '../recipes/distributed-queue.js';
import { DoubleBarrier, type DoubleBarrierOptions } from '../recipes/double-barrier.js';
import { GroupMember, type GroupMemberOptions } from '../recipes/group-member.js';
import { ReadWriteLock, type ReadWriteLockOptions } from '../recipes/read-write-lock.js';
import { Semaphore, type SemaphoreOptions } from '../recipes/semaphore.js';
import { SharedCounter, type SharedCounterOptions } from '../recipes/shared-counter.js';
import { TreeCache, type TreeCacheOptions } from '../recipes/tree-cache.js';
import { ZAB_CLIENT } from './zab.constants.js';

@Injectable()
export class ZabRecipes {
  constructor(@Inject(ZAB_CLIENT) private readonly client: CoordinationClient) {}

  readWriteLock(path: string, options?: ReadWriteLockOptions): ReadWriteLock {
    return new ReadWriteLock(this.client, path, options);
  }

  semaphore(path: string, maxLeases: number, options?: SemaphoreOptions): Semaphore {
    return new Semaphore(this.client, path, maxLeases, options);
  }

  barrier(path: string): Barrier {
    return new Barrier(this.client, path);
  }

  doubleBarrier(path: string, memberQty: number, options?: DoubleBarrierOptions): DoubleBarrier {
    return new DoubleBarrier(this.client, path, memberQty, options);
  }

  sharedCounter(path: string, options?: SharedCounterOptions): SharedCounter {
    return new SharedCounter(this.client, path, options);
  }

  queue(path: string, options?: DistributedQueueOptions): DistributedQueue {
    return new DistributedQueue(this.client, path, options);
  }

  groupMember(groupPath: string, memberId: string, options?: GroupMemberOptions): GroupMember {
    return new GroupMember(this.client, groupPath, memberId, options);
  }

  treeCache(path: string, options?: TreeCacheOptions): TreeCache {
    return new TreeCache(this.client, path, options);
  }
}
