/**
 * A PC's physical side put together: RAM (PhysMemory) mapped into the system address space, the ISA
 * bus (legacy hole, port I/O) and PCI bus 0000:00, with the views Linux gives of them (/proc/iomem,
 * /proc/ioports, lspci, /proc/meminfo).
 *
 * Address-space tree (as QEMU's pc machine builds it, hw/i386/pc.c):
 *   system (container, 2^52 bytes)
 *     ram@…        RAM regions, one per (e820 RAM range ∩ 1 GiB bank), priority 0
 *     isa-hole     0xa0000–0xfffff: vga.vram (device RAM), pc.bios (ROM), ISA devices
 *     pci          PCI address space, priority -1: BARs at priority 1 while decoded
 *
 * Everything a load or store reaches directly lives in `mem.banks`, so `mem.share()` /
 * `PhysMemory.attach()` give a worker the same bytes; MMIO callbacks stay in this (kernel) thread.
 * Banks registered after a worker attached (a device plugged in later) need a fresh descriptor.
 */
import { AddressSpace } from "./address-space";
import type { MemoryBanks } from "./banks";
import { BANK_BYTES_MAX } from "./banks";
import { VirtualClock } from "./clock";
import { PAGE_SIZE } from "./constants";
import { DirtyLog } from "./dirty-log";
import { locationOf, PHYS_ADDR_LIMIT, pfnOf, physOf } from "./encoding";
import { hex, PhysError } from "./errors";
import type { FlatRangeDescriptor, PageTranslation } from "./flatview";
import { ResourceTree } from "./iomem";
import {
  BIOS_ROM_BASE,
  BIOS_ROM_SIZE,
  type IoPortSpace,
  IsaBus,
  type IsaMemoryDevice,
  VGA_BASE,
  VGA_SIZE,
} from "./isa";
import { IsaDmaController } from "./isa-dma";
import { PhysMemory, type PhysMemoryDescriptor } from "./memory";
import { MemoryRegion } from "./memory-region";
import {
  type AccessSize,
  BusError,
  GUEST_LOG_CAPACITY,
  type GuestError,
  GuestLog,
  type MemTxResult,
} from "./memtx";
import { PciBus, type PciFunction, type PciFunctionSpec } from "./pci";

/** What device models get to build their regions (device RAM needs the banks). */
export interface DeviceContext {
  readonly banks: MemoryBanks;
  readonly log: GuestLog;
}

/** An ISA device: a region at a fixed base inside the hole; a priority allows overlapping VGA/ROM. */
export interface IsaDeviceSpec {
  readonly name: string;
  readonly base: number;
  readonly region: MemoryRegion;
  readonly priority?: number;
}

/**
 * A PCI function as `PhysMachine.addPciDevice` takes it: a spec, or a function of the device context that
 * returns one.
 */
export type PciDeviceInput = PciFunctionSpec | ((ctx: DeviceContext) => PciFunctionSpec);
/**
 * An ISA device as `PhysMachine.addIsaDevice` takes it: a spec, or a function of the device context that
 * returns one.
 */
export type IsaDeviceInput = IsaDeviceSpec | ((ctx: DeviceContext) => IsaDeviceSpec);

/** Options of `PhysMachine.create`. */
export interface PhysMachineOptions {
  /** Bytes of System RAM (default 256 MiB). */
  readonly ramBytes?: number;
  /** PCI functions plugged in before firmware assigns BARs. */
  readonly pciDevices?: readonly PciDeviceInput[];
  /** ISA memory devices placed in the hole. */
  readonly isaDevices?: readonly IsaDeviceInput[];
  /** How many guest errors the bounded log keeps (default GUEST_LOG_CAPACITY, 256). */
  readonly logCapacity?: number;
  /** Also told about every guest error (e.g. to print a dmesg-like line). */
  readonly onGuestError?: (e: GuestError) => void;
}

/** What a worker needs: the memory descriptor (banks included) and the current FlatView. */
export interface PhysMachineDescriptor {
  readonly memory: PhysMemoryDescriptor;
  readonly flatView: readonly FlatRangeDescriptor[];
  readonly generation: number;
}

