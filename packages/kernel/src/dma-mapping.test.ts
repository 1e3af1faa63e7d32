import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dmaTestDevice } from "./__fixtures__/dma-device";
import {
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  type DmaPool,
  dmaAllocCoherent,
  dmaDebugCounts,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMappingError,
  dmaMapSg,
  dmaMapSingle,
  dmaPoolAlloc,
  dmaPoolCreate,
  dmaPoolDestroy,
  dmaPoolFree,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSyncSingleForCpu,
  dmaUnmapPage,
  dmaUnmapSg,
  dmaUnmapSingle,
  GFP_DMA,
  sgInitTable,
  sgSetPage,
} from "./dma-mapping";
import { allocPages, EIO, ENOMEM, freePages, PAGE_OFFSET } from "./index";
import { PCI_DEVICE, type PciDev, pciRegisterDriver, pciSetMaster } from "./pci";

const setup = () => dmaTestDevice();

describe("DMA masks and coherent buffers", () => {
  it("refuses masks below ZONE_DMA with -EIO, allocates zeroed buffers below the coherent mask", async () => {
    const { m, dev } = await setup();
    m.withKernel(() => {
      expect(dev.dmaMask).toBe(DMA_BIT_MASK(32));
      expect(dmaSetMask(dev, DMA_BIT_MASK(20))).toBe(-EIO);
      expect(dmaSetCoherentMask(dev, DMA_BIT_MASK(23))).toBe(-EIO);
      expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(64))).toBe(0);
      expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(24))).toBe(0);
      // Hold ZONE_DMA's pages (GFP_DMA, down to its min watermark): a 24-bit coherent buffer is then
      // impossible, and the attempt leaves nothing allocated.
      const held = [];
      for (let p = allocPages(0, GFP_DMA); p; p = allocPages(0, GFP_DMA)) held.push(p);
      expect(held.every((p) => p.pfn < 4096)).toBe(true);
      const free = m.mem.nrFreePages;
      expect(dmaAllocCoherent(dev, 4096)).toBeNull();
      expect(m.mem.nrFreePages).toBe(free);
      for (const p of held.splice(0)) freePages(p, 0);
      const buf = dmaAllocCoherent(dev, 3 * 4096)!;
      expect(buf.dmaHandle + buf.size - 1).toBeLessThanOrEqual(DMA_BIT_MASK(24));
      expect(buf.vaddr).toBe(PAGE_OFFSET + buf.dmaHandle);
      expect(buf.bytes.every((b) => b === 0)).toBe(true);
      buf.bytes[5] = 0x77;
      expect(m.phys.physRead8(buf.dmaHandle + 5)).toBe(0x77);
      expect(dmaAllocCoherent(dev, 0)).toBeNull();
      m.checkInvariants();
      dmaFreeCoherent(dev, 3 * 4096, buf.vaddr, buf.dmaHandle);
      dmaFreeCoherent(dev, 3 * 4096, buf.vaddr, buf.dmaHandle);
    });
    const freed = m.dmesg().find((l) => l.includes("tries to free DMA memory it has not allocated"))!;
    expect(freed).toMatch(
      /^DMA-API: pci 0000:00:02\.0: device driver tries to free DMA memory it has not allocated \[device address=0x0{10}[0-9a-f]{6}\] \[size=12288 bytes\]$/,
    );
    m.checkInvariants();
  });

  it("a device's bus-master DMA into a coherent buffer is seen by the CPU; without bus master nothing moves", async () => {
    const { m, dev, device } = await setup();
    const buf = m.withKernel(() => dmaAllocCoherent(dev, 4096)!);
    expect(device().dmaWrite(buf.dmaHandle, Uint8Array.of(1, 2, 3))).toBe(false);
    expect(buf.bytes[0]).toBe(0);
    m.withKernel(() => pciSetMaster(dev));
    expect(device().dmaWrite(buf.dmaHandle, Uint8Array.of(1, 2, 3))).toBe(true);
    expect([...buf.bytes.subarray(0, 3)]).toEqual([1, 2, 3]);
    buf.bytes[10] = 9;
    const rd = new Uint8Array(1);
    expect(device().dmaRead(buf.dmaHandle + 10, rd)).toBe(true);
    expect(rd[0]).toBe(9);
  });
});

