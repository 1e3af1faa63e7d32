/**
 * p.sys: the raw system calls of one process, each through its syscall_64.tbl entry (arguments
 * converted to their C types, a TypeError for one C could not pass, before the kernel is entered).
 * The mm calls' 64-bit arguments (addresses, lengths, offsets, prot, flags) also take bigints: a
 * value beyond 2^53 is then read exactly where Linux looks (internal/syscall.ts, "Conversion").
 */
import { ENOSYS, ESRCH } from "./constants";
import type { WaitResult } from "./internal/exit";
import type { Kernel, Task } from "./internal/kernel";
import type { Rlimit } from "./internal/resource";
import { convertArgs, doSyscall, syscall } from "./internal/syscall";
import type { SigAction, SigActionResult } from "./signal";
import {
  lookupSyscall,
  SYS_brk,
  SYS_clone,
  SYS_close,
  SYS_dup,
  SYS_exit,
  SYS_exit_group,
  SYS_fork,
  SYS_getpid,
  SYS_getppid,
  SYS_getrlimit,
  SYS_gettid,
  SYS_ioctl,
  SYS_kill,
  SYS_lseek,
  SYS_madvise,
  SYS_mincore,
  SYS_mlock,
  SYS_mlock2,
  SYS_mlockall,
  SYS_mmap,
  SYS_mprotect,
  SYS_mremap,
  SYS_mseal,
  SYS_msync,
  SYS_munlock,
  SYS_munlockall,
  SYS_munmap,
  SYS_open,
  SYS_pkey_alloc,
  SYS_pkey_free,
  SYS_pkey_mprotect,
  SYS_prlimit64,
  SYS_read,
  SYS_rt_sigaction,
  SYS_rt_sigpending,
  SYS_rt_sigprocmask,
  SYS_rt_sigreturn,
  SYS_setrlimit,
  SYS_tgkill,
  SYS_wait4,
  SYS_write,
  sysEntry,
} from "./syscall_64.tbl";
import {
  SYS_alarm,
  SYS_clock_getres,
  SYS_clock_gettime,
  SYS_clock_nanosleep,
  SYS_clock_settime,
  SYS_nanosleep,
} from "./syscall_64.time.tbl";
import { FileSyscalls } from "./syscalls-files";

export type { WaitResult } from "./internal/exit";

/** SIG_DFL (0) or SIG_IGN (1). */
type SIG_DFL_OR_IGN = 0 | 1;

const E = {
  read: sysEntry(SYS_read),
  write: sysEntry(SYS_write),
  open: sysEntry(SYS_open),
  close: sysEntry(SYS_close),
  lseek: sysEntry(SYS_lseek),
  mmap: sysEntry(SYS_mmap),
  mprotect: sysEntry(SYS_mprotect),
  munmap: sysEntry(SYS_munmap),
  ioctl: sysEntry(SYS_ioctl),
  mremap: sysEntry(SYS_mremap),
  msync: sysEntry(SYS_msync),
  madvise: sysEntry(SYS_madvise),
  brk: sysEntry(SYS_brk),
  mseal: sysEntry(SYS_mseal),
  dup: sysEntry(SYS_dup),
  getpid: sysEntry(SYS_getpid),
  fork: sysEntry(SYS_fork),
  exit: sysEntry(SYS_exit),
  wait4: sysEntry(SYS_wait4),
  getppid: sysEntry(SYS_getppid),
  mlock: sysEntry(SYS_mlock),
  munlock: sysEntry(SYS_munlock),
  pkeyMprotect: sysEntry(SYS_pkey_mprotect),
  pkeyAlloc: sysEntry(SYS_pkey_alloc),
  pkeyFree: sysEntry(SYS_pkey_free),
  sigaction: sysEntry(SYS_rt_sigaction),
  sigprocmask: sysEntry(SYS_rt_sigprocmask),
  rtSigreturn: sysEntry(SYS_rt_sigreturn),
  kill: sysEntry(SYS_kill),
  sigpending: sysEntry(SYS_rt_sigpending),
  mincore: sysEntry(SYS_mincore),
  mlock2: sysEntry(SYS_mlock2),
  mlockall: sysEntry(SYS_mlockall),
  munlockall: sysEntry(SYS_munlockall),
  getrlimit: sysEntry(SYS_getrlimit),
  setrlimit: sysEntry(SYS_setrlimit),
  prlimit: sysEntry(SYS_prlimit64),
  clone: sysEntry(SYS_clone),
  gettid: sysEntry(SYS_gettid),
  exitGroup: sysEntry(SYS_exit_group),
  tgkill: sysEntry(SYS_tgkill),
};

