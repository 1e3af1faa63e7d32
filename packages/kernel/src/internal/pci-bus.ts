/**
 * The kernel's PCI core: one `struct pci_dev` per function on bus 0 (drivers/pci/probe.c), the
 * registered `struct pci_driver`s and the binding between them (drivers/pci/pci-driver.c:
 * pci_register_driver → driver_attach → pci_device_probe; pci_bus_add_device → device_attach for a
 * function that appears later), and /proc/bus/pci/devices (drivers/pci/proc.c: show_device).
 *
 * The state hangs off the Kernel in a WeakMap and is made on first use: the interrupt controller's
 * INTx and MSI inputs are wired to the bus then (irq.ts), before any driver can have asked for one.
 */
import type { PciFunction } from "@faultline/phys";
import { PCI_NUM_BARS } from "@faultline/phys";
import { EBUSY, EFAULT, EINVAL, ENODEV, ENXIO } from "../constants";
import type { Kernel } from "./kernel";
import { callDriver } from "./oops";

/** PCI_ANY_ID: matches every value of a field in a pci_device_id. */
export const PCI_ANY_ID = 0xffffffff;

/** include/linux/ioport.h resource flags. */
export const IORESOURCE_IO = 0x00000100;
export const IORESOURCE_MEM = 0x00000200;
export const IORESOURCE_PREFETCH = 0x00002000;
export const IORESOURCE_SIZEALIGN = 0x00040000;
export const IORESOURCE_MEM_64 = 0x00100000;
export const IORESOURCE_BUSY = 0x80000000;
/** The BAR's low type bits kept in resource flags (PCI_REGION_FLAG_MASK). */
export const PCI_REGION_FLAG_MASK = 0x0f;
/** Resources shown per function in /proc/bus/pci/devices: the six BARs and the ROM. */
const PROC_RESOURCES = 7;

/** struct pci_device_id */
export interface PciDeviceId {
  readonly vendor: number;
  readonly device: number;
  readonly subvendor?: number;
  readonly subdevice?: number;
  /** (class << 8 | prog-if) compared under classMask. */
  readonly class?: number;
  readonly classMask?: number;
  readonly driverData?: unknown;
}

/** struct pci_driver */
export interface PciDriver {
  readonly name: string;
  readonly idTable: readonly PciDeviceId[];
  probe(dev: PciDev, id: PciDeviceId): number;
  remove?(dev: PciDev): void;
}

/** One BAR as dev->resource[i] holds it. */
export interface PciResourceView {
  readonly start: number;
  readonly end: number;
  readonly flags: number;
}

/** struct pci_dev, as much of it as a driver reads. */
export interface PciDev {
  readonly vendor: number;
  readonly device: number;
  readonly subsystemVendor: number;
  readonly subsystemDevice: number;
  /** 24-bit class code (base, sub, prog-if). */
  readonly class: number;
  readonly revision: number;
  readonly devfn: number;
  /** The bus number (always 0 here). */
  readonly busNumber: number;
  /** The IRQ a driver passes to requestIrq: the INTx line, or the first MSI vector once allocated. */
  readonly irq: number;
  /** The bound driver's name, or null. */
  readonly driverName: string | null;
  /** pci_name(): "0000:00:02.0". */
  readonly name: string;
  /** dev->dma_mask / coherent_dma_mask (DMA_BIT_MASK(32) by default, as for every PCI device). */
  readonly dmaMask: number;
  readonly coherentDmaMask: number;
  readonly isBusmaster: boolean;
  /** pci_is_enabled(): enable_cnt > 0. */
  readonly enabled: boolean;
}

/** The kernel's record behind a PciDev (what the public object is a view of). */
export interface PciDevState {
  readonly fn: PciFunction;
  readonly view: PciDev;
  driver: RegisteredDriver | null;
  enableCnt: number;
  irq: number;
  dmaMask: number;
  coherentDmaMask: number;
  drvdata: unknown;
  /** BARs claimed through pci_request_region (index → name), released on unbind. */
  readonly claimed: Map<number, string>;
  /** MSI vectors allocated (irq numbers), freed with pci_free_irq_vectors. */
  msiIrqs: number[];
  gone: boolean;
}

