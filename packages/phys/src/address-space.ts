/**
 * Physical address spaces in the spirit of QEMU's memory API (docs/devel/memory.rst): a tree of
 * MemoryRegions (RAM, ROM, device RAM, MMIO, containers, aliases) rendered into a FlatView — a sorted,
 * non-overlapping list of ranges — that every access dispatches through.
 *
 * Rules taken from memory.rst:
 * - `addSubregion` is for regions that must not overlap their siblings; `addSubregionOverlap` takes a
 *   signed priority. Among overlapping siblings the highest priority wins; an equal priority goes to the
 *   one added last (memory_region_update_container_subregions inserts before equal priorities). Holes
 *   in a winning container or alias fall through to lower-priority siblings ("Visibility").
 * - An alias is a window onto another region at an offset; it may target a container or another alias.
 * - MMIO callbacks see offsets relative to their region, never absolute addresses (also Firecracker's
 *   BusDevice rule). Accesses outside the declared `valid` sizes/alignment are refused and logged
 *   (QEMU's memory_region_access_valid), never silently widened or split.
 *
 * Where we are stricter than QEMU: overlapping `addSubregion` is refused (QEMU only warned), and so is
 * an unaligned or empty region, with a BusError naming both regions and their addresses. A refused
 * registration leaves the tree and every FlatView as they were.
 *
 * Hot paths, for the MMU built on top:
 * - `physRead32(addr)` etc. first try the most recently used bank-backed FlatRange (QEMU's
 *   `mru_section`, commit 729633c2): a bounds check and one typed-array load. Otherwise the FlatView is
 *   binary-searched.
 * - `translatePage(pfn, out?)` says, for one page frame, whether the whole page is directly backed by a
 *   memory bank (`kind: "bank"`, with `bank`, byte `offset` of the page in the bank and `writable`), is
 *   inside one MMIO region (`"mmio"`, with the region and the page's offset in it), is `"unassigned"`,
 *   or is split between several ranges (`"mixed"`: sub-page regions). Only "bank" pages may be accessed
 *   directly through `MemoryBanks` views; everything else must go through physRead/physWrite (or
 *   the region's dispatch), one access at a time. It fills a caller-provided (or internal scratch)
 *   object, so it does not allocate.
 * - `pageEntry(pfn)` is the same answer packed in one number (no object at all), cached per page:
 *   `-1` unless the page is directly bank-backed, else `bank * 2^33 + (writable ? 2^32 : 0) + offset`;
 *   decode with `pageEntryBank/Offset/Writable`.
 * - `generation` increases and `onChange` listeners run whenever the FlatView changes (a BAR moved,
 *   decode toggled, a region added): a TLB that cached `pageEntry` results must drop them then.
 */
import type { MemoryBanks } from "./banks";
import { PAGE_SIZE } from "./constants";
import { PhysError } from "./errors";

export type AccessSize = 1 | 2 | 4 | 8;

/** Transaction results (include/exec/memattrs.h). Results of split accesses are OR-ed. */
export const MEMTX_OK = 0;
/** The device reported an error. */
export const MEMTX_ERROR = 1;
/** Nothing decodes the address (unassigned). */
export const MEMTX_DECODE_ERROR = 2;
/** Something decodes it but refused the access: an undeclared size or alignment, or a ROM write. */
export const MEMTX_ACCESS_ERROR = 4;
export type MemTxResult = number;

/** Highest physical address + 1 we decode (x86-64's architectural MAXPHYADDR is 52). */
export const PHYS_ADDR_LIMIT = 2 ** 52;

/** Non-bank regions (MMIO, containers, aliases) start and end on this boundary, so no naturally
 * aligned access of 1–8 bytes can straddle two of them. */
export const REGION_ALIGN = 8;

/** Access sizes a device accepts (QEMU MemoryRegionOps.valid). Defaults as in QEMU: 1..4, aligned. */
export interface AccessRules {
  readonly minAccessSize?: AccessSize;
  readonly maxAccessSize?: AccessSize;
  /** Accepts accesses that are not naturally aligned. */
  readonly unaligned?: boolean;
}

/**
 * Callbacks of an MMIO region. `offset` is relative to the region. Values are unsigned numbers for
 * sizes 1–4 and bigints for size 8.
 */
export interface MemoryRegionOps {
  read(offset: number, size: AccessSize): number | bigint;
  write(offset: number, size: AccessSize, value: number | bigint): void;
  readonly valid?: AccessRules;
}

export type RegionKind = "ram" | "rom" | "ram-device" | "mmio" | "container" | "alias";

/** What went wrong in a refused registration, also as data. */
export interface BusErrorDetails {
  readonly region: string;
  readonly addr?: number;
  readonly size?: number;
  readonly other?: string;
  readonly otherAddr?: number;
  readonly otherSize?: number;
}

export type BusErrorCode =
  /** Overlaps a sibling and neither was added with a priority. */
  | "EOVERLAP"
  /** Zero size, unaligned, or outside the parent. */
  | "EINVAL"
  /** Already mapped elsewhere, or a loop of aliases. */
  | "EBUSY"
  /** No room left in a window (BAR assignment). */
  | "ENOSPC"
  /** Nothing there (no such PCI function, region not a child). */
  | "ENODEV";

/** A refused bus operation (a small typed set, as Firecracker's BusError). Still a PhysError. */
export class BusError extends PhysError {
  constructor(
    override readonly code: BusErrorCode,
    message: string,
    readonly details: BusErrorDetails,
  ) {
    super(code, message);
    this.name = "BusError";
  }
}

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
const span = (addr: number, size: number) => `[${hex(addr)}, ${hex(addr + size)})`;

// ---- guest error log ------------------------------------------------------------------------------