/** The user-space (glibc) pkey calls: no syscall, the thread's PKRU; arguments checked as C ints. */
const PKEY_GET = syscall(-1, "pkey_get", "pkeyGet", [{ name: "pkey", kind: "int" }], () => 0);
const PKEY_SET = syscall(
  -1,
  "pkey_set",
  "pkeySet",
  [
    { name: "pkey", kind: "int" },
    { name: "access_rights", kind: "unsigned int" },
  ],
  () => 0,
);

/**
 * Raw system calls: each returns what the kernel returns, a value or -errno. A call on a process
 * that is no longer running returns -ESRCH. A call during which a driver oopses kills the process
 * and throws SignalError(SIGKILL) (the syscall never returns, as on Linux). An argument C could not
 * have passed (NaN, a fraction, a string for a number, …) throws a TypeError naming it, and nothing
 * happens.
 */
export class Syscalls extends FileSyscalls {
  /** @internal */
  constructor(
    private readonly k: Kernel,
    private readonly t: Task,
  ) {
    super();
  }

  /**
   * Any syscall of the table by x86-64 number (SYS_*), kernel name ("pkey_alloc") or method name
   * ("pkeyAlloc"): what it returns, or -ENOSYS for anything the table does not name.
   */
  call(nrOrName: number | string, ...args: unknown[]): unknown {
    const e = lookupSyscall(nrOrName);
    return e ? doSyscall(this.k, this.t, e, args) : -ENOSYS;
  }

  getpid(): number {
    return doSyscall(this.k, this.t, E.getpid, []) as number;
  }

  getppid(): number {
    return doSyscall(this.k, this.t, E.getppid, []) as number;
  }

  /** open(2): fd or -errno (-ENOENT no such node, -ENXIO no driver for the device, the driver's open error). */
  open(path: string, flags: number, mode?: number): number {
    return doSyscall(this.k, this.t, E.open, [path, flags, mode]) as number;
  }

  /** close(2): 0 or -EBADF. The file is released once no fd and no VMA refers to it. */
  close(fd: number): number {
    return doSyscall(this.k, this.t, E.close, [fd]) as number;
  }

  /** dup(2): the lowest free fd on the same file. */
  dup(fd: number): number {
    return doSyscall(this.k, this.t, E.dup, [fd]) as number;
  }

  /**
   * read(2). With a buffer: fills it, returns the count or -errno (as C's read). With a count: returns
   * the bytes read as a new Uint8Array (shorter at end of file), or -errno.
   */
  read(fd: number, buf: Uint8Array): number;
  read(fd: number, count: number): Uint8Array | number;
  read(fd: number, bufOrCount: Uint8Array | number): Uint8Array | number {
    return doSyscall(this.k, this.t, E.read, [fd, bufOrCount]) as Uint8Array | number;
  }

  /** write(2): bytes (or a string, UTF-8) → the count written or -errno. */
  write(fd: number, data: Uint8Array | string): number {
    return doSyscall(this.k, this.t, E.write, [fd, data]) as number;
  }

  /**
   * lseek(2). Without fops.llseek: -ESPIPE today (no FMODE_LSEEK); 2.6.10's default_llseek moved
   * f_pos for SEEK_SET/SEEK_CUR.
   */
  lseek(fd: number, offset: number, whence: number): number {
    return doSyscall(this.k, this.t, E.lseek, [fd, offset, whence]) as number;
  }

  /** ioctl(2) → fops.unlockedIoctl, -ENOTTY without one. */
  ioctl(fd: number, cmd: number, arg?: number): number {
    return doSyscall(this.k, this.t, E.ioctl, [fd, cmd, arg]) as number;
  }

  /**
   * mmap(2), x86-64: `offset` in bytes. -EINVAL for an unaligned offset comes first, then -EBADF for a
   * bad fd (unless MAP_ANONYMOUS, whose fd is ignored), then mm's checks and the driver's ->mmap.
   */
  mmap(
    addr: number | bigint,
    len: number | bigint,
    prot: number | bigint,
    flags: number | bigint,
    fd: number,
    offset: number | bigint,
  ): number {
    return doSyscall(this.k, this.t, E.mmap, [addr, len, prot, flags, fd, offset]) as number;
  }

