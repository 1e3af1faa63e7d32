/**
 * mm/memfd.c and fs/fcntl.c: memfd_create(2) (a shmem file on shm_mnt, shown as "/memfd:NAME
 * (deleted)") and fcntl(2): F_DUPFD, F_GETFD/F_SETFD, F_GETFL, F_ADD_SEALS/F_GET_SEALS.
 */
import { ShmemInode } from "@faultline/mm";
import {
  EBADF,
  EFAULT,
  EINVAL,
  EMFILE,
  EPERM,
  F_ADD_SEALS,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GET_SEALS,
  F_GETFD,
  F_GETFL,
  F_SEAL_EXEC,
  F_SEAL_SEAL,
  F_SETFD,
  FD_CLOEXEC,
  FMODE_WRITE,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
  O_CREAT,
  O_EXCL,
  O_LARGEFILE,
  O_NOCTTY,
  O_PATH,
  O_RDWR,
  O_TRUNC,
} from "../constants";
import { closeOnExecOf, setCloseOnExec } from "./fdtable";
import { allocFd, fdget, fileMaker } from "./fs";
import type { Kernel, Task } from "./kernel";
import { anonShmemNode, openShmem, shmemOf } from "./shmem-file";

/** MFD_NAME_MAX_LEN: NAME_MAX minus the "memfd:" prefix. */
const MFD_NAME_MAX_LEN = 255 - 6;
const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;

/**
 * memfd_create(2): an fd on a new, empty shmem file (O_RDWR|O_LARGEFILE). -EINVAL for unknown flags,
 * MFD_EXEC with MFD_NOEXEC_SEAL, MFD_HUGETLB (no hugetlbfs here), or a name over 249 bytes. Without
 * MFD_ALLOW_SEALING the file is sealed with F_SEAL_SEAL (no seal can be added); MFD_NOEXEC_SEAL
 * seals F_SEAL_EXEC and allows sealing.
 */
export function sysMemfdCreate(k: Kernel, t: Task, name: string, flags: number): number {
  if (flags & ~MFD_ALL_FLAGS) return -EINVAL;
  if (flags & MFD_EXEC && flags & MFD_NOEXEC_SEAL) return -EINVAL;
  if (flags & MFD_HUGETLB) return -EINVAL;
  // strnlen_user() of the name: its bytes, not its UTF-16 length.
  if (new TextEncoder().encode(name).length > MFD_NAME_MAX_LEN) return -EINVAL;
  if (name.includes("\0")) return -EFAULT;
  const fd = allocFd(t);
  if (fd < 0) return fd;
  const sb = k.shmMnt;
  const inode = new ShmemInode(k.mem, sb.blocks, `memfd:${name}`);
  sb.inodes.add(inode);
  // MFD_NOEXEC_SEAL allows sealing too, and seals F_SEAL_EXEC.
  if (flags & MFD_NOEXEC_SEAL) inode.seals = F_SEAL_EXEC;
  else inode.seals = flags & MFD_ALLOW_SEALING ? 0 : F_SEAL_SEAL;
  const f = openShmem(
    anonShmemNode(sb, inode, `/memfd:${name} (deleted)`),
    O_RDWR | O_LARGEFILE,
    fileMaker(k),
  );
  f.get();
  t.fds.set(fd, f);
  setCloseOnExec(t, fd, (flags & MFD_CLOEXEC) !== 0);
  return fd;
}

/**
 * memfd_add_seals(): the file must be a shmem file (-EINVAL), open for writing (-EPERM), not sealed
 * against sealing (-EPERM); F_SEAL_WRITE needs no writable shared mapping (-EBUSY). Seals only add.
 */
function addSeals(t: Task, fd: number, seals: number): number {
  const f = fdget(t, fd);
  if (!f) return -EBADF;
  const inode = shmemOf(f);
  if (!inode) return -EINVAL;
  if (!(f.fMode & FMODE_WRITE)) return -EPERM;
  return inode.addSeals(seals);
}

/** fcntl(2): the commands a program here needs; others are -EINVAL. */
export function sysFcntl(_k: Kernel, t: Task, fd: number, cmd: number, arg: number): number {
  const f = fdget(t, fd);
  if (!f) return -EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      // f_dupfd(): the lowest free fd at or above arg.
      if (arg < 0 || arg >= 1024) return -EINVAL;
      let n = arg;
      while (n < 1024 && t.fds.has(n)) n++;
      if (n >= 1024) return -EMFILE;
      f.get();
      t.fds.set(n, f);
      setCloseOnExec(t, n, cmd === F_DUPFD_CLOEXEC);
      return n;
    }
    case F_GETFD:
      return closeOnExecOf(t, fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      setCloseOnExec(t, fd, (arg & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      // do_dentry_open() drops the open-time-only flags; 64-bit opens are O_LARGEFILE.
      return (f.fFlags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)) | O_LARGEFILE;
    case F_ADD_SEALS:
      if (f.fFlags & O_PATH) return -EBADF;
      return addSeals(t, fd, arg);
    case F_GET_SEALS: {
      if (f.fFlags & O_PATH) return -EBADF;
      const inode = shmemOf(f);
      return inode ? inode.seals : -EINVAL;
    }
    default:
      return -EINVAL;
  }
}
