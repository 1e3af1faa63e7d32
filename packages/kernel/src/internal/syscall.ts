/**
 * The syscall entry (arch/x86/entry/common.c do_syscall_64 and the SYSCALL_DEFINE wrappers): each
 * argument is converted as the C ABI would pass it, then the handler runs in kernel context.
 *
 * Conversion (what a register holds once the C prototype has read it):
 *  - integers (numbers or bigints) become the parameter's C type: 32-bit types modulo 2^32 (int
 *    and pid_t signed, unsigned int unsigned), 64-bit types modulo 2^64, handed over as their
 *    two's-complement value (a size_t of 2^64 - 1 arrives as -1: mm's `ul()` and the handlers read
 *    unsigned types unsigned, as the kernel does, so a negative length is a huge size_t);
 *  - anything else (NaN, ±Infinity, a fraction, a string where a number is expected, null, an
 *    object, a number where a path is expected) throws a TypeError naming the syscall and the
 *    argument, before the kernel is entered: nothing changes and the process goes on.
 * An undefined argument takes the default the table gives it (the JS API's optional arguments);
 * without one it is refused like any other non-integer.
 */
import { SignalError } from "@faultline/mm";
import { EFAULT, ESRCH } from "../constants";
import { describeValue } from "../options";
import { enterKernel, leaveKernel } from "./current";
import { doExit } from "./exit";
import type { Kernel, Task } from "./kernel";
import { KERNEL, oops } from "./oops";

/** The C types a syscall parameter may have here, and the JS value each becomes. */
export interface ArgKinds {
  int: number;
  pid_t: number;
  "unsigned int": number;
  umode_t: number;
  long: number;
  off_t: number;
  "unsigned long": number;
  size_t: number;
  /** `const char __user *` naming a path: a string. */
  "const char *path": string;
  /** `const char __user *buf` with its count: bytes, or a string (written as UTF-8). */
  "const char *buf": Uint8Array | string;
  /** `char __user *buf` with its count: the bytes to fill, or a size_t count (a new buffer is returned). */
  "char *buf": Uint8Array | number;
}
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
  /**
   * False for calls that only read the task (getpid, getppid): they answer without entering the
   * kernel, so a zombie's handle still knows its pid.
   */
  readonly enter?: boolean;
  readonly handler: (k: Kernel, t: Task, ...args: ArgsOf<P>) => unknown;
}

/** A table line, with the handler's parameter types checked against the declared kinds. */
export function syscall<const P extends readonly ParamSpec[]>(
  nr: number,
  name: string,
  method: string,
  params: P,
  handler: (k: Kernel, t: Task, ...args: ArgsOf<P>) => unknown,
  options: { readonly enter?: boolean } = {},
): SyscallEntry {
  return Object.freeze({ nr, name, method, params, handler, ...options }) as unknown as SyscallEntry;
}

/** The C value of integer argument `v` of kind `kind`, or undefined when `v` is not an integer. */
function toInteger(kind: ArgKind, v: unknown): number | undefined {
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return undefined;
    switch (kind) {
      case "int":
      case "pid_t":
        return v | 0;
      case "unsigned int":
      case "umode_t":
        return v >>> 0;
      default:
        // 64-bit: a safe integer already is its two's-complement value; beyond, reduce exactly.
        return Number.isSafeInteger(v) ? v : Number(BigInt.asIntN(64, BigInt(v)));
    }
  }
  if (typeof v === "bigint") {
    switch (kind) {
      case "int":
      case "pid_t":
        return Number(BigInt.asIntN(32, v));
      case "unsigned int":
      case "umode_t":
        return Number(BigInt.asUintN(32, v));
      default:
        return Number(BigInt.asIntN(64, v));
    }
  }
  return undefined;
}

function refuse(e: SyscallEntry, p: ParamSpec, what: string, v: unknown): never {
  throw new TypeError(`${e.name}: ${p.name} must be ${what}, got ${describeValue(v)}`);
}

/** The arguments as the handler receives them; throws TypeError for one C could not have passed. */
export function convertArgs(e: SyscallEntry, args: ArrayLike<unknown>): unknown[] {
  const ps = e.params;
  const out = new Array<unknown>(ps.length);
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    let v = args[i];
    if (v === undefined && p.default !== undefined) v = p.default;
    switch (p.kind) {
      case "const char *path":
        if (typeof v !== "string") refuse(e, p, "a string", v);
        out[i] = v;
        break;
      case "const char *buf":
        if (typeof v !== "string" && !(v instanceof Uint8Array)) refuse(e, p, "a Uint8Array or a string", v);
        out[i] = v;
        break;
      case "char *buf": {
        if (v instanceof Uint8Array) {
          out[i] = v;
          break;
        }
        const n = toInteger("size_t", v);
        if (n === undefined) refuse(e, p, "a Uint8Array or an integer count", v);
        out[i] = n;
        break;
      }
      default: {
        const n = toInteger(p.kind, v);
        if (n === undefined) refuse(e, p, "an integer", v);
        out[i] = n;
      }
    }
  }
  return out;
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
    if (SignalError.is(e)) throw e;
    oops(k, k.currentDriver ?? KERNEL, `sys_${name}`, e);
    r = -EFAULT;
  } finally {
    leaveKernel(prev);
    k.current = prevT;
  }
  if (t.killPending) {
    doExit(k, t, { signal: "SIGKILL" });
    throw new SignalError("SIGKILL", "SI_KERNEL", 0, `killed during ${name}() after a driver oops`);
  }
  return r;
}

/** A syscall through its table entry: arguments converted (TypeError before anything else), then run. */
export function doSyscall(k: Kernel, t: Task, e: SyscallEntry, args: ArrayLike<unknown>): unknown {
  const a = convertArgs(e, args);
  const handler = e.handler as (k: Kernel, t: Task, ...a: unknown[]) => unknown;
  if (e.enter === false) return handler(k, t, ...a);
  return inSyscall(k, t, e.name, () => handler(k, t, ...a));
}