  munmap(addr: number | bigint, len: number | bigint): number {
    return doSyscall(this.k, this.t, E.munmap, [addr, len]) as number;
  }

  mremap(
    oldAddr: number | bigint,
    oldLen: number | bigint,
    newLen: number | bigint,
    flags: number | bigint,
    newAddr?: number | bigint,
  ): number {
    return doSyscall(this.k, this.t, E.mremap, [oldAddr, oldLen, newLen, flags, newAddr]) as number;
  }

  mprotect(addr: number | bigint, len: number | bigint, prot: number | bigint): number {
    return doSyscall(this.k, this.t, E.mprotect, [addr, len, prot]) as number;
  }

  madvise(addr: number | bigint, len: number | bigint, advice: number): number {
    return doSyscall(this.k, this.t, E.madvise, [addr, len, advice]) as number;
  }

  /**
   * brk(2), the raw syscall: moves the end of the heap ([heap] in maps) to `brk` and returns the new
   * break, or the old one when it cannot (below the heap's start, RLIMIT_DATA, no room, sealed);
   * brk(0) asks for the break. Never -errno (libc.sbrk() makes ENOMEM of a refusal).
   */
  brk(brk: number | bigint): number {
    return doSyscall(this.k, this.t, E.brk, [brk]) as number;
  }

  /**
   * mseal(2): seals [addr, addr + len): later munmap, mremap, mprotect, MAP_FIXED over it and
   * discarding madvise of read-only anonymous memory fail with -EPERM. 0, -EINVAL (flags, alignment,
   * wrap), -ENOMEM (a hole); -ENOSYS on a 2.6.10 machine.
   */
  mseal(addr: number | bigint, len: number | bigint, flags: number | bigint = 0): number {
    return doSyscall(this.k, this.t, E.mseal, [addr, len, flags]) as number;
  }

  msync(addr: number | bigint, len: number | bigint, flags: number): number {
    return doSyscall(this.k, this.t, E.msync, [addr, len, flags]) as number;
  }

  mlock(addr: number | bigint, len: number | bigint): number {
    return doSyscall(this.k, this.t, E.mlock, [addr, len]) as number;
  }

  munlock(addr: number | bigint, len: number | bigint): number {
    return doSyscall(this.k, this.t, E.munlock, [addr, len]) as number;
  }

  /**
   * clone(2): with CLONE_VM | CLONE_SIGHAND | CLONE_THREAD (CLONE_PTHREAD), a new thread of this
   * process (its TID; `machine.process(tid)` is its handle, sharing this mm); without CLONE_VM, fork.
   * -EINVAL as copy_process checks the flags.
   */
  clone(flags: number): number {
    return doSyscall(this.k, this.t, E.clone, [flags]) as number;
  }

  /** gettid(2): this thread's id (getpid is the group's). */
  gettid(): number {
    return doSyscall(this.k, this.t, E.gettid, []) as number;
  }

  /** exit_group(2): every thread of the process exits with `status`. */
  exitGroup(status?: number): number {
    return doSyscall(this.k, this.t, E.exitGroup, [status]) as number;
  }

  /** tgkill(2): `sig` to thread `tid` of process `tgid`. */
  tgkill(tgid: number, tid: number, sig: number): number {
    return doSyscall(this.k, this.t, E.tgkill, [tgid, tid, sig]) as number;
  }

  /**
   * mlock2(2): flags 0 or MLOCK_ONFAULT (lock without populating: pages are locked as they fault in).
   * -ENOSYS on a 2.6.10 machine (added in 4.4).
   */
  mlock2(addr: number | bigint, len: number | bigint, flags: number): number {
    return doSyscall(this.k, this.t, E.mlock2, [addr, len, flags]) as number;
  }

  /** mlockall(2): MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT. */
  mlockall(flags: number): number {
    return doSyscall(this.k, this.t, E.mlockall, [flags]) as number;
  }

  /** munlockall(2) */
  munlockall(): number {
    return doSyscall(this.k, this.t, E.munlockall, []) as number;
  }

