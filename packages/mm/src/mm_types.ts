// include/linux/mm_types.h: struct mm_struct (the state every mm file works on), struct
// vm_area_struct, and what a driver hands the core (vm_operations_struct, vm_fault, struct file's part).
// Operations on them live in the files named after the kernel's (mmap.ts, vma.ts, fault.ts …); `Mm`
// (mm.ts) implements the public methods, which MmStruct declares so that Vma.vmMm, which drivers call
// through (vma.vmMm.remapPfnRange), needs no import of mm.ts: nothing here imports mm.ts, so the mm
// files form no cycle.
import type { Page, PhysMemory } from "@faultline/phys";
import { DEFAULT_MAX_MAP_COUNT, DEFAULT_STACK_LIMIT, MMAP_BASE, START_BRK } from "./constants";
import { type Era, type EraRules, eraRules } from "./era";
import type { PfnmapTrackCtx } from "./memtype";
import { PGPROT_CACHE_MASK } from "./pgprot";
import { PageTables } from "./pgtable";
import type { PhysAccess } from "./phys-access";
import { MmPkeys } from "./pkeys";
import { VmaTree } from "./vma-tree";

/**
 * What a VMA's driver provides (struct vm_operations_struct). Every hook is optional. A hook that
 * throws is a driver bug: the kernel layer reports it as an oops and kills the faulting process.
 */
export interface VmOperations {
  /** Called for each new VMA that copies an existing one: fork, split (new piece), mremap move. */
  open?(vma: Vma): void;
  /** Called once for every VMA removal. */
  close?(vma: Vma): void;
  /** Today's fault handler: return 0 with `vmf.page` set (reference taken), or VM_FAULT_* codes. */
  fault?(vmf: VmFault): number;
  /**
   * LDD3's 2.6-era handler: return a page whose reference the driver took, or NOPAGE_SIGBUS (null) /
   * NOPAGE_OOM. Accepted as is; the core adapts it to `fault`.
   */
  nopage?(vma: Vma, address: number, type?: { value: number }): Page | null | typeof NOPAGE_OOM;
  /** Refuses a split with -errno (vm_ops->may_split). */
  maySplit?(vma: Vma, addr: number): number;
  /** Called on the new VMA after an mremap move; -errno reverts the move. */
  mremap?(vma: Vma): number;
  /** Shared write fault on a page without a page (vm_ops->pfn_mkwrite). */
  pfnMkwrite?(vmf: VmFault): number;
  pageMkwrite?(vmf: VmFault): number;
  /**
   * Maps the pages of offsets [startPgoff, endPgoff] that are already in the page cache, around a read
   * fault (vm_ops->map_pages, filemap_map_pages); non-zero when vmf's own page got mapped.
   */
  mapPages?(vmf: VmFault, startPgoff: number, endPgoff: number): number;
  /**
   * 2.6's vm_ops->populate (shmem_populate): maps `len` bytes at `addr` from page `pgoff` on, only the
   * pages already cached when `nonblock`. Returns 0 or -errno. Only 2.6.10's MAP_POPULATE calls it
   * (era.ts populateByRemapFilePages); the kernel's wrapper of a driver's vm_ops keeps none.
   */
  populate?(vma: Vma, addr: number, len: number, pgoff: number, nonblock: boolean): number;
  /** Name shown in /proc/PID/maps instead of the file's path (vm_ops->name). */
  name?(vma: Vma): string | null;
  /**
   * The size of the pages backing the VMA (vm_ops->pagesize, vma_kernel_pagesize()): smaps'
   * KernelPageSize and MMUPageSize. Absent: PAGE_SIZE. hugetlb's gives its hstate's.
   */
  pagesize?(vma: Vma): number;
}

/** The 2.6 nopage return for "out of memory" ((struct page *)-1 then). */
export const NOPAGE_OOM: unique symbol = Symbol.for("faultline.NOPAGE_OOM");
/** The 2.6 nopage return for "no page here" (NULL then). */
export const NOPAGE_SIGBUS = null;

