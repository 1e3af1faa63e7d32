/**
 * fs/namei.c over the tmpfs mounts: path walk (link_path_walk, with "." and ".." taken physically
 * inside a mount), and the directory syscalls mkdir(2), rmdir(2), unlink(2), rename(2). Paths outside
 * every tmpfs mount are the other filesystems' (devtmpfs, procfs: fs.ts), where nothing can be created.
 */
import {
  EACCES,
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  EROFS,
  EXDEV,
} from "../constants";
import type { Kernel, Task } from "./kernel";
import { NAME_MAX, PATH_MAX, type TmpfsDir, type TmpfsNode, type TmpfsSb } from "./tmpfs";

/** Where a walk ended inside a tmpfs: the parent directory, the last name, and what it names. */
export interface TmpfsWalk {
  readonly sb: TmpfsSb;
  /** The directory holding `name` (null when the path names a mount's root or ends in ".."). */
  readonly dir: TmpfsDir | null;
  readonly name: string;
  /** The node `name` names, if it exists. */
  readonly node: TmpfsNode | undefined;
  /** The path ended in "/" (the last component must be a directory). */
  readonly trailingSlash: boolean;
  /** The last component as path_parentat() classes it: a name, ".", "..", or none ("/"). */
  readonly lastType: "norm" | "dot" | "dotdot" | "root";
}

/** The tmpfs mounted exactly at `dir` (a path of components), if any. */
function mountAt(k: Kernel, comps: readonly string[]): TmpfsSb | undefined {
  const p = `/${comps.join("/")}`;
  return k.tmpfs.find((sb) => sb.mountPoint === p);
}

/**
 * path_lookupat() / filename_parentat(): walks `path` (relative paths start at "/": every process's
 * cwd is the root here). Returns where it ended in a tmpfs, -errno (ENOENT for a missing directory on
 * the way, ENOTDIR for a file used as one, ENAMETOOLONG), or null when the path is not in a tmpfs.
 */
export function tmpfsWalk(k: Kernel, path: string): TmpfsWalk | number | null {
  if (path === "") return -ENOENT;
  if (path.length >= PATH_MAX) return -ENAMETOOLONG;
  const raw = path.split("/").filter((c) => c !== "");
  const lastRaw = raw[raw.length - 1];
  const lastType =
    lastRaw === undefined ? "root" : lastRaw === "." ? "dot" : lastRaw === ".." ? "dotdot" : "norm";
  const comps = raw.filter((c) => c !== ".");
  const trailingSlash = /\/\.?$/.test(path) || path.endsWith("/..");
  for (const c of comps) if (c.length > NAME_MAX) return -ENAMETOOLONG;
  const outside: string[] = [];
  let sb: TmpfsSb | undefined;
  let dir: TmpfsDir | null = null;
  for (let i = 0; i < comps.length; i++) {
    const c = comps[i]!;
    const last = i === comps.length - 1;
    if (!dir) {
      if (c === "..") outside.pop();
      else outside.push(c);
      sb = mountAt(k, outside);
      if (sb) {
        dir = sb.root;
        if (last) return { sb, dir: null, name: "", node: sb.root, trailingSlash, lastType };
      }
      continue;
    }
    if (c === "..") {
      if (dir.parent) dir = dir.parent;
      else {
        // Leaving the mount through its root: back to the directory holding the mount point.
        dir = null;
        outside.pop();
        sb = mountAt(k, outside);
        if (sb) dir = sb.root;
      }
      if (last && dir && sb) return { sb, dir: null, name: "", node: dir, trailingSlash, lastType };
      continue;
    }
    const node: TmpfsNode | undefined = dir.entries.get(c);
    if (last) return { sb: sb!, dir, name: c, node, trailingSlash, lastType };
    if (!node) return -ENOENT;
    if (node.kind !== "dir") return -ENOTDIR;
    dir = node;
  }
  return null;
}

/** A walk for a call that creates or removes a name: its parent must exist. */
function parentWalk(k: Kernel, path: string): TmpfsWalk | number {
  const w = tmpfsWalk(k, path);
  if (w === null) return -EROFS;
  return w;
}

