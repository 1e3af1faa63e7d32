// The public face of an address space. `Mm` is struct mm_struct (mm_types.ts holds its state) with one
// method per syscall and driver helper; each is a thin door onto the function named after the kernel's
// in the file named after the kernel's (mmap.ts, mremap.ts, fault.ts …; docs/architecture.md has the
// table). Arguments arrive as JS numbers and are read as the C ABI would (ul(): negative is huge).
import type { Page } from "@faultline/phys";
import { doBrk } from "./brk";
import { validateMm } from "./debug";
import { EINVAL, ENOMEM } from "./errno";
import { handleMmFault } from "./fault";
import { dupMmap, exitMmap } from "./fork";
import { faultinPageRange } from "./gup";
import { offsetInPage, PAGE, ul } from "./internal";
import { doMadvise } from "./madvise";
import { doMincore } from "./mincore";
import { doMlock, doMlockall } from "./mlock";
import { type MmFile, MmStruct, type Vma } from "./mm_types";
import { doMmap, doVmiMunmap, ksysMmapPgoff } from "./mmap";
import { doMprotectPkey } from "./mprotect";
import { doMremap } from "./mremap";
import { doMseal } from "./mseal";
import { doMsync } from "./msync";
import {
  remapPfnRange,
  vmfInsertMixed,
  vmfInsertPfn,
  vmfInsertPfnProt,
  vmInsertPage,
  vmInsertPages,
  vmIomapMemory,
  vmMapPages,
  zapVmaPtes,
} from "./pfnmap";
import { vmNormalPfn, zapPageRange } from "./rmap";

/**
 * mm_struct: the VMA set, the page tables and the counters of one address space, with the mmap
 * family of syscalls and the page-fault handler. Every syscall method returns a value or -errno,
 * exactly as the kernel's syscall return would be; none throws on bad input.
 */
export class Mm extends MmStruct {
  /** vm_normal_page(): the struct page behind a PTE, or -1 for special entries (zero page, PFNMAP). */
  normalPfn(pte: number): number {
    return vmNormalPfn(this, pte);
  }

  /**
   * zap_page_range_single(): removes every PTE of `vma` in [start, end), flushes the TLBs, and
   * frees page tables left empty. With `keepAnon`, private COW copies stay (unmap_mapping_range).
   */
  zapRange(vma: Vma, start: number, end: number, keepAnon = false): void {
    zapPageRange(this, vma, start, end, { keepAnon });
  }

  // ---- mmap.c -----------------------------------------------------------------------------------

  /**
   * The x86-64 mmap syscall once the fd is resolved: `offset` in bytes (checked first, as
   * sys_mmap does), `file` null for MAP_ANONYMOUS; then ksys_mmap_pgoff() (MAP_HUGETLB) and do_mmap().
   * Returns the address or -errno.
   */
  mmap(addr: number, len: number, prot: number, flags: number, file: MmFile | null, offset: number): number {
    if (offsetInPage(offset) !== 0) return -EINVAL;
    return ksysMmapPgoff(this, addr, len, prot, flags, file, Math.floor(ul(offset) / PAGE));
  }

  /** do_mmap() (mm/mmap.c), including mmap_region(). */
  mmapPgoff(
    addr: number,
    len: number,
    prot: number,
    flags: number,
    file: MmFile | null,
    pgoff: number,
  ): number {
    return doMmap(this, addr, len, prot, flags, file, pgoff);
  }

  /** munmap(2) (do_vmi_munmap) */
  munmap(start: number, len: number): number {
    return doVmiMunmap(this, ul(start), ul(len));
  }

  /**
   * brk(2) (mm/mmap.c brk): moves the end of the heap [start_brk, brk) and returns the new break, or
   * the old one when the request is refused (below start_brk, RLIMIT_DATA, no room, sealed …).
   */
  brk(brk: number): number {
    return doBrk(this, brk);
  }

  /** mseal(2) (mm/mseal.c): 0, -EINVAL, -ENOMEM (a hole in the range); -ENOSYS in 2.6.10. */
  mseal(start: number, len: number, flags: number): number {
    return doMseal(this, start, len, flags);
  }