interface Claim {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/**
 * The physical machine: RAM, the ISA and PCI buses, the address space and its views (/proc/iomem,
 * /proc/ioports).
 */
export class PhysMachine {
  readonly mem: PhysMemory;
  readonly banks: MemoryBanks;
  readonly log: GuestLog;
  readonly system: MemoryRegion;
  readonly as: AddressSpace;
  readonly isa: IsaBus;
  readonly pci: PciBus;
  readonly io: IoPortSpace;
  readonly ramRegions: readonly MemoryRegion[];
  /** Frames written by bus-master DMA, for clients that start logging (dirty-log.ts). */
  readonly dirtyLog: DirtyLog;
  /** The two 8237 DMA controllers of the ISA side (isa-dma.ts). */
  readonly isaDma: IsaDmaController;
  /** Virtual time for device models' timers (clock.ts). */
  readonly clock = new VirtualClock();
  /** request_mem_region() / request_region() claims, in the order made. */
  private readonly memRequests: Claim[] = [];
  private readonly ioRequests: Claim[] = [];

  private constructor(mem: PhysMemory, options: PhysMachineOptions) {
    this.mem = mem;
    this.banks = mem.banks;
    this.log = new GuestLog(options.logCapacity ?? GUEST_LOG_CAPACITY, options.onGuestError);
    this.system = MemoryRegion.container("system", PHYS_ADDR_LIMIT);
    const ram: MemoryRegion[] = [];
    for (const r of mem.ramRanges) {
      // One region per piece of the range that lies in one bank, so every FlatRange is one bank.
      let addr = r.start;
      while (addr < r.end) {
        const image = physOf(r.firstFrame + pfnOf(addr - r.start));
        const bankIndex = Math.floor(image / BANK_BYTES_MAX);
        const bankOffset = image % BANK_BYTES_MAX;
        const len = Math.min(r.end - addr, BANK_BYTES_MAX - bankOffset);
        const region = MemoryRegion.ram(
          `ram@${hex(addr)}`,
          this.banks,
          mem.ramBanks[bankIndex]!,
          bankOffset,
          len,
        );
        this.system.addSubregion(addr, region);
        ram.push(region);
        addr += len;
      }
    }
    this.ramRegions = ram;
    this.isa = new IsaBus(this.system, this.banks, this.log);
    this.io = this.isa.io;
    const topOfRam = Math.max(...mem.ramRanges.map((r) => r.end));
    this.pci = new PciBus(this.system, this.io, this.log, { topOfRam });
    this.as = new AddressSpace("memory", this.system, this.banks, { log: this.log });
    this.dirtyLog = new DirtyLog(mem.maxPfn);
    this.isaDma = new IsaDmaController(this.io, this.as, this.log);
    this.pci.dma = {
      read: (addr, buf) => this.as.readBytesInto(addr, buf),
      write: (addr, bytes) => {
        const r = this.as.writeBytes(addr, bytes);
        this.dirtyLog.markRange(addr, bytes.length);
        return r;
      },
    };
  }

  /** Boots memory and buses, plugs the devices in and assigns BARs as firmware does. */
  static create(options: PhysMachineOptions = {}): PhysMachine {
    const mem = PhysMemory.create(options.ramBytes === undefined ? {} : { ramBytes: options.ramBytes });
    const m = new PhysMachine(mem, options);
    for (const d of options.isaDevices ?? []) m.addIsaDevice(d);
    for (const d of options.pciDevices ?? []) m.pci.attach(typeof d === "function" ? d(m.context) : d);
    m.pci.assignBars();
    return m;
  }

  /** For device models: the banks and the log. */
  get context(): DeviceContext {
    return { banks: this.banks, log: this.log };
  }

  /** Places an ISA device (refused, with nothing changed, on overlap without priority). */
  addIsaDevice(input: IsaDeviceInput): IsaMemoryDevice {
    const spec = typeof input === "function" ? input(this.context) : input;
    return this.isa.attachMemory(spec.name, spec.base, spec.region, spec.priority);
  }

  removeIsaDevice(dev: IsaMemoryDevice): void {
    this.isa.detachMemory(dev);
  }

  /** Hot-plugs a PCI function and assigns its BARs; on failure the bus is left as it was. */
  addPciDevice(input: PciDeviceInput): PciFunction {
    const f = this.pci.attach(typeof input === "function" ? input(this.context) : input);
    try {
      this.pci.assignBars([f]);
    } catch (e) {
      this.pci.detach(f);
      throw e;
    }
    return f;
  }

  removePciDevice(f: PciFunction): void {
    this.pci.detach(f);
  }

  // ---- accesses (see address-space.ts) ----------------------------------------------------------