export type GuestErrorKind =
  | "unassigned-read"
  | "unassigned-write"
  | "rom-write"
  | "invalid-access"
  | "config-access";

/** One logged guest mistake (QEMU LOG_GUEST_ERROR / LOG_UNIMP): never thrown, always recorded. */
export interface GuestError {
  readonly kind: GuestErrorKind;
  readonly addr: number;
  readonly size: number;
  readonly isWrite: boolean;
  /** Region or port range involved, null for unassigned addresses. */
  readonly region: string | null;
  readonly message: string;
}

/** A bounded log: the newest `capacity` entries are kept, older ones only counted. */
export class GuestLog {
  private readonly entries: GuestError[] = [];
  /** Entries that were pushed out of the log. */
  dropped = 0;
  constructor(
    readonly capacity = 256,
    private readonly sink?: (e: GuestError) => void,
  ) {}
  record(e: GuestError): void {
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      this.dropped++;
    }
    this.entries.push(e);
    this.sink?.(e);
  }
  list(): readonly GuestError[] {
    return [...this.entries];
  }
  get length(): number {
    return this.entries.length;
  }
  clear(): void {
    this.entries.length = 0;
    this.dropped = 0;
  }
}

// ---- regions --------------------------------------------------------------------------------------

// Numeric kinds, in KIND_NAMES order (rom = 1, mmio = 3 are only compared through isBankBacked/ops).
const KIND_RAM = 0;
const KIND_RAM_DEVICE = 2;
const KIND_CONTAINER = 4;
const KIND_ALIAS = 5;
const KIND_NAMES: readonly RegionKind[] = ["ram", "rom", "ram-device", "mmio", "container", "alias"];

const isAccessSize = (n: unknown): n is AccessSize => n === 1 || n === 2 || n === 4 || n === 8;

function checkSize(name: string, size: number, align: number): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % align !== 0 || size > PHYS_ADDR_LIMIT) {
    throw new BusError(
      "EINVAL",
      `region "${name}": size ${hex(size)} must be a positive multiple of ${hex(align)}`,
      { region: name, size },
    );
  }
}

/**
 * A node of the memory tree (QEMU MemoryRegion). Create with the static constructors; place with
 * `addSubregion`/`addSubregionOverlap` on a container.
 */
export class MemoryRegion {
  /** Subregions in decode order: descending priority, newest first among equals. */
  readonly subregions: MemoryRegion[] = [];
  parent: MemoryRegion | null = null;
  /** Offset in the parent container. */
  addr = 0;
  priority = 0;
  mayOverlap = false;
  enabled = true;
  /** @internal numeric kind for dispatch */
  readonly k: number;
  /** @internal aliases that target this region */
  readonly aliasedBy = new Set<MemoryRegion>();
  /** @internal address spaces rooted here */
  readonly spaces = new Set<AddressSpace>();
  readonly validMin: AccessSize;
  readonly validMax: AccessSize;
  readonly validUnaligned: boolean;

  private constructor(
    readonly name: string,
    kind: RegionKind,
    readonly size: number,
    /** Bank id for RAM, ROM and device RAM; -1 otherwise. */
    readonly bank: number,
    /** Byte offset of the region's first byte in its bank. */
    readonly bankOffset: number,
    readonly ops: MemoryRegionOps | null,
    readonly aliasTarget: MemoryRegion | null,
    readonly aliasOffset: number,
  ) {
    this.k = KIND_NAMES.indexOf(kind);
    const v = ops?.valid ?? {};
    this.validMin = v.minAccessSize ?? 1;
    this.validMax = v.maxAccessSize ?? 4;
    this.validUnaligned = v.unaligned ?? false;
  }

  get kind(): RegionKind {
    return KIND_NAMES[this.k]!;
  }

  /** Whether loads and stores reach a memory bank directly. */
  get isBankBacked(): boolean {
    return this.k <= KIND_RAM_DEVICE;
  }

  /** RAM in a bank of `banks` (memory_region_init_ram_ptr): `size` bytes from `bankOffset`. */
  static ram(name: string, banks: MemoryBanks, bank: number, bankOffset: number, size: number): MemoryRegion {
    return MemoryRegion.banked(name, "ram", banks, bank, bankOffset, size);
  }

  /** ROM (memory_region_init_rom): reads like RAM, writes are logged and dropped. */
  static rom(name: string, banks: MemoryBanks, bank: number, bankOffset: number, size: number): MemoryRegion {
    return MemoryRegion.banked(name, "rom", banks, bank, bankOffset, size);
  }

  /**
   * Device RAM (memory_region_init_ram_device_ptr): a SharedArrayBuffer a device owns, registered as
   * a bank so worker threads reach it too. Pass a buffer, or a size to have one allocated.
   */
  static ramDevice(name: string, banks: MemoryBanks, buffer: SharedArrayBuffer | number): MemoryRegion {
    const size = typeof buffer === "number" ? buffer : buffer.byteLength;
    checkSize(name, size, PAGE_SIZE);
    const bank = typeof buffer === "number" ? banks.allocate(size, name) : banks.register(buffer, name);
    return new MemoryRegion(name, "ram-device", size, bank, 0, null, null, 0);
  }

  private static banked(
    name: string,
    kind: RegionKind,
    banks: MemoryBanks,
    bank: number,
    bankOffset: number,
    size: number,
  ): MemoryRegion {
    checkSize(name, size, PAGE_SIZE);
    const buf = banks.buffers[bank];
    if (!buf) {
      throw new BusError("ENODEV", `region "${name}": no memory bank ${bank}`, { region: name });
    }
    if (!Number.isSafeInteger(bankOffset) || bankOffset < 0 || bankOffset % PAGE_SIZE !== 0) {
      throw new BusError("EINVAL", `region "${name}": bank offset ${hex(bankOffset)} is not page aligned`, {
        region: name,
      });
    }
    if (bankOffset + size > buf.byteLength) {
      throw new BusError(
        "EINVAL",
        `region "${name}": ${span(bankOffset, size)} exceeds bank ${banks.names[bank]} (${hex(buf.byteLength)} bytes)`,
        { region: name, size },
      );
    }
    return new MemoryRegion(name, kind, size, bank, bankOffset, null, null, 0);
  }

