import type { Kernel } from "./kernel";
import { describeCopy, kernelCopies, PEER_DEPENDENCY_ADVICE, setCopyRunning, THIS_COPY } from "./kernel-copy";

export {
  COPY_BRAND,
  describeCopy,
  type KernelCopy,
  kernelCopies,
  PEER_DEPENDENCY_ADVICE,
  THIS_COPY,
} from "./kernel-copy";

/**
 * The kernel that is running right now (Linux's `current` and its kernel, in one): set around every
 * call into a driver, every syscall and every fault, so the driver API's free functions know which
 * machine they act on.
 */
let current: Kernel | null = null;

export function enterKernel(k: Kernel): Kernel | null {
  const prev = current;
  current = k;
  setCopyRunning(true);
  return prev;
}

export function leaveKernel(prev: Kernel | null): void {
  current = prev;
  setCopyRunning(prev !== null);
}

/** The error for a driver-API call made through this copy while another copy runs a machine, or null. */
function wrongCopy(what: string): Error | null {
  const other = kernelCopies().find((c) => c !== THIS_COPY && c.running());
  return other
    ? new Error(
        `${what}: called through ${describeCopy(THIS_COPY)}, but the running machine belongs to ${describeCopy(other)}: two copies of @faultline/kernel are loaded; ${PEER_DEPENDENCY_ADVICE}`,
      )
    : null;
}

export function currentKernel(what: string): Kernel {
  if (!current) {
    const e = wrongCopy(what);
    if (e) throw e;
    throw new Error(
      `${what}: no current kernel: the driver API works only inside a driver callback (init, exit, fops, vm_ops) or Machine.withKernel()`,
    );
  }
  return current;
}

/** The current kernel or null (outside any machine); throws when another copy of the kernel is running. */
export function currentKernelOrNull(what: string): Kernel | null {
  if (current) return current;
  const e = wrongCopy(what);
  if (e) throw e;
  return null;
}
