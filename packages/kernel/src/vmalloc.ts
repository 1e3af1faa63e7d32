/**
 * vmalloc for drivers (mm/vmalloc.c, include/linux/vmalloc.h): virtually contiguous kernel memory
 * made of separate order-0 pages, and its mapping into a process (remap_vmalloc_range). The state and
 * the address allocator are internal/vmalloc.ts's.
 *
 * A vmalloc address is a kernel virtual address in [VMALLOC_START, VMALLOC_END]; Faultline's kernel has
 * no page table for it, so driver code reaches the bytes page by page, as kernel code that needs the
 * struct page does: `kmapPage(vmallocToPage(addr + k * PAGE_SIZE)!)` is page k of the area as a
 * Uint8Array (offsets within a page are fine: vmallocToPage(addr) is the page holding `addr`).
 *
 * Where Faultline differs from Linux: sizes are numbers, so a negative one is what C would see as a
 * huge unsigned one (refused as exceeding RAM) and a fractional one is refused with a WARNING saying
 * so; vmalloc_to_pfn of an address without a page is -1 (Linux computes a meaningless pfn from NULL).
 */
import { VM_DONTDUMP, VM_DONTEXPAND, type Vma } from "@faultline/mm";
import { __GFP_ZERO, PAGE_SIZE, type Page } from "@faultline/phys";
import { EINVAL } from "./constants";
import { vmInsertPage } from "./driver-api";
import { warn, warnOnce } from "./internal/bug";
import { currentKernel } from "./internal/current";
import { hex16 } from "./internal/format";
import type { Kernel } from "./internal/kernel";
import {
  allocVmapArea,
  arrayOwner,
  countVmallocPages,
  findVmArea,
  getVmAreaSize,
  insertVmArea,
  isVmallocAddress,
  pagesArrayPages,
  unlinkVmArea,
  VM_ALLOC,
  VM_DMA_COHERENT,
  VM_NO_GUARD,
  VM_USERMAP,
  VMALLOC_END,
  VMALLOC_START,
  type VmStruct,
} from "./internal/vmalloc";
import { vmFlagsSet } from "./vm-flags";

export { VMALLOC_END, VMALLOC_START };

/** GFP_KERNEL's value as warn_alloc prints it (mode:0xcc0), and with __GFP_ZERO (0xdc0). */
const gfpMode = (zero: boolean) => (zero ? "0xdc0(GFP_KERNEL|__GFP_ZERO)" : "0xcc0(GFP_KERNEL)");

/** size as C's unsigned long shows it (a negative size is 2^64 + size). */
const ulong = (n: number) => (n < 0 ? (2n ** 64n + BigInt(n)).toString() : String(n));

/** warn_alloc(): the allocation failure report (without the stack and show_mem that follow it). */
function warnAlloc(k: Kernel, zero: boolean, msg: string): void {
  k.log.printk(
    4,
    `${k.current?.comm ?? "insmod"}: ${msg}, mode:${gfpMode(zero)}, nodemask=(null),cpuset=/,mems_allowed=0`,
  );
}

/**
 * __vmalloc_node_range(): PAGE_ALIGN(size) bytes at the lowest free address of the vmalloc range
 * (followed by a guard page), backed by order-0 pages, or 0 with the report Linux gives.
 */
function vmallocNodeRange(what: string, size: number, zero: boolean, vmFlags: number): number {
  const k = currentKernel(what);
  if (typeof size !== "number" || Number.isNaN(size) || (Number.isFinite(size) && !Number.isInteger(size))) {
    warn(k, "__vmalloc_node_range_noprof (mm/vmalloc.c)", `${what}: size ${String(size)} is not a size`);
    return 0;
  }
  if (size === 0) {
    warnOnce(k, "__vmalloc_node_range_noprof (mm/vmalloc.c)", `${what}: WARN_ON_ONCE(!size)`);
    return 0;
  }
  // (size >> PAGE_SHIFT) > totalram_pages(); a negative size is a huge unsigned long in C.
  if (size < 0 || !Number.isSafeInteger(size) || Math.floor(size / PAGE_SIZE) > k.mem.totalRamPages) {
    warnAlloc(k, zero, `vmalloc error: size ${ulong(size)}, exceeds total pages`);
    return 0;
  }
  return vmallocPages(k, size, Math.ceil(size / PAGE_SIZE), zero, vmFlags);
}

