/**
 * fs/open.c, fs/namei.c, fs/file.c and fs/ioctl.c: path lookup over devtmpfs and procfs, struct
 * file creation (with the driver's ->open), the fd table (open, close, dup), /dev/console, ioctl.
 */
import {
  EACCES,
  EBADF,
  EEXIST,
  EFAULT,
  EMFILE,
  ENOENT,
  ENOIOCTLCMD,
  ENOTDIR,
  ENOTTY,
  ENXIO,
  EROFS,
  FIOASYNC,
  FIOCLEX,
  FIONBIO,
  FIONCLEX,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_PATH,
  O_RDWR,
} from "../constants";
import type { FileOperations } from "../driver-types";
import { DEVTMPFS_DEV, type DevNode, PROC_DEV } from "./chrdev";
import { setCloseOnExec } from "./fdtable";
import { type FileHost, type FileNode, OpenFile } from "./file";
import type { Kernel, Task } from "./kernel";
import { zeroFops, zeroNode } from "./mem";
import { tmpfsWalk } from "./namei";
import { callDriver, KERNEL } from "./oops";
import { procFops, procIno, procMapping, procText } from "./proc";
import { type MakeFile, openShmem, type ShmemFileNode, tmpfsOpen } from "./shmem-file";
import { adoptVma } from "./vm-ops";

/** RLIMIT_NOFILE's usual soft limit. */
const NR_OPEN = 1024;

/** The lowest free fd, or -EMFILE. */
export function allocFd(t: Task): number {
  for (let fd = 0; fd < NR_OPEN; fd++) if (!t.fds.has(fd)) return fd;
  return -EMFILE;
}

/** fdget(): the file behind `fd`, if any. */
export function fdget(t: Task, fd: number): OpenFile | undefined {
  return t.fds.get(fd);
}

function fileHost(k: Kernel): FileHost {
  k.fileHost ??= {
    callDriver: (owner, callback, fn, onOops) => callDriver(k, owner, callback, fn, onOops),
    adoptVma: (vma, owner, flagsBefore) => adoptVma(k, vma, owner, flagsBefore),
    fileReleased: (file) => void k.files.delete(file),
  };
  return k.fileHost;
}

/** What tmpfs, memfd and SysV shm use to make their struct files (shmem-file.ts has no import of fs.ts). */
export function fileMaker(k: Kernel): MakeFile {
  return (node, fops, flags) => newFile(k, node, fops, KERNEL, flags);
}

/** A struct file on the machine's file list (snapshot restore makes its files with it too). */
export function newFile(
  k: Kernel,
  node: FileNode,
  fops: FileOperations,
  owner: string,
  flags: number,
): OpenFile {
  const f = new OpenFile(fileHost(k), node, fops, owner, flags);
  k.files.add(f);
  return f;
}

/** /dev/console: reads end at once, writes append to the machine's console text. */
export function openConsole(k: Kernel, flags: number): OpenFile {
  const fops: FileOperations = {
    read: () => 0,
    write: (_f, buf) => {
      k.consoleText += new TextDecoder().decode(buf);
      return buf.length;
    },
  };
  return newFile(k, k.consoleNode, fops, KERNEL, flags);
}

/** console_on_rootfs(): /dev/console opened once O_RDWR, then dup'ed to fds 1 and 2. */
export function openStdio(k: Kernel, t: Task): void {
  const con = openConsole(k, O_RDWR);
  for (let fd = 0; fd < 3; fd++) {
    con.get();
    t.fds.set(fd, con);
  }
}

