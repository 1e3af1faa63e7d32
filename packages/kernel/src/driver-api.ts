/**
 * The driver API: the functions a driver calls, named as in the kernel (camelCase), acting on the
 * machine whose kernel is currently running the driver's code (see internal/current.ts).
 */
import {
  _PAGE_CACHE_MODE_UC_MINUS,
  AddressSpaceMapping,
  unmapMappingRange as mmUnmapMappingRange,
  type PageCacheMode,
  type Vma,
} from "@faultline/mm";
import {
  directMapAddress,
  directMapPhys,
  locationBank,
  locationOffset,
  PAGE_OFFSET,
  PAGE_SIZE,
  type Page,
  pfnOf,
  physOf,
} from "@faultline/phys";
import { EINVAL, VM_FAULT_SIGBUS } from "./constants";
import {
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  type DriverSnapshot,
  type File,
} from "./driver-types";
import { badPfnReason, badPhysReason, isUint, PFN_LIMIT, warn } from "./internal/bug";
import { COPY_BRAND, currentKernel, currentKernelOrNull, THIS_COPY } from "./internal/current";
import { OpenFile } from "./internal/file";
import { ioremapReserve, ioremapTrack, iounmapRelease } from "./internal/ioremap";
import { printkArgs } from "./internal/printk";
import { driverRef } from "./internal/vm-ops";

/** The driver API versions this kernel loads. */
export const SUPPORTED_DRIVER_API_VERSIONS: readonly number[] = [DRIVER_API_VERSION];

const UNSUPPORTED_BRAND = Symbol.for("faultline.UnsupportedDriverApiVersionError");

/** Thrown when a machine is asked to load a driver written against an API version it does not support. */
export class UnsupportedDriverApiVersionError extends Error {
  readonly [UNSUPPORTED_BRAND] = true;
  readonly supportedVersions: readonly number[] = SUPPORTED_DRIVER_API_VERSIONS;
  constructor(
    readonly driverName: string,
    readonly apiVersion: number,
  ) {
    super(
      `driver "${driverName}" uses driver API version ${String(apiVersion)}, but this kernel supports version${SUPPORTED_DRIVER_API_VERSIONS.length === 1 ? "" : "s"} ${SUPPORTED_DRIVER_API_VERSIONS.join(", ")}`,
    );
    this.name = "UnsupportedDriverApiVersionError";
  }
  static isInstance(e: unknown): e is UnsupportedDriverApiVersionError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[UNSUPPORTED_BRAND] === true;
  }
}

/** What `defineDriver` takes: the module name, the driver API version, parameters, init and exit. */
export interface DriverDefinitionInput {
  readonly name: string;
  readonly apiVersion: number;
  readonly params?: Readonly<Record<string, unknown>>;
  /** The driver's own version (DriverDefinition.version). */
  readonly version?: string;
  /** Snapshot hooks (DriverDefinition.snapshot). */
  readonly snapshot?: DriverSnapshot;
  init(ctx: DriverContext): number | undefined;
  exit?(ctx: DriverContext): void;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,56}$/;

/**
 * Declares a driver (a module). Checks the shape (a module name as the kernel accepts it, an integer
 * apiVersion, an init function) and throws TypeError otherwise; the version itself is checked when a
 * machine loads it (UnsupportedDriverApiVersionError).
 */
export function defineDriver(def: DriverDefinitionInput): DriverDefinition {
  if (typeof def !== "object" || def === null) throw new TypeError("defineDriver: expected an object");
  if (typeof def.name !== "string" || !NAME_RE.test(def.name)) {
    throw new TypeError(
      `defineDriver: invalid driver name ${JSON.stringify(def.name)} (letters, digits, _ and -)`,
    );
  }
  if (!Number.isInteger(def.apiVersion) || def.apiVersion < 1) {
    throw new TypeError(
      `defineDriver(${def.name}): apiVersion must be a positive integer, got ${String(def.apiVersion)}`,
    );
  }
  if (typeof def.init !== "function")
    throw new TypeError(`defineDriver(${def.name}): init must be a function`);
  if (def.exit !== undefined && typeof def.exit !== "function") {
    throw new TypeError(`defineDriver(${def.name}): exit must be a function`);
  }
  if (def.version !== undefined && (typeof def.version !== "string" || !/^\d+(\.\d+)*$/.test(def.version)))
    throw new TypeError(
      `defineDriver(${def.name}): version must be a string such as "1.2.0", got ${String(def.version)}`,
    );
  const snap = def.snapshot;
  if (
    snap !== undefined &&
    (typeof snap !== "object" || snap === null || !Number.isInteger(snap.version) || snap.version < 1)
  )
    throw new TypeError(`defineDriver(${def.name}): snapshot.version must be a positive integer`);
  const out = { ...def };
  // Which copy of @faultline/kernel defined it: a machine of another copy refuses it (options.ts).
  Object.defineProperty(out, COPY_BRAND, { value: THIS_COPY, enumerable: false });
  return Object.freeze(out);
}

