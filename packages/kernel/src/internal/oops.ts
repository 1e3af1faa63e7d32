/**
 * kernel/panic.c and the wall around driver code: every call into a driver runs with its kernel as
 * the current one, and a throw becomes an oops (the dmesg report, the current process marked for
 * SIGKILL) instead of a dead machine. A throw from the kernel's own code (not a driver's) is
 * reported as a kernel bug, never blamed on a driver.
 */
import { enterKernel, leaveKernel } from "./current";
import { type Kernel, RELEASE } from "./kernel";

/** The owner a kernel-internal call runs as (built-in files, the syscall and fault paths). */
export const KERNEL = "kernel";

/**
 * Runs driver code with `k` as the current kernel. A throw is an oops: logged, the current process
 * marked for SIGKILL, and `onOops` returned in place of the driver's answer.
 */
export function callDriver<T>(k: Kernel, owner: string, callback: string, fn: () => T, onOops: T): T {
  const prev = enterKernel(k);
  const prevDriver = k.currentDriver;
  const prevCallback = k.currentCallback;
  k.currentDriver = owner;
  k.currentCallback = callback;
  try {
    return fn();
  } catch (e) {
    oops(k, owner, callback, e);
    return onOops;
  } finally {
    k.currentDriver = prevDriver;
    k.currentCallback = prevCallback;
    leaveKernel(prev);
  }
}

/** Runs `fn` as kernel code of `k` (for tests and tools that call the driver API directly). */
export function withKernel<T>(k: Kernel, fn: () => T): T {
  const prev = enterKernel(k);
  try {
    return fn();
  } finally {
    leaveKernel(prev);
  }
}

/** The oops report (a shortened die() → __die() → show_regs()): BUG line, Oops line, CPU line. */
export function oops(k: Kernel, owner: string, callback: string, e: unknown): void {
  const t = k.current;
  const msg = e instanceof Error ? e.message : String(e);
  k.oopses.push({ driver: owner, callback, error: e, pid: t?.pid ?? null });
  k.log.printk(
    1,
    owner === KERNEL
      ? `BUG: kernel oops in ${callback}: ${msg}`
      : `BUG: driver ${owner} oops in ${callback}: ${msg}`,
  );
  k.log.printk(4, `Oops: 0000 [#${k.oopses.length}] SMP`);
  k.log.printk(
    4,
    `CPU: 0 PID: ${t?.pid ?? 0} Comm: ${t?.comm ?? "swapper/0"} Tainted: G      D  O       ${RELEASE[k.era]}`,
  );
  k.log.printk(4, `---[ end trace ${k.oopses.length.toString(16).padStart(16, "0")} ]---`);
  if (t && t.state === "running") t.killPending = true;
}
