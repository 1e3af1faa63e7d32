/**
 * A PCI bus 0000:00 with type-0 configuration headers, BAR sizing, decode enables and PC-firmware
 * BAR assignment.
 *
 * Sources: PCI Local Bus Specification 3.0 §6.1 (header type 0), §6.2.5 (BARs: "software writes all
 * 1's to the register, then reads it back … the size is the two's complement of the value with the
 * encoding bits masked"; memory BARs at least 16 bytes, I/O BARs at most 256), §6.2.2 (command
 * register bit 0 I/O space, bit 1 memory space); register names from include/uapi/linux/pci_regs.h.
 * Mapping follows QEMU hw/pci/pci.c (pci_bar_address, pci_update_mappings: BAR regions are added to
 * the PCI address space with priority 1; a 32-bit BAR whose last byte is at or above 4 GiB - 1 is
 * treated as unmapped) and hw/i386/pc.c (the PCI address space sits under system memory at priority -1,
 * so RAM wins). Assignment follows SeaBIOS src/fw/pciinit.c: largest BAR first, naturally aligned,
 * 32-bit memory from the start of the PCI hole, 64-bit memory above RAM, I/O from 0xc000.
 */
import { FOUR_GIB, PCI_HOLE_START } from "./constants";
import { fromHalves, high32, low32, PHYS_ADDR_LIMIT } from "./encoding";
import { hex } from "./errors";
import { IO_SPACE_SIZE, type IoPortOps, type IoPortRange, type IoPortSpace } from "./isa";
import { MemoryRegion } from "./memory-region";
import { BusError, type GuestLog } from "./memtx";

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_CONFIG_SPACE_SIZE = 256;
export const PCI_NUM_BARS = 6;
export const PCI_SLOT_MAX = 32;
export const PCI_FUNC_MAX = 8;

/** Where the 32-bit window ends: the IOAPIC at 0xfec00000 and what follows are not PCI space. */
export const PCI_WINDOW32_END = 0xfec00000;
/** Size of the 64-bit window opened above RAM (OVMF's default aperture is 32 GiB). */
export const PCI_WINDOW64_SIZE = 2 ** 35;
/** SeaBIOS starts I/O BAR assignment at 0xc000. */
export const PCI_IO_START = 0xc000;

/** A BAR of a device model: memory (decoded by `region`) or I/O ports (decoded by `ops`). */
export type PciBarSpec =
  | {
      readonly type: "memory";
      /** Power of two, at least 16 bytes; equal to region.size. */
      readonly size: number;
      /** A 64-bit BAR takes this BAR and the next one. */
      readonly is64?: boolean;
      readonly prefetchable?: boolean;
      readonly region: MemoryRegion;
    }
  | {
      readonly type: "io";
      /** Power of two, 4..256 ports. */
      readonly size: number;
      readonly ops: IoPortOps;
    };

/** A PCI function as a device model describes it. */
export interface PciFunctionSpec {
  /** Model name (QEMU's type name), e.g. "edu". */
  readonly name: string;
  readonly vendorId: number;
  readonly deviceId: number;
  /** Base class, subclass and programming interface: 0xBBSSPP (e.g. 0x058000 = memory controller). */
  readonly classCode: number;
  readonly revision?: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  readonly interruptPin?: number;
  /** BARs by index 0..5 (a 64-bit BAR leaves the next index empty). */
  readonly bars?: ReadonlyArray<PciBarSpec | null | undefined>;
  /** Fixed slot (device number); default the first free one. */
  readonly slot?: number;
  readonly function?: number;
  /** Told whenever a BAR appears at an address (or disappears: null). */
  readonly onBarMapped?: (bar: number, addr: number | null) => void;
}

interface BarState {
  readonly index: number;
  readonly spec: PciBarSpec;
  readonly size: number;
  readonly io: boolean;
  readonly is64: boolean;
  readonly prefetchable: boolean;
  /** Address currently decoded (memory in the PCI address space, or ports), null when not. */
  mapped: number | null;
  ioRange: IoPortRange | null;
  /** Names that claimed the BAR (pci_request_region), shown nested in /proc/iomem. */
  readonly claims: string[];
}

const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
const h = (n: number, w: number) => n.toString(16).padStart(w, "0");

