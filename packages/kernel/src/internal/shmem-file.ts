/**
 * mm/shmem.c's file side: the struct files of tmpfs regular files and directories, of memfd and of
 * SysV segments (shmem_file_operations: read_iter, write_iter, llseek, mmap, fsync; the directory
 * operations), and do_open() on a tmpfs path (O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY, EISDIR).
 */
import { AddressSpaceMapping, type ShmemInode } from "@faultline/mm";
import {
  EEXIST,
  EINVAL,
  EISDIR,
  ENOENT,
  ENOTDIR,
  ENXIO,
  EOVERFLOW,
  MAX_RW_COUNT,
  O_ACCMODE,
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_PATH,
  O_RDONLY,
  O_TRUNC,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
} from "../constants";
import type { File, FileOperations } from "../driver-types";
import type { FileNode, OpenFile } from "./file";
import type { TmpfsWalk } from "./namei";
import { regPath, type TmpfsDir, type TmpfsReg, type TmpfsSb } from "./tmpfs";

/** The FileNode of a file on a shmem inode: the inode, and the tmpfs node when it has a name. */
export interface ShmemFileNode extends FileNode {
  readonly shmem: ShmemInode;
  readonly reg: TmpfsReg | null;
}

/** The FileNode of an open tmpfs directory. */
export interface TmpfsDirNode extends FileNode {
  readonly dir: TmpfsDir;
}

/** The shmem inode behind an open file, or null (a device, /proc, a directory). */
export function shmemOf(f: OpenFile): ShmemInode | null {
  return (f.node as Partial<ShmemFileNode>).shmem ?? null;
}

/** The tmpfs directory behind an open file, or null. */
export function tmpfsDirOf(f: OpenFile): TmpfsDir | null {
  return (f.node as Partial<TmpfsDirNode>).dir ?? null;
}

/** What fs.ts hands over to make a struct file (newFile), so this file needs nothing of fs.ts. */
export type MakeFile = (node: FileNode, fops: FileOperations, flags: number) => OpenFile;

const inodeOf = (f: File): ShmemInode => ((f as OpenFile).node as ShmemFileNode).shmem;

/** generic_file_llseek_size() with shmem_file_llseek()'s SEEK_DATA/SEEK_HOLE (pages present = data). */
function shmemLlseek(f: File, offset: number, whence: number): number {
  const inode = inodeOf(f);
  let pos: number;
  switch (whence) {
    case SEEK_SET:
      pos = offset;
      break;
    case SEEK_CUR:
      pos = f.fPos + offset;
      break;
    case SEEK_END:
      pos = inode.size + offset;
      break;
    case SEEK_DATA:
    case SEEK_HOLE: {
      if (offset < 0 || offset >= inode.size) return -ENXIO;
      // Walk the cached pages in order (a sparse file may be huge): data is a present page.
      const first = Math.floor(offset / 4096);
      const present = [...inode.pages.keys()].filter((k) => k >= first).sort((a, b) => a - b);
      if (whence === SEEK_DATA) {
        if (present.length === 0) return -ENXIO;
        pos = Math.max(offset, present[0]! * 4096);
        if (pos >= inode.size) return -ENXIO;
      } else {
        let hole = first;
        for (const k of present) {
          if (k !== hole) break;
          hole++;
        }
        pos = Math.min(Math.max(offset, hole * 4096), inode.size);
      }
      break;
    }
    default:
      return -EINVAL;
  }
  if (pos < 0) return -EINVAL;
  if (pos > Number.MAX_SAFE_INTEGER) return -EOVERFLOW;
  f.fPos = pos;
  return pos;
}

/** shmem_file_operations. */
export const SHMEM_FOPS: FileOperations = {
  read: (f, buf, ppos) => {
    const inode = inodeOf(f);
    const n = inode.read(ppos.value, buf.length > MAX_RW_COUNT ? buf.subarray(0, MAX_RW_COUNT) : buf);
    ppos.value += n;
    return n;
  },
  write: (f, buf, ppos) => {
    const inode = inodeOf(f);
    // generic_write_checks(): O_APPEND writes at i_size.
    if (f.fFlags & O_APPEND) ppos.value = inode.size;
    const r = inode.write(ppos.value, buf.length > MAX_RW_COUNT ? buf.subarray(0, MAX_RW_COUNT) : buf);
    if (r > 0) ppos.value += r;
    return r;
  },
  llseek: shmemLlseek,
  mmap: (f, vma) => inodeOf(f).mmap(vma),
  release: (_i, f) => {
    inodeOf(f).iput();
    return 0;
  },
};

/** BOGO_DIRENT_SIZE: what each entry adds to a tmpfs directory's i_size. */
export const BOGO_DIRENT_SIZE = 20;

