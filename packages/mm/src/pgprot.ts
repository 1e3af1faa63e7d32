// pgprot_t and the x86 page cache modes (arch/x86/include/asm/pgtable_types.h, arch/x86/mm/pat/memtype.c's
// init_cache_modes): the one module that encodes and decodes a pgprot value and a PTE's cache bits.
import { _PAGE_PCD, _PAGE_PWT } from "./pgtable";

/** _PAGE_PAT (bit 7 of a 4 KiB PTE; at the PMD/PUD level the same bit is PSE). */
export const _PAGE_PAT = 0x080;
/** _PAGE_CACHE_MASK: the three PTE bits that index the PAT (PAT << 2 | PCD << 1 | PWT). */
export const _PAGE_CACHE_MASK = _PAGE_PAT | _PAGE_PCD | _PAGE_PWT;

/** enum page_cache_mode (arch/x86/include/asm/pgtable_types.h). */
export const _PAGE_CACHE_MODE_WB = 0;
export const _PAGE_CACHE_MODE_WC = 1;
export const _PAGE_CACHE_MODE_UC_MINUS = 2;
export const _PAGE_CACHE_MODE_UC = 3;
export const _PAGE_CACHE_MODE_WT = 4;
export const _PAGE_CACHE_MODE_WP = 5;
/** One of the _PAGE_CACHE_MODE_* values: a memory type (WB, WC, UC-, UC, WT, WP). */
export type PageCacheMode = 0 | 1 | 2 | 3 | 4 | 5;

/**
 * The PAT MSR Linux programs at boot (pat_bp_init(), "x86/PAT: Configuration [0-7]: WB  WC  UC- UC
 * WB  WP  UC- WT"): entry i is the memory type a PTE whose PAT/PCD/PWT bits spell i gets.
 */
export const PAT_CONFIGURATION: readonly PageCacheMode[] = [
  _PAGE_CACHE_MODE_WB,
  _PAGE_CACHE_MODE_WC,
  _PAGE_CACHE_MODE_UC_MINUS,
  _PAGE_CACHE_MODE_UC,
  _PAGE_CACHE_MODE_WB,
  _PAGE_CACHE_MODE_WP,
  _PAGE_CACHE_MODE_UC_MINUS,
  _PAGE_CACHE_MODE_WT,
];

/** __cm_idx2pte(): the PTE bits that select PAT entry `i`. */
const idx2pte = (i: number): number =>
  (i & 4 ? _PAGE_PAT : 0) | (i & 2 ? _PAGE_PCD : 0) | (i & 1 ? _PAGE_PWT : 0);
/** __pte2cm_idx(): the PAT entry a PTE's cache bits select. */
const pte2idx = (bits: number): number =>
  (bits & _PAGE_PAT ? 4 : 0) | (bits & _PAGE_PCD ? 2 : 0) | (bits & _PAGE_PWT ? 1 : 0);

/**
 * __cachemode2pte_tbl as __init_cache_modes() fills it: for each mode, the lowest PAT entry holding it
 * (the loop runs from entry 7 down to 0, so a lower entry overwrites a higher one). With the default
 * layout: WB → 0, WC → PWT, UC- → PCD, UC → PCD|PWT, WP → PAT|PWT, WT → PAT|PCD|PWT.
 */
const CACHEMODE2PTE: readonly number[] = (() => {
  const t = [0, 0, 0, 0, 0, 0];
  for (let i = 7; i >= 0; i--) t[PAT_CONFIGURATION[i]!] = idx2pte(i);
  return t;
})();

/** cachemode2protval(): the PTE cache bits for mode `pcm`. */
export const cachemode2protval = (pcm: PageCacheMode): number => CACHEMODE2PTE[pcm]!;
/** The memory type of a PTE's (or pgprot's PTE-form) cache bits (__pte2cachemode_tbl). */
export const pteCachemode = (pteBits: number): PageCacheMode => PAT_CONFIGURATION[pte2idx(pteBits)]!;

/** cattr_name(): how memtype.c names a mode in its messages and in pat_memtype_list. */
export function cattrName(pcm: number): string {
  switch (pcm) {
    case _PAGE_CACHE_MODE_UC:
      return "uncached";
    case _PAGE_CACHE_MODE_UC_MINUS:
      return "uncached-minus";
    case _PAGE_CACHE_MODE_WB:
      return "write-back";
    case _PAGE_CACHE_MODE_WC:
      return "write-combining";
    case _PAGE_CACHE_MODE_WT:
      return "write-through";
    case _PAGE_CACHE_MODE_WP:
      return "write-protected";
    default:
      return "broken";
  }
}

// ---- pgprot_t -------------------------------------------------------------------------------------

/**
 * A pgprot value (vma.vmPageProt and the `prot` argument of remapPfnRange) is a number: its low four
 * bits are the VM_READ | VM_WRITE | VM_EXEC | VM_SHARED bits the PTE's present and RW bits are derived
 * from (as protection_map[] derives them in vm_get_page_prot()), and the PTE's cache bits
 * (_PAGE_PWT | _PAGE_PCD | _PAGE_PAT) sit PGPROT_CACHE_SHIFT bits higher (PWT would otherwise land on
 * VM_SHARED). pgprotCacheBits() gives them back in PTE position.
 */
export const PGPROT_CACHE_SHIFT = 8;
/** Where a pgprot keeps the PTE cache bits. */
export const PGPROT_CACHE_MASK = _PAGE_CACHE_MASK << PGPROT_CACHE_SHIFT;

/** The PTE cache bits (_PAGE_PWT | _PAGE_PCD | _PAGE_PAT, in PTE position) a pgprot carries. */
export const pgprotCacheBits = (prot: number): number => (prot >>> PGPROT_CACHE_SHIFT) & _PAGE_CACHE_MASK;
/** pgprot2cachemode(): the memory type a pgprot asks for. */
export const pgprot2cachemode = (prot: number): PageCacheMode => pteCachemode(pgprotCacheBits(prot));
/** pgprot_set_cachemode(): `prot` with its cache bits replaced by those of `pcm`. */
export const pgprotSetCachemode = (prot: number, pcm: PageCacheMode): number =>
  (prot & ~PGPROT_CACHE_MASK) | (cachemode2protval(pcm) << PGPROT_CACHE_SHIFT);

/**
 * pgprot_noncached(): x86 ORs in the UC- bits (arch/x86/include/asm/pgtable.h), it does not replace
 * the cache bits: on a pgprot that already asks for WC (PWT) the result is PCD|PWT, uncached.
 */
export const pgprotNoncached = (prot: number): number =>
  prot | (cachemode2protval(_PAGE_CACHE_MODE_UC_MINUS) << PGPROT_CACHE_SHIFT);
/** pgprot_writecombine() (arch/x86/mm/pat/memtype.c): ORs in the WC bits (PAT entry 1: PWT). */
export const pgprotWritecombine = (prot: number): number =>
  prot | (cachemode2protval(_PAGE_CACHE_MODE_WC) << PGPROT_CACHE_SHIFT);
/** pgprot_writethrough(): ORs in the WT bits (PAT entry 7: PAT|PCD|PWT). */
export const pgprotWritethrough = (prot: number): number =>
  prot | (cachemode2protval(_PAGE_CACHE_MODE_WT) << PGPROT_CACHE_SHIFT);
/** pgprot_device(): x86 defines none, so include/linux/pgtable.h's fallback, pgprot_noncached(). */
export const pgprotDevice = pgprotNoncached;
