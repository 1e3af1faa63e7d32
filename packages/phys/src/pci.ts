/**
 * A PCI bus 0000:00 with type-0 configuration headers, BAR sizing, decode enables and PC-firmware
 * BAR assignment.
 *
 * Sources: PCI Local Bus Specification 3.0 §6.1 (header type 0), §6.2.5 (BARs: "software writes all
 * 1's to the register, then reads it back … the size is the two's complement of the value with the
 * encoding bits masked"; memory BARs at least 16 bytes, I/O BARs at most 256), §6.2.2 (command
 * register bit 0 I/O space, bit 1 memory space); register names from include/uapi/linux/pci_regs.h
 * (pci-regs.ts).
 * Mapping follows QEMU hw/pci/pci.c (pci_bar_address, pci_update_mappings: BAR regions are added to
 * the PCI address space with priority 1; a 32-bit BAR whose last byte is at or above 4 GiB - 1 is
 * treated as unmapped) and hw/i386/pc.c (the PCI address space sits under system memory at priority -1,
 * so RAM wins). Assignment follows SeaBIOS src/fw/pciinit.c (pci-firmware.ts); `lspci` is lspci.ts.
 *
 * Longer than our ~500 lines on purpose: PciFunction and PciBus refer to each other (a function's
 * `bus`, the bus's functions), and one file keeps that from being an import cycle; what does not need
 * both (register map, firmware, lspci) lives in the files named above.
 */
import { FOUR_GIB, PCI_HOLE_START } from "./constants";
import { fromHalves, high32, PHYS_ADDR_LIMIT } from "./encoding";
import { hex } from "./errors";
import { IO_SPACE_SIZE, type IoPortOps, type IoPortRange, type IoPortSpace } from "./isa";
import { type LspciKernelView, renderLspci } from "./lspci";
import { MemoryRegion } from "./memory-region";
import { allOnes, BusError, type GuestLog, MEMTX_DECODE_ERROR, MEMTX_OK, type MemTxResult } from "./memtx";
import {
  findCapability,
  PCI_CAP_ID_MSI,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_QSIZE,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  type PciCapabilitySpec,
  type PlacedCapability,
  placeCapabilities,
} from "./pci-caps";
import {
  assignBars,
  PCI_IO_START,
  PCI_WINDOW32_END,
  PCI_WINDOW64_SIZE,
  probeBar,
  type Window,
} from "./pci-firmware";
import {
  PCI_BAR_IO_MAX_SIZE,
  PCI_BAR_IO_MIN_SIZE,
  PCI_BAR_MEM_MIN_SIZE,
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CACHE_LINE_SIZE,
  PCI_CLASS_CODE_BRIDGE_HOST,
  PCI_CLASS_CODE_BRIDGE_ISA,
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_CONF1_ADDRESS_MASK,
  PCI_CONF1_ADDRESS_PORT,
  PCI_CONF1_PORTS,
  PCI_CONFIG_SPACE_SIZE,
  PCI_DEVICE_ID,
  PCI_DEVICE_ID_INTEL_82371SB_0,
  PCI_DEVICE_ID_INTEL_82441,
  PCI_FUNC_MAX,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MULTI_FUNCTION,
  PCI_HEADER_TYPE_NORMAL,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_NUM_BARS,
  PCI_REVISION_ID,
  PCI_SLOT_MAX,
  PCI_STATUS,
  PCI_SUBDEVICE_ID_QEMU,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
  PCI_VENDOR_ID,
  PCI_VENDOR_ID_INTEL,
  pciConf1Bus,
  pciConf1Enabled,
  pciConf1Fn,
  pciConf1Reg,
  pciConf1Slot,
} from "./pci-regs";

export type { LspciFunction, LspciKernelView } from "./lspci";
export * from "./pci-caps";
export { PCI_IO_START, PCI_WINDOW32_END, PCI_WINDOW64_SIZE, type Window } from "./pci-firmware";
export * from "./pci-regs";

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
  /** Capabilities, laid out from 0x40 in this order (pci-caps.ts). */
  readonly capabilities?: readonly PciCapabilitySpec[];
  /** Config read hook (QEMU's PCIDeviceClass.config_read): gets the default value, returns what is read. */
  readonly configRead?: (offset: number, size: 1 | 2 | 4, value: number) => number;
  /** Config write hook, told after the default write (a device's config_write calling pci_default_write_config). */
  readonly configWrite?: (offset: number, size: 1 | 2 | 4, value: number) => void;
}