export interface RegisteredDriver {
  readonly drv: PciDriver;
  /** The module that registered it. */
  readonly owner: string;
}

/** Hooks other parts of the PCI core hang on unbind (irq.ts, dma.ts): leak reports and cleanup. */
export type UnbindHook = (k: Kernel, d: PciDevState) => void;

export interface PciState {
  readonly devs: Map<PciFunction, PciDevState>;
  readonly drivers: Map<string, RegisteredDriver>;
  readonly unbindHooks: UnbindHook[];
}

const states = new WeakMap<Kernel, PciState>();
const installers: Array<(k: Kernel, s: PciState) => void> = [];

/** Other PCI-core files (irq.ts) register what they wire up when the state is first made. */
export function onPciInstall(f: (k: Kernel, s: PciState) => void): void {
  installers.push(f);
}

export const DMA_BIT_MASK_32 = 0xffffffff;

export function pciState(k: Kernel): PciState {
  let s = states.get(k);
  if (!s) {
    s = { devs: new Map(), drivers: new Map(), unbindHooks: [] };
    states.set(k, s);
    for (const f of k.phys.pci.functions) addDev(k, s, f);
    for (const f of installers) f(k, s);
  }
  return s;
}

function addDev(_k: Kernel, s: PciState, fn: PciFunction): PciDevState {
  const c = fn.config;
  const r16 = (o: number) => c[o]! | (c[o + 1]! << 8);
  const st: PciDevState = {
    fn,
    view: null as unknown as PciDev,
    driver: null,
    enableCnt: 0,
    irq: fn.interruptLine,
    dmaMask: DMA_BIT_MASK_32,
    coherentDmaMask: DMA_BIT_MASK_32,
    drvdata: null,
    claimed: new Map(),
    msiIrqs: [],
    gone: false,
  };
  const view: PciDev = {
    vendor: r16(0x00),
    device: r16(0x02),
    subsystemVendor: r16(0x2c),
    subsystemDevice: r16(0x2e),
    class: c[0x09]! | (r16(0x0a) << 8),
    revision: c[0x08]!,
    devfn: (fn.slot << 3) | fn.fn,
    busNumber: 0,
    name: fn.name,
    get irq() {
      return st.irq;
    },
    get driverName() {
      return st.driver?.drv.name ?? null;
    },
    get dmaMask() {
      return st.dmaMask;
    },
    get coherentDmaMask() {
      return st.coherentDmaMask;
    },
    get isBusmaster() {
      return fn.busMaster;
    },
    get enabled() {
      return st.enableCnt > 0;
    },
  };
  (st as { view: PciDev }).view = view;
  s.devs.set(fn, st);
  return st;
}

/** The state behind a PciDev handed to a driver (throws a TypeError for anything else). */
export function devState(k: Kernel, dev: PciDev, what: string): PciDevState {
  for (const d of pciState(k).devs.values()) if (d.view === dev) return d;
  throw new TypeError(`${what}: not a PCI device of this machine`);
}

/** pci_match_one_device() over an id table. */
export function matchId(dev: PciDev, ids: readonly PciDeviceId[]): PciDeviceId | null {
  const eq = (want: number | undefined, have: number) =>
    want === undefined || want === PCI_ANY_ID || want === have;
  for (const id of ids) {
    if (!eq(id.vendor, dev.vendor) || !eq(id.device, dev.device)) continue;
    if (!eq(id.subvendor, dev.subsystemVendor) || !eq(id.subdevice, dev.subsystemDevice)) continue;
    if (((id.class ?? 0) ^ dev.class) & (id.classMask ?? 0)) continue;
    return id;
  }
  return null;
}