  // ---- memory.c, gup.c --------------------------------------------------------------------------

  /**
   * handle_mm_fault() plus the arch checks before it (arch/x86/mm/fault.c): returns FAULT_OK when a
   * PTE now allows the access, or why not. Driver exceptions propagate to the caller (an oops).
   */
  handleFault(addr: number, write: boolean): number {
    return handleMmFault(this, addr, write);
  }

  /** GUP-style population (MAP_POPULATE, mlock, MADV_POPULATE_*): errors are ignored, as __mm_populate does. */
  populate(start: number, end: number, forceWrite: boolean): number {
    return faultinPageRange(this, start, end, forceWrite);
  }

  /**
   * remap_pfn_range() (mm/memory.c): maps [addr, addr+size) to consecutive pfns up front with special
   * PTEs, for pfns with or without a struct page. Returns 0 or -errno.
   */
  remapPfnRange(vma: Vma, addr: number, pfn: number, size: number, prot: number = vma.vmPageProt): number {
    return remapPfnRange(this, vma, addr, pfn, size, prot);
  }

  /** vmf_insert_pfn(): installs one special PTE from a fault handler. Returns VM_FAULT_NOPAGE or an error code. */
  vmfInsertPfn(vma: Vma, addr: number, pfn: number): number {
    return vmfInsertPfn(this, vma, addr, pfn);
  }

  /**
   * vmf_insert_pfn_prot(): vmfInsertPfn with `pgprot`'s protection (pgprot.ts's form) instead of
   * vm_page_prot's; the cache bits stay those of the memtype in force. VM_FAULT_* code.
   */
  vmfInsertPfnProt(vma: Vma, addr: number, pfn: number, pgprot: number): number {
    return vmfInsertPfnProt(this, vma, addr, pfn, pgprot);
  }

  /** vmf_insert_mixed(): one pfn into a VM_MIXEDMAP VMA from a fault handler (special PTE). VM_FAULT_* code. */
  vmfInsertMixed(vma: Vma, addr: number, pfn: number): number {
    return vmfInsertMixed(this, vma, addr, pfn);
  }

  /** vm_iomap_memory(): maps physical [start, start + len) into the whole VMA (vm_pgoff pages in). 0 or -errno. */
  vmIomapMemory(vma: Vma, start: number, len: number): number {
    return vmIomapMemory(this, vma, ul(start), ul(len));
  }

  /** vm_insert_page(): maps a driver's page (a normal, refcounted mapping). Returns 0 or -errno. */
  vmInsertPage(vma: Vma, addr: number, page: Page): number {
    return vmInsertPage(this, vma, addr, page);
  }

  /**
   * __vm_map_pages() (vm_map_pages with `offset` vm_pgoff, vm_map_pages_zero with 0): pages[offset ..]
   * over the whole VMA by vm_insert_page. 0, -ENXIO (offset >= num, or the VMA larger than num -
   * offset pages), or the first vm_insert_page error (the pages before it stay mapped).
   */
  vmMapPages(vma: Vma, pages: readonly Page[], num: number, offset: number): number {
    return vmMapPages(this, vma, pages, num, offset);
  }

  /**
   * vm_insert_pages(): pages[0 .. num.value) from addr on. 0 or -errno; num.value becomes the number
   * of pages not inserted (untouched on -EFAULT: the range does not fit in the VMA).
   */
  vmInsertPages(vma: Vma, addr: number, pages: readonly Page[], num: { value: number }): number {
    return vmInsertPages(this, vma, addr, pages, num);
  }

  /** zap_vma_ptes(): a driver removes PTEs of a VM_PFNMAP VMA. */
  zapVmaPtes(vma: Vma, address: number, size: number): void {
    zapVmaPtes(this, vma, address, size);
  }

  // ---- mremap.c, mprotect.c, mlock.c, madvise.c, msync.c ----------------------------------------

  /** mremap(2) (mm/mremap.c do_mremap): returns the new address or -errno. */
  mremap(addr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
    return doMremap(this, addr, oldLen, newLen, flags, newAddr);
  }