  physRead8(addr: number): number {
    return this.as.physRead8(addr);
  }
  physRead16(addr: number): number {
    return this.as.physRead16(addr);
  }
  physRead32(addr: number): number {
    return this.as.physRead32(addr);
  }
  physRead64(addr: number): bigint {
    return this.as.physRead64(addr);
  }
  physRead64Split(addr: number, out: Uint32Array | number[]): void {
    this.as.physRead64Split(addr, out);
  }
  physRead(addr: number, size: AccessSize): number | bigint {
    return this.as.physRead(addr, size);
  }
  physWrite8(addr: number, value: number): MemTxResult {
    return this.as.physWrite8(addr, value);
  }
  physWrite16(addr: number, value: number): MemTxResult {
    return this.as.physWrite16(addr, value);
  }
  physWrite32(addr: number, value: number): MemTxResult {
    return this.as.physWrite32(addr, value);
  }
  physWrite64(addr: number, value: bigint): MemTxResult {
    return this.as.physWrite64(addr, value);
  }
  physWrite(addr: number, size: AccessSize, value: number | bigint): MemTxResult {
    return this.as.physWrite(addr, size, value);
  }
  readBytes(addr: number, length: number): Uint8Array {
    return this.as.readBytes(addr, length);
  }
  writeBytes(addr: number, src: Uint8Array): MemTxResult {
    return this.as.writeBytes(addr, src);
  }
  translatePage(pfn: number, out?: PageTranslation): PageTranslation {
    return this.as.translatePage(pfn, out);
  }
  pageEntry(pfn: number): number {
    return this.as.pageEntry(pfn);
  }

  inb(port: number): number {
    return this.io.inb(port);
  }
  inw(port: number): number {
    return this.io.inw(port);
  }
  inl(port: number): number {
    return this.io.inl(port);
  }
  outb(port: number, value: number): void {
    this.io.outb(port, value);
  }
  outw(port: number, value: number): void {
    this.io.outw(port, value);
  }
  outl(port: number, value: number): void {
    this.io.outl(port, value);
  }

  // ---- views ------------------------------------------------------------------------------------

  /**
   * request_mem_region(): claims [start, start + n) for `name` (nested under the deepest resource
   * containing it, e.g. a BAR). False when any part of it is claimed already or it straddles a
   * resource's edge (the caller's -EBUSY).
   */
  requestMemRegion(start: number, n: number, name: string): boolean {
    return this.request(this.memRequests, this.iomemTree(), start, n, name);
  }

  /** release_mem_region(): false when there is no such claim. */
  releaseMemRegion(start: number, n: number): boolean {
    return this.release(this.memRequests, start, n);
  }

  /** request_region(): claims ports [start, start + n) (shown in /proc/ioports). */
  requestRegion(start: number, n: number, name: string): boolean {
    return this.request(this.ioRequests, this.ioportsTree(), start, n, name);
  }

  /** release_region(). */
  releaseRegion(start: number, n: number): boolean {
    return this.release(this.ioRequests, start, n);
  }

  private request(list: Claim[], tree: ResourceTree, start: number, n: number, name: string): boolean {
    if (!Number.isSafeInteger(n) || n <= 0 || !tree.requestBusyRegion(start, start + n - 1, name))
      return false;
    list.push({ start, end: start + n - 1, name });
    return true;
  }

