/**
 * The syscall entry (arch/x86/entry/common.c do_syscall_64 and the SYSCALL_DEFINE wrappers): each
 * argument is converted as the C ABI would pass it, then the handler runs in kernel context.
 *
 * Conversion (what a register holds once the C prototype has read it):
 *  - integers (numbers or bigints) become the parameter's C type: 32-bit types modulo 2^32 (int
 *    and pid_t signed, unsigned int unsigned), 64-bit types modulo 2^64, handed over as their
 *    two's-complement value (a size_t of 2^64 - 1 arrives as -1: mm's `ul()` and the handlers read
 *    unsigned types unsigned, as the kernel does, so a negative length is a huge size_t). A 64-bit
 *    value of magnitude 2^52 or more arrives as a stand-in below 2^53 (standIn: same sign, same page
 *    and huge page offset, same order but for values 4 GiB apart), and a flags or prot argument ("unsigned long
 *    flags") as its low 32 bits plus 2^32 when any higher bit is set: what Linux checks of such a
 *    value reads the same. Give values that large as bigints: a number has already lost its low bits;
 *  - anything else (NaN, ±Infinity, a fraction, a string where a number is expected, null, an
 *    object, a number where a path is expected) throws a TypeError naming the syscall and the
 *    argument, before the kernel is entered: nothing changes and the process goes on.
 * An undefined argument takes the default the table gives it (the JS API's optional arguments);
 * without one it is refused like any other non-integer.
 */
import { SignalError } from "@faultline/mm";
import { EFAULT, ENOSYS, ESRCH } from "../constants";
import { describeValue } from "../options";
import { SIG_DFL, SIG_IGN } from "../signal";
import { enterKernel, leaveKernel } from "./current";
import { doExit } from "./exit";
import type { Kernel, Task } from "./kernel";
import { KERNEL, oops } from "./oops";
import { chargeSyscall } from "./posix-cpu-timers";
import type { KSigAction } from "./sighand";
import { deliverPending, kSigAction, sigsetFromArray } from "./signal";
import { kickDeferrable } from "./timer";

/** The C types a syscall parameter may have here, and the JS value each becomes. */
export interface ArgKinds {
  int: number;
  pid_t: number;
  "unsigned int": number;
  umode_t: number;
  long: number;
  off_t: number;
  "unsigned long": number;
  /**
   * An unsigned long read bit by bit (prot, flags): its low 32 bits exactly, plus 2^32 when any higher
   * bit is set (no such call knows a bit above 31; each refuses or ignores them as Linux does).
   */
  "unsigned long flags": number;
  size_t: number;
  /** `const char __user *` naming a path: a string. */
  "const char *path": string;
  /** `const char __user *buf` with its count: bytes, or a string (written as UTF-8). */
  "const char *buf": Uint8Array | string;
  /** `char __user *buf` with its count: the bytes to fill, or a size_t count (a new buffer is returned). */
  "char *buf": Uint8Array | number;
  /**
   * `const struct sigaction __user *act`: given as null (only read the old action), SIG_DFL, SIG_IGN
   * or a SigAction ({ handler, flags, mask }); the handler receives the kernel's k_sigaction.
   */
  "const struct sigaction *": KSigAction | null;
  /** `const sigset_t __user *`: given as the signals of the set (numbers 1..64) or null; a set (bigint) after. */
  "const sigset_t *": bigint | null;
  /** `const struct rlimit __user *`: { cur, max } (RLIM_INFINITY is -1), or null. */
  "const struct rlimit *": { readonly cur: number; readonly max: number } | null;
  /**
   * `struct shmid_ds __user *buf` of shmctl(IPC_SET): given as { shmPerm: { uid, gid, mode } } (what
   * IPC_SET reads), or null / omitted (a NULL buf).
   */
  "struct shmid_ds *": { readonly uid: number; readonly gid: number; readonly mode: number } | null;
  /**
   * `struct timespec __user *` the call writes (clock_gettime's tp, a sleep's rem): a 16-byte buffer
   * it fills with tv_sec and tv_nsec (little-endian 64-bit), or null / omitted (a NULL pointer).
   */
  "struct timespec *": Uint8Array | null;
}
/** The C type of a syscall parameter, as the syscall table names it. */
export type ArgKind = keyof ArgKinds;

