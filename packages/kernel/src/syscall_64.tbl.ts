/**
 * The syscalls Faultline offers, as arch/x86/entry/syscalls/syscall_64.tbl lists Linux's: the x86-64
 * number, the name, the parameters with their C types (include/linux/syscalls.h) and the entry
 * point. `Syscalls` (p.sys), `Libc` (p.libc) and the simulator's worker dispatch all go through
 * this table: a name or number that is not here is -ENOSYS, and nothing else is reachable.
 *
 * Parameter names follow the man pages (what a caller reads); the handlers live in internal/, in
 * files named after the kernel's.
 */
import { sysClone, sysExitGroup, sysGettid, sysTgkill } from "./internal/clone";
import { sysExit, sysWait4 } from "./internal/exit";
import { sysFork, sysGetpid, sysGetppid } from "./internal/fork";
import { sysClose, sysDup, sysIoctl, sysOpen } from "./internal/fs";
import { sysMincore, sysMlock2, sysMlockall, sysMunlockall } from "./internal/mlock";
import {
  sysBrk,
  sysMadvise,
  sysMlock,
  sysMmap,
  sysMprotect,
  sysMremap,
  sysMseal,
  sysMsync,
  sysMunlock,
  sysMunmap,
  sysPkeyAlloc,
  sysPkeyFree,
  sysPkeyMprotect,
} from "./internal/mman";
import { sysLseek, sysRead, sysWrite } from "./internal/read-write";
import { sysGetrlimit, sysPrlimit64, sysSetrlimit } from "./internal/resource";
import {
  sysKill,
  sysRtSigaction,
  sysRtSigpending,
  sysRtSigprocmask,
  sysRtSigreturn,
} from "./internal/signal";
import { type SyscallEntry, syscall } from "./internal/syscall";
import { FILE_SYSCALLS } from "./syscall_64.files.tbl";
import { TIME_SYSCALLS } from "./syscall_64.time.tbl";

export const SYS_read = 0;
export const SYS_write = 1;
export const SYS_open = 2;
export const SYS_close = 3;
export const SYS_lseek = 8;
export const SYS_mmap = 9;
export const SYS_mprotect = 10;
export const SYS_munmap = 11;
export const SYS_brk = 12;
export const SYS_rt_sigaction = 13;
export const SYS_rt_sigprocmask = 14;
export const SYS_rt_sigreturn = 15;
export const SYS_ioctl = 16;
export const SYS_mremap = 25;
export const SYS_msync = 26;
export const SYS_mincore = 27;
export const SYS_madvise = 28;
export const SYS_dup = 32;
export const SYS_getpid = 39;
export const SYS_clone = 56;
export const SYS_fork = 57;
export const SYS_exit = 60;
export const SYS_wait4 = 61;
export const SYS_kill = 62;
export const SYS_getrlimit = 97;
export const SYS_getppid = 110;
export const SYS_rt_sigpending = 127;
export const SYS_mlock = 149;
export const SYS_munlock = 150;
export const SYS_mlockall = 151;
export const SYS_munlockall = 152;
export const SYS_setrlimit = 160;
export const SYS_gettid = 186;
export const SYS_exit_group = 231;
export const SYS_tgkill = 234;
export const SYS_prlimit64 = 302;
export const SYS_mlock2 = 325;
export const SYS_pkey_mprotect = 329;
export const SYS_pkey_alloc = 330;
export const SYS_pkey_free = 331;
export const SYS_mseal = 462;

const fd = { name: "fd", kind: "unsigned int" } as const;
const addr = { name: "addr", kind: "unsigned long" } as const;

