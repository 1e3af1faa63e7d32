/**
 * What PC firmware does to PCI bus 0 before the kernel runs (SeaBIOS src/fw/pciinit.c): size each BAR
 * by the probe of PCI 3.0 §6.2.5.1, then place the BARs largest first, naturally aligned, 32-bit
 * memory from the start of the PCI hole, 64-bit memory above RAM, I/O from 0xc000, and enable decode.
 *
 * It sees functions only through their configuration space (FirmwareFunction), as firmware does, so
 * it depends on no class of pci.ts.
 */

import { high32, low32 } from "./encoding";
import { hex } from "./errors";
import { BusError } from "./memtx";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
} from "./pci-regs";

/** Where the 32-bit window ends: the IOAPIC at 0xfec00000 and what follows are not PCI space. */
export const PCI_WINDOW32_END = 0xfec00000;
/** Size of the 64-bit window opened above RAM (OVMF's default aperture is 32 GiB). */
export const PCI_WINDOW64_SIZE = 2 ** 35;
/** SeaBIOS starts I/O BAR assignment at 0xc000. */
export const PCI_IO_START = 0xc000;

/** A half-open address window. */
export interface Window {
  readonly start: number;
  readonly end: number;
}

/** The windows BARs are placed in. */
export interface FirmwareWindows {
  readonly window32: Window;
  readonly window64: Window;
  readonly ioWindow: Window;
}

/** What firmware sees of a PCI function: its identity, BAR layout and configuration space. */
export interface FirmwareFunction {
  readonly slot: number;
  readonly fn: number;
  readonly name: string;
  readonly spec: { readonly name: string };
  readonly command: number;
  readonly bars: ReadonlyArray<{
    readonly index: number;
    readonly size: number;
    readonly io: boolean;
    readonly is64: boolean;
  } | null>;
  barValue(index: number): number;
  configRead(offset: number, size: 1 | 2 | 4): number;
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void;
}

type WindowKind = "mem32" | "mem64" | "io";

/** The low bits of a BAR register that give its type, not its address. */
const BAR_IO_TYPE_BITS = ~PCI_BASE_ADDRESS_IO_MASK >>> 0;
const BAR_MEM_TYPE_BITS = ~PCI_BASE_ADDRESS_MEM_MASK >>> 0;
const ALL_ONES_32 = 0xffffffff;

/**
 * Assigns the BARs of `fns` that hold no address yet, among the BARs every function of the bus
 * (`all`) already decodes. If something does not fit, nothing is changed and ENOSPC is thrown.
 */
export function assignBars(
  all: readonly FirmwareFunction[],
  fns: readonly FirmwareFunction[],
  windows: FirmwareWindows,
): void {
  type Job = { f: FirmwareFunction; index: number; size: number; window: Window; kind: WindowKind };
  const windowFor = (kind: WindowKind): Window =>
    kind === "io" ? windows.ioWindow : kind === "mem64" ? windows.window64 : windows.window32;
  const jobs: Job[] = [];
  for (const f of fns) {
    for (const b of f.bars) {
      if (!b || f.barValue(b.index) !== 0) continue;
      const size = probeBar(f, b.index);
      const kind = b.io ? "io" : b.is64 ? "mem64" : "mem32";
      jobs.push({ f, index: b.index, size, kind, window: windowFor(kind) });
    }
  }
  jobs.sort((a, b) => b.size - a.size || a.f.slot - b.f.slot || a.f.fn - b.f.fn || a.index - b.index);
  const used: Record<WindowKind, Window[]> = { mem32: [], mem64: [], io: [] };
  for (const f of all) {
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
    const typeBits = job.f.configRead(reg, 4) & (job.kind === "io" ? BAR_IO_TYPE_BITS : BAR_MEM_TYPE_BITS);
    job.f.configWrite(reg, 4, (low32(at) | typeBits) >>> 0);
    if (job.kind === "mem64") job.f.configWrite(reg + 4, 4, high32(at));
  }
  for (const f of fns) {
    let cmd = f.command;
    for (const b of f.bars) if (b) cmd |= b.io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    f.configWrite(PCI_COMMAND, 2, cmd);
  }
}

/**
 * BAR sizing as firmware does it (PCI 3.0 §6.2.5.1): decode off, write all-ones, read back, restore;
 * size = two's complement of the read-back value with the type bits masked.
 */
export function probeBar(f: FirmwareFunction, index: number): number {
  const reg = PCI_BASE_ADDRESS_0 + 4 * index;
  const cmd = f.command;
  f.configWrite(PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  const old = f.configRead(reg, 4);
  f.configWrite(reg, 4, ALL_ONES_32);
  const lo = f.configRead(reg, 4);
  f.configWrite(reg, 4, old);
  let size: number;
  if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
    size = (~(lo & PCI_BASE_ADDRESS_IO_MASK) >>> 0) + 1;
  } else if (lo & PCI_BASE_ADDRESS_MEM_TYPE_64) {
    const oldHi = f.configRead(reg + 4, 4);
    f.configWrite(reg + 4, 4, ALL_ONES_32);
    const hi = f.configRead(reg + 4, 4);
    f.configWrite(reg + 4, 4, oldHi);
    // Two's complement over 64 bits; bigint because the mask does not fit a double exactly.
    const mask = (BigInt(hi) << 32n) | BigInt((lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0);
    size = Number(2n ** 64n - mask);
  } else {
    size = (~(lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0) + 1;
  }
  f.configWrite(PCI_COMMAND, 2, cmd);
  return size;
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