// ---- printk ---------------------------------------------------------------------------------

/**
 * printk(KERN_NOTICE + "Simple VMA open, virt %lx, phys %lx\n", start, phys), or with the level as
 * its own first argument. Without a current kernel (code outside any machine) it does nothing.
 */
export function printk(...args: unknown[]): void {
  const k = currentKernelOrNull("printk");
  if (k) printkArgs(k.log, args);
}

/** pr_* helpers (include/linux/printk.h). */
export const prEmerg = (fmt: string, ...a: unknown[]) => printk("\x010", fmt, ...a);
/** pr_alert(): printk at KERN_ALERT. */
export const prAlert = (fmt: string, ...a: unknown[]) => printk("\x011", fmt, ...a);
/** pr_crit(): printk at KERN_CRIT. */
export const prCrit = (fmt: string, ...a: unknown[]) => printk("\x012", fmt, ...a);
/** pr_err(): printk at KERN_ERR. */
export const prErr = (fmt: string, ...a: unknown[]) => printk("\x013", fmt, ...a);
/** pr_warn(): printk at KERN_WARNING. */
export const prWarn = (fmt: string, ...a: unknown[]) => printk("\x014", fmt, ...a);
/** pr_notice(): printk at KERN_NOTICE. */
export const prNotice = (fmt: string, ...a: unknown[]) => printk("\x015", fmt, ...a);
/** pr_info(): printk at KERN_INFO. */
export const prInfo = (fmt: string, ...a: unknown[]) => printk("\x016", fmt, ...a);
/** pr_debug(): printk at KERN_DEBUG. */
export const prDebug = (fmt: string, ...a: unknown[]) => printk("\x017", fmt, ...a);

/** The process on whose behalf the driver runs (`current`), or null at boot. */
export function current(): { readonly pid: number; readonly comm: string } | null {
  const p = currentKernelOrNull("current")?.current;
  return p ? { pid: p.pid, comm: p.comm } : null;
}

// ---- mapping memory into a VMA ----------------------------------------------------------------

/**
 * remap_pfn_range(): maps [addr, addr + size) of `vma` to consecutive pfns from `pfn`, up front, with
 * special PTEs (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP). Works for pfns with or without a
 * struct page. `prot` is vm_page_prot (default: the VMA's). Returns 0 or -errno.
 */
export function remapPfnRange(
  vma: Vma,
  addr: number,
  pfn: number,
  size: number,
  prot: number = vma.vmPageProt,
): number {
  if (!remapArgsOk("remapPfnRange", addr, pfn, size)) return -EINVAL;
  return vma.vmMm.remapPfnRange(vma, addr, pfn, size, prot);
}

/**
 * The checks remap_pfn_range() WARNs about (an unaligned addr) and the pfns no machine has (negative,
 * fractional, beyond MAXPHYADDR): a WARNING in dmesg saying why, and false (the caller returns -EINVAL).
 */
function remapArgsOk(what: string, addr: number, pfn: number, size: number): boolean {
  const k = currentKernelOrNull(what);
  let why = badPfnReason(pfn);
  if (why === null && Number.isFinite(size) && size > 0) {
    const last = pfn + Math.ceil(size / PAGE_SIZE) - 1;
    if (last >= PFN_LIMIT)
      why = `pfn 0x${pfn.toString(16)} + ${size} bytes ends beyond MAXPHYADDR (52 bits; pfns end below 0x${PFN_LIMIT.toString(16)})`;
  }
  if (why === null && !(Number.isInteger(addr) && addr % PAGE_SIZE === 0))
    why = `addr ${typeof addr === "number" ? `0x${addr.toString(16)}` : String(addr)} is not page-aligned`;
  if (why === null) return true;
  warn(k, "remap_pfn_range (mm/memory.c)", `${what}: ${why}`);
  return false;
}