/** The process, memory and signal rows. */
const CORE_SYSCALLS: readonly SyscallEntry[] = [
  syscall(SYS_read, "read", "read", [fd, { name: "buf", kind: "char *buf" }], sysRead),
  syscall(SYS_write, "write", "write", [fd, { name: "buf", kind: "const char *buf" }], sysWrite),
  syscall(
    SYS_open,
    "open",
    "open",
    [
      { name: "pathname", kind: "const char *path" },
      { name: "flags", kind: "int" },
      { name: "mode", kind: "umode_t", default: 0 },
    ],
    sysOpen,
  ),
  syscall(SYS_close, "close", "close", [fd], sysClose),
  syscall(
    SYS_lseek,
    "lseek",
    "lseek",
    [fd, { name: "offset", kind: "off_t" }, { name: "whence", kind: "unsigned int" }],
    sysLseek,
  ),
  syscall(
    SYS_mmap,
    "mmap",
    "mmap",
    [
      addr,
      { name: "length", kind: "unsigned long" },
      { name: "prot", kind: "unsigned long flags" },
      { name: "flags", kind: "unsigned long flags" },
      { name: "fd", kind: "unsigned long" },
      { name: "offset", kind: "unsigned long" },
    ],
    sysMmap,
  ),
  syscall(
    SYS_mprotect,
    "mprotect",
    "mprotect",
    [addr, { name: "len", kind: "size_t" }, { name: "prot", kind: "unsigned long flags" }],
    sysMprotect,
  ),
  syscall(SYS_munmap, "munmap", "munmap", [addr, { name: "length", kind: "size_t" }], sysMunmap),
  // brk(addr): the kernel's answer is the break, moved or not; glibc's brk()/sbrk() make errno of it.
  syscall(SYS_brk, "brk", "brk", [{ name: "brk", kind: "unsigned long" }], sysBrk),
  // rt_sigaction(signum, act, oldact, sigsetsize): the old action is the result here, and sigset_t
  // has one size; rt_sigprocmask likewise returns the old set.
  syscall(
    SYS_rt_sigaction,
    "rt_sigaction",
    "sigaction",
    [
      { name: "signum", kind: "int" },
      { name: "act", kind: "const struct sigaction *", default: null },
    ],
    sysRtSigaction,
  ),
  syscall(
    SYS_rt_sigprocmask,
    "rt_sigprocmask",
    "sigprocmask",
    [
      { name: "how", kind: "int" },
      { name: "set", kind: "const sigset_t *", default: null },
    ],
    sysRtSigprocmask,
  ),
  syscall(SYS_rt_sigreturn, "rt_sigreturn", "rtSigreturn", [], sysRtSigreturn),
  syscall(
    SYS_ioctl,
    "ioctl",
    "ioctl",
    [fd, { name: "cmd", kind: "unsigned int" }, { name: "arg", kind: "unsigned long", default: 0 }],
    sysIoctl,
  ),
  syscall(
    SYS_mremap,
    "mremap",
    "mremap",
    [
      { name: "old_address", kind: "unsigned long" },
      { name: "old_size", kind: "unsigned long" },
      { name: "new_size", kind: "unsigned long" },
      { name: "flags", kind: "unsigned long flags" },
      { name: "new_address", kind: "unsigned long", default: 0 },
    ],
    sysMremap,
  ),
  syscall(
    SYS_msync,
    "msync",
    "msync",
    [addr, { name: "length", kind: "size_t" }, { name: "flags", kind: "int" }],
    sysMsync,
  ),
  syscall(
    SYS_mincore,
    "mincore",
    "mincore",
    [addr, { name: "length", kind: "size_t" }, { name: "vec", kind: "char *buf" }],
    sysMincore,
  ),
  syscall(
    SYS_madvise,
    "madvise",
    "madvise",
    [addr, { name: "length", kind: "size_t" }, { name: "advice", kind: "int" }],
    sysMadvise,
  ),
  syscall(SYS_dup, "dup", "dup", [{ name: "oldfd", kind: "unsigned int" }], sysDup),
  syscall(SYS_getpid, "getpid", "getpid", [], sysGetpid),
  // clone(flags, stack, parent_tid, child_tid, tls): the flags decide; the rest are user-space pointers.
  syscall(SYS_clone, "clone", "clone", [{ name: "flags", kind: "unsigned long flags" }], sysClone),
  syscall(SYS_fork, "fork", "fork", [], sysFork),
  syscall(SYS_exit, "exit", "exit", [{ name: "status", kind: "int", default: 0 }], sysExit),
  // glibc's waitpid(pid, &status, options) is wait4(pid, &status, options, NULL); the status comes
  // back in the result here instead of through a pointer.
  syscall(
    SYS_wait4,
    "wait4",
    "waitpid",
    [
      { name: "pid", kind: "pid_t" },
      { name: "options", kind: "int", default: 0 },
    ],
    sysWait4,
  ),
  syscall(
    SYS_kill,
    "kill",
    "kill",
    [
      { name: "pid", kind: "pid_t" },
      { name: "sig", kind: "int" },
    ],
    sysKill,
  ),
  syscall(
    SYS_getrlimit,
    "getrlimit",
    "getrlimit",
    [{ name: "resource", kind: "unsigned int" }],
    sysGetrlimit,
  ),
  syscall(SYS_getppid, "getppid", "getppid", [], sysGetppid),
  syscall(SYS_rt_sigpending, "rt_sigpending", "sigpending", [], sysRtSigpending),
  syscall(SYS_mlock, "mlock", "mlock", [addr, { name: "len", kind: "size_t" }], sysMlock),
  syscall(SYS_munlock, "munlock", "munlock", [addr, { name: "len", kind: "size_t" }], sysMunlock),
  syscall(SYS_mlockall, "mlockall", "mlockall", [{ name: "flags", kind: "int" }], sysMlockall),
  syscall(SYS_munlockall, "munlockall", "munlockall", [], sysMunlockall),
  syscall(
    SYS_setrlimit,
    "setrlimit",
    "setrlimit",
    [
      { name: "resource", kind: "unsigned int" },
      { name: "rlim", kind: "const struct rlimit *" },
    ],
    sysSetrlimit,
  ),
  syscall(SYS_gettid, "gettid", "gettid", [], sysGettid),
  syscall(
    SYS_exit_group,
    "exit_group",
    "exitGroup",
    [{ name: "status", kind: "int", default: 0 }],
    sysExitGroup,
  ),
  syscall(
    SYS_tgkill,
    "tgkill",
    "tgkill",
    [
      { name: "tgid", kind: "pid_t" },
      { name: "tid", kind: "pid_t" },
      { name: "sig", kind: "int" },
    ],
    sysTgkill,
  ),
  // prlimit64(pid, resource, new_limit, old_limit): the old limit is the result.
  syscall(
    SYS_prlimit64,
    "prlimit64",
    "prlimit",
    [
      { name: "pid", kind: "pid_t" },
      { name: "resource", kind: "unsigned int" },
      { name: "new_limit", kind: "const struct rlimit *", default: null },
    ],
    sysPrlimit64,
    "2.6.36",
  ),
  syscall(
    SYS_mlock2,
    "mlock2",
    "mlock2",
    [addr, { name: "len", kind: "size_t" }, { name: "flags", kind: "int" }],
    sysMlock2,
    "4.4",
  ),
  syscall(
    SYS_pkey_mprotect,
    "pkey_mprotect",
    "pkeyMprotect",
    [
      addr,
      { name: "len", kind: "size_t" },
      { name: "prot", kind: "unsigned long flags" },
      { name: "pkey", kind: "int" },
    ],
    sysPkeyMprotect,
    "4.9",
  ),
  syscall(
    SYS_pkey_alloc,
    "pkey_alloc",
    "pkeyAlloc",
    [
      { name: "flags", kind: "unsigned long flags" },
      { name: "access_rights", kind: "unsigned long flags" },
    ],
    sysPkeyAlloc,
    "4.9",
  ),
  syscall(SYS_pkey_free, "pkey_free", "pkeyFree", [{ name: "pkey", kind: "int" }], sysPkeyFree, "4.9"),
  syscall(
    SYS_mseal,
    "mseal",
    "mseal",
    [addr, { name: "len", kind: "size_t" }, { name: "flags", kind: "unsigned long flags" }],
    sysMseal,
    "6.10",
  ),
];