  /** MMIO (memory_region_init_io). `ops.valid` declares the access sizes the device accepts. */
  static mmio(name: string, size: number, ops: MemoryRegionOps): MemoryRegion {
    checkSize(name, size, REGION_ALIGN);
    const v = ops.valid ?? {};
    const min = v.minAccessSize ?? 1;
    const max = v.maxAccessSize ?? 4;
    if (!isAccessSize(min) || !isAccessSize(max) || min > max) {
      throw new BusError(
        "EINVAL",
        `region "${name}": access sizes ${String(min)}..${String(max)} are not 1/2/4/8 with min <= max`,
        { region: name },
      );
    }
    return new MemoryRegion(name, "mmio", size, -1, 0, ops, null, 0);
  }

  /** A pure container (memory_region_init): only its subregions decode. */
  static container(name: string, size: number): MemoryRegion {
    checkSize(name, size, REGION_ALIGN);
    return new MemoryRegion(name, "container", size, -1, 0, null, null, 0);
  }

  /** A window of `size` bytes onto `target` starting at `offset` in it (memory_region_init_alias). */
  static alias(name: string, target: MemoryRegion, offset: number, size: number): MemoryRegion {
    checkSize(name, size, REGION_ALIGN);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % REGION_ALIGN !== 0) {
      throw new BusError("EINVAL", `alias "${name}": offset ${hex(offset)} is not a multiple of 8`, {
        region: name,
      });
    }
    if (offset + size > target.size) {
      throw new BusError(
        "EINVAL",
        `alias "${name}": ${span(offset, size)} exceeds "${target.name}" (${hex(target.size)} bytes)`,
        { region: name, other: target.name },
      );
    }
    const mr = new MemoryRegion(name, "alias", size, -1, 0, null, target, offset);
    target.aliasedBy.add(mr);
    return mr;
  }

  /** Adds a subregion that must not overlap any sibling (memory_region_add_subregion). */
  addSubregion(offset: number, sub: MemoryRegion): void {
    this.insert(offset, sub, 0, false);
  }

  /** Adds a subregion that may overlap siblings; the highest priority wins (…_add_subregion_overlap). */
  addSubregionOverlap(offset: number, sub: MemoryRegion, priority: number): void {
    if (!Number.isSafeInteger(priority)) {
      throw new BusError("EINVAL", `region "${sub.name}": priority ${priority} is not an integer`, {
        region: sub.name,
      });
    }
    this.insert(offset, sub, priority, true);
  }

  /** Removes a subregion (memory_region_del_subregion). */
  delSubregion(sub: MemoryRegion): void {
    if (sub.parent !== this) {
      throw new BusError("ENODEV", `region "${sub.name}" is not a subregion of "${this.name}"`, {
        region: sub.name,
        other: this.name,
      });
    }
    this.unlink(sub);
    this.changed();
  }

  /** Disabled regions decode as if removed and do not obscure lower ones (memory_region_set_enabled). */
  setEnabled(enabled: boolean): void {
    if (this.enabled === enabled) return;
    this.enabled = enabled;
    this.changed();
  }

  /** Moves the region within its parent (memory_region_set_address), with the same checks as adding. */
  setAddress(addr: number): void {
    const parent = this.parent;
    if (!parent || addr === this.addr) {
      this.addr = addr;
      return;
    }
    const { priority, mayOverlap } = this;
    const old = this.addr;
    parent.unlink(this);
    try {
      parent.insert(addr, this, priority, mayOverlap);
    } catch (e) {
      parent.insert(old, this, priority, mayOverlap);
      throw e;
    }
  }

  /** Absolute address in the root of its tree (assuming no alias in between). */
  get absoluteAddress(): number {
    let a = this.addr;
    for (let p = this.parent; p; p = p.parent) a += p.addr;
    return a;
  }

  toString(): string {
    return `${this.kind} "${this.name}"`;
  }

  private insert(offset: number, sub: MemoryRegion, priority: number, mayOverlap: boolean): void {
    const where = `adding ${sub} at ${hex(offset)} in "${this.name}"`;
    if (this.k !== KIND_CONTAINER) {
      throw new BusError("EINVAL", `${where}: "${this.name}" is not a container`, { region: sub.name });
    }
    if (sub.parent) {
      throw new BusError("EBUSY", `${where}: it is already mapped in "${sub.parent.name}"`, {
        region: sub.name,
        other: sub.parent.name,
      });
    }
    if (sub === this || this.hasAncestor(sub)) {
      throw new BusError("EBUSY", `${where}: a region cannot contain itself`, { region: sub.name });
    }
    const align = sub.isBankBacked ? PAGE_SIZE : REGION_ALIGN;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % align !== 0) {
      throw new BusError(
        "EINVAL",
        `${where}: offset ${hex(offset)} is not a multiple of ${hex(align)} (${sub.kind} regions are mapped on ${align === PAGE_SIZE ? "page" : "8-byte"} boundaries)`,
        { region: sub.name, addr: offset, size: sub.size },
      );
    }
    if (offset + sub.size > this.size) {
      throw new BusError(
        "EINVAL",
        `${where}: ${span(offset, sub.size)} exceeds the container's ${hex(this.size)} bytes`,
        { region: sub.name, addr: offset, size: sub.size, other: this.name },
      );
    }
    for (const other of this.subregions) {
      if (mayOverlap || other.mayOverlap) continue;
      if (offset < other.addr + other.size && other.addr < offset + sub.size) {
        throw new BusError(
          "EOVERLAP",
          `${where}: ${sub} ${span(offset, sub.size)} overlaps ${other} ${span(other.addr, other.size)} in "${this.name}"; use addSubregionOverlap with a priority`,
          {
            region: sub.name,
            addr: offset,
            size: sub.size,
            other: other.name,
            otherAddr: other.addr,
            otherSize: other.size,
          },
        );
      }
    }
    sub.parent = this;
    sub.addr = offset;
    sub.priority = priority;
    sub.mayOverlap = mayOverlap;
    let i = 0;
    while (i < this.subregions.length && this.subregions[i]!.priority > priority) i++;
    this.subregions.splice(i, 0, sub);
    try {
      this.changed();
    } catch (e) {
      // The new topology could not be rendered (e.g. an alias loop): put everything back.
      this.unlink(sub);
      this.changed();
      throw e;
    }
  }

  private unlink(sub: MemoryRegion): void {
    const i = this.subregions.indexOf(sub);
    if (i >= 0) this.subregions.splice(i, 1);
    sub.parent = null;
  }

  private hasAncestor(r: MemoryRegion): boolean {
    for (let p = this.parent; p; p = p.parent) if (p === r) return true;
    return false;
  }

  /** Re-renders every address space that can see this region (directly or through aliases). */
  private changed(seen = new Set<MemoryRegion>()): void {
    for (let r: MemoryRegion | null = this; r; r = r.parent) {
      if (seen.has(r)) return;
      seen.add(r);
      for (const a of r.aliasedBy) a.changed(seen);
      for (const as of r.spaces) as.rebuild();
    }
  }
}