/** One function of a PCI device: its 256-byte configuration space and its BARs. */
export class PciFunction {
  readonly config = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Per-byte write masks (QEMU's wmask): bits software may change. */
  private readonly wmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  private readonly barStates: Array<BarState | null> = [];

  /** @internal use PciBus.attach */
  constructor(
    readonly bus: PciBus,
    readonly slot: number,
    readonly fn: number,
    readonly spec: PciFunctionSpec,
  ) {
    const where = `PCI ${pciName(0, slot, fn)} "${spec.name}"`;
    const bars = spec.bars ?? [];
    if (bars.length > PCI_NUM_BARS) {
      throw new BusError("EINVAL", `${where}: ${bars.length} BARs, a type-0 header has ${PCI_NUM_BARS}`, {
        region: spec.name,
      });
    }
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const b = bars[i];
      if (!b) {
        this.barStates.push(null);
        continue;
      }
      const at = `${where} BAR ${i}`;
      const fail = (why: string): never => {
        throw new BusError("EINVAL", `${at}: ${why}`, { region: spec.name, size: b.size });
      };
      if (!isPow2(b.size)) fail(`size ${hex(b.size)} is not a power of two`);
      if (b.type === "memory") {
        if (b.size < 16) fail(`size ${hex(b.size)} is below the 16 bytes of the smallest memory BAR`);
        if (!b.is64 && b.size > 2 ** 31) fail(`size ${hex(b.size)} does not fit a 32-bit BAR`);
        if (b.is64 && i === PCI_NUM_BARS - 1) fail("a 64-bit BAR needs the next BAR for its upper half");
        if (b.is64 && bars[i + 1]) fail(`a 64-bit BAR needs BAR ${i + 1} free for its upper half`);
        if (b.region.size !== b.size) {
          fail(`region "${b.region.name}" has ${hex(b.region.size)} bytes, the BAR ${hex(b.size)}`);
        }
        if (b.region.parent) fail(`region "${b.region.name}" is already mapped in "${b.region.parent.name}"`);
      } else if (b.size < 4 || b.size > 256) {
        fail(`I/O BAR size ${hex(b.size)} is outside 4..256 ports`);
      }
      const state: BarState = {
        index: i,
        spec: b,
        size: b.size,
        io: b.type === "io",
        is64: b.type === "memory" && !!b.is64,
        prefetchable: b.type === "memory" && !!b.prefetchable,
        mapped: null,
        ioRange: null,
        claims: [],
      };
      this.barStates.push(state);
      if (state.is64) {
        this.barStates.push(null);
        i++;
      }
    }
    this.initConfig();
  }

