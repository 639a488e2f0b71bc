// Reading the paths of submodules (gitlinks) from a git index file. A
// submodule's `.git` lives in the work tree: where the sandbox can write
// there, it can point a submodule at a git directory it crafted, and `git
// status` outside would obey that directory's configuration.
//
// Format (gitformat-index): "DIRC", version (2, 3 or 4), entry count; each
// entry has 40 bytes of stat data with the mode at offset 24, the object id,
// 16-bit flags (and 16 more in version 3 when the extended bit is set), then
// the path: NUL-terminated and padded to 8 bytes (2, 3), or prefix-compressed
// against the previous path (4).

const SIGNATURE = 0x44495243; // "DIRC"
const GITLINK_MODE = 0o160000;
const MODE_TYPE_MASK = 0o170000;
const STAT_BYTES = 40;
const EXTENDED_FLAG = 0x4000;

export class GitIndexError extends Error {
  override name = "GitIndexError";
}

/** Paths of the gitlink entries in `index`; `hashBytes` is 20 (SHA-1) or 32 (SHA-256). Throws GitIndexError. */
export function gitlinkPaths(index: Uint8Array, hashBytes: number): string[] {
  const view = new DataView(index.buffer, index.byteOffset, index.byteLength);
  if (index.byteLength < 12 || view.getUint32(0) !== SIGNATURE) throw new GitIndexError("not a git index");
  const version = view.getUint32(4);
  if (version < 2 || version > 4) throw new GitIndexError(`index version ${version}`);
  const count = view.getUint32(8);
  const decoder = new TextDecoder();
  const paths: string[] = [];
  let offset = 12;
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < count; i++) {
    const fixed = STAT_BYTES + hashBytes + 2;
    if (offset + fixed > index.byteLength) throw new GitIndexError("truncated entry");
    const mode = view.getUint32(offset + 24);
    const flags = view.getUint16(offset + STAT_BYTES + hashBytes);
    let cursor = offset + fixed + (version >= 3 && (flags & EXTENDED_FLAG) !== 0 ? 2 : 0);
    let path: Uint8Array;
    if (version === 4) {
      let strip = 0;
      let shift = 0;
      // The offset's varint (git's own encoding: each continuation adds one).
      for (;;) {
        if (cursor >= index.byteLength) throw new GitIndexError("truncated path");
        const byte = index[cursor++]!;
        strip = strip * 128 + (byte & 0x7f) + (shift > 0 ? 128 : 0);
        shift++;
        if ((byte & 0x80) === 0) break;
        if (shift > 5) throw new GitIndexError("bad path prefix");
      }
      const end = index.indexOf(0, cursor);
      if (end < 0 || strip > previous.byteLength) throw new GitIndexError("bad path");
      const kept = previous.subarray(0, previous.byteLength - strip);
      path = new Uint8Array(kept.byteLength + end - cursor);
      path.set(kept);
      path.set(index.subarray(cursor, end), kept.byteLength);
      offset = end + 1;
    } else {
      const end = index.indexOf(0, cursor);
      if (end < 0) throw new GitIndexError("truncated path");
      path = index.subarray(cursor, end);
      // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
      offset += Math.floor((end - offset) / 8 + 1) * 8;
    }
    previous = path;
    if ((mode & MODE_TYPE_MASK) === GITLINK_MODE) paths.push(decoder.decode(path));
  }
  return paths;
}