export interface ParamSpec<K extends ArgKind = ArgKind> {
  readonly name: string;
  readonly kind: K;
  /** Used when the argument is left out (the JS API's optional arguments). */
  readonly default?: ArgKinds[K];
}

type ArgsOf<P extends readonly ParamSpec[]> = {
  -readonly [I in keyof P]: P[I] extends ParamSpec<infer K> ? ArgKinds[K] : never;
};

/** One line of syscall_64.tbl: number, name, the JS method, the parameters and the entry point. */
export interface SyscallEntry<P extends readonly ParamSpec[] = readonly ParamSpec[]> {
  /** The x86-64 syscall number. */
  readonly nr: number;
  /** The kernel's name (sys_<name>). */
  readonly name: string;
  /** The method of Syscalls / Libc / a program's `sys` that makes this call. */
  readonly method: string;
  readonly params: P;
  /** The parameters' kinds as codes (C_*), for the conversion's hot path. */
  readonly codes: readonly number[];
  readonly handler: (k: Kernel, t: Task, ...args: ArgsOf<P>) => unknown;
  /**
   * The Linux release that added the call when it is later than 2.6.10 ("4.4" for mlock2), else null.
   * On a 2.6.10 machine such a call is sys_ni_syscall: it enters the kernel like any other and
   * returns -ENOSYS.
   */
  readonly since: string | null;
}

/** A table line, with the handler's parameter types checked against the declared kinds. */
export function syscall<const P extends readonly ParamSpec[]>(
  nr: number,
  name: string,
  method: string,
  params: P,
  handler: (k: Kernel, t: Task, ...args: ArgsOf<P>) => unknown,
  since: string | null = null,
): SyscallEntry {
  if (since !== null && !laterThan2610(since))
    throw new Error(`syscall ${name}: since ${since} is not a release after 2.6.10`);
  // One shape for every entry (the entry's fields are read on every call: keep those loads monomorphic).
  const entry: SyscallEntry = {
    nr,
    name,
    method,
    params,
    codes: params.map((p) => CODE[p.kind]),
    handler: handler as SyscallEntry["handler"],
    since,
  };
  return Object.freeze(entry);
}

/** Whether a release "a.b[.c]" is later than 2.6.10. */
function laterThan2610(release: string): boolean {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(release);
  if (!m) return false;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return a > 2 || (a === 2 && (b > 6 || (b === 6 && c > 10)));
}

/** Kind codes: the integer kinds first (C_FLAGS64 and below), so one compare picks the hot path. */
const C_INT32 = 0;
const C_UINT32 = 1;
const C_INT64 = 2;
const C_FLAGS64 = 3;
const C_PATH = 4;
const C_INBUF = 5;
const C_OUTBUF = 6;
const C_SIGACTION = 7;
const C_SIGSET = 8;
const C_RLIMIT = 9;
const C_SHMID_DS = 10;
const C_TIMESPEC_OUT = 11;
const CODE: Record<ArgKind, number> = {
  int: C_INT32,
  pid_t: C_INT32,
  "unsigned int": C_UINT32,
  umode_t: C_UINT32,
  long: C_INT64,
  off_t: C_INT64,
  "unsigned long": C_INT64,
  "unsigned long flags": C_FLAGS64,
  size_t: C_INT64,
  "const char *path": C_PATH,
  "const char *buf": C_INBUF,
  "char *buf": C_OUTBUF,
  "const struct sigaction *": C_SIGACTION,
  "const sigset_t *": C_SIGSET,
  "const struct rlimit *": C_RLIMIT,
  "struct shmid_ds *": C_SHMID_DS,
  "struct timespec *": C_TIMESPEC_OUT,
};