  private initConfig(): void {
    const s = this.spec;
    const c = this.config;
    this.set16(PCI_VENDOR_ID, s.vendorId);
    this.set16(PCI_DEVICE_ID, s.deviceId);
    c[PCI_REVISION_ID] = s.revision ?? 0;
    c[PCI_CLASS_PROG] = s.classCode & 0xff;
    this.set16(PCI_CLASS_DEVICE, (s.classCode >> 8) & 0xffff);
    c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, s.subsystemVendorId ?? 0);
    this.set16(PCI_SUBSYSTEM_ID, s.subsystemId ?? 0);
    c[PCI_INTERRUPT_PIN] = s.interruptPin ?? 0;
    // Writable: command (I/O, memory, bus master, parity, SERR, INTx disable), cache line, latency,
    // interrupt line (pci_init_wmask in QEMU hw/pci/pci.c).
    this.setMask(PCI_COMMAND, 2, 0x0547);
    this.setMask(PCI_CACHE_LINE_SIZE, 1, 0xff);
    this.setMask(PCI_LATENCY_TIMER, 1, 0xff);
    this.setMask(PCI_INTERRUPT_LINE, 1, 0xff);
    for (const b of this.barStates) {
      if (!b) continue;
      const reg = PCI_BASE_ADDRESS_0 + 4 * b.index;
      if (b.io) {
        this.set32(reg, PCI_BASE_ADDRESS_SPACE_IO);
        this.setMask(reg, 4, ~(b.size - 1) & 0xfffffffc);
      } else {
        this.set32(
          reg,
          (b.is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0),
        );
        // Address bits below the size are hard-wired to zero: that is what makes sizing work.
        const lo = b.size >= FOUR_GIB ? 0 : ~(b.size - 1) & 0xfffffff0;
        this.setMask(reg, 4, lo);
        if (b.is64) this.setMask(reg + 4, 4, b.size > FOUR_GIB ? ~(high32(b.size) - 1) : 0xffffffff);
      }
    }
  }

  private set16(off: number, v: number): void {
    this.config[off] = v & 0xff;
    this.config[off + 1] = (v >>> 8) & 0xff;
  }
  private set32(off: number, v: number): void {
    for (let i = 0; i < 4; i++) this.config[off + i] = (v >>> (8 * i)) & 0xff;
  }
  private setMask(off: number, n: number, mask: number): void {
    for (let i = 0; i < n; i++) this.wmask[off + i] = (mask >>> (8 * i)) & 0xff;
  }
  private get32(off: number): number {
    const c = this.config;
    return (c[off]! | (c[off + 1]! << 8) | (c[off + 2]! << 16) | (c[off + 3]! << 24)) >>> 0;
  }

  /** "0000:00:02.0" (pci_name()). */
  get name(): string {
    return pciName(0, this.slot, this.fn);
  }

  /** The command register. */
  get command(): number {
    return this.config[PCI_COMMAND]! | (this.config[PCI_COMMAND + 1]! << 8);
  }

  /** The BAR specs with their current state (null for empty BARs and upper halves). */
  bar(index: number): Readonly<BarState> | null {
    return this.barStates[index] ?? null;
  }

  /** Address the BAR register holds (type bits cleared), 0 when unassigned. */
  barValue(index: number): number {
    const b = this.barStates[index];
    if (!b) return 0;
    const reg = PCI_BASE_ADDRESS_0 + 4 * index;
    if (b.io) return (this.get32(reg) & 0xfffffffc) >>> 0;
    const lo = (this.get32(reg) & 0xfffffff0) >>> 0;
    return b.is64 ? fromHalves(lo, this.get32(reg + 4)) : lo;
  }

  /** Address the BAR is decoded at right now, or null (decode off, or no valid address). */
  barAddress(index: number): number | null {
    return this.barStates[index]?.mapped ?? null;
  }

  /** pci_request_region(): names a claim on a memory BAR, shown under it in /proc/iomem. */
  requestRegion(index: number, name: string): void {
    const b = this.barStates[index];
    if (!b) throw new BusError("ENODEV", `${this.name}: no BAR ${index}`, { region: this.spec.name });
    b.claims.push(name);
  }

  releaseRegion(index: number, name: string): void {
    const claims = this.barStates[index]?.claims;
    const i = claims ? claims.indexOf(name) : -1;
    if (!claims || i < 0) {
      throw new BusError("ENODEV", `${this.name}: BAR ${index} is not claimed by "${name}"`, {
        region: this.spec.name,
      });
    }
    claims.splice(i, 1);
  }

  /** A configuration read of 1, 2 or 4 naturally aligned bytes; bad ones read all-ones (logged). */
  configRead(offset: number, size: 1 | 2 | 4): number {
    if (!this.configAccessOk(offset, size, false, 0)) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[offset + i]!;
    return v;
  }

  /** A configuration write; only bits in the write mask change (read-only fields keep their value). */
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    if (!this.configAccessOk(offset, size, true, value)) return;
    for (let i = 0; i < size; i++) {
      const m = this.wmask[offset + i]!;
      const byte = (value >>> (8 * i)) & 0xff;
      this.config[offset + i] = (this.config[offset + i]! & ~m) | (byte & m);
    }
    const end = offset + size;
    const touches = (s: number, e: number) => offset < e && s < end;
    if (touches(PCI_COMMAND, PCI_COMMAND + 2) || touches(PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_0 + 24)) {
      this.updateMappings();
    }
  }

  private configAccessOk(offset: number, size: number, isWrite: boolean, value: number): boolean {
    if (
      Number.isInteger(offset) &&
      offset >= 0 &&
      offset + size <= PCI_CONFIG_SPACE_SIZE &&
      (size === 1 || size === 2 || size === 4) &&
      offset % size === 0
    ) {
      return true;
    }
    this.bus.log.record({
      kind: "config-access",
      addr: offset,
      size,
      isWrite,
      region: this.name,
      message: `${this.name}: config ${isWrite ? `write of ${hex(value)}` : "read"} of ${size} bytes at ${hex(offset)} is not a naturally aligned 1/2/4-byte access inside 256 bytes: refused`,
    });
    return false;
  }

  /** pci_update_mappings(): makes each BAR decode where its register and the command say. */
  updateMappings(): void {
    const cmd = this.command;
    for (const b of this.barStates) {
      if (!b) continue;
      let want: number | null = null;
      const addr = this.barValue(b.index);
      if (b.io) {
        if (cmd & PCI_COMMAND_IO && addr !== 0 && addr + b.size <= IO_SPACE_SIZE) want = addr;
      } else if (cmd & PCI_COMMAND_MEMORY && addr !== 0) {
        const last = addr + b.size - 1;
        if (b.is64 ? last < PHYS_ADDR_LIMIT : last < 0xffffffff) want = addr;
      }
      if (want === b.mapped) continue;
      if (b.mapped !== null) {
        if (b.io) this.bus.io.unregister(b.ioRange!);
        else this.bus.memory.delSubregion((b.spec as { region: MemoryRegion }).region);
        b.mapped = null;
        b.ioRange = null;
      }
      if (want !== null) {
        if (b.spec.type === "io") {
          b.ioRange = this.bus.io.register(this.name, want, b.size, b.spec.ops, 1);
        } else {
          this.bus.memory.addSubregionOverlap(want, b.spec.region, 1);
        }
        b.mapped = want;
      }
      this.spec.onBarMapped?.(b.index, want);
    }
  }

  /** @internal unmaps everything (detach) */
  unmapAll(): void {
    this.config[PCI_COMMAND] = this.config[PCI_COMMAND]! & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    this.updateMappings();
  }

  /** @internal */
  get bars(): ReadonlyArray<BarState | null> {
    return this.barStates;
  }
}

