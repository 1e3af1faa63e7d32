import {
  __GFP_ZERO,
  PAGE_SIZE,
  type Page,
  PG_anon,
  PG_anon_exclusive,
  PG_dirty,
  PG_reserved,
  type PhysMemory,
} from "@faultline/phys";
import {
  DEFAULT_MAX_MAP_COUNT,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  LEGACY_MAP_MASK,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_32BIT,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MAP_TYPE,
  MMAP_BASE,
  MMAP_MIN_ADDR,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  TASK_SIZE,
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_DROPPABLE,
  VM_EXEC,
  VM_FAULT_ERROR,
  VM_FAULT_MAJOR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_LOCKED_MASK,
  VM_LOCKONFAULT,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_NOHUGEPAGE,
  VM_NORESERVE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_SPECIAL,
  VM_SYNC,
  VM_WIPEONFORK,
  VM_WRITE,
} from "./constants";
import {
  EACCES,
  EAGAIN,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
  EOVERFLOW,
} from "./errno";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PFNMAP,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  PageTables,
  pteFlags,
  pteMk,
  ptePfn,
  TABLE_OOM,
} from "./pgtable";
import type { PhysAccess } from "./phys-access";
import { MmPkeys, pkruAllows } from "./pkeys";
import { ShmemFile } from "./shmem";
import { AnonVma, type MmFile, NOPAGE_OOM, Vma, type VmFault } from "./vma";
import { VmaTree } from "./vma-tree";

/** Our software bit for a PROT_NONE entry: not present to the MMU, but still holding its page (_PAGE_PROTNONE). */
export const _PAGE_PROTNONE = 0x100;

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

export type Era = "modern" | "2.6.10";

export interface MmOptions {
  /** Which kernel's semantics where they differ (DESIGN.md "Two eras"). Default "modern". */
  readonly era?: Era;
  readonly maxMapCount?: number;
  /** RLIMIT_MEMLOCK in bytes; Infinity behaves as a process with CAP_IPC_LOCK. */
  readonly mlockLimit?: number;
  /**
   * The CPU has protection keys (PKU) and the kernel uses them: PROT_EXEC-only memory is execute-only
   * (reads fault with SEGV_PKUERR) and pkey_alloc/pkey_mprotect work. Default false.
   */
  readonly pku?: boolean;
  /**
   * Anonymous read faults map the shared zero page (default true). False models a kernel that forbids
   * it (mm_forbids_zeropage(), or a host booted with a patch such as `pvm_no_zero_page=1`): a read
   * fault allocates a zeroed private page as a write fault would, writable and dirty if VM_WRITE.
   */
  readonly zeroPage?: boolean;
}

/** Someone caching translations of this mm: an MMU's TLB, or a worker's. */
export interface TlbClient {
  flushRange(start: number, end: number): void;
  flushAll(): void;
  /** The mm exited: its page tables are gone, never walk them again. */
  release?(): void;
}

const PAGE = PAGE_SIZE;
const TWO64 = 2 ** 64;
/** The kernel's unsigned long view of a JS number argument: negative values are huge. */
const ul = (x: number): number => (x < 0 ? TWO64 + x : x);
const pageAlign = (x: number): number => {
  const r = Math.ceil(x / PAGE) * PAGE;
  return r >= TWO64 ? 0 : r;
};
const offsetInPage = (x: number): number => ul(x) % PAGE;
const PMD_SIZE = 2 * 1024 * 1024;
/** mmap_legacy_base(): TASK_UNMAPPED_BASE for the bottom-up fallback. */
const TASK_UNMAPPED_BASE = Math.ceil(TASK_SIZE / 3 / PAGE) * PAGE;

/** calc_vm_prot_bits() */
const protToVm = (prot: number): number =>
  (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);

