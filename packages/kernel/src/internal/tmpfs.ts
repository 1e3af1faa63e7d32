/**
 * mm/shmem.c's filesystem side (tmpfs): superblocks mounted at /dev/shm and /tmp, their directory
 * trees, and the shmem inodes of their regular files. This file is state only (it imports nothing of
 * the kernel's), so Kernel can own the mounts; the syscalls on them live in namei.ts and shmem-file.ts.
 */
import { F_SEAL_SEAL, ShmemInode, ShmemSb } from "@faultline/mm";
import type { PhysMemory } from "@faultline/phys";

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
/** d_type values of getdents64 (include/linux/fs_types.h). */
export const DT_DIR = 4;
export const DT_REG = 8;
/** NAME_MAX and PATH_MAX (include/uapi/linux/limits.h). */
export const NAME_MAX = 255;
export const PATH_MAX = 4096;

/** A tmpfs directory: its entries in creation order (simple_offset: readdir order is insertion order). */
export class TmpfsDir {
  readonly kind = "dir";
  readonly entries = new Map<string, TmpfsNode>();
  /** i_nlink of a directory: 2 plus one per subdirectory. */
  nlink = 2;
  removed = false;
  constructor(
    readonly sb: TmpfsSb,
    readonly ino: number,
    public parent: TmpfsDir | null,
    public mode: number,
  ) {}
}

/** A regular file of a tmpfs: its shmem inode and where it was last linked (for d_path). */
export class TmpfsReg {
  readonly kind = "reg";
  constructor(
    readonly sb: TmpfsSb,
    readonly inode: ShmemInode,
    public mode: number,
    /** Parent directory and name of the link, for /proc/PID/maps (null once unlinked). */
    public parent: TmpfsDir | null,
    public name: string,
  ) {}
  get ino(): number {
    return this.inode.ino;
  }
}

export type TmpfsNode = TmpfsDir | TmpfsReg;

/** One tmpfs superblock mounted at `mountPoint`. */
export class TmpfsSb {
  readonly root: TmpfsDir;
  /** Block accounting (size= of the mount, in pages). */
  readonly blocks: ShmemSb;
  /** Inodes with a page cache that are still alive (linked, or open): for /proc/meminfo and the audit. */
  readonly inodes = new Set<ShmemInode>();

  constructor(
    readonly mem: PhysMemory,
    readonly mountPoint: string,
    /** s_dev (an anonymous device number), shown in /proc/PID/maps and stat's st_dev. */
    readonly dev: readonly [number, number],
    sizeBytes: number,
    readonly options: string,
  ) {
    this.blocks = new ShmemSb(Math.floor(sizeBytes / 4096));
    // The root's inode number is the first get_next_ino() of the mount, as for any shmem inode.
    this.root = new TmpfsDir(this, new ShmemInode(mem, this.blocks, "dir").ino, null, S_IFDIR | 0o1777);
  }

  /** A new regular file's inode (shmem_get_inode), not yet linked. */
  newFile(mode: number, parent: TmpfsDir, name: string): TmpfsReg {
    const inode = new ShmemInode(this.mem, this.blocks, `${this.mountPoint}`);
    // shmem_get_inode(): a tmpfs file cannot be sealed (only memfd_create allows it).
    inode.seals = F_SEAL_SEAL;
    this.inodes.add(inode);
    return new TmpfsReg(this, inode, S_IFREG | (mode & 0o7777), parent, name);
  }

  /** A new directory (shmem_mkdir). */
  newDir(mode: number, parent: TmpfsDir): TmpfsDir {
    const ino = new ShmemInode(this.mem, this.blocks, "dir").ino;
    return new TmpfsDir(this, ino, parent, S_IFDIR | (mode & 0o7777));
  }

  /** The live inodes (evicted ones leave the set here). */
  liveInodes(): ShmemInode[] {
    for (const i of this.inodes) if (i.evicted) this.inodes.delete(i);
    return [...this.inodes];
  }

  /** The size= of the mount in bytes. */
  get sizeBytes(): number {
    return this.blocks.maxBlocks * 4096;
  }
}

/** The path of a directory (for d_path), from the mount point. */
export function dirPath(d: TmpfsDir): string {
  const names: string[] = [];
  let cur: TmpfsDir | null = d;
  while (cur?.parent) {
    const parent: TmpfsDir = cur.parent;
    let found = "";
    for (const [n, node] of parent.entries)
      if (node === cur) {
        found = n;
        break;
      }
    names.unshift(found);
    cur = parent;
  }
  const root = d.sb.mountPoint;
  return names.length ? `${root}/${names.join("/")}` : root;
}

/** d_path() of a regular file: its current name, or its last name with " (deleted)". */
export function regPath(r: TmpfsReg): string {
  const dir = r.parent ? dirPath(r.parent) : r.sb.mountPoint;
  const p = `${dir}/${r.name}`;
  return r.inode.nlink > 0 ? p : `${p} (deleted)`;
}