/** "DDDD:BB:SS.F" as the kernel prints a PCI function. */
export function pciName(bus: number, slot: number, fn: number, domain = 0): string {
  return `${h(domain, 4)}:${h(bus, 2)}:${h(slot, 2)}.${fn}`;
}

/** lspci's size suffixes (show_size() in pciutils lspci.c). */
function showSize(x: number): string {
  const suffix = ["", "K", "M", "G", "T"];
  let i = 0;
  while (i < suffix.length - 1 && x % 1024 === 0) {
    x /= 1024;
    i++;
  }
  return ` [size=${x}${suffix[i]}]`;
}

/** A half-open address window. */
export interface Window {
  readonly start: number;
  readonly end: number;
}

export interface PciBusOptions {
  /** End of the highest RAM range: the 64-bit window opens above it. */
  readonly topOfRam: number;
}

/** One memory-resource line for /proc/iomem, with its claims as children. */
export interface PciResource {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly children: readonly string[];
}

/**
 * PCI bus 0000:00. Its memory space is a container under system memory at priority -1 (RAM and the ISA
 * hole win over it); BARs appear in it at priority 1 while enabled. Host bridge at 00:00.0 (an
 * i440FX, 8086:1237) and a PIIX3 PCI-to-ISA bridge at 00:01.0 (8086:7000), as on QEMU's pc machine.
 */
export class PciBus {
  readonly memory: MemoryRegion;
  readonly window32: Window = { start: PCI_HOLE_START, end: PCI_WINDOW32_END };
  readonly window64: Window;
  readonly ioWindow: Window = { start: PCI_IO_START, end: IO_SPACE_SIZE };
  private readonly fns: PciFunction[] = [];
  private configAddress = 0;