// ---- FlatView -------------------------------------------------------------------------------------

/** One piece of the rendered address space: [start, end) decoded by one leaf region. */
export interface FlatRange {
  readonly start: number;
  readonly end: number;
  readonly region: MemoryRegion;
  /** Offset of `start` within `region`. */
  readonly offset: number;
  /** Bank and byte offset of `start` for bank-backed ranges (else -1). */
  readonly bank: number;
  readonly bankOffset: number;
  readonly writable: boolean;
}

/** Plain-data description of a FlatRange (for workers, tests, `info mtree`-like dumps). */
export interface FlatRangeDescriptor {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly kind: RegionKind;
  readonly bank: number;
  readonly bankOffset: number;
  readonly writable: boolean;
}

const MAX_DEPTH = 64;

/** render_memory_region(): renders `mr` placed at `base`, clipped to [clipStart, clipEnd). */
function render(
  mr: MemoryRegion,
  base: number,
  clipStart: number,
  clipEnd: number,
  out: FlatRange[],
  depth: number,
): void {
  if (!mr.enabled) return;
  const s = Math.max(base, clipStart);
  const e = Math.min(base + mr.size, clipEnd);
  if (s >= e) return;
  if (depth > MAX_DEPTH) {
    throw new BusError(
      "EBUSY",
      `region "${mr.name}": aliases and containers nest deeper than ${MAX_DEPTH} (a loop?)`,
      {
        region: mr.name,
      },
    );
  }
  if (mr.k === KIND_ALIAS) {
    render(mr.aliasTarget!, base - mr.aliasOffset, s, e, out, depth + 1);
  } else if (mr.k === KIND_CONTAINER) {
    for (const sub of mr.subregions) render(sub, base + sub.addr, s, e, out, depth + 1);
  } else {
    fillHoles(out, mr, base, s, e);
  }
}

/** Inserts the parts of [s, e) that higher-priority regions left uncovered; `out` stays sorted. */
function fillHoles(out: FlatRange[], mr: MemoryRegion, base: number, s: number, e: number): void {
  let i = 0;
  while (i < out.length && out[i]!.end <= s) i++;
  let pos = s;
  while (pos < e) {
    const next = out[i];
    if (next && next.start <= pos) {
      pos = Math.max(pos, next.end);
      i++;
      continue;
    }
    const holeEnd = Math.min(e, next ? next.start : e);
    out.splice(i, 0, makeRange(mr, pos, holeEnd, pos - base));
    i++;
    pos = holeEnd;
  }
}

function makeRange(mr: MemoryRegion, start: number, end: number, offset: number): FlatRange {
  const banked = mr.isBankBacked;
  return {
    start,
    end,
    region: mr,
    offset,
    bank: banked ? mr.bank : -1,
    bankOffset: banked ? mr.bankOffset + offset : -1,
    writable: mr.k === KIND_RAM || mr.k === KIND_RAM_DEVICE,
  };
}

/** flatview_simplify(): merges neighbours that continue the same region. */
function simplify(ranges: FlatRange[]): FlatRange[] {
  const out: FlatRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (
      last &&
      last.region === r.region &&
      last.end === r.start &&
      last.offset + (r.start - last.start) === r.offset
    ) {
      out[out.length - 1] = makeRange(r.region, last.start, r.end, last.offset);
    } else out.push(r);
  }
  return out;
}

// ---- AddressSpace ---------------------------------------------------------------------------------

/** Result of `translatePage`. */
export type PageKind = "bank" | "mmio" | "unassigned" | "mixed";

export interface PageTranslation {
  kind: PageKind;
  /** "bank": bank id and byte offset of the page's first byte in it; -1 otherwise. */
  bank: number;
  offset: number;
  writable: boolean;
  /** "mmio": the region and the page's offset in it; null otherwise. */
  region: MemoryRegion | null;
  regionOffset: number;
}