/** simple_dir_operations with dcache_dir_lseek(): read is -EISDIR; SEEK_SET/SEEK_CUR only. */
export const DIR_FOPS: FileOperations = {
  read: () => -EISDIR,
  llseek: (f, offset, whence) => {
    if (whence !== SEEK_SET && whence !== SEEK_CUR) return -EINVAL;
    const pos = (whence === SEEK_CUR ? f.fPos : 0) + offset;
    if (pos < 0) return -EINVAL;
    f.fPos = pos;
    return pos;
  },
};

/** The FileNode of a tmpfs regular file: d_path follows renames and says " (deleted)" after unlink. */
export function regNode(reg: TmpfsReg): ShmemFileNode {
  return {
    get path() {
      return regPath(reg);
    },
    sDev: reg.sb.dev,
    ino: reg.inode.ino,
    major: 0,
    minor: 0,
    mapping: reg.inode.mapping,
    shmem: reg.inode,
    reg,
  };
}

/** The FileNode of a file on an unnamed shmem inode (memfd, SysV): its fixed d_path on shm_mnt. */
export function anonShmemNode(sb: TmpfsSb, inode: ShmemInode, path: string): ShmemFileNode {
  return {
    path,
    sDev: sb.dev,
    ino: inode.ino,
    major: 0,
    minor: 0,
    mapping: inode.mapping,
    shmem: inode,
    reg: null,
  };
}

const dirMappings = new WeakMap<TmpfsDir, AddressSpaceMapping>();

export function dirNode(sb: TmpfsSb, dir: TmpfsDir, path: string): TmpfsDirNode {
  let mapping = dirMappings.get(dir);
  if (!mapping) {
    mapping = new AddressSpaceMapping(path);
    dirMappings.set(dir, mapping);
  }
  return { path, sDev: sb.dev, ino: dir.ino, major: 0, minor: 0, mapping, dir };
}

/** A struct file on a shmem inode (its i_count taken; released by SHMEM_FOPS.release). */
export function openShmem(node: ShmemFileNode, flags: number, make: MakeFile): OpenFile {
  node.shmem.iget();
  return make(node, SHMEM_FOPS, flags);
}

/**
 * do_open() on a tmpfs path, after the walk: O_CREAT makes a regular file (mode & ~umask 022) unless
 * the name exists (-EEXIST with O_EXCL); a directory opens read-only only (-EISDIR); O_DIRECTORY on a
 * file is -ENOTDIR; O_TRUNC truncates a regular file (handle_truncate: even O_RDONLY, as Linux does).
 */
export function tmpfsOpen(
  w: TmpfsWalk,
  flags: number,
  mode: number,
  make: MakeFile,
  path: string,
): OpenFile | number {
  // build_open_flags(): O_CREAT|O_DIRECTORY is -EINVAL since 6.4.
  if (flags & O_CREAT && flags & O_DIRECTORY) return -EINVAL;
  // open_last_lookups(): O_CREAT on a name with a trailing slash is -EISDIR before any lookup.
  if (flags & O_CREAT && w.trailingSlash) return -EISDIR;
  let n = w.node;
  if (!n) {
    if (!(flags & O_CREAT) || !w.dir) return -ENOENT;
    if (w.trailingSlash) return -EISDIR;
    if (w.dir.removed) return -ENOENT;
    const reg = w.sb.newFile(mode & ~0o022, w.dir, w.name);
    reg.inode.nlink = 1;
    w.dir.entries.set(w.name, reg);
    n = reg;
  } else if (flags & O_CREAT && flags & O_EXCL) return -EEXIST;
  if (n.kind === "dir") {
    if (flags & O_CREAT) return -EISDIR;
    if ((flags & O_ACCMODE) !== O_RDONLY && !(flags & O_PATH)) return -EISDIR;
    return make(dirNode(w.sb, n, path.replace(/\/+$/, "") || "/"), DIR_FOPS, flags);
  }
  if (w.trailingSlash || flags & O_DIRECTORY) return -ENOTDIR;
  if (flags & O_TRUNC && !(flags & O_PATH)) {
    const r = n.inode.setSize(0);
    if (r < 0) return r;
  }
  if (flags & O_PATH) {
    n.inode.iget();
    const release = (_i: unknown, f: File) => {
      inodeOf(f).iput();
      return 0;
    };
    return make(regNode(n), { release }, flags);
  }
  return openShmem(regNode(n), flags, make);
}

/** A directory's st_size: tmpfs adds BOGO_DIRENT_SIZE per entry to the initial two. */
export function dirSize(d: TmpfsDir): number {
  return (2 + d.entries.size) * BOGO_DIRENT_SIZE;
}
