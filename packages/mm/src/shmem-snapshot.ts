// Shmem's part of a machine snapshot: a shmem inode (its page cache as pgoff → pfn, i_size, seals,
// link and reference counts) and the files mm itself makes on one (ShmemFile: shared anonymous memory,
// /dev/zero's MAP_SHARED). The pages' bytes and struct pages are physical memory's to save; the
// superblock an inode charges is the caller's (kernel's tmpfs mounts) to name.
import type { PhysMemory } from "@faultline/phys";
import { ShmemFile, ShmemInode, type ShmemSb } from "./shmem";

/** A shmem inode as a snapshot holds it: size, page cache (pgoff → pfn), seals and counts. */
export interface ShmemInodeState {
  readonly ino: number;
  readonly name: string;
  readonly size: number;
  /** pgoff, pfn pairs in page-cache order. */
  readonly pages: readonly number[];
  readonly notUptodate: readonly number[];
  readonly seals: number;
  readonly nlink: number;
  readonly count: number;
  readonly evicted: boolean;
  readonly version: number;
}

/** A ShmemFile (shared anonymous memory, /dev/zero MAP_SHARED) as a snapshot holds it. */
export interface ShmemFileState {
  /** The inode, as the caller names it. */
  readonly inode: number;
  readonly path: string;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly refs: number;
}

type Counted = { count: number; refs: number };

/** The snapshot state of inode `i` (its pages' bytes and struct pages are physical memory's to save). */
export function saveShmemInode(i: ShmemInode): ShmemInodeState {
  const pages: number[] = [];
  for (const [pgoff, pfn] of i.pages) pages.push(pgoff, pfn);
  return {
    ino: i.ino,
    name: i.mapping.name,
    size: i.size,
    pages,
    notUptodate: [...i.notUptodate],
    seals: i.seals,
    nlink: i.nlink,
    count: i.refs,
    evicted: i.evicted,
    version: i.version,
  };
}

const int = (v: unknown, what: string, min = 0, max = 2 ** 53): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new Error(`${what}: bad number`);
  return v;
};

/** The inode of `s` on `mem`, charging `sb`. Throws naming a bad field (a page past RAM included). */
export function restoreShmemInode(mem: PhysMemory, sb: ShmemSb, s: ShmemInodeState): ShmemInode {
  if (typeof s !== "object" || s === null) throw new Error("shmem inode: not a map");
  const what = `shmem inode ${String(s.ino)}`;
  if (typeof s.name !== "string") throw new Error(`${what}: name must be a string`);
  const i = new ShmemInode(mem, sb, s.name, int(s.ino, `${what} ino`, 0, 2 ** 32));
  i.size = int(s.size, `${what} size`, 0, 2 ** 63);
  if (!Array.isArray(s.pages) || s.pages.length % 2)
    throw new Error(`${what}: pages must be pgoff, pfn pairs`);
  for (let j = 0; j < s.pages.length; j += 2) {
    const pfn = int(s.pages[j + 1], `${what} page pfn`);
    if (!mem.pfnValid(pfn) || mem.ramLocate(pfn) < 0)
      throw new Error(`${what}: page pfn 0x${pfn.toString(16)} is not RAM`);
    i.pages.set(int(s.pages[j], `${what} pgoff`), pfn);
  }
  if (!Array.isArray(s.notUptodate)) throw new Error(`${what}: notUptodate must be a list`);
  for (const p of s.notUptodate) i.notUptodate.add(int(p, `${what} notUptodate`));
  i.seals = int(s.seals, `${what} seals`, 0, 0xffff);
  i.nlink = int(s.nlink, `${what} nlink`, 0, 2 ** 31);
  (i as unknown as Counted).count = int(s.count, `${what} count`, 0, 2 ** 31);
  i.evicted = s.evicted === true;
  i.version = int(s.version, `${what} version`);
  return i;
}

/** The snapshot state of file `f` on the inode the caller numbers `inodeId`. */
export function saveShmemFile(f: ShmemFile, inodeId: number): ShmemFileState {
  return {
    inode: inodeId,
    path: f.path,
    readable: f.readable,
    writable: f.writable,
    refs: (f as unknown as Counted).refs,
  };
}

/** The ShmemFile of `s` on `inode` (its reference on the inode is already in the inode's saved count). */
export function restoreShmemFile(inode: ShmemInode, s: ShmemFileState): ShmemFile {
  if (typeof s.path !== "string") throw new Error("shmem file: path must be a string");
  const before = inode.refs;
  const f = new ShmemFile(inode, 0, s.path, {
    readable: s.readable !== false,
    writable: s.writable !== false,
  });
  (inode as unknown as Counted).count = before;
  (f as unknown as Counted).refs = int(s.refs, "shmem file refs", 0, 2 ** 31);
  return f;
}