  constructor(
    system: MemoryRegion,
    readonly io: IoPortSpace,
    readonly log: GuestLog,
    options: PciBusOptions,
  ) {
    this.memory = MemoryRegion.container("pci", Math.min(system.size, PHYS_ADDR_LIMIT));
    system.addSubregionOverlap(0, this.memory, -1);
    const start64 = Math.ceil(Math.max(options.topOfRam, FOUR_GIB) / 2 ** 30) * 2 ** 30;
    this.window64 = { start: start64, end: start64 + PCI_WINDOW64_SIZE };
    this.attach({
      name: "i440FX",
      vendorId: 0x8086,
      deviceId: 0x1237,
      classCode: 0x060000,
      revision: 0x02,
      subsystemVendorId: 0x1af4,
      subsystemId: 0x1100,
      slot: 0,
    });
    this.attach({
      name: "PIIX3",
      vendorId: 0x8086,
      deviceId: 0x7000,
      classCode: 0x060100,
      subsystemVendorId: 0x1af4,
      subsystemId: 0x1100,
      slot: 1,
    });
    // Configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc.
    io.register("PCI conf1", 0xcf8, 8, {
      read: (off, size) => {
        if (off === 0 && size === 4) return this.configAddress;
        if (off < 4) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
        return this.conf1Data(off - 4, size, null);
      },
      write: (off, size, value) => {
        if (off === 0 && size === 4) this.configAddress = value & 0x80fffffc;
        else if (off >= 4) this.conf1Data(off - 4, size, value);
      },
    });
  }

  private conf1Data(byte: number, size: 1 | 2 | 4, value: number | null): number {
    const a = this.configAddress;
    const ones = size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const fn = this.get((a >> 11) & 0x1f, (a >> 8) & 7);
    if (!(a & 0x80000000) || (a >> 16) & 0xff || !fn) return ones;
    const off = (a & 0xfc) + byte;
    if (value === null) return fn.configRead(off, size);
    fn.configWrite(off, size, value);
    return 0;
  }

  /** Functions in bus order. */
  get functions(): readonly PciFunction[] {
    return this.fns;
  }

  get(slot: number, fn = 0): PciFunction | undefined {
    return this.fns.find((f) => f.slot === slot && f.fn === fn);
  }

  /**
   * Plugs a function in (BARs unassigned and decode off, as after reset). Refuses a taken or invalid
   * slot and bad BARs, leaving the bus unchanged.
   */
  attach(spec: PciFunctionSpec): PciFunction {
    const fnNo = spec.function ?? 0;
    let slot = spec.slot;
    if (slot === undefined) {
      slot = 0;
      while (slot < PCI_SLOT_MAX && this.get(slot, fnNo)) slot++;
    }
    if (
      !Number.isInteger(slot) ||
      slot < 0 ||
      slot >= PCI_SLOT_MAX ||
      !Number.isInteger(fnNo) ||
      fnNo < 0 ||
      fnNo >= PCI_FUNC_MAX
    ) {
      throw new BusError(
        "EINVAL",
        `PCI "${spec.name}": slot ${slot}.${fnNo} is not a valid device/function`,
        {
          region: spec.name,
        },
      );
    }
    const taken = this.get(slot, fnNo);
    if (taken) {
      throw new BusError(
        "EBUSY",
        `PCI "${spec.name}": ${pciName(0, slot, fnNo)} is taken by "${taken.spec.name}"`,
        { region: spec.name, other: taken.spec.name },
      );
    }
    const f = new PciFunction(this, slot, fnNo, spec);
    this.fns.push(f);
    this.fns.sort((a, b) => a.slot - b.slot || a.fn - b.fn);
    this.updateMultiFunction(slot);
    return f;
  }

  /** Unplugs a function: its BARs stop decoding. */
  detach(f: PciFunction): void {
    const i = this.fns.indexOf(f);
    if (i < 0) throw new BusError("ENODEV", `PCI ${f.name} is not on this bus`, { region: f.spec.name });
    f.unmapAll();
    this.fns.splice(i, 1);
    this.updateMultiFunction(f.slot);
  }

  /** Function 0 says whether other functions exist (header type bit 7). */
  private updateMultiFunction(slot: number): void {
    const f0 = this.get(slot, 0);
    if (!f0) return;
    const multi = this.fns.some((f) => f.slot === slot && f.fn > 0);
    f0.config[PCI_HEADER_TYPE] = multi ? PCI_HEADER_TYPE_MULTI_FUNCTION : PCI_HEADER_TYPE_NORMAL;
  }

  /** Config read by bus address; an empty slot reads all-ones (master abort). */
  configRead(slot: number, fn: number, offset: number, size: 1 | 2 | 4): number {
    const f = this.get(slot, fn);
    if (!f) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return f.configRead(offset, size);
  }