const PAGE_CACHE_BITS = 12;
const PAGE_CACHE_SIZE = 1 << PAGE_CACHE_BITS;
const TWO32 = 2 ** 32;
const TWO33 = 2 ** 33;
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_U8 = new Uint8Array(0);

/** Bank id of a packed `pageEntry` result. */
export const pageEntryBank = (e: number): number => Math.floor(e / TWO33);
/** Byte offset of the page in its bank. */
export const pageEntryOffset = (e: number): number => e % TWO32;
export const pageEntryWritable = (e: number): boolean => Math.floor(e / TWO32) % 2 === 1;

export interface AddressSpaceOptions {
  /** Shared guest-error log (a machine passes one log to all its buses). */
  readonly log?: GuestLog;
}

const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;
const ALL_ONES_64 = 0xffffffffffffffffn;

/** The low `size` bytes of v as an unsigned number. */
export const maskValue = (v: number, size: 1 | 2 | 4): number => (size === 4 ? v >>> 0 : v & ALL_ONES[size]!);

/**
 * An address space over a root region (address_space_init): renders its FlatView on every topology
 * change and dispatches loads and stores, little-endian.
 */
export class AddressSpace {
  readonly log: GuestLog;
  /** Increases on every FlatView change. */
  generation = 0;
  private ranges: FlatRange[] = [];
  private starts = new Float64Array(0);
  private readonly listeners = new Set<(as: AddressSpace) => void>();
  // MRU bank-backed range for reads (RAM and ROM) and for writes (RAM and device RAM): its start,
  // its size minus 1 (last valid byte offset), and the bank offset of its start. An empty MRU has
  // rdLast = -1 so every offset fails the check.
  private rdBase = 0;
  private rdLast = -1;
  private rdBankOff = 0;
  private rdU32: Uint32Array = EMPTY_U32;
  private rdU8: Uint8Array = EMPTY_U8;
  private wrBase = 0;
  private wrLast = -1;
  private wrBankOff = 0;
  private wrU32: Uint32Array = EMPTY_U32;
  private wrU8: Uint8Array = EMPTY_U8;
  private readonly pageTag = new Float64Array(PAGE_CACHE_SIZE).fill(-1);
  private readonly pageVal = new Float64Array(PAGE_CACHE_SIZE);
  private readonly scratch: PageTranslation = {
    kind: "unassigned",
    bank: -1,
    offset: -1,
    writable: false,
    region: null,
    regionOffset: 0,
  };

  constructor(
    readonly name: string,
    readonly root: MemoryRegion,
    readonly banks: MemoryBanks,
    options: AddressSpaceOptions = {},
  ) {
    this.log = options.log ?? new GuestLog();
    root.spaces.add(this);
    this.rebuild();
  }

  /** The current FlatView (sorted, non-overlapping). */
  get flatView(): readonly FlatRange[] {
    return this.ranges;
  }

  describeFlatView(): FlatRangeDescriptor[] {
    return this.ranges.map((r) => ({
      start: r.start,
      end: r.end,
      name: r.region.name,
      kind: r.region.kind,
      bank: r.bank,
      bankOffset: r.bankOffset,
      writable: r.writable,
    }));
  }

  /** Registers a FlatView-change listener (a MemoryListener, e.g. an MMU's TLB); returns unsubscribe. */
  onChange(listener: (as: AddressSpace) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops rendering (address_space_destroy). */
  destroy(): void {
    this.root.spaces.delete(this);
  }

  /** @internal Renders the tree again; throws (leaving the old view) if it cannot be rendered. */
  rebuild(): void {
    const out: FlatRange[] = [];
    render(this.root, 0, 0, Math.min(this.root.size, PHYS_ADDR_LIMIT), out, 0);
    const ranges = simplify(out);
    this.ranges = ranges;
    this.starts = Float64Array.from(ranges, (r) => r.start);
    this.rdLast = this.wrLast = -1;
    this.rdU32 = this.wrU32 = EMPTY_U32;
    this.rdU8 = this.wrU8 = EMPTY_U8;
    this.pageTag.fill(-1);
    this.generation++;
    for (const l of this.listeners) l(this);
  }

  /** Index of the FlatRange containing addr, or -1. */
  findIndex(addr: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0) return -1;
    return addr < this.ranges[hi]!.end ? hi : -1;
  }

  /** The FlatRange containing addr (memory_region_find), or null. */
  find(addr: number): FlatRange | null {
    const i = this.findIndex(addr);
    return i < 0 ? null : this.ranges[i]!;
  }

  // ---- pages ------------------------------------------------------------------------------------

  /** See the file header. Fills `out` (default: an internal scratch object, valid until the next call). */
  translatePage(pfn: number, out: PageTranslation = this.scratch): PageTranslation {
    const start = pfn * PAGE_SIZE;
    const end = start + PAGE_SIZE;
    out.bank = -1;
    out.offset = -1;
    out.writable = false;
    out.region = null;
    out.regionOffset = 0;
    const i = this.findIndex(start);
    const r = i < 0 ? null : this.ranges[i]!;
    if (r && r.end >= end) {
      if (r.bank >= 0) {
        out.kind = "bank";
        out.bank = r.bank;
        out.offset = r.bankOffset + (start - r.start);
        out.writable = r.writable;
      } else {
        out.kind = "mmio";
        out.region = r.region;
        out.regionOffset = r.offset + (start - r.start);
      }
      return out;
    }
    // Not one range: is anything at all inside the page?
    const next = this.ranges[r ? i + 1 : this.insertionPoint(start)];
    out.kind = r || (next && next.start < end) ? "mixed" : "unassigned";
    return out;
  }

