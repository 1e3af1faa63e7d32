import type { Mmu } from "@faultline/mm";

/**
 * What a syscall argument may be: numbers, bigints (a 64-bit value exactly: a register holds it modulo
 * 2^64), strings, byte buffers (copied back after the call), and the structs the table's calls take
 * by pointer, as objects (an rlimit's `{ cur, max }`, a shmid_ds's `{ shmPerm }`): the kernel checks
 * each argument against the call's parameter.
 */
export type SyscallArg =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | { readonly [field: string]: unknown };

/**
 * The raw syscall surface a process program sees: the same calls as an in-thread process's
 * `p.sys`, each returning a value or -errno, plus where the process stands.
 */
export interface Sys {
  readonly pid: number;
  /** True in a process created by `fork()` (its program runs from the start: see `defineProgram`). */
  readonly isChild: boolean;
  /** The value the parent passed to `fork(tag)`; undefined in a process that was spawned. */
  readonly forkTag: unknown;
  open(path: string, flags?: number, mode?: number): number;
  close(fd: number): number;
  read(fd: number, ...args: SyscallArg[]): number;
  write(fd: number, ...args: SyscallArg[]): number;
  ioctl(fd: number, cmd: number, arg?: number): number;
  /** The mm calls take bigints for their 64-bit arguments, as `p.sys` does. */
  mmap(
    addr: number | bigint,
    len: number | bigint,
    prot: number | bigint,
    flags: number | bigint,
    fd: number,
    offset: number | bigint,
  ): number;
  munmap(addr: number | bigint, len: number | bigint): number;
  mremap(
    addr: number | bigint,
    oldLen: number | bigint,
    newLen: number | bigint,
    flags: number | bigint,
    newAddr?: number | bigint,
  ): number;
  mprotect(addr: number | bigint, len: number | bigint, prot: number | bigint): number;
  madvise(addr: number | bigint, len: number | bigint, advice: number): number;
  msync(addr: number | bigint, len: number | bigint, flags: number): number;
  /**
   * Returns the child's pid in the parent, -errno on failure. The child is a new worker whose address
   * space is the copy-on-write copy of the parent's at this point; JavaScript cannot copy a running
   * function, so the child starts its program's `child` entry (or `main` again, with
   * `sys.isChild === true`) and receives `tag` as `sys.forkTag`.
   */
  fork(tag?: unknown): number;
  /**
   * clone(2). With CLONE_THREAD (e.g. CLONE_PTHREAD, glibc's pthread_create flags): a new thread of
   * this process, a new worker on the same address space (every munmap/mprotect/mremap shoots down
   * its TLB too), running the program's `thread` entry (or `main`, with `sys.isThread`) with `tag`
   * as `sys.forkTag`; returns its TID. Without CLONE_VM: as fork(tag). -errno as Linux checks the flags.
   */
  clone(flags: number, tag?: unknown): number;
  /** True in a thread created by clone(CLONE_THREAD…). */
  readonly isThread: boolean;
  /** Ends the process with `code` (never returns). */
  exit(code: number): never;
  /** Blocks until child `pid` (-1: any child) exits; returns its pid, the wait status in `status`. */
  waitpid(pid: number, options?: number): number;
  /** The wait status of the last successful waitpid (as Linux encodes it: WIFEXITED/WTERMSIG). */
  readonly lastWaitStatus: number;
  getpid(): number;
  /** pkey_alloc(2): a protection key, or -EINVAL / -ENOSPC (always, on a CPU without PKU); -ENOSYS on 2.6.10. */
  pkeyAlloc(flags: number, accessRights: number): number;
  /** pkey_free(2): 0 or -EINVAL; -ENOSYS on a 2.6.10 machine. */
  pkeyFree(pkey: number): number;
  /** pkey_mprotect(2): mprotect that also tags the range with `pkey` (-1: as mprotect); -ENOSYS on 2.6.10. */
  pkeyMprotect(addr: number | bigint, len: number | bigint, prot: number | bigint, pkey: number): number;
  /** glibc pkey_get(3): this thread's rights for `key`; -EINVAL, or -ENOSYS without PKU. No syscall. */
  pkeyGet(key: number): number;
  /** glibc pkey_set(3) (WRPKRU): 0, -EINVAL, or -ENOSYS without PKU. No syscall. */
  pkeySet(key: number, rights: number): number;
  /**
   * sigaction(2), as p.sys.sigaction: `act` a { handler(info), flags, mask }, SIG_DFL (0), SIG_IGN
   * (1) or null (only read); returns the previous action or -errno. A fault whose signal has a
   * handler runs it in this worker, then the access throws a SignalError with `handled` true.
   */
  sigaction(signo: number, act?: ProgramSigAction | 0 | 1 | null): ProgramSigActionResult | number;
  /** sigprocmask(2): SIG_BLOCK 0, SIG_UNBLOCK 1, SIG_SETMASK 2; the previous set, or -EINVAL. */
  sigprocmask(how: number, set?: readonly number[] | null): number[] | number;
  /** kill(2): 0 or -errno; a handler this process installed runs before the call returns. */
  kill(pid: number, sig: number): number;
  /**
   * nanosleep(2) on the machine's virtual clock: 0 (or -EINVAL for a bad timespec). The process stays
   * in the kernel until its wake-up, the request plus the 50 µs timer slack: in a deterministic run
   * that time is part of the seed's schedule, in a free run it follows wall time. A signal whose
   * handler runs (another process's kill, an alarm) ends it early with -EINTR, the time left written
   * to `rem` (16 bytes: tv_sec, tv_nsec) if given.
   */
  nanosleep(sec: number, nsec: number, rem?: Uint8Array): number;
  /**
   * clock_gettime(2): the clock's time in ns (CLOCK_MONOTONIC is 1 and starts at boot; CLOCK_REALTIME
   * is 0, a wall clock from the machine's boot time: give `tp`, 16 bytes, to read it exactly), or -EINVAL.
   */
  clockGettime(clockid: number, tp?: Uint8Array): number;
  /** Any other syscall the kernel offers, by name. */
  call(name: string, ...args: SyscallArg[]): unknown;
}