  configWrite(slot: number, fn: number, offset: number, size: 1 | 2 | 4, value: number): void {
    this.get(slot, fn)?.configWrite(offset, size, value);
  }

  /**
   * Firmware BAR assignment for the given functions (default: all) whose BARs hold no address yet:
   * each BAR is sized by the spec's probe, then placed largest first at the lowest naturally aligned
   * free address of its window, and decode is enabled. If something does not fit, nothing is changed
   * and ENOSPC is thrown.
   */
  assignBars(fns: readonly PciFunction[] = this.fns): void {
    type Job = {
      f: PciFunction;
      index: number;
      size: number;
      window: Window;
      kind: "mem32" | "mem64" | "io";
    };
    const jobs: Job[] = [];
    for (const f of fns) {
      for (const b of f.bars) {
        if (!b || f.barValue(b.index) !== 0) continue;
        const size = this.probeBar(f, b.index);
        const kind = b.io ? "io" : b.is64 ? "mem64" : "mem32";
        jobs.push({ f, index: b.index, size, kind, window: this.windowFor(kind) });
      }
    }
    jobs.sort((a, b) => b.size - a.size || a.f.slot - b.f.slot || a.f.fn - b.f.fn || a.index - b.index);
    const used: Record<Job["kind"], Window[]> = { mem32: [], mem64: [], io: [] };
    for (const f of this.fns) {
      for (const b of f.bars) {
        const v = b ? f.barValue(b.index) : 0;
        if (b && v !== 0) used[b.io ? "io" : b.is64 ? "mem64" : "mem32"].push({ start: v, end: v + b.size });
      }
    }
    const plan: Array<[Job, number]> = [];
    for (const job of jobs) {
      const at = firstFit(used[job.kind], job.window, job.size);
      if (at === null) {
        throw new BusError(
          "ENOSPC",
          `PCI ${job.f.name} "${job.f.spec.name}" BAR ${job.index}: no ${hex(job.size)}-byte aligned room in the ${job.kind} window [${hex(job.window.start)}, ${hex(job.window.end)})`,
          { region: job.f.spec.name, size: job.size },
        );
      }
      used[job.kind].push({ start: at, end: at + job.size });
      plan.push([job, at]);
    }
    for (const [job, at] of plan) {
      const reg = PCI_BASE_ADDRESS_0 + 4 * job.index;
      const typeBits = job.f.configRead(reg, 4) & (job.kind === "io" ? 0x3 : 0xf);
      job.f.configWrite(reg, 4, (low32(at) | typeBits) >>> 0);
      if (job.kind === "mem64") job.f.configWrite(reg + 4, 4, high32(at));
    }
    for (const f of fns) {
      let cmd = f.command;
      for (const b of f.bars) if (b) cmd |= b.io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
      f.configWrite(PCI_COMMAND, 2, cmd);
    }
  }

  private windowFor(kind: "mem32" | "mem64" | "io"): Window {
    return kind === "io" ? this.ioWindow : kind === "mem64" ? this.window64 : this.window32;
  }

  /**
   * BAR sizing as firmware does it (PCI 3.0 §6.2.5.1): decode off, write all-ones, read back, restore;
   * size = two's complement of the read-back value with the type bits masked.
   */
  probeBar(f: PciFunction, index: number): number {
    const reg = PCI_BASE_ADDRESS_0 + 4 * index;
    const cmd = f.command;
    f.configWrite(PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    const old = f.configRead(reg, 4);
    f.configWrite(reg, 4, 0xffffffff);
    const lo = f.configRead(reg, 4);
    f.configWrite(reg, 4, old);
    let size: number;
    if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
      size = (~(lo & 0xfffffffc) >>> 0) + 1;
    } else if (lo & PCI_BASE_ADDRESS_MEM_TYPE_64) {
      const oldHi = f.configRead(reg + 4, 4);
      f.configWrite(reg + 4, 4, 0xffffffff);
      const hi = f.configRead(reg + 4, 4);
      f.configWrite(reg + 4, 4, oldHi);
      // Two's complement over 64 bits; bigint because the mask does not fit a double exactly.
      const mask = (BigInt(hi) << 32n) | BigInt((lo & 0xfffffff0) >>> 0);
      size = Number(2n ** 64n - mask);
    } else {
      size = (~(lo & 0xfffffff0) >>> 0) + 1;
    }
    f.configWrite(PCI_COMMAND, 2, cmd);
    return size;
  }

