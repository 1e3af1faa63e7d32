// A PCI function that does nothing but bus-master DMA (QEMU's 1b36:0043 id, one register page), on a
// 64 MiB machine: what the DMA API tests map memory for. `device()` is its model's context, whose
// dmaRead/dmaWrite are the device's own accesses by bus address.
import { definePciDevice, type PciDeviceContext } from "@faultline/devices";
import { Machine } from "../machine";
import { pciSetMaster } from "../pci";
import { pciDevOf } from "../pci-machine";

export async function dmaTestDevice(
  options: { readonly iommu?: boolean | "passthrough"; readonly busMaster?: boolean } = {},
) {
  let ctx: PciDeviceContext | null = null;
  const model = definePciDevice({
    name: "dmadev",
    vendorId: 0x1b36,
    deviceId: 0x0043,
    classCode: 0x088000,
    state: { name: "dmadev", version: 1, fields: {} },
    bars: [{ index: 0, type: "mem32", size: 0x1000, ops: { read: () => 0, write: () => {} } }],
    realize: (_s, c) => {
      ctx = c;
    },
  });
  const m = await Machine.create({ ramBytes: 64 << 20, devices: [model], iommu: options.iommu ?? false });
  const dev = pciDevOf(m, model)!;
  if (options.busMaster) m.withKernel(() => pciSetMaster(dev));
  return { m, dev, model, device: () => ctx! };
}
