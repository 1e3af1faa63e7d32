// dma_mmap_coherent (docs/dma-and-direct-io.md): a driver gives a process its coherent buffer, so the
// process reads what the driver (or the device, by DMA) wrote there without a copy. `iommu` picks
// dma-direct or iommu-dma; the mapping is the same.
import { PCI_DMA_DEVICE_ID, PCI_DMA_VENDOR_ID, pciDmaEngine } from "@faultline/devices";
import {
  type DmaCoherent,
  defineDriver,
  dmaAllocCoherent,
  dmaMmapCoherent,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PCI_DEVICE,
  type PciDev,
  PROT_READ,
  pciRegisterDriver,
} from "@faultline/kernel";

const SIZE = 2 * 4096;

const ringDriver = () => {
  let dev: PciDev | null = null;
  let ring: DmaCoherent | null = null;
  return defineDriver({
    name: "ring",
    apiVersion: 1,
    init(ctx) {
      pciRegisterDriver({
        name: "ring",
        idTable: [PCI_DEVICE(PCI_DMA_VENDOR_ID, PCI_DMA_DEVICE_ID)],
        probe(d) {
          dev = d;
          ring = dmaAllocCoherent(d, SIZE);
          if (!ring) return -12;
          ring.bytes.set(new TextEncoder().encode("page 1 of the ring"), 4096);
          return 0;
        },
      });
      const major = ctx.allocChrdevRegion(0, 1, "ring");
      ctx.cdevAdd(major, 0, 1, {
        // vm_pgoff pages into the ring; -ENXIO past its end.
        mmap: (_file, vma) => dmaMmapCoherent(dev!, vma, ring!.vaddr, ring!.dmaHandle, SIZE),
      });
      ctx.createDevNode("ring", major, 0);
      return 0;
    },
  });
};

export async function mmapCoherent(iommu: boolean) {
  const m = await Machine.create({
    ramBytes: 16 << 20,
    iommu,
    devices: [pciDmaEngine()],
    drivers: [ringDriver()],
  });
  const p = m.spawn({ name: "reader" });
  const fd = p.libc.open("/dev/ring", O_RDWR);
  // Offset 4096: vm_pgoff 1, the ring's second page; one page more would be -ENXIO.
  const page1 = p.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 4096);
  const text = new TextDecoder().decode(p.mmu.read(page1, 18));
  return {
    machine: m,
    text,
    tooFar: p.sys.mmap(0, 2 * 4096, PROT_READ, MAP_SHARED, fd, 4096),
    smaps: p.procSmaps(),
  };
}
