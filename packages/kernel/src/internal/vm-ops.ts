/**
 * The kernel's side of a driver's vm_operations_struct: after fops->mmap succeeds, the vm_ops it
 * installed are wrapped so a throw from them is an oops (oops.ts), and the page references a fault
 * handler hands to the fault path are accounted (driverRef / inFault) for checkInvariants().
 */
import { VM_FAULT_SIGBUS, VM_MAYWRITE, type Vma, type VmFault, type VmOperations } from "@faultline/mm";
import type { Page } from "@faultline/phys";
import { EFAULT } from "../constants";
import { warnOnce } from "./bug";
import type { Kernel } from "./kernel";
import { callDriver, KERNEL } from "./oops";

/**
 * After fops->mmap succeeded: catch the driver's vm_ops throwing from now on. With the flags the VMA
 * had before ->mmap, the check __mmap_new_file_vma() (mm/vma.c) makes: a driver must not make a
 * mapping writable that was not (VM_MAYWRITE added where mmap had refused it) — a VM_WARN_ON_ONCE.
 */
export function adoptVma(k: Kernel, vma: Vma, owner: string, flagsBefore?: number): void {
  if (flagsBefore !== undefined && !(flagsBefore & VM_MAYWRITE) && vma.vmFlags & VM_MAYWRITE)
    warnOnce(
      k,
      "__mmap_new_file_vma (mm/vma.c)",
      `${owner}: ->mmap set VM_MAYWRITE on a mapping that may not be written (vm_flags 0x${flagsBefore.toString(16)} -> 0x${vma.vmFlags.toString(16)})`,
    );
  // The kernel's own files (tmpfs, memfd, SysV shm) take their page references themselves.
  if (vma.vmOps && owner !== KERNEL) vma.vmOps = wrapVmOps(k, vma.vmOps, owner);
}

function wrapVmOps(k: Kernel, ops: VmOperations, owner: string): VmOperations {
  if (k.wrappers.has(ops)) return ops;
  let cache = k.wrappedOps.get(owner);
  if (!cache) {
    cache = new WeakMap();
    k.wrappedOps.set(owner, cache);
  }
  const hit = cache.get(ops);
  if (hit) return hit;
  const w: VmOperations = {};
  const call = <T>(cb: string, fn: () => T, onOops: T) => callDriver(k, owner, `vm_ops->${cb}`, fn, onOops);
  const { open, close, fault, nopage, maySplit, mremap, pfnMkwrite, pageMkwrite, name } = ops;
  if (open) w.open = (vma) => call("open", () => open.call(ops, vma), undefined);
  if (close) w.close = (vma) => call("close", () => close.call(ops, vma), undefined);
  if (fault) {
    w.fault = (vmf: VmFault) =>
      call(
        "fault",
        () =>
          inFault(
            k,
            owner,
            "fault",
            () => fault.call(ops, vmf),
            () => vmf.page,
          ),
        VM_FAULT_SIGBUS,
      );
  }
  if (nopage) {
    w.nopage = (vma, address, type) =>
      call(
        "nopage",
        () => {
          let r: ReturnType<typeof nopage> = null;
          inFault(
            k,
            owner,
            "nopage",
            () => {
              r = nopage.call(ops, vma, address, type);
              return 0;
            },
            () => (r && typeof r === "object" ? r : null),
          );
          return r;
        },
        null,
      );
  }
  if (maySplit) w.maySplit = (vma, addr) => call("may_split", () => maySplit.call(ops, vma, addr), -EFAULT);
  if (mremap) w.mremap = (vma) => call("mremap", () => mremap.call(ops, vma), -EFAULT);
  if (pfnMkwrite)
    w.pfnMkwrite = (vmf) => call("pfn_mkwrite", () => pfnMkwrite.call(ops, vmf), VM_FAULT_SIGBUS);
  if (pageMkwrite)
    w.pageMkwrite = (vmf) => call("page_mkwrite", () => pageMkwrite.call(ops, vmf), VM_FAULT_SIGBUS);
  if (name) w.name = (vma) => call("name", () => name.call(ops, vma), null);
  cache.set(ops, w);
  k.wrappers.add(w);
  return w;
}

/**
 * Runs a fault handler. The reference on the page it returns passes to the PTE (or mm drops it), so
 * it stops being the driver's, but only if the handler took it during this call (getPage or
 * allocPages): a handler that forgets get_page leaves the count short, and checkInvariants says so.
 */
function inFault(
  k: Kernel,
  owner: string,
  callback: string,
  fn: () => number,
  result: () => Page | null,
): number {
  const outer = k.faultRefs;
  const refs = new Map<number, number>();
  k.faultRefs = refs;
  try {
    const r = fn();
    const page = result();
    if (page && (refs.get(page.pfn) ?? 0) > 0) driverRef(k, page.pfn, -1);
    // No reference taken: if the PTE's release later underflows, the bad page report names the driver.
    else if (page) k.unreferencedFaultPages.set(page.pfn, { driver: owner, callback });
    return r;
  } finally {
    k.faultRefs = outer;
  }
}

/** A reference a driver took (+1) or gave away (-1) through the driver API. */
export function driverRef(k: Kernel, pfn: number, delta: number): void {
  if (k.faultRefs && delta > 0) k.faultRefs.set(pfn, (k.faultRefs.get(pfn) ?? 0) + delta);
  const n = (k.driverRefs.get(pfn) ?? 0) + delta;
  if (n === 0) k.driverRefs.delete(pfn);
  else k.driverRefs.set(pfn, n);
}