  /** mprotect(2): do_mprotect_pkey() with pkey -1 (the VMA keeps its key, or gets the execute-only one). */
  mprotect(start: number, len: number, prot: number): number {
    return doMprotectPkey(this, start, len, prot, -1);
  }

  /** pkey_mprotect(2) (do_mprotect_pkey): `pkey` -1 is plain mprotect. */
  pkeyMprotect(start: number, len: number, prot: number, pkey: number): number {
    return doMprotectPkey(this, start, len, prot, pkey);
  }

  /** pkey_alloc(2): a protection key (its rights in the thread's PKRU set to initVal), or -EINVAL/-ENOSPC. */
  pkeyAlloc(flags: number, initVal: number): number {
    return this.pkeys.alloc(flags, initVal);
  }

  /** pkey_free(2): 0 or -EINVAL. Memory tagged with the key keeps it (pkeys(7)). */
  pkeyFree(pkey: number): number {
    return this.pkeys.free(Number.isInteger(pkey) ? pkey | 0 : -1);
  }

  /** glibc pkey_get(3) on the process's thread: the key's rights, -EINVAL, or -ENOSYS without PKU. */
  pkeyGet(key: number): number {
    return this.pkeys.get(key);
  }

  /** glibc pkey_set(3) (WRPKRU) on the process's thread: 0, -EINVAL, or -ENOSYS without PKU. */
  pkeySet(key: number, rights: number): number {
    return this.pkeys.set(key, rights);
  }

  /** mlock(2) / munlock(2) (apply_vma_lock_flags, mlock_fixup). */
  mlock(start: number, len: number, lock = true, onFault = false): number {
    return doMlock(this, start, len, lock, onFault);
  }

  munlock(start: number, len: number): number {
    return doMlock(this, start, len, false, false);
  }

  /** mlockall(2): MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT (mlock.ts). */
  mlockall(flags: number): number {
    return doMlockall(this, flags);
  }

  /** munlockall(2): every VMA unlocked, MCL_FUTURE forgotten. */
  munlockall(): number {
    return doMlockall(this, 0, true);
  }

  /** mincore(2): 1 in vec[i] for each resident page of the range (mincore.ts). Returns 0 or -errno. */
  mincore(start: number, len: number, vec: Uint8Array): number {
    return doMincore(this, start, len, vec);
  }

  /** madvise(2) */
  madvise(start: number, len: number, advice: number): number {
    return doMadvise(this, start, len, advice);
  }

  /** msync(2): nothing is file-backed on a disk, so it only validates and walks. */
  msync(start: number, len: number, flags: number): number {
    return doMsync(this, start, len, flags);
  }

  // ---- fork.c, exit -----------------------------------------------------------------------------

  /** dup_mmap(): the child's address space, COW for private memory. Returns the new Mm or -ENOMEM. */
  fork(): Mm | number {
    let child: Mm;
    try {
      child = new Mm(this.phys, {
        era: this.era,
        maxMapCount: this.maxMapCount,
        mlockLimit: this.mlockLimit,
        stackLimit: this.stackLimit,
        pku: this.pkeys.enabled,
        zeroPage: this.zeroPage,
        overcommitPages: this.overcommitPages,
      });
    } catch {
      return -ENOMEM;
    }
    // dup_mm() copies the mm_struct: the child's heap is where the parent's is.
    child.startBrk = this.startBrk;
    child.currentBrk = this.currentBrk;
    const err = dupMmap(child, this);
    return err ? err : child;
  }

  /** exit_mmap(): zap everything, free the page tables, then ->close and fput every VMA once. */
  exit(): void {
    exitMmap(this);
  }

  // ---- debug.c ----------------------------------------------------------------------------------

  /**
   * VMAs sorted, disjoint, page aligned, non-empty; every present PTE inside a VMA and pointing to an
   * allocated frame; counters equal to the PTEs. Returns the references this mm's PTEs hold per pfn,
   * so a machine can check refcounts globally.
   */
  checkInvariants(): Map<number, number> {
    return validateMm(this);
  }
}