/**
 * The allocation once the size is checked: __get_vm_area_node() takes the address range (and links the
 * area), then __vmalloc_area_node() makes the pages[] array (for more than 512 pages a vmalloc area of
 * its own, __vmalloc_node(array_size, ...), zeroed: at the next free address, after the data area's)
 * and allocates the pages. A failure after the area is linked undoes it through vfree(), as Linux's
 * fail path: the address range goes on the lazy list.
 */
function vmallocPages(k: Kernel, size: number, nrPages: number, zero: boolean, vmFlags: number): number {
  // __get_vm_area_node(): the guard page is address space only, no page behind it.
  const span = (nrPages + (vmFlags & VM_NO_GUARD ? 0 : 1)) * PAGE_SIZE;
  const addr = allocVmapArea(k, span);
  if (addr < 0) {
    k.log.printk(
      4,
      `vmalloc_node_range for size ${span} failed: Address range restricted to 0x${VMALLOC_START.toString(16)} - 0x${VMALLOC_END.toString(16)}`,
    );
    warnAlloc(k, zero, `vmalloc error: size ${size}, vm_struct allocation failed`);
    return 0;
  }
  const pages: number[] = [];
  const area: { addr: number; size: number; flags: number; pages: number[]; pagesArea?: number } = {
    addr,
    size: span,
    flags: VM_ALLOC | vmFlags,
    pages,
  };
  insertVmArea(k, area);
  const arrayPages = pagesArrayPages(nrPages);
  if (arrayPages) {
    // nested_gfp = (gfp_mask & GFP_RECLAIM_MASK) | __GFP_ZERO; the array area's flags are VM_ALLOC only.
    const arr = vmallocPages(k, nrPages * 8, arrayPages, true, 0);
    if (!arr) {
      warnAlloc(
        k,
        zero,
        `vmalloc error: size ${nrPages * PAGE_SIZE}, failed to allocated page array size ${nrPages * 8}`,
      );
      freeArea(k, area);
      return 0;
    }
    area.pagesArea = arr;
  }
  // vm_area_alloc_pages(): order-0 pages until one fails; then nr_vmalloc_pages += what was obtained.
  for (let i = 0; i < nrPages; i++) {
    const page = k.mem.allocPages(0, zero ? __GFP_ZERO : 0);
    if (!page) break;
    pages.push(page.pfn);
  }
  countVmallocPages(k, pages.length);
  if (pages.length !== nrPages) {
    warnAlloc(k, zero, `vmalloc error: size ${pages.length * PAGE_SIZE}, failed to allocate pages`);
    freeArea(k, area);
    return 0;
  }
  return addr;
}

/**
 * vfree()'s work once the area is found: remove_vm_area (the address range goes on the lazy list), each
 * page's allocation reference dropped, then kvfree(vm->pages): a vmalloc'd pages[] array is vfree'd.
 */
function freeArea(k: Kernel, area: VmStruct): void {
  unlinkVmArea(k, area);
  // __free_page(): a page a process still maps (remap_vmalloc_range) lives on until it is unmapped.
  for (const pfn of area.pages) k.mem.freePages(pfn, 0);
  if (area.pagesArea !== undefined) {
    const arr = findVmArea(k, area.pagesArea);
    if (arr) freeArea(k, arr);
  }
}

