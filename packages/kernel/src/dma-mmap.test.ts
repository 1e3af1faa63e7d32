/**
 * dma_mmap_coherent / dma_mmap_attrs / dma_can_mmap (kernel/dma/mapping.c, dma_direct_mmap,
 * iommu_dma_mmap): a driver maps its coherent buffer to user space from ->mmap; the device's DMA
 * writes are seen by the process and the process's stores by the device, with and without an IOMMU;
 * the -ENXIO bounds on vm_pgoff and the VMA's size; a pair that is not a live buffer, or hostile
 * arguments, a WARNING and an error instead of a mapping of whatever lies there.
 */
import { describe, expect, it } from "vitest";
import { dmaTestDevice } from "./__fixtures__/dma-device";
import {
  DMA_ATTR_WRITE_COMBINE,
  type DmaCoherent,
  dmaAllocCoherent,
  dmaCanMmap,
  dmaFreeCoherent,
  dmaMmapAttrs,
  dmaMmapCoherent,
} from "./dma-mapping";
import {
  defineDriver,
  EINVAL,
  ENXIO,
  MAP_SHARED,
  type Machine,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Vma,
} from "./index";
import { PCI_DEVICE, type PciDev, pciRegisterDriver } from "./pci";

/** Three pages minus a bit: PAGE_ALIGN(size) is three pages. */
const SIZE = 3 * PAGE_SIZE - 100;

interface Ctl {
  dev: PciDev | null;
  buf: DmaCoherent | null;
  onMmap: (vma: Vma, dev: PciDev, buf: DmaCoherent) => number;
}

/** A PCI driver for the DMA test device: a coherent buffer at probe, /dev/dmabuf maps it. */
function dmabufDriver(ctl: Ctl) {
  return defineDriver({
    name: "dmabuf",
    apiVersion: 1,
    init(ctx) {
      const r = pciRegisterDriver({
        name: "dmabuf",
        idTable: [PCI_DEVICE(0x1b36, 0x0043)],
        probe(dev: PciDev) {
          ctl.dev = dev;
          ctl.buf = dmaAllocCoherent(dev, SIZE);
          if (!ctl.buf) return -12;
          for (let i = 0; i < 3; i++)
            ctl.buf.bytes.fill(0xb0 + i, i * PAGE_SIZE, Math.min(SIZE, (i + 1) * PAGE_SIZE));
          return 0;
        },
        remove(dev: PciDev) {
          if (ctl.buf) dmaFreeCoherent(dev, SIZE, ctl.buf.vaddr, ctl.buf.dmaHandle);
          ctl.buf = null;
        },
      });
      if (r) return r;
      const major = ctx.allocChrdevRegion(0, 1, "dmabuf");
      ctx.cdevAdd(major, 0, 1, { mmap: (_f, vma) => ctl.onMmap(vma, ctl.dev!, ctl.buf!) });
      ctx.createDevNode("dmabuf", major, 0);
      return 0;
    },
  });
}

const coherent: Ctl["onMmap"] = (vma, dev, buf) => dmaMmapCoherent(dev, vma, buf.vaddr, buf.dmaHandle, SIZE);

async function boot(iommu: boolean, onMmap: Ctl["onMmap"] = coherent) {
  const t = await dmaTestDevice({ iommu, busMaster: true });
  const ctl: Ctl = { dev: null, buf: null, onMmap };
  expect(t.m.loadDriver(dmabufDriver(ctl))).toBe(0);
  const p = t.m.spawn({ name: "app" });
  const fd = p.libc.open("/dev/dmabuf", O_RDWR);
  return { ...t, ctl, buf: ctl.buf!, p, fd };
}

function warning(m: Machine): string | undefined {
  const log = m.dmesg();
  const at = log.lastIndexOf("------------[ cut here ]------------");
  return at < 0 ? undefined : log[at + 1];
}

const RW = PROT_READ | PROT_WRITE;