/** do_filp_open(): a tmpfs file or directory, a /dev node or a /proc file. Returns the file or -errno. */
export function openFile(
  k: Kernel,
  t: Task | null,
  pathIn: string,
  flags: number,
  mode = 0,
): OpenFile | number {
  const w = tmpfsWalk(k, pathIn);
  if (w !== null) return typeof w === "number" ? w : tmpfsOpen(w, flags, mode, fileMaker(k), pathIn);
  // path_lookupat() collapses repeated slashes and "." components.
  const path = pathIn.replace(/\/+/g, "/").replace(/\/\.(?=\/|$)/g, "") || "/";
  // /proc/PID/fd/N of a shmem file (memfd, tmpfs, SysV) is a magic link: open it and the inode opens
  // anew with these flags (proc_fd_link), so a read-only reopen of a memfd cannot add seals.
  const fdLink = /^\/proc\/(self|\d+)\/fd\/(\d+)$/.exec(path);
  if (fdLink) {
    const owner = fdLink[1] === "self" ? t : k.tasks.get(Number(fdLink[1]));
    const target = owner?.fds.get(Number(fdLink[2]));
    if (!target) return -ENOENT;
    if ("shmem" in target.node) return openShmem(target.node as ShmemFileNode, flags, fileMaker(k));
  }
  // debugfs (/sys/kernel/debug) files are read-only text files built at read time, as /proc's are.
  if (path.startsWith("/proc/") || path.startsWith("/sys/kernel/debug/")) {
    if ((flags & O_ACCMODE) !== 0) return -EACCES;
    if (procText(k, path, t) === null) return -ENOENT;
    const node: FileNode = {
      path,
      sDev: PROC_DEV,
      ino: procIno(k, path),
      major: 0,
      minor: 0,
      mapping: procMapping(k, path),
    };
    return newFile(
      k,
      node,
      procFops(() => procText(k, path, t) ?? ""),
      KERNEL,
      flags,
    );
  }
  // /dev/zero is built in (drivers/char/mem.c), unless a loaded driver made its own node there.
  if (path === "/dev/zero" && !k.chrdev.nodes.has(path)) {
    if (flags & O_CREAT && flags & O_EXCL) return -EEXIST;
    if (flags & O_DIRECTORY) return -ENOTDIR;
    return newFile(k, zeroNode(k), zeroFops(), KERNEL, flags);
  }
  const node = path === "/dev/console" ? null : k.chrdev.nodes.get(path);
  const exists = path === "/dev/console" || node !== undefined;
  // do_open(): O_CREAT|O_EXCL on an existing name, O_DIRECTORY on a device node.
  if (exists && flags & O_CREAT && flags & O_EXCL) return -EEXIST;
  if (exists && flags & O_DIRECTORY) return -ENOTDIR;
  if (path === "/dev/console") return openConsole(k, flags);
  // Creating files is not modelled: there is no writable filesystem here (Linux's devtmpfs would
  // create a regular file).
  if (!node) return flags & O_CREAT ? -EROFS : -ENOENT;
  const cdev = k.chrdev.lookup(node.major, node.minor);
  if (!cdev) return -ENXIO;
  const f = newFile(k, fileNodeOf(node), cdev.fops, cdev.owner, flags);
  // O_PATH: a handle on the name only, the driver is not opened.
  const open = flags & O_PATH ? undefined : cdev.fops.open;
  if (open) {
    const r = callDriver(k, cdev.owner, "fops->open", () => open.call(cdev.fops, f.inode, f) | 0, -EFAULT);
    if (r < 0) {
      f.released = true;
      k.files.delete(f);
      return r;
    }
  }
  return f;
}

function fileNodeOf(node: DevNode): FileNode {
  return {
    path: node.path,
    sDev: DEVTMPFS_DEV,
    ino: node.ino,
    major: node.major,
    minor: node.minor,
    mapping: node.mapping,
  };
}

/** open(2): fd or -errno (-ENOENT no such node, -ENXIO no driver for the device, the driver's open error). */
export function sysOpen(k: Kernel, t: Task, path: string, flags: number, mode: number): number {
  const fd = allocFd(t);
  if (fd < 0) return fd;
  const f = openFile(k, t, path, flags, mode);
  if (typeof f === "number") return f;
  f.get();
  t.fds.set(fd, f);
  setCloseOnExec(t, fd, (flags & O_CLOEXEC) !== 0);
  return fd;
}

/** close(2): 0 or -EBADF. The file is released once no fd and no VMA refers to it. */
export function sysClose(_k: Kernel, t: Task, fd: number): number {
  const f = fdget(t, fd);
  if (!f) return -EBADF;
  t.fds.delete(fd);
  setCloseOnExec(t, fd, false);
  f.put();
  return 0;
}

/** dup(2): the lowest free fd on the same file. */
export function sysDup(_k: Kernel, t: Task, fd: number): number {
  const f = fdget(t, fd);
  if (!f) return -EBADF;
  const n = allocFd(t);
  if (n < 0) return n;
  f.get();
  t.fds.set(n, f);
  setCloseOnExec(t, n, false);
  return n;
}

/** ioctl(2) → fops.unlockedIoctl, -ENOTTY without one. */
export function sysIoctl(k: Kernel, t: Task, fd: number, cmd: number, arg: number): number {
  const f = fdget(t, fd);
  if (!f || f.fFlags & O_PATH) return -EBADF;
  // do_vfs_ioctl(): the generic commands never reach the driver.
  if (cmd === FIOCLEX || cmd === FIONCLEX || cmd === FIONBIO || cmd === FIOASYNC) return 0;
  const ioctl = f.fops.unlockedIoctl;
  if (!ioctl) return -ENOTTY;
  const r = callDriver(k, f.owner, "fops->unlocked_ioctl", () => ioctl.call(f.fops, f, cmd, arg), -EFAULT);
  // vfs_ioctl(): a driver's -ENOIOCTLCMD ("not mine") reaches user space as -ENOTTY.
  return r === -ENOIOCTLCMD ? -ENOTTY : r;
}
