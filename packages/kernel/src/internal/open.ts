/**
 * fs/open.c, fs/stat.c, fs/readdir.c and fs/sync.c for the files here: truncate(2), ftruncate(2),
 * fallocate(2), stat(2)/fstat(2), getdents64(2), fsync(2)/fdatasync(2).
 */
import {
  EBADF,
  EINVAL,
  EISDIR,
  ENODEV,
  ENOENT,
  ENOTDIR,
  EOPNOTSUPP,
  FMODE_WRITE,
  O_PATH,
  O_RDONLY,
} from "../constants";
import { DEVTMPFS_DEV, PROC_DEV, S_IFCHR } from "./chrdev";
import type { OpenFile } from "./file";
import { fdget, openFile } from "./fs";
import type { Kernel, Task } from "./kernel";
import { tmpfsWalk } from "./namei";
import { dirSize, shmemOf, tmpfsDirOf } from "./shmem-file";
import { DT_DIR, DT_REG, S_IFREG } from "./tmpfs";

/** FALLOC_FL_* that vfs_fallocate() lets through to the filesystem (FALLOC_FL_SUPPORTED_MASK). */
const FALLOC_FL_SUPPORTED_MASK = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40;
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

/** do_sys_ftruncate(): -EINVAL for a negative length, a file not open for writing, or not a regular file. */
export function sysFtruncate(_k: Kernel, t: Task, fd: number, length: number): number {
  if (length < 0) return -EINVAL;
  const f = fdget(t, fd);
  if (!f || f.fFlags & O_PATH) return -EBADF;
  const inode = shmemOf(f);
  if (!inode || !(f.fMode & FMODE_WRITE)) return -EINVAL;
  return inode.setSize(length);
}

/** do_sys_truncate(): a path; -EISDIR for a directory, -EINVAL for anything not a regular file. */
export function sysTruncate(k: Kernel, _t: Task, path: string, length: number): number {
  if (length < 0) return -EINVAL;
  const w = tmpfsWalk(k, path);
  if (w === null) {
    const f = openFile(k, null, path, O_PATH);
    if (typeof f === "number") return f;
    return -EINVAL;
  }
  if (typeof w === "number") return w;
  const n = w.node;
  if (!n) return -ENOENT;
  if (n.kind === "dir") return -EISDIR;
  return n.inode.setSize(length);
}

/** vfs_fallocate() then shmem_fallocate(); the argument checks in vfs_fallocate()'s order. */
export function sysFallocate(
  _k: Kernel,
  t: Task,
  fd: number,
  mode: number,
  offset: number,
  len: number,
): number {
  const f = fdget(t, fd);
  if (!f || f.fFlags & O_PATH) return -EBADF;
  if (offset < 0 || len <= 0) return -EINVAL;
  if (mode & ~FALLOC_FL_SUPPORTED_MASK) return -EOPNOTSUPP;
  if (mode & FALLOC_FL_PUNCH_HOLE && !(mode & FALLOC_FL_KEEP_SIZE)) return -EOPNOTSUPP;
  if (!(f.fMode & FMODE_WRITE)) return -EBADF;
  if (tmpfsDirOf(f)) return -EISDIR;
  const inode = shmemOf(f);
  if (!inode) return -ENODEV;
  return inode.fallocate(mode, offset, len);
}

/** struct stat, as fstat(2) fills it (times left out: the machine has no wall clock). */
export interface Stat {
  readonly stDev: number;
  readonly stIno: number;
  readonly stMode: number;
  readonly stNlink: number;
  readonly stUid: number;
  readonly stGid: number;
  readonly stRdev: number;
  readonly stSize: number;
  readonly stBlksize: number;
  /** 512-byte blocks allocated. */
  readonly stBlocks: number;
}

/** new_encode_dev(): a dev_t as stat reports it. */
export const encodeDev = (major: number, minor: number): number =>
  (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);