/** struct vm_fault: filled by the fault path and handed to `vmOps.fault`. */
export interface VmFault {
  readonly vma: Vma;
  /** Faulting virtual address, page aligned. */
  readonly address: number;
  /** The exact faulting address (real_address). */
  readonly realAddress: number;
  /** Page offset of `address` in the mapped object: vm_pgoff + (address - vm_start) / PAGE_SIZE. */
  readonly pgoff: number;
  /** FAULT_FLAG_* bits. */
  readonly flags: number;
  /** Set by the handler: the page to map, with a reference the handler took (get_page). */
  page: Page | null;
}

/** A mapping's backing object identity, the role of struct address_space (i_mapping). */
export class AddressSpaceMapping {
  /** VMAs of every process that map this object (i_mmap). */
  readonly vmas = new Set<Vma>();
  /** A shmem inode's mapping (folio_test_swapbacked): its mapped pages count as MM_SHMEMPAGES. */
  readonly swapBacked: boolean = false;
  constructor(readonly name: string) {}
  /**
   * Reclaim of a page MADV_PAGEOUT unmapped (shrink_folio_list() → __remove_mapping()): the cache lets
   * go of page `pgoff` if it is still `pfn`, clean, mapped nowhere and held by nothing else. Objects
   * without a page cache keep their pages.
   */
  reclaimClean(_pgoff: number, _pfn: number): void {}
}

/**
 * What mm needs of an open file (struct file): its identity for merging, what /proc/PID/maps prints,
 * the mapping shared by every open of the same inode, f_mode, and the driver's mmap method.
 */
export interface MmFile {
  readonly path: string;
  /** s_dev of the filesystem holding the inode (devtmpfs is 00:05 on a typical machine). */
  readonly devMajor: number;
  readonly devMinor: number;
  readonly ino: number;
  readonly mapping: AddressSpaceMapping;
  /** FMODE_READ / FMODE_WRITE from the open flags. */
  readonly readable: boolean;
  readonly writable: boolean;
  /** FMODE_UNSIGNED_OFFSET (/dev/mem): offsets up to 2^64 are valid. */
  readonly unsignedOffset?: boolean;
  /** f_op->mmap; undefined means the device cannot be mapped (-ENODEV). Returns 0 or -errno. */
  readonly mmap?: ((vma: Vma) => number) | undefined;
  /**
   * The huge page size when the file is one of hugetlbfs (is_file_hugepages(): a MAP_HUGETLB file, or
   * a SysV attach of a SHM_HUGETLB segment); absent otherwise.
   */
  readonly hugetlbPageSize?: number;
  /** f_op->get_unmapped_area, if the driver places its own mappings. */
  readonly getUnmappedArea?:
    | ((addr: number, len: number, pgoff: number, flags: number) => number)
    | undefined;
  /** fget/fput: each VMA holds a reference. */
  get(): void;
  put(): void;
}

/**
 * struct anon_vma, reduced to what merging and fork need: its identity (is_mergeable_anon_vma compares
 * pointers). It carries no number: a module-wide counter would make output depend on test order.
 */
export class AnonVma {}

/** struct vm_area_struct. */
export class Vma {
  vmStart: number;
  vmEnd: number;
  vmFlags: number;
  vmPgoff: number;
  vmOps: VmOperations | null = null;
  vmFile: MmFile | null = null;
  vmPrivateData: unknown = null;
  anonVma: AnonVma | null = null;
  /** False after fork (the child's anon_vma_chain has the parent's too): such VMAs don't merge with NULL ones. */
  anonVmaChainSingular = true;
  /** Set by vma_set_anonymous(); a VMA with a file or vm_ops is never anonymous. */
  anonymous = false;
  /**
   * Protection key (vma_pkey(): VM_PKEY_BIT0..3 of a 64-bit vm_flags; kept apart because our vmFlags
   * stay within 31 bits). Part of the flags for every merge decision, as it is in Linux. 0 without PKU.
   */
  vmPkey = 0;
  /**
   * VM_MAYBE_GUARD (bit 11 of a 64-bit vm_flags, "gu" in smaps; kept apart because every bit of our
   * int32 vmFlags is taken): MADV_GUARD_INSTALL was used on the VMA, so its page tables may hold guard
   * markers and fork copies them. A sticky flag (VM_STICKY): merges ignore it and the merged VMA keeps
   * it if any part had it; splits and copies keep it; MADV_GUARD_REMOVE does not clear it.
   */
  maybeGuard = false;
  /** The cache bits of vm_page_prot (pgprot.ts's form), which a driver sets through `vmPageProt`. */
  private vmPageCache = 0;
  /**
   * vma->pfnmap_track_ctx (6.16+): the PAT reservation made by a remapPfnRange() that covered the whole
   * VMA, shared by every piece a split makes and every fork copy, freed with the last of them.
   */
  pfnmapTrackCtx: PfnmapTrackCtx | null = null;

