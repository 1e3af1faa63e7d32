/**
 * The libc side of the file, tmpfs, memfd and SysV shm calls (issue 12 §2): as FileSyscalls, with an
 * error thrown as ErrnoError instead of returned. `Libc` extends this class.
 */
import { isErr } from "@faultline/mm";
import { ErrnoError } from "./errno-error";
import type { Dirent, FileSyscalls, ShmInfo, ShmidDs, Stat } from "./syscalls-files";

export abstract class FileLibc {
  constructor(protected readonly fileSys: FileSyscalls) {}

  protected ok<T>(name: string, r: T | number): T {
    if (typeof r === "number" && isErr(r)) throw new ErrnoError(-r, name);
    return r as T;
  }

  stat(path: string): Stat {
    return this.ok("stat", this.fileSys.stat(path));
  }
  fstat(fd: number): Stat {
    return this.ok("fstat", this.fileSys.fstat(fd));
  }
  pread(fd: number, buf: Uint8Array, offset: number): number;
  pread(fd: number, count: number, offset: number): Uint8Array;
  pread(fd: number, bufOrCount: Uint8Array | number, offset: number): Uint8Array | number {
    return this.ok("pread", this.fileSys.pread(fd, bufOrCount as number, offset));
  }
  pwrite(fd: number, data: Uint8Array | string, offset: number): number {
    return this.ok("pwrite", this.fileSys.pwrite(fd, data, offset));
  }
  fcntl(fd: number, cmd: number, arg = 0): number {
    return this.ok("fcntl", this.fileSys.fcntl(fd, cmd, arg));
  }
  fsync(fd: number): number {
    return this.ok("fsync", this.fileSys.fsync(fd));
  }
  fdatasync(fd: number): number {
    return this.ok("fdatasync", this.fileSys.fdatasync(fd));
  }
  truncate(path: string, length: number): number {
    return this.ok("truncate", this.fileSys.truncate(path, length));
  }
  ftruncate(fd: number, length: number): number {
    return this.ok("ftruncate", this.fileSys.ftruncate(fd, length));
  }
  fallocate(fd: number, mode: number, offset: number, len: number): number {
    return this.ok("fallocate", this.fileSys.fallocate(fd, mode, offset, len));
  }
  rename(oldPath: string, newPath: string): number {
    return this.ok("rename", this.fileSys.rename(oldPath, newPath));
  }
  mkdir(path: string, mode = 0o777): number {
    return this.ok("mkdir", this.fileSys.mkdir(path, mode));
  }
  rmdir(path: string): number {
    return this.ok("rmdir", this.fileSys.rmdir(path));
  }
  unlink(path: string): number {
    return this.ok("unlink", this.fileSys.unlink(path));
  }
  getdents(fd: number, count = 32768): Dirent[] {
    return this.ok("getdents64", this.fileSys.getdents(fd, count));
  }
  memfdCreate(name: string, flags = 0): number {
    return this.ok("memfd_create", this.fileSys.memfdCreate(name, flags));
  }
  shmget(key: number, size: number, shmflg = 0): number {
    return this.ok("shmget", this.fileSys.shmget(key, size, shmflg));
  }
  shmat(shmid: number, shmaddr = 0, shmflg = 0): number {
    return this.ok("shmat", this.fileSys.shmat(shmid, shmaddr, shmflg));
  }
  shmdt(shmaddr: number): number {
    return this.ok("shmdt", this.fileSys.shmdt(shmaddr));
  }
  shmctl(
    shmid: number,
    cmd: number,
    buf?: { readonly shmPerm: { readonly uid: number; readonly gid: number; readonly mode: number } } | null,
  ): ShmidDs | ShmInfo | number {
    return this.ok("shmctl", this.fileSys.shmctl(shmid, cmd, buf));
  }
}