/** pci_device_probe(): tries `rd` on an unbound device; true when it bound. */
function tryProbe(k: Kernel, d: PciDevState, rd: RegisteredDriver): boolean {
  if (d.driver || d.gone) return false;
  const id = matchId(d.view, rd.drv.idTable);
  if (!id) return false;
  // really_probe(): dev->driver is set while probe runs (dev_printk names the driver).
  d.driver = rd;
  const r = callDriver(k, rd.owner, `${rd.drv.name}->probe`, () => rd.drv.probe(d.view, id), -EFAULT_PROBE);
  // driver_bound() says so only at debug level: nothing in dmesg.
  if (r === 0) return true;
  d.driver = null;
  cleanupAfterUnbind(k, d);
  // call_driver_probe(): -ENODEV/-ENXIO are quiet, anything else is reported.
  if (r !== -ENODEV && r !== -ENXIO) {
    k.log.printk(3, `pci ${d.fn.name}: probe with driver ${rd.drv.name} failed with error ${r}`);
  }
  return false;
}

/** What a probe that oopsed counts as (the oops is reported on its own). */
const EFAULT_PROBE = EFAULT;

/** __pci_register_driver(): adds the driver and probes every unbound device it matches. */
export function registerDriver(k: Kernel, owner: string, drv: PciDriver): number {
  const s = pciState(k);
  if (s.drivers.has(drv.name)) {
    k.log.printk(3, `Error: Driver '${drv.name}' is already registered, aborting...`);
    return -EBUSY;
  }
  const rd: RegisteredDriver = { drv, owner };
  s.drivers.set(drv.name, rd);
  for (const d of s.devs.values()) tryProbe(k, d, rd);
  return 0;
}

/** pci_unregister_driver(): remove() on every bound device, then the driver is gone. */
export function unregisterDriver(k: Kernel, drv: PciDriver): number {
  const s = pciState(k);
  const rd = s.drivers.get(drv.name);
  if (!rd || rd.drv !== drv) return -EINVAL;
  for (const d of s.devs.values()) if (d.driver === rd) unbind(k, d);
  s.drivers.delete(drv.name);
  return 0;
}

/** device_release_driver(): remove(), then what the driver left is reported and undone. */
function unbind(k: Kernel, d: PciDevState): void {
  const rd = d.driver;
  if (!rd) return;
  const remove = rd.drv.remove;
  if (remove) callDriver(k, rd.owner, `${rd.drv.name}->remove`, () => remove.call(rd.drv, d.view), undefined);
  d.driver = null;
  cleanupAfterUnbind(k, d);
}

/** What the PCI core undoes when a device loses its driver (pci_device_remove and devres-like leftovers). */
function cleanupAfterUnbind(k: Kernel, d: PciDevState): void {
  for (const h of pciState(k).unbindHooks) h(k, d);
  for (const [bar, name] of d.claimed) {
    releaseBar(k, d, bar);
    k.log.printk(4, `pci ${d.fn.name}: BAR ${bar} still claimed by "${name}" after unbind: released`);
  }
  d.drvdata = null;
  // pci_device_remove(): a driver that left the device enabled has it disabled for it.
  if (d.enableCnt > 0) {
    d.enableCnt = 1;
    disableDevice(k, d);
  }
}

/** pci_bus_add_device() for a function plugged in after boot: offered to every registered driver. */
export function busAddDevice(k: Kernel, fn: PciFunction): PciDev {
  const s = pciState(k);
  const d = s.devs.get(fn) ?? addDev(k, s, fn);
  for (const rd of s.drivers.values()) if (tryProbe(k, d, rd)) break;
  return d.view;
}

/** pci_stop_and_remove_bus_device(): its driver's remove() runs, the pci_dev goes. */
export function busRemoveDevice(k: Kernel, fn: PciFunction): void {
  const s = pciState(k);
  const d = s.devs.get(fn);
  if (!d) return;
  unbind(k, d);
  d.gone = true;
  s.devs.delete(fn);
}

