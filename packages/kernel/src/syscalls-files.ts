/**
 * The file, tmpfs, memfd and SysV shm calls of p.sys (issue 12 §2), each through its row of
 * syscall_64.files.tbl.ts. `Syscalls` extends this class; the calls return what the kernel returns
 * (a value or -errno), as every raw call does.
 */
import type { ShmInfo, ShmidDs } from "./internal/ipc-shm";
import type { Dirent, Stat } from "./internal/open";

export type { IpcPerm, ShmInfo, ShmidDs } from "./internal/ipc-shm";
export type { Dirent, Stat } from "./internal/open";

export abstract class FileSyscalls {
  /** Any syscall of the table by number or name (Syscalls.call). */
  abstract call(nrOrName: number | string, ...args: unknown[]): unknown;

  /** stat(2): the struct stat of a path, or -errno (-ENOENT, -ENOTDIR, -ENAMETOOLONG). */
  stat(path: string): Stat | number {
    return this.call("stat", path) as Stat | number;
  }

  /** fstat(2): the struct stat of an open file, or -EBADF. */
  fstat(fd: number): Stat | number {
    return this.call("fstat", fd) as Stat | number;
  }

  /** pread(2) (pread64): as read, at `offset`, leaving the file position alone. */
  pread(fd: number, buf: Uint8Array, offset: number): number;
  pread(fd: number, count: number, offset: number): Uint8Array | number;
  pread(fd: number, bufOrCount: Uint8Array | number, offset: number): Uint8Array | number {
    return this.call("pread64", fd, bufOrCount, offset) as Uint8Array | number;
  }

  /** pwrite(2) (pwrite64): as write, at `offset`, leaving the file position alone. */
  pwrite(fd: number, data: Uint8Array | string, offset: number): number {
    return this.call("pwrite64", fd, data, offset) as number;
  }

  /** fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_ADD_SEALS, F_GET_SEALS. */
  fcntl(fd: number, cmd: number, arg?: number): number {
    return this.call("fcntl", fd, cmd, arg) as number;
  }

  /** fsync(2): 0 on tmpfs (nothing to write back), -EINVAL for a device or /proc file. */
  fsync(fd: number): number {
    return this.call("fsync", fd) as number;
  }

  fdatasync(fd: number): number {
    return this.call("fdatasync", fd) as number;
  }

  /** truncate(2): sets a file's size by path (shrinking zaps every mapping of the pages past it). */
  truncate(path: string, length: number): number {
    return this.call("truncate", path, length) as number;
  }

  /** ftruncate(2): -EINVAL unless a regular file open for writing; -EPERM against memfd seals. */
  ftruncate(fd: number, length: number): number {
    return this.call("ftruncate", fd, length) as number;
  }

  /** fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE. */
  fallocate(fd: number, mode: number, offset: number, len: number): number {
    return this.call("fallocate", fd, mode, offset, len) as number;
  }

  rename(oldPath: string, newPath: string): number {
    return this.call("rename", oldPath, newPath) as number;
  }

  mkdir(path: string, mode?: number): number {
    return this.call("mkdir", path, mode) as number;
  }

  rmdir(path: string): number {
    return this.call("rmdir", path) as number;
  }

  /** unlink(2): the name goes; an open or mapped file keeps its pages until the last close/unmap. */
  unlink(path: string): number {
    return this.call("unlink", path) as number;
  }

  /** getdents64(2): the next directory entries that fit in `count` bytes ([] at the end), or -errno. */
  getdents(fd: number, count?: number): Dirent[] | number {
    return this.call("getdents64", fd, count) as Dirent[] | number;
  }

  /** memfd_create(2): an fd on a new anonymous shmem file ("/memfd:NAME (deleted)"), or -errno. */
  memfdCreate(name: string, flags?: number): number {
    return this.call("memfd_create", name, flags) as number;
  }

  /** shmget(2): the id of the segment for `key` (IPC_PRIVATE: a new one), or -errno. */
  shmget(key: number, size: number, shmflg?: number): number {
    return this.call("shmget", key, size, shmflg) as number;
  }

  /** shmat(2): the address the segment is attached at (SHM_RDONLY, SHM_RND, SHM_REMAP), or -errno. */
  shmat(shmid: number, shmaddr?: number, shmflg?: number): number {
    return this.call("shmat", shmid, shmaddr, shmflg) as number;
  }

  /** shmdt(2): 0, or -EINVAL when no attach starts at `shmaddr`. */
  shmdt(shmaddr: number): number {
    return this.call("shmdt", shmaddr) as number;
  }

  /**
   * shmctl(2): IPC_RMID and IPC_SET (buf { shmPerm: { uid, gid, mode } }) → 0; IPC_STAT/SHM_STAT → struct
   * shmid64_ds; IPC_INFO → struct shminfo64; or -errno.
   */
  shmctl(
    shmid: number,
    cmd: number,
    buf?: { readonly shmPerm: { readonly uid: number; readonly gid: number; readonly mode: number } } | null,
  ): ShmidDs | ShmInfo | number {
    return this.call("shmctl", shmid, cmd, buf) as ShmidDs | ShmInfo | number;
  }
}