/**
 * vmalloc(size): the kernel virtual address of PAGE_ALIGN(size) bytes (not zeroed), or 0 (NULL) for
 * size 0 (a WARN_ON_ONCE, as Linux), a size that is no size or exceeds RAM, or no memory (what was
 * taken is given back; "vmalloc error: ..." in dmesg). Reach the bytes with
 * `kmapPage(vmallocToPage(addr + k * PAGE_SIZE)!)`.
 */
export function vmalloc(size: number): number {
  return vmallocNodeRange("vmalloc", size, false, 0);
}

/** vzalloc(size): vmalloc with the memory zeroed. */
export function vzalloc(size: number): number {
  return vmallocNodeRange("vzalloc", size, true, 0);
}

/**
 * vmalloc_user(size): zeroed vmalloc memory marked VM_USERMAP, the kind remapVmallocRange maps into a
 * process (SHMLBA alignment is PAGE_SIZE on x86).
 */
export function vmallocUser(size: number): number {
  return vmallocNodeRange("vmallocUser", size, true, VM_USERMAP);
}

/**
 * vfree(addr): frees the vmalloc area holding `addr` (its pages go back to the buddy allocator once no
 * process maps them, and its address range is free again). NULL (0) does nothing. An address that is
 * not page aligned is refused with the two WARNINGs Linux gives ("Trying to vfree() bad address",
 * then "Trying to vfree() nonexistent vm area"), one in no area with the second only; nothing changes.
 * As in Linux (remove_vm_area looks the area up by containment), a page-aligned address inside an
 * area, its guard page included, frees that whole area. The freed address range (guard page included)
 * is not handed out again until the lazy list is purged: when it holds more than lazy_max_pages, or
 * when an allocation finds no room. An address in the vmalloc'd pages[] array of another area is a
 * driver bug (a use after free in Linux): an oops, nothing freed.
 */
export function vfree(addr: number): void {
  if (addr === 0) return;
  const k = currentKernel("vfree");
  const aligned = typeof addr === "number" && Number.isInteger(addr) && addr % PAGE_SIZE === 0;
  // %p as %px (Linux hashes it; the real address is more use here, as kformat prints %p).
  const shown = typeof addr === "number" && Number.isInteger(addr) && addr >= 0 ? hex16(addr) : String(addr);
  if (!aligned) warn(k, "remove_vm_area (mm/vmalloc.c)", `Trying to vfree() bad address (${shown})`);
  const area = aligned ? findVmArea(k, addr) : null;
  if (!area) {
    warn(k, "vfree (mm/vmalloc.c)", `Trying to vfree() nonexistent vm area (${shown})`);
    return;
  }
  const owner = arrayOwner(k, area.addr);
  if (owner)
    throw new Error(
      `vfree: 0x${area.addr.toString(16)} is the pages[] array of the vmalloc area at 0x${owner.addr.toString(16)} (a use after free in Linux)`,
    );
  freeArea(k, area);
}

/**
 * vmalloc_to_page(addr): the page behind the vmalloc address `addr` (any byte of the page), or null
 * where no page is (a guard page, a freed area, between areas). An address outside the vmalloc range
 * is a driver bug: null and a WARNING (Linux's walk of such an address hits the direct map's huge
 * pages and WARN_ON_ONCEs).
 */
export function vmallocToPage(addr: number): Page | null {
  const k = currentKernel("vmallocToPage");
  if (typeof addr !== "number" || !Number.isInteger(addr) || !isVmallocAddress(addr)) {
    warnOnce(
      k,
      "vmalloc_to_page (mm/vmalloc.c)",
      `vmallocToPage: ${typeof addr === "number" ? `0x${addr.toString(16)}` : String(addr)} is not a vmalloc address (0x${VMALLOC_START.toString(16)}-0x${VMALLOC_END.toString(16)})`,
    );
    return null;
  }
  const area = findVmArea(k, addr);
  const pfn = area?.pages[Math.floor((addr - area.addr) / PAGE_SIZE)];
  return pfn === undefined ? null : k.mem.pfnToPage(pfn);
}

