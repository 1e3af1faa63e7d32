/**
 * The PCI driver API (include/linux/pci.h, drivers/pci/pci-driver.c, pci.c, iomap.c, msi/api.c,
 * kernel/resource.c): register a driver with an id table and be probed for each matching function,
 * enable it, claim and map its BARs, read and write its config space, take its interrupts (INTx or
 * MSI). Every function acts on the machine whose kernel is running the driver's code.
 */
import { _PAGE_CACHE_MODE_UC_MINUS, _PAGE_CACHE_MODE_WC, type PageCacheMode } from "@faultline/mm";
import {
  MSI_ADDR_BASE_LO,
  PCI_CAP_ID_MSI,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_QMASK,
  PCI_NUM_BARS,
} from "@faultline/phys";
import { EBUSY, EINVAL, ENOSPC } from "./constants";
import type { IoMem } from "./driver-api";
import { currentKernel, currentKernelOrNull } from "./internal/current";
import { hex16 } from "./internal/format";
import { ioremapReserve, ioremapTrack, iounmapRelease } from "./internal/ioremap";
import {
  allocMsiIrqs,
  freeIrq as doFreeIrq,
  requestIrq as doRequestIrq,
  freeMsiIrqs,
  type IrqHandler,
  irqActions,
} from "./internal/irq";
import type { Kernel } from "./internal/kernel";
import {
  busAddDevice,
  devState,
  disableDevice,
  enableDevice,
  IORESOURCE_IO,
  IORESOURCE_MEM,
  type PciDev,
  type PciDeviceId,
  type PciDriver,
  pciState,
  registerDriver,
  releaseBar,
  resourceOf,
  unregisterDriver,
} from "./internal/pci-bus";

export {
  IRQ_HANDLED,
  IRQ_NONE,
  IRQ_WAKE_THREAD,
  IRQF_SHARED,
  IRQF_TRIGGER_FALLING,
  IRQF_TRIGGER_HIGH,
  IRQF_TRIGGER_LOW,
  IRQF_TRIGGER_RISING,
  type IrqHandler,
} from "./internal/irq";
export {
  IORESOURCE_BUSY,
  IORESOURCE_IO,
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  IORESOURCE_SIZEALIGN,
  PCI_ANY_ID,
  type PciDev,
  type PciDeviceId,
  type PciDriver,
  type PciResourceView,
} from "./internal/pci-bus";

/** pci_alloc_irq_vectors() flags. */
export const PCI_IRQ_INTX = 1 << 0;
/** The old name of PCI_IRQ_INTX. */
export const PCI_IRQ_LEGACY = PCI_IRQ_INTX;
export const PCI_IRQ_MSI = 1 << 1;
export const PCI_IRQ_MSIX = 1 << 2;
export const PCI_IRQ_ALL_TYPES = PCI_IRQ_INTX | PCI_IRQ_MSI | PCI_IRQ_MSIX;

const owner = (k: Kernel) => k.currentDriver ?? "kernel";

/** PCI_DEVICE(vendor, device): an id matching any subsystem. */
export function PCI_DEVICE(vendor: number, device: number): PciDeviceId {
  return { vendor, device };
}

/** PCI_DEVICE_CLASS(class, mask): an id matching a class code under a mask. */
export function PCI_DEVICE_CLASS(cls: number, classMask: number): PciDeviceId {
  return { vendor: 0xffffffff, device: 0xffffffff, class: cls, classMask };
}

function checkDriver(drv: PciDriver): void {
  if (typeof drv !== "object" || drv === null)
    throw new TypeError("pciRegisterDriver: expected a pci_driver object");
  if (typeof drv.name !== "string" || drv.name === "")
    throw new TypeError("pciRegisterDriver: name must be a non-empty string");
  if (!Array.isArray(drv.idTable))
    throw new TypeError(`pciRegisterDriver(${drv.name}): idTable must be an array of ids`);
  if (typeof drv.probe !== "function")
    throw new TypeError(`pciRegisterDriver(${drv.name}): probe must be a function`);
  if (drv.remove !== undefined && typeof drv.remove !== "function") {
    throw new TypeError(`pciRegisterDriver(${drv.name}): remove must be a function`);
  }
}