  /** translatePage packed in one number (see header); cached per page, allocation-free. */
  pageEntry(pfn: number): number {
    const slot = pfn & (PAGE_CACHE_SIZE - 1);
    if (this.pageTag[slot] === pfn) return this.pageVal[slot]!;
    const t = this.translatePage(pfn);
    const v = t.kind === "bank" ? t.bank * TWO33 + (t.writable ? TWO32 : 0) + t.offset : -1;
    this.pageTag[slot] = pfn;
    this.pageVal[slot] = v;
    return v;
  }

  private insertionPoint(addr: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- loads and stores -------------------------------------------------------------------------

  physRead8(addr: number): number {
    const off = addr - this.rdBase;
    if (off >= 0 && off <= this.rdLast) return this.rdU8[off + this.rdBankOff]!;
    return this.slowRead(addr, 1) as number;
  }

  physRead16(addr: number): number {
    return this.slowRead(addr, 2) as number;
  }

  /** The hot path: one bounds check against the MRU range and one aligned typed-array load. */
  physRead32(addr: number): number {
    // Offsets, not addresses, so the compares stay small integers; bank offsets are < 2^30.
    const off = addr - this.rdBase;
    if (off >= 0 && off <= this.rdLast - 3 && (off & 3) === 0)
      return this.rdU32[(off + this.rdBankOff) >>> 2]!;
    return this.slowRead(addr, 4) as number;
  }

  physRead64(addr: number): bigint {
    return this.slowRead(addr, 8) as bigint;
  }

  /** A 64-bit load as two u32 halves written into out[0] (low) and out[1] (high): no bigint. */
  physRead64Split(addr: number, out: Uint32Array | number[]): void {
    const off = addr - this.rdBase;
    if (off >= 0 && off <= this.rdLast - 7 && (off & 7) === 0) {
      const i = (off + this.rdBankOff) >>> 2;
      out[0] = this.rdU32[i]!;
      out[1] = this.rdU32[i + 1]!;
      return;
    }
    const v = this.slowRead(addr, 8) as bigint;
    out[0] = Number(v & 0xffffffffn);
    out[1] = Number(v >> 32n);
  }

  /** physRead of size 1, 2, 4 (number) or 8 (bigint). */
  physRead(addr: number, size: AccessSize): number | bigint {
    return this.slowRead(addr, size);
  }

  physWrite8(addr: number, value: number): MemTxResult {
    const off = addr - this.wrBase;
    if (off >= 0 && off <= this.wrLast) {
      this.wrU8[off + this.wrBankOff] = value;
      return MEMTX_OK;
    }
    return this.slowWrite(addr, 1, value & 0xff);
  }

  physWrite16(addr: number, value: number): MemTxResult {
    return this.slowWrite(addr, 2, value & 0xffff);
  }

  physWrite32(addr: number, value: number): MemTxResult {
    const off = addr - this.wrBase;
    if (off >= 0 && off <= this.wrLast - 3 && (off & 3) === 0) {
      this.wrU32[(off + this.wrBankOff) >>> 2] = value;
      return MEMTX_OK;
    }
    return this.slowWrite(addr, 4, value >>> 0);
  }

  physWrite64(addr: number, value: bigint): MemTxResult {
    return this.slowWrite(addr, 8, BigInt.asUintN(64, value));
  }

  physWrite(addr: number, size: AccessSize, value: number | bigint): MemTxResult {
    if (size === 8) return this.slowWrite(addr, 8, BigInt.asUintN(64, BigInt(value)));
    return this.slowWrite(addr, size, maskValue(Number(value), size));
  }

  /**
   * A load of `size` bytes with its transaction result; the value goes to `out.value`. Use when the
   * caller must know whether the access decoded (the plain physRead* only log).
   */
  physReadTx(addr: number, size: AccessSize, out: { value: number | bigint }): MemTxResult {
    const before = this.log.length + this.log.dropped;
    out.value = this.slowRead(addr, size);
    if (this.log.length + this.log.dropped === before) return MEMTX_OK;
    const last = this.log.list().at(-1)!;
    return last.kind === "unassigned-read" ? MEMTX_DECODE_ERROR : MEMTX_ACCESS_ERROR;
  }

  private slowRead(addr: number, size: AccessSize): number | bigint {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr + size > PHYS_ADDR_LIMIT) {
      return this.unassignedRead(addr, size);
    }
    const i = this.findIndex(addr);
    const r = i < 0 ? null : this.ranges[i]!;
    if (r && addr + size <= r.end) {
      if (r.bank >= 0) {
        this.rememberRead(r);
        const dv = this.banks.dv[r.bank]!;
        const o = r.bankOffset + (addr - r.start);
        switch (size) {
          case 1:
            return dv.getUint8(o);
          case 2:
            return dv.getUint16(o, true);
          case 4:
            return dv.getUint32(o, true);
          default:
            return dv.getBigUint64(o, true);
        }
      }
      return this.mmioRead(r, addr, size);
    }
    if (!r && this.nextStartAfter(addr) >= addr + size) {
      return this.unassignedRead(addr, size);
    }
    // The access straddles a boundary: compose it byte by byte, as a bus cycle split by the CPU would
    // be for RAM; MMIO never sees a split access (we refuse instead).
    if (this.touchesMmio(addr, size)) {
      this.log.record({
        kind: "invalid-access",
        addr,
        size,
        isWrite: false,
        region: r?.region.name ?? null,
        message: `read of ${size} bytes at ${hex(addr)} straddles an MMIO region boundary: refused`,
      });
      return size === 8 ? ALL_ONES_64 : ALL_ONES[size]!;
    }
    const bytes = this.readBytes(addr, size);
    let v = 0n;
    for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(bytes[b]!);
    return size === 8 ? v : Number(v);
  }