/** What a module leaves when it is unloaded: its PCI drivers are unregistered (with a warning). */
export function moduleGone(k: Kernel, owner: string): void {
  const s = states.get(k);
  if (!s) return;
  for (const rd of [...s.drivers.values()]) {
    if (rd.owner !== owner) continue;
    k.log.printk(
      4,
      `${owner}: module unloaded with PCI driver "${rd.drv.name}" still registered: unregistering it`,
    );
    unregisterDriver(k, rd.drv);
  }
}

/** dev->resource[bar] (zeros for an empty BAR or the upper half of a 64-bit one). */
export function resourceOf(fn: PciFunction, bar: number): PciResourceView {
  const b = Number.isInteger(bar) && bar >= 0 && bar < PCI_NUM_BARS ? fn.bar(bar) : null;
  if (!b) return { start: 0, end: 0, flags: 0 };
  // decode_bar(): the BAR's low bits, the resource type, PREFETCH and MEM_64; then SIZEALIGN.
  let flags = IORESOURCE_SIZEALIGN;
  if (b.io) flags |= IORESOURCE_IO | 0x1;
  else {
    flags |= IORESOURCE_MEM;
    if (b.is64) flags |= IORESOURCE_MEM_64 | 0x4;
    if (b.prefetchable) flags |= IORESOURCE_PREFETCH | 0x8;
  }
  const start = fn.barValue(bar);
  return { start, end: start ? start + b.size - 1 : b.size - 1, flags: flags >>> 0 };
}

/** pci_enable_device(): decode on for the BARs it has (pci_enable_resources), enable_cnt + 1. */
export function enableDevice(k: Kernel, d: PciDevState): number {
  if (d.enableCnt++ > 0) return 0;
  const fn = d.fn;
  const old = fn.command;
  let cmd = old;
  for (let i = 0; i < PCI_NUM_BARS; i++) {
    const b = fn.bar(i);
    if (b) cmd |= b.io ? 0x1 : 0x2;
  }
  if (cmd !== old) {
    const h4 = (n: number) => n.toString(16).padStart(4, "0");
    k.log.printk(6, `${d.driver?.drv.name ?? "pci"} ${fn.name}: enabling device (${h4(old)} -> ${h4(cmd)})`);
    fn.configWrite(0x04, 2, cmd);
  }
  return 0;
}

/** pci_disable_device(): on the last disable, bus mastering goes off (do_pci_disable_device). */
export function disableDevice(_k: Kernel, d: PciDevState): void {
  if (d.enableCnt === 0) return;
  if (--d.enableCnt > 0) return;
  const fn = d.fn;
  if (fn.busMaster) fn.configWrite(0x04, 2, fn.command & ~0x4);
}

/** pci_release_region(). */
export function releaseBar(k: Kernel, d: PciDevState, bar: number): void {
  const r = resourceOf(d.fn, bar);
  const len = r.start ? r.end - r.start + 1 : 0;
  if (!len || !d.claimed.has(bar)) return;
  if (r.flags & IORESOURCE_IO) k.phys.releaseRegion(r.start, len);
  else k.phys.releaseMemRegion(r.start, len);
  d.claimed.delete(bar);
}

/** /proc/bus/pci/devices (show_device). */
export function renderProcBusPciDevices(k: Kernel): string {
  const s = pciState(k);
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const col = (n: number) => `\t${n.toString(16).padStart(16, " ")}`;
  let out = "";
  for (const fn of k.phys.pci.functions) {
    const d = s.devs.get(fn);
    if (!d) continue;
    const v = d.view;
    let line = `${h(v.busNumber, 2)}${h(v.devfn, 2)}\t${h(v.vendor, 4)}${h(v.device, 4)}\t${v.irq.toString(16)}`;
    const res = Array.from({ length: PROC_RESOURCES }, (_, i) => resourceOf(fn, i));
    for (const r of res) line += col(r.start + (r.flags & PCI_REGION_FLAG_MASK));
    for (const r of res) line += col(r.start < r.end ? r.end - r.start + 1 : 0);
    out += `${line}\t${v.driverName ?? ""}\n`;
  }
  return out;
}
