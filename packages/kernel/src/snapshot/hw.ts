/**
 * The machine's hardware-facing kernel state in a snapshot: the virtual clock and every timer armed
 * on it, the timer wheel and hrtimers (driver timers named by DriverSnapshot.timers), the PAT memtype
 * tree, interrupt counts and actions, ISA DMA channels and controller registers, and per PCI function
 * its configuration space, driver binding, claimed BARs, enable count, DMA masks, MSI vectors, DMA
 * buffers and pools and IOMMU mappings.
 *
 * What is state is put back (the clock, timers, memtypes, counts, the 8237's registers). What is
 * driver code or driver-owned objects (IRQ handlers, PCI bindings, coherent buffers, pools, the
 * mappings they made) is built again by the restored drivers' init, probe and snapshot.restore, and
 * then checked against the snapshot: a difference is an error naming it, never a silently different
 * machine. What no driver could build again is refused when the snapshot is taken (streaming DMA
 * mappings in flight, a pending timer its driver does not name, dirty logging, an INTx line held
 * asserted).
 */
import { type MemtypesState, memtypesOf } from "@faultline/mm";
import type { IsaDmaState, VirtualClockState } from "@faultline/phys";
import { type DmaSnapshot, dmaStateOf } from "../internal/dma-snapshot";
import { iommuOf } from "../internal/iommu";
import { type IrqSnapshot, restoreIrqs, saveIrqs } from "../internal/irq";
import { restoreAlarms, saveAlarms } from "../internal/itimer";
import type { Kernel } from "../internal/kernel";
import { pciState } from "../internal/pci-bus";
import { restoreTimekeeper, saveTimekeeper } from "../internal/timekeeping";
import {
  checkHrtimersArmed,
  type Hrtimer,
  type KernelTimersState,
  restoreKernelTimers,
  saveKernelTimers,
  type TimerList,
} from "../internal/timer";
import { isaDmaChannels } from "../isa-dma";
import { SnapshotError } from "./container";

/** One PCI function as saved (in bus order). */
export interface PciFnState {
  readonly name: string;
  /** The whole configuration space. */
  readonly config: Uint8Array;
  readonly driver: string | null;
  readonly enableCnt: number;
  readonly dmaMask: number;
  readonly coherentDmaMask: number;
  readonly irq: number;
  readonly msiIrqs: readonly number[];
  /** BAR, name pairs (pci_request_region). */
  readonly claimed: ReadonlyArray<string | number>;
  readonly dma: DmaSnapshot;
  /** IOMMU mappings: [iova pfn, pfn, prot] triples. */
  readonly iommu: readonly number[];
}

/** The hardware-facing kernel state (MachineState.hw). */
export interface HwState {
  readonly clock: VirtualClockState;
  /**
   * Each armed alarm(2): [slot, tgid], the slot being the rank of its timer among the clock's
   * ITIMER_REAL timers (internal/itimer-state.ts).
   */
  readonly alarms: ReadonlyArray<readonly [number, number]>;
  /** The wall clock's offset from the virtual clock (offs_real, clock_settime) and the last settime. */
  readonly timekeeper: readonly [string, number];
  readonly timers: KernelTimersState;
  readonly memtypes: MemtypesState;
  readonly irqs: IrqSnapshot;
  readonly isaDma: IsaDmaState;
  readonly isaDmaBusy: ReadonlyArray<string | null>;
  readonly pci: readonly PciFnState[];
}

/** Timers a driver names (DriverSnapshot.timers), asked once per save or restore. */
function driverTimers(k: Kernel): (owner: string) => ReadonlyMap<string, TimerList | Hrtimer> {
  const cache = new Map<string, Map<string, TimerList | Hrtimer>>();
  return (owner) => {
    let m = cache.get(owner);
    if (!m) {
      const hook = k.drivers.get(owner)?.def.snapshot?.timers;
      m = new Map(hook ? Object.entries(hook() ?? {}) : []);
      cache.set(owner, m);
    }
    return m;
  };
}

export function saveHw(k: Kernel): HwState {
  if (k.phys.dirtyLog.logging)
    throw new SnapshotError(
      "snapshot: dirty logging is on (its clients are outside the machine and would never stop it on the restored one)",
    );
  const named = driverTimers(k);
  let timers: KernelTimersState;
  try {
    timers = saveKernelTimers(k, (owner, t) => {
      for (const [name, x] of named(owner)) if (x === t) return name;
      return null;
    });
  } catch (e) {
    throw new SnapshotError(`snapshot: ${(e as Error).message}`);
  }
  const s = pciState(k);
  const iommu = iommuOf(k);
  const pci: PciFnState[] = [];
  for (const fn of k.phys.pci.functions) {
    const d = s.devs.get(fn);
    if (!d) continue;
    const dma = dmaStateOf(d);
    // A streaming mapping lives for one transfer: the buffer, its direction and a bounce copy are the
    // driver's, in flight. A snapshot between syscalls of a well-behaved driver has none.
    if (dma.streaming.length)
      throw new SnapshotError(
        `snapshot: pci ${fn.name} has ${dma.streaming.length} streaming DMA mapping(s) in flight (dma_map_*): a snapshot cannot hold a transfer; unmap first`,
      );
    // A line held asserted between syscalls is an interrupt nobody acknowledged (its irq disabled as
    // "nobody cared", or no handler): the controller's view of it is not saved.
    if (fn.intxPending)
      throw new SnapshotError(
        `snapshot: pci ${fn.name} holds its INTx line asserted (an interrupt no handler acknowledged): the interrupt controller's pending state cannot be saved`,
      );
    pci.push({
      name: fn.name,
      config: fn.config.slice(),
      driver: d.driver?.drv.name ?? null,
      enableCnt: d.enableCnt,
      dmaMask: d.dmaMask,
      coherentDmaMask: d.coherentDmaMask,
      irq: d.irq,
      msiIrqs: [...d.msiIrqs],
      claimed: [...d.claimed].flat(),
      dma,
      iommu: (iommu?.mappings(fn) ?? []).flat(),
    });
  }
  return {
    clock: k.phys.clock.saveState(),
    alarms: saveAlarms(k),
    timekeeper: saveTimekeeper(k),
    timers,
    memtypes: memtypesOf(k.mem).saveState(),
    irqs: saveIrqs(k),
    isaDma: k.phys.isaDma.saveState(),
    isaDmaBusy: [...isaDmaChannels(k)],
    pci,
  };
}