/** What a handler receives (siginfo_t): signo, si_code (SEGV_MAPERR…, SI_USER), si_addr, si_pkey, si_pid. */
export interface ProgramSigInfo {
  readonly signo: number;
  readonly code: number;
  readonly addr: number;
  readonly pkey?: number;
  readonly pid?: number;
}

/** A signal handler as a program installs it with `sys.sigaction`. */
export interface ProgramSigAction {
  readonly handler: ((info: ProgramSigInfo) => void) | number;
  readonly flags?: number;
  readonly mask?: readonly number[];
}

/** The previous disposition `sys.sigaction` returns. */
export interface ProgramSigActionResult {
  readonly handler: ((info: ProgramSigInfo) => void) | number;
  readonly flags: number;
  readonly mask: readonly number[];
}

/**
 * What a program's memory accesses go through: its own MMU's accessors, and nothing else. The object
 * holds no reference to the MMU's internals, the machine's RAM or the channel to the kernel, so a
 * program reaches memory only through its own page tables. Programs are trusted JavaScript running in
 * the same Node process (this is not a sandbox), but the documented API never hands out the machine.
 */
export type ProgramMmu = Pick<
  Mmu,
  | "load8"
  | "load16"
  | "load32"
  | "load64"
  | "store8"
  | "store16"
  | "store32"
  | "store64"
  | "read"
  | "recycle"
  | "readInto"
  | "write"
>;

/** A program's main: raw syscalls, the MMU and argv in, the exit code out. */
export type ProgramMain = (sys: Sys, mmu: ProgramMmu, argv: readonly string[]) => number | undefined;

/** What `defineProgram` returns: the default export of a program module. */
export interface Program {
  readonly faultlineProgram: 1;
  readonly main: ProgramMain;
  readonly child: ProgramMain | undefined;
  readonly thread?: ProgramMain | undefined;
  /** ProgramOptions.reuseModule. */
  readonly reuseModule?: boolean;
}

/** How a program's module may be treated (the last argument of `defineProgram`). */
export interface ProgramOptions {
  /**
   * True: a pooled worker thread (WorkerPool, as `faultline sweep` uses) that runs this program again
   * takes the module it imported for an earlier process instead of importing it afresh. That skips
   * loading the module (a file read and a compile per process) and keeps the program's code compiled
   * and optimized from process to process: sweeps of short runs go ~1.3× faster. Only for a module
   * that keeps no state of its own between processes (no top-level variable its entries change, no
   * cache filled at run time), since its processes then share it, as two runs of a library would.
   * Default false: every process starts from a fresh copy of the module, as an exec'd program does.
   */
  readonly reuseModule?: boolean;
}

/**
 * A process program: a module whose default export is `defineProgram(main, child?, thread?,
 * options?)` (or `defineProgram(main, options)`). `main` runs in a worker with the process's
 * syscalls and MMU and returns the exit code (undefined = 0). A throw exits with status 1; an
 * unhandled SIGSEGV/SIGBUS from the MMU ends the process with that signal. `child`, if given, is what
 * a forked child runs instead of `main`; `thread`, what a thread created by `sys.clone(CLONE_THREAD…)`
 * runs. A bad argument throws a TypeError (the process then exits 127 saying why).
 */
export function defineProgram(main: ProgramMain, options?: ProgramOptions): Program;
export function defineProgram(
  main: ProgramMain,
  child?: ProgramMain,
  thread?: ProgramMain,
  options?: ProgramOptions,
): Program;
export function defineProgram(
  main: ProgramMain,
  childOrOptions?: ProgramMain | ProgramOptions,
  thread?: ProgramMain,
  options?: ProgramOptions,
): Program {
  const onlyOptions = typeof childOrOptions === "object" && childOrOptions !== null;
  // null says "no such entry", as undefined does: programs pass defineProgram(main, null, thread).
  const entry = (what: string, f: unknown): ProgramMain | undefined => {
    if (f !== undefined && f !== null && typeof f !== "function")
      throw new TypeError(`defineProgram: ${what} must be a function, got ${typeof f}`);
    return (f ?? undefined) as ProgramMain | undefined;
  };
  if (typeof main !== "function")
    throw new TypeError(`defineProgram: main must be a function, got ${typeof main}`);
  const child = onlyOptions ? undefined : entry("child", childOrOptions);
  const o = onlyOptions ? childOrOptions : options;
  const threadEntry = entry("thread", thread);
  if (o !== undefined && o !== null && typeof o !== "object")
    throw new TypeError(`defineProgram: options must be an object, got ${typeof o}`);
  const reuse = o?.reuseModule;
  if (reuse !== undefined && typeof reuse !== "boolean")
    throw new TypeError(`defineProgram: options.reuseModule must be a boolean, got ${typeof reuse}`);
  return { faultlineProgram: 1, main, child, thread: threadEntry, ...(reuse ? { reuseModule: true } : {}) };
}

/** Wait-status helpers (sys/wait.h). */
export const WIFEXITED = (status: number): boolean => (status & 0x7f) === 0;
export const WEXITSTATUS = (status: number): number => (status >> 8) & 0xff;
export const WIFSIGNALED = (status: number): boolean => (status & 0x7f) !== 0 && (status & 0x7f) !== 0x7f;
export const WTERMSIG = (status: number): number => status & 0x7f;