describe("streaming mappings and dma-debug", () => {
  it("maps, syncs and unmaps; reports what was not mapped, size and direction mismatches", async () => {
    const { m, dev } = await setup();
    m.withKernel(() => {
      // From ZONE_DMA, so that it is still reachable once the mask drops to 24 bits below.
      const page = allocPages(0, GFP_DMA)!;
      const a = dmaMapPage(dev, page, 16, 256, DMA_TO_DEVICE);
      expect(dmaMappingError(dev, a)).toBe(0);
      expect(a).toBe(page.pfn * 4096 + 16);
      dmaSyncSingleForCpu(dev, a, 256, DMA_FROM_DEVICE);
      dmaUnmapPage(dev, a, 128, DMA_FROM_DEVICE);
      dmaUnmapPage(dev, a, 128, DMA_FROM_DEVICE);
      const s = dmaMapSingle(dev, PAGE_OFFSET + page.pfn * 4096, 4096, DMA_FROM_DEVICE);
      dmaUnmapSingle(dev, s, 4096, DMA_FROM_DEVICE);
      // Above the mask: no swiotlb to bounce through.
      const high = 60 * 1024 * 1024;
      expect(dmaSetMask(dev, DMA_BIT_MASK(24))).toBe(0);
      const e = dmaMapSingle(dev, PAGE_OFFSET + high, 64, DMA_TO_DEVICE);
      expect(e).toBe(DMA_MAPPING_ERROR);
      expect(dmaMappingError(dev, e)).toBe(-ENOMEM);
      const sg = sgInitTable(2);
      sgSetPage(sg[0]!, page, 100, 0);
      sgSetPage(sg[1]!, page, 100, 200);
      expect(dmaMapSg(dev, sg, 2, DMA_TO_DEVICE)).toBe(2);
      expect(sg[1]!.dmaAddress).toBe(page.pfn * 4096 + 200);
      expect(dmaDebugCounts(dev).streaming).toBe(2);
      dmaUnmapSg(dev, sg, 2, DMA_TO_DEVICE);
      expect(dmaDebugCounts(dev).streaming).toBe(0);
      expect(() => dmaMapPage(dev, page, 0, 8, 7)).toThrow(/invalid DMA direction/);
      freePages(page, 0);
    });
    const log = m.dmesg().join("\n");
    expect(log).toContain("device driver syncs DMA memory with different direction");
    expect(log).toContain("[map size=256 bytes] [unmap size=128 bytes]");
    expect(log).toContain("[mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]");
    expect(log).toContain("device driver tries to free DMA memory it has not allocated");
    expect(log).toMatch(/DMA addr 0x0000000003c00000\+64 overflow \(mask ffffff, bus limit 0\)\./);
    m.checkInvariants();
  });

  it("what a driver leaves at unbind is reported and freed", async () => {
    const { m } = await setup();
    const drv = {
      name: "leaky",
      idTable: [PCI_DEVICE(0x1b36, 0x0043)],
      probe(dev: PciDev) {
        dmaAllocCoherent(dev, 8192);
        dmaMapSingle(dev, PAGE_OFFSET + 0x100000, 64, DMA_TO_DEVICE);
        return 0;
      },
    };
    const before = m.mem.nrFreePages;
    const mod = { name: "leaky", apiVersion: 1, init: () => pciRegisterDriver(drv) };
    expect(m.loadDriver(mod)).toBe(0);
    expect(m.mem.nrFreePages).toBe(before - 2);
    m.checkInvariants();
    expect(m.unloadDriver("leaky")).toBe(0);
    expect(m.dmesg()).toContain(
      "DMA-API: pci 0000:00:02.0: device driver has pending DMA allocations while released from device [count=2]",
    );
    expect(m.mem.nrFreePages).toBe(before);
    m.checkInvariants();
  });
});

describe("dma_pool", () => {
  it("refuses bad parameters; blocks are aligned, never cross the boundary, and are unique (property)", async () => {
    const { m, dev } = await setup();
    m.withKernel(() => {
      expect(dmaPoolCreate("p", dev, 0, 8, 0)).toBeNull();
      expect(dmaPoolCreate("p", dev, 64, 24, 0)).toBeNull();
      expect(dmaPoolCreate("p", dev, 64, 8, 32)).toBeNull();
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.constantFrom(1, 8, 32, 64),
        fc.constantFrom(0, 1024, 4096),
        fc.array(fc.oneof(fc.constant(-1), fc.nat(40)), { maxLength: 60 }),
        (size, align, boundary, ops) => {
          m.withKernel(() => {
            const before = m.mem.nrFreePages;
            const pool = dmaPoolCreate("prop", dev, size, align, boundary) as DmaPool | null;
            if (!pool) {
              expect(boundary !== 0 && boundary < Math.ceil(Math.max(size, align) / align) * align).toBe(
                true,
              );
              return;
            }
            const live: { vaddr: number; dma: number }[] = [];
            for (const op of ops) {
              if (op === -1 || live.length === 0) {
                const b = dmaPoolAlloc(pool)!;
                expect(b.dma % align).toBe(0);
                expect(b.vaddr).toBe(PAGE_OFFSET + b.dma);
                if (pool.boundary) {
                  expect(Math.floor(b.dma / pool.boundary)).toBe(
                    Math.floor((b.dma + pool.size - 1) / pool.boundary),
                  );
                }
                for (const o of live)
                  expect(b.dma + pool.size <= o.dma || o.dma + pool.size <= b.dma).toBe(true);
                live.push(b);
              } else {
                const [b] = live.splice(op % live.length, 1);
                dmaPoolFree(pool, b!.vaddr, b!.dma);
              }
            }
            for (const b of live.splice(0)) dmaPoolFree(pool, b.vaddr, b.dma);
            dmaPoolDestroy(pool);
            expect(m.mem.nrFreePages).toBe(before);
          });
        },
      ),
      { numRuns: 60 },
    );
    m.checkInvariants();
  });
});