/** io_remap_pfn_range(): the same as remapPfnRange on x86. */
export function ioRemapPfnRange(
  vma: Vma,
  addr: number,
  pfn: number,
  size: number,
  prot: number = vma.vmPageProt,
): number {
  if (!remapArgsOk("ioRemapPfnRange", addr, pfn, size)) return -EINVAL;
  return vma.vmMm.remapPfnRange(vma, addr, pfn, size, prot);
}

/**
 * vmf_insert_pfn(): from a fault handler of a VM_PFNMAP VMA; returns VM_FAULT_NOPAGE or an error code.
 * A pfn no machine has (negative, fractional, beyond MAXPHYADDR) installs nothing: a WARNING in dmesg
 * and VM_FAULT_SIGBUS, as vmf_insert_pfn_prot() answers a pfn it refuses.
 */
export function vmfInsertPfn(vma: Vma, addr: number, pfn: number): number {
  const why = badPfnReason(pfn);
  if (why !== null) {
    warn(currentKernelOrNull("vmfInsertPfn"), "vmf_insert_pfn (mm/memory.c)", `vmfInsertPfn: ${why}`);
    return VM_FAULT_SIGBUS;
  }
  return vma.vmMm.vmfInsertPfn(vma, addr, pfn);
}

/**
 * vmf_insert_mixed(): from the fault handler of a VM_MIXEDMAP VMA, one pfn with or without a struct
 * page, as a special PTE (no reference taken; the page's cache bits are the memtype in force, as for
 * vmfInsertPfn). VM_FAULT_NOPAGE, VM_FAULT_SIGBUS (not VM_MIXEDMAP, address outside the VMA, the zero
 * page where it may not be mapped) or VM_FAULT_OOM. A pfn no machine has: WARNING and VM_FAULT_SIGBUS.
 */
export function vmfInsertMixed(vma: Vma, addr: number, pfn: number): number {
  const why = badPfnReason(pfn);
  if (why !== null) {
    warn(currentKernelOrNull("vmfInsertMixed"), "vmf_insert_mixed (mm/memory.c)", `vmfInsertMixed: ${why}`);
    return VM_FAULT_SIGBUS;
  }
  return vma.vmMm.vmfInsertMixed(vma, addr, pfn);
}

/**
 * vm_iomap_memory(vma, start, len): maps the physical range [start, start + len) into the whole VMA,
 * vm_pgoff pages into the range, with vm_page_prot (set its cache bits first, e.g.
 * pgprotWritecombine). -EINVAL when the range wraps, vm_pgoff is past it, or the VMA is larger than
 * what is left; else io_remap_pfn_range()'s result. A range no machine has: WARNING and -EINVAL.
 */
export function vmIomapMemory(vma: Vma, start: number, len: number): number {
  const k = currentKernelOrNull("vmIomapMemory");
  let why = badPhysReason(start);
  if (why === null && !(Number.isInteger(len) && len >= 0)) why = `len ${String(len)} is not a size`;
  if (why === null && start + len > PFN_LIMIT * PAGE_SIZE && start + len < 2 ** 64)
    why = `0x${start.toString(16)} + 0x${len.toString(16)} ends beyond MAXPHYADDR (52 bits)`;
  if (why !== null) {
    warn(k, "vm_iomap_memory (mm/memory.c)", `vmIomapMemory: ${why}`);
    return -EINVAL;
  }
  return vma.vmMm.vmIomapMemory(vma, start, len);
}

/** vm_insert_page(): maps a driver's page (refcounted; sets VM_MIXEDMAP). Returns 0 or -errno. */
export function vmInsertPage(vma: Vma, addr: number, page: Page): number {
  return vma.vmMm.vmInsertPage(vma, addr, page);
}

/**
 * vmf_insert_pfn_prot(): vmfInsertPfn with the protection of `pgprot` (e.g. a read-only entry in a
 * writable VMA: `vma.vmPageProt & ~VM_WRITE`) instead of vm_page_prot's. The cache bits are not
 * `pgprot`'s: the PAT memtype in force for the pfn decides them (pfnmap_setup_cachemode_pfn), as for
 * vmfInsertPfn. VM_FAULT_NOPAGE, VM_FAULT_SIGBUS (address outside the VMA) or VM_FAULT_OOM. A pfn
 * no machine has, a pgprot or address that is not a non-negative integer: WARNING and VM_FAULT_SIGBUS.
 */