  /**
   * mincore(2): with a vector, fills it (1 = resident) and returns 0; with a count, returns a new vector
   * of that many bytes; -EINVAL (unaligned), -ENOMEM (a hole, or beyond user space), -EFAULT (too short).
   */
  mincore(addr: number | bigint, len: number | bigint, vec: Uint8Array): number;
  mincore(addr: number | bigint, len: number | bigint, count: number): Uint8Array | number;
  mincore(addr: number | bigint, len: number | bigint, vec: Uint8Array | number): Uint8Array | number {
    return doSyscall(this.k, this.t, E.mincore, [addr, len, vec]) as Uint8Array | number;
  }

  /** getrlimit(2): { cur, max } (RLIM_INFINITY is -1) or -EINVAL. */
  getrlimit(resource: number): Rlimit | number {
    return doSyscall(this.k, this.t, E.getrlimit, [resource]) as Rlimit | number;
  }

  /** setrlimit(2): 0, -EINVAL (cur above max, unknown resource), -EPERM (RLIMIT_NOFILE above fs.nr_open). */
  setrlimit(resource: number, rlim: Rlimit): number {
    return doSyscall(this.k, this.t, E.setrlimit, [resource, rlim]) as number;
  }

  /**
   * prlimit(2) (prlimit64): the old limit of `pid`'s resource (0: this process), setting `next` if
   * given. -ENOSYS on a 2.6.10 machine (added in 2.6.36).
   */
  prlimit(pid: number, resource: number, next?: Rlimit | null): Rlimit | number {
    return doSyscall(this.k, this.t, E.prlimit, [pid, resource, next]) as Rlimit | number;
  }

  /** pkey_alloc(2): a protection key, or -EINVAL / -ENOSPC (always, on a CPU without PKU); -ENOSYS on 2.6.10. */
  pkeyAlloc(flags: number, accessRights: number): number {
    return doSyscall(this.k, this.t, E.pkeyAlloc, [flags, accessRights]) as number;
  }

  /** pkey_free(2): 0 or -EINVAL; -ENOSYS on a 2.6.10 machine. */
  pkeyFree(pkey: number): number {
    return doSyscall(this.k, this.t, E.pkeyFree, [pkey]) as number;
  }

  /** pkey_mprotect(2): mprotect that also tags the range with `pkey` (-1: as mprotect); -ENOSYS on 2.6.10. */
  pkeyMprotect(addr: number | bigint, len: number | bigint, prot: number | bigint, pkey: number): number {
    return doSyscall(this.k, this.t, E.pkeyMprotect, [addr, len, prot, pkey]) as number;
  }

  /**
   * glibc's pkey_get(3) (RDPKRU, no syscall): the thread's rights for `key` (PKEY_DISABLE_ACCESS,
   * PKEY_DISABLE_WRITE), -EINVAL for a key outside 0..15, -ENOSYS on a CPU without PKU.
   */
  pkeyGet(key: number): number {
    const [k] = convertArgs(PKEY_GET, [key]) as [number];
    if (this.t.state !== "running") return -ESRCH;
    return this.t.mm.pkeyGet(k);
  }

  /** glibc's pkey_set(3) (WRPKRU, no syscall): 0, -EINVAL, or -ENOSYS on a CPU without PKU. */
  pkeySet(key: number, rights: number): number {
    const [k, r] = convertArgs(PKEY_SET, [key, rights]) as [number, number];
    if (this.t.state !== "running") return -ESRCH;
    return this.t.mm.pkeySet(k, r);
  }

  /**
   * fork(2): the child's pid (the child is `machine.process(pid)`, running, with a COW copy of the
   * address space and a copy of the fd table). -ENOMEM when memory runs out.
   */
  fork(): number {
    return doSyscall(this.k, this.t, E.fork, []) as number;
  }

  /** _exit(2): the process becomes a zombie (everything released) until its parent waits. 0, or -ESRCH if already dead. */
  exit(code?: number): number {
    return doSyscall(this.k, this.t, E.exit, [code]) as number;
  }

  /**
   * sigaction(2): installs `act` for `signo` (null: only reads) and returns the previous action, every
   * field filled as oldact is ({ handler, flags, mask }, handler SIG_DFL or SIG_IGN when no function
   * is installed), or -EINVAL (signal outside 1..64, an action for SIGKILL or SIGSTOP). A fault whose
   * signal has a handler runs the handler, then the access throws a SignalError with `handled` true
   * (as a handler that siglongjmps): the process goes on, its memory as it was.
   */
  sigaction(signo: number, act?: SigAction | SIG_DFL_OR_IGN | null): SigActionResult | number {
    return doSyscall(this.k, this.t, E.sigaction, [signo, act]) as SigActionResult | number;
  }