/** The bus-address translation a DMA goes through when an IOMMU sits in front of the bus. */
export interface PciIommu {
  /** The physical address of `busAddr` for this function and direction, or -1 (an IOMMU fault). */
  translate(fn: PciFunction, busAddr: number, isWrite: boolean): number;
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

/** Bits of the command register software may change (pci_init_wmask in QEMU hw/pci/pci.c). */
const COMMAND_WMASK =
  PCI_COMMAND_IO |
  PCI_COMMAND_MEMORY |
  PCI_COMMAND_MASTER |
  PCI_COMMAND_PARITY |
  PCI_COMMAND_SERR |
  PCI_COMMAND_INTX_DISABLE;
/** pci_bar_address(): a 32-bit BAR ending at or above 4 GiB - 1 is not mapped. */
const LAST_32BIT_BAR_BYTE = 0xffffffff;
/** CONFIG_DATA's offset in the conf1 port pair. */
const CONF1_DATA = 4;
/** What a configuration read nobody answers returns (master abort): all-ones of its size. */
const ones = (size: 1 | 2 | 4): number => allOnes(size) as number;
/** Revision of QEMU's i440FX host bridge. */
const I440FX_REVISION = 0x02;

const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
const h = (n: number, w: number) => n.toString(16).padStart(w, "0");

/** One function of a PCI device: its 256-byte configuration space and its BARs. */
export class PciFunction {
  readonly config = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Per-byte write masks (QEMU's wmask): bits software may change. */
  private readonly wmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  private readonly barStates: Array<BarState | null> = [];
  /** Capabilities as placed in config space. */
  readonly capabilities: readonly PlacedCapability[];
  /** The level the device drives its INTx pin to (pci_set_irq), before INTx Disable. */
  private intxLevel = false;
  /** Whether the line is asserted towards the interrupt controller right now. */
  private intxAsserted = false;

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
        if (b.size < PCI_BAR_MEM_MIN_SIZE) {
          fail(`size ${hex(b.size)} is below the ${PCI_BAR_MEM_MIN_SIZE} bytes of the smallest memory BAR`);
        }
        if (!b.is64 && b.size > 2 ** 31) fail(`size ${hex(b.size)} does not fit a 32-bit BAR`);
        if (b.is64 && i === PCI_NUM_BARS - 1) fail("a 64-bit BAR needs the next BAR for its upper half");
        if (b.is64 && bars[i + 1]) fail(`a 64-bit BAR needs BAR ${i + 1} free for its upper half`);
        if (b.region.size !== b.size) {
          fail(`region "${b.region.name}" has ${hex(b.region.size)} bytes, the BAR ${hex(b.size)}`);
        }
        if (b.region.parent) fail(`region "${b.region.name}" is already mapped in "${b.region.parent.name}"`);
      } else if (b.size < PCI_BAR_IO_MIN_SIZE || b.size > PCI_BAR_IO_MAX_SIZE) {
        fail(`I/O BAR size ${hex(b.size)} is outside ${PCI_BAR_IO_MIN_SIZE}..${PCI_BAR_IO_MAX_SIZE} ports`);
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
    this.capabilities = placeCapabilities(this.config, this.wmask, spec.capabilities ?? [], where);
    if (this.capabilities.length) this.config[PCI_STATUS] = this.config[PCI_STATUS]! | PCI_STATUS_CAP_LIST;
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
    this.setMask(PCI_COMMAND, 2, COMMAND_WMASK);
    this.setMask(PCI_CACHE_LINE_SIZE, 1, 0xff);
    this.setMask(PCI_LATENCY_TIMER, 1, 0xff);
    this.setMask(PCI_INTERRUPT_LINE, 1, 0xff);
    for (const b of this.barStates) {
      if (!b) continue;
      const reg = PCI_BASE_ADDRESS_0 + 4 * b.index;
      if (b.io) {
        this.set32(reg, PCI_BASE_ADDRESS_SPACE_IO);
        this.setMask(reg, 4, ~(b.size - 1) & PCI_BASE_ADDRESS_IO_MASK);
      } else {
        this.set32(
          reg,
          (b.is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0),
        );
        // Address bits below the size are hard-wired to zero: that is what makes sizing work.
        const lo = b.size >= FOUR_GIB ? 0 : ~(b.size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
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
    if (b.io) return (this.get32(reg) & PCI_BASE_ADDRESS_IO_MASK) >>> 0;
    const lo = (this.get32(reg) & PCI_BASE_ADDRESS_MEM_MASK) >>> 0;
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
    if (!this.configAccessOk(offset, size, false, 0)) return ones(size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[offset + i]!;
    const hook = this.spec.configRead;
    return hook ? hook(offset, size, v) >>> 0 : v;
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
    // pci_update_irq_disabled(): INTx Disable masks the pin's level towards the controller.
    if (touches(PCI_COMMAND, PCI_COMMAND + 2)) this.updateIntx();
    this.spec.configWrite?.(offset, size, value);
  }

  /** Bus master enable (command bit 2): without it the function's DMA and MSI writes go nowhere. */
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }

  /** The IRQ line firmware wrote to PCI_INTERRUPT_LINE (0 when the function has no INTx pin). */
  get interruptLine(): number {
    return this.config[PCI_INTERRUPT_PIN] ? this.config[PCI_INTERRUPT_LINE]! : 0;
  }

  /** pci_find_capability() on this function: the offset of capability `id`, or 0. */
  findCapability(id: number): number {
    return findCapability((o) => this.config[o]!, this.config[PCI_STATUS]!, id);
  }

  /**
   * pci_set_irq(): the device drives its INTx pin. The Interrupt Status bit follows the pin; the line
   * reaches the interrupt controller unless INTx Disable is set in the command register.
   */
  setIrq(level: boolean): void {
    if (!this.config[PCI_INTERRUPT_PIN]) {
      this.bus.log.record({
        kind: "config-access",
        addr: PCI_INTERRUPT_PIN,
        size: 1,
        isWrite: true,
        region: this.name,
        message: `${this.name}: raises INTx but declares no interrupt pin: ignored`,
      });
      return;
    }
    this.intxLevel = level;
    const st = this.config[PCI_STATUS]!;
    this.config[PCI_STATUS] = level ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT;
    this.updateIntx();
  }

  private updateIntx(): void {
    const want = this.intxLevel && !(this.command & PCI_COMMAND_INTX_DISABLE);
    if (want === this.intxAsserted) return;
    this.intxAsserted = want;
    this.bus.intxHandler?.(this, this.interruptLine, want);
  }

  /** Whether the INTx line is asserted towards the controller. */
  get intxPending(): boolean {
    return this.intxAsserted;
  }

  /**
   * msi_notify(): sends message `vector` (0-based, below the enabled vector count) as the MSI
   * capability says: a dword write of data | vector to the message address. Returns false (nothing
   * sent) when MSI is not enabled, the vector is out of range or bus mastering is off.
   */
  msiNotify(vector = 0): boolean {
    const cap = this.findCapability(PCI_CAP_ID_MSI);
    if (!cap) return false;
    const flags = this.config[cap + PCI_MSI_FLAGS]! | (this.config[cap + PCI_MSI_FLAGS + 1]! << 8);
    const enabled = 1 << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);
    if (!(flags & PCI_MSI_FLAGS_ENABLE) || !this.busMaster || vector < 0 || vector >= enabled) return false;
    const addr = this.get32(cap + PCI_MSI_ADDRESS_LO);
    const data = this.config[cap + PCI_MSI_DATA_32]! | (this.config[cap + PCI_MSI_DATA_32 + 1]! << 8);
    // Multiple Message Enable: the low log2(enabled) bits of data carry the vector.
    this.bus.msiHandler?.(this, addr, (data & ~(enabled - 1)) | vector);
    return true;
  }

  /**
   * pci_dma_read() / pci_dma_write(): a bus-master transfer at bus address `busAddr`, through the
   * bus's IOMMU when there is one. Without bus mastering (or on an IOMMU fault) nothing moves: a read
   * leaves `buf` all-ones, the access is logged, MEMTX_DECODE_ERROR is returned.
   */
  dmaRead(busAddr: number, buf: Uint8Array): MemTxResult {
    return this.dma(busAddr, buf, false);
  }

  dmaWrite(busAddr: number, bytes: Uint8Array): MemTxResult {
    return this.dma(busAddr, bytes, true);
  }

  private dma(busAddr: number, buf: Uint8Array, isWrite: boolean): MemTxResult {
    const refuse = (why: string): MemTxResult => {
      if (!isWrite) buf.fill(0xff);
      this.bus.log.record({
        kind: "unassigned-write",
        addr: busAddr,
        size: buf.length,
        isWrite,
        region: this.name,
        message: `${this.name}: DMA ${isWrite ? "write" : "read"} of ${buf.length} bytes at bus address ${hex(busAddr)}: ${why}`,
      });
      return MEMTX_DECODE_ERROR;
    };
    if (!this.busMaster) return refuse("bus mastering is disabled");
    const dma = this.bus.dma;
    if (!dma) return refuse("no memory behind the bus");
    const iommu = this.bus.iommu;
    if (!iommu) return isWrite ? dma.write(busAddr, buf, this) : dma.read(busAddr, buf);
    // Page by page: each page of the transfer is translated on its own (an IOMMU maps pages).
    let pos = 0;
    let r = MEMTX_OK;
    while (pos < buf.length) {
      const a = busAddr + pos;
      const n = Math.min(buf.length - pos, 4096 - (a % 4096));
      const pa = iommu.translate(this, a, isWrite);
      if (pa < 0) return r | refuse(`IOMMU fault at ${hex(a)}`);
      const part = buf.subarray(pos, pos + n);
      r |= isWrite ? dma.write(pa, part, this) : dma.read(pa, part);
      pos += n;
    }
    return r;
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
        if (b.is64 ? last < PHYS_ADDR_LIMIT : last < LAST_32BIT_BAR_BYTE) want = addr;
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

/** Options of a `PciBus`. */
export interface PciBusOptions {
  /** End of the highest RAM range: the 64-bit window opens above it. */
  readonly topOfRam: number;
}

/** What bus-master DMA reads and writes: system memory at physical addresses. */
export interface PciDmaTarget {
  read(addr: number, buf: Uint8Array): MemTxResult;
  write(addr: number, bytes: Uint8Array, from: PciFunction): MemTxResult;
}

/** PIIX PIRQ routing as SeaBIOS sets it up: PIRQA..D → IRQ 10, 10, 11, 11 (pciinit.c: pci_irqs). */
const PIRQ_IRQS = [10, 10, 11, 11] as const;

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
  /** Where INTx level changes go (the interrupt controller, set by the kernel). */
  intxHandler: ((fn: PciFunction, irq: number, level: boolean) => void) | null = null;
  /** Where MSI writes go (the local APIC's window, set by the kernel). */
  msiHandler: ((fn: PciFunction, address: number, data: number) => void) | null = null;
  /** An IOMMU translating bus addresses of DMA (null: bus address = physical address). */
  iommu: PciIommu | null = null;
  /** The memory bus-master transfers reach (set by PhysMachine). */
  dma: PciDmaTarget | null = null;

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
      vendorId: PCI_VENDOR_ID_INTEL,
      deviceId: PCI_DEVICE_ID_INTEL_82441,
      classCode: PCI_CLASS_CODE_BRIDGE_HOST,
      revision: I440FX_REVISION,
      subsystemVendorId: PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
      subsystemId: PCI_SUBDEVICE_ID_QEMU,
      slot: 0,
    });
    this.attach({
      name: "PIIX3",
      vendorId: PCI_VENDOR_ID_INTEL,
      deviceId: PCI_DEVICE_ID_INTEL_82371SB_0,
      classCode: PCI_CLASS_CODE_BRIDGE_ISA,
      subsystemVendorId: PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
      subsystemId: PCI_SUBDEVICE_ID_QEMU,
      slot: 1,
    });
    // Configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc;
    // only whole-dword accesses reach CONFIG_ADDRESS.
    io.register("PCI conf1", PCI_CONF1_ADDRESS_PORT, PCI_CONF1_PORTS, {
      read: (off, size) => {
        if (off === 0 && size === 4) return this.configAddress;
        if (off < CONF1_DATA) return ones(size);
        return this.conf1Data(off - CONF1_DATA, size, null);
      },
      write: (off, size, value) => {
        if (off === 0 && size === 4) this.configAddress = value & PCI_CONF1_ADDRESS_MASK;
        else if (off >= CONF1_DATA) this.conf1Data(off - CONF1_DATA, size, value);
      },
    });
  }