  constructor(
    readonly vmMm: MmStruct,
    vmStart: number,
    vmEnd: number,
    vmFlags: number,
    vmPgoff: number,
  ) {
    this.vmStart = vmStart;
    this.vmEnd = vmEnd;
    this.vmFlags = vmFlags;
    this.vmPgoff = vmPgoff;
  }

  /**
   * vm_page_prot: its protection bits are derived from vm_flags (vm_get_page_prot: read-only unless
   * VM_WRITE and shared), its cache bits are what the driver set, e.g. `vma.vmPageProt =
   * pgprotWritecombine(vma.vmPageProt)` in ->mmap. mprotect() keeps the cache bits (vm_pgprot_modify:
   * they are in x86's _PAGE_CHG_MASK).
   */
  get vmPageProt(): number {
    return (this.vmFlags & 0xf) | this.vmPageCache;
  }

  set vmPageProt(prot: number) {
    this.vmPageCache = prot & PGPROT_CACHE_MASK;
  }

  get size(): number {
    return this.vmEnd - this.vmStart;
  }

  toString(): string {
    return `vma ${this.vmStart.toString(16)}-${this.vmEnd.toString(16)} flags ${(this.vmFlags >>> 0).toString(16)}`;
  }
}

/** Options of an address space: era, limits, CPU features. */
export interface MmOptions {
  /** Which kernel's semantics where they differ (era.ts has the table). Default "modern". */
  readonly era?: Era;
  readonly maxMapCount?: number;
  /** RLIMIT_MEMLOCK in bytes; Infinity behaves as a process with CAP_IPC_LOCK. */
  readonly mlockLimit?: number;
  /** RLIMIT_STACK in bytes: how far a VM_GROWSDOWN vma may grow (acct_stack_growth). Default 8 MiB. */
  readonly stackLimit?: number;
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
  /**
   * totalram_pages() + total_swap_pages as the overcommit heuristic sees them (vm.overcommit_memory = 0,
   * __vm_enough_memory()): one request to commit more pages is -ENOMEM. Default: the pages of RAM in
   * the physical memory (no swap). Infinity models vm.overcommit_memory = 1.
   */
  readonly overcommitPages?: number;
}

/** Someone caching translations of this mm: an MMU's TLB, or a worker's. */
export interface TlbClient {
  flushRange(start: number, end: number): void;
  flushAll(): void;
  /** The mm exited: its page tables are gone, never walk them again. */
  release?(): void;
}

/**
 * struct mm_struct: the VMA set, the page tables, the counters and limits of one address space. The
 * free functions of the mm files take it as their first argument, as the kernel's do; `Mm` extends it
 * with the syscall methods.
 */
export abstract class MmStruct {
  readonly mem: PhysMemory;
  readonly vmas = new VmaTree<Vma>();
  readonly pgd: PageTables;
  readonly era: Era;
  /** @internal The era's column of era.ts's table. */
  readonly rules: EraRules;
  readonly maxMapCount: number;
  /** RLIMIT_MEMLOCK (bytes; Infinity: a process with CAP_IPC_LOCK) and RLIMIT_STACK; setrlimit changes them. */
  mlockLimit: number;
  stackLimit: number;
  /** RLIMIT_AS soft limit in bytes (Infinity: RLIM_INFINITY), read by may_expand_vm (vm-account.ts). */
  rlimAs = Number.POSITIVE_INFINITY;
  /** RLIMIT_DATA soft and hard limits in bytes (the hard one matters for a zero soft limit). */
  rlimData: { cur: number; max: number } = { cur: Number.POSITIVE_INFINITY, max: Number.POSITIVE_INFINITY };
  /**
   * mm->start_brk and mm->brk (currentBrk): the heap is [start_brk, PAGE_ALIGN(brk)) (brk.ts). No ELF
   * is loaded, so start_code, end_code, start_data and end_data all equal start_brk.
   */
  startBrk = START_BRK;
  currentBrk = START_BRK;
  /** mm->def_flags: VM_LOCKED (and VM_LOCKONFAULT) after mlockall(MCL_FUTURE), added to every new mapping. */
  defFlags = 0;
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
  /** The most pages one request may commit (MmOptions.overcommitPages; vm-account.ts). */
  readonly overcommitPages: number;
  /**
   * @internal Pages whose PTE references await the TLB flush (struct mmu_gather; rmap.ts). One array
   * per mm, reused, so a zap allocates nothing.
   */
  readonly gather: number[] = [];

