/**
 * The ISA side of a PC: the legacy hole 0xA0000–0xFFFFF (VGA memory, BIOS ROM, ISA memory devices at
 * fixed addresses) and the 64 KiB I/O-port space reached with in/out instructions.
 *
 * Layout per arch/x86/include/asm/e820/types.h (ISA_START_ADDRESS..ISA_END_ADDRESS) and the names Linux
 * gives these ranges in /proc/iomem ("Video RAM area", "System ROM": arch/x86/kernel/setup.c and
 * probe_roms.c).
 */
import type { MemoryBanks } from "./banks";
import { ISA_END_ADDRESS, ISA_START_ADDRESS } from "./constants";
import { hex } from "./errors";
import { MemoryRegion } from "./memory-region";
import { BusError, type GuestLog } from "./memtx";

export const VGA_BASE = 0xa0000;
export const VGA_SIZE = 0x20000;
export const BIOS_ROM_BASE = 0xf0000;
export const BIOS_ROM_SIZE = 0x10000;
/** What the System ROM starts with, so a dump of 0xF0000 is recognisable. */
export const BIOS_SIGNATURE = "Faultline System ROM";
/** Size of the port space (x86 has 16-bit port numbers). */
export const IO_SPACE_SIZE = 0x10000;

/** Bytes of one port I/O access (inb/inw/inl). */
export type PortAccessSize = 1 | 2 | 4;

/** Callbacks of a port range; `offset` is relative to the range's first port. */
export interface IoPortOps {
  read(offset: number, size: PortAccessSize): number;
  write(offset: number, size: PortAccessSize, value: number): void;
}

/** A registered port range (a `struct resource` in /proc/ioports). */
export interface IoPortRange {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly ops: IoPortOps;
  readonly priority: number;
  readonly mayOverlap: boolean;
}

const PORT_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;

/**
 * The I/O-port address space (QEMU's address_space_io). Ranges may be as small as one port, so this is
 * a separate, simpler decoder than the memory FlatView. Unassigned reads float to all-ones and are
 * logged; unassigned writes are logged and dropped. An access that runs past the end of its range is
 * refused (logged) rather than split.
 */
export class IoPortSpace {
  private readonly ranges: IoPortRange[] = [];

  constructor(readonly log: GuestLog) {}

  /**
   * Registers [base, base + size). Without `priority` it must not overlap any range (request_region);
   * with one it may, and the highest priority decodes (PCI I/O BARs are mapped so, priority 1).
   */
  register(name: string, base: number, size: number, ops: IoPortOps, priority?: number): IoPortRange {
    if (
      !Number.isSafeInteger(base) ||
      !Number.isSafeInteger(size) ||
      size <= 0 ||
      base < 0 ||
      base + size > IO_SPACE_SIZE
    ) {
      throw new BusError(
        "EINVAL",
        `I/O ports "${name}" [${hex(base)}, ${hex(base + size)}): must be a non-empty range inside 0x0-0xffff`,
        { region: name, addr: base, size },
      );
    }
    const mayOverlap = priority !== undefined;
    if (!mayOverlap) {
      for (const r of this.ranges) {
        if (r.mayOverlap) continue;
        if (base < r.base + r.size && r.base < base + size) {
          throw new BusError(
            "EOVERLAP",
            `I/O ports "${name}" [${hex(base)}, ${hex(base + size)}) overlap "${r.name}" [${hex(r.base)}, ${hex(r.base + r.size)}); pass a priority to allow it`,
            { region: name, addr: base, size, other: r.name, otherAddr: r.base, otherSize: r.size },
          );
        }
      }
    }
    const range: IoPortRange = { name, base, size, ops, priority: priority ?? 0, mayOverlap };
    // Newest first among equal priorities, as for memory regions.
    let i = 0;
    while (i < this.ranges.length && this.ranges[i]!.priority > range.priority) i++;
    this.ranges.splice(i, 0, range);
    return range;
  }

  unregister(range: IoPortRange): void {
    const i = this.ranges.indexOf(range);
    if (i < 0) {
      throw new BusError("ENODEV", `I/O ports "${range.name}" at ${hex(range.base)} are not registered`, {
        region: range.name,
      });
    }
    this.ranges.splice(i, 1);
  }

  /** The range decoding `port`, or null. */
  find(port: number): IoPortRange | null {
    for (const r of this.ranges) if (port >= r.base && port < r.base + r.size) return r;
    return null;
  }

  get registered(): readonly IoPortRange[] {
    return this.ranges;
  }

  read(port: number, size: PortAccessSize): number {
    const r = this.find(port);
    if (!r || port + size > r.base + r.size) {
      this.log.record({
        kind: r ? "invalid-access" : "unassigned-read",
        addr: port,
        size,
        isWrite: false,
        region: r?.name ?? null,
        message: r
          ? `in${"bwl"[size >> 1]} ${hex(port)} runs past the end of "${r.name}": refused, returns all-ones`
          : `in${"bwl"[size >> 1]} from unassigned port ${hex(port)} returns all-ones`,
      });
      return PORT_ONES[size];
    }
    const v = r.ops.read(port - r.base, size);
    return size === 4 ? v >>> 0 : v & PORT_ONES[size];
  }