/**
 * pci_register_driver(): the driver is probed now for every unbound function its idTable matches,
 * and later for each that appears. 0, or -EBUSY when a driver of that name is registered.
 */
export function pciRegisterDriver(drv: PciDriver): number {
  checkDriver(drv);
  const k = currentKernel("pciRegisterDriver");
  return registerDriver(k, owner(k), drv);
}

/** pci_unregister_driver(): remove() for each bound device. */
export function pciUnregisterDriver(drv: PciDriver): void {
  const k = currentKernel("pciUnregisterDriver");
  unregisterDriver(k, drv);
}

/** The pci_devs of the machine in bus order (for_each_pci_dev). */
export function pciDevices(): PciDev[] {
  const k = currentKernel("pciDevices");
  const s = pciState(k);
  return k.phys.pci.functions.map((f) => (s.devs.get(f) ?? { view: busAddDevice(k, f) }).view);
}

/** pci_get_device(vendor, device, from): the next function with these ids after `from`, or null. */
export function pciGetDevice(vendor: number, device: number, from: PciDev | null = null): PciDev | null {
  const list = pciDevices();
  const startAt = from ? list.indexOf(from) + 1 : 0;
  const any = 0xffffffff;
  return (
    list
      .slice(startAt)
      .find((d) => (vendor === any || d.vendor === vendor) && (device === any || d.device === device)) ?? null
  );
}

/** pci_name(): the device's address, as lspci prints it (0000:00:03.0). */
export const pciName = (dev: PciDev): string => dev.name;

/** pci_set_drvdata() / pci_get_drvdata(). */
export function pciSetDrvdata(dev: PciDev, data: unknown): void {
  devState(currentKernel("pciSetDrvdata"), dev, "pciSetDrvdata").drvdata = data;
}
/** pci_get_drvdata(): what the driver stored with pciSetDrvdata. */
export function pciGetDrvdata<T = unknown>(dev: PciDev): T {
  return devState(currentKernel("pciGetDrvdata"), dev, "pciGetDrvdata").drvdata as T;
}

/** pci_enable_device(): memory and I/O decode on for the BARs the function has. Returns 0. */
export function pciEnableDevice(dev: PciDev): number {
  const k = currentKernel("pciEnableDevice");
  return enableDevice(k, devState(k, dev, "pciEnableDevice"));
}

/** pci_disable_device(): the last one turns bus mastering off. */
export function pciDisableDevice(dev: PciDev): void {
  const k = currentKernel("pciDisableDevice");
  disableDevice(k, devState(k, dev, "pciDisableDevice"));
}

/** pci_set_master(): bus mastering on (the device may DMA and send MSI from now on). */
export function pciSetMaster(dev: PciDev): void {
  const k = currentKernel("pciSetMaster");
  const fn = devState(k, dev, "pciSetMaster").fn;
  fn.configWrite(PCI_COMMAND, 2, fn.command | PCI_COMMAND_MASTER);
}

/** pci_clear_master(). */
export function pciClearMaster(dev: PciDev): void {
  const k = currentKernel("pciClearMaster");
  const fn = devState(k, dev, "pciClearMaster").fn;
  fn.configWrite(PCI_COMMAND, 2, fn.command & ~PCI_COMMAND_MASTER);
}

function res(dev: PciDev, bar: number, what: string) {
  const k = currentKernel(what);
  return resourceOf(devState(k, dev, what).fn, bar);
}

/** pci_resource_start(): the BAR's address, 0 for an empty BAR. */
export function pciResourceStart(dev: PciDev, bar: number): number {
  return res(dev, bar, "pciResourceStart").start;
}

/** pci_resource_end(). */
export function pciResourceEnd(dev: PciDev, bar: number): number {
  return res(dev, bar, "pciResourceEnd").end;
}

/** pci_resource_len(): 0 for an empty BAR. */
export function pciResourceLen(dev: PciDev, bar: number): number {
  const r = res(dev, bar, "pciResourceLen");
  return r.flags === 0 ? 0 : r.end - r.start + 1;
}