/** An integer number as C type `code` (C_INT32, C_UINT32, C_INT64 or C_FLAGS64). */
function fromNumber(code: number, v: number): number {
  if (code === C_INT32) return v | 0;
  if (code === C_UINT32) return v >>> 0;
  // 64-bit: a small integer already is its two's-complement value; beyond, reduce exactly.
  if (code === C_FLAGS64) return v === v >>> 0 ? v : fromBigInt(code, BigInt(v));
  return v < 2 ** 52 && v > -(2 ** 52) ? v : fromBigInt(code, BigInt(v));
}

const TWO52 = 2n ** 52n;
/** The offset in a 2 MiB huge page (x86-64's PMD_SIZE). */
const HPAGE_MASK = 2n ** 21n - 1n;

function fromBigInt(code: number, v: bigint): number {
  if (code === C_INT32) return Number(BigInt.asIntN(32, v));
  if (code === C_UINT32) return Number(BigInt.asUintN(32, v));
  const s = BigInt.asIntN(64, v);
  if (code === C_FLAGS64)
    return s === BigInt.asUintN(32, s) ? Number(s) : Number(BigInt.asUintN(32, s)) + 2 ** 32;
  if (s < TWO52 && s > -TWO52) return Number(s);
  return standIn(s);
}

/**
 * A 64-bit value of magnitude 2^52 or more, which a double cannot always hold, as a stand-in below
 * 2^53: the same sign, the same offset in a 2 MiB huge page (low 21 bits, in two's complement: so
 * the 4 KiB page offset too), and its magnitude above 2^52 scaled down by 2^11 in whole huge pages,
 * so that stand-ins keep the values' order (up to values 4 GiB apart) and stay far outside user
 * space (TASK_SIZE is 2^47), where Linux's checks (alignment, sign, the range, which of two lengths
 * is larger) answer the same. Where it differs from Linux: two values closer than 4 GiB may compare
 * the wrong way; an offset within 2^52 of MAX_LFS_FILESIZE (2^63 - 1) is not compared with it exactly
 * (a 2 MiB mapping at 2^63 - 2 MiB maps, Linux says -EOVERFLOW); an rlimit set that high is kept, and
 * read back by getrlimit, as its stand-in.
 */
function standIn(s: bigint): number {
  const m = s < 0n ? -s : s;
  const r = 2 ** 52 + Number((((m - TWO52) >> 11n) & ~HPAGE_MASK) | (m & HPAGE_MASK));
  return s < 0n ? -r : r;
}

function refuse(e: SyscallEntry, i: number, what: string, v: unknown): never {
  throw new TypeError(`${e.name}: ${e.params[i]!.name} must be ${what}, got ${describeValue(v)}`);
}

