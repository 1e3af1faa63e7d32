// MachineOptions.iommu = "passthrough" (iommu=pt / iommu.passthrough=1): the IOMMU is on, every device
// is in the identity domain, the DMA API hands out physical addresses (dma-direct) and no device access
// faults; side by side with translation, where the same accesses are blocked.
import { describe, expect, it } from "vitest";
import { dmaTestDevice } from "./__fixtures__/dma-device";
import {
  DMA_BIT_MASK,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSingle,
  dmaSetMaskAndCoherent,
  dmaUnmapSingle,
} from "./dma-mapping";
import {
  allocPages,
  freePages,
  iommuDomainType,
  iommuFaults,
  iommuMappings,
  Machine,
  PAGE_OFFSET,
} from "./index";

const PASSTHROUGH_LINE = "iommu: Default domain type: Passthrough (set via kernel command line)";

describe("IOMMU passthrough", () => {
  it("coherent and streaming mappings are physical addresses; nothing is mapped in the IOMMU", async () => {
    const { m, dev, model, device } = await dmaTestDevice({ iommu: "passthrough", busMaster: true });
    expect(iommuDomainType(m, model)).toBe("identity");
    expect(m.dmesg()).toContain(PASSTHROUGH_LINE);
    const a = m.withKernel(() => dmaAllocCoherent(dev, 2 * 4096)!);
    expect(a.dmaHandle).toBe(a.vaddr - PAGE_OFFSET);
    expect(device().dmaWrite(a.dmaHandle + 4096 + 3, Uint8Array.of(5, 6))).toBe(true);
    expect([...a.bytes.subarray(4096 + 3, 4096 + 5)]).toEqual([5, 6]);
    const page = m.withKernel(() => allocPages(0)!);
    const phys = page.pfn * 4096;
    const s = m.withKernel(() => dmaMapSingle(dev, PAGE_OFFSET + phys + 16, 64, DMA_TO_DEVICE));
    expect(s).toBe(phys + 16);
    expect(iommuMappings(m, model)).toEqual([]);
    m.withKernel(() => {
      dmaUnmapSingle(dev, s, 64, DMA_TO_DEVICE);
      dmaFreeCoherent(dev, 2 * 4096, a.vaddr, a.dmaHandle);
      freePages(page, 0);
    });
    m.checkInvariants();
  });

  it("a device reaches any physical address without a DMAR fault; translated, the same access is blocked", async () => {
    const pt = await dmaTestDevice({ iommu: "passthrough", busMaster: true });
    const page = pt.m.withKernel(() => allocPages(0)!);
    // Never handed to the DMA API, yet written by the device: the identity domain lets it through.
    expect(pt.device().dmaWrite(page.pfn * 4096, Uint8Array.of(0x42))).toBe(true);
    expect(page.bytes()[0]).toBe(0x42);
    const back = new Uint8Array(1);
    expect(pt.device().dmaRead(page.pfn * 4096, back)).toBe(true);
    expect(back[0]).toBe(0x42);
    expect(iommuFaults(pt.m)).toEqual([]);
    expect(pt.m.dmesg().some((l) => l.startsWith("DMAR:"))).toBe(false);
    pt.m.withKernel(() => freePages(page, 0));

    const tr = await dmaTestDevice({ iommu: true, busMaster: true });
    expect(iommuDomainType(tr.m, tr.model)).toBe("DMA");
    expect(tr.m.dmesg()).not.toContain(PASSTHROUGH_LINE);
    const p2 = tr.m.withKernel(() => allocPages(0)!);
    expect(tr.device().dmaWrite(p2.pfn * 4096, Uint8Array.of(0x42))).toBe(false);
    expect(iommuFaults(tr.m)).toHaveLength(1);
    tr.m.withKernel(() => freePages(p2, 0));
  });

  it("masks are dma-direct's: a 24-bit coherent buffer is below 16 MiB, as without an IOMMU", async () => {
    const { m, dev } = await dmaTestDevice({ iommu: "passthrough" });
    const a = m.withKernel(() => {
      expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(24))).toBe(0);
      return dmaAllocCoherent(dev, 4096)!;
    });
    expect(a.dmaHandle).toBe(a.vaddr - PAGE_OFFSET);
    expect(a.dmaHandle).toBeLessThan(1 << 24);
    m.withKernel(() => dmaFreeCoherent(dev, 4096, a.vaddr, a.dmaHandle));
    m.checkInvariants();
  });

  it('no IOMMU: no domain; a value other than a boolean or "passthrough" is refused', async () => {
    const { m, model } = await dmaTestDevice();
    expect(iommuDomainType(m, model)).toBeNull();
    await expect(Machine.create({ iommu: "pt" as never })).rejects.toThrow(
      /^iommu: expected a boolean or "passthrough", got "pt"/,
    );
  });
});
