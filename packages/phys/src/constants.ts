/** Page geometry of x86-64 (include/asm-generic/page.h). */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = -4096;

/** Buddy allocator orders 0..MAX_ORDER (MAX_PAGE_ORDER = 10 in include/linux/mmzone.h). */
export const MAX_ORDER = 10;

/** SPARSEMEM section size on x86-64: 2^27 bytes (arch/x86/include/asm/sparsemem.h). */
export const SECTION_SIZE_BITS = 27;
export const PFN_SECTION_SHIFT = SECTION_SIZE_BITS - PAGE_SHIFT;

/** Legacy ISA hole (arch/x86/include/asm/e820/types.h). */
export const ISA_START_ADDRESS = 0xa0000;
export const ISA_END_ADDRESS = 0x100000;
/** Where a PC firmware opens the 32-bit PCI window; RAM that would overlap it is moved above 4 GiB. */
export const PCI_HOLE_START = 0xc0000000;
export const PCI_HOLE_END = 0x100000000;
export const FOUR_GIB = 0x100000000;

/** struct page flags (a subset of include/linux/page-flags.h, our own bit numbers). */
export const PG_locked = 1 << 0;
export const PG_reserved = 1 << 1;
export const PG_dirty = 1 << 2;
export const PG_buddy = 1 << 3;
export const PG_head = 1 << 4;
export const PG_anon = 1 << 5;
export const PG_referenced = 1 << 6;
export const PG_slab = 1 << 7;
/** Page-table page (PageTable() in the kernel). */
export const PG_table = 1 << 8;
/** Set on the head of an anon page mapped by exactly one process (PageAnonExclusive). */
export const PG_anon_exclusive = 1 << 9;
/**
 * Taken out of circulation after a "Bad page state" report (bad_page() leaks the page; memory
 * failure marks it PG_hwpoison): never on a free list again, counted by `nrQuarantinedPages`.
 */
export const PG_quarantined = 1 << 10;
/**
 * An anonymous page MADV_FREE made lazy-free (the kernel clears PG_swapbacked, folio_mark_lazyfree()):
 * reclaim may discard it instead of keeping it, unless it was written again since.
 */
export const PG_lazyfree = 1 << 11;
/**
 * A page mlock left unevictable after its VMA lost VM_LOCKED without munlocking it (MREMAP_DONTUNMAP
 * clears the old VMA's VM_LOCKED and nothing else: the folio keeps PG_mlocked and its mlock_count).
 * Reclaim skips it until it is freed. Pages inside VM_LOCKED VMAs need no mark: reclaim never reaches them.
 */
export const PG_mlocked = 1 << 12;

/** GFP flags (include/linux/gfp_types.h); only the ones with an effect here. */
/** Zone modifiers: the highest zone an allocation may come from (gfp_zone()). */
export const __GFP_DMA = 0x01;
export const __GFP_HIGHMEM = 0x02;
export const __GFP_DMA32 = 0x04;
export const __GFP_MOVABLE = 0x08;
/** ___GFP_MEMALLOC: allow the reserves below the min watermark (ALLOC_NO_WATERMARKS). */
export const __GFP_MEMALLOC = 1 << 17;
export const GFP_KERNEL = 0;
export const GFP_USER = 0;
export const __GFP_ZERO = 1 << 8;
/** x86-64 has no ZONE_HIGHMEM: __GFP_HIGHMEM alone still means ZONE_NORMAL. */
export const GFP_HIGHUSER = __GFP_HIGHMEM;
/** The zonelist of an anonymous or page-cache page: ZONE_MOVABLE down to ZONE_DMA. */
export const GFP_HIGHUSER_MOVABLE = __GFP_HIGHMEM | __GFP_MOVABLE;
