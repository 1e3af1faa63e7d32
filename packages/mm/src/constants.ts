/** Linux x86-64 values of the mmap family's flags, vm_flags, fault codes and signal codes. */

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const PROT_SEM = 0x8;
export const PROT_GROWSDOWN = 0x01000000;
export const PROT_GROWSUP = 0x02000000;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_DROPPABLE = 0x08;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_ANON = MAP_ANONYMOUS;
export const MAP_32BIT = 0x40;
/** x86: place the mapping above 4 GiB (v6.4); only MAP_SHARED_VALIDATE's mask knows it here. */
export const MAP_ABOVE4G = 0x80;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MAP_UNINITIALIZED = 0x4000000;
/**
 * MAP_HUGETLB's page size (include/uapi/asm-generic/hugetlb_encode.h): log2 of it in bits 26..31,
 * 0 for the default hstate (v3.8). MAP_UNINITIALIZED shares bit 26, which only matters without
 * MAP_HUGETLB.
 */
export const MAP_HUGE_SHIFT = 26;
export const MAP_HUGE_MASK = 0x3f;
export const MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT;
export const MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT;
/**
 * Flags MAP_SHARED_VALIDATE accepts besides MAP_SYNC (include/linux/mman.h): the historical ones, with
 * x86's MAP_32BIT and MAP_ABOVE4G and the bits of MAP_HUGE_2MB and MAP_HUGE_1GB (26..30, not 31: a
 * memfd mapped MAP_SHARED_VALIDATE with bit 30 is fine, with bit 31 -EOPNOTSUPP, Linux 6.18.44).
 */
export const LEGACY_MAP_MASK =
  MAP_SHARED |
  MAP_PRIVATE |
  MAP_FIXED |
  MAP_ANONYMOUS |
  MAP_DENYWRITE |
  MAP_EXECUTABLE |
  MAP_UNINITIALIZED |
  MAP_GROWSDOWN |
  MAP_LOCKED |
  MAP_NORESERVE |
  MAP_POPULATE |
  MAP_NONBLOCK |
  MAP_STACK |
  MAP_HUGETLB |
  MAP_32BIT |
  MAP_ABOVE4G |
  MAP_HUGE_2MB |
  MAP_HUGE_1GB;
export const MAP_FAILED = -1;

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;
export const MADV_DONTDUMP = 16;
export const MADV_DODUMP = 17;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MADV_COLD = 20;
export const MADV_PAGEOUT = 21;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MADV_DONTNEED_LOCKED = 24;
/** Installs guard markers over the range: any access is SIGSEGV (since 6.13). */
export const MADV_GUARD_INSTALL = 102;
/** Removes guard markers, leaving everything else in the range as it was (since 6.13). */
export const MADV_GUARD_REMOVE = 103;

export const MS_ASYNC = 1;
export const MS_INVALIDATE = 2;
export const MS_SYNC = 4;

export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;
export const MLOCK_ONFAULT = 1;

/**
 * vm_flags (include/linux/mm.h), an int32: bit 31 (VM_MERGEABLE) is its sign bit, so test flags with
 * `& VM_X` (never `> 0`) and print them with `>>> 0`.
 */
export const VM_NONE = 0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
/**
 * mseal(2)ed (v6.10). Linux's VM_SEALED is bit 42 of a 64-bit vm_flags; our flags stay within 31 bits,
 * so it takes bit 9, VM_UFFD_MISSING's (no userfaultfd here). smaps shows it as "sl".
 */
export const VM_SEALED = 0x200;
export const VM_PFNMAP = 0x400;
/**
 * MAP_DROPPABLE memory (v6.11). Linux's VM_DROPPABLE is a high bit of a 64-bit vm_flags; our flags stay
 * within 31 bits, so it takes bit 11, which no mapping uses today. smaps shows it as "dp".
 */
export const VM_DROPPABLE = 0x800;
/** No userfaultfd here, so nothing sets VM_UFFD_WP: its bit (12) holds VM_RESERVED. */
export const VM_UFFD_WP = 0x1000;
export const VM_LOCKED = 0x2000;
export const VM_IO = 0x4000;
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_LOCKONFAULT = 0x80000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_SYNC = 0x800000;
export const VM_ARCH_1 = 0x1000000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_SOFTDIRTY = 0x8000000;
export const VM_MIXEDMAP = 0x10000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
/** KSM may merge this VMA's pages (MADV_MERGEABLE, v2.6.32): the int32's sign bit (1 << 31). */
export const VM_MERGEABLE = 1 << 31;
/**
 * VM_RESERVED, the flag LDD3's drivers set in ->mmap (and 2.6.10's remap_pfn_range()). Linux 2.6.10 had
 * it at 0x00080000, VM_LOCKONFAULT's bit today; our flags stay within 31 bits, so it takes bit 12,
 * VM_UFFD_WP's (no userfaultfd here). Only 2.6.10 keeps it on a VMA (in its VM_SPECIAL: era.ts
 * vmSpecial); v3.7 replaced it by VM_DONTEXPAND | VM_DONTDUMP in every driver, so a driver's ->mmap that
 * sets it today gets those two instead (era.ts reservedFlags). smaps has no mnemonic for it.
 */
