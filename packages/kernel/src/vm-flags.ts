/**
 * vm_flags_set(), vm_flags_clear(), vm_flags_mod() (include/linux/mm.h): the only sanctioned way to
 * change a live VMA's flags since 6.3. Each first calls vma_start_write(), which asserts that the mm's
 * mmap_lock is held for writing (mmap_assert_write_locked; lockdep and CONFIG_DEBUG_VM make that a
 * WARNING). A driver holds it in ->mmap and in the vm_ops the core calls under it (open, close,
 * may_split, mremap); a fault handler runs under the read lock or the per-VMA lock, and ioctl, read,
 * write and interrupt handlers hold nothing, so a flags change from there is reported. The flags are
 * changed either way, as in the kernel, which warns and goes on.
 */
import type { Vma } from "@faultline/mm";
import { warn } from "./internal/bug";
import { currentKernelOrNull } from "./internal/current";

/** Callbacks the core runs with mmap_lock held for writing. */
const WRITE_LOCKED = new Set([
  "fops->mmap",
  "vm_ops->open",
  "vm_ops->close",
  "vm_ops->may_split",
  "vm_ops->mremap",
]);

function vmaStartWrite(what: string, vma: Vma): void {
  const k = currentKernelOrNull(what);
  if (!k) return;
  const cb = k.currentCallback;
  // Driver code the kernel did not call (a test, a tool using withKernel) is taken as holding the lock.
  if (cb === null || WRITE_LOCKED.has(cb)) return;
  warn(
    k,
    "vma_start_write (include/linux/mm.h)",
    `${what}: mmap_lock not held for write in ${cb} (vma ${vma.vmStart.toString(16)}-${vma.vmEnd.toString(16)})`,
  );
}

/** vm_flags_set(vma, flags): ORs `flags` into vma.vmFlags (mmap_lock must be held for writing). */
export function vmFlagsSet(vma: Vma, flags: number): void {
  vmaStartWrite("vmFlagsSet", vma);
  vma.vmFlags |= flags;
}

/** vm_flags_clear(vma, flags): clears `flags` in vma.vmFlags (mmap_lock must be held for writing). */
export function vmFlagsClear(vma: Vma, flags: number): void {
  vmaStartWrite("vmFlagsClear", vma);
  vma.vmFlags &= ~flags;
}

/** vm_flags_mod(vma, set, clear): both at once, one lock assertion. */
export function vmFlagsMod(vma: Vma, set: number, clear: number): void {
  vmaStartWrite("vmFlagsMod", vma);
  vma.vmFlags = (vma.vmFlags | set) & ~clear;
}
