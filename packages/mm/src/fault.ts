// The page-fault path: arch/x86/mm/fault.c's checks, then mm/memory.c handle_mm_fault →
// handle_pte_fault → do_anonymous_page / do_fault (do_read_fault, do_cow_fault, do_shared_fault) /
// do_wp_page. This is a hot path (every first touch of a page): no closures, no allocation beyond the
// struct vm_fault a driver's ->fault receives.
import {
  __GFP_ZERO,
  locationBank,
  locationOffset,
  type Page,
  PG_anon,
  PG_anon_exclusive,
  physOf,
} from "@faultline/phys";
import {
  FAULT_FLAG_MKWRITE,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  TASK_SIZE,
  VM_EXEC,
  VM_FAULT_ERROR,
  VM_FAULT_MAJOR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_GROWSDOWN,
  VM_MAYSHARE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from "./constants";
import { doFaultAround } from "./filemap";
import { linearPageIndex, PAGE, vmaWantsWritenotify } from "./internal";
import { type MmStruct, NOPAGE_OOM, type Vma, type VmFault } from "./mm_types";
import { pgprotCacheBits } from "./pgprot";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  pfnPte,
  pteClearFlags,
  pteFlags,
  pteIsGuardMarker,
  ptePfn,
  pteSetFlags,
  TABLE_OOM,
} from "./pgtable";
import { pkruAllows } from "./pkeys";
import { mapPage, rssAdd, vmNormalPfn } from "./rmap";
import { anonVmaPrepare, expandDownwards } from "./vma";

/** Outcome of a page fault as the MMU sees it. */
export const FAULT_OK = 0;
export const FAULT_SEGV_MAPERR = 1;
export const FAULT_SEGV_ACCERR = 2;
export const FAULT_SIGBUS = 3;
export const FAULT_OOM = 4;
/** SIGSEGV SEGV_PKUERR: the key's PKRU rights deny the access; the key is in bits 8..11 (faultPkey()). */
export const FAULT_SEGV_PKUERR = 6;
/** The protection key a FAULT_SEGV_PKUERR result carries (si_pkey). */
export const faultPkey = (r: number): number => (r >>> 8) & 15;

/**
 * handle_mm_fault() plus the arch checks before it (arch/x86/mm/fault.c): returns FAULT_OK when a
 * PTE now allows the access, or why not. Driver exceptions propagate to the caller (an oops).
 */
export function handleMmFault(mm: MmStruct, addr: number, write: boolean): number {
  if (mm.dead) return FAULT_SEGV_MAPERR;
  if (!(addr >= 0 && addr < TASK_SIZE)) return FAULT_SEGV_MAPERR;
  let vma = mm.vmaLookup(addr);
  if (!vma) {
    // lock_mm_and_find_vma(): no VMA holds addr; the first one above it may grow down to it
    // (expand_stack_locked() → expand_downwards()) if it is VM_GROWSDOWN.
    vma = mm.findVma(addr);
    if (!vma || !(vma.vmFlags & VM_GROWSDOWN) || expandDownwards(mm, vma, addr) !== 0)
      return FAULT_SEGV_MAPERR;
  }
  // access_error(): a protection key that denies the access comes first and is final (no COW, no
  // fault-in): arch_vma_access_permitted() with the faulting thread's PKRU.
  if (mm.pkeys.enabled && !pkruAllows(mm.pkeys.value, vma.vmPkey, write))
    return FAULT_SEGV_PKUERR | (vma.vmPkey << 8);
  if (write ? !(vma.vmFlags & VM_WRITE) : !(vma.vmFlags & (VM_READ | VM_WRITE | VM_EXEC)))
    return FAULT_SEGV_ACCERR;
  const ret = handlePteFault(mm, vma, addr - (addr % PAGE), addr, write);
  if (ret & VM_FAULT_OOM) return FAULT_OOM;
  if (ret & VM_FAULT_SIGBUS) return FAULT_SIGBUS;
  // do_user_addr_fault(): VM_FAULT_SIGSEGV → bad_area_nosemaphore() → SIGSEGV with SEGV_MAPERR.
  if (ret & VM_FAULT_SIGSEGV) return FAULT_SEGV_MAPERR;
  if (ret & VM_FAULT_MAJOR) mm.majflt++;
  else mm.minflt++;
  return FAULT_OK;
}

