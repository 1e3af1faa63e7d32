/**
 * p.libc: the same calls as `Syscalls`, libc style: an error becomes a thrown ErrnoError (errno,
 * code, a strerror message) instead of a -errno return. Arguments are checked by the syscall
 * table as for p.sys (a TypeError before the kernel is entered).
 */
import { isErr } from "@faultline/mm";
import { ENOMEM } from "./constants";
import { ErrnoError } from "./errno-error";
import type { WaitResult } from "./internal/exit";
import type { Rlimit } from "./internal/resource";
import { FileLibc } from "./libc-files";
import type { SigAction, SigActionResult } from "./signal";
import type { Syscalls } from "./syscalls";

/** A process's system calls as libc wraps them: each returns its value or throws an `ErrnoError`. */
export class Libc extends FileLibc {
  constructor(private readonly sys: Syscalls) {
    super(sys);
  }

  private check(name: string, r: number): number {
    if (isErr(r)) throw new ErrnoError(-r, name);
    return r;
  }

  getpid(): number {
    return this.sys.getpid();
  }
  getppid(): number {
    return this.sys.getppid();
  }
  open(path: string, flags: number, mode = 0): number {
    return this.check("open", this.sys.open(path, flags, mode));
  }
  close(fd: number): number {
    return this.check("close", this.sys.close(fd));
  }
  dup(fd: number): number {
    return this.check("dup", this.sys.dup(fd));
  }
  read(fd: number, buf: Uint8Array): number;
  read(fd: number, count: number): Uint8Array;
  read(fd: number, bufOrCount: Uint8Array | number): Uint8Array | number {
    const r = this.sys.read(fd, bufOrCount as number);
    if (typeof r === "number") return this.check("read", r);
    return r;
  }
  write(fd: number, data: Uint8Array | string): number {
    return this.check("write", this.sys.write(fd, data));
  }
  lseek(fd: number, offset: number, whence: number): number {
    return this.check("lseek", this.sys.lseek(fd, offset, whence));
  }
  ioctl(fd: number, cmd: number, arg = 0): number {
    return this.check("ioctl", this.sys.ioctl(fd, cmd, arg));
  }
  mmap(addr: number, len: number, prot: number, flags: number, fd: number, offset: number): number {
    return this.check("mmap", this.sys.mmap(addr, len, prot, flags, fd, offset));
  }
  munmap(addr: number, len: number): number {
    return this.check("munmap", this.sys.munmap(addr, len));
  }
  mremap(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
    return this.check("mremap", this.sys.mremap(oldAddr, oldLen, newLen, flags, newAddr));
  }
  mprotect(addr: number, len: number, prot: number): number {
    return this.check("mprotect", this.sys.mprotect(addr, len, prot));
  }
  madvise(addr: number, len: number, advice: number): number {
    return this.check("madvise", this.sys.madvise(addr, len, advice));
  }
  /** glibc brk(3): 0, or ENOMEM when the kernel left the break below `addr`. */
  brk(addr: number): number {
    const r = this.check("brk", this.sys.brk(addr));
    if (r < addr) throw new ErrnoError(ENOMEM, "brk");
    return 0;
  }
  /**
   * glibc sbrk(3): moves the break by `increment` bytes and returns the old break (the start of the
   * new memory); ENOMEM when the kernel refuses or the sum would wrap.
   */
  sbrk(increment: number): number {
    const old = this.check("sbrk", this.sys.brk(0));
    if (increment === 0) return old;
    const want = old + increment;
    if (want < 0 || want >= 2 ** 64) throw new ErrnoError(ENOMEM, "sbrk");
    if (this.sys.brk(want) !== want) throw new ErrnoError(ENOMEM, "sbrk");
    return old;
  }
  mseal(addr: number, len: number, flags = 0): number {
    return this.check("mseal", this.sys.mseal(addr, len, flags));
  }
  msync(addr: number, len: number, flags: number): number {
    return this.check("msync", this.sys.msync(addr, len, flags));
  }
  mlock(addr: number, len: number): number {
    return this.check("mlock", this.sys.mlock(addr, len));
  }
  munlock(addr: number, len: number): number {
    return this.check("munlock", this.sys.munlock(addr, len));
  }
  pkeyAlloc(flags: number, accessRights: number): number {
    return this.check("pkey_alloc", this.sys.pkeyAlloc(flags, accessRights));
  }
  pkeyFree(pkey: number): number {
    return this.check("pkey_free", this.sys.pkeyFree(pkey));
  }
  pkeyMprotect(addr: number, len: number, prot: number, pkey: number): number {
    return this.check("pkey_mprotect", this.sys.pkeyMprotect(addr, len, prot, pkey));
  }
  pkeyGet(key: number): number {
    return this.check("pkey_get", this.sys.pkeyGet(key));
  }
  pkeySet(key: number, rights: number): number {
    return this.check("pkey_set", this.sys.pkeySet(key, rights));
  }
  fork(): number {
    return this.check("fork", this.sys.fork());
  }
  sigaction(signo: number, act?: SigAction | 0 | 1 | null): SigActionResult {
    const r = this.sys.sigaction(signo, act);
    if (typeof r === "number") throw new ErrnoError(-r, "sigaction");
    return r;
  }
  sigprocmask(how: number, set?: readonly number[] | null): number[] {
    const r = this.sys.sigprocmask(how, set);
    if (typeof r === "number") throw new ErrnoError(-r, "sigprocmask");
    return r;
  }
  sigpending(): number[] {
    const r = this.sys.sigpending();
    if (typeof r === "number") throw new ErrnoError(-r, "sigpending");
    return r;
  }
  kill(pid: number, sig: number): number {
    return this.check("kill", this.sys.kill(pid, sig));
  }
  rtSigreturn(): number {
    return this.check("rt_sigreturn", this.sys.rtSigreturn());
  }
  clone(flags: number): number {
    return this.check("clone", this.sys.clone(flags));
  }
  gettid(): number {
    return this.sys.gettid();
  }
  exitGroup(status = 0): void {
    this.check("exit_group", this.sys.exitGroup(status));
  }
  tgkill(tgid: number, tid: number, sig: number): number {
    return this.check("tgkill", this.sys.tgkill(tgid, tid, sig));
  }
  mlock2(addr: number, len: number, flags: number): number {
    return this.check("mlock2", this.sys.mlock2(addr, len, flags));
  }
  mlockall(flags: number): number {
    return this.check("mlockall", this.sys.mlockall(flags));
  }
  munlockall(): number {
    return this.check("munlockall", this.sys.munlockall());
  }
  mincore(addr: number, len: number, vec: Uint8Array): number {
    return this.check("mincore", this.sys.mincore(addr, len, vec));
  }
  getrlimit(resource: number): Rlimit {
    const r = this.sys.getrlimit(resource);
    if (typeof r === "number") throw new ErrnoError(-r, "getrlimit");
    return r;
  }
  setrlimit(resource: number, rlim: Rlimit): number {
    return this.check("setrlimit", this.sys.setrlimit(resource, rlim));
  }
  prlimit(pid: number, resource: number, next?: Rlimit | null): Rlimit {
    const r = this.sys.prlimit(pid, resource, next);
    if (typeof r === "number") throw new ErrnoError(-r, "prlimit");
    return r;
  }
  exit(code = 0): void {
    this.check("exit", this.sys.exit(code));
  }
  waitpid(pid: number, options = 0): WaitResult | null {
    const r = this.sys.waitpid(pid, options);
    if (typeof r === "number") {
      this.check("waitpid", r);
      return null;
    }
    return r;
  }
  nanosleep(sec: number, nsec: number, rem: Uint8Array | null = null): number {
    return this.check("nanosleep", this.sys.nanosleep(sec, nsec, rem));
  }
  clockGettime(clockid: number, tp: Uint8Array | null = null): number {
    return this.check("clock_gettime", this.sys.clockGettime(clockid, tp));
  }
  alarm(seconds: number): number {
    return this.sys.alarm(seconds);
  }
  clockSettime(clockid: number, sec: number, nsec: number): number {
    return this.check("clock_settime", this.sys.clockSettime(clockid, sec, nsec));
  }
  clockGetres(clockid: number, res: Uint8Array | null = null): number {
    return this.check("clock_getres", this.sys.clockGetres(clockid, res));
  }
  /** glibc's clock_nanosleep returns the error number (positive) instead of setting errno. */
  clockNanosleep(
    clockid: number,
    flags: number,
    sec: number,
    nsec: number,
    rem: Uint8Array | null = null,
  ): number {
    const r = this.sys.clockNanosleep(clockid, flags, sec, nsec, rem);
    return r < 0 ? -r : 0;
  }
}