/** Everything but an integer number for an integer parameter: defaults, bigints, paths, buffers. */
function convertSlow(e: SyscallEntry, i: number, value: unknown): unknown {
  const code = e.codes[i]!;
  const dflt = e.params[i]!.default;
  const v = value === undefined && dflt !== undefined ? dflt : value;
  switch (code) {
    case C_PATH:
      return typeof v === "string" ? v : refuse(e, i, "a string", v);
    case C_INBUF:
      return typeof v === "string" || v instanceof Uint8Array
        ? v
        : refuse(e, i, "a Uint8Array or a string", v);
    case C_OUTBUF:
      if (v instanceof Uint8Array) return v;
      if (typeof v === "number" && Number.isInteger(v)) return fromNumber(C_INT64, v);
      if (typeof v === "bigint") return fromBigInt(C_INT64, v);
      return refuse(e, i, "a Uint8Array or an integer count", v);
    case C_SIGACTION:
      return toSigAction(e, i, v);
    case C_SIGSET:
      if (v === null || v === undefined) return null;
      if (!isSignalList(v)) return refuse(e, i, "null or an array of signal numbers 1..64", v);
      return sigsetFromArray(v);
    case C_RLIMIT: {
      if (v === null) return null;
      const r = v as { cur?: unknown; max?: unknown };
      const ok = (x: unknown) => (typeof x === "number" && Number.isInteger(x)) || typeof x === "bigint";
      if (typeof v !== "object" || !ok(r.cur) || !ok(r.max))
        return refuse(e, i, "null or { cur, max } with integer limits (RLIM_INFINITY is -1)", v);
      // rlim_t is an unsigned long: as the other 64-bit arguments, two's complement (~0UL is -1); a
      // limit of 2^52 or more is kept as its stand-in (see standIn: getrlimit reads that back).
      const u = (x: unknown) =>
        typeof x === "bigint" ? fromBigInt(C_INT64, x) : fromNumber(C_INT64, x as number);
      return { cur: u(r.cur), max: u(r.max) };
    }
    case C_TIMESPEC_OUT:
      if (v === null || v === undefined) return null;
      return v instanceof Uint8Array ? v : refuse(e, i, "null or a Uint8Array of 16 bytes", v);
    case C_SHMID_DS: {
      if (v === null || v === undefined) return null;
      const perm = (v as { shmPerm?: Record<string, unknown> }).shmPerm;
      const int = (x: unknown) => typeof x === "number" && Number.isInteger(x);
      if (
        typeof v !== "object" ||
        typeof perm !== "object" ||
        perm === null ||
        ![perm.uid, perm.gid, perm.mode].every(int)
      )
        return refuse(e, i, "null or { shmPerm: { uid, gid, mode } } with integers", v);
      // uid_t, gid_t and the mode are 32-bit unsigned in struct ipc64_perm.
      return {
        uid: (perm.uid as number) >>> 0,
        gid: (perm.gid as number) >>> 0,
        mode: (perm.mode as number) >>> 0,
      };
    }
    default:
      if (typeof v === "number" && Number.isInteger(v)) return fromNumber(code, v);
      if (typeof v === "bigint") return fromBigInt(code, v);
      return refuse(e, i, "an integer", v);
  }
}

const isSignalList = (v: unknown): v is readonly number[] =>
  Array.isArray(v) && v.every((n) => Number.isInteger(n) && n >= 1 && n <= 64);

/** struct sigaction from user space: what the kernel keeps (mask as a set), or null. */
function toSigAction(e: SyscallEntry, i: number, v: unknown): KSigAction | null {
  if (v === null || v === undefined) return null;
  if (v === SIG_DFL || v === SIG_IGN) return kSigAction(v, 0, []);
  if (typeof v !== "object" || Array.isArray(v))
    return refuse(e, i, "null, SIG_DFL, SIG_IGN or { handler, flags, mask }", v);
  const a = v as Record<string, unknown>;
  const h = a.handler;
  if (typeof h !== "function" && !(typeof h === "number" && Number.isSafeInteger(h) && h >= 0))
    return refuse(e, i, "an action whose handler is a function, SIG_DFL, SIG_IGN or a user address", h);
  const flags = a.flags ?? 0;
  if (typeof flags !== "number" || !Number.isInteger(flags))
    return refuse(e, i, "an action whose flags are an integer (SA_*)", flags);
  const mask = a.mask ?? [];
  if (!isSignalList(mask))
    return refuse(e, i, "an action whose mask is an array of signal numbers 1..64", mask);
  // sa_flags is an unsigned long: SA_RESETHAND (bit 31) arrives whether written as 0x80000000 or | 0.
  return kSigAction(h as KSigAction["handler"], flags >>> 0, mask);
}

/**
 * Converts `args` in place to what the handler receives (callers pass a fresh array: a literal or a
 * rest parameter); throws TypeError for one C could not have passed. Extra arguments are ignored, as
 * the registers past a syscall's parameters are.
 */
export function convertArgs(e: SyscallEntry, args: unknown[]): unknown[] {
  const codes = e.codes;
  const n = codes.length;
  for (let i = 0; i < n; i++) {
    const v = args[i];
    const code = codes[i]!;
    args[i] =
      typeof v === "number" && code <= C_FLAGS64 && Number.isInteger(v)
        ? fromNumber(code, v)
        : convertSlow(e, i, v);
  }
  return args;
}