  /**
   * sigprocmask(2): SIG_BLOCK / SIG_UNBLOCK / SIG_SETMASK the signals of `set` (null: only reads);
   * returns the previous blocked set (signal numbers) or -EINVAL. A blocked SIGSEGV or SIGBUS from a
   * fault still kills (force_sig). Unblocking a pending signal delivers it before the call returns.
   */
  sigprocmask(how: number, set?: readonly number[] | null): number[] | number {
    return doSyscall(this.k, this.t, E.sigprocmask, [how, set]) as number[] | number;
  }

  /** rt_sigpending(2): the signals pending while blocked. */
  sigpending(): number[] | number {
    return doSyscall(this.k, this.t, E.sigpending, []) as number[] | number;
  }

  /**
   * kill(2): 0, -ESRCH (no such process), -EINVAL (signal outside 0..64). A signal the target handles
   * runs its handler when it next returns from the kernel (at once, for a signal to itself); one whose
   * default action kills ends it at once (a signal to itself: the call throws that SignalError).
   */
  kill(pid: number, sig: number): number {
    return doSyscall(this.k, this.t, E.kill, [pid, sig]) as number;
  }

  /**
   * rt_sigreturn(2): for runtimes that run a handler given as a user address (SignalFrame); the
   * blocked set goes back to the frame's. Without a frame, the process dies of SIGSEGV (as Linux).
   */
  rtSigreturn(): number {
    return doSyscall(this.k, this.t, E.rtSigreturn, []) as number;
  }

  /**
   * waitpid(2) (pid -1: any child). Never blocks: a zombie child is reaped and returned as
   * { pid, status }; with only running children the answer is 0 (as with WNOHANG); no such child
   * is -ECHILD.
   */
  waitpid(pid: number, options?: number): WaitResult | number {
    return doSyscall(this.k, this.t, E.wait4, [pid, options]) as WaitResult | number;
  }

  /**
   * nanosleep(2): sleeps on the virtual clock (on an in-thread machine: advances it); 0, -EINVAL, or
   * -EINTR when a signal's handler interrupts it (the time left written to `rem`, 16 bytes, if given).
   */
  nanosleep(sec: number, nsec: number, rem: Uint8Array | null = null): number {
    return doSyscall(this.k, this.t, sysEntry(SYS_nanosleep), [sec, nsec, rem]) as number;
  }

  /**
   * clock_gettime(2): with `tp` (16 bytes) the time written there as a struct timespec and 0; without
   * it the time in ns as the result (wall-clock times beyond 2^53 ns rounded: give `tp`); or -EINVAL.
   */
  clockGettime(clockid: number, tp: Uint8Array | null = null): number {
    return doSyscall(this.k, this.t, sysEntry(SYS_clock_gettime), [clockid, tp]) as number;
  }

  /**
   * alarm(2): SIGALRM to the process in `seconds` (0 cancels); the seconds the previous alarm had
   * left (rounded to the nearest, at least 1 while one is pending), or 0.
   */
  alarm(seconds: number): number {
    return doSyscall(this.k, this.t, sysEntry(SYS_alarm), [seconds]) as number;
  }

  /** clock_settime(2): sets CLOCK_REALTIME; 0, -EINVAL or -EPERM (no CAP_SYS_TIME). */
  clockSettime(clockid: number, sec: number, nsec: number): number {
    return doSyscall(this.k, this.t, sysEntry(SYS_clock_settime), [clockid, sec, nsec]) as number;
  }

  /** clock_getres(2): as clockGettime, with the clock's resolution (ns). */
  clockGetres(clockid: number, res: Uint8Array | null = null): number {
    return doSyscall(this.k, this.t, sysEntry(SYS_clock_getres), [clockid, res]) as number;
  }

  /**
   * clock_nanosleep(2): 0, -EINVAL, -EOPNOTSUPP or -EINTR (TIMER_ABSTIME: until that time on the
   * clock, and `rem` is not written).
   */
  clockNanosleep(
    clockid: number,
    flags: number,
    sec: number,
    nsec: number,
    rem: Uint8Array | null = null,
  ): number {
    return doSyscall(this.k, this.t, sysEntry(SYS_clock_nanosleep), [
      clockid,
      flags,
      sec,
      nsec,
      rem,
    ]) as number;
  }
}