  private conf1Data(byte: number, size: 1 | 2 | 4, value: number | null): number {
    const a = this.configAddress;
    const fn = this.get(pciConf1Slot(a), pciConf1Fn(a));
    if (!pciConf1Enabled(a) || pciConf1Bus(a) !== 0 || !fn) return ones(size);
    const off = pciConf1Reg(a) + byte;
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
    const pin = f.config[PCI_INTERRUPT_PIN]!;
    // piix_pci_slot_get_irq(): pin A of slot s uses PIRQ (s + pin - 1) mod 4.
    if (pin >= 1 && pin <= 4) f.config[PCI_INTERRUPT_LINE] = PIRQ_IRQS[(slot + pin - 1) & 3]!;
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
    if (!f) return ones(size);
    return f.configRead(offset, size);
  }

  configWrite(slot: number, fn: number, offset: number, size: 1 | 2 | 4, value: number): void {
    this.get(slot, fn)?.configWrite(offset, size, value);
  }

  /**
   * Firmware BAR assignment for the given functions (default: all) whose BARs hold no address yet:
   * each BAR is sized by the spec's probe, then placed largest first at the lowest naturally aligned
   * free address of its window, and decode is enabled. If something does not fit, nothing is changed
   * and ENOSPC is thrown (pci-firmware.ts).
   */
  assignBars(fns: readonly PciFunction[] = this.fns): void {
    assignBars(this.fns, fns, this);
  }

  /** BAR sizing as firmware does it (pci-firmware.ts). */
  probeBar(f: PciFunction, index: number): number {
    return probeBar(f, index);
  }

  /** `lspci -v`-like listing (without name database: numeric ids, as `lspci -v` prints unknown ones). */
  lspci(kernel?: LspciKernelView): string {
    return renderLspci(this.fns, kernel);
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
