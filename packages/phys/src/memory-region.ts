/**
 * The region tree of QEMU's memory API (docs/devel/memory.rst; system/memory.c, include/exec/memory.h):
 * MemoryRegions of RAM, ROM, device RAM, MMIO (with the access sizes the device declares), containers
 * with prioritised subregions, and aliases.
 *
 * Rules taken from memory.rst:
 * - `addSubregion` is for regions that must not overlap their siblings; `addSubregionOverlap` takes a
 *   signed priority. Among overlapping siblings the highest priority wins; an equal priority goes to the
 *   one added last (memory_region_update_container_subregions inserts before equal priorities). Holes
 *   in a winning container or alias fall through to lower-priority siblings ("Visibility").
 * - An alias is a window onto another region at an offset; it may target a container or another alias.
 * - MMIO callbacks see offsets relative to their region, never absolute addresses (also Firecracker's
 *   BusDevice rule). Accesses outside the declared `valid` sizes/alignment are refused
 *   (`accessInvalidReason`, QEMU's memory_region_access_valid), never silently widened or split.
 *
 * Where we are stricter than QEMU: overlapping `addSubregion` is refused (QEMU only warned), and so is
 * an unaligned or empty region, with a BusError naming both regions and their addresses. A refused
 * registration leaves the tree and every FlatView as they were: a change re-renders every address
 * space that sees the region at once (QEMU's memory_region_transaction_commit), and a topology that
 * cannot be rendered is rolled back.
 *
 * A little over our ~500 lines on purpose: the region class, its tree operations and the rollback of a
 * refused registration change together (QEMU keeps them in one memory.c).
 */
import type { MemoryBanks } from "./banks";
import { PAGE_SIZE } from "./constants";
import { PHYS_ADDR_LIMIT } from "./encoding";
import { hex, span } from "./errors";
import {
  type AccessSize,
  allOnes,
  BusError,
  BYTE_MASK,
  FLOATING_BYTE,
  type GuestLog,
  isAccessSize,
  MEMTX_ACCESS_ERROR,
  MEMTX_OK,
  type MemTxResult,
  type MemTxValue,
  maskValue,
} from "./memtx";
import { adjustOps, type DeviceEndianness, type ImplRules, needsAdjusting } from "./mmio-access";

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

/** QEMU's defaults for an MMIO region that declares nothing (memory_region_access_valid). */
const DEFAULT_MIN_ACCESS_SIZE = 1;
const DEFAULT_MAX_ACCESS_SIZE = 4;

/**
 * Callbacks of an MMIO region. `offset` is relative to the region. Values are unsigned numbers for
 * sizes 1–4 and bigints for size 8.
 */
export interface MemoryRegionOps {
  read(offset: number, size: AccessSize): number | bigint;
  write(offset: number, size: AccessSize, value: number | bigint): void;
  readonly valid?: AccessRules;
  /** Sizes the callbacks implement; the core splits or widens accepted accesses (mmio-access.ts). */
  readonly impl?: ImplRules;
  /** Byte order of the device's registers (default little, as this machine). */
  readonly endianness?: DeviceEndianness;
}

/** What a memory region is: RAM, ROM, device RAM, MMIO, a container or an alias. */
export type RegionKind = "ram" | "rom" | "ram-device" | "mmio" | "container" | "alias";

/**
 * What a region tells when the topology under it changed: an AddressSpace, which renders its FlatView
 * again (address_space_update_topology). An interface, so the tree does not depend on its readers.
 */
export interface TopologyListener {
  /** Renders again; throws, leaving the old view, if the new topology cannot be rendered. */
  rebuild(): void;
}