/** pci_resource_flags(): IORESOURCE_MEM/IO, PREFETCH, MEM_64, SIZEALIGN and the BAR's low bits. */
export function pciResourceFlags(dev: PciDev, bar: number): number {
  return res(dev, bar, "pciResourceFlags").flags;
}

/** A claimed region (struct resource), or null when it was refused. */
export interface ClaimedRegion {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/** request_mem_region(): null when any part is claimed already (the caller returns -EBUSY). */
export function requestMemRegion(start: number, n: number, name: string): ClaimedRegion | null {
  const k = currentKernel("requestMemRegion");
  return k.phys.requestMemRegion(start, n, name) ? { start, end: start + n - 1, name } : null;
}

/** release_mem_region(). */
export function releaseMemRegion(start: number, n: number): void {
  const k = currentKernel("releaseMemRegion");
  if (!k.phys.releaseMemRegion(start, n)) {
    k.log.printk(4, `Trying to free nonexistent resource <${hex16(start)}-${hex16(start + n - 1)}>`);
  }
}

/** request_region(): I/O ports, shown in /proc/ioports. */
export function requestRegion(start: number, n: number, name: string): ClaimedRegion | null {
  const k = currentKernel("requestRegion");
  return k.phys.requestRegion(start, n, name) ? { start, end: start + n - 1, name } : null;
}

/** release_region(). */
export function releaseRegion(start: number, n: number): void {
  const k = currentKernel("releaseRegion");
  if (!k.phys.releaseRegion(start, n)) {
    k.log.printk(4, `Trying to free nonexistent resource <${hex16(start)}-${hex16(start + n - 1)}>`);
  }
}

const pr = (start: number, end: number, flags: number) =>
  `[${flags & IORESOURCE_IO ? "io" : "mem"} 0x${start.toString(16).padStart(flags & IORESOURCE_IO ? 4 : 8, "0")}-0x${end.toString(16).padStart(flags & IORESOURCE_IO ? 4 : 8, "0")}${flags & 0x100000 ? " 64bit" : ""}${flags & 0x2000 ? " pref" : ""}]`;

/**
 * pci_request_region(): claims BAR `bar` under the name (nested under the BAR in /proc/iomem or
 * /proc/ioports). 0 for an empty BAR; -EBUSY (with the kernel's warning) when it is claimed already.
 */
export function pciRequestRegion(dev: PciDev, bar: number, name: string): number {
  const k = currentKernel("pciRequestRegion");
  const d = devState(k, dev, "pciRequestRegion");
  const r = resourceOf(d.fn, bar);
  if (!r.flags || !r.start) return 0;
  const len = r.end - r.start + 1;
  const ok =
    r.flags & IORESOURCE_IO
      ? k.phys.requestRegion(r.start, len, name)
      : r.flags & IORESOURCE_MEM && k.phys.requestMemRegion(r.start, len, name);
  if (!ok) {
    k.log.printk(
      4,
      `${dev.driverName ?? "pci"} ${dev.name}: BAR ${bar} ${pr(r.start, r.end, r.flags)}: can't reserve`,
    );
    return -EBUSY;
  }
  d.claimed.set(bar, name);
  return 0;
}

/** pci_release_region(). */
export function pciReleaseRegion(dev: PciDev, bar: number): void {
  const k = currentKernel("pciReleaseRegion");
  releaseBar(k, devState(k, dev, "pciReleaseRegion"), bar);
}

/** pci_request_regions(): every BAR, or none (what was claimed is released on failure). */
export function pciRequestRegions(dev: PciDev, name: string): number {
  const k = currentKernel("pciRequestRegions");
  const d = devState(k, dev, "pciRequestRegions");
  for (let i = 0; i < PCI_NUM_BARS; i++) {
    const r = pciRequestRegion(dev, i, name);
    if (r < 0) {
      for (let j = 0; j < i; j++) releaseBar(k, d, j);
      return r;
    }
  }
  return 0;
}

/** pci_release_regions(). */
export function pciReleaseRegions(dev: PciDev): void {
  const k = currentKernel("pciReleaseRegions");
  const d = devState(k, dev, "pciReleaseRegions");
  for (let i = 0; i < PCI_NUM_BARS; i++) releaseBar(k, d, i);
}

// ---- config space ---------------------------------------------------------------------------------

/** pci_read_config_*(): the value, read through the function's config space (and its hooks). */
export function pciReadConfigByte(dev: PciDev, where: number): number {
  return cfg(dev, "pciReadConfigByte").configRead(where, 1);
}
/** pci_read_config_word(): 16 bits of config space at `where`. */
export function pciReadConfigWord(dev: PciDev, where: number): number {
  return cfg(dev, "pciReadConfigWord").configRead(where, 2);
}
/** pci_read_config_dword(): 32 bits of config space at `where`. */
export function pciReadConfigDword(dev: PciDev, where: number): number {
  return cfg(dev, "pciReadConfigDword").configRead(where, 4);
}
/** pci_write_config_*(): 0 (PCIBIOS_SUCCESSFUL), or -EINVAL for a misaligned or outside access. */
export function pciWriteConfigByte(dev: PciDev, where: number, val: number): number {
  return cfgWrite(dev, where, 1, val, "pciWriteConfigByte");
}
/** pci_write_config_word(): writes 16 bits of config space at `where`; 0 or an error code. */
export function pciWriteConfigWord(dev: PciDev, where: number, val: number): number {
  return cfgWrite(dev, where, 2, val, "pciWriteConfigWord");
}
/** pci_write_config_dword(): writes 32 bits of config space at `where`; 0 or an error code. */
export function pciWriteConfigDword(dev: PciDev, where: number, val: number): number {
  return cfgWrite(dev, where, 4, val, "pciWriteConfigDword");
}

function cfg(dev: PciDev, what: string) {
  const k = currentKernel(what);
  return devState(k, dev, what).fn;
}

function cfgWrite(dev: PciDev, where: number, size: 1 | 2 | 4, val: number, what: string): number {
  // PCI_OP_WRITE: a misaligned access is PCIBIOS_BAD_REGISTER_NUMBER (-EINVAL through pcibios_err_to_errno).
  if (!Number.isInteger(where) || where < 0 || where + size > 256 || where % size !== 0) return -EINVAL;
  cfg(dev, what).configWrite(where, size, val >>> 0);
  return 0;
}

/** pci_find_capability(): the offset of capability `cap`, or 0. */
export function pciFindCapability(dev: PciDev, cap: number): number {
  return cfg(dev, "pciFindCapability").findCapability(cap);
}

// ---- mapping BARs -----------------------------------------------------------------------------------

/** What pci_iomap returns: an IoMem over memory (MMIO) or over ports (for an I/O BAR). */
export interface PciIomem extends IoMem {
  /** True for an I/O-port BAR (ioread* become in*, iowrite* out*). */
  readonly io: boolean;
}

function makeIomem(k: Kernel, base: number, size: number, io: boolean): PciIomem {
  const as = k.phys.as;
  const p = k.phys;
  const at = (o: number, n: number) => {
    if (!Number.isInteger(o) || o < 0 || o + n > size) {
      throw new RangeError(
        `${io ? "ioport" : "iomem"} window 0x${base.toString(16)}: offset ${o} out of range`,
      );
    }
    return base + o;
  };
  return {
    phys: base,
    size,
    io,
    readb: (o) => (io ? p.inb(at(o, 1)) : (as.physRead(at(o, 1), 1) as number)),
    readw: (o) => (io ? p.inw(at(o, 2)) : (as.physRead(at(o, 2), 2) as number)),
    readl: (o) => (io ? p.inl(at(o, 4)) : (as.physRead(at(o, 4), 4) as number)),
    writeb: (v, o) => void (io ? p.outb(at(o, 1), v) : as.physWrite(at(o, 1), 1, v)),
    writew: (v, o) => void (io ? p.outw(at(o, 2), v) : as.physWrite(at(o, 2), 2, v)),
    writel: (v, o) => void (io ? p.outl(at(o, 4), v) : as.physWrite(at(o, 4), 4, v)),
  };
}

/**
 * pci_iomap(dev, bar, maxlen): the BAR mapped (ioremap for memory, ioport_map for I/O), at most
 * `maxlen` bytes (0: all of it); null for an empty or unassigned BAR. A memory BAR's pages are
 * reserved uncached-minus in the PAT memtype list until pci_iounmap (null if that is refused).
 */
export function pciIomap(dev: PciDev, bar: number, maxlen = 0): PciIomem | null {
  return pciIomapCaller("pciIomap", dev, bar, maxlen, _PAGE_CACHE_MODE_UC_MINUS);
}

/** pci_iomap_wc(): as pciIomap, the memory BAR write-combined (ioremap_wc); an I/O BAR gets null. */
export function pciIomapWc(dev: PciDev, bar: number, maxlen = 0): PciIomem | null {
  return pciIomapCaller("pciIomapWc", dev, bar, maxlen, _PAGE_CACHE_MODE_WC);
}

function pciIomapCaller(
  what: string,
  dev: PciDev,
  bar: number,
  maxlen: number,
  pcm: PageCacheMode,
): PciIomem | null {
  const k = currentKernel(what);
  const r = resourceOf(devState(k, dev, what).fn, bar);
  if (!r.flags || !r.start) return null;
  let len = r.end - r.start + 1;
  if (maxlen && maxlen < len) len = maxlen;
  const io = (r.flags & IORESOURCE_IO) !== 0;
  if (io) return pcm === _PAGE_CACHE_MODE_WC ? null : makeIomem(k, r.start, len, true);
  const reserved = ioremapReserve(k, r.start, len, pcm);
  if (reserved.type < 0) return null;
  const win = makeIomem(k, r.start, len, false);
  ioremapTrack(win, reserved.range);
  return win;
}

/** pci_iounmap(): frees a memory window's memtype reservation. */
export function pciIounmap(_dev: PciDev, addr: PciIomem): void {
  if (!addr.io) iounmapRelease(currentKernelOrNull("pciIounmap"), addr);
}

/** ioport_map(port, nr). */
export function ioportMap(port: number, nr: number): PciIomem {
  return makeIomem(currentKernel("ioportMap"), port, nr, true);
}

/** ioread8/16/32 and iowrite8/16/32 on an ioremap()/pci_iomap() cookie plus an offset. */
export const ioread8 = (addr: IoMem, offset = 0): number => addr.readb(offset);
/** ioread16(): a 16-bit register read at `offset` of an iomapped window. */
export const ioread16 = (addr: IoMem, offset = 0): number => addr.readw(offset);
/** ioread32(): a 32-bit register read at `offset` of an iomapped window. */
export const ioread32 = (addr: IoMem, offset = 0): number => addr.readl(offset);
/** iowrite8(): an 8-bit register write at `offset` of an iomapped window. */
export const iowrite8 = (value: number, addr: IoMem, offset = 0): void => addr.writeb(value, offset);
/** iowrite16(): a 16-bit register write at `offset` of an iomapped window. */
export const iowrite16 = (value: number, addr: IoMem, offset = 0): void => addr.writew(value, offset);
/** iowrite32(): a 32-bit register write at `offset` of an iomapped window. */
export const iowrite32 = (value: number, addr: IoMem, offset = 0): void => addr.writel(value, offset);

/** readq(): one 64-bit MMIO load (the device sees one 8-byte access, or the parts its impl asks for). */
export function readq(addr: IoMem, offset = 0): bigint {
  if ((addr as PciIomem).io) throw new TypeError("readq: an I/O-port mapping has no 64-bit accesses");
  const k = currentKernel("readq");
  if (!Number.isInteger(offset) || offset < 0 || offset + 8 > addr.size) {
    throw new RangeError(`readq: offset ${offset} outside the ${addr.size}-byte window`);
  }
  return k.phys.as.physRead64(addr.phys + offset);
}

/** writeq(value, addr). */
export function writeq(value: bigint, addr: IoMem, offset = 0): void {
  if ((addr as PciIomem).io) throw new TypeError("writeq: an I/O-port mapping has no 64-bit accesses");
  const k = currentKernel("writeq");
  if (!Number.isInteger(offset) || offset < 0 || offset + 8 > addr.size) {
    throw new RangeError(`writeq: offset ${offset} outside the ${addr.size}-byte window`);
  }
  k.phys.as.physWrite64(addr.phys + offset, BigInt.asUintN(64, value));
}

// ---- interrupts ---------------------------------------------------------------------------------------

/**
 * request_irq(irq, handler, flags, name, dev_id): 0; -EINVAL for an irq with no descriptor, no
 * handler, or IRQF_SHARED without a dev_id; -EBUSY when the line is taken and not both shared.
 */
export function requestIrq(
  irq: number,
  handler: IrqHandler,
  flags: number,
  name: string,
  devId?: unknown,
): number {
  const k = currentKernel("requestIrq");
  return doRequestIrq(k, owner(k), irq, handler, flags, name, devId);
}

/** free_irq(irq, dev_id): the name it was requested with, or null ("Trying to free already-free IRQ"). */
export function freeIrq(irq: number, devId?: unknown): string | null {
  return doFreeIrq(currentKernel("freeIrq"), irq, devId);
}

/**
 * pci_alloc_irq_vectors(dev, min, max, flags): MSI when allowed and the function has the
 * capability (a power of two of vectors, at most what it asks for), else its INTx line. Returns the
 * number of vectors, -ENOSPC when fewer than `min` are possible, -EINVAL for bad arguments.
 */
export function pciAllocIrqVectors(dev: PciDev, minVecs: number, maxVecs: number, flags: number): number {
  const k = currentKernel("pciAllocIrqVectors");
  const d = devState(k, dev, "pciAllocIrqVectors");
  if (!Number.isInteger(minVecs) || !Number.isInteger(maxVecs) || minVecs < 1 || maxVecs < minVecs)
    return -EINVAL;
  if (d.msiIrqs.length) return -EINVAL;
  const fn = d.fn;
  const cap = flags & PCI_IRQ_MSI ? fn.findCapability(PCI_CAP_ID_MSI) : 0;
  if (cap) {
    const mmc = 1 << ((fn.configRead(cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK) >> 1);
    let n = 1;
    while (n * 2 <= Math.min(maxVecs, mmc)) n *= 2;
    if (n >= minVecs) {
      const irqs = allocMsiIrqs(k, fn, n);
      fn.configWrite(cap + PCI_MSI_ADDRESS_LO, 4, MSI_ADDR_BASE_LO);
      fn.configWrite(cap + PCI_MSI_DATA_32, 2, irqs[0]!);
      fn.configWrite(cap + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | (Math.log2(n) << 4));
      d.msiIrqs = irqs;
      d.irq = irqs[0]!;
      return n;
    }
  }
  if (flags & PCI_IRQ_INTX && fn.interruptLine && minVecs === 1) return 1;
  return -ENOSPC;
}

/** pci_irq_vector(dev, nr): the irq of vector `nr`, -EINVAL when there is none. */
export function pciIrqVector(dev: PciDev, nr: number): number {
  const k = currentKernel("pciIrqVector");
  const d = devState(k, dev, "pciIrqVector");
  if (d.msiIrqs.length) return d.msiIrqs[nr] ?? -EINVAL;
  return nr === 0 && d.fn.interruptLine ? d.fn.interruptLine : -EINVAL;
}

/** pci_free_irq_vectors(): MSI off, the vectors' irqs gone (they must have been freed). */
export function pciFreeIrqVectors(dev: PciDev): void {
  const k = currentKernel("pciFreeIrqVectors");
  const d = devState(k, dev, "pciFreeIrqVectors");
  if (!d.msiIrqs.length) return;
  for (const irq of d.msiIrqs) {
    // free_msi_irqs(): BUG_ON(irq_has_action(irq)) — a driver bug, reported as an oops.
    if (irqActions(k, irq).length) throw new Error(`pciFreeIrqVectors: IRQ ${irq} still has an action`);
  }
  const cap = d.fn.findCapability(PCI_CAP_ID_MSI);
  if (cap) d.fn.configWrite(cap + PCI_MSI_FLAGS, 2, 0);
  freeMsiIrqs(k, d.msiIrqs);
  d.msiIrqs = [];
  d.irq = d.fn.interruptLine;
}
