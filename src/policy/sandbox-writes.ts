// What the active sandbox lets the sandboxed side write, as the escalation
// checks need it: anything it can write or replace, it can make an escalated
// program run or read.
export interface SandboxWrites {
  /**
   * Real paths the sandboxed side can write beneath, or "everything" when the
   * call has no sandbox (escalating then changes nothing).
   */
  roots: readonly string[] | "everything";
  /**
   * Real paths beneath those roots that the sandbox really keeps read-only
   * (bound read-only in its mount namespace). Only what is enforced belongs
   * here: Landlock alone cannot carve such holes, so with it this is empty.
   */
  readOnlyEnforced: readonly string[];
}

function isBeneath(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/**
 * Why the sandboxed side could change what `path` (whose directories are
 * real paths) names, or null when it cannot. Beneath a writable root it can
 * write the file and replace it in its directory (that directory is beneath
 * the root too); beneath a read-only binding it can do neither, the binding
 * being a mount point it cannot move.
 */
export function writableBecause(writes: SandboxWrites, path: string): string | null {
  if (writes.roots === "everything") return `${path} is writable: the call has no sandbox`;
  if (writes.readOnlyEnforced.some((readOnly) => isBeneath(path, readOnly))) return null;
  const root = writes.roots.find((candidate) => isBeneath(path, candidate));
  return root === undefined ? null : `${path} is inside ${root}, which the sandbox can write`;
}