  /** `lspci -v`-like listing (without name database: numeric ids, as `lspci -v` prints unknown ones). */
  lspci(): string {
    const out: string[] = [];
    for (const f of this.fns) {
      const c = f.config;
      const cls = f.configRead(PCI_CLASS_DEVICE, 2);
      const rev = c[PCI_REVISION_ID]!;
      const prog = c[PCI_CLASS_PROG]!;
      let line = `${h(0, 2)}:${h(f.slot, 2)}.${f.fn} Class ${h(cls, 4)}: Vendor ${h(f.configRead(PCI_VENDOR_ID, 2), 4)} Device ${h(f.configRead(PCI_DEVICE_ID, 2), 4)}`;
      if (rev) line += ` (rev ${h(rev, 2)})`;
      if (prog) line += ` (prog-if ${h(prog, 2)})`;
      out.push(line);
      const sv = f.configRead(PCI_SUBSYSTEM_VENDOR_ID, 2);
      if (sv) out.push(`\tSubsystem: Vendor ${h(sv, 4)} Device ${h(f.configRead(PCI_SUBSYSTEM_ID, 2), 4)}`);
      const cmd = f.command;
      for (const b of f.bars) {
        if (!b) continue;
        const a = f.barValue(b.index);
        if (b.io) {
          let s = `\tI/O ports at ${a || cmd & PCI_COMMAND_IO ? h(a, 4) : "<unassigned>"}`;
          if (!(cmd & PCI_COMMAND_IO)) s += " [disabled]";
          out.push(s + showSize(b.size));
        } else {
          let s = `\tMemory at ${a ? h(a, 8) : "<unassigned>"} (${b.is64 ? "64-bit" : "32-bit"}, ${b.prefetchable ? "" : "non-"}prefetchable)`;
          if (!(cmd & PCI_COMMAND_MEMORY)) s += " [disabled]";
          out.push(s + showSize(b.size));
        }
      }
      out.push("");
    }
    return `${out.join("\n")}\n`.replace(/\n\n$/, "\n");
  }

  /** Assigned memory BARs as /proc/iomem resources (named by pci_name, claims nested). */
  memoryResources(): PciResource[] {
    const out: PciResource[] = [];
    for (const f of this.fns) {
      for (const b of f.bars) {
        if (!b || b.io) continue;
        const a = f.barValue(b.index);
        if (a !== 0) out.push({ start: a, end: a + b.size - 1, name: f.name, children: [...b.claims] });
      }
    }
    return out;
  }

  /** Consistency: a BAR decodes iff decode is on and its register holds a valid address. */
  checkInvariants(): void {
    for (const f of this.fns) {
      for (const b of f.bars) {
        if (!b) continue;
        const on = f.command & (b.io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
        const v = f.barValue(b.index);
        if (b.mapped !== null && (!on || b.mapped !== v)) {
          throw new BusError(
            "EBUSY",
            `invariant: ${f.name} BAR ${b.index} decodes at ${hex(b.mapped)} but register says ${hex(v)}, command ${hex(f.command)}`,
            { region: f.spec.name },
          );
        }
        if (!b.io && b.mapped !== null) {
          const r = (b.spec as { region: MemoryRegion }).region;
          if (r.parent !== this.memory || r.addr !== b.mapped) {
            throw new BusError(
              "EBUSY",
              `invariant: ${f.name} BAR ${b.index} region is not mapped at ${hex(b.mapped)}`,
              { region: f.spec.name },
            );
          }
        }
      }
    }
  }
}

/** Lowest naturally aligned address in `w` where `size` bytes miss every `used` window. */
function firstFit(used: readonly Window[], w: Window, size: number): number | null {
  const sorted = [...used].sort((a, b) => a.start - b.start);
  let at = Math.ceil(w.start / size) * size;
  for (;;) {
    if (at + size > w.end) return null;
    const clash = sorted.find((u) => at < u.end && u.start < at + size);
    if (!clash) return at;
    at = Math.ceil(clash.end / size) * size;
  }
}
