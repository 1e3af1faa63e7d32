/**
 * Machine-level PCI operations for the machine's owner (a test, the simulator): plug a device model
 * in after boot (pci_bus_add_device: it is offered to the registered drivers), pull one out (its
 * driver's remove runs first), and the `lspci -v` view with the kernel's IRQs and bound drivers.
 */
import type { PciFunction } from "@faultline/phys";
import { withKernel } from "./internal/oops";
import { busAddDevice, busRemoveDevice, type PciDev, pciState } from "./internal/pci-bus";
import "./internal/irq";
import type { Machine } from "./machine";
import type { DeviceModel } from "./options";

function functionOf(device: DeviceModel): PciFunction {
  const pci = (device as { pci?: PciFunction }).pci;
  if (device.bus !== "pci" || !pci)
    throw new TypeError(`device "${device.name}" is not a realized PCI device model`);
  return pci;
}

/** Hot-plugs a PCI device model: realized on the bus (BARs assigned), then probed by the drivers. */
export function plugPciDevice(m: Machine, device: DeviceModel): PciDev {
  if (device.bus !== "pci")
    throw new TypeError(`plugPciDevice: device "${device.name}" is on the ${device.bus} bus`);
  device.realize(m.phys);
  return withKernel(m.kernel, () => busAddDevice(m.kernel, functionOf(device)));
}

/** Hot-unplugs it: the bound driver's remove(), then the function leaves the bus. */
export function unplugPciDevice(m: Machine, device: DeviceModel): void {
  const fn = functionOf(device);
  withKernel(m.kernel, () => busRemoveDevice(m.kernel, fn));
  const unrealize = (device as { unrealize?: (p: typeof m.phys) => void }).unrealize;
  if (unrealize) unrealize.call(device, m.phys);
  else m.phys.removePciDevice(fn);
}

/** The pci_dev of a device model (for tests and tools), or null when it is not on this machine's bus. */
export function pciDevOf(m: Machine, device: DeviceModel): PciDev | null {
  const fn = (device as { pci?: PciFunction }).pci;
  return (fn && pciState(m.kernel).devs.get(fn)?.view) ?? null;
}

/** `lspci -v` as the kernel shows it: IRQ from the pci_dev, "Kernel driver in use" for bound ones. */
export function lspci(m: Machine): string {
  const s = pciState(m.kernel);
  return m.phys.pci.lspci({
    irq: (f) => s.devs.get(f as PciFunction)?.view.irq ?? 0,
    driver: (f) => s.devs.get(f as PciFunction)?.view.driverName ?? null,
  });
}