  private nextStartAfter(addr: number): number {
    const j = this.insertionPoint(addr);
    return j < this.ranges.length ? this.ranges[j]!.start : Number.POSITIVE_INFINITY;
  }

  private touchesMmio(addr: number, size: number): boolean {
    for (let a = addr; a < addr + size; a++) {
      const r = this.find(a);
      if (r && r.bank < 0) return true;
    }
    return false;
  }

  private rememberRead(r: FlatRange): void {
    this.rdBase = r.start;
    this.rdLast = r.end - r.start - 1;
    this.rdBankOff = r.bankOffset;
    this.rdU32 = this.banks.u32[r.bank]!;
    this.rdU8 = this.banks.u8[r.bank]!;
  }

  private rememberWrite(r: FlatRange): void {
    this.wrBase = r.start;
    this.wrLast = r.end - r.start - 1;
    this.wrBankOff = r.bankOffset;
    this.wrU32 = this.banks.u32[r.bank]!;
    this.wrU8 = this.banks.u8[r.bank]!;
  }

  private unassignedRead(addr: number, size: AccessSize): number | bigint {
    // On a PC nothing drives the bus: the read floats to all-ones (master abort).
    this.log.record({
      kind: "unassigned-read",
      addr,
      size,
      isWrite: false,
      region: null,
      message: `read of ${size} bytes at unassigned address ${hex(addr)} returns all-ones`,
    });
    return size === 8 ? ALL_ONES_64 : ALL_ONES[size]!;
  }

  /** Why an access to an MMIO range is refused, or null (memory_region_access_valid). */
  private invalidReason(r: FlatRange, off: number, size: AccessSize): string | null {
    const mr = r.region;
    if (size < mr.validMin || size > mr.validMax) {
      return `size ${size} outside the declared ${mr.validMin}..${mr.validMax}`;
    }
    if (!mr.validUnaligned && off % size !== 0) return `offset ${hex(off)} not aligned to ${size}`;
    return null;
  }

  /**
   * The offset of an MMIO access in its region, or -1 when the region did not declare that size or
   * alignment: the access is then logged as refused (a guest error, never silently widened).
   */
  private mmioOffset(
    r: FlatRange,
    addr: number,
    size: AccessSize,
    write: { value: number | bigint } | null,
  ): number {
    const off = r.offset + (addr - r.start);
    const why = this.invalidReason(r, off, size);
    if (!why) return off;
    const what = write ? `write of ${hex(write.value)} (${size} bytes)` : `read of ${size} bytes`;
    this.log.record({
      kind: "invalid-access",
      addr,
      size,
      isWrite: write !== null,
      region: r.region.name,
      message: `${what} at ${hex(addr)} (${r.region} + ${hex(off)}): ${why}; refused${write ? "" : ", returns all-ones"}`,
    });
    return -1;
  }

  private mmioRead(r: FlatRange, addr: number, size: AccessSize): number | bigint {
    const off = this.mmioOffset(r, addr, size, null);
    if (off < 0) return size === 8 ? ALL_ONES_64 : ALL_ONES[size]!;
    const v = r.region.ops!.read(off, size);
    if (size === 8) return BigInt.asUintN(64, BigInt(v));
    return maskValue(Number(v), size);
  }

