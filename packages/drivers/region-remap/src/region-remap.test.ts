/**
 * LDD3's "Remapping Specific I/O Regions": a mapping of a device window that honours the mmap offset,
 * refuses what does not fit with -EINVAL, and (unlike the book's code) passes a pfn and refuses an
 * offset past the end before computing the remaining size.
 */
import { isaMemory, pciMemoryDevice } from "@faultline/devices";
import {
  DRIVER_API_VERSION,
  defineDriver,
  EINVAL,
  MAP_PRIVATE,
  MAP_SHARED,
  PAGE_SIZE,
  type Process,
  remapPfnRange,
  type Vma,
} from "@faultline/kernel";
import { tryMapDevice, useMachine } from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import { regionRemap } from "./index";

const DEV_BASE = 0xd0000;
/** The driver exports the first 0x2000 bytes of a 0x4000-byte device; the rest must stay private. */
const REGION_SIZE = 0x2000;

/** Every machine: the 0x4000-byte device (each word holds its own physical address), region-remap, a process. */
const kit = useMachine({
  ramBytes: 32 * 2 ** 20,
  devices: () => {
    const isa = isaMemory({ base: DEV_BASE, size: 0x4000 });
    for (let i = 0; i < 0x4000; i += 4) new DataView(isa.ram.buffer).setUint32(i, DEV_BASE + i, true);
    return [isa];
  },
  drivers: () => [regionRemap({ start: DEV_BASE, size: REGION_SIZE })],
  spawn: { name: "region-test" },
});

/** mmap of a region node: the address or -errno. */
const mmapRegion = (p: Process, length: number, offset: number, node = "/dev/region", flags = MAP_SHARED) =>
  tryMapDevice(p, node, { length, offset, flags });

/** The book's region mmap, bugs included (psize unsigned, a byte address passed as the pfn). */
function bookRegion(name: string, bugs: { unsignedPsize: boolean; byteAddress: boolean }) {
  return defineDriver({
    name,
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, name);
      ctx.cdevAdd(major, 0, 1, {
        mmap(_f, vma: Vma) {
          const off = vma.vmPgoff * PAGE_SIZE;
          const physical = DEV_BASE + off;
          const vsize = vma.vmEnd - vma.vmStart;
          let psize = REGION_SIZE - off;
          if (bugs.unsignedPsize && psize < 0) psize += 2 ** 64; // unsigned long wraps
          if (vsize > psize) return -EINVAL;
          const pfn = bugs.byteAddress ? physical : physical / PAGE_SIZE;
          return remapPfnRange(vma, vma.vmStart, pfn, vsize, vma.vmPageProt) ? -11 : 0;
        },
      });
      ctx.createDevNode(name, major, 0);
      return 0;
    },
  });
}

