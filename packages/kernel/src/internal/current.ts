import type { Kernel } from "./kernel";

/**
 * The kernel that is running right now (Linux's `current` and its kernel, in one): set around every
 * call into a driver, every syscall and every fault, so the driver API's free functions know which
 * machine they act on.
 */
let current: Kernel | null = null;

export function enterKernel(k: Kernel): Kernel | null {
  const prev = current;
  current = k;
  return prev;
}

export function leaveKernel(prev: Kernel | null): void {
  current = prev;
}

export function currentKernel(what: string): Kernel {
  if (!current) {
    throw new Error(
      `${what}: no current kernel: the driver API works only inside a driver callback (init, fops, vm_ops) or Machine.withKernel()`,
    );
  }
  return current;
}

export function currentKernelOrNull(): Kernel | null {
  return current;
}
