/**
 * Every packed number phys hands out, and the only place that does their arithmetic (as rust-vmm's
 * `GuestAddress` owns guest addresses). Each encoding has an encoder and named decoders; callers in
 * phys use these, never `2 ** 32` or `/ 4096` of their own, and other packages can adopt them.
 *
 * - Physical address ↔ page frame: `paddr = pfn * PAGE_SIZE + offset in page` (PFN_PHYS, PFN_DOWN,
 *   PFN_UP and offset_in_page in include/linux/pfn.h and mm.h). Exact up to 2^52 (MAXPHYADDR).
 * - Direct map: the kernel virtual address of a physical one is `PAGE_OFFSET + paddr` (__va/__pa).
 * - Location: `bank * 2^32 + byte offset` names a byte in a memory bank (banks.ts). It is what
 *   `PhysMemory.ramLocate`, mm's `PhysAccess.locatePage`, page tables and TLBs exchange; -1 is "not
 *   bank-backed". Offsets are below 2^30 (BANK_BYTES_MAX), so the offset fits a small integer.
 * - Page entry: `AddressSpace.pageEntry(pfn)` packs bank, writability and offset of a bank-backed page
 *   as `bank * 2^33 + (writable ? 2^32 : 0) + offset`, -1 otherwise: a location with the bank doubled to
 *   make room for the writable bit.
 * - 64-bit values as two 32-bit halves (64-bit BARs, 64-bit loads split for the MMU): `lo + hi * 2^32`.
 *
 * All of them are plain doubles: integers up to 2^53 are exact, and V8 keeps them unboxed in typed
 * arrays and registers, which is why none of them is a bigint or an object. The low 32 bits of such an
 * integer are taken with `>>> 0` (ToUint32 is exactly "modulo 2^32" for integers), not `% 2 ** 32`,
 * which V8 compiles to a floating-point remainder: these decoders sit on page-walk and TLB-fill paths.
 */
import { PAGE_SIZE } from "./constants";

const TWO32 = 2 ** 32;
const TWO33 = 2 ** 33;

// ---- physical addresses and page frames -----------------------------------------------------------

/** Highest physical address + 1 we decode (x86-64's architectural MAXPHYADDR is 52). */
export const PHYS_ADDR_LIMIT = 2 ** 52;

/** PFN_DOWN(): the frame holding `paddr`. */
export const pfnOf = (paddr: number): number => Math.floor(paddr / PAGE_SIZE);
/** PFN_PHYS(): the physical address of the frame's first byte. */
export const physOf = (pfn: number): number => pfn * PAGE_SIZE;
/** PFN_UP(): the first frame at or above `paddr` (the exclusive end frame of a range ending there). */
export const pfnUp = (paddr: number): number => Math.ceil(paddr / PAGE_SIZE);
/** offset_in_page(): `paddr`'s byte offset in its frame. */
export const offsetInPage = (paddr: number): number => paddr % PAGE_SIZE;

// ---- the direct map ---------------------------------------------------------------------------------

/** Kernel virtual address of the direct map (__va(0)); 2^52 keeps every kernel address exact in a double. */
export const PAGE_OFFSET = 2 ** 52;

/** __va(): the direct-map address of a physical address. */
export const directMapAddress = (paddr: number): number => PAGE_OFFSET + paddr;
/** __pa(): the physical address behind a direct-map address. */
export const directMapPhys = (kaddr: number): number => kaddr - PAGE_OFFSET;

// ---- locations: bank * 2^32 + byte offset ---------------------------------------------------------

/** The location of nothing: the page is not backed by a memory bank (MMIO, unassigned, not RAM). */
export const LOCATION_NONE = -1;

/** The location of byte `offset` of bank `bank`. */
export const locationOf = (bank: number, offset: number): number => bank * TWO32 + offset;
/** Bank id of a location (not LOCATION_NONE). */
export const locationBank = (loc: number): number => Math.floor(loc / TWO32);
/** Byte offset in its bank of a location (not LOCATION_NONE). */
export const locationOffset = (loc: number): number => loc >>> 0;

// ---- page entries: bank * 2^33 + writable * 2^32 + byte offset ------------------------------------

/** The page entry of a page that is not directly bank-backed. */
export const PAGE_ENTRY_NONE = -1;

/** The page entry of a bank-backed page starting at byte `offset` of `bank`. */
export const pageEntryOf = (bank: number, writable: boolean, offset: number): number =>
  bank * TWO33 + (writable ? TWO32 : 0) + offset;
/** Bank id of a packed `pageEntry` result. */
export const pageEntryBank = (e: number): number => Math.floor(e / TWO33);
/** Byte offset of the page in its bank. */
export const pageEntryOffset = (e: number): number => e >>> 0;
/** Whether stores may go to the bank directly (RAM and device RAM; ROM is read-only). */
export const pageEntryWritable = (e: number): boolean => (Math.floor(e / TWO32) & 1) === 1;
/** The location of a page entry's page, LOCATION_NONE for PAGE_ENTRY_NONE. */
export const pageEntryLocation = (e: number): number =>
  e < 0 ? LOCATION_NONE : locationOf(pageEntryBank(e), pageEntryOffset(e));

// ---- 64-bit values as two 32-bit halves -------------------------------------------------------------

/** The low 32 bits of a non-negative integer below 2^53. */
export const low32 = (v: number): number => v >>> 0;
/** The high bits (above bit 31) of a non-negative integer below 2^53. */
export const high32 = (v: number): number => Math.floor(v / TWO32);
/** `lo + hi * 2^32`: the number whose halves are `lo` and `hi` (exact while below 2^53). */
export const fromHalves = (lo: number, hi: number): number => lo + hi * TWO32;
