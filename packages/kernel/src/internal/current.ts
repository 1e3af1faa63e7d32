import pkg from "../../package.json" with { type: "json" };
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

/**
 * One loaded copy of @faultline/kernel. A driver plugin that bundles the kernel, or lists it as a
 * dependency the package manager does not dedupe, brings a second copy with its own `current`: the
 * driver API called through it sees no running kernel. Every copy registers itself under a key of the
 * global symbol registry, so any copy can name the others.
 */
export interface KernelCopy {
  /** package.json version of the copy. */
  readonly version: string;
  /** Where the copy was loaded from (import.meta.url of its module). */
  readonly url: string;
  /** Whether this copy is running kernel code right now. */
  running(): boolean;
}

const COPIES_KEY = Symbol.for("@faultline/kernel.copies");

/** The key of the hidden property by which defineDriver() marks its result with the copy that made it. */
export const COPY_BRAND = Symbol.for("@faultline/kernel.copy");

/** This copy. */
export const THIS_COPY: KernelCopy = Object.freeze({
  version: pkg.version,
  url: import.meta.url,
  running: () => current !== null,
});

/** Every copy of @faultline/kernel loaded in this thread (registering this one first, once). */
export function kernelCopies(): readonly KernelCopy[] {
  const g = globalThis as { [COPIES_KEY]?: KernelCopy[] };
  let list = g[COPIES_KEY];
  if (!Array.isArray(list)) {
    list = [];
    Object.defineProperty(g, COPIES_KEY, { value: list, enumerable: false });
  }
  if (!list.includes(THIS_COPY)) list.push(THIS_COPY);
  return list;
}
kernelCopies();

/** "@faultline/kernel 0.1.0 at file:///…/dist/index.js" */
export function describeCopy(c: KernelCopy): string {
  return `@faultline/kernel ${c.version} at ${c.url}`;
}

/** The advice every two-copies message ends with. */
export const PEER_DEPENDENCY_ADVICE =
  "a driver plugin must take @faultline/kernel as a peerDependency (not a dependency, and not bundled into its build) so that it shares the copy of the program that creates the machine";

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
