// Every place where the kernel LDD3 describes (2.6.10) and today's kernel (the 6.18 the differential
// test runs against) behave differently, in one table. Each row says what changed and where; code asks
// `mm.rules.<row>` and never compares the era name itself.
import {
  MCL_CURRENT,
  MCL_FUTURE,
  MCL_ONFAULT,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  STACK_GUARD_GAP,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_DROPPABLE,
  VM_HUGETLB,
  VM_IO,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_RESERVED,
  VM_SPECIAL,
} from "./constants";

/** Which kernel's semantics apply where they differ. Default "modern". */
export type Era = "modern" | "2.6.10";

interface Difference<T> {
  /** The kernel release, commit and title that changed it. */
  readonly changedIn: string;
  readonly "2.6.10": T;
  readonly modern: T;
}

/** The differences, one row each: what 2.6.10 did, what today's kernel does, and which change did it. */
export const ERA_DIFFERENCES = {
  /**
   * munmap's edge splits: 2.6.10's do_munmap() called split_vma(.., start, 0) and split_vma(.., end, 1),
   * so the new VMA was always the piece going away (the driver's ->open ran on a piece about to be
   * closed); today's vms_gather_munmap_vmas() keeps the new VMA on the side that stays.
   */
  munmapSplitNewStays: {
    changedIn: "v6.6: 'mm: change munmap splitting order and move_vma()' (Liam R. Howlett)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * munmap's map-count checks. 2.6.10's do_munmap() split both edges with split_vma(), which refuses
   * any split at vm.max_map_count, so even trimming a VMA's head or tail there was -ENOMEM (the first
   * split stays when the second fails). Today vms_gather_munmap_vmas() asks only when the range lies
   * strictly inside one VMA, the one case that leaves more VMAs than before, and splits with
   * __split_vma(), letting map_count pass the limit for a moment.
   */
  munmapSplitsChecked: {
    changedIn:
      "v2.6.36: 'mmap: don't return ENOMEM when mapcount is temporarily exceeded in " +
      "munmap()' (KOSAKI Motohiro)",
    "2.6.10": true,
    modern: false,
  },
  /**
   * A shared VMA without a fault handler (a driver whose mmap sets no vm_ops): 2.6.10's
   * do_anonymous_page() gave it anonymous pages; today do_anonymous_page() answers SIGBUS
   * ("File mapping without ->vm_ops ?").
   */
  sharedAnonFaultSigbus: {
    changedIn: "v4.1: commit 6b7339f4c31a 'mm: avoid setting up anonymous pages into file mapping'",
    "2.6.10": false,
    modern: true,
  },
  /**
   * A file VMA whose vm_ops has no fault/nopage: 2.6.10's do_no_page() fell back to
   * do_anonymous_page(); since every file VMA has vm_ops, do_fault() answers SIGBUS.
   */
  noHandlerFaultSigbus: {
    changedIn: "v4.18: commit bfd40eaff5ab 'mm: fix vma_is_anonymous() false-positives'",
    "2.6.10": false,
    modern: true,
  },
  /**
   * A write fault on a private file mapping gives the VMA its anon_vma before asking ->fault:
   * do_cow_fault() (vmf_anon_prepare()) prepares it first, so a fault that ends in SIGBUS (past EOF)
   * still leaves the VMA with one, and it no longer merges with a neighbour that has another. 2.6.10's
   * do_no_page() called ->nopage first and anon_vma_prepare() only for a page it got.
   */
  cowFaultPreparesAnonVmaFirst: {
    changedIn: "v3.15: do_cow_fault() split out of do_fault() ('mm: introduce do_cow_fault()')",
    "2.6.10": false,
    modern: true,
  },
  /**
   * The flags remap_pfn_range() sets. 2.6.10: VM_IO | VM_RESERVED (mm/memory.c), so such a VMA could
   * still grow (do_mremap() asked VM_DONTEXPAND only) and its new pages faulted like any VMA without a
   * handler. VM_PFNMAP came with v2.6.15; v3.7 replaced VM_RESERVED by VM_DONTEXPAND | VM_DONTDUMP.
   */
  remapPfnFlags: {
    changedIn:
      "v2.6.15: commit 6aab341e0a28 'mm: re-architect the VM_UNPAGED logic' (VM_PFNMAP); " +
      "v3.7: commit 314e51b9851b 'mm: kill vma flag VM_RESERVED and mm->reserved_vm counter'",
    "2.6.10": VM_IO | VM_RESERVED,
    modern: VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
  },
  /**
   * What a driver's ->mmap gets for VM_RESERVED. 2.6.10 kept the flag: no merge (vmSpecial), and
   * nothing else Faultline models (it fed mm->reserved_vm and kept the VMA out of swap-out and core
   * dumps), so mremap could still grow the VMA. v3.7 removed it and wrote VM_DONTEXPAND | VM_DONTDUMP
   * in every driver that set it; a 2.6-style driver's VM_RESERVED means that today.
   */
  reservedFlags: {
    changedIn: "v3.7: commit 314e51b9851b 'mm: kill vma flag VM_RESERVED and mm->reserved_vm counter'",
    "2.6.10": VM_RESERVED,
    modern: VM_DONTEXPAND | VM_DONTDUMP,
  },
  /**
   * VM_SPECIAL: the flags that keep a VMA from ever merging. 2.6.10's vma_merge() (mm/mmap.c) returned
   * NULL for any vm_flags with VM_IO, VM_DONTCOPY, VM_DONTEXPAND or VM_RESERVED, and VM_SPECIAL ruled
   * nothing else there (mlock_fixup() locked such VMAs like any other). VM_PFNMAP joined in v2.6.15,
   * VM_DONTCOPY left in v2.6.16 (drivers setting it set VM_IO too), VM_RESERVED went in v3.7, and
   * VM_MIXEDMAP joined later; today the set also bars mlock, guard regions and MADV_DODUMP.
   */
  vmSpecial: {
    changedIn:
      "v2.6.16: 'remove VM_DONTCOPY bogosities' (Hugh Dickins); v3.7: commit 314e51b9851b 'mm: kill vma " +
      "flag VM_RESERVED and mm->reserved_vm counter'",
    "2.6.10": VM_IO | VM_DONTCOPY | VM_DONTEXPAND | VM_RESERVED,
    modern: VM_SPECIAL,
  },
  /**
   * 2.6.10's remap_pte_range() filled PTEs only for pfns without a struct page or with PG_reserved:
   * ordinary RAM was left to fault, which gave the zero page (LDD3: "mapper /dev/mem 0x10000" reads
   * zeros). Since v2.6.15 every pfn is mapped.
   */
  remapPfnSkipsRam: {
    changedIn: "v2.6.15: commit b5810039a54e '[PATCH] core remove PageReserved'",
    "2.6.10": true,
    modern: false,
  },
  /**
   * VMAs whose PTEs fork copies besides those with an anon_vma. 2.6.10's dup_mmap() copied every
   * VMA's page tables; v2.6.14 left to the fault what a fault can rebuild, and today's
   * vma_needs_copy() copies PFNMAP/MIXEDMAP entries only. We keep VM_IO for 2.6.10: those are
   * remap_pfn_range() PTEs that no fault handler could recreate.
   */
  forkCopiesPtesOf: {
    changedIn: "v2.6.14: commit d992895ba2b2 '[PATCH] Lazy page table copies in fork()'",
    "2.6.10": VM_PFNMAP | VM_MIXEDMAP | VM_IO,
    modern: VM_PFNMAP | VM_MIXEDMAP,
  },
  /**
   * The VMA flags that are never locked: mlock(), mlockall() and a VM_LOCKED mmap() (mlockall
   * MCL_FUTURE) leave such a VMA unlocked and uncounted. Today mlock_fixup() and __mmap_complete() both
   * ask vma_supports_mlock() (mm/internal.h): VM_SPECIAL, VM_DROPPABLE and hugetlb memory (DAX,
   * secretmem and the gate VMA are not modelled). 2.6.10's mlock_fixup() and do_mmap_pgoff() locked and
   * counted every VMA. VM_IO memory is not populated (mmPopulate), as 2.6.11's mlock_fixup() had it.
   */
  mlockNeverLocks: {
    changedIn:
      "v2.6.28: 'mlock: mlocked pages are unevictable' and commit ba470de4 'mmap: handle mlocked pages " +
      "during map, remap, unmap' (Nick Piggin, Rik van Riel, Lee Schermerhorn); v6.11 VM_DROPPABLE " +
      "(mlock_fixup), which __mmap_complete() refuses too in 6.18.y (vma_supports_mlock)",
    "2.6.10": 0,
    modern: VM_SPECIAL | VM_DROPPABLE | VM_HUGETLB,
  },
  /**
   * The mapping types mmap() knows besides MAP_SHARED and MAP_PRIVATE: MAP_SHARED_VALIDATE for a file
   * (v4.15) and MAP_DROPPABLE for anonymous memory (v6.11). 2.6.10's do_mmap_pgoff() switched on
   * `flags & MAP_TYPE` with those two cases only: anything else -EINVAL, where the switch stands.
   */
  modernMapTypes: {
    changedIn:
      "v4.15: 'mm: introduce MAP_SHARED_VALIDATE' (Dan Williams); v6.11: MAP_DROPPABLE (Jason A. Donenfeld)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * The flags mlockall() accepts. MCL_ONFAULT came with mlock2() in v4.4; 2.6.10's sys_mlockall()
   * refused anything but MCL_CURRENT and MCL_FUTURE with -EINVAL.
   */
  mlockallFlags: {
    changedIn: "v4.4: 'mm: mlock: add mlock flags to enable VM_LOCKONFAULT usage' (Eric B Munson)",
    "2.6.10": MCL_CURRENT | MCL_FUTURE,
    modern: MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT,
  },
  /**
   * mlock(), munlock(), mlockall() and madvise() change a range's flags with vma_modify_flags() today,
   * which merges the range with a neighbour that now matches. 2.6.10's mlock_fixup() and
   * madvise_behavior() (mm/mlock.c, mm/madvise.c; 2.6.9 and 2.6.11 alike) only split, and
   * madvise_behavior() split even when the flags stayed the same. mprotect_fixup() merged in both.
   */
  lockAdviceMerges: {
    changedIn: "after v2.6.11: mlock_fixup() and madvise_behavior() call vma_merge() as mprotect_fixup() did",
    "2.6.10": false,
    modern: true,
  },
  /**
   * mlock()'s RLIMIT_MEMLOCK check: today do_mlock() subtracts the pages of the range already locked
   * (count_mm_mlocked_page_nr), so locking locked memory again costs nothing. 2.6.10's sys_mlock()
   * charged the whole length on top of locked_vm (2.6.9 and 2.6.11 alike).
   */
  mlockChargesLockedOnce: {
    changedIn: "v4.9: 'mm: mlock: check against vma for actual mlock() size' (Simon Guo)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * A split that fails (vm.max_map_count reached) under mlock(): 2.6.10's mlock_fixup() answered
   * -EAGAIN (2.6.9 for any split failure, 2.6.11 for -ENOMEM); today's mlock_fixup() passes
   * vma_modify_flags()'s -ENOMEM on. madvise() says -EAGAIN in both eras (madvise_behavior(),
   * madvise_vma_behavior()); mprotect() -ENOMEM in both (mprotect_fixup()).
   */
  mlockSplitEagain: {
    changedIn:
      "v2.6.28: the unevictable-LRU mlock_fixup() ('mlock: mlocked pages are unevictable') drops the conversion",
    "2.6.10": true,
    modern: false,
  },
  /**
   * When mlock() faults the locked memory in. 2.6.10's mlock_fixup() called make_pages_present() on
   * each range it locked (2.6.9 and 2.6.11 alike), so when a later VMA fails (a split past
   * vm.max_map_count, a hole, a fault) the VMAs locked before it are already populated. Today
   * do_mlock() populates once apply_vma_lock_flags() has locked the whole range, and not at all when
   * that fails. make_pages_present()'s result was mlock's (the VMA stays locked and counted):
   * get_user_pages()'s -EFAULT when the first page could not be had (SIGBUS, SIGSEGV, a VMA without
   * the access asked: it wrote to writable memory, shared or not, and never forced), -1 (EPERM) when
   * a later one failed, -ENOMEM as -EAGAIN (2.6.11's mlock_fixup(); 2.6.9 left it -ENOMEM); VM_IO
   * memory was skipped (2.6.11). Today __mlock_posix_error_return() makes -EFAULT -ENOMEM.
   */
  mlockPopulatesEachVma: {
    changedIn:
      "v2.6.38: 'mlock: only hold mmap_sem in shared mode when faulting in pages' (Michel Lespinasse); " +
      "before it, make_pages_present() had learned SUS's mlock errors ('SUS require strange return value " +
      "to mlock')",
    "2.6.10": true,
    modern: false,
  },
  /**
   * Which advice madvise() knows, and when it says -EINVAL for the rest. Today madvise_behavior_valid()
   * refuses an unknown advice before anything else. 2.6.10's madvise_vma() knew MADV_NORMAL, RANDOM,
   * SEQUENTIAL, WILLNEED and DONTNEED only and answered -EINVAL per VMA, inside sys_madvise()'s walk:
   * a zero length is 0 and a range with no VMA -ENOMEM whatever the advice. Its madvise_willneed()
   * answered -EBADF for a VMA without a file (anonymous memory).
   */
  madviseModernAdvice: {
    changedIn:
      "after v2.6.11: v2.6.16 added MADV_REMOVE (Badari Pulavarty) and MADV_DONTFORK/DOFORK (Michael S. " +
      "Tsirkin), the first advice beyond 2.6.10's five; the up-front check and anonymous WILLNEED came later; " +
      "v6.13 MADV_GUARD_INSTALL/REMOVE ('mm: madvise: implement lightweight guard page mechanism', Lorenzo Stoakes)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * Fault-around: a read fault of a file mapping maps the page-cache pages around it too
   * (do_fault_around → ->map_pages, filemap.ts). 2.6.10's do_no_page() mapped the faulting page only.
   */
  faultAround: {
    changedIn: "v3.15: 'mm: introduce vm_ops->map_pages()' (Kirill A. Shutemov)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * mseal(2): sealed VMAs refuse munmap, mremap, mprotect, MAP_FIXED over them and discarding madvise
   * of read-only anonymous memory (-EPERM). 2.6.10 has no such syscall (-ENOSYS).
   */
  mseal: {
    changedIn: "v6.10: commit 8be7258aad44 'mseal: add mseal syscall' (Jeff Xu)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * stack_guard_gap: the space a VM_GROWSDOWN mapping keeps free below it. expand_downwards() refuses
   * to grow within it of an accessible VMA, brk() stops short of it (vm_start_gap()), and a hint
   * inside it is not used (arch_get_unmapped_area_topdown()). 2.6.10 had no gap at all (v2.6.36 added
   * one guard page, v4.12 made it 256 pages between VMAs).
   */
  stackGuardGap: {
    changedIn: "v4.12: commit 1be7107fbe18 'mm: larger stack guard gap, between vmas' (Hugh Dickins)",
    "2.6.10": 0,
    modern: STACK_GUARD_GAP,
  },
  /**
   * brk() shrinking over a range with no VMA in it (the heap munmapped by hand) fails and returns the
   * old break today (brk() finds no brkvma); 2.6.10's do_munmap() of nothing succeeded and moved the
   * break.
   */
  brkShrinkNeedsVma: {
    changedIn: "v6.1: the maple-tree brk() (do_brk_munmap, Liam R. Howlett)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * brk() checks RLIMIT_DATA before anything else, so even a break moved within its last page, or
   * lowered, fails above the limit; 2.6.10's sys_brk() checked it only when the heap grew by pages
   * ("If this check is done later after the test of oldbrk with newbrk then it can escape the test",
   * the comment brk() still carries).
   */
  brkRlimitFirst: {
    changedIn: "after v2.6.10: sys_brk() moves its RLIMIT_DATA check first (Ram Gupta)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * /proc/PID/maps names the VMAs of the initial heap "[heap]" (vma_is_initial_heap()); 2.6.10's
   * show_map() printed a name for file mappings only.
   */
  heapName: {
    changedIn: "after v2.6.10: show_map() gained its [heap] and [stack] markers (fs/proc/task_mmu.c)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * mremap() growing a VMA in place: today expand_vma_in_place() goes through vma_merge_extend(), so the
   * grown VMA joins a compatible next VMA it now touches, and a VM_SPECIAL VMA (VM_IO or VM_MIXEDMAP
   * alone: VM_PFNMAP and VM_DONTEXPAND are -EFAULT before that), which vma_merge_new_range() refuses,
   * is -ENOMEM (MREMAP_MAYMOVE or not: the move is only tried when in-place growth is impossible).
   * 2.6.10's do_mremap() only moved vm_end with vma_adjust(): no merge, and VM_SPECIAL VMAs grow too.
   */
  mremapGrowMerges: {
    changedIn: "v6.1: commit ca3d76b0aa80 'mm: add merging after mremap resize' (Jakub Matěna)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * The flags mremap() accepts. MREMAP_DONTUNMAP came in v5.7; 2.6.10's do_mremap() refused anything
   * but MREMAP_FIXED and MREMAP_MAYMOVE with -EINVAL as its first check (2.6.9 and 2.6.11 alike), as
   * check_mremap_params() still does for unknown flags, so that -EINVAL comes before any other error.
   */
  mremapFlags: {
    changedIn: "v5.7: 'mm/mremap: add MREMAP_DONTUNMAP to mremap()' (Brian Geffon)",
    "2.6.10": MREMAP_FIXED | MREMAP_MAYMOVE,
    modern: MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
  },
  /**
   * mremap()'s map-count check before a move to a new address (MREMAP_FIXED): today
   * check_mremap_params() refuses map_count + 2 >= max_map_count - 3 (-ENOMEM) before anything else,
   * so both ranges may split in three and move_vma() still has its spare slots. 2.6.10's do_mremap()
   * had no such check (2.6.9 and 2.6.11 alike): it unmapped new_addr, shrank, looked the VMA up and
   * checked the limits, and only move_vma() refused map_count >= max_map_count - 3, counting what
   * the unmap at new_addr had freed. Moves without MREMAP_FIXED were checked by move_vma() alone then
   * and now.
   */
  mremapEarlyMapCount: {
    changedIn: "v5.4: 'mm,mremap: bail out earlier in mremap_to under map pressure' (Oscar Salvador)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * When mremap() checks the VMA at the old address. Today check_prep_vma() runs first (-EFAULT for no
   * VMA or a range past its end, VM_DONTEXPAND, RLIMIT_MEMLOCK's -EAGAIN, RLIMIT_AS's -ENOMEM), and
   * mremap_to() unmaps the new address and shrinks only then, so a refused call changes nothing.
   * 2.6.10's do_mremap() (2.6.9 and 2.6.11 alike) checked its arguments, unmapped new_addr
   * (MREMAP_FIXED), shrank (returning at once unless MREMAP_FIXED, VMA or not: do_munmap() of nothing
   * succeeds), and only then looked the VMA up and checked it: a failed MREMAP_FIXED call left
   * new_addr and the shrunk tail unmapped, and a shrink of unmapped memory succeeded.
   */
  mremapVmaChecksFirst: {
    changedIn:
      "after v6.15: Lorenzo Stoakes's mremap rework moved the VMA checks into check_prep_vma() before " +
      "mremap_to(); from v2.6.33 to then mremap_to() unmapped new_addr before vma_to_resize()",
    "2.6.10": false,
    modern: true,
  },
  /**
   * Where an MREMAP_FIXED call goes once it is checked. Today mremap_to() asks get_unmapped_area()
   * with MAP_FIXED (a driver's own f_op->get_unmapped_area is called and may refuse or answer another
   * address), the limits are checked only when the range grows, and a same-size move may span
   * several VMAs (remap_move()). 2.6.10's do_mremap() (2.6.9 and 2.6.11 alike) had one path: after
   * the unmap at new_addr and the shrink it looked up the one VMA at addr (-EFAULT when the old range
   * runs past it), checked VM_DONTEXPAND on growth, then RLIMIT_MEMLOCK (-EAGAIN) and RLIMIT_AS
   * (-ENOMEM) whatever the sizes, and called move_vma() at new_addr itself. A row of its own, not
   * mremapVmaChecksFirst: that one is about when the checks run, this one about which checks and
   * what moves, and the pieces changed at other times (see changedIn).
   */
  mremapFixedViaMremapTo: {
    changedIn:
      "v2.6.33: Al Viro's 'untangling do_mremap()' series split out mremap_to(), which asks " +
      "get_unmapped_area(MAP_FIXED); later releases skip the limit checks when the length does not " +
      "grow (vma_to_resize(), then check_prep_vma()); v6.17: remap_move() for same-size moves over " +
      "several VMAs (Lorenzo Stoakes)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * Whether mremap() refuses new_len > TASK_SIZE on every call. Today check_mremap_params() does
   * (-EINVAL) before anything else. 2.6.10's do_mremap() (2.6.9 and 2.6.11 alike) compared new_len
   * with TASK_SIZE only under MREMAP_FIXED; any other call went on: with old_len == new_len it
   * returned addr after the shrink step (do_munmap() of nothing), a growth met find_vma()'s -EFAULT,
   * RLIMIT_MEMLOCK's -EAGAIN, RLIMIT_AS's -ENOMEM, and at last -ENOMEM from the in-place test (no
   * room up to TASK_SIZE) or from get_unmapped_area() (len > TASK_SIZE).
   */
  mremapNewLenChecked: {
    changedIn:
      "v6.17: 'mm/mremap: refactor initial parameter sanity checks' (Lorenzo Stoakes) moved mremap_to()'s " +
      "new_len > TASK_SIZE check into check_mremap_params(), for every call",
    "2.6.10": false,
    modern: true,
  },
  /**
   * Whether may_expand_vm() bounds private writable mappings by RLIMIT_DATA. 2.6.10 had no
   * may_expand_vm(): do_mmap_pgoff(), do_brk(), acct_stack_growth() and do_mremap() each compared
   * total_vm with RLIMIT_AS alone, mprotect_fixup() checked no limit, and RLIMIT_DATA bounded only
   * the heap, in sys_brk() (2.6.9 and 2.6.11 alike; brk.ts keeps that check in both eras). Today
   * may_expand_vm() also counts data_vm against RLIMIT_DATA, for mmap(), mremap() growth and
   * mprotect() making memory private and writable.
   */
  mayExpandVmData: {
    changedIn:
      "v4.5: commit 84638335900f 'mm: rework virtual memory accounting' (Konstantin Khlebnikov), " +
      "enforced by default since v4.7 ('mm: enable RLIMIT_DATA by default with workaround for valgrind')",
    "2.6.10": false,
    modern: true,
  },
  /**
   * Whether mremap() with old_len == 0 (the "duplicate a shared mapping" case) is refused on private
   * memory (-EINVAL). 2.6.10's do_mremap() (2.6.9 and 2.6.11 alike) allowed old_len == 0 on any
   * mapping: it went to move_vma(), whose copy_vma() made a new VMA of new_len at the new address (a
   * fresh, unrelated private mapping: nothing moves, so anonymous memory reads zeros and a file its
   * pages) and left the original in place. move_vma() hid VM_ACCOUNT on the original and put it back
   * only if do_munmap() of the old range succeeded; of length 0 it fails (-EINVAL), so a private
   * writable original lost VM_ACCOUNT (and its commit charge, not modelled here).
   */
  mremapZeroOldLenSharedOnly: {
    changedIn:
      "v4.14: commit dba58d3b8c50 'mm/mremap: fail map duplication attempts for private mappings' " +
      "(Mike Kravetz)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * mremap()'s overlap test for a move to new_addr when old_len == 0. Today one symmetric test
   * (addr + old_len > new_addr && new_addr + new_len > addr) finds that an empty old range overlaps
   * nothing, so MREMAP_FIXED with new_addr == addr goes on: it unmaps [addr, addr + new_len) and then
   * finds no VMA at addr (-EFAULT). 2.6.10's do_mremap() (2.6.9 and 2.6.11 alike) had two one-sided
   * tests, the first of which (new_addr <= addr and new_addr + new_len > addr) refused
   * new_addr == addr whatever old_len was (-EINVAL, nothing unmapped).
   */
  mremapEmptyOldOverlapsNothing: {
    changedIn:
      "not pinned: v2.6.33's mremap_to() still had 2.6.10's two one-sided tests; the symmetric one is " +
      "in mremap_to() by v5.x (next to v5.4's early map-count check)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * The file offset mremap() gives get_unmapped_area() when it moves a range without MREMAP_FIXED.
   * Today it is the offset of addr itself (vma->vm_pgoff plus addr's distance from vm_start), so a
   * driver placing its own mappings sees the page that moves. 2.6.10's do_mremap() (2.6.9 and 2.6.11
   * alike) passed vma->vm_pgoff, the offset of the VMA's start, wherever addr lay in it.
   */
  mremapAreaPgoffAtAddr: {
    changedIn:
      "not pinned: v2.6.33's mremap_to() already passes addr's offset for MREMAP_FIXED; today's " +
      "vrm_set_new_addr() does for every move",
    "2.6.10": false,
    modern: true,
  },
  /**
   * When mmap() of a file tries to join the new range to a neighbour. 2.6.10's do_mmap_pgoff() merged
   * early only private anonymous memory; a file mapping got its VMA and the driver's ->mmap first, then
   * vma_merge() with the flags and pgoff ->mmap left (the new VMA freed if that merged). Today
   * __mmap_region() tries vma_merge_new_range() before ->mmap, so a merge skips the driver's ->mmap,
   * and nothing after it (the retry when ->mmap had changed the flags, retry_merge, went in v6.16).
   */
  fileMergeBeforeMmap: {
    changedIn:
      "after v2.6.24: mmap_region() tries vma_merge() for files before ->mmap; v6.16: 'mm/vma: remove " +
      "mmap() retry merge' (Lorenzo Stoakes)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * Which flags decide that mmap() faults the new range in (VM_LOCKED). Today do_mmap() asks the
   * vm_flags it built itself, so a driver that sets VM_LOCKED in ->mmap gets no population and one
   * that clears it still does. 2.6.10's do_mmap_pgoff() read vm_flags back from the VMA after ->mmap
   * ("Can addr have changed??", pwanbul/linux-2.6.11 mm/mmap.c; see fileMergeBeforeMmap's commit)
   * and asked those.
   */
  populateByOwnFlags: {
    changedIn: "v3.9: 'mm: introduce mm_populate() for populating new vmas' (Michel Lespinasse)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * What MAP_POPULATE faults in. 2.6.10's do_mmap_pgoff() passed it to sys_remap_file_pages(addr, len,
   * 0, pgoff, flags & MAP_NONBLOCK) (mm/mmap.c, mm/fremap.c; 2.6.9 and 2.6.11 alike), which called
   * vm_ops->populate only for a VM_SHARED VMA (not a MAP_SHARED mapping of a read-only file) whose
   * vm_ops had one: shmem_populate() (tmpfs, shared anonymous memory) and filemap_populate(), never a
   * driver's, SysV shm's or private memory. Its error was ignored, its pgoff was the VMA's own (no
   * VM_NONLINEAR), and shmem_populate() refused the whole range (-EINVAL) unless it lay inside i_size;
   * MAP_NONBLOCK mapped the pages already cached. VM_LOCKED memory was faulted in by
   * make_pages_present() first, as today. Today do_mmap() populates every kind of mapping with
   * mm_populate(), and MAP_NONBLOCK means no population.
   */
  populateByRemapFilePages: {
    changedIn:
      "v2.6.23: Nick Piggin's fault series ('mm: merge populate and nopage into fault') drops ->populate; " +
      "do_mmap_pgoff() populates with make_pages_present() unless MAP_NONBLOCK (mmap(2): MAP_POPULATE " +
      "for private mappings since 2.6.23)",
    "2.6.10": true,
    modern: false,
  },
  /**
   * How memory that mmap() or mremap() maps VM_LOCKED is faulted in. Today mm_populate()'s
   * populate_vma_page_range() asks for write access only on private writable memory (to break COW
   * now), so a shared writable mapping is read-faulted and its pages stay clean. 2.6.10's
   * do_mmap_pgoff(), do_mremap() and move_vma() called make_pages_present() (2.6.9 and 2.6.11 alike),
   * whose get_user_pages() wrote whenever the VMA had VM_WRITE, shared or not, dirtying every page,
   * and refused VM_IO memory; its result was ignored. mlock()/mlockall() went through mlock_fixup()
   * (mlockPopulatesEachVma).
   */
  lockedPopulateWritesShared: {
    changedIn: "v2.6.38: 'mlock: avoid dirtying pages and triggering writeback' (Michel Lespinasse)",
    "2.6.10": true,
    modern: false,
  },
  /**
   * Merging next to a VMA whose vm_ops has ->close. 2.6.10's is_mergeable_vma() (mm/mmap.c) refused
   * any prev or next with ->close, and vma_merge() never asked the VMA whose range changed, so a merge
   * into prev could delete that one without ->close. Today only a VMA the merge would delete must have
   * no ->close (can_merge_remove_vma(), mm/vma.c): a neighbour with ->close may grow or shrink, and a
   * merge that would delete one is reduced (prev only) or abandoned.
   */
  closeBlocksOnlyRemoval: {
    changedIn:
      "v6.4: commit 714965ca8252 'mm/mmap: start distinguishing if vma can be removed in mergeability test' " +
      "(Vlastimil Babka); v6.12: commit 01c373e9a5ce 'mm: rework vm_ops->close() handling on VMA merge' " +
      "(Lorenzo Stoakes)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * A whole VMA changed (mprotect, mlock, madvise…) to match next: which object survives. 2.6.10's
   * vma_merge() case 8 called vma_adjust() on the changed VMA, which grew over next and freed next, so
   * the changed VMA's vm_ops (its ->close runs at munmap) and vm_private_data cover the range; today
   * vma_merge_existing_range() expands next and deletes the changed VMA (only if it has no ->close).
   */
  mergeRightKeepsNext: {
    changedIn:
      "v4.9: commit e86f15ee64d8 'mm: vma_merge: fix vm_page_prot SMP race condition against rmap_walk' " +
      "(Andrea Arcangeli)",
    "2.6.10": false,
    modern: true,
  },
  /**
   * MAP_HUGETLB: anonymous memory backed by huge pages, through a file of the internal hugetlbfs mount
   * (ksys_mmap_pgoff(), hugetlb.ts), and -EINVAL with any other file. 2.6.10's do_mmap_pgoff() knew no
   * such flag and ignored bit 0x40000: the mapping is plain anonymous memory (huge pages then came only
   * from a file on a mounted hugetlbfs, or SysV SHM_HUGETLB). The page size bits (MAP_HUGE_SHIFT) came
   * with v3.8; between the two they were ignored too.
   */
  mapHugetlb: {
    changedIn:
      "v2.6.32: 'hugetlb: add MAP_HUGETLB for mmaping pseudo-anonymous huge page regions' (Eric B Munson); " +
      "v3.8: 'mm: support more pagesizes for MAP_HUGETLB/SHM_HUGETLB' (Andi Kleen)",
    "2.6.10": false,
    modern: true,
  },
} as const satisfies Record<string, Difference<boolean | number>>;

type Rows = typeof ERA_DIFFERENCES;
/** One era's column of the table, resolved once per mm (a lookup is a property load). */
export type EraRules = { readonly [K in keyof Rows]: Rows[K]["modern"] extends boolean ? boolean : number };

function column(era: Era): EraRules {
  const out: Record<string, boolean | number> = {};
  for (const [k, row] of Object.entries(ERA_DIFFERENCES)) out[k] = row[era];
  return out as unknown as EraRules;
}

const RULES: Readonly<Record<Era, EraRules>> = { modern: column("modern"), "2.6.10": column("2.6.10") };

/** The rules of an era. */
export function eraRules(era: Era): EraRules {
  return RULES[era];
}