  constructor(
    readonly phys: PhysAccess,
    options: MmOptions = {},
  ) {
    this.mem = phys.mem;
    const pgd = PageTables.create(phys.mem);
    if (!pgd) throw new Error("out of memory allocating a page directory");
    this.pgd = pgd;
    this.era = options.era ?? "modern";
    this.rules = eraRules(this.era);
    this.maxMapCount = options.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
    this.mlockLimit = options.mlockLimit ?? Number.POSITIVE_INFINITY;
    this.stackLimit = options.stackLimit ?? DEFAULT_STACK_LIMIT;
    this.pkeys = new MmPkeys(options.pku ?? false, () => this.flushTlbAll());
    this.zeroPage = options.zeroPage ?? true;
    this.overcommitPages = options.overcommitPages ?? phys.mem.totalRamPages;
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

  /** flush_tlb_range(): every cache of this mm's translations drops [start, end) before we go on. */
  flushTlbRange(start: number, end: number): void {
    for (const c of this.tlbClients) c.flushRange(start, end);
  }

  flushTlbAll(): void {
    for (const c of this.tlbClients) c.flushAll();
  }

  // The syscall and driver methods: declared here for Vma.vmMm, implemented and documented by Mm (mm.ts).
  abstract normalPfn(pte: number): number;
  abstract zapRange(vma: Vma, start: number, end: number, keepAnon?: boolean): void;
  abstract mmap(
    addr: number,
    len: number,
    prot: number,
    flags: number,
    file: MmFile | null,
    offset: number,
  ): number;
  abstract mmapPgoff(
    addr: number,
    len: number,
    prot: number,
    flags: number,
    file: MmFile | null,
    pgoff: number,
  ): number;
  abstract munmap(start: number, len: number): number;
  abstract brk(brk: number): number;
  abstract mseal(start: number, len: number, flags: number): number;
  abstract handleFault(addr: number, write: boolean): number;
  abstract populate(start: number, end: number, forceWrite: boolean): number;
  abstract remapPfnRange(vma: Vma, addr: number, pfn: number, size: number, prot?: number): number;
  abstract vmfInsertPfn(vma: Vma, addr: number, pfn: number): number;
  abstract vmfInsertPfnProt(vma: Vma, addr: number, pfn: number, pgprot: number): number;
  abstract vmInsertPage(vma: Vma, addr: number, page: Page): number;
  abstract vmMapPages(vma: Vma, pages: readonly Page[], num: number, offset: number): number;
  abstract vmInsertPages(vma: Vma, addr: number, pages: readonly Page[], num: { value: number }): number;
  abstract zapVmaPtes(vma: Vma, address: number, size: number): void;
  abstract mremap(addr: number, oldLen: number, newLen: number, flags: number, newAddr?: number): number;
  abstract mprotect(start: number, len: number, prot: number): number;
  abstract pkeyMprotect(start: number, len: number, prot: number, pkey: number): number;
  abstract pkeyAlloc(flags: number, initVal: number): number;
  abstract pkeyFree(pkey: number): number;
  abstract pkeyGet(key: number): number;
  abstract pkeySet(key: number, rights: number): number;
  abstract mlock(start: number, len: number, lock?: boolean, onFault?: boolean): number;
  abstract munlock(start: number, len: number): number;
  abstract madvise(start: number, len: number, advice: number): number;
  abstract msync(start: number, len: number, flags: number): number;
  abstract vmfInsertMixed(vma: Vma, addr: number, pfn: number): number;
  abstract vmIomapMemory(vma: Vma, start: number, len: number): number;
  abstract fork(): MmStruct | number;
  abstract exit(): void;
  abstract checkInvariants(): Map<number, number>;
}