/**
 * The memtype tree goes back before the mms are rebuilt (a VMA's pfnmap tracking context must find
 * its reservation there).
 */
export function restoreMemtypes(k: Kernel, hw: HwState): void {
  memtypesOf(k.mem).restoreState(hw?.memtypes);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * After the restored drivers' init, probe and snapshot.restore ran: checks what they built again
 * against the snapshot and puts back what is state. Throws an Error naming the first difference.
 */
export function restoreHw(k: Kernel, hw: HwState): void {
  if (typeof hw !== "object" || hw === null) throw new Error("hw: not a map");
  const s = pciState(k);
  const iommu = iommuOf(k);
  const saved = Array.isArray(hw.pci) ? hw.pci : [];
  const fns = k.phys.pci.functions.filter((fn) => s.devs.has(fn));
  if (saved.length !== fns.length)
    throw new Error(`pci: ${fns.length} functions on the restored machine, ${saved.length} in the snapshot`);
  fns.forEach((fn, i) => {
    const p = saved[i]!;
    const d = s.devs.get(fn)!;
    const at = `pci ${fn.name}`;
    if (p?.name !== fn.name) throw new Error(`${at}: the snapshot has ${String(p?.name)} here`);
    const differs = (what: string, have: unknown, want: unknown) => {
      if (!same(have, want))
        throw new Error(
          `${at}: ${what} is ${JSON.stringify(have)} after the restored driver's probe, the snapshot's was ${JSON.stringify(want)}`,
        );
    };
    differs("the bound driver", d.driver?.drv.name ?? null, p.driver);
    // What a driver may change after probe and is plain state: the command register (bus mastering,
    // decoding: pci_set_master/pci_clear_master) and pci_enable_device's count are put back.
    if (!(p.config instanceof Uint8Array) || p.config.length !== fn.config.length)
      throw new Error(`${at}: configuration space of ${String(p.config?.length)} bytes`);
    const command = p.config[0x04]! | (p.config[0x05]! << 8);
    if (command !== fn.command) fn.configWrite(0x04, 2, command);
    if (!Number.isInteger(p.enableCnt) || p.enableCnt < 0 || (p.enableCnt === 0) !== (d.enableCnt === 0))
      throw new Error(
        `${at}: enable count ${String(p.enableCnt)} in the snapshot, ${d.enableCnt} after probe`,
      );
    d.enableCnt = p.enableCnt;
    differs("the DMA masks", [d.dmaMask, d.coherentDmaMask], [p.dmaMask, p.coherentDmaMask]);
    differs("the irq", d.irq, p.irq);
    differs("the MSI vectors", d.msiIrqs, p.msiIrqs);
    differs("the claimed BARs", [...d.claimed].flat(), p.claimed);
    const dma = dmaStateOf(d);
    differs("the coherent DMA buffers", dma.coherent, p.dma?.coherent);
    differs("the DMA pools", dma.pools, p.dma?.pools);
    differs("the IOMMU mappings", (iommu?.mappings(fn) ?? []).flat(), p.iommu);
    const off = fn.config.findIndex((b, j) => b !== p.config[j]);
    if (off >= 0)
      throw new Error(
        `${at}: configuration space differs at 0x${off.toString(16)} (0x${fn.config[off]!.toString(16)} after probe, 0x${p.config[off]!.toString(16)} in the snapshot)`,
      );
  });
  const busy = isaDmaChannels(k);
  if (!same(busy, hw.isaDmaBusy))
    throw new Error(
      `ISA DMA channels taken: ${JSON.stringify(busy)} after init, ${JSON.stringify(hw.isaDmaBusy)} in the snapshot`,
    );
  k.phys.isaDma.restoreState(hw.isaDma);
  restoreIrqs(k, hw.irqs);
  const named = driverTimers(k);
  // Active hrtimers and processes' alarm(2) timers take clock timers of their pools here, and the
  // saved clock's entries for them are moved to those (their expiry and order are the clock's).
  let clock = restoreKernelTimers(k, hw.timers, (owner, name) => named(owner).get(name), hw.clock);
  clock = restoreAlarms(k, hw.alarms, clock);
  k.phys.clock.restoreState(clock);
  restoreTimekeeper(k, hw.timekeeper);
  checkHrtimersArmed(k);
}