// Numeric kinds, in KIND_NAMES order, for the renderer's compares (rom = 1, mmio = 3 are only told
// apart through isBankBacked and ops).
export const KIND_RAM = 0;
export const KIND_RAM_DEVICE = 2;
export const KIND_CONTAINER = 4;
export const KIND_ALIAS = 5;
const KIND_NAMES: readonly RegionKind[] = ["ram", "rom", "ram-device", "mmio", "container", "alias"];

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
  readonly spaces = new Set<TopologyListener>();
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
    this.validMin = v.minAccessSize ?? DEFAULT_MIN_ACCESS_SIZE;
    this.validMax = v.maxAccessSize ?? DEFAULT_MAX_ACCESS_SIZE;
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
    const min = v.minAccessSize ?? DEFAULT_MIN_ACCESS_SIZE;
    const max = v.maxAccessSize ?? DEFAULT_MAX_ACCESS_SIZE;
    if (!isAccessSize(min) || !isAccessSize(max) || min > max) {
      throw new BusError(
        "EINVAL",
        `region "${name}": access sizes ${String(min)}..${String(max)} are not 1/2/4/8 with min <= max`,
        { region: name },
      );
    }
    const { impl, endianness } = ops;
    if (impl) {
      const imin = impl.minAccessSize ?? min;
      const imax = impl.maxAccessSize ?? max;
      if (!isAccessSize(imin) || !isAccessSize(imax) || imin > imax) {
        throw new BusError(
          "EINVAL",
          `region "${name}": impl access sizes ${String(imin)}..${String(imax)} are not 1/2/4/8 with min <= max`,
          { region: name },
        );
      }
    }
    const adjusted = needsAdjusting(min, max, impl, endianness)
      ? { ...adjustOps(ops, min, max, impl, endianness), valid: ops.valid ?? {} }
      : ops;
    return new MemoryRegion(name, "mmio", size, -1, 0, adjusted, null, 0);
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
      throw new BusError(
        "EINVAL",
        `alias "${name}": offset ${hex(offset)} is not a multiple of ${REGION_ALIGN}`,
        {
          region: name,
        },
      );
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

  /**
   * memory_region_access_valid(): why an MMIO access of `size` bytes at `offset` in this region is
   * refused (a size outside the declared range, or misaligned), or null when the device accepts it.
   */
  private accessInvalidReason(offset: number, size: AccessSize): string | null {
    if (size < this.validMin || size > this.validMax) {
      return `size ${size} outside the declared ${this.validMin}..${this.validMax}`;
    }
    if (!this.validUnaligned && offset % size !== 0) return `offset ${hex(offset)} not aligned to ${size}`;
    return null;
  }

  /**
   * @internal (AddressSpace's) memory_region_dispatch_read() on an MMIO region: a load of `size` bytes at `offset`, its value in
   * `out.value`. An access the device did not declare (accessInvalidReason) never reaches it: it is
   * logged under the access's physical address `addr`, reads all-ones and ends in MEMTX_ACCESS_ERROR.
   */
  dispatchRead(offset: number, size: AccessSize, out: MemTxValue, log: GuestLog, addr: number): MemTxResult {
    if (this.refuse(offset, size, null, log, addr)) {
      out.value = allOnes(size);
      return MEMTX_ACCESS_ERROR;
    }
    const v = this.ops!.read(offset, size);
    out.value = size === 8 ? BigInt.asUintN(64, BigInt(v)) : maskValue(Number(v), size);
    return MEMTX_OK;
  }

  /** @internal memory_region_dispatch_write() on an MMIO region, refusing as dispatchRead does. */
  dispatchWrite(
    offset: number,
    size: AccessSize,
    value: number | bigint,
    log: GuestLog,
    addr: number,
  ): MemTxResult {
    if (this.refuse(offset, size, { value }, log, addr)) return MEMTX_ACCESS_ERROR;
    this.ops!.write(offset, size, value);
    return MEMTX_OK;
  }

  /** Logs and says true when the device did not declare this access (a guest error, never widened). */
  private refuse(
    offset: number,
    size: AccessSize,
    write: { value: number | bigint } | null,
    log: GuestLog,
    addr: number,
  ): boolean {
    const why = this.accessInvalidReason(offset, size);
    if (!why) return false;
    const what = write ? `write of ${hex(write.value)} (${size} bytes)` : `read of ${size} bytes`;
    log.record({
      kind: "invalid-access",
      addr,
      size,
      isWrite: write !== null,
      region: this.name,
      message: `${what} at ${hex(addr)} (${this} + ${hex(offset)}): ${why}; refused${write ? "" : ", returns all-ones"}`,
    });
    return true;
  }

  /**
   * @internal An MMIO part of a bulk transfer (flatview_read/write_continue): split into the largest accesses
   * the device accepts (accessSizeAt). Where none fits, the rest is refused and logged (a read of it
   * floats to 0xff).
   */
  dispatchBulk(offset: number, buf: Uint8Array, isWrite: boolean, log: GuestLog, addr: number): MemTxResult {
    let pos = 0;
    while (pos < buf.length) {
      const off = offset + pos;
      const left = buf.length - pos;
      const size = this.accessSizeAt(off, left);
      if (size === 0) {
        log.record({
          kind: "invalid-access",
          addr: addr + pos,
          size: left,
          isWrite,
          region: this.name,
          message: `bulk ${isWrite ? "write" : "read"} of ${left} bytes at ${hex(addr + pos)} (${this} + ${hex(off)}) cannot be done with its ${this.validMin}..${this.validMax}-byte accesses: refused`,
        });
        if (!isWrite) buf.fill(FLOATING_BYTE, pos);
        return MEMTX_ACCESS_ERROR;
      }
      if (isWrite) {
        let v = 0n;
        for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(buf[pos + b]!);
        this.ops!.write(off, size, size === 8 ? v : Number(v));
      } else {
        let v = BigInt(this.ops!.read(off, size));
        for (let b = 0; b < size; b++, v >>= 8n) buf[pos + b] = Number(v & BYTE_MASK);
      }
      pos += size;
    }
    return MEMTX_OK;
  }

  /**
   * memory_access_size(): the largest access of at most `left` bytes at `offset` the device accepts,
   * or 0 when none does (a bulk transfer is split into these).
   */
  private accessSizeAt(offset: number, left: number): AccessSize | 0 {
    let size: AccessSize = this.validMax;
    while (size > this.validMin && (size > left || (!this.validUnaligned && offset % size !== 0))) {
      size = (size >> 1) as AccessSize;
    }
    return size > left || (!this.validUnaligned && offset % size !== 0) ? 0 : size;
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