/** mkdir(2) (do_mkdirat → shmem_mkdir): 0 or -errno. */
export function sysMkdir(k: Kernel, _t: Task, path: string, mode: number): number {
  const w = tmpfsWalk(k, path);
  if (w === null) {
    // Existing directories of the other filesystems ("/", "/dev", "/proc") are EEXIST, the rest EROFS.
    const p = path.replace(/\/+/g, "/").replace(/\/$/, "") || "/";
    return ["/", "/dev", "/proc"].includes(p) || k.chrdev.nodes.has(p) ? -EEXIST : -EROFS;
  }
  if (typeof w === "number") return w;
  // filename_create(): the last component must be a name ("." and ".." exist).
  if (w.lastType !== "norm" || w.node || !w.dir) return -EEXIST;
  if (w.dir.removed) return -ENOENT;
  const d = w.sb.newDir(mode & ~0o022, w.dir);
  w.dir.entries.set(w.name, d);
  w.dir.nlink++;
  return 0;
}

/** rmdir(2): the directory must be empty (-ENOTEMPTY), a directory (-ENOTDIR), not a mount (-EBUSY). */
export function sysRmdir(k: Kernel, _t: Task, path: string): number {
  const w = parentWalk(k, path);
  if (typeof w === "number") return w;
  // do_rmdir(): "." is -EINVAL, ".." -ENOTEMPTY, a mount's root -EBUSY.
  if (w.lastType === "dot") return -EINVAL;
  if (w.lastType === "dotdot") return -ENOTEMPTY;
  if (!w.dir) return -EBUSY;
  const n = w.node;
  if (!n) return -ENOENT;
  if (n.kind !== "dir") return -ENOTDIR;
  if (n.entries.size) return -ENOTEMPTY;
  w.dir.entries.delete(w.name);
  w.dir.nlink--;
  n.removed = true;
  return 0;
}

/**
 * unlink(2): the name goes; the inode and its pages stay while a file or a mapping refers to it
 * (shmem_unlink → drop_nlink; eviction at the last iput).
 */
export function sysUnlink(k: Kernel, _t: Task, path: string): number {
  const w = tmpfsWalk(k, path);
  if (w === null) {
    const p = path.replace(/\/+/g, "/");
    return k.chrdev.nodes.has(p) || p === "/dev/console"
      ? -EROFS
      : p.startsWith("/proc/")
        ? -EACCES
        : -ENOENT;
  }
  if (typeof w === "number") return w;
  // do_unlinkat(): anything but a name ("/", ".", "..") is -EISDIR.
  if (w.lastType !== "norm" || !w.dir) return -EISDIR;
  const n = w.node;
  if (!n) return -ENOENT;
  if (n.kind === "dir") return -EISDIR;
  if (w.trailingSlash) return -ENOTDIR;
  w.dir.entries.delete(w.name);
  n.inode.unlink();
  return 0;
}

/** Is `d` `anc` or below it? */
function isUnder(d: TmpfsDir, anc: TmpfsDir): boolean {
  for (let c: TmpfsDir | null = d; c; c = c.parent) if (c === anc) return true;
  return false;
}

/**
 * rename(2) (do_renameat2 → shmem_rename2): across mounts -EXDEV; a directory into itself -EINVAL; a
 * directory over a file -ENOTDIR, a file over a directory -EISDIR, over a non-empty directory
 * -ENOTEMPTY; a file it replaces is unlinked (its pages stay while open or mapped).
 */
export function sysRename(k: Kernel, _t: Task, oldPath: string, newPath: string): number {
  const from = parentWalk(k, oldPath);
  if (typeof from === "number") return from;
  const to = parentWalk(k, newPath);
  if (typeof to === "number") return to;
  // do_renameat2(): both last components must be names.
  if (from.lastType !== "norm" || to.lastType !== "norm" || !from.dir || !to.dir) return -EBUSY;
  const n = from.node;
  if (!n) return -ENOENT;
  if (from.sb !== to.sb) return -EXDEV;
  if (n.kind !== "dir" && (from.trailingSlash || to.trailingSlash)) return -ENOTDIR;
  const target = to.node;
  if (target === n) return 0;
  if (n.kind === "dir" && isUnder(to.dir, n)) return -EINVAL;
  if (target) {
    if (n.kind === "dir" && target.kind !== "dir") return -ENOTDIR;
    if (n.kind !== "dir" && target.kind === "dir") return -EISDIR;
    if (target.kind === "dir" && target.entries.size) return -ENOTEMPTY;
  }
  if (target) {
    to.dir.entries.delete(to.name);
    if (target.kind === "dir") {
      target.removed = true;
      to.dir.nlink--;
    } else target.inode.unlink();
  }
  from.dir.entries.delete(from.name);
  to.dir.entries.set(to.name, n);
  if (n.kind === "dir") {
    from.dir.nlink--;
    to.dir.nlink++;
    n.parent = to.dir;
  } else {
    n.parent = to.dir;
    n.name = to.name;
  }
  return 0;
}
