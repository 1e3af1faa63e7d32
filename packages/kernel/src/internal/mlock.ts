/** mm/mlock.c and mm/mincore.c entry points: mlock2, mlockall, munlockall, mincore. */
import { EINVAL } from "../constants";
import type { Kernel, Task } from "./kernel";

/** mlock2(2) flags. */
export const MLOCK_ONFAULT = 0x01;

/** mlock2(2): -EINVAL for an unknown flag, else mlock (MLOCK_ONFAULT: VM_LOCKONFAULT, nothing populated). */
export function sysMlock2(_k: Kernel, t: Task, start: number, len: number, flags: number): number {
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  return t.mm.mlock(start, len, true, (flags & MLOCK_ONFAULT) !== 0);
}

export function sysMlockall(_k: Kernel, t: Task, flags: number): number {
  return t.mm.mlockall(flags);
}

export function sysMunlockall(_k: Kernel, t: Task): number {
  return t.mm.munlockall();
}

/**
 * mincore(2): `vec` filled (0 returned), or with a count a new vector of that many bytes is filled
 * and returned; -errno as mm's doMincore (-EFAULT for a vector shorter than the range).
 */
export function sysMincore(
  _k: Kernel,
  t: Task,
  start: number,
  len: number,
  vec: Uint8Array | number,
): Uint8Array | number {
  const out = typeof vec === "number" ? new Uint8Array(Math.max(0, Math.min(vec, 1 << 24))) : vec;
  const r = t.mm.mincore(start, len, out);
  if (r < 0) return r;
  return typeof vec === "number" ? out : 0;
}
