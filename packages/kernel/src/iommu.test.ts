// The DMA API behind an IOMMU (MachineOptions.iommu; drivers/iommu/dma-iommu.c, iova.c, VT-d faults):
// IOVAs below the mask, permissions from the direction, faults on what is not mapped.
import { describe, expect, it } from "vitest";
import { dmaTestDevice } from "./__fixtures__/dma-device";
import {
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSg,
  dmaMapSingle,
  dmaSetMaskAndCoherent,
  dmaUnmapSg,
  dmaUnmapSingle,
  sgInitTable,
  sgSetPage,
} from "./dma-mapping";
import {
  allocPages,
  freePages,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuFaults,
  iommuMappings,
  Machine,
  PAGE_OFFSET,
} from "./index";

const setup = (iommu = true) => dmaTestDevice({ iommu, busMaster: true });

describe("DMA through an IOMMU", () => {
  it("coherent buffers get IOVAs from the top of the 32-bit space; the device reaches the memory through them", async () => {
    const { m, dev, model, device } = await setup();
    const a = m.withKernel(() => dmaAllocCoherent(dev, 4096)!);
    const b = m.withKernel(() => dmaAllocCoherent(dev, 2 * 4096)!);
    expect(a.dmaHandle).toBe(0xfffff000);
    expect(b.dmaHandle).toBe(0xffffc000); // two pages, aligned to two
    expect(a.vaddr - PAGE_OFFSET).not.toBe(a.dmaHandle);
    expect(device().dmaWrite(a.dmaHandle + 8, Uint8Array.of(9, 8, 7))).toBe(true);
    expect([...a.bytes.subarray(8, 11)]).toEqual([9, 8, 7]);
    expect(iommuMappings(m, model).map((x) => [x.iova, x.prot])).toEqual([
      [0xffffc000, IOMMU_READ | IOMMU_WRITE],
      [0xffffd000, IOMMU_READ | IOMMU_WRITE],
      [0xfffff000, IOMMU_READ | IOMMU_WRITE],
    ]);
    // The physical address is not a bus address any more: blocked and reported.
    const phys = a.vaddr - PAGE_OFFSET;
    expect(device().dmaWrite(phys, Uint8Array.of(1))).toBe(false);
    expect(iommuFaults(m).at(-1)).toBe(
      `DMAR: [DMA Write NO_PASID] Request device [00:02.0] fault addr 0x${phys.toString(16)} [fault reason 0x05] PTE Write access is not set`,
    );
    expect(m.dmesg()).toContain(iommuFaults(m).at(-1));
    m.withKernel(() => {
      dmaFreeCoherent(dev, 4096, a.vaddr, a.dmaHandle);
      dmaFreeCoherent(dev, 2 * 4096, b.vaddr, b.dmaHandle);
    });
    expect(iommuMappings(m, model)).toEqual([]);
    m.checkInvariants();
  });

  it("streaming mappings carry the direction's permissions and vanish when unmapped", async () => {
    const { m, dev, device } = await setup();
    const page = m.withKernel(() => allocPages(0)!);
    const cpu = PAGE_OFFSET + page.pfn * 4096;
    const toDev = m.withKernel(() => dmaMapSingle(dev, cpu + 0x10, 0x20, DMA_TO_DEVICE));
    expect(toDev % 4096).toBe(0x10);
    const buf = new Uint8Array(4);
    expect(device().dmaRead(toDev, buf)).toBe(true);
    // DMA_TO_DEVICE: the device may read, not write.
    expect(device().dmaWrite(toDev, Uint8Array.of(1))).toBe(false);
    expect(iommuFaults(m).at(-1)).toMatch(
      /\[DMA Write NO_PASID\] .* \[fault reason 0x05\] PTE Write access is not set$/,
    );
    const fromDev = m.withKernel(() => dmaMapSingle(dev, cpu, 0x1000, DMA_FROM_DEVICE));
    expect(device().dmaRead(fromDev, buf)).toBe(false);
    expect(iommuFaults(m).at(-1)).toMatch(
      /\[DMA Read NO_PASID\] .* \[fault reason 0x06\] PTE Read access is not set$/,
    );
    m.withKernel(() => {
      dmaUnmapSingle(dev, toDev, 0x20, DMA_TO_DEVICE);
      dmaUnmapSingle(dev, fromDev, 0x1000, DMA_FROM_DEVICE);
    });
    expect(device().dmaRead(toDev, buf)).toBe(false);
    expect(buf.every((x) => x === 0xff)).toBe(true);
    m.withKernel(() => freePages(page, 0));
    m.checkInvariants();
  });

  it("a 24-bit device reaches any page: the IOVA is below the mask, the memory need not be", async () => {
    const { m, dev, device } = await setup();
    m.withKernel(() => expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(24))).toBe(0));
    const a = m.withKernel(() => dmaAllocCoherent(dev, 4096)!);
    expect(a.dmaHandle).toBe(0xfff000);
    const page = m.withKernel(() => allocPages(0)!);
    const dma = m.withKernel(() => dmaMapSingle(dev, PAGE_OFFSET + page.pfn * 4096, 4096, DMA_BIDIRECTIONAL));
    expect(dma).toBe(0xffe000);
    expect(device().dmaWrite(dma, Uint8Array.of(0x5a))).toBe(true);
    expect(m.phys.physRead8(page.pfn * 4096)).toBe(0x5a);
    m.withKernel(() => {
      dmaUnmapSingle(dev, dma, 4096, DMA_BIDIRECTIONAL);
      dmaFreeCoherent(dev, 4096, a.vaddr, a.dmaHandle);
      freePages(page, 0);
    });
  });

  it("a scatterlist shares one IOVA range; entries that meet on page boundaries merge (__finalise_sg)", async () => {
    const { m, dev, model, device } = await setup();
    const [a, b, c] = m.withKernel(() => [allocPages(0)!, allocPages(0)!, allocPages(0)!]);
    const sg = sgInitTable(3);
    sgSetPage(sg[0]!, a, 4096, 0);
    sgSetPage(sg[1]!, b, 4096, 0);
    sgSetPage(sg[2]!, c, 0x200, 0x100);
    expect(m.withKernel(() => dmaMapSg(dev, sg, 3, DMA_FROM_DEVICE))).toBe(2);
    // Three pages round up to a four-page IOVA block at the top of the 32-bit space.
    expect(sg.map((e) => [e.dmaAddress, e.dmaLength])).toEqual([
      [0xffffc000, 0x2000],
      [0xffffe100, 0x200],
      [DMA_MAPPING_ERROR, 0],
    ]);
    const bytes = new Uint8Array(0x2000).fill(0x33);
    expect(device().dmaWrite(sg[0]!.dmaAddress, bytes)).toBe(true);
    expect(m.phys.physRead8(a.pfn * 4096 + 4095)).toBe(0x33);
    expect(m.phys.physRead8(b.pfn * 4096)).toBe(0x33);
    expect(iommuMappings(m, model).map((x) => x.phys)).toEqual([a.pfn * 4096, b.pfn * 4096, c.pfn * 4096]);
    m.withKernel(() => dmaUnmapSg(dev, sg, 3, DMA_FROM_DEVICE));
    expect(iommuMappings(m, model)).toEqual([]);
    expect(m.dmesg().some((l) => l.startsWith("DMA-API"))).toBe(false);
    m.withKernel(() => {
      for (const p of [a, b, c]) freePages(p, 0);
    });
    m.checkInvariants();
  });

  it("without the option, bus addresses are physical and nothing is translated", async () => {
    const { m, dev, model } = await setup(false);
    const a = m.withKernel(() => dmaAllocCoherent(dev, 4096)!);
    expect(a.dmaHandle).toBe(a.vaddr - PAGE_OFFSET);
    expect(iommuMappings(m, model)).toEqual([]);
    await expect(Machine.create({ iommu: "on" as never })).rejects.toThrow(/iommu: expected a boolean/);
  });
});