type Handler = (k: Kernel, t: Task, ...a: unknown[]) => unknown;

/** handler(k, t, a[0], …, a[n - 1]) without a spread (the table's longest row has six parameters). */
function invoke(h: Handler, n: number, k: Kernel, t: Task, a: unknown[]): unknown {
  switch (n) {
    case 0:
      return h(k, t);
    case 1:
      return h(k, t, a[0]);
    case 2:
      return h(k, t, a[0], a[1]);
    case 3:
      return h(k, t, a[0], a[1], a[2]);
    case 4:
      return h(k, t, a[0], a[1], a[2], a[3]);
    case 5:
      return h(k, t, a[0], a[1], a[2], a[3], a[4]);
    default:
      return h(k, t, ...a.slice(0, n));
  }
}

/**
 * Runs `fn` as a syscall of `t` in kernel context. A dead process gets -ESRCH. A throw is a kernel
 * bug (drivers' throws are caught nearer, in callDriver): an oops, and -EFAULT. A process an oops
 * marked for death is killed when the call returns, and the call throws SignalError(SIGKILL).
 */
export function inSyscall<T>(k: Kernel, t: Task, name: string, fn: () => T): T | number {
  if (t.state !== "running") return -ESRCH;
  const prevT = k.current;
  k.current = t;
  const prev = enterKernel(k);
  let r: T | number;
  try {
    r = fn();
  } catch (e) {
    r = kernelBug(k, name, e);
  } finally {
    leaveKernel(prev);
    k.current = prevT;
  }
  if (t.killPending) killed(k, t, name);
  return r;
}

/** A throw that reached the syscall entry: a signal goes on, anything else is a kernel oops (-EFAULT). */
function kernelBug(k: Kernel, name: string, e: unknown): number {
  if (SignalError.is(e)) throw e;
  oops(k, k.currentDriver ?? KERNEL, `sys_${name}`, e);
  return -EFAULT;
}

/** A signal killed the caller during the call (kill(getpid(), SIGTERM), rt_sigreturn without a frame…): it never returns. */
function diedOfSignal(t: Task, name: string): never {
  throw new SignalError(t.exitSignal!, "SI_USER", 0, `killed during ${name}()`);
}

/** An oops marked the caller: it dies on the way out, and the syscall never returns. */
function killed(k: Kernel, t: Task, name: string): never {
  doExit(k, t, { signal: "SIGKILL" });
  throw new SignalError("SIGKILL", "SI_KERNEL", 0, `killed during ${name}() after a driver oops`);
}

/**
 * A syscall through its table entry: arguments converted in place (`args` must be the caller's own
 * fresh array; a TypeError before anything else), then run.
 */
export function doSyscall(k: Kernel, t: Task, e: SyscallEntry, args: unknown[]): unknown {
  const a = convertArgs(e, args);
  const h = e.handler as Handler;
  if (t.state !== "running") return -ESRCH;
  chargeSyscall(t);
  kickDeferrable(k);
  const prevT = k.current;
  k.current = t;
  const prev = enterKernel(k);
  let r: unknown;
  try {
    // A call added after 2.6.10 is sys_ni_syscall on a 2.6.10 machine: entered like any, -ENOSYS.
    r = e.since !== null && k.era === "2.6.10" ? -ENOSYS : invoke(h, e.codes.length, k, t, a);
  } catch (err) {
    r = kernelBug(k, e.name, err);
  } finally {
    leaveKernel(prev);
    k.current = prevT;
  }
  if (t.killPending) killed(k, t, e.name);
  // exit_to_user_mode(): pending signals are delivered on the way back to the process.
  if (t.sig.pending !== 0n && t.state === "running") deliverPending(k, t);
  if (t.state !== "running" && t.exitSignal !== null) diedOfSignal(t, e.name);
  return r;
}