/** The table, in syscall-number order: the rows above, the file rows and the time rows (syscall_64.*.tbl.ts). */
export const SYSCALL_TABLE: readonly SyscallEntry[] = Object.freeze(
  [...CORE_SYSCALLS, ...FILE_SYSCALLS, ...TIME_SYSCALLS].sort((a, b) => a.nr - b.nr),
);

const byKey = new Map<string | number, SyscallEntry>();
for (const e of SYSCALL_TABLE) {
  byKey.set(e.nr, e);
  byKey.set(e.name, e);
  byKey.set(e.method, e);
}

/**
 * The table entry for a syscall number, kernel name ("pkey_alloc") or method name ("pkeyAlloc"), or
 * undefined (-ENOSYS). A Map, not an object: "constructor", "__proto__" or "toString" name nothing.
 */
export function lookupSyscall(key: unknown): SyscallEntry | undefined {
  return typeof key === "string" || typeof key === "number" ? byKey.get(key) : undefined;
}

/** The entry for SYS_<nr>; for the callers in this package, which know it exists. */
export function sysEntry(nr: number): SyscallEntry {
  const e = byKey.get(nr);
  if (!e) throw new Error(`no syscall ${nr} in the table`);
  return e;
}

/** One row of the table as a reader sees it: number, kernel name, method, parameters ("kind name"). */
export interface SyscallDescription {
  readonly nr: number;
  readonly name: string;
  readonly method: string;
  readonly params: readonly string[];
  /** The Linux release that added the call when later than 2.6.10 (a 2.6.10 machine: -ENOSYS), else null. */
  readonly since: string | null;
}

const describe = (e: SyscallEntry): SyscallDescription => ({
  nr: e.nr,
  name: e.name,
  method: e.method,
  // The C declaration: a flags argument is an unsigned long like any other (its kind only says how
  // a value beyond a double's 53 bits is read).
  params: e.params.map((p) => `${p.kind === "unsigned long flags" ? "unsigned long" : p.kind} ${p.name}`),
  since: e.since,
});

/** The table without its entry points, in number order (what `faultline` tools print). */
export function syscallNames(): SyscallDescription[] {
  return SYSCALL_TABLE.map(describe);
}

/** The row for a syscall number, kernel name or method name, or undefined (not a syscall: -ENOSYS). */
export function describeSyscall(key: unknown): SyscallDescription | undefined {
  const e = lookupSyscall(key);
  return e && describe(e);
}
