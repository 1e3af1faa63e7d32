/**
 * kernel/sys.c: getrlimit, setrlimit, prlimit64 (do_prlimit), and what the limits the mm enforces
 * become there (RLIMIT_MEMLOCK, RLIMIT_STACK, RLIMIT_AS, RLIMIT_DATA: mm/mlock.c, mm/vma.c,
 * may_expand_vm). A limit is a number of bytes (or units), RLIM_INFINITY (-1: unsigned long ~0UL)
 * meaning none. A process runs as root with CAP_IPC_LOCK unless spawned unprivileged: then
 * RLIMIT_MEMLOCK applies to it (can_do_mlock, mlock_future_ok).
 */
import { EFAULT, EINVAL, EPERM, ESRCH } from "../constants";
import type { Kernel, Task } from "./kernel";

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;
/** RLIM_INFINITY: ~0UL, which a 64-bit argument here is as -1. */
export const RLIM_INFINITY = -1;
/** sysctl fs.nr_open: the most RLIMIT_NOFILE's hard limit may be. */
const NR_OPEN = 1024 * 1024;

/** struct rlimit: soft (cur) and hard (max) limit, RLIM_INFINITY (-1) for none. */
export interface Rlimit {
  readonly cur: number;
  readonly max: number;
}

const I = RLIM_INFINITY;
/** A login shell's limits on a typical x86-64 machine (INIT_RLIMITS, then what systemd/PAM set). */
export function defaultRlimits(): Rlimit[] {
  const r: Rlimit[] = new Array(RLIM_NLIMITS).fill({ cur: I, max: I });
  r[RLIMIT_STACK] = { cur: 8 * 1024 * 1024, max: I };
  r[RLIMIT_CORE] = { cur: 0, max: I };
  r[RLIMIT_NPROC] = { cur: 63_432, max: 63_432 };
  r[RLIMIT_NOFILE] = { cur: 1024, max: 4096 };
  r[RLIMIT_MEMLOCK] = { cur: 8 * 1024 * 1024, max: 8 * 1024 * 1024 };
  r[RLIMIT_SIGPENDING] = { cur: 63_432, max: 63_432 };
  r[RLIMIT_MSGQUEUE] = { cur: 819_200, max: 819_200 };
  r[RLIMIT_NICE] = { cur: 0, max: 0 };
  r[RLIMIT_RTPRIO] = { cur: 0, max: 0 };
  return r.map((x) => Object.freeze({ ...x }));
}

/** A limit as the mm reads it: bytes, Infinity for none (an unsigned value at or above 2^63 is none too). */
const bytes = (v: number): number => (v < 0 ? Number.POSITIVE_INFINITY : v);

/** The task's limits, as its mm enforces them. */
export function applyRlimits(t: Task): void {
  const mm = t.mm;
  const r = t.rlim;
  mm.mlockLimit = t.capIpcLock ? Number.POSITIVE_INFINITY : bytes(r[RLIMIT_MEMLOCK]!.cur);
  mm.stackLimit = bytes(r[RLIMIT_STACK]!.cur);
  mm.rlimAs = bytes(r[RLIMIT_AS]!.cur);
  mm.rlimData = { cur: bytes(r[RLIMIT_DATA]!.cur), max: bytes(r[RLIMIT_DATA]!.max) };
}

/** The process gives up CAP_IPC_LOCK (capset): RLIMIT_MEMLOCK now applies to it. */
export function dropCapIpcLock(t: Task): void {
  t.capIpcLock = false;
  applyRlimits(t);
}

/** Unsigned 64-bit comparison of two limits (RLIM_INFINITY, -1, is the largest). */
const ulGreater = (a: number, b: number): boolean =>
  BigInt.asUintN(64, BigInt(a)) > BigInt.asUintN(64, BigInt(b));

/**
 * do_prlimit(): the old limit of `resource` of `pid` (0: the caller), setting `next` if given.
 * -EINVAL for an unknown resource or a soft limit above the hard one, -EPERM for RLIMIT_NOFILE above
 * fs.nr_open, -ESRCH for no such process (a zombie still answers).
 */
export function sysPrlimit64(
  k: Kernel,
  t: Task,
  pid: number,
  resource: number,
  next: Rlimit | null,
): Rlimit | number {
  const target = pid === 0 ? t : k.tasks.get(pid);
  if (!target) return -ESRCH;
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  const old = target.rlim[resource]!;
  if (next) {
    if (ulGreater(next.cur, next.max)) return -EINVAL;
    if (resource === RLIMIT_NOFILE && ulGreater(next.max, NR_OPEN)) return -EPERM;
    // Raising the hard limit needs CAP_SYS_RESOURCE, which every process here has.
    target.rlim[resource] = Object.freeze({ cur: next.cur, max: next.max });
    if (target.state === "running") applyRlimits(target);
  }
  return old;
}

/** getrlimit(2). */
export function sysGetrlimit(k: Kernel, t: Task, resource: number): Rlimit | number {
  return sysPrlimit64(k, t, 0, resource, null);
}

/** setrlimit(2): 0 or -errno. */
export function sysSetrlimit(k: Kernel, t: Task, resource: number, next: Rlimit | null): number {
  if (!next) return -EFAULT; // copy_from_user(NULL)
  const r = sysPrlimit64(k, t, 0, resource, next);
  return typeof r === "number" ? r : 0;
}
