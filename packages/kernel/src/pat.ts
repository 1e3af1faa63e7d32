/**
 * Mapping attributes for drivers (arch/x86/mm/pat/memtype.c, arch/x86/mm/ioremap.c): the pgprot
 * helpers a driver applies to vm_page_prot in ->mmap, the ioremap variants that choose a memory type,
 * and the reservation a driver makes for a range it will hand out page by page (a framebuffer's VRAM
 * mapped write-combined from its fault handler).
 */
import {
  _PAGE_CACHE_MODE_UC,
  _PAGE_CACHE_MODE_WC,
  isNewMemtypeAllowed,
  memtypesOf,
  pgprotDevice,
  pgprotNoncached,
  pgprotWritecombine,
  pgprotWritethrough,
} from "@faultline/mm";
import { EINVAL } from "./constants";
import { type IoMem, ioremapCaller } from "./driver-api";
import { warn } from "./internal/bug";
import { currentKernel, currentKernelOrNull } from "./internal/current";

export { pgprotDevice, pgprotNoncached, pgprotWritecombine, pgprotWritethrough };

/**
 * ioremap_wc(): as ioremap(), the window write-combining (PAT entry 1); null when the range is
 * already reserved with a type WC may not become (memtype_reserve, is_new_memtype_allowed).
 */
export function ioremapWc(paddr: number, size: number): IoMem | null {
  return ioremapCaller("ioremapWc", paddr, size, _PAGE_CACHE_MODE_WC);
}

/** ioremap_uc(): as ioremap(), strongly uncached (UC, not UC-: an MTRR cannot make it WC). */
export function ioremapUc(paddr: number, size: number): IoMem | null {
  return ioremapCaller("ioremapUc", paddr, size, _PAGE_CACHE_MODE_UC);
}

/** Whole pages of [start, start + size), or null (with a WARNING) for a range no machine has. */
function ioRange(what: string, start: number, size: number): { start: number; end: number } | null {
  if (
    !(Number.isInteger(start) && start >= 0 && Number.isInteger(size) && size > 0 && start + size <= 2 ** 52)
  ) {
    warn(
      currentKernelOrNull(what),
      "memtype_reserve_io (arch/x86/mm/pat/memtype.c)",
      `${what}: [${String(start)}, +${String(size)}) is not a physical range`,
    );
    return null;
  }
  return { start, end: start + size };
}

/**
 * arch_io_reserve_memtype_wc(start, size): reserves [start, start + size) write-combining with no
 * mapping of its own, so that the driver's later vmf_insert_pfn() of those pages (which only looks the
 * type up) installs WC PTEs. 0, -EBUSY when the range is reserved with a type WC may not become, or
 * -EINVAL (a range mixing RAM and device memory). Undo with archIoFreeMemtypeWc.
 */
export function archIoReserveMemtypeWc(start: number, size: number): number {
  const k = currentKernel("archIoReserveMemtypeWc");
  const r = ioRange("archIoReserveMemtypeWc", start, size);
  if (!r) return -EINVAL;
  const got = memtypesOf(k.mem).reserveIo(r.start, r.end, _PAGE_CACHE_MODE_WC);
  return Math.min(got, 0);
}

/** arch_io_free_memtype_wc(start, size): frees what archIoReserveMemtypeWc(start, size) reserved. */
export function archIoFreeMemtypeWc(start: number, size: number): void {
  const k = currentKernel("archIoFreeMemtypeWc");
  const r = ioRange("archIoFreeMemtypeWc", start, size);
  if (r) memtypesOf(k.mem).free(r.start, r.end);
}

/** is_new_memtype_allowed(), for drivers that reserve and check themselves. */
export { isNewMemtypeAllowed };