  private slowWrite(addr: number, size: AccessSize, value: number | bigint): MemTxResult {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr + size > PHYS_ADDR_LIMIT) {
      return this.unassignedWrite(addr, size, value);
    }
    const i = this.findIndex(addr);
    const r = i < 0 ? null : this.ranges[i]!;
    if (r && addr + size <= r.end) {
      if (r.bank >= 0) {
        if (!r.writable) {
          this.log.record({
            kind: "rom-write",
            addr,
            size,
            isWrite: true,
            region: r.region.name,
            message: `write of ${hex(value)} (${size} bytes) to ROM ${r.region.name} at ${hex(addr)} dropped`,
          });
          return MEMTX_ACCESS_ERROR;
        }
        this.rememberWrite(r);
        const dv = this.banks.dv[r.bank]!;
        const o = r.bankOffset + (addr - r.start);
        switch (size) {
          case 1:
            dv.setUint8(o, value as number);
            break;
          case 2:
            dv.setUint16(o, value as number, true);
            break;
          case 4:
            dv.setUint32(o, value as number, true);
            break;
          default:
            dv.setBigUint64(o, value as bigint, true);
        }
        return MEMTX_OK;
      }
      const off = this.mmioOffset(r, addr, size, { value });
      if (off < 0) return MEMTX_ACCESS_ERROR;
      r.region.ops!.write(off, size, value);
      return MEMTX_OK;
    }
    if (!r && this.nextStartAfter(addr) >= addr + size) {
      return this.unassignedWrite(addr, size, value);
    }
    if (this.touchesMmio(addr, size)) {
      this.log.record({
        kind: "invalid-access",
        addr,
        size,
        isWrite: true,
        region: r?.region.name ?? null,
        message: `write of ${size} bytes at ${hex(addr)} straddles an MMIO region boundary: refused`,
      });
      return MEMTX_ACCESS_ERROR;
    }
    const bytes = new Uint8Array(size);
    let v = BigInt(value);
    for (let b = 0; b < size; b++, v >>= 8n) bytes[b] = Number(v & 0xffn);
    return this.writeBytes(addr, bytes);
  }

  private unassignedWrite(addr: number, size: number, value: number | bigint): MemTxResult {
    this.log.record({
      kind: "unassigned-write",
      addr,
      size,
      isWrite: true,
      region: null,
      message: `write of ${hex(value)} (${size} bytes) to unassigned address ${hex(addr)} dropped`,
    });
    return MEMTX_DECODE_ERROR;
  }

  // ---- bulk -------------------------------------------------------------------------------------

  /** Reads `length` bytes from `addr` across region boundaries (address_space_read). */
  readBytes(addr: number, length: number): Uint8Array {
    const dst = new Uint8Array(length);
    this.readBytesInto(addr, dst);
    return dst;
  }

  /** Reads dst.length bytes into dst; unassigned bytes read 0xff. */
  readBytesInto(addr: number, dst: Uint8Array): MemTxResult {
    return this.bulk(addr, dst, false);
  }

  /** Writes src at addr across region boundaries (address_space_write); ROM and holes drop bytes. */
  writeBytes(addr: number, src: Uint8Array): MemTxResult {
    return this.bulk(addr, src, true);
  }

  private bulk(addr: number, buf: Uint8Array, isWrite: boolean): MemTxResult {
    const end = addr + buf.length;
    if (!Number.isSafeInteger(addr) || addr < 0 || end > PHYS_ADDR_LIMIT) {
      if (!isWrite) buf.fill(0xff);
      this.log.record({
        kind: isWrite ? "unassigned-write" : "unassigned-read",
        addr,
        size: buf.length,
        isWrite,
        region: null,
        message: `${isWrite ? "write" : "read"} of ${buf.length} bytes at ${hex(addr)}: outside the physical address space`,
      });
      return MEMTX_DECODE_ERROR;
    }
    let result = MEMTX_OK;
    let pos = addr;
    while (pos < end) {
      const i = this.findIndex(pos);
      if (i < 0) {
        const stop = Math.min(end, this.nextStartAfter(pos));
        if (!isWrite) buf.fill(0xff, pos - addr, stop - addr);
        this.log.record({
          kind: isWrite ? "unassigned-write" : "unassigned-read",
          addr: pos,
          size: stop - pos,
          isWrite,
          region: null,
          message: `${isWrite ? "write" : "read"} of ${stop - pos} bytes at unassigned address ${hex(pos)} ${isWrite ? "dropped" : "returns all-ones"}`,
        });
        result |= MEMTX_DECODE_ERROR;
        pos = stop;
        continue;
      }
      const r = this.ranges[i]!;
      const stop = Math.min(end, r.end);
      const bo = pos - addr;
      const n = stop - pos;
      if (r.bank >= 0) {
        const u8 = this.banks.u8[r.bank]!;
        const o = r.bankOffset + (pos - r.start);
        if (!isWrite) buf.set(u8.subarray(o, o + n), bo);
        else if (r.writable) u8.set(buf.subarray(bo, bo + n), o);
        else {
          this.log.record({
            kind: "rom-write",
            addr: pos,
            size: n,
            isWrite,
            region: r.region.name,
            message: `write of ${n} bytes to ROM ${r.region.name} at ${hex(pos)} dropped`,
          });
          result |= MEMTX_ACCESS_ERROR;
        }
      } else {
        result |= this.bulkMmio(r, pos, buf.subarray(bo, bo + n), isWrite);
      }
      pos = stop;
    }
    return result;
  }

  /** Splits a bulk transfer into the largest accesses the device accepts (memory_access_size). */
  private bulkMmio(r: FlatRange, addr: number, buf: Uint8Array, isWrite: boolean): MemTxResult {
    let pos = 0;
    while (pos < buf.length) {
      const off = r.offset + (addr + pos - r.start);
      const left = buf.length - pos;
      let size: AccessSize = r.region.validMax;
      while (size > r.region.validMin && (size > left || (!r.region.validUnaligned && off % size !== 0))) {
        size = (size >> 1) as AccessSize;
      }
      if (size > left || (!r.region.validUnaligned && off % size !== 0)) {
        this.log.record({
          kind: "invalid-access",
          addr: addr + pos,
          size: left,
          isWrite,
          region: r.region.name,
          message: `bulk ${isWrite ? "write" : "read"} of ${left} bytes at ${hex(addr + pos)} (${r.region} + ${hex(off)}) cannot be done with its ${r.region.validMin}..${r.region.validMax}-byte accesses: refused`,
        });
        if (!isWrite) buf.fill(0xff, pos);
        return MEMTX_ACCESS_ERROR;
      }
      if (isWrite) {
        let v = 0n;
        for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(buf[pos + b]!);
        r.region.ops!.write(off, size, size === 8 ? v : Number(v));
      } else {
        let v = BigInt(r.region.ops!.read(off, size));
        for (let b = 0; b < size; b++, v >>= 8n) buf[pos + b] = Number(v & 0xffn);
      }
      pos += size;
    }
    return MEMTX_OK;
  }

  /**
   * Consistency of the FlatView: sorted, non-empty, non-overlapping, bank-backed ranges inside their
   * banks, MMIO ranges inside their regions. Throws a PhysError naming the first bad range.
   */
  checkInvariants(): void {
    let prevEnd = 0;
    for (const r of this.ranges) {
      const at = `${this.name}: flat range ${span(r.start, r.end - r.start)} (${r.region})`;
      if (r.start >= r.end) throw new PhysError("EINVARIANT", `${at}: empty`);
      if (r.start < prevEnd) throw new PhysError("EINVARIANT", `${at}: overlaps the previous range`);
      if (r.offset < 0 || r.offset + (r.end - r.start) > r.region.size) {
        throw new PhysError("EINVARIANT", `${at}: offset ${hex(r.offset)} outside the region`);
      }
      if (r.bank >= 0) {
        const buf = this.banks.buffers[r.bank];
        if (!buf || r.bankOffset < 0 || r.bankOffset + (r.end - r.start) > buf.byteLength) {
          throw new PhysError("EINVARIANT", `${at}: outside bank ${r.bank}`);
        }
      }
      prevEnd = r.end;
    }
  }
}