  private release(list: Claim[], start: number, n: number): boolean {
    const i = list.findIndex((c) => c.start === start && c.end === start + n - 1);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  /** Whether a claim of exactly [start, start + n) exists (in memory or port space). */
  hasRequest(space: "mem" | "io", start: number, n: number): string | null {
    const list = space === "mem" ? this.memRequests : this.ioRequests;
    return list.find((c) => c.start === start && c.end === start + n - 1)?.name ?? null;
  }

  /** The resource tree behind /proc/ioports: the port ranges, then the drivers' claims. */
  ioportsTree(): ResourceTree {
    const t = new ResourceTree("PCI IO", 0xffff);
    for (const r of [...this.io.registered].sort((a, b) => a.base - b.base || b.size - a.size)) {
      try {
        t.insertResource(r.base, r.base + r.size - 1, r.name);
      } catch (e) {
        if (!(e instanceof BusError)) throw e;
      }
    }
    for (const c of this.ioRequests) t.requestBusyRegion(c.start, c.end, c.name);
    return t;
  }

  /** The resource tree behind /proc/iomem. */
  iomemTree(): ResourceTree {
    const t = new ResourceTree();
    const tryInsert = (start: number, end: number, name: string, request = false) => {
      try {
        return request ? t.requestRegion(start, end, name) : t.insertResource(start, end, name);
      } catch (e) {
        // A guest-programmed BAR that collides is not shown, as a failed insert_resource is not.
        if (e instanceof BusError) return null;
        throw e;
      }
    };
    for (const r of this.mem.ramRanges) {
      if (r.start === 0) {
        // The first page is reserved by the kernel (arch/x86/kernel/setup.c: trim_bios_range).
        t.insertResource(0, PAGE_SIZE - 1, "Reserved");
        t.insertResource(PAGE_SIZE, r.end - 1, "System RAM");
      } else {
        t.insertResource(r.start, r.end - 1, "System RAM");
      }
    }
    // Equal ranges: the later insert becomes the parent, so the bus window goes in after VGA.
    t.insertResource(VGA_BASE, VGA_BASE + VGA_SIZE - 1, "Video RAM area");
    t.insertResource(VGA_BASE, VGA_BASE + VGA_SIZE - 1, "PCI Bus 0000:00");
    t.insertResource(BIOS_ROM_BASE, BIOS_ROM_BASE + BIOS_ROM_SIZE - 1, "System ROM");
    for (const d of this.isa.devices) tryInsert(d.base, d.base + d.region.size - 1, d.name);
    const { window32, window64 } = this.pci;
    t.insertResource(window32.start, window32.end - 1, "PCI Bus 0000:00");
    t.insertResource(window64.start, window64.end - 1, "PCI Bus 0000:00");
    for (const res of this.pci.memoryResources()) {
      if (tryInsert(res.start, res.end, res.name)) {
        for (const c of res.children) tryInsert(res.start, res.end, c, true);
      }
    }
    // Drivers' claims, in the order they were made (a claim a moved BAR no longer fits is not shown).
    for (const c of this.memRequests) t.requestBusyRegion(c.start, c.end, c.name);
    return t;
  }

  /** /proc/iomem. */
  iomem(): string {
    return this.iomemTree().render();
  }

  /** /proc/ioports. */
  ioports(): string {
    return this.ioportsTree().render();
  }

  lspci(): string {
    return this.pci.lspci();
  }

  /** MemTotal/MemFree lines of /proc/meminfo. */
  meminfo(): string {
    return this.mem.renderMeminfo();
  }

  guestErrors(): readonly GuestError[] {
    return this.log.list();
  }

  share(): PhysMachineDescriptor {
    return { memory: this.mem.share(), flatView: this.as.describeFlatView(), generation: this.as.generation };
  }

  /**
   * Memory invariants (mem.checkInvariants) plus: the FlatView is consistent; all System RAM decodes as
   * RAM at the bank/offset memory.ts says (ramLocate); no pfn of the PCI windows has a struct page;
   * BARs decode exactly when enabled; the iomem tree nests properly.
   */
  checkInvariants(): void {
    this.mem.checkInvariants();
    this.as.checkInvariants();
    this.pci.checkInvariants();
    const fail = (msg: string): never => {
      throw new PhysError("EINVARIANT", msg);
    };
    for (const r of this.mem.ramRanges) {
      let addr = r.start;
      while (addr < r.end) {
        const fr = this.as.find(addr) ?? fail(`RAM at ${hex(addr)} does not decode`);
        if (!fr.writable || fr.bank < 0) fail(`RAM at ${hex(addr)} decodes as ${fr.region}`);
        const end = Math.min(fr.end, r.end);
        for (const a of [addr, end - PAGE_SIZE]) {
          const loc = this.mem.ramLocate(pfnOf(a));
          const want = locationOf(fr.bank, fr.bankOffset + (a - fr.start));
          if (loc !== want)
            fail(`RAM pfn ${hex(pfnOf(a))}: address space says ${hex(want)}, ramLocate ${hex(loc)}`);
        }
        addr = end;
      }
    }
    for (const w of [this.pci.window32, this.pci.window64]) {
      for (const pfn of [pfnOf(w.start), pfnOf(w.end) - 1]) {
        if (this.mem.pfnValid(pfn)) fail(`PCI window pfn ${hex(pfn)} has a struct page`);
      }
    }
    this.iomemTree().checkInvariants();
  }
}