function handlePteFault(mm: MmStruct, vma: Vma, address: number, real: number, write: boolean): number {
  const slot = mm.pgd.pteSlot(address, true);
  if (slot === TABLE_OOM) return VM_FAULT_OOM;
  const pte = mm.pgd.readSlot(slot);
  if (pte === 0) {
    if (vma.anonymous) return doAnonymousPage(mm, vma, slot, write);
    return doFault(mm, vma, slot, address, real, write);
  }
  // do_swap_page() → handle_pte_marker(): a guard marker is a SIGSEGV.
  if (pteIsGuardMarker(pte)) return VM_FAULT_SIGSEGV;
  const fl = pteFlags(pte);
  if (!(fl & _PAGE_PRESENT)) {
    // A PROT_NONE entry whose VMA now allows the access (mprotect raced with us): restore it.
    mm.pgd.setPte(slot, pteSetFlags(pteClearFlags(pte, _PAGE_PROTNONE), _PAGE_PRESENT), vma.vmPkey);
    return handlePteFault(mm, vma, address, real, write);
  }
  if (write && !(fl & _PAGE_RW)) return doWpPage(mm, vma, slot, address, pte);
  // Spurious (another thread fixed it, or a TLB refill): mark young/dirty as the hardware would.
  mm.pgd.orFlags(slot, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
  return 0;
}

/** do_anonymous_page() */
function doAnonymousPage(mm: MmStruct, vma: Vma, slot: number, write: boolean): number {
  if (vma.vmFlags & VM_SHARED && mm.rules.sharedAnonFaultSigbus) return VM_FAULT_SIGBUS;
  if (!write && mm.zeroPage) {
    // The zero page: shared, read-only, special (no refcount, not in RSS). Built from vm_page_prot
    // (pfn_pte(my_zero_pfn(), vma->vm_page_prot)), so the VMA's cache bits reach it too; 2.6.10's
    // mk_pte(ZERO_PAGE(addr), vma->vm_page_prot) did the same.
    const cache = pgprotCacheBits(vma.vmPageProt);
    mm.pgd.setPte(
      slot,
      pfnPte(mm.mem.zeroPfn, cache | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL),
      vma.vmPkey,
    );
    return 0;
  }
  return newAnonPage(mm, vma, slot, -1);
}

/** Maps a fresh anon page (zeroed, or a copy of `srcPfn`'s contents) writable and dirty. */
function newAnonPage(mm: MmStruct, vma: Vma, slot: number, srcPfn: number): number {
  if (!vma.anonVma) anonVmaPrepare(mm, vma);
  const pfn = mm.mem.allocPfn(0, srcPfn < 0 ? __GFP_ZERO : 0);
  if (pfn < 0) return VM_FAULT_OOM;
  if (srcPfn >= 0) copyFrame(mm, srcPfn, pfn);
  Atomics.or(mm.mem.flags, pfn, PG_anon | PG_anon_exclusive);
  const rw = vma.vmFlags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0;
  mapPage(mm, vma, slot, pfn, rw);
  return 0;
}

/** Copies one frame's 4 KiB, from RAM or from a device's memory (cow_user_page). */
function copyFrame(mm: MmStruct, src: number, dst: number): void {
  const to = mm.mem.frameBytes(dst);
  const loc = mm.phys.locatePage(src);
  if (loc >= 0) {
    const off = locationOffset(loc);
    to.set(mm.mem.banks.u8[locationBank(loc)]!.subarray(off, off + PAGE));
    return;
  }
  const dv = new DataView(to.buffer, to.byteOffset, PAGE);
  for (let i = 0; i < PAGE; i += 4) dv.setUint32(i, mm.phys.physRead(physOf(src) + i, 4), true);
}

/** do_fault(): the VMA has a driver (or no handler at all). */
function doFault(
  mm: MmStruct,
  vma: Vma,
  slot: number,
  address: number,
  real: number,
  write: boolean,
): number {
  const ops = vma.vmOps;
  if (!ops?.fault && !ops?.nopage) {
    // era.ts noHandlerFaultSigbus: 2.6.10's do_no_page() fell back to do_anonymous_page().
    if (!mm.rules.noHandlerFaultSigbus) return doAnonymousPage(mm, vma, slot, write);
    return VM_FAULT_SIGBUS;
  }
  if (write && !(vma.vmFlags & VM_SHARED)) return doCowFault(mm, vma, slot, address, real);
  // do_read_fault(): with ->map_pages, the cached pages around the address are mapped first
  // (do_fault_around); when that mapped the faulting page too, the fault is done.
  if (!write && ops.mapPages && mm.rules.faultAround && faultAround(vma, address, real)) return 0;
  const vmf = callFault(mm, vma, address, real, write);
  if (typeof vmf === "number") return vmf;
  if (vmf.ret & VM_FAULT_NOPAGE) return vmf.ret & ~VM_FAULT_NOPAGE;
  const pfn = vmf.pfn;
  // do_shared_fault(): a write fault asks ->page_mkwrite first (do_page_mkwrite); a refusal drops the page.
  const notify = vmaWantsWritenotify(vma);
  if (write && notify && vma.vmOps?.pageMkwrite) {
    const r = callMkwrite(mm, vma, address, real, pfn, vma.vmOps.pageMkwrite);
    if (r !== 0) {
      mm.mem.putPage(pfn);
      return r & VM_FAULT_ERROR;
    }
  }
  // finish_fault(): read faults map read-only unless the mapping is shared and writable and its driver
  // need not hear of the first write (vma_wants_writenotify).
  let flags = 0;
  if (vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE && (write || !notify))
    flags = _PAGE_RW | (write ? _PAGE_DIRTY : 0);
  const cur = mm.pgd.readSlot(slot);
  if (cur !== 0) {
    // The driver installed something itself; drop the extra page.
    mm.mem.putPage(pfn);
    return vmf.ret;
  }
  mapPage(mm, vma, slot, pfn, flags);
  return vmf.ret;
}

/** do_fault_around() for a read fault at `address` (filemap.ts). */
function faultAround(vma: Vma, address: number, real: number): boolean {
  const vmf: VmFault = {
    vma,
    address,
    realAddress: real,
    pgoff: linearPageIndex(vma, address),
    flags: FAULT_FLAG_USER,
    page: null,
  };
  return doFaultAround(vmf);
}

/**
 * __do_fault(): calls ->fault (or the 2.6 ->nopage) and checks what came back. Returns the
 * error code, or the page the driver referenced.
 */
function callFault(
  mm: MmStruct,
  vma: Vma,
  address: number,
  real: number,
  write: boolean,
): number | { pfn: number; ret: number } {
  const ops = vma.vmOps!;
  const pgoff = linearPageIndex(vma, address);
  let ret: number;
  let page: Page | null;
  if (ops.fault) {
    const vmf: VmFault = {
      vma,
      address,
      realAddress: real,
      pgoff,
      flags: (write ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_USER,
      page: null,
    };
    ret = ops.fault(vmf) | 0;
    if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) {
      if (vmf.page) mm.mem.putPage(vmf.page.pfn);
      return ret & VM_FAULT_ERROR ? ret : { pfn: -1, ret };
    }
    page = vmf.page;
  } else {
    const type = { value: 0 };
    const r = ops.nopage!(vma, address, type);
    if (r === NOPAGE_OOM) return VM_FAULT_OOM;
    if (r === null) return VM_FAULT_SIGBUS;
    page = r;
    ret = type.value === 3 ? VM_FAULT_MAJOR : 0;
  }
  if (!page) return VM_FAULT_SIGBUS;
  return { pfn: page.pfn, ret: ret & VM_FAULT_MAJOR };
}

/** do_cow_fault(): a write to a private driver mapping gets a private copy of the driver's page. */
function doCowFault(mm: MmStruct, vma: Vma, slot: number, address: number, real: number): number {
  // vmf_anon_prepare() before ->fault (era.ts cowFaultPreparesAnonVmaFirst).
  if (mm.rules.cowFaultPreparesAnonVmaFirst && !vma.anonVma) anonVmaPrepare(mm, vma);
  const vmf = callFault(mm, vma, address, real, true);
  if (typeof vmf === "number") return vmf;
  if (vmf.ret & VM_FAULT_NOPAGE) return vmf.ret & ~VM_FAULT_NOPAGE;
  const r = newAnonPage(mm, vma, slot, vmf.pfn);
  mm.mem.putPage(vmf.pfn);
  return r | vmf.ret;
}

/**
 * do_page_mkwrite() / the pfn_mkwrite call of wp_pfn_shared(): tells the driver a read-only page of a
 * shared mapping is about to be written (`page` null for a pfn without struct page). Returns 0 to go
 * on, or the VM_FAULT_ERROR / VM_FAULT_NOPAGE bits that end the fault.
 */
function callMkwrite(
  mm: MmStruct,
  vma: Vma,
  address: number,
  real: number,
  pfn: number,
  mkwrite: (vmf: VmFault) => number,
): number {
  const vmf: VmFault = {
    vma,
    address,
    realAddress: real,
    pgoff: linearPageIndex(vma, address),
    flags: FAULT_FLAG_WRITE | FAULT_FLAG_MKWRITE | FAULT_FLAG_USER,
    page: pfn >= 0 ? mm.mem.pfnToPage(pfn) : null,
  };
  return (mkwrite.call(vma.vmOps, vmf) | 0) & (VM_FAULT_ERROR | VM_FAULT_NOPAGE);
}

/** do_wp_page(): a write hit a present read-only PTE. */
function doWpPage(mm: MmStruct, vma: Vma, slot: number, address: number, pte: number): number {
  const pfn = vmNormalPfn(mm, pte);
  const src = ptePfn(pte);
  // The zero page is never made writable: 2.6.10's do_wp_page() had no shared branch and copied it
  // (a shared VMA without vm_ops gets it from a read fault there; era.ts sharedAnonFaultSigbus).
  if (vma.vmFlags & (VM_SHARED | VM_MAYSHARE) && src !== mm.mem.zeroPfn) {
    // wp_pfn_shared() asks ->pfn_mkwrite (no struct page), wp_page_shared() ->page_mkwrite: an error
    // ends the fault, VM_FAULT_NOPAGE leaves the PTE as it is (the access is retried).
    const mkwrite = pfn < 0 ? vma.vmOps?.pfnMkwrite : vma.vmOps?.pageMkwrite;
    if (mkwrite && vma.vmFlags & VM_WRITE) {
      const r = callMkwrite(mm, vma, address, address, pfn, mkwrite);
      if (r !== 0) return r & VM_FAULT_ERROR;
    }
    // Then make it writable in place.
    mm.pgd.setPte(slot, pteSetFlags(pte, _PAGE_RW | _PAGE_DIRTY), vma.vmPkey);
    mm.flushTlbRange(address, address + PAGE);
    return 0;
  }
  if (pfn >= 0) {
    const f = Atomics.load(mm.mem.flags, pfn);
    // Reuse an anon page nobody else maps or references (wp_can_reuse_anon_folio).
    if (f & PG_anon && Atomics.load(mm.mem.refcount, pfn) === 1 && Atomics.load(mm.mem.mapcount, pfn) === 1) {
      Atomics.or(mm.mem.flags, pfn, PG_anon_exclusive);
      mm.pgd.setPte(slot, pteSetFlags(pte, _PAGE_RW | _PAGE_DIRTY), vma.vmPkey);
      mm.flushTlbRange(address, address + PAGE);
      return 0;
    }
  }
  // wp_page_copy(): the zero page gives a zeroed page, anything else a copy of its contents.
  mm.pgd.setPte(slot, 0);
  mm.flushTlbRange(address, address + PAGE);
  const r = newAnonPage(mm, vma, slot, src === mm.mem.zeroPfn ? -1 : src);
  if (r) {
    mm.pgd.setPte(slot, pte, vma.vmPkey);
    return r;
  }
  if (pfn >= 0) {
    Atomics.sub(mm.mem.mapcount, pfn, 1);
    rssAdd(mm, vma, pfn, -1);
    mm.mem.putPage(pfn);
  }
  return 0;
}
