// Which copy of @faultline/kernel this is, apart from current.ts so that options.ts can check a
// driver's copy without importing current.ts (which knows the Kernel type: options.ts ← kernel.ts ←
// current.ts would be an import cycle).
import pkg from "../../package.json" with { type: "json" };

/** Whether this copy runs kernel code right now (current.ts keeps it up to date). */
let running = false;

/** @internal Called by current.ts on every kernel entry and exit. */
export function setCopyRunning(on: boolean): void {
  running = on;
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
  running: () => running,
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