export function vmfInsertPfnProt(vma: Vma, addr: number, pfn: number, pgprot: number): number {
  let why = badPfnReason(pfn);
  if (why === null && !isUint(pgprot, 2 ** 31)) why = `pgprot ${String(pgprot)} is not a pgprot`;
  if (why === null && !isUint(addr)) why = `addr ${String(addr)} is not an address`;
  if (why !== null) {
    warn(
      currentKernelOrNull("vmfInsertPfnProt"),
      "vmf_insert_pfn_prot (mm/memory.c)",
      `vmfInsertPfnProt: ${why}`,
    );
    return VM_FAULT_SIGBUS;
  }
  return vma.vmMm.vmfInsertPfnProt(vma, addr, pfn, pgprot);
}

/**
 * What is wrong with `pages` and a count of them, as a driver can get it wrong (not an array, a
 * count that is not a non-negative integer or exceeds the array, an entry that is not a page of this
 * machine's memory), or null. Linux would read past the array or dereference garbage.
 */
function badPagesReason(
  k: { mem: { pfnValid(pfn: number): boolean } },
  pages: unknown,
  num: unknown,
): string | null {
  if (!Array.isArray(pages)) return `pages ${String(pages)} is not an array of pages`;
  if (!isUint(num)) return `num ${String(num)} is not a count of pages`;
  if (num > pages.length) return `num ${num} is larger than the array of ${pages.length} pages`;
  for (let i = 0; i < num; i++) {
    const p: unknown = pages[i];
    const pfn = (p as { pfn?: unknown } | null)?.pfn;
    if (
      typeof p !== "object" ||
      p === null ||
      (p as { mem?: unknown }).mem !== k.mem ||
      !isUint(pfn) ||
      !k.mem.pfnValid(pfn)
    )
      return `pages[${i}] (${String(p)}) is not a page of this machine`;
  }
  return null;
}

/**
 * vm_map_pages(vma, pages, num): maps pages[vm_pgoff ..] over the whole VMA with vm_insert_page()
 * (VM_MIXEDMAP; each PTE holds a reference, dropped at munmap or exit), for a driver's ->mmap of a
 * buffer of `num` pages (default: the array's length). -ENXIO when vm_pgoff >= num or the VMA is
 * larger than the num - vm_pgoff pages left; else 0 or the first vm_insert_page error (-EINVAL for a
 * page nobody holds or an anonymous one, -EBUSY, -ENOMEM), the pages before it staying mapped. Bad
 * arguments (see badPagesReason): WARNING and -EINVAL.
 */
export function vmMapPages(vma: Vma, pages: readonly Page[], num: number = pages?.length): number {
  return mapPagesChecked("vmMapPages", "vm_map_pages", vma, pages, num, vma.vmPgoff);
}

/** vm_map_pages_zero(vma, pages, num): vmMapPages from pages[0], whatever vm_pgoff says. */
export function vmMapPagesZero(vma: Vma, pages: readonly Page[], num: number = pages?.length): number {
  return mapPagesChecked("vmMapPagesZero", "vm_map_pages_zero", vma, pages, num, 0);
}

function mapPagesChecked(
  what: string,
  fn: string,
  vma: Vma,
  pages: readonly Page[],
  num: number,
  offset: number,
): number {
  const k = currentKernel(what);
  const why = badPagesReason(k, pages, num);
  if (why !== null) {
    warn(k, `${fn} (mm/memory.c)`, `${what}: ${why}`);
    return -EINVAL;
  }
  return vma.vmMm.vmMapPages(vma, pages, num, offset);
}

/**
 * vm_insert_pages(vma, addr, pages, num): pages[0 .. num.value) at addr, addr + PAGE_SIZE, … as
 * vm_insert_page() maps each (VM_MIXEDMAP, a reference per PTE), in one call. `num` is C's
 * `unsigned long *num`, a box: it goes in as the count and comes back as the number of pages NOT
 * inserted (0 when all were). Returns 0 or -errno: -EFAULT when [addr, addr + num pages) is not inside
 * the VMA (num untouched), else the first page's error (-EINVAL, -EBUSY, -ENOMEM), the pages before
 * it left mapped (the caller's to undo, as in Linux), so `count - num.value` pages are in place. Bad
 * arguments (a non-integer addr, see badPagesReason for the rest): WARNING and -EINVAL, num untouched.
 */
export function vmInsertPages(
  vma: Vma,
  addr: number,
  pages: readonly Page[],
  num: { value: number },
): number {
  const k = currentKernel("vmInsertPages");
  let why =
    typeof num !== "object" || num === null
      ? `num ${String(num)} is not a { value } box`
      : badPagesReason(k, pages, num.value);
  if (why === null && !isUint(addr)) why = `addr ${String(addr)} is not an address`;
  if (why !== null) {
    warn(k, "vm_insert_pages (mm/memory.c)", `vmInsertPages: ${why}`);
    return -EINVAL;
  }
  return vma.vmMm.vmInsertPages(vma, addr, pages, num);
}