/** vfs_getattr() → generic_fillattr() for a file here. */
export function statOf(f: OpenFile): Stat {
  const base = { stUid: 0, stGid: 0, stBlksize: 4096 };
  const dev = encodeDev(f.devMajor, f.devMinor);
  const inode = shmemOf(f);
  if (inode) {
    const mode = (f.node as { reg?: { mode: number } | null }).reg?.mode ?? S_IFREG | 0o600;
    return {
      ...base,
      stDev: dev,
      stIno: inode.ino,
      stMode: mode,
      stNlink: inode.nlink,
      stRdev: 0,
      stSize: inode.size,
      stBlocks: inode.nrPages * 8,
    };
  }
  const dir = tmpfsDirOf(f);
  if (dir)
    return {
      ...base,
      stDev: dev,
      stIno: dir.ino,
      stMode: dir.mode,
      stNlink: dir.nlink,
      stRdev: 0,
      stSize: dirSize(dir),
      stBlocks: 0,
    };
  if (f.devMajor === PROC_DEV[0] && f.devMinor === PROC_DEV[1])
    return {
      ...base,
      stDev: dev,
      stIno: f.ino,
      stMode: S_IFREG | 0o444,
      stNlink: 1,
      stRdev: 0,
      stSize: 0,
      stBlocks: 0,
      stBlksize: 1024,
    };
  const isConsole = f.path === "/dev/console";
  return {
    ...base,
    stDev: encodeDev(DEVTMPFS_DEV[0], DEVTMPFS_DEV[1]),
    stIno: f.ino,
    stMode: S_IFCHR | (isConsole ? 0o600 : 0o666),
    stNlink: 1,
    stRdev: encodeDev(f.inode.major, f.inode.minor),
    stSize: 0,
    stBlocks: 0,
  };
}

/** fstat(2): the file's struct stat, or -EBADF. */
export function sysFstat(_k: Kernel, t: Task, fd: number): Stat | number {
  const f = fdget(t, fd);
  if (!f) return -EBADF;
  return statOf(f);
}

/** stat(2): the path's struct stat, or the walk's -errno. */
export function sysStat(k: Kernel, t: Task, path: string): Stat | number {
  const f = openFile(k, t, path, O_PATH | O_RDONLY);
  if (typeof f === "number") return f;
  f.get();
  const st = statOf(f);
  f.put();
  return st;
}

/** One struct linux_dirent64. */
export interface Dirent {
  readonly dIno: number;
  /** Position of the next entry (what lseek takes back to it). */
  readonly dOff: number;
  readonly dReclen: number;
  readonly dType: number;
  readonly dName: string;
}

/**
 * getdents64(2) on a tmpfs directory: ".", "..", then the entries in creation order, as many as fit in
 * `count` bytes (each record 19 bytes of header, the name and a NUL, 8-aligned); [] at the end; -EINVAL
 * when the first record does not fit, -ENOTDIR on anything but a directory.
 */
export function sysGetdents64(_k: Kernel, t: Task, fd: number, count: number): Dirent[] | number {
  const f = fdget(t, fd);
  if (!f || f.fFlags & O_PATH) return -EBADF;
  const dir = tmpfsDirOf(f);
  if (!dir) return -ENOTDIR;
  const list: { ino: number; type: number; name: string }[] = [
    { ino: dir.ino, type: DT_DIR, name: "." },
    { ino: (dir.parent ?? dir).ino, type: DT_DIR, name: ".." },
  ];
  // Newest first, as 6.18's tmpfs lists them (offset_readdir over the stable offset map).
  for (const [name, n] of [...dir.entries].reverse())
    list.push({ ino: n.ino, type: n.kind === "dir" ? DT_DIR : DT_REG, name });
  const out: Dirent[] = [];
  let used = 0;
  let pos = f.fPos;
  while (pos < list.length) {
    const e = list[pos]!;
    const reclen = Math.ceil((19 + new TextEncoder().encode(e.name).length + 1) / 8) * 8;
    if (used + reclen > count >>> 0) {
      if (out.length === 0) return -EINVAL;
      break;
    }
    used += reclen;
    pos++;
    out.push({ dIno: e.ino, dOff: pos, dReclen: reclen, dType: e.type, dName: e.name });
  }
  f.fPos = pos;
  return out;
}

/**
 * fsync(2) / fdatasync(2) → vfs_fsync_range(): tmpfs (noop_fsync) has nothing to write back: 0; a file
 * whose filesystem has no ->fsync (a character device, /proc) is -EINVAL.
 */
export function sysFsync(_k: Kernel, t: Task, fd: number): number {
  const f = fdget(t, fd);
  if (!f || f.fFlags & O_PATH) return -EBADF;
  return shmemOf(f) || tmpfsDirOf(f) ? 0 : -EINVAL;
}