for (const iommu of [false, true]) {
  describe(`dma_mmap_coherent ${iommu ? "behind an IOMMU (iommu_dma_mmap)" : "without an IOMMU (dma_direct_mmap)"}`, () => {
    it("the process sees the device's DMA and the device the process's stores; VM_PFNMAP, no page references", async () => {
      const { m, p, fd, buf, device, dev } = await boot(iommu);
      expect(m.withKernel(() => dmaCanMmap(dev))).toBe(true);
      const phys = buf.vaddr - 2 ** 52;
      expect(buf.dmaHandle === phys).toBe(!iommu);
      const counts = () => [0, 1, 2].map((i) => m.mem.pageCount(phys / PAGE_SIZE + i));
      const before = counts();
      const a = p.libc.mmap(0, 3 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect([0, 1, 2].map((i) => p.mmu.load8(a + i * PAGE_SIZE + 1))).toEqual([0xb0, 0xb1, 0xb2]);
      expect(device().dmaWrite(buf.dmaHandle + PAGE_SIZE + 4, Uint8Array.of(7, 8, 9))).toBe(true);
      expect([p.mmu.load8(a + PAGE_SIZE + 4), p.mmu.load8(a + PAGE_SIZE + 6)]).toEqual([7, 9]);
      p.mmu.store8(a + 2 * PAGE_SIZE + 3, 0x5a);
      const got = new Uint8Array(1);
      expect(device().dmaRead(buf.dmaHandle + 2 * PAGE_SIZE + 3, got)).toBe(true);
      expect(got[0]).toBe(0x5a);
      const smaps = p.procSmaps();
      expect(smaps.match(/^VmFlags: (.*)$/m)?.[1]?.trim()).toBe("rd wr sh mr mw me ms pf io de dd sd");
      expect(smaps).toMatch(/^Rss: +0 kB$/m);
      expect(counts()).toEqual(before);
      m.checkInvariants();
      expect(p.sys.munmap(a, 3 * PAGE_SIZE)).toBe(0);
      p.sys.exit(0);
      expect(counts()).toEqual(before);
      m.checkInvariants();
    });

    it("vm_pgoff pages into the buffer; -ENXIO past PAGE_ALIGN(size), in dma_direct_mmap's order", async () => {
      const { m, p, fd } = await boot(iommu);
      const a = p.libc.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE);
      expect([p.mmu.load8(a), p.mmu.load8(a + PAGE_SIZE)]).toEqual([0xb1, 0xb2]);
      // vm_pgoff >= count, far beyond it, then user_count > count - vm_pgoff.
      expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 3 * PAGE_SIZE)).toBe(-ENXIO);
      expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 2 ** 40)).toBe(-ENXIO);
      expect(p.sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 2 * PAGE_SIZE)).toBe(-ENXIO);
      expect(p.sys.mmap(0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-ENXIO);
      expect(warning(m)).toBeUndefined();
      m.checkInvariants();
    });
  });
}

describe("dma_mmap_attrs", () => {
  it("DMA_ATTR_WRITE_COMBINE changes nothing for a cache-coherent (x86) device: the PTE stays write-back", async () => {
    const { m, p, fd } = await boot(false, (vma, dev, buf) =>
      dmaMmapAttrs(dev, vma, buf.vaddr, buf.dmaHandle, SIZE, DMA_ATTR_WRITE_COMBINE),
    );
    const a = p.libc.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(a)).toBe(0xb0);
    expect(p.mm.pgd.getPte(a) & (0x08 | 0x10 | 0x80)).toBe(0); // no PWT, PCD or PAT bit
    m.checkInvariants();
  });

  it.each([
    [
      "a dma_addr that is no buffer",
      (v: Vma, d: PciDev, b: DmaCoherent) => dmaMmapCoherent(d, v, b.vaddr, b.dmaHandle + PAGE_SIZE, SIZE),
      -ENXIO,
      /is not a coherent buffer of 0000:00:02\.0$/,
    ],
    [
      "the cpu_addr of another buffer",
      (v: Vma, d: PciDev, b: DmaCoherent) => dmaMmapCoherent(d, v, b.vaddr + PAGE_SIZE, b.dmaHandle, SIZE),
      -ENXIO,
      /\(that dma_addr's buffer is at 0x[0-9a-f]+\)$/,
    ],
    [
      "a size beyond the buffer's pages",
      (v: Vma, d: PciDev, b: DmaCoherent) => dmaMmapCoherent(d, v, b.vaddr, b.dmaHandle, SIZE + PAGE_SIZE),
      -ENXIO,
      /size 16284 is larger than the 12188-byte buffer/,
    ],
    [
      "a NaN size",
      (v: Vma, d: PciDev, b: DmaCoherent) => dmaMmapCoherent(d, v, b.vaddr, b.dmaHandle, Number.NaN),
      -EINVAL,
      /size NaN is not a non-negative integer/,
    ],
    [
      "a negative dma_addr",
      (v: Vma, d: PciDev, b: DmaCoherent) => dmaMmapCoherent(d, v, b.vaddr, -1, SIZE),
      -EINVAL,
      /dmaAddr -1 is not/,
    ],
    [
      "a fractional cpu_addr",
      (v: Vma, d: PciDev, b: DmaCoherent) => dmaMmapCoherent(d, v, b.dmaHandle + 0.5, b.dmaHandle, SIZE),
      -EINVAL,
      /cpuAddr [0-9.]+ is not/,
    ],
    [
      "attrs a string",
      (v: Vma, d: PciDev, b: DmaCoherent) =>
        dmaMmapAttrs(d, v, b.vaddr, b.dmaHandle, SIZE, "wc" as unknown as number),
      -EINVAL,
      /attrs wc is not/,
    ],
  ])("%s: a WARNING and the error, nothing mapped", async (_what, call, err, why) => {
    for (const iommu of [false, true]) {
      const { m, p, fd } = await boot(iommu, call);
      expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(err);
      expect(warning(m)).toMatch(why);
      expect(m.dmesg()).toContain(
        `WARNING: CPU: 0 PID: ${p.pid} at dma_mmap_attrs (kernel/dma/mapping.c) [dmabuf]`,
      );
      expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
      m.checkInvariants();
    }
  });

  it("a buffer already freed is no buffer: -ENXIO, not a mapping of the freed pages", async () => {
    const { m, p, fd } = await boot(false, (vma, dev, buf) => {
      dmaFreeCoherent(dev, SIZE, buf.vaddr, buf.dmaHandle);
      return dmaMmapCoherent(dev, vma, buf.vaddr, buf.dmaHandle, SIZE);
    });
    expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-ENXIO);
    expect(warning(m)).toMatch(/is not a coherent buffer/);
    m.checkInvariants();
  });
});