/** is_cow_mapping(): private and may become writable. */
export const isCowMapping = (flags: number): boolean => (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;

/**
 * mm_struct: the VMA set, the page tables and the counters of one address space, with the mmap
 * family of syscalls and the page-fault handler. Every syscall method returns a value or -errno,
 * exactly as the kernel's syscall return would be; none throws on bad input.
 */
export class Mm {
  readonly mem: PhysMemory;
  readonly vmas = new VmaTree<Vma>();
  readonly pgd: PageTables;
  readonly era: Era;
  readonly maxMapCount: number;
  readonly mlockLimit: number;
  readonly mmapBase = MMAP_BASE;
  /** Fault counters (task_struct min_flt / maj_flt). */
  minflt = 0;
  majflt = 0;
  /** mm->locked_vm in pages. */
  lockedVm = 0;
  /** RSS counters by kind, in pages (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES). */
  rssAnon = 0;
  rssFile = 0;
  rssShmem = 0;
  /** High-water mark of the RSS. */
  hiwaterRss = 0;
  dead = false;
  readonly tlbClients = new Set<TlbClient>();
  /** Protection keys: allocation map, execute-only key, and the thread's PKRU (pkeys.ts). */
  readonly pkeys: MmPkeys;
  /** Read faults on anonymous memory may map the zero page (MmOptions.zeroPage). */
  readonly zeroPage: boolean;

  constructor(
    readonly phys: PhysAccess,
    options: MmOptions = {},
  ) {
    this.mem = phys.mem;
    const pgd = PageTables.create(phys.mem);
    if (!pgd) throw new Error("out of memory allocating a page directory");
    this.pgd = pgd;
    this.era = options.era ?? "modern";
    this.maxMapCount = options.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
    this.mlockLimit = options.mlockLimit ?? Number.POSITIVE_INFINITY;
    this.pkeys = new MmPkeys(options.pku ?? false, () => this.flushTlbAll());
    this.zeroPage = options.zeroPage ?? true;
  }

  /** The PKRU register of the process's thread (one Int32 in shared memory; MMUs read it on walks). */
  get pkru(): Int32Array {
    return this.pkeys.pkru;
  }

  get mapCount(): number {
    return this.vmas.size;
  }

  get rss(): number {
    return this.rssAnon + this.rssFile + this.rssShmem;
  }

  /** find_vma(): the first VMA that ends above addr. */
  findVma(addr: number): Vma | null {
    return this.vmas.find(addr) ?? null;
  }

  /** vma_lookup(): the VMA containing addr. */
  vmaLookup(addr: number): Vma | null {
    const v = this.vmas.find(addr);
    return v && v.vmStart <= addr ? v : null;
  }

  *[Symbol.iterator](): IterableIterator<Vma> {
    yield* this.vmas;
  }

  // ---- TLB shootdown ------------------------------------------------------------------------

  /** flush_tlb_range(): every cache of this mm's translations drops [start, end) before we go on. */
  flushTlbRange(start: number, end: number): void {
    for (const c of this.tlbClients) c.flushRange(start, end);
  }

  flushTlbAll(): void {
    for (const c of this.tlbClients) c.flushAll();
  }

  // ---- rmap and accounting ------------------------------------------------------------------

  private rssAdd(vma: Vma, pfn: number, delta: number): void {
    if (Atomics.load(this.mem.flags, pfn) & PG_anon) this.rssAnon += delta;
    else if (vma.vmFile instanceof ShmemFile) this.rssShmem += delta;
    else this.rssFile += delta;
    if (delta > 0 && this.rss > this.hiwaterRss) this.hiwaterRss = this.rss;
  }

  /** vm_normal_page(): the struct page behind a PTE, or -1 for special entries (zero page, PFNMAP). */
  normalPfn(pte: number): number {
    if (pteFlags(pte) & _PAGE_SPECIAL) return -1;
    const pfn = ptePfn(pte);
    return this.mem.pfnValid(pfn) ? pfn : -1;
  }

  /** Maps a normal page: the PTE takes over one reference the caller holds, and adds one mapcount. */
  private mapPage(vma: Vma, slot: number, pfn: number, flags: number): void {
    Atomics.add(this.mem.mapcount, pfn, 1);
    this.rssAdd(vma, pfn, 1);
    this.pgd.setPte(slot, pteMk(pfn, flags | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED), vma.vmPkey);
  }

  /**
   * Removes one PTE, dropping the mapcount a normal page had through it. The page's reference is
   * queued, not dropped: it is released after the TLB flush (mmu_gather), so no CPU can still reach
   * a frame that went back to the allocator.
   */
  private zapPte(vma: Vma, slot: number, pte: number): void {
    this.pgd.setPte(slot, 0);
    const pfn = this.normalPfn(pte);
    if (pfn < 0) return;
    if (pteFlags(pte) & _PAGE_DIRTY) Atomics.or(this.mem.flags, pfn, PG_dirty);
    Atomics.sub(this.mem.mapcount, pfn, 1);
    this.rssAdd(vma, pfn, -1);
    this.gather.push(pfn);
  }

  /** Pages whose PTE references await the TLB flush (struct mmu_gather). */
  private readonly gather: number[] = [];

  /** tlb_finish_mmu(): flush, then release the gathered references. */
  private finishGather(start: number, end: number): void {
    this.flushTlbRange(start, end);
    const g = this.gather;
    for (let i = 0; i < g.length; i++) this.mem.putPage(g[i]!);
    g.length = 0;
  }

  /**
   * zap_page_range_single(): removes every PTE of `vma` in [start, end), flushes the TLBs, and
   * frees page tables left empty. With `keepAnon`, private COW copies stay (unmap_mapping_range).
   */
  zapRange(vma: Vma, start: number, end: number, keepAnon = false): void {
    const s = Math.max(start, vma.vmStart);
    const e = Math.min(end, vma.vmEnd);
    if (e <= s) return;
    this.pgd.forEach(s, e, (_addr, slot, pte) => {
      if (keepAnon) {
        const pfn = this.normalPfn(pte);
        if (pfn >= 0 && Atomics.load(this.mem.flags, pfn) & PG_anon) return;
      }
      this.zapPte(vma, slot, pte);
    });
    this.finishGather(s, e);
  }

  // ---- VMA set primitives -------------------------------------------------------------------

  private link(vma: Vma): void {
    this.vmas.insert(vma);
    vma.vmFile?.mapping.vmas.add(vma);
  }

  /** remove_vma(): ->close, drop the file reference. The VMA must be unlinked and zapped. */
  private removeVma(vma: Vma): void {
    vma.vmOps?.close?.(vma);
    if (vma.vmFile) {
      vma.vmFile.mapping.vmas.delete(vma);
      vma.vmFile.put();
    }
  }

  private dupVma(vma: Vma, mm: Mm = this): Vma {
    const v = new Vma(mm, vma.vmStart, vma.vmEnd, vma.vmFlags, vma.vmPgoff);
    v.vmOps = vma.vmOps;
    v.vmFile = vma.vmFile;
    v.vmPrivateData = vma.vmPrivateData;
    v.anonVma = vma.anonVma;
    v.anonVmaChainSingular = vma.anonVmaChainSingular;
    v.anonymous = vma.anonymous;
    v.vmPkey = vma.vmPkey;
    vma.vmFile?.get();
    return v;
  }

  /**
   * __split_vma(): splits at addr; the new VMA is the part below addr when `newBelow`, else the
   * part above. The new VMA gets ->open. Returns the new VMA or -errno.
   */
  private splitVma(vma: Vma, addr: number, newBelow: boolean): Vma | number {
    if (vma.vmOps?.maySplit) {
      const err = vma.vmOps.maySplit(vma, addr);
      if (err) return err;
    }
    const nv = this.dupVma(vma);
    const pages = (addr - vma.vmStart) / PAGE;
    if (newBelow) {
      nv.vmEnd = addr;
      this.vmas.updateBounds(vma, addr, vma.vmEnd);
      vma.vmPgoff += pages;
    } else {
      nv.vmStart = addr;
      nv.vmPgoff += pages;
      this.vmas.updateBounds(vma, vma.vmStart, addr);
    }
    this.link(nv);
    nv.vmOps?.open?.(nv);
    return nv;
  }

  /** vma_is_fork_child() (mm/vma.c): has an anon_vma and its anon_vma_chain holds a parent's too. */
  private static isForkChild(v: Vma | null): boolean {
    return v !== null && v.anonVma !== null && !v.anonVmaChainSingular;
  }

  /**
   * is_mergeable_anon_vma() (mm/vma.c, 6.16+): may the target `tgt` take a range whose anon_vma is
   * `srcAnon`? `src` is the VMA being changed (vmg->middle; null for a new range) and `copiedFrom` the
   * VMA mremap copies (vmg->copied_from). The fork-child test applies to the side that brings the
   * anon_vma: src and copied_from when only the range has one (dup_anon_vma into tgt), tgt when only
   * tgt has one; with both, they must be the same anon_vma.
   */
  private static anonMergeable(
    tgt: Vma,
    srcAnon: AnonVma | null,
    src: Vma | null,
    copiedFrom: Vma | null = null,
  ): boolean {
    if (!tgt.anonVma && srcAnon) return !Mm.isForkChild(src) && !Mm.isForkChild(copiedFrom);
    if (tgt.anonVma && !srcAnon) return !Mm.isForkChild(tgt);
    return tgt.anonVma === srcAnon;
  }

  /** can_vma_merge_right() merging both sides: prev's and next's anon_vmas must not differ (no fork test). */
  private static anonVmasCompatible(prev: Vma, next: Vma): boolean {
    return !prev.anonVma || !next.anonVma || prev.anonVma === next.anonVma;
  }

  /** is_mergeable_vma() + is_mergeable_anon_vma(), for a range with these properties next to `v`. */
  private static mergeable(
    v: Vma,
    flags: number,
    pkey: number,
    file: MmFile | null,
    anonVma: AnonVma | null,
    src: Vma | null,
    copiedFrom: Vma | null = null,
  ): boolean {
    if ((v.vmFlags ^ flags) & ~VM_SOFTDIRTY || v.vmPkey !== pkey) return false;
    if (v.vmFile !== file) return false;
    if (flags & VM_SPECIAL) return false;
    return Mm.anonMergeable(v, anonVma, src, copiedFrom);
  }

  private static canRemove(v: Vma): boolean {
    return !v.vmOps?.close;
  }

  /**
   * vma_merge_new_range(): tries to cover the new range [start, end) by expanding the VMA before it
   * and/or the one after. Returns the VMA now covering it, or null.
   */
  private mergeNewRange(
    start: number,
    end: number,
    flags: number,
    pkey: number,
    file: MmFile | null,
    pgoff: number,
    anonVma: AnonVma | null,
    vmOps: Vma["vmOps"],
    copiedFrom: Vma | null = null,
  ): Vma | null {
    if (flags & VM_SPECIAL) return null;
    const next0 = this.vmas.find(start);
    const next = next0 && next0.vmStart === end ? next0 : null;
    const prevCand = next0 ? this.vmas.prev(next0) : this.vmas.last();
    const prev = prevCand && prevCand.vmEnd === start ? prevCand : null;
    const pages = (end - start) / PAGE;
    const sameOps = (v: Vma) => v.vmOps === vmOps;
    const left =
      prev !== null &&
      sameOps(prev) &&
      Mm.mergeable(prev, flags, pkey, file, anonVma, null, copiedFrom) &&
      prev.vmPgoff + (prev.vmEnd - prev.vmStart) / PAGE === pgoff;
    let right =
      next !== null &&
      sameOps(next) &&
      Mm.mergeable(next, flags, pkey, file, anonVma, null, copiedFrom) &&
      next.vmPgoff === pgoff + pages;
    if (left && right && prev && next) {
      // Merging all three deletes `next`: only if it has no ->close and the anon_vmas agree.
      if (!Mm.canRemove(next) || !Mm.anonVmasCompatible(prev, next)) right = false;
      else {
        const nextEnd = next.vmEnd;
        if (!prev.anonVma) prev.anonVma = next.anonVma;
        this.vmas.remove(next);
        next.vmFile?.mapping.vmas.delete(next);
        this.vmas.updateBounds(prev, prev.vmStart, nextEnd);
        next.vmFile?.put();
        return prev;
      }
    }
    if (left && prev) {
      this.vmas.updateBounds(prev, prev.vmStart, end);
      if (!prev.anonVma) prev.anonVma = anonVma;
      return prev;
    }
    if (right && next) {
      this.vmas.updateBounds(next, start, next.vmEnd);
      next.vmPgoff = pgoff;
      if (!next.anonVma) next.anonVma = anonVma;
      return next;
    }
    return null;
  }

  /**
   * vma_modify_flags() for [start, end) inside `vma`: merge with a neighbour if the result is
   * compatible (vma_merge_existing_range), else split off the outside parts. Returns the VMA that
   * now covers exactly [start, end), or -errno.
   */
  private modifyFlags(
    vma: Vma,
    start: number,
    end: number,
    newFlags: number,
    newPkey: number = vma.vmPkey,
  ): Vma | number {
    const pgoff = vma.vmPgoff + (start - vma.vmStart) / PAGE;
    const pages = (end - start) / PAGE;
    const prev = this.vmas.prev(vma);
    const next = this.vmas.next(vma);
    const file = vma.vmFile;
    const special = (newFlags | vma.vmFlags) & VM_SPECIAL;
    const mergeLeft =
      !special &&
      start === vma.vmStart &&
      prev !== null &&
      prev !== undefined &&
      prev.vmEnd === start &&
      prev.vmOps === vma.vmOps &&
      Mm.mergeable(prev, newFlags, newPkey, file, vma.anonVma, vma) &&
      prev.vmPgoff + (prev.vmEnd - prev.vmStart) / PAGE === pgoff;
    const mergeRight =
      !special &&
      end === vma.vmEnd &&
      next !== null &&
      next !== undefined &&
      next.vmStart === end &&
      next.vmOps === vma.vmOps &&
      Mm.mergeable(next, newFlags, newPkey, file, vma.anonVma, vma) &&
      next.vmPgoff === pgoff + pages;
    const whole = start === vma.vmStart && end === vma.vmEnd;
    if (mergeLeft && mergeRight && whole && prev && next) {
      // prev absorbs vma and next: both are deleted.
      if (Mm.canRemove(vma) && Mm.canRemove(next) && Mm.anonVmasCompatible(prev, next)) {
        const nextEnd = next.vmEnd;
        if (!prev.anonVma) prev.anonVma = vma.anonVma ?? next.anonVma;
        this.unlinkQuiet(vma);
        this.unlinkQuiet(next);
        this.vmas.updateBounds(prev, prev.vmStart, nextEnd);
        return prev;
      }
    }
    if (mergeLeft && prev && (!whole || Mm.canRemove(vma))) {
      if (!prev.anonVma) prev.anonVma = vma.anonVma;
      if (whole) {
        this.unlinkQuiet(vma);
        this.vmas.updateBounds(prev, prev.vmStart, end);
      } else {
        this.vmas.updateBounds(vma, end, vma.vmEnd);
        vma.vmPgoff += pages;
        this.vmas.updateBounds(prev, prev.vmStart, end);
      }
      return prev;
    }
    if (mergeRight && next && (!whole || Mm.canRemove(vma))) {
      if (!next.anonVma) next.anonVma = vma.anonVma;
      if (whole) {
        this.unlinkQuiet(vma);
        this.vmas.updateBounds(next, start, next.vmEnd);
      } else {
        this.vmas.updateBounds(vma, vma.vmStart, start);
        this.vmas.updateBounds(next, start, next.vmEnd);
      }
      next.vmPgoff = pgoff;
      return next;
    }
    let target = vma;
    if (start > target.vmStart) {
      const r = this.splitVma(target, start, true);
      if (typeof r === "number") return r;
    }
    if (end < target.vmEnd) {
      const r = this.splitVma(target, end, false);
      if (typeof r === "number") return r;
    }
    target = this.vmaLookup(start)!;
    target.vmFlags = newFlags;
    target.vmPkey = newPkey;
    return target;
  }

  /** A VMA swallowed by a merge: leaves the tree without ->close (its range lives on in the neighbour). */
  private unlinkQuiet(v: Vma): void {
    this.vmas.remove(v);
    if (v.vmFile) {
      v.vmFile.mapping.vmas.delete(v);
      v.vmFile.put();
    }
  }

  // ---- get_unmapped_area --------------------------------------------------------------------

  private getUnmappedArea(
    file: MmFile | null,
    addr: number,
    len: number,
    pgoff: number,
    flags: number,
  ): number {
    if (len > TASK_SIZE) return -ENOMEM;
    let result: number;
    if (file?.getUnmappedArea) {
      result = file.getUnmappedArea(addr, len, pgoff, flags);
    } else {
      let alignMask = 0;
      // mm/mmap.c __get_unmapped_area: anonymous mappings whose length is a multiple of the PMD size
      // are aligned to it so they can use huge pages (thp_get_unmapped_area_vmflags).
      if (!file && !addr && !(flags & MAP_FIXED) && len % PMD_SIZE === 0) alignMask = PMD_SIZE - 1;
      result = this.archGetUnmappedAreaTopdown(addr, len, file ? pgoff : 0, flags, alignMask);
    }
    if (result < 0) return result;
    if (result > TASK_SIZE - len) return -ENOMEM;
    if (result % PAGE !== 0) return -EINVAL;
    return result;
  }

  /** arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area_topdown() */
  private archGetUnmappedAreaTopdown(
    addr0: number,
    len: number,
    pgoff: number,
    flags: number,
    alignMask: number,
  ): number {
    if (len > TASK_SIZE) return -ENOMEM;
    if (flags & MAP_FIXED) return addr0;
    if (flags & MAP_32BIT) return this.bottomUp(addr0, len, pgoff, alignMask);
    if (addr0) {
      const addr = addr0 - (addr0 % PAGE);
      // mmap_address_hint_valid(): the hint and its end stay below TASK_SIZE.
      if (TASK_SIZE - len >= addr && this.rangeFree(addr, addr + len)) return addr;
    }
    // unmapped_area_topdown(): the highest gap that holds len + align_mask, then the highest aligned
    // start inside it (the kernel's search is not exact for aligned requests; neither is ours).
    const off = (pgoff * PAGE) % (alignMask + 1);
    const g = this.vmas.findGapTopDown(len + alignMask, PAGE, this.mmapBase);
    if (g >= 0) {
      const a = g + alignMask;
      return a - ((((a - off) % (alignMask + 1)) + (alignMask + 1)) % (alignMask + 1));
    }
    return this.bottomUp(0, len, pgoff, alignMask);
  }

  private bottomUp(addr0: number, len: number, pgoff: number, alignMask: number): number {
    if (addr0) {
      const addr = Math.ceil(addr0 / PAGE) * PAGE;
      if (TASK_SIZE - len >= addr && addr >= MMAP_MIN_ADDR && this.rangeFree(addr, addr + len)) return addr;
    }
    const off = (pgoff * PAGE) % (alignMask + 1);
    const g = this.vmas.findGapBottomUp(len + alignMask, TASK_UNMAPPED_BASE, TASK_SIZE);
    if (g < 0) return -ENOMEM;
    return g + ((((off - g) % (alignMask + 1)) + (alignMask + 1)) % (alignMask + 1));
  }

  private rangeFree(start: number, end: number): boolean {
    const v = this.vmas.find(start);
    return !v || v.vmStart >= end;
  }

  /** find_vma_intersection() */
  private intersects(start: number, end: number): boolean {
    return !this.rangeFree(start, end);
  }

  // ---- mmap ---------------------------------------------------------------------------------

  /**
   * The x86-64 mmap syscall once the fd is resolved: `offset` in bytes (checked first, as
   * sys_mmap does), `file` null for MAP_ANONYMOUS. Returns the address or -errno.
   */
  mmap(addr: number, len: number, prot: number, flags: number, file: MmFile | null, offset: number): number {
    if (offsetInPage(offset) !== 0) return -EINVAL;
    return this.mmapPgoff(addr, len, prot, flags, file, Math.floor(ul(offset) / PAGE));
  }

  /** do_mmap() (mm/mmap.c), including mmap_region(). */
  mmapPgoff(
    addr: number,
    lenIn: number,
    prot: number,
    flagsIn: number,
    file: MmFile | null,
    pgoffIn: number,
  ): number {
    let flags = flagsIn;
    let pgoff = pgoffIn;
    addr = ul(addr);
    const lenU = ul(lenIn);
    if (lenU === 0) return -EINVAL;
    if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
    if (!(flags & MAP_FIXED)) {
      // round_hint_to_min()
      addr -= addr % PAGE;
      if (addr && addr < MMAP_MIN_ADDR) addr = MMAP_MIN_ADDR;
    }
    const len = pageAlign(lenU);
    if (len === 0) return -ENOMEM;
    // (pgoff + pages) wrapping an unsigned long: impossible for offsets a 64-bit mmap can pass.
    if (pgoff + len / PAGE >= TWO64) return -EOVERFLOW;
    // file_mmap_ok(): a character device without FMODE_UNSIGNED_OFFSET ends at MAX_LFS_FILESIZE.
    if (file && !file.unsignedOffset && pgoff > Math.floor((2 ** 63 - len) / PAGE)) return -EOVERFLOW;
    if (this.mapCount > this.maxMapCount) return -ENOMEM;
    // do_mmap(): PROT_EXEC alone asks for execute-only memory; with PKU it gets the execute-only key,
    // allocated here (before the address is chosen, so even a failing mmap allocates it).
    let pkey = 0;
    if (prot === PROT_EXEC) pkey = Math.max(0, this.pkeys.executeOnly());
    const area = this.getUnmappedArea(file, addr, len, pgoff, flags);
    if (area < 0) return area;
    addr = area;
    if (flags & MAP_FIXED_NOREPLACE && this.intersects(addr, addr + len)) return -EEXIST;

    let vmFlags = protToVm(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    // calc_vm_flag_bits()
    if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
    if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
    if (flags & MAP_STACK) vmFlags |= VM_NOHUGEPAGE;
    if (flags & MAP_LOCKED && this.lockedVm * PAGE + len > this.mlockLimit) return -EAGAIN;

    if (file) {
      switch (flags & MAP_TYPE) {
        case MAP_SHARED:
        case MAP_SHARED_VALIDATE: {
          if ((flags & MAP_TYPE) === MAP_SHARED) flags &= LEGACY_MAP_MASK;
          else if (flags & ~(LEGACY_MAP_MASK | MAP_SYNC | MAP_FIXED_NOREPLACE | MAP_SHARED_VALIDATE))
            return -EOPNOTSUPP;
          if (flags & MAP_SYNC) return -EOPNOTSUPP; // no DAX device here
          if (prot & PROT_WRITE && !file.writable) return -EACCES;
          vmFlags |= VM_SHARED | VM_MAYSHARE;
          if (!file.writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
          if (!file.readable) return -EACCES;
          break;
        }
        case MAP_PRIVATE:
          if (!file.readable) return -EACCES;
          break;
        default:
          return -EINVAL;
      }
      if (!file.mmap) return -ENODEV;
      if (vmFlags & VM_GROWSDOWN) return -EINVAL;
    } else {
      switch (flags & MAP_TYPE) {
        case MAP_SHARED:
          if (vmFlags & VM_GROWSDOWN) return -EINVAL;
          pgoff = 0;
          vmFlags |= VM_SHARED | VM_MAYSHARE;
          break;
        case MAP_DROPPABLE:
          // v6.11: memory the kernel may drop under pressure; never locked, reserved, forked or dumped.
          if (flags & (MAP_LOCKED | MAP_GROWSDOWN)) return -EINVAL;
          vmFlags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
          pgoff = addr / PAGE;
          break;
        case MAP_PRIVATE:
          pgoff = addr / PAGE;
          break;
        default:
          return -EINVAL;
      }
    }
    if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
    if (flags & MAP_SYNC && !(vmFlags & VM_SHARED)) vmFlags &= ~VM_SYNC;

    const res = this.mmapRegion(file, addr, len, vmFlags, pgoff, pkey);
    if (res < 0) return res;
    const vma = this.vmaLookup(res);
    if (vma && (vma.vmFlags & VM_LOCKED || (flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE)) {
      this.populate(res, res + len, false);
    }
    return res;
  }

  /** mmap_region(): unmap what MAP_FIXED covers, build the VMA, call the driver. Atomic on failure. */
  private mmapRegion(
    file: MmFile | null,
    addr: number,
    len: number,
    vmFlagsIn: number,
    pgoff: number,
    pkey: number,
  ): number {
    let vmFlags = vmFlagsIn;
    const end = addr + len;
    // Detach what we replace, keeping its PTEs aside so a failure can put everything back.
    const detached = this.intersects(addr, end) ? this.detachRange(addr, end) : null;
    if (typeof detached === "number") return detached;
    if (this.mapCount + 1 > this.maxMapCount) {
      if (detached) this.reattach(detached);
      return -ENOMEM;
    }
    // accountable_mapping(): private writable memory is charged to the commit limit.
    if (!(vmFlags & VM_NORESERVE) && (vmFlags & (VM_SHARED | VM_WRITE)) === VM_WRITE) vmFlags |= VM_ACCOUNT;

    let vma: Vma | null = null;
    // A new mapping of the same object, flags and linear pgoff next to an existing VMA expands it
    // without calling ->mmap again (mm/vma.c __mmap_region tries vma_merge_new_range first).
    // Shared anonymous memory is a new shmem file each time, so it never merges.
    if (file || !(vmFlags & VM_SHARED)) {
      vma = this.mergeNewRange(
        addr,
        end,
        vmFlags,
        pkey,
        file,
        pgoff,
        null,
        file ? (this.opsOfFile(file) ?? null) : null,
      );
    }
    if (!vma) {
      const v = new Vma(this, addr, end, vmFlags, pgoff);
      v.vmPkey = pkey;
      if (file) {
        v.vmFile = file;
        file.get();
        this.vmas.insert(v);
        let err: number;
        try {
          err = file.mmap!(v);
        } catch (e) {
          this.abortNewVma(v);
          if (detached) this.reattach(detached);
          throw e;
        }
        if (err) {
          this.abortNewVma(v);
          if (detached) this.reattach(detached);
          return err < 0 ? err : -err;
        }
        file.mapping.vmas.add(v);
        // The driver may have changed vm_flags (VM_IO, VM_PFNMAP…): try merging once more.
        this.vmas.remove(v);
        const merged =
          v.vmFlags & VM_SPECIAL || v.vmOps?.close
            ? null
            : this.mergeNewRange(
                v.vmStart,
                v.vmEnd,
                v.vmFlags,
                v.vmPkey,
                file,
                v.vmPgoff,
                v.anonVma,
                v.vmOps,
              );
        if (merged) {
          file.mapping.vmas.delete(v);
          file.put();
          vma = merged;
        } else {
          this.vmas.insert(v);
          vma = v;
        }
      } else if (vmFlags & VM_SHARED) {
        // shmem_zero_setup(): shared anonymous memory is a file on an internal tmpfs.
        const shm = new ShmemFile(this.mem, len);
        v.vmFile = shm;
        shm.get();
        v.vmOps = shm.vmOps;
        this.link(v);
        vma = v;
      } else {
        v.anonymous = true;
        this.vmas.insert(v);
        vma = v;
      }
    }
    if (detached) this.releaseDetached(detached);
    vma.vmFlags |= VM_SOFTDIRTY;
    if (vma.vmFlags & VM_LOCKED) {
      if (vma.vmFlags & VM_SPECIAL) vma.vmFlags &= ~VM_LOCKED_MASK;
      else this.lockedVm += len / PAGE;
    }
    return addr;
  }

  private opsOfFile(file: MmFile): Vma["vmOps"] | undefined {
    for (const v of file.mapping.vmas) if (v.vmMm === this && v.vmFile === file) return v.vmOps;
    return undefined;
  }

  private abortNewVma(v: Vma): void {
    // The driver may have filled PTEs before failing (unmap_region on the error path).
    this.zapRange(v, v.vmStart, v.vmEnd);
    this.pgd.freeEmpty(v.vmStart, v.vmEnd);
    this.vmas.remove(v);
    v.vmFile?.put();
  }

  // ---- detaching a range (munmap, MAP_FIXED, mremap) ----------------------------------------

  /**
   * vms_gather_munmap_vmas(): splits the VMAs at the edges of [start, end) and takes the ones inside
   * out of the tree, keeping their PTEs so the caller can either release them or put them back.
   */
  private detachRange(start: number, end: number): Detached | number {
    let first = this.vmas.find(start);
    if (!first || first.vmStart >= end) return { vmas: [], start, end };
    const legacy = this.era === "2.6.10";
    if (start > first.vmStart) {
      // Splitting strictly inside one VMA needs a new map slot (munmap04).
      if (end < first.vmEnd && this.mapCount >= this.maxMapCount) return -ENOMEM;
      // Today's kernel keeps the new VMA below (it stays); 2.6.10's split_vma(.., 0) made the new
      // one the part that goes away, so the driver's ->open ran on the piece about to be closed.
      const r = this.splitVma(first, start, !legacy);
      if (typeof r === "number") return r;
      if (legacy) first = r;
    }
    const vmas: Vma[] = [];
    for (const v of [...this.vmas.intersecting(start, end)]) {
      let victim = v;
      if (victim.vmEnd > end) {
        const r = this.splitVma(victim, end, legacy);
        if (typeof r === "number") {
          for (const d of vmas) this.vmas.insert(d);
          return r;
        }
        if (legacy) victim = r;
      }
      vmas.push(victim);
    }
    for (const v of vmas) this.vmas.remove(v);
    return { vmas, start, end };
  }

  private reattach(d: Detached): void {
    for (const v of d.vmas) this.vmas.insert(v);
  }

  /** vms_complete_munmap_vmas(): zap, free page tables, then ->close and fput each VMA. */
  private releaseDetached(d: Detached): void {
    for (const v of d.vmas) {
      this.zapRange(v, v.vmStart, v.vmEnd);
      if (v.vmFlags & VM_LOCKED) this.lockedVm -= (v.vmEnd - v.vmStart) / PAGE;
    }
    this.pgd.freeEmpty(d.start, d.end);
    for (const v of d.vmas) this.removeVma(v);
  }

  /** munmap(2) (do_vmi_munmap) */
  munmap(startIn: number, lenIn: number): number {
    const start = ul(startIn);
    const lenU = ul(lenIn);
    if (start % PAGE !== 0 || start > TASK_SIZE || lenU > TASK_SIZE - start) return -EINVAL;
    const len = pageAlign(lenU);
    if (len === 0) return -EINVAL;
    const d = this.detachRange(start, start + len);
    if (typeof d === "number") return d;
    this.releaseDetached(d);
    return 0;
  }

  // ---- page faults --------------------------------------------------------------------------

  /**
   * handle_mm_fault() plus the arch checks before it (arch/x86/mm/fault.c): returns FAULT_OK when a
   * PTE now allows the access, or why not. Driver exceptions propagate to the caller (an oops).
   */
  handleFault(addr: number, write: boolean): number {
    if (this.dead) return FAULT_SEGV_MAPERR;
    if (!(addr >= 0 && addr < TASK_SIZE)) return FAULT_SEGV_MAPERR;
    const vma = this.vmaLookup(addr);
    if (!vma) return FAULT_SEGV_MAPERR;
    // access_error(): a protection key that denies the access comes first and is final (no COW, no
    // fault-in): arch_vma_access_permitted() with the faulting thread's PKRU.
    if (this.pkeys.enabled && !pkruAllows(this.pkeys.value, vma.vmPkey, write))
      return FAULT_SEGV_PKUERR | (vma.vmPkey << 8);
    if (write ? !(vma.vmFlags & VM_WRITE) : !(vma.vmFlags & (VM_READ | VM_WRITE | VM_EXEC)))
      return FAULT_SEGV_ACCERR;
    const ret = this.handlePteFault(vma, addr - (addr % PAGE), addr, write);
    if (ret & VM_FAULT_OOM) return FAULT_OOM;
    if (ret & VM_FAULT_SIGBUS) return FAULT_SIGBUS;
    if (ret & VM_FAULT_SIGSEGV) return FAULT_SEGV_ACCERR;
    if (ret & VM_FAULT_MAJOR) this.majflt++;
    else this.minflt++;
    return FAULT_OK;
  }

  private handlePteFault(vma: Vma, address: number, real: number, write: boolean): number {
    const slot = this.pgd.pteSlot(address, true);
    if (slot === TABLE_OOM) return VM_FAULT_OOM;
    const pte = this.pgd.readSlot(slot);
    if (pte === 0) {
      if (vma.anonymous) return this.doAnonymousPage(vma, slot, write);
      return this.doFault(vma, slot, address, real, write);
    }
    const fl = pteFlags(pte);
    if (!(fl & _PAGE_PRESENT)) {
      // A PROT_NONE entry whose VMA now allows the access (mprotect raced with us): restore it.
      this.pgd.setPte(slot, pte - (fl & _PAGE_PROTNONE) + _PAGE_PRESENT, vma.vmPkey);
      return this.handlePteFault(vma, address, real, write);
    }
    if (write && !(fl & _PAGE_RW)) return this.doWpPage(vma, slot, address, pte);
    // Spurious (another thread fixed it, or a TLB refill): mark young/dirty as the hardware would.
    this.pgd.orFlags(slot, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
    return 0;
  }

  /** do_anonymous_page() */
  private doAnonymousPage(vma: Vma, slot: number, write: boolean): number {
    if (vma.vmFlags & VM_SHARED && this.era === "modern") return VM_FAULT_SIGBUS;
    if (!write && this.zeroPage) {
      // The zero page: shared, read-only, special (no refcount, not in RSS).
      this.pgd.setPte(
        slot,
        pteMk(this.mem.zeroPfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL),
        vma.vmPkey,
      );
      return 0;
    }
    return this.newAnonPage(vma, slot, -1);
  }

  /** Maps a fresh anon page (zeroed, or a copy of `srcPfn`'s contents) writable and dirty. */
  private newAnonPage(vma: Vma, slot: number, srcPfn: number): number {
    if (!vma.anonVma) {
      // anon_vma_prepare(): reuse a mergeable neighbour's anon_vma (find_mergeable_anon_vma).
      const prev = this.vmas.prev(vma);
      const next = this.vmas.next(vma);
      // reusable_anon_vma()/anon_vma_compatible(): an adjacent neighbour like us.
      const share = (n: Vma | null | undefined) =>
        n?.anonVma &&
        (n.vmEnd === vma.vmStart || n.vmStart === vma.vmEnd) &&
        n.anonVmaChainSingular &&
        ((n.vmFlags ^ vma.vmFlags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) === 0 &&
        n.vmFile === vma.vmFile &&
        n.vmPgoff === vma.vmPgoff + (n.vmStart - vma.vmStart) / PAGE;
      // find_mergeable_anon_vma() (mm/vma.c) tries the next VMA first, then the previous one.
      vma.anonVma = share(next) ? next!.anonVma : share(prev) ? prev!.anonVma : new AnonVma();
    }
    const pfn = this.mem.allocPfn(0, srcPfn < 0 ? __GFP_ZERO : 0);
    if (pfn < 0) return VM_FAULT_OOM;
    if (srcPfn >= 0) this.copyFrame(srcPfn, pfn);
    Atomics.or(this.mem.flags, pfn, PG_anon | PG_anon_exclusive);
    const rw = vma.vmFlags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0;
    this.mapPage(vma, slot, pfn, rw);
    return 0;
  }

  /** Copies one frame's 4 KiB, from RAM or from a device's memory (cow_user_page). */
  private copyFrame(src: number, dst: number): void {
    const to = this.mem.frameBytes(dst);
    const loc = this.phys.locatePage(src);
    if (loc >= 0) {
      const bank = Math.floor(loc / 2 ** 32);
      const off = loc % 2 ** 32;
      to.set(this.mem.banks.u8[bank]!.subarray(off, off + PAGE));
      return;
    }
    const dv = new DataView(to.buffer, to.byteOffset, PAGE);
    for (let i = 0; i < PAGE; i += 4) dv.setUint32(i, this.phys.physRead(src * PAGE + i, 4), true);
  }

  /** do_fault(): the VMA has a driver (or no handler at all). */
  private doFault(vma: Vma, slot: number, address: number, real: number, write: boolean): number {
    const ops = vma.vmOps;
    if (!ops?.fault && !ops?.nopage) {
      // 2.6.10's do_no_page() fell back to do_anonymous_page() when ->nopage was NULL; since
      // commit bfd40eaff5ab every file VMA has vm_ops and do_fault() answers SIGBUS.
      if (this.era === "2.6.10") return this.doAnonymousPage(vma, slot, write);
      return VM_FAULT_SIGBUS;
    }
    if (write && !(vma.vmFlags & VM_SHARED)) return this.doCowFault(vma, slot, address, real);
    const vmf = this.callFault(vma, address, real, write);
    if (typeof vmf === "number") return vmf;
    if (vmf.ret & VM_FAULT_NOPAGE) return vmf.ret & ~VM_FAULT_NOPAGE;
    const pfn = vmf.pfn;
    // finish_fault(): read faults map read-only unless the mapping is shared and writable.
    let flags = 0;
    if (vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE) flags = _PAGE_RW | (write ? _PAGE_DIRTY : 0);
    const cur = this.pgd.readSlot(slot);
    if (cur !== 0) {
      // The driver installed something itself; drop the extra page.
      this.mem.putPage(pfn);
      return vmf.ret;
    }
    this.mapPage(vma, slot, pfn, flags);
    return vmf.ret;
  }

  /**
   * __do_fault(): calls ->fault (or the 2.6 ->nopage) and checks what came back. Returns the
   * error code, or the page the driver referenced.
   */
  private callFault(
    vma: Vma,
    address: number,
    real: number,
    write: boolean,
  ): number | { pfn: number; ret: number } {
    const ops = vma.vmOps!;
    const pgoff = vma.vmPgoff + (address - vma.vmStart) / PAGE;
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
        if (vmf.page) this.mem.putPage(vmf.page.pfn);
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
  private doCowFault(vma: Vma, slot: number, address: number, real: number): number {
    const vmf = this.callFault(vma, address, real, true);
    if (typeof vmf === "number") return vmf;
    if (vmf.ret & VM_FAULT_NOPAGE) return vmf.ret & ~VM_FAULT_NOPAGE;
    const r = this.newAnonPage(vma, slot, vmf.pfn);
    this.mem.putPage(vmf.pfn);
    return r | vmf.ret;
  }

  /** do_wp_page(): a write hit a present read-only PTE. */
  private doWpPage(vma: Vma, slot: number, address: number, pte: number): number {
    const pfn = this.normalPfn(pte);
    if (vma.vmFlags & (VM_SHARED | VM_MAYSHARE)) {
      // wp_pfn_shared / wp_page_shared: make it writable in place.
      this.pgd.setPte(
        slot,
        pte + (pteFlags(pte) & _PAGE_RW ? 0 : _PAGE_RW) + (pteFlags(pte) & _PAGE_DIRTY ? 0 : _PAGE_DIRTY),
        vma.vmPkey,
      );
      this.flushTlbRange(address, address + PAGE);
      return 0;
    }
    if (pfn >= 0) {
      const f = Atomics.load(this.mem.flags, pfn);
      // Reuse an anon page nobody else maps or references (wp_can_reuse_anon_folio).
      if (
        f & PG_anon &&
        Atomics.load(this.mem.refcount, pfn) === 1 &&
        Atomics.load(this.mem.mapcount, pfn) === 1
      ) {
        Atomics.or(this.mem.flags, pfn, PG_anon_exclusive);
        this.pgd.setPte(slot, pte + _PAGE_RW + (pteFlags(pte) & _PAGE_DIRTY ? 0 : _PAGE_DIRTY), vma.vmPkey);
        this.flushTlbRange(address, address + PAGE);
        return 0;
      }
    }
    // wp_page_copy(): the zero page gives a zeroed page, anything else a copy of its contents.
    const src = ptePfn(pte);
    this.pgd.setPte(slot, 0);
    this.flushTlbRange(address, address + PAGE);
    const r = this.newAnonPage(vma, slot, src === this.mem.zeroPfn ? -1 : src);
    if (r) {
      this.pgd.setPte(slot, pte, vma.vmPkey);
      return r;
    }
    if (pfn >= 0) {
      Atomics.sub(this.mem.mapcount, pfn, 1);
      this.rssAdd(vma, pfn, -1);
      this.mem.putPage(pfn);
    }
    return 0;
  }

  /** GUP-style population (MAP_POPULATE, mlock, MADV_POPULATE_*): errors are ignored, as __mm_populate does. */
  populate(start: number, end: number, forceWrite: boolean): number {
    let err = 0;
    for (const vma of [...this.vmas.intersecting(start, end)]) {
      // check_vma_flags(): GUP refuses VM_IO|VM_PFNMAP.
      if (vma.vmFlags & (VM_IO | VM_PFNMAP)) continue;
      const write = forceWrite || (isCowMapping(vma.vmFlags) && (vma.vmFlags & VM_WRITE) !== 0);
      const s = Math.max(start, vma.vmStart);
      const e = Math.min(end, vma.vmEnd);
      for (let a = s; a < e; a += PAGE) {
        const pte = this.pgd.getPte(a);
        const fl = pteFlags(pte);
        if (pte !== 0 && fl & _PAGE_PRESENT && (!write || fl & _PAGE_RW)) continue;
        const r = this.handleFault(a, write);
        if (r !== FAULT_OK && !err) err = r;
        if (r !== FAULT_OK) break;
      }
    }
    return err;
  }

  // ---- driver helpers -----------------------------------------------------------------------

  /**
   * remap_pfn_range() (mm/memory.c): maps [addr, addr+size) to consecutive pfns up front with special
   * PTEs, for pfns with or without a struct page. Returns 0 or -errno.
   */
  remapPfnRange(vma: Vma, addr: number, pfn: number, size: number, prot: number = vma.vmPageProt): number {
    const len = pageAlign(size);
    const end = addr + len;
    if (addr % PAGE !== 0 || !Number.isInteger(pfn) || pfn < 0) return -EINVAL;
    if (addr < vma.vmStart || end > vma.vmEnd || end <= addr) return -EINVAL;
    if (isCowMapping(vma.vmFlags)) {
      // A private mapping must be remapped whole, and vm_pgoff then names the first pfn so COWed
      // pages can be told apart from the PFNMAP ones.
      if (addr !== vma.vmStart || end !== vma.vmEnd) return -EINVAL;
      vma.vmPgoff = pfn;
    }
    // 2.6.10 marked the VMA VM_IO|VM_RESERVED only (VM_PFNMAP came in 2.6.15, VM_DONTEXPAND for remaps
    // later), so the book's kernel let such a VMA grow: the new pages then fault like any VMA
    // without a nopage handler. VM_RESERVED has no bit today and is not shown.
    vma.vmFlags |= this.era === "2.6.10" ? VM_IO : VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
    const rw = prot & VM_WRITE && prot & VM_SHARED ? _PAGE_RW : 0;
    for (let a = addr, p = pfn; a < end; a += PAGE, p++) {
      const slot = this.pgd.pteSlot(a, true);
      if (slot === TABLE_OOM) {
        this.zapRange(vma, addr, a);
        return -ENOMEM;
      }
      if (this.pgd.readSlot(slot) !== 0) {
        this.zapRange(vma, addr, a);
        throw new Error(
          `remapPfnRange: a PTE already exists at ${a.toString(16)} (kernel BUG in remap_pte_range)`,
        );
      }
      // 2.6.10's remap_pte_range() only filled PTEs for pfns without a struct page or reserved ones:
      // ordinary RAM was left to fault, which gave the zero page (LDD3: "mapper /dev/mem 0x10000" reads zeros).
      if (this.era === "2.6.10" && this.mem.pfnValid(p) && !(Atomics.load(this.mem.flags, p) & PG_reserved))
        continue;
      this.pgd.setPte(
        slot,
        pteMk(p, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | _PAGE_PFNMAP | rw),
        vma.vmPkey,
      );
    }
    return 0;
  }

  /** vmf_insert_pfn(): installs one special PTE from a fault handler. Returns VM_FAULT_NOPAGE or an error code. */
  vmfInsertPfn(vma: Vma, addr: number, pfn: number): number {
    const pfnmap = (vma.vmFlags & VM_PFNMAP) !== 0;
    const mixed = (vma.vmFlags & VM_MIXEDMAP) !== 0;
    if (pfnmap === mixed)
      throw new Error("vmfInsertPfn: the VMA needs exactly one of VM_PFNMAP and VM_MIXEDMAP (kernel BUG)");
    if (pfnmap && isCowMapping(vma.vmFlags))
      throw new Error("vmfInsertPfn: VM_PFNMAP on a private writable mapping (kernel BUG)");
    if (addr < vma.vmStart || addr >= vma.vmEnd) return VM_FAULT_SIGBUS;
    const a = addr - (addr % PAGE);
    const slot = this.pgd.pteSlot(a, true);
    if (slot === TABLE_OOM) return VM_FAULT_OOM;
    if (this.pgd.readSlot(slot) !== 0) return VM_FAULT_NOPAGE;
    const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE ? _PAGE_RW : 0;
    this.pgd.setPte(
      slot,
      pteMk(pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | _PAGE_PFNMAP | rw),
      vma.vmPkey,
    );
    return VM_FAULT_NOPAGE;
  }

  /** vm_insert_page(): maps a driver's page (a normal, refcounted mapping). Returns 0 or -errno. */
  vmInsertPage(vma: Vma, addr: number, page: Page): number {
    if (addr < vma.vmStart || addr >= vma.vmEnd) return -EFAULT;
    if (Atomics.load(this.mem.flags, page.pfn) & PG_anon) return -EINVAL;
    if (!(vma.vmFlags & VM_MIXEDMAP)) {
      if (vma.vmFlags & VM_PFNMAP) throw new Error("vmInsertPage: VM_PFNMAP VMA (kernel BUG)");
      vma.vmFlags |= VM_MIXEDMAP;
    }
    const slot = this.pgd.pteSlot(addr - (addr % PAGE), true);
    if (slot === TABLE_OOM) return -ENOMEM;
    if (this.pgd.readSlot(slot) !== 0) return -EBUSY;
    this.mem.getPage(page.pfn);
    const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE ? _PAGE_RW : 0;
    this.mapPage(vma, slot, page.pfn, rw);
    return 0;
  }

  // ---- mremap -------------------------------------------------------------------------------

  /** mremap(2) (mm/mremap.c do_mremap): returns the new address or -errno. */
  mremap(addrIn: number, oldLenIn: number, newLenIn: number, flags: number, newAddrIn = 0): number {
    const addr = ul(addrIn);
    const newAddr = ul(newAddrIn);
    const oldLen = pageAlign(ul(oldLenIn));
    const newLen = pageAlign(ul(newLenIn));
    // check_mremap_params()
    if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return -EINVAL;
    if (addr % PAGE !== 0) return -EINVAL;
    if (newLen === 0 || newLen > TASK_SIZE) return -EINVAL;
    const impliesNew = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
    if (impliesNew) {
      if (newAddr > TASK_SIZE - newLen) return -EINVAL;
      if (newAddr % PAGE !== 0) return -EINVAL;
      if (!(flags & MREMAP_MAYMOVE)) return -EINVAL;
      if (flags & MREMAP_DONTUNMAP && oldLen !== newLen) return -EINVAL;
      if (addr + oldLen > newAddr && newAddr + newLen > addr) return -EINVAL;
    }
    // check_map_count_against_split_early(): room for the worst case of four new VMAs.
    if (this.mapCount + 4 > this.maxMapCount) return -ENOMEM;
    const req: Remap = { addr, oldLen, newLen, flags, newAddr };
    // Since v6.17 a pure MREMAP_FIXED move may span several VMAs (remap_move()).
    if (flags & MREMAP_FIXED && oldLen === newLen) return this.remapMove(req);
    const vma = this.vmaLookup(addr);
    // A same-size mremap in place is a no-op once something is mapped at addr (what 6.18 answers,
    // whatever lies past the VMA's end).
    if (vma && oldLen === newLen && !impliesNew) return addr;
    const err = this.checkPrepVma(vma, req);
    if (err) return err;
    return impliesNew ? this.mremapTo(vma!, req) : this.mremapAt(vma!, req);
  }

  /** check_prep_vma() */
  private checkPrepVma(vma: Vma | null, r: Remap): number {
    if (!vma) return -EFAULT;
    if (r.oldLen === 0 && !(vma.vmFlags & (VM_SHARED | VM_MAYSHARE))) return -EINVAL;
    if (r.flags & MREMAP_DONTUNMAP && vma.vmFlags & (VM_DONTEXPAND | VM_PFNMAP)) return -EINVAL;
    // A shrink may unmap across the end of the VMA; only what stays must lie inside it.
    // A shrink unmaps the tail wherever it lies (shrink_vma() uses munmap); what moves or grows
    // must lie inside this VMA.
    const impliesNew = (r.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
    const len = r.newLen < r.oldLen ? (impliesNew ? r.newLen : 0) : r.oldLen;
    if (len > vma.vmEnd - r.addr) return -EFAULT;
    if (r.newLen <= r.oldLen) return 0;
    const pgoff = vma.vmPgoff + (r.addr - vma.vmStart) / PAGE;
    if (pgoff + r.newLen / PAGE >= TWO64) return -EINVAL;
    // Every remap_pfn_range VMA is VM_DONTEXPAND|VM_PFNMAP: it may shrink or move, never grow.
    if (vma.vmFlags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
    if (vma.vmFlags & VM_LOCKED && this.lockedVm * PAGE + r.newLen - r.oldLen > this.mlockLimit)
      return -EAGAIN;
    return 0;
  }

  /** remap_move(): a same-size MREMAP_FIXED move of every VMA in the range, keeping the gaps. */
  private remapMove(r: Remap): number {
    const start = r.addr;
    const end = r.addr + r.oldLen;
    let res = -EFAULT;
    let seen = false;
    let target = r.newAddr;
    let lastEnd = 0;
    let pos = start;
    for (;;) {
      // for_each_vma_range(): after a move the walk resumes at the old end of the VMA just done, so
      // a VMA that grew by merging with the moved piece is not visited again.
      let vma = this.vmas.find(pos);
      if (vma && seen && vma.vmStart < pos) vma = this.vmas.next(vma);
      if (!vma || vma.vmStart >= end) break;
      if (!seen && start < vma.vmStart) return -EFAULT;
      const a = Math.max(vma.vmStart, start);
      const len = Math.min(end, vma.vmEnd) - a;
      const offset = seen ? vma.vmStart - lastEnd : 0;
      lastEnd = vma.vmEnd;
      pos = vma.vmEnd;
      const sub: Remap = { addr: a, oldLen: len, newLen: len, flags: r.flags, newAddr: target + offset };
      // vma_multi_allowed(): a driver that places its own mappings may not obey MREMAP_FIXED.
      if (vma.vmFile?.getUnmappedArea && !(vma.vmFile instanceof ShmemFile)) {
        if (seen || vma.vmEnd < end) return -EFAULT;
      }
      let rv = this.checkPrepVma(vma, sub);
      if (!rv) rv = this.mremapTo(vma, sub);
      if (rv < 0) return rv;
      if (!seen) res = rv;
      seen = true;
      target = rv + len;
    }
    return res;
  }

  /** mremap_at(): resize without a new address. */
  private mremapAt(vma: Vma, r: Remap): number {
    if (r.oldLen === r.newLen) return r.addr;
    if (r.newLen < r.oldLen) {
      this.munmap(r.addr + r.newLen, r.oldLen - r.newLen);
      return r.addr;
    }
    // expand_vma(): grow in place when the range ends at the VMA's end and the space after is free.
    const delta = r.newLen - r.oldLen;
    if (
      r.addr + r.oldLen === vma.vmEnd &&
      vma.vmEnd + delta <= TASK_SIZE &&
      this.rangeFree(vma.vmEnd, vma.vmEnd + delta)
    ) {
      this.expandInPlace(vma, delta);
      return r.addr;
    }
    if (!(r.flags & MREMAP_MAYMOVE)) return -ENOMEM;
    const a = this.getUnmappedArea(
      vma.vmFile,
      0,
      r.newLen,
      vma.vmPgoff + (r.addr - vma.vmStart) / PAGE,
      vma.vmFlags & VM_MAYSHARE ? MAP_SHARED : 0,
    );
    if (a < 0) return a;
    return this.moveVma(vma, r.addr, r.oldLen, a, r.newLen, r.flags);
  }

  /** mremap_to(): MREMAP_FIXED / MREMAP_DONTUNMAP. */
  private mremapTo(vmaIn: Vma, r: Remap): number {
    let vma: Vma | null = vmaIn;
    let oldLen = r.oldLen;
    if (r.flags & MREMAP_FIXED) {
      const err = this.munmap(r.newAddr, r.newLen);
      if (err) return err;
      vma = this.vmaLookup(r.addr);
      if (!vma) return -EFAULT;
    }
    if (r.newLen < oldLen) {
      this.munmap(r.addr + r.newLen, oldLen - r.newLen);
      oldLen = r.newLen;
      vma = this.vmaLookup(r.addr);
      if (!vma) return -EFAULT;
    }
    const pgoff = vma.vmPgoff + (r.addr - vma.vmStart) / PAGE;
    const mapFlags = (r.flags & MREMAP_FIXED ? MAP_FIXED : 0) | (vma.vmFlags & VM_MAYSHARE ? MAP_SHARED : 0);
    const a = this.getUnmappedArea(vma.vmFile, r.newAddr, r.newLen, pgoff, mapFlags);
    if (a < 0) return a;
    return this.moveVma(vma, r.addr, oldLen, a, r.newLen, r.flags);
  }

  private expandInPlace(vma: Vma, delta: number): void {
    const oldEnd = vma.vmEnd;
    const next = this.vmas.next(vma);
    // vma_merge_extend(): the grown VMA merges with a compatible next neighbour.
    const pgoffEnd = vma.vmPgoff + (oldEnd + delta - vma.vmStart) / PAGE;
    if (
      next &&
      next.vmStart === oldEnd + delta &&
      next.vmOps === vma.vmOps &&
      // vma_merge_extend() merges a new range: vmg->middle is NULL, prev is the VMA itself.
      Mm.mergeable(next, vma.vmFlags, vma.vmPkey, vma.vmFile, vma.anonVma, null) &&
      next.vmPgoff === pgoffEnd &&
      Mm.canRemove(next) &&
      Mm.anonVmasCompatible(vma, next)
    ) {
      if (!vma.anonVma) vma.anonVma = next.anonVma;
      const end = next.vmEnd;
      this.unlinkQuiet(next);
      this.vmas.updateBounds(vma, vma.vmStart, end);
    } else {
      this.vmas.updateBounds(vma, vma.vmStart, oldEnd + delta);
    }
    if (vma.vmFlags & VM_LOCKED) {
      this.lockedVm += delta / PAGE;
      this.populate(oldEnd, oldEnd + delta, false);
    }
  }

  /** move_vma(): copy_vma at the new place, move the page tables, unmap the old range. */
  private moveVma(
    vma: Vma,
    oldAddr: number,
    oldLen: number,
    newAddr: number,
    newLen: number,
    flags: number,
  ): number {
    if (this.mapCount >= this.maxMapCount - 3) return -ENOMEM;
    if (vma.vmOps?.maySplit) {
      let err = 0;
      if (vma.vmStart !== oldAddr) err = vma.vmOps.maySplit(vma, oldAddr);
      if (!err && vma.vmEnd !== oldAddr + oldLen) err = vma.vmOps.maySplit(vma, oldAddr + oldLen);
      if (err) return err;
    }
    // copy_vma(): an anonymous VMA never faulted takes the pgoff of its new place, so it can merge there.
    const pgoff =
      vma.anonymous && !vma.anonVma ? newAddr / PAGE : vma.vmPgoff + (oldAddr - vma.vmStart) / PAGE;
    const moveLen = Math.min(oldLen, newLen);
    // copy_vma(): merge into a neighbour at the destination if possible, else a new VMA with ->open.
    let nv = this.mergeNewRange(
      newAddr,
      newAddr + newLen,
      vma.vmFlags,
      vma.vmPkey,
      vma.vmFile,
      pgoff,
      vma.anonVma,
      vma.vmOps,
      vma,
    );
    let opened = false;
    if (!nv) {
      nv = this.dupVma(vma);
      nv.vmStart = newAddr;
      nv.vmEnd = newAddr + newLen;
      nv.vmPgoff = pgoff;
      this.link(nv);
      nv.vmOps?.open?.(nv);
      opened = true;
    }
    if (this.movePageTables(vma, oldAddr, nv, newAddr, moveLen) < 0) {
      this.movePageTables(nv, newAddr, vma, oldAddr, moveLen);
      this.undoCopy(nv, newAddr, newLen, opened);
      return -ENOMEM;
    }
    if (nv.vmOps?.mremap) {
      const err = nv.vmOps.mremap(nv);
      if (err) {
        this.movePageTables(nv, newAddr, vma, oldAddr, moveLen);
        this.undoCopy(nv, newAddr, newLen, opened);
        return err;
      }
    }
    if (flags & MREMAP_DONTUNMAP) {
      // The old VMA stays, empty: private anon reads zeros after this, shared memory the same data.
      // It loses VM_LOCKED but keeps VM_ACCOUNT (move_vma() only conceals it when it unmaps).
      vma.vmFlags &= ~VM_LOCKED_MASK;
      if (vma.vmStart === oldAddr && vma.vmEnd === oldAddr + oldLen && nv !== vma) vma.anonVma = null;
      return newAddr;
    }
    const wasLocked = vma.vmFlags & VM_LOCKED;
    // move_vma() ignores a failure to unmap the old range (and an old_len of 0 unmaps nothing:
    // that is the "duplicate a shared mapping" case).
    if (oldLen > 0) this.munmap(oldAddr, oldLen);
    if (wasLocked) {
      this.lockedVm += newLen / PAGE;
      if (newLen > oldLen) this.populate(newAddr + oldLen, newAddr + newLen, false);
    }
    return newAddr;
  }

  private undoCopy(nv: Vma, start: number, len: number, opened: boolean): void {
    if (opened) {
      this.zapRange(nv, nv.vmStart, nv.vmEnd);
      this.vmas.remove(nv);
      this.removeVma(nv);
    } else {
      // It had merged into an existing VMA: give the range back.
      const d = this.detachRange(start, start + len);
      if (typeof d !== "number") this.releaseDetached(d);
    }
  }

  /** move_page_tables(): PTEs move with their pages; nothing faults, refcounts stay. */
  private movePageTables(from: Vma, oldAddr: number, to: Vma, newAddr: number, len: number): number {
    const moves: Array<[number, number]> = [];
    this.pgd.forEach(oldAddr, oldAddr + len, (a, _slot, pte) => {
      moves.push([a, pte]);
    });
    for (const [a, pte] of moves) {
      const dst = this.pgd.pteSlot(newAddr + (a - oldAddr), true);
      if (dst === TABLE_OOM) return -ENOMEM;
      const src = this.pgd.pteSlot(a, false);
      this.pgd.setPte(src, 0);
      this.pgd.setPte(dst, pte, to.vmPkey);
      const pfn = this.normalPfn(pte);
      if (pfn >= 0 && from.vmFile !== to.vmFile) {
        this.rssAdd(from, pfn, -1);
        this.rssAdd(to, pfn, 1);
      }
    }
    this.flushTlbRange(oldAddr, oldAddr + len);
    this.pgd.freeEmpty(oldAddr, oldAddr + len);
    return 0;
  }

  // ---- mprotect, mlock, madvise, msync ------------------------------------------------------

  /** mprotect(2): do_mprotect_pkey() with pkey -1 (the VMA keeps its key, or gets the execute-only one). */
  mprotect(startIn: number, lenIn: number, protIn: number): number {
    return this.pkeyMprotect(startIn, lenIn, protIn, -1);
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

  /** pkey_mprotect(2) (do_mprotect_pkey): `pkey` -1 is plain mprotect. */
  pkeyMprotect(startIn: number, lenIn: number, protIn: number, pkeyIn: number): number {
    let prot = protIn;
    // The int argument as C sees it (a non-integer names no key).
    const pkey = Number.isInteger(pkeyIn) ? pkeyIn | 0 : -2;
    const start = ul(startIn);
    const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
    if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
    if (start % PAGE !== 0) return -EINVAL;
    if (!lenIn) return 0;
    const len = pageAlign(ul(lenIn));
    const end = start + len;
    if (len === 0 || end <= start || end >= TWO64) return -ENOMEM;
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return -EINVAL;
    // A key userspace did not allocate cannot be used (the execute-only key counts as not allocated).
    if (pkey !== -1 && !this.pkeys.isAllocated(pkey)) return -EINVAL;
    let vma = this.vmas.find(start);
    if (!vma || vma.vmStart >= end) return -ENOMEM;
    let nstart = start;
    if (grows & PROT_GROWSDOWN) {
      nstart = vma.vmStart;
      if (!(vma.vmFlags & VM_GROWSDOWN)) return -EINVAL;
    } else if (vma.vmStart > start) return -ENOMEM;
    if (grows & PROT_GROWSUP) return -EINVAL;
    let tmp = vma.vmStart;
    let error = 0;
    while (vma && vma.vmStart < end) {
      if (vma.vmStart !== tmp) {
        error = -ENOMEM;
        break;
      }
      const newPkey = this.pkeys.overrideMprotectPkey(vma.vmPkey, vma.vmFlags & VM_ACCESS_FLAGS, prot, pkey);
      let newFlags = protToVm(prot) | (vma.vmFlags & ~VM_ACCESS_FLAGS);
      // VM_MAY* shifted onto VM_*: asking for what the open mode forbids is -EACCES.
      if (newFlags & ~(newFlags >> 4) & VM_ACCESS_FLAGS) {
        error = -EACCES;
        break;
      }
      tmp = Math.min(vma.vmEnd, end);
      const s = Math.max(nstart, vma.vmStart);
      const oldFlags = vma.vmFlags;
      // mprotect_fixup(): private memory becoming writable is charged (VM_ACCOUNT); anon memory
      // made read-only before it was ever written gives the charge back. Both only after its
      // `newflags == oldflags` early return: a VMA whose protection is unchanged keeps its
      // VM_ACCOUNT (e.g. read-only, charged, no anon_vma) and is neither modified nor merged.
      const changed = newFlags !== oldFlags || newPkey !== vma.vmPkey;
      if (changed) {
        if (newFlags & VM_WRITE) {
          if (!(oldFlags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE)))
            newFlags |= VM_ACCOUNT;
        } else if (oldFlags & VM_ACCOUNT && vma.anonymous && !vma.anonVma) {
          newFlags &= ~VM_ACCOUNT;
        }
      }
      let next: Vma | null | undefined;
      if (newFlags !== oldFlags || newPkey !== vma.vmPkey) {
        const r = this.modifyFlags(vma, s, tmp, newFlags, newPkey);
        if (typeof r === "number") {
          error = r;
          break;
        }
        this.changeProtection(r, s, tmp);
        // mprotect_fixup(): locked memory becoming writable is populated with write faults now
        // (populate_vma_page_range), so it never takes a COW fault later.
        if (newFlags & VM_LOCKED && newFlags & VM_WRITE && !(oldFlags & VM_WRITE))
          this.populate(s, tmp, false);
        // Carry on after the VMA that now covers the range: a merge may have extended it past tmp.
        tmp = Math.max(tmp, r.vmEnd);
        next = this.vmas.next(r);
      } else {
        next = this.vmas.next(vma);
      }
      nstart = tmp;
      vma = next ?? undefined;
    }
    if (!error && tmp < end) error = -ENOMEM;
    return error;
  }

  /** change_protection(): rewrites PTEs of [start, end) for the VMA's new flags, then flushes. */
  private changeProtection(vma: Vma, start: number, end: number): void {
    const f = vma.vmFlags;
    const accessible = (f & (VM_READ | VM_WRITE | VM_EXEC)) !== 0;
    const shared = (f & VM_SHARED) !== 0;
    this.pgd.forEach(start, end, (_a, slot, pte) => {
      let fl = pteFlags(pte);
      const base = pte - fl;
      if (!accessible) fl = (fl & ~_PAGE_PRESENT) | _PAGE_PROTNONE;
      else if (fl & _PAGE_PROTNONE) fl = (fl & ~_PAGE_PROTNONE) | _PAGE_PRESENT;
      if (!(f & VM_WRITE)) fl &= ~_PAGE_RW;
      else if (shared && fl & _PAGE_PRESENT) fl |= _PAGE_RW;
      // change_protection() rewrites every PTE with the VMA's new page protection, its key included.
      if (fl !== pteFlags(pte) || this.pgd.readPkey(slot) !== vma.vmPkey)
        this.pgd.setPte(slot, base + fl, vma.vmPkey);
    });
    this.flushTlbRange(start, end);
  }

  /** mlock(2) / munlock(2) (apply_vma_lock_flags, mlock_fixup). */
  mlock(startIn: number, lenIn: number, lock = true, onFault = false): number {
    const start0 = ul(startIn);
    const len = pageAlign(ul(lenIn) + (start0 % PAGE));
    const start = start0 - (start0 % PAGE);
    const end = start + len;
    if (end >= TWO64) return -EINVAL;
    if (lock && this.lockedVm * PAGE + len > this.mlockLimit) {
      // count_mm_mlocked_page_nr(): pages of the range already locked are not counted twice.
      let already = 0;
      for (const v of this.vmas.intersecting(start, end)) {
        if (v.vmFlags & VM_LOCKED) already += Math.min(end, v.vmEnd) - Math.max(start, v.vmStart);
      }
      if (this.lockedVm * PAGE + len - already > this.mlockLimit) return -ENOMEM;
    }
    if (end === start) return 0;
    let vma = this.vmas.find(start);
    if (!vma || vma.vmStart > start) return -ENOMEM;
    let tmp = vma.vmStart;
    let nstart = start;
    while (vma && vma.vmStart < end) {
      if (vma.vmStart !== tmp) return -ENOMEM;
      tmp = Math.min(vma.vmEnd, end);
      const old = vma.vmFlags;
      const newFlags = lock ? old | VM_LOCKED | (onFault ? VM_LOCKONFAULT : 0) : old & ~VM_LOCKED_MASK;
      let cur = vma;
      // mlock_fixup(): VM_SPECIAL and droppable memory are silently neither locked nor counted.
      if (newFlags !== old && !(old & (VM_SPECIAL | VM_DROPPABLE))) {
        const r = this.modifyFlags(vma, nstart, tmp, newFlags);
        if (typeof r === "number") return r;
        const pages = (tmp - nstart) / PAGE;
        if (!(newFlags & VM_LOCKED)) this.lockedVm -= pages;
        else if (!(old & VM_LOCKED)) this.lockedVm += pages;
        cur = r;
      }
      tmp = Math.max(tmp, cur.vmEnd);
      nstart = tmp;
      vma = this.vmas.next(cur);
    }
    if (tmp < end) return -ENOMEM;
    if (lock && !onFault) this.populate(start, end, false);
    return 0;
  }

  munlock(start: number, len: number): number {
    return this.mlock(start, len, false);
  }

  /** madvise(2) */
  madvise(startIn: number, lenIn: number, advice: number): number {
    const start = ul(startIn);
    if (!VALID_ADVICE.has(advice)) return -EINVAL;
    if (start % PAGE !== 0) return -EINVAL;
    const lenU = ul(lenIn);
    const len = pageAlign(lenU);
    if (lenU && !len) return -EINVAL;
    const end = start + len;
    if (end < start || end > TWO64) return -EINVAL;
    if (end === start) return 0;
    let unmapped = 0;
    if (!this.vmas.find(start)) return -ENOMEM;
    let pos = start;
    while (pos < end) {
      const vma = this.vmas.find(pos);
      if (!vma || vma.vmStart >= end) break;
      if (vma.vmStart > pos) unmapped = -ENOMEM;
      const s = Math.max(pos, vma.vmStart);
      const e = Math.min(end, vma.vmEnd);
      const r = this.madviseVma(vma, s, e, advice);
      if (r < 0) return r;
      pos = e;
    }
    if (pos < end) unmapped = -ENOMEM;
    return unmapped;
  }

  private madviseVma(vma: Vma, start: number, end: number, advice: number): number {
    const f = vma.vmFlags;
    const privateAnon = vma.anonymous && !(f & VM_SHARED);
    switch (advice) {
      case MADV_DONTNEED:
      case MADV_DONTNEED_LOCKED:
        if (f & (VM_PFNMAP | VM_HUGETLB) || (advice === MADV_DONTNEED && f & VM_LOCKED)) return -EINVAL;
        this.zapRange(vma, start, end);
        this.pgd.freeEmpty(start, end);
        return 0;
      case MADV_FREE:
        // Lazy free: without memory pressure nothing is reclaimed, so contents stay.
        return privateAnon && !(f & (VM_LOCKED | VM_PFNMAP)) ? 0 : -EINVAL;
      case MADV_COLD:
      case MADV_PAGEOUT:
        return f & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB) ? -EINVAL : 0;
      case MADV_POPULATE_READ:
      case MADV_POPULATE_WRITE: {
        if (f & (VM_IO | VM_PFNMAP)) return -EINVAL;
        // faultin_page_range(): an access the VMA does not allow is -EINVAL, a SIGBUS -EFAULT.
        if (advice === MADV_POPULATE_WRITE ? !(f & VM_WRITE) : !(f & (VM_READ | VM_WRITE | VM_EXEC)))
          return -EINVAL;
        const r = this.populate(start, end, advice === MADV_POPULATE_WRITE);
        if (r === FAULT_OOM) return -ENOMEM;
        return r ? -EFAULT : 0;
      }
      case MADV_REMOVE:
        if (f & VM_LOCKED) return -EINVAL;
        // madvise_remove(): a file is needed, shared and may-write, and a filesystem that can punch
        // holes (vfs_fallocate on a character device is -ENODEV).
        if (!vma.vmFile) return -EINVAL;
        if (!(f & VM_SHARED) || !(f & VM_MAYWRITE)) return -EACCES;
        if (!(vma.vmFile instanceof ShmemFile)) return -ENODEV;
        {
          // shmem_fallocate(PUNCH_HOLE): the pages leave the file, and every mapping of them in
          // every process is zapped first (unmap_mapping_range), not only this VMA's.
          const first = vma.vmPgoff + (start - vma.vmStart) / PAGE;
          const count = (end - start) / PAGE;
          for (const v of [...vma.vmFile.mapping.vmas]) {
            const s0 = v.vmStart + (first - v.vmPgoff) * PAGE;
            v.vmMm.zapRange(v, s0, s0 + count * PAGE, true);
          }
          vma.vmFile.punchHole(first, count);
        }
        return 0;
      case MADV_WILLNEED:
      case MADV_MERGEABLE:
      case MADV_UNMERGEABLE:
        return 0;
      default:
        break;
    }
    let nf = f;
    switch (advice) {
      case MADV_NORMAL:
        nf &= ~(VM_RAND_READ | VM_SEQ_READ);
        break;
      case MADV_RANDOM:
        nf = (nf & ~VM_SEQ_READ) | VM_RAND_READ;
        break;
      case MADV_SEQUENTIAL:
        nf = (nf & ~VM_RAND_READ) | VM_SEQ_READ;
        break;
      case MADV_DONTFORK:
        nf |= VM_DONTCOPY;
        break;
      case MADV_DOFORK:
        if (f & VM_IO) return -EINVAL;
        nf &= ~VM_DONTCOPY;
        break;
      case MADV_WIPEONFORK:
        if (!privateAnon) return -EINVAL;
        nf |= VM_WIPEONFORK;
        break;
      case MADV_KEEPONFORK:
        if (f & VM_DROPPABLE) return -EINVAL;
        nf &= ~VM_WIPEONFORK;
        break;
      case MADV_DONTDUMP:
        nf |= VM_DONTDUMP;
        break;
      case MADV_DODUMP:
        if (f & VM_SPECIAL) return -EINVAL;
        nf &= ~VM_DONTDUMP;
        break;
      case MADV_HUGEPAGE:
        nf = (nf & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
        break;
      case MADV_NOHUGEPAGE:
        nf = (nf & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
        break;
    }
    if (nf === f) return 0;
    const r = this.modifyFlags(vma, start, end, nf);
    return typeof r === "number" ? r : 0;
  }

  /** msync(2): nothing is file-backed on a disk, so it only validates and walks. */
  msync(startIn: number, lenIn: number, flags: number): number {
    const start = ul(startIn);
    if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return -EINVAL;
    if (start % PAGE !== 0) return -EINVAL;
    if (flags & MS_ASYNC && flags & MS_SYNC) return -EINVAL;
    const len = pageAlign(ul(lenIn));
    const end = start + len;
    if (end < start || (ul(lenIn) && !len)) return -ENOMEM;
    if (end === start) return 0;
    let unmapped = 0;
    let pos = start;
    let vma = this.vmas.find(start);
    for (;;) {
      if (!vma) return -ENOMEM;
      if (pos < vma.vmStart) {
        if (flags === MS_ASYNC) return -ENOMEM;
        unmapped = -ENOMEM;
        pos = vma.vmStart;
        if (pos >= end) return unmapped;
      }
      if (flags & MS_INVALIDATE && vma.vmFlags & VM_LOCKED) return -EBUSY;
      pos = vma.vmEnd;
      if (pos >= end) return unmapped;
      vma = this.vmas.find(pos);
    }
  }

  // ---- fork and exit ------------------------------------------------------------------------

  /** dup_mmap(): the child's address space, COW for private memory. Returns the new Mm or -ENOMEM. */
  fork(): Mm | number {
    let child: Mm;
    try {
      child = new Mm(this.phys, {
        era: this.era,
        maxMapCount: this.maxMapCount,
        mlockLimit: this.mlockLimit,
        pku: this.pkeys.enabled,
        zeroPage: this.zeroPage,
      });
    } catch {
      return -ENOMEM;
    }
    child.pkeys.inherit(this.pkeys);
    for (const vma of this.vmas) {
      if (vma.vmFlags & VM_DONTCOPY) continue;
      const v = this.dupVma(vma, child);
      v.vmFlags &= ~VM_LOCKED_MASK;
      if (vma.anonVma) {
        v.anonVma = new AnonVma();
        v.anonVmaChainSingular = false;
      }
      if (v.vmFlags & VM_WIPEONFORK) {
        v.anonVma = null;
        v.anonVmaChainSingular = true;
      }
      child.link(v);
      v.vmOps?.open?.(v);
      if (v.vmFlags & VM_WIPEONFORK) continue;
      // vma_needs_copy(): PFNMAP/MIXEDMAP entries and anything with anon pages are copied; plain
      // driver mappings are left to fault in the child.
      // (2.6.10's copy_page_range() copied the page tables of VM_IO mappings as well.)
      const copyFlags = VM_PFNMAP | VM_MIXEDMAP | (this.era === "2.6.10" ? VM_IO : 0);
      if (!(vma.vmFlags & copyFlags) && !vma.anonVma) continue;
      const cow = isCowMapping(vma.vmFlags);
      let wrprotected = false;
      let oom = false;
      this.pgd.forEach(vma.vmStart, vma.vmEnd, (a, slot, pte) => {
        if (oom) return;
        const dst = child.pgd.pteSlot(a, true);
        if (dst === TABLE_OOM) {
          oom = true;
          return;
        }
        let p = pte;
        const pfn = this.normalPfn(pte);
        if (pfn >= 0) {
          this.mem.getPage(pfn);
          Atomics.add(this.mem.mapcount, pfn, 1);
          Atomics.and(this.mem.flags, pfn, ~PG_anon_exclusive);
          child.rssAdd(v, pfn, 1);
          if (cow && pteFlags(pte) & _PAGE_RW) {
            p = pte - _PAGE_RW;
            this.pgd.setPte(slot, p, vma.vmPkey);
            wrprotected = true;
          }
        }
        child.pgd.setPte(dst, p, v.vmPkey);
      });
      if (wrprotected) this.flushTlbRange(vma.vmStart, vma.vmEnd);
      if (oom) {
        child.exit();
        return -ENOMEM;
      }
    }
    return child;
  }

  /** exit_mmap(): zap everything, free the page tables, then ->close and fput every VMA once. */
  exit(): void {
    if (this.dead) return;
    const all = [...this.vmas];
    for (const v of all) this.zapRange(v, v.vmStart, v.vmEnd);
    this.flushTlbAll();
    for (const v of all) this.vmas.remove(v);
    for (const c of this.tlbClients) c.release?.();
    this.tlbClients.clear();
    this.pgd.destroy();
    this.dead = true;
    this.lockedVm = 0;
    // Every VMA is closed even if a driver's ->close throws; the first error is rethrown after.
    let failure: unknown = null;
    for (const v of all) {
      try {
        this.removeVma(v);
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure) throw failure;
  }

  // ---- unmap_mapping_range ------------------------------------------------------------------

  /** zap_vma_ptes(): a driver removes PTEs of a VM_PFNMAP VMA. */
  zapVmaPtes(vma: Vma, address: number, size: number): void {
    if (!(vma.vmFlags & VM_PFNMAP) || address < vma.vmStart || address + size > vma.vmEnd) return;
    this.zapRange(vma, address, address + size);
  }

  // ---- invariants ---------------------------------------------------------------------------

  /**
   * VMAs sorted, disjoint, page aligned, non-empty (how they merge is pinned by the differential
   * test against the kernel, since Linux itself leaves some mergeable neighbours apart); every
   * present PTE inside a VMA and pointing to an allocated frame; counters equal to the PTEs.
   * Returns the references this mm's PTEs hold per pfn, so a machine can check refcounts globally.
   */
  checkInvariants(): Map<number, number> {
    const held = new Map<number, number>();
    if (this.dead) {
      if (this.vmas.size) throw new Error("exited mm still has VMAs");
      return held;
    }
    let prev: Vma | null = null;
    let anon = 0;
    let file = 0;
    let shmem = 0;
    for (const v of this.vmas) {
      if (v.vmStart % PAGE || v.vmEnd % PAGE || v.vmEnd <= v.vmStart) throw new Error(`bad VMA bounds: ${v}`);
      if (v.vmPkey !== 0 && !(this.pkeys.enabled && v.vmPkey < this.pkeys.maxPkey))
        throw new Error(
          `VMA ${v} has pkey ${v.vmPkey} on a machine ${this.pkeys.enabled ? "with 16 keys" : "without PKU"}`,
        );
      if (prev && prev.vmEnd > v.vmStart) throw new Error(`overlapping VMAs: ${prev} and ${v}`);
      prev = v;
    }
    this.pgd.forEach(0, 2 ** 47, (a, slot, pte) => {
      const v = this.vmaLookup(a);
      if (!v) throw new Error(`PTE at ${a.toString(16)} outside every VMA`);
      if (this.pgd.readPkey(slot) !== v.vmPkey)
        throw new Error(`PTE at ${a.toString(16)} has pkey ${this.pgd.readPkey(slot)}, its VMA ${v.vmPkey}`);
      const pfn = this.normalPfn(pte);
      if (pfn < 0) return;
      if (this.mem.flags[pfn]! & 8 /* PG_buddy */ || this.mem.refcount[pfn]! <= 0) {
        throw new Error(`PTE at ${a.toString(16)} maps free frame ${pfn.toString(16)}`);
      }
      held.set(pfn, (held.get(pfn) ?? 0) + 1);
      if (this.mem.flags[pfn]! & PG_anon) anon++;
      else if (v.vmFile instanceof ShmemFile) shmem++;
      else file++;
    });
    if (anon !== this.rssAnon || file !== this.rssFile || shmem !== this.rssShmem) {
      throw new Error(
        `RSS counters anon/file/shmem ${this.rssAnon}/${this.rssFile}/${this.rssShmem} but PTEs say ${anon}/${file}/${shmem}`,
      );
    }
    return held;
  }
}

/** madvise_behavior_valid() */
const VALID_ADVICE = new Set([
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_REMOVE,
  MADV_DONTFORK,
  MADV_DOFORK,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_DONTDUMP,
  MADV_DODUMP,
  MADV_WIPEONFORK,
  MADV_KEEPONFORK,
  MADV_COLD,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
]);

interface Remap {
  readonly addr: number;
  readonly oldLen: number;
  readonly newLen: number;
  readonly flags: number;
  readonly newAddr: number;
}

interface Detached {
  readonly vmas: Vma[];
  readonly start: number;
  readonly end: number;
}
