import type { Machine } from "../machine";

/**
 * The machine whose kernel is running right now (Linux's `current` and its kernel, in one): set by
 * the kernel around every call into a driver and every syscall, so the driver API's free functions
 * know which machine they act on.
 */
let current: Machine | null = null;

export function enterKernel(m: Machine): Machine | null {
  const prev = current;
  current = m;
  return prev;
}

export function leaveKernel(prev: Machine | null): void {
  current = prev;
}

export function currentMachine(what: string): Machine {
  if (!current) {
    throw new Error(
      `${what}: no current kernel: the driver API works only inside a driver callback (init, fops, vm_ops) or Machine.withKernel()`,
    );
  }
  return current;
}

export function currentMachineOrNull(): Machine | null {
  return current;
}