describe.each(["modern", "2.6.10"] as const)("region-remap (%s)", (era) => {
  it("maps the region: the process reads the device's bytes at the right physical addresses", async () => {
    const {
      m,
      p,
      devices: [isa],
    } = await kit.boot({ era });
    const a = mmapRegion(p, REGION_SIZE, 0);
    expect(a).toBeGreaterThan(0);
    expect(p.mmu.load32(a)).toBe(DEV_BASE);
    expect(p.mmu.load32(a + 0x1ffc)).toBe(DEV_BASE + 0x1ffc);
    p.mmu.store32(a + 0x10, 0xabcdef01);
    expect(new DataView(isa.ram.buffer).getUint32(0x10, true)).toBe(0xabcdef01);
    m.checkInvariants();
  });

  it("honours vm_pgoff: offset 0x1000 maps the region's second page", async () => {
    const { m, p } = await kit.boot({ era });
    const a = mmapRegion(p, PAGE_SIZE, 0x1000);
    expect(p.mmu.load32(a)).toBe(DEV_BASE + 0x1000);
    expect(m.procText(`/proc/${p.pid}/maps`)).toContain(" rw-s 00001000 00:05 ");
    m.checkInvariants();
  });

  it("refuses vsize > psize with -EINVAL (spans too high)", async () => {
    const { m, p } = await kit.boot({ era });
    expect(mmapRegion(p, REGION_SIZE + PAGE_SIZE, 0)).toBe(-EINVAL);
    expect(mmapRegion(p, 2 * PAGE_SIZE, 0x1000)).toBe(-EINVAL);
    expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
    m.checkInvariants();
  });

  it("refuses an offset at or past the end with -EINVAL (the book's unsigned psize wraps and lets it through)", async () => {
    const { m, p } = await kit.boot({
      era,
      drivers: [
        regionRemap({ start: DEV_BASE, size: REGION_SIZE }),
        bookRegion("bookwrap", { unsignedPsize: true, byteAddress: false }),
      ],
    });
    expect(mmapRegion(p, PAGE_SIZE, REGION_SIZE)).toBe(-EINVAL);
    expect(mmapRegion(p, PAGE_SIZE, REGION_SIZE + PAGE_SIZE)).toBe(-EINVAL);
    // The book's version maps the device's private page past the region.
    const leak = mmapRegion(p, PAGE_SIZE, REGION_SIZE + PAGE_SIZE, "/dev/bookwrap");
    expect(leak).toBeGreaterThan(0);
    expect(p.mmu.load32(leak)).toBe(DEV_BASE + REGION_SIZE + PAGE_SIZE);
    m.checkInvariants();
  });

  it("passes a pfn: the book's byte address would map physical memory 4096 times higher", async () => {
    const { m, p } = await kit.boot({
      era,
      drivers: [
        regionRemap({ start: DEV_BASE, size: REGION_SIZE }),
        bookRegion("bookaddr", { unsignedPsize: false, byteAddress: true }),
      ],
    });
    const good = mmapRegion(p, PAGE_SIZE, 0);
    const bad = mmapRegion(p, PAGE_SIZE, 0, "/dev/bookaddr");
    expect(p.mmu.load32(good)).toBe(DEV_BASE);
    // pfn 0xd0000 is physical 0xd0000000: nothing decodes there, reads float to all-ones.
    expect(p.mmu.load32(bad)).not.toBe(DEV_BASE);
    m.checkInvariants();
  });

  it("a private mapping is remapped whole, and a write makes a private copy", async () => {
    const {
      m,
      p,
      devices: [isa],
    } = await kit.boot({ era });
    const a = mmapRegion(p, REGION_SIZE, 0, "/dev/region", MAP_PRIVATE);
    expect(p.mmu.load32(a + 4)).toBe(DEV_BASE + 4);
    p.mmu.store32(a + 4, 7);
    expect(p.mmu.load32(a + 4)).toBe(7);
    expect(new DataView(isa.ram.buffer).getUint32(4, true)).toBe(DEV_BASE + 4);
    m.checkInvariants();
  });

  it("maps a PCI BAR (loaded after boot, once firmware placed the BAR)", async () => {
    const {
      m,
      p,
      devices: [pci],
    } = await kit.boot({ era, devices: [pciMemoryDevice({ barSize: 0x10000 })], drivers: [] });
    const bar = pci.barAddress(0)!;
    expect(m.loadDriver(regionRemap({ start: bar + 0x4000, size: 0x8000, name: "bar-window" }))).toBe(0);
    const a = mmapRegion(p, 0x4000, 0x4000, "/dev/bar-window");
    p.mmu.store32(a + 0x3000, 0x600df00d);
    expect(new DataView(pci.ram.buffer).getUint32(0x4000 + 0x4000 + 0x3000, true)).toBe(0x600df00d);
    expect(mmapRegion(p, 0x1000, 0x8000, "/dev/bar-window")).toBe(-EINVAL);
    m.checkInvariants();
  });
});

describe("regionRemap options", () => {
  it("refuses an unaligned region", () => {
    expect(() => regionRemap({ start: 0xd0800, size: 0x1000 })).toThrow(/page aligned/);
    expect(() => regionRemap({ start: 0xd0000, size: 0x800 })).toThrow(/multiple of 0x1000/);
  });
});