  write(port: number, size: PortAccessSize, value: number): void {
    const r = this.find(port);
    const v = size === 4 ? value >>> 0 : value & PORT_ONES[size];
    if (!r || port + size > r.base + r.size) {
      this.log.record({
        kind: r ? "invalid-access" : "unassigned-write",
        addr: port,
        size,
        isWrite: true,
        region: r?.name ?? null,
        message: r
          ? `out${"bwl"[size >> 1]} ${hex(v)} to ${hex(port)} runs past the end of "${r.name}": refused`
          : `out${"bwl"[size >> 1]} ${hex(v)} to unassigned port ${hex(port)} dropped`,
      });
      return;
    }
    r.ops.write(port - r.base, size, v);
  }

  inb(port: number): number {
    return this.read(port, 1);
  }
  inw(port: number): number {
    return this.read(port, 2);
  }
  inl(port: number): number {
    return this.read(port, 4);
  }
  outb(port: number, value: number): void {
    this.write(port, 1, value);
  }
  outw(port: number, value: number): void {
    this.write(port, 2, value);
  }
  outl(port: number, value: number): void {
    this.write(port, 4, value);
  }

  /** /proc/ioports: "%04x-%04x : name", sorted by port (nesting is not modelled). */
  renderIoports(): string {
    return [...this.ranges]
      .sort((a, b) => a.base - b.base || b.size - a.size)
      .map((r) => `${hex4(r.base)}-${hex4(r.base + r.size - 1)} : ${r.name}\n`)
      .join("");
  }
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

/** An ISA memory device placed at a fixed address in the hole. */
export interface IsaMemoryDevice {
  readonly name: string;
  readonly base: number;
  readonly region: MemoryRegion;
}

/**
 * The ISA bus: a container over the legacy hole holding VGA memory (device RAM, 128 KiB at 0xA0000) and
 * the System ROM (64 KiB at 0xF0000), plus ISA devices at fixed addresses, and the port space.
 */
export class IsaBus {
  readonly hole: MemoryRegion;
  readonly vga: MemoryRegion;
  readonly bios: MemoryRegion;
  readonly io: IoPortSpace;
  private readonly attached: IsaMemoryDevice[] = [];

  constructor(
    system: MemoryRegion,
    private readonly banks: MemoryBanks,
    log: GuestLog,
  ) {
    this.io = new IoPortSpace(log);
    this.hole = MemoryRegion.container("isa-hole", ISA_END_ADDRESS - ISA_START_ADDRESS);
    this.vga = MemoryRegion.ramDevice("vga.vram", banks, VGA_SIZE);
    const romBank = banks.allocate(BIOS_ROM_SIZE, "pc.bios");
    fillBiosRom(banks.u8[romBank]!);
    this.bios = MemoryRegion.rom("pc.bios", banks, romBank, 0, BIOS_ROM_SIZE);
    this.hole.addSubregion(VGA_BASE - ISA_START_ADDRESS, this.vga);
    this.hole.addSubregion(BIOS_ROM_BASE - ISA_START_ADDRESS, this.bios);
    system.addSubregion(ISA_START_ADDRESS, this.hole);
  }

  /** The memory banks VGA and ROM live in (for device models that create device RAM). */
  get memoryBanks(): MemoryBanks {
    return this.banks;
  }

  /**
   * Places a device region at a fixed physical address inside 0xA0000–0xFFFFF. Overlapping VGA, the
   * System ROM or another device is refused unless a priority is given (then the higher one decodes).
   */
  attachMemory(name: string, base: number, region: MemoryRegion, priority?: number): IsaMemoryDevice {
    if (!Number.isSafeInteger(base) || base < ISA_START_ADDRESS || base + region.size > ISA_END_ADDRESS) {
      throw new BusError(
        "EINVAL",
        `ISA device "${name}" at [${hex(base)}, ${hex(base + region.size)}): outside the ISA hole [0xa0000, 0x100000)`,
        { region: region.name, addr: base, size: region.size },
      );
    }
    const off = base - ISA_START_ADDRESS;
    if (priority === undefined) this.hole.addSubregion(off, region);
    else this.hole.addSubregionOverlap(off, region, priority);
    const dev = { name, base, region };
    this.attached.push(dev);
    return dev;
  }

  detachMemory(dev: IsaMemoryDevice): void {
    const i = this.attached.indexOf(dev);
    if (i < 0) throw new BusError("ENODEV", `ISA device "${dev.name}" is not attached`, { region: dev.name });
    this.hole.delSubregion(dev.region);
    this.attached.splice(i, 1);
  }

  get devices(): readonly IsaMemoryDevice[] {
    return this.attached;
  }
}

/**
 * Something recognisable in the System ROM: a signature at 0xF0000, the reset vector at 0xFFFF0
 * (`jmp far f000:e05b`, what every PC BIOS has there), a BIOS date at 0xFFFF5 and the AT model byte
 * 0xFC at 0xFFFFE (IBM PC/AT Technical Reference).
 */
function fillBiosRom(rom: Uint8Array): void {
  rom.fill(0xff);
  rom.set(new TextEncoder().encode(BIOS_SIGNATURE), 0);
  rom.set([0xea, 0x5b, 0xe0, 0x00, 0xf0], 0xfff0);
  rom.set(new TextEncoder().encode("06/23/99"), 0xfff5);
  rom[0xfffe] = 0xfc;
}
