/**
 * Node creation modes. `CreateModeName` is the API spelling; `CreateModeFlag` is ZooKeeper's
 * numeric `CreateMode` flag, used on the wire.
 */
export type CreateModeName =
  | 'persistent'
  | 'ephemeral'
  | 'persistent_sequential'
  | 'ephemeral_sequential'
  | 'container'
  | 'ttl'
  | 'persistent_sequential_ttl';

export const CreateModeFlag: Record<CreateModeName, number> = {
  persistent: 0,
  ephemeral: 1,
  persistent_sequential: 2,
  ephemeral_sequential: 3,
  container: 4,
  ttl: 5,
  persistent_sequential_ttl: 6,
};

export function isCreateModeName(value: unknown): value is CreateModeName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CreateModeFlag, value);
}

/** The kind a node keeps for its life (sequential is only a naming rule at create time). */
export type NodeKind = 'persistent' | 'ephemeral' | 'container' | 'ttl';

export function kindOfMode(mode: CreateModeName): NodeKind {
  switch (mode) {
    case 'persistent':
    case 'persistent_sequential':
      return 'persistent';
    case 'ephemeral':
    case 'ephemeral_sequential':
      return 'ephemeral';
    case 'container':
      return 'container';
    case 'ttl':
    case 'persistent_sequential_ttl':
      return 'ttl';
  }
}

export function isSequentialMode(mode: CreateModeName): boolean {
  return (
    mode === 'persistent_sequential' ||
    mode === 'ephemeral_sequential' ||
    mode === 'persistent_sequential_ttl'
  );
}

export function createModeFromFlag(flag: number): CreateModeName | undefined {
  for (const [name, value] of Object.entries(CreateModeFlag)) {
    if (value === flag) return name as CreateModeName;
  }
  return undefined;
}

/** Largest TTL ZooKeeper accepts (40 bits of milliseconds). */
export const TTL_MS_MAX = 0xffffffffff;