export const VM_RESERVED = 0x1000;
/** Today's VM_SPECIAL (include/linux/mm.h); 2.6.10's was another set (era.ts vmSpecial). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** vm_fault_t codes (include/linux/mm_types.h). */
export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_MAJOR = 0x000004;
export const VM_FAULT_HWPOISON = 0x000010;
export const VM_FAULT_HWPOISON_LARGE = 0x000020;
export const VM_FAULT_SIGSEGV = 0x000040;
export const VM_FAULT_NOPAGE = 0x000100;
export const VM_FAULT_LOCKED = 0x000200;
export const VM_FAULT_RETRY = 0x000400;
export const VM_FAULT_FALLBACK = 0x000800;
export const VM_FAULT_DONE_COW = 0x001000;
export const VM_FAULT_NEEDDSYNC = 0x002000;
export const VM_FAULT_ERROR =
  VM_FAULT_OOM |
  VM_FAULT_SIGBUS |
  VM_FAULT_SIGSEGV |
  VM_FAULT_HWPOISON |
  VM_FAULT_HWPOISON_LARGE |
  VM_FAULT_FALLBACK;
/** 2.6.10's numbering of the same idea (include/linux/mm.h then): nopage's type out-parameter. */
export const VM_FAULT_MINOR = 0;

/** FAULT_FLAG_* (include/linux/mm_types.h). */
export const FAULT_FLAG_WRITE = 0x01;
/** The fault is ->page_mkwrite / ->pfn_mkwrite telling the driver of a write to a read-only page. */
export const FAULT_FLAG_MKWRITE = 0x02;
export const FAULT_FLAG_USER = 0x40;
export const FAULT_FLAG_REMOTE = 0x80;

/** Address-space geometry of x86-64 with 4-level paging. */
export const TASK_SIZE = 0x7ffffffff000;
export const MMAP_MIN_ADDR = 0x10000;
/** mmap_base() in arch/x86/mm/mmap.c without randomization: TASK_SIZE minus the minimum 128 MiB gap. */
export const MMAP_BASE = TASK_SIZE - 128 * 1024 * 1024;
/** stack_guard_gap (mm/mmap.c): 256 pages, the `stack_guard_gap=` boot parameter's default. */
export const STACK_GUARD_GAP = 256 * 4096;
/**
 * mm->start_brk of every process: where the heap begins. No ELF is loaded, so there is no text, data
 * or bss below it (start_code = end_code = start_data = end_data = start_brk) and it is not randomised
 * (what `setarch -R` gives a small PIE: 0x555555554000 plus its text and data).
 */
export const START_BRK = 0x5555_5555_9000;
/** RLIMIT_STACK's default soft limit (_STK_LIM, 8 MiB). */
export const DEFAULT_STACK_LIMIT = 8 * 1024 * 1024;
/** sysctl vm.max_map_count default (DEFAULT_MAX_MAP_COUNT). */
export const DEFAULT_MAX_MAP_COUNT = 65530;
export const RLIMIT_MEMLOCK_DEFAULT = 8 * 1024 * 1024;

/** Signals and si_codes (include/uapi/asm-generic/siginfo.h). */
export const SIGKILL = 9;
export const SIGBUS = 7;
export const SIGSEGV = 11;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
/** The access was denied by a memory protection key (si_pkey names it). */
export const SEGV_PKUERR = 4;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const BUS_OBJERR = 3;

/** memfd seals (include/uapi/linux/fcntl.h), kept on a shmem inode. */
export const F_SEAL_SEAL = 0x0001;
export const F_SEAL_SHRINK = 0x0002;
export const F_SEAL_GROW = 0x0004;
export const F_SEAL_WRITE = 0x0008;
export const F_SEAL_FUTURE_WRITE = 0x0010;
export const F_SEAL_EXEC = 0x0020;

/** fallocate(2) modes (include/uapi/linux/falloc.h) that tmpfs knows. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