/** vmalloc_to_pfn(addr): the pfn of vmallocToPage(addr), or -1 where there is no page. */
export function vmallocToPfn(addr: number): number {
  return vmallocToPage(addr)?.pfn ?? -1;
}

/** is_vmalloc_addr(addr): `addr` lies in the vmalloc range (whether or not an area holds it). */
export function isVmallocAddr(addr: number): boolean {
  return typeof addr === "number" && isVmallocAddress(addr);
}

/**
 * remap_vmalloc_range_partial(vma, uaddr, kaddr, pgoff, size): maps PAGE_ALIGN(size) bytes of the
 * vmalloc area at `kaddr`, from page `pgoff` of it, into `vma` at `uaddr`, with vm_insert_page (each
 * page gets a reference and the VMA VM_MIXEDMAP), then sets VM_DONTEXPAND | VM_DONTDUMP. In Linux's
 * order, each -EINVAL: pgoff << PAGE_SHIFT overflows; uaddr or kaddr not page aligned; no vmalloc area
 * holds kaddr; the area is neither VM_USERMAP (vmallocUser) nor VM_DMA_COHERENT; size + the offset
 * overflow or exceed the area (without its guard page). Then vm_insert_page's own error (-EFAULT past
 * the VMA), the pages inserted so far staying mapped, as in Linux. 0 on success.
 */
export function remapVmallocRangePartial(
  vma: Vma,
  uaddr: number,
  kaddr: number,
  pgoff: number,
  size: number,
): number {
  const k = currentKernel("remapVmallocRangePartial");
  // check_shl_overflow(pgoff, PAGE_SHIFT, &off): pgoff is an unsigned long (a negative one is huge).
  if (!Number.isInteger(pgoff) || pgoff < 0 || pgoff * PAGE_SIZE >= 2 ** 64) return -EINVAL;
  const off = pgoff * PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 0) return -EINVAL;
  let left = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (!Number.isInteger(uaddr) || uaddr % PAGE_SIZE !== 0) return -EINVAL;
  if (!Number.isInteger(kaddr) || kaddr % PAGE_SIZE !== 0) return -EINVAL;
  // find_vm_area(): by containment, so kaddr may lie inside an area (its offset is then not counted
  // by the size check below, as in Linux).
  const area = findVmArea(k, kaddr);
  if (!area) return -EINVAL;
  if (!(area.flags & (VM_USERMAP | VM_DMA_COHERENT))) return -EINVAL;
  // check_add_overflow(size, off, &end_index) || end_index > get_vm_area_size(area)
  if (left + off >= 2 ** 64 || left + off > getVmAreaSize(area)) return -EINVAL;
  let ka = kaddr + off;
  let ua = uaddr;
  // A do-while on an unsigned size, as Linux's: a size of 0 maps until vm_insert_page fails.
  do {
    const page = vmallocToPage(ka);
    // vm_insert_page(vma, uaddr, NULL) dereferences NULL in Linux: an oops of the calling driver.
    if (!page)
      throw new Error(
        `remapVmallocRangePartial: no page behind vmalloc address 0x${ka.toString(16)} (kernel NULL pointer dereference in vm_insert_page)`,
      );
    const ret = vmInsertPage(vma, ua, page);
    if (ret) return ret;
    ua += PAGE_SIZE;
    ka += PAGE_SIZE;
    left -= PAGE_SIZE;
  } while (left !== 0);
  vmFlagsSet(vma, VM_DONTEXPAND | VM_DONTDUMP);
  return 0;
}

/**
 * remap_vmalloc_range(vma, addr, pgoff): the whole VMA mapped from page `pgoff` of the vmalloc area
 * at `addr` (remapVmallocRangePartial from vma.vmStart for vmEnd - vmStart bytes). 0 or -errno.
 */
export function remapVmallocRange(vma: Vma, addr: number, pgoff: number): number {
  return remapVmallocRangePartial(vma, vma.vmStart, addr, pgoff, vma.vmEnd - vma.vmStart);
}