/** zap_vma_ptes(): removes PTEs of a VM_PFNMAP VMA, with TLB shootdown. */
export function zapVmaPtes(vma: Vma, addr: number, size: number): void {
  vma.vmMm.zapVmaPtes(vma, addr, size);
}

/**
 * unmap_mapping_range(): removes the PTEs that map bytes [start, start + len) of the object (len 0:
 * to the end) in every process that maps it, with TLB shootdown; the next access faults again.
 * Private COW copies stay unless `evenCows`. Accepts the mapping or an open file of it. The walk is
 * mm's (the one copy, mm/rmap.ts); this adds only the struct file → i_mapping step.
 */
export function unmapMappingRange(
  target: AddressSpaceMapping | File,
  start: number,
  len: number,
  evenCows = false,
): void {
  const mapping =
    target instanceof AddressSpaceMapping
      ? target
      : target instanceof OpenFile
        ? target.mapping
        : (target as { mapping?: AddressSpaceMapping }).mapping;
  if (!(mapping instanceof AddressSpaceMapping))
    throw new TypeError("unmapMappingRange: not a mapping or a file");
  mmUnmapMappingRange(mapping, start, len, evenCows);
}

// ---- pages --------------------------------------------------------------------------------------

/**
 * pfn_valid(): the pfn has a struct page (RAM and the ISA hole; never PCI MMIO). It is the check
 * itself, so a negative, fractional or too large pfn is simply not valid (false, no warning).
 */
export function pfnValid(pfn: number): boolean {
  const k = currentKernel("pfnValid");
  return badPfnReason(pfn) === null && k.mem.pfnValid(pfn);
}

/**
 * pfn_to_page(). Throws (an oops, in a driver) for a pfn without a struct page, saying why when the
 * pfn is not one at all (negative, fractional, beyond MAXPHYADDR).
 */
export function pfnToPage(pfn: number): Page {
  const k = currentKernel("pfnToPage");
  const why = badPfnReason(pfn);
  if (why !== null) throw new RangeError(`pfnToPage: ${why}`);
  return k.mem.pfnToPage(pfn);
}

/** page_to_pfn(): the page's frame number. */
export function pageToPfn(page: Page): number {
  return page.pfn;
}

/** get_page(): the driver takes a reference (returning the page from ->fault hands it to the PTE). */
export function getPage(page: Page): void {
  const m = currentKernel("getPage");
  m.mem.getPage(page);
  driverRef(m, page.pfn, 1);
}

/** put_page(): the driver drops a reference it holds. */
export function putPage(page: Page): void {
  const m = currentKernel("putPage");
  m.mem.putPage(page);
  driverRef(m, page.pfn, -1);
}

/**
 * alloc_pages(): 2^order frames (one reference, on the head), or null when memory is exhausted. Note
 * the argument order: (order, gfp), unlike the kernel's alloc_pages(gfp, order).
 */
export function allocPages(order: number, gfp = 0): Page | null {
  const m = currentKernel("allocPages");
  const page = m.mem.allocPages(order, gfp);
  if (page) driverRef(m, page.pfn, 1);
  return page;
}

/** alloc_page(gfp) */
export function allocPage(gfp = 0): Page | null {
  return allocPages(0, gfp);
}

/** __free_pages(): drops the allocation's reference. */
export function freePages(page: Page, order: number): void {
  const m = currentKernel("freePages");
  m.mem.freePages(page, order);
  driverRef(m, page.pfn, -1);
}

/** __free_page(): `freePages(page, 0)`. */
export function freePage(page: Page): void {
  freePages(page, 0);
}

/** split_page(): an order-N allocation becomes 2^N order-0 pages, each with one reference. */
export function splitPage(page: Page, order: number): void {
  const m = currentKernel("splitPage");
  m.mem.splitPage(page, order);
  for (let i = 1; i < 1 << order; i++) driverRef(m, page.pfn + i, 1);
}

// ---- kernel virtual addresses -------------------------------------------------------------------

/** PAGE_OFFSET: the direct map's base (__va(0)). */
export { PAGE_OFFSET };

/** virt_to_phys() / __pa() for direct-map addresses. */
export function virtToPhys(addr: number): number {
  return directMapPhys(addr);
}
export const __pa = virtToPhys;

