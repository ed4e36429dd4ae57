/**
 * ZooKeeper path rules (`PathUtils.validatePath`): absolute, `/`-separated, no empty, `.` or
 * `..` components, no trailing `/` (except the root, and except before the counter of a
 * sequential create), and none of the characters ZooKeeper rejects.
 */

/** Returns why `path` is invalid, or `null` when it is a valid ZooKeeper path. */
export function pathProblem(path: unknown, isSequential = false): string | null {
  if (typeof path !== 'string') return 'path must be a string';
  const checked = isSequential ? path + '1' : path;
  if (checked.length === 0) return 'path length must be > 0';
  if (checked.charCodeAt(0) !== 0x2f) return 'path must start with / character';
  if (checked.length === 1) return null;
  if (checked.charCodeAt(checked.length - 1) === 0x2f) return 'path must not end with / character';
  let previous = 0x2f;
  for (let i = 1; i < checked.length; i++) {
    const c = checked.charCodeAt(i);
    if (c === 0) return `null character not allowed at index ${i}`;
    if (c === 0x2f && previous === 0x2f) return `empty node name specified at index ${i}`;
    if (c === 0x2e && previous === 0x2e) {
      const before = checked.charCodeAt(i - 2);
      const after = i + 1 === checked.length ? 0x2f : checked.charCodeAt(i + 1);
      if (before === 0x2f && after === 0x2f) return `relative paths not allowed at index ${i}`;
    } else if (c === 0x2e) {
      const after = i + 1 === checked.length ? 0x2f : checked.charCodeAt(i + 1);
      if (previous === 0x2f && after === 0x2f) return `relative paths not allowed at index ${i}`;
    } else if (
      (c > 0x00 && c <= 0x1f) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xf8ff) ||
      (c >= 0xfff0 && c <= 0xffff)
    ) {
      return `invalid character @${i}`;
    }
    previous = c;
  }
  return null;
}

export function isValidPath(path: unknown, isSequential = false): path is string {
  return pathProblem(path, isSequential) === null;
}

/** Parent of a valid non-root path: `/a/b` -> `/a`, `/a` -> `/`. */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === 0 ? '/' : path.slice(0, slash);
}

/** Last component of a valid non-root path: `/a/b` -> `b`. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Joins a valid parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** True when `path` is `ancestor` or lies below it. */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f);
}