/** phys_to_virt() / __va(). */
export function physToVirt(paddr: number): number {
  return directMapAddress(paddr);
}
export const __va = physToVirt;

/** page_address() */
export function pageAddress(page: Page): number {
  return directMapAddress(physOf(page.pfn));
}

/** virt_to_page(). */
export function virtToPage(addr: number): Page {
  return pfnToPage(pfnOf(virtToPhys(addr)));
}

/** high_memory: the end of the direct map (__va of the top of RAM), as in LDD3's `__pa(high_memory)` test. */
export function highMemory(): number {
  const m = currentKernel("highMemory");
  return directMapAddress(physOf(m.mem.maxPfn));
}

/**
 * kmap(): the page's 4 KiB as bytes, for RAM and for device RAM in the ISA hole (VGA); throws for
 * pages not directly backed by memory.
 */
export function kmapPage(page: Page): Uint8Array {
  const m = currentKernel("kmapPage");
  const loc = m.physAccess.locatePage(page.pfn);
  if (loc < 0) throw new Error(`kmapPage(pfn 0x${page.pfn.toString(16)}): not backed by memory`);
  const off = locationOffset(loc);
  return m.mem.banks.u8[locationBank(loc)]!.subarray(off, off + PAGE_SIZE);
}
export const pageBytes = kmapPage;
/** kunmap(): nothing to undo here; kept so drivers read as in C. */
export function kunmapPage(_page: Page): void {}

/** An ioremap()ed window: MMIO accessors (readb/readw/readl, writeb/writew/writel) at offsets. */
export interface IoMem {
  readonly phys: number;
  readonly size: number;
  readb(offset: number): number;
  readw(offset: number): number;
  readl(offset: number): number;
  writeb(value: number, offset: number): void;
  writew(value: number, offset: number): void;
  writel(value: number, offset: number): void;
}

/**
 * ioremap(): device registers reached through the bus (access sizes as the device declares), their
 * pages reserved uncached-minus in the PAT memtype list until iounmap(). An address no machine has
 * (negative, fractional, beyond MAXPHYADDR) or a size that is not a positive integer gets null, with a
 * WARNING in dmesg saying why, as __ioremap_caller() answers NULL; so does a range already reserved
 * with a type UC- may not become (memtype_reserve refused, "ioremap memtype_reserve failed").
 */
export function ioremap(paddr: number, size: number): IoMem | null {
  return ioremapCaller("ioremap", paddr, size, _PAGE_CACHE_MODE_UC_MINUS);
}

/**
 * __ioremap_caller(): the window of ioremap(), ioremap_wc(), ioremap_uc() (pat.ts), with the memory
 * type `pcm` reserved for it.
 */
export function ioremapCaller(what: string, paddr: number, size: number, pcm: PageCacheMode): IoMem | null {
  const m = currentKernel(what);
  let why = badPhysReason(paddr);
  if (why === null && !(Number.isInteger(size) && size > 0))
    why = `size ${String(size)} is not a positive integer`;
  if (why === null && paddr + size > PFN_LIMIT * PAGE_SIZE)
    why = `0x${paddr.toString(16)} + 0x${size.toString(16)} ends beyond MAXPHYADDR (52 bits)`;
  if (why !== null) {
    warn(m, "__ioremap_caller (arch/x86/mm/ioremap.c)", `${what}: invalid physical address: ${why}`);
    return null;
  }
  const reserved = ioremapReserve(m, paddr, size, pcm);
  if (reserved.type < 0) return null;
  const as = m.phys.as;
  const check = (off: number, n: number) => {
    if (off < 0 || off + n > size)
      throw new RangeError(`ioremap window 0x${paddr.toString(16)}: offset ${off} out of range`);
    return paddr + off;
  };
  const win: IoMem = {
    phys: paddr,
    size,
    readb: (o) => as.physRead(check(o, 1), 1) as number,
    readw: (o) => as.physRead(check(o, 2), 2) as number,
    readl: (o) => as.physRead(check(o, 4), 4) as number,
    writeb: (v, o) => void as.physWrite(check(o, 1), 1, v),
    writew: (v, o) => void as.physWrite(check(o, 2), 2, v),
    writel: (v, o) => void as.physWrite(check(o, 4), 4, v),
  };
  ioremapTrack(win, reserved.range);
  return win;
}

/** iounmap(): frees the window's memtype reservation (a second iounmap of one window is a WARNING). */
export function iounmap(io: IoMem): void {
  iounmapRelease(currentKernelOrNull("iounmap"), io);
}
