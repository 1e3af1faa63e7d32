// /proc/zoneinfo on a machine: the node's page counts follow what processes map (anonymous, mlocked,
// shared memory, page tables), a 24-bit DMA buffer shows in ZONE_DMA's free pages, and 2.6.10 has no
// such file (it came with 2.6.13).
import { describe, expect, it } from "vitest";
import { dmaTestDevice } from "./__fixtures__/dma-device";
import { DMA_BIT_MASK, dmaAllocCoherent, dmaFreeCoherent, dmaSetMaskAndCoherent } from "./dma-mapping";
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, Machine, PROT_READ, PROT_WRITE } from "./index";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;

/** One `name value` line of a zone's block or of the node stats, as a number. */
function field(text: string, zone: string, name: string): number {
  const block = text
    .split(/^(?=Node 0, zone)/m)
    .find((b) => b.startsWith(`Node 0, zone ${zone.padStart(8)}\n`));
  if (!block) throw new Error(`no zone ${zone}`);
  const m = new RegExp(`^ +${name}:? +(\\d+)$`, "m").exec(block);
  if (!m) throw new Error(`no ${name} in zone ${zone}`);
  return Number(m[1]);
}

describe("/proc/zoneinfo", () => {
  it("counts what processes map: anon pages (inactive), mlocked ones (unevictable), shmem, page tables", async () => {
    const m = await Machine.create({ ramBytes: 64 << 20 });
    const before = m.procText("/proc/zoneinfo")!;
    const p = m.spawn();
    const a = p.sys.mmap(0, 8 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (let i = 0; i < 8; i++) p.mmu.store8(a + i * P, 1);
    expect(p.sys.mlock(a, 3 * P)).toBe(0);
    const s = p.sys.mmap(0, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    p.mmu.store8(s, 1);
    p.mmu.store8(s + P, 1);
    const text = m.procText("/proc/zoneinfo")!;
    expect(field(text, "DMA", "nr_anon_pages")).toBe(8);
    expect(field(text, "DMA", "nr_shmem")).toBe(2);
    expect(field(text, "DMA", "nr_file_pages")).toBe(2);
    expect(field(text, "DMA", "nr_mapped")).toBe(2);
    expect(field(text, "DMA", "nr_inactive_anon")).toBe(5 + 2);
    expect(field(text, "DMA", "nr_unevictable")).toBe(3);
    expect(field(text, "DMA", "nr_page_table_pages")).toBeGreaterThan(0);
    // Per zone: the pages lie in DMA32 (GFP_HIGHUSER_MOVABLE's zonelist starts above DMA).
    expect(field(text, "DMA32", "nr_zone_inactive_anon")).toBe(7);
    expect(field(text, "DMA32", "nr_zone_unevictable")).toBe(3);
    expect(field(text, "DMA32", "nr_mlock")).toBe(3);
    expect(field(text, "DMA", "nr_zone_inactive_anon")).toBe(0);
    // Free pages and NUMA hits moved in DMA32 only.
    expect(field(text, "DMA", "pages free")).toBe(field(before, "DMA", "pages free"));
    expect(field(text, "DMA32", "pages free")).toBeLessThan(field(before, "DMA32", "pages free"));
    expect(field(text, "DMA32", "numa_hit")).toBeGreaterThan(field(before, "DMA32", "numa_hit"));
    expect(field(text, "DMA32", "nr_free_pages")).toBe(field(text, "DMA32", "pages free"));
    expect(p.sys.exit(0)).toBe(0);
    const after = m.procText("/proc/zoneinfo")!;
    expect(field(after, "DMA", "nr_anon_pages")).toBe(0);
    expect(field(after, "DMA", "nr_unevictable")).toBe(0);
    m.checkInvariants();
  });

  it("a 24-bit coherent buffer takes its pages from ZONE_DMA's free pages", async () => {
    // A bus-master PCI function on a 64 MiB machine (DMA32 above 16 MiB).
    const { m, dev } = await dmaTestDevice();
    const free = (zone: string) => field(m.procText("/proc/zoneinfo")!, zone, "pages free");
    const [dma, dma32] = [free("DMA"), free("DMA32")];
    const buf = m.withKernel(() => {
      expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(24))).toBe(0);
      return dmaAllocCoherent(dev, 4 * P)!;
    });
    expect([free("DMA"), free("DMA32")]).toEqual([dma - 4, dma32]);
    m.withKernel(() => dmaFreeCoherent(dev, 4 * P, buf.vaddr, buf.dmaHandle));
    expect([free("DMA"), free("DMA32")]).toEqual([dma, dma32]);
    m.checkInvariants();
  });

  it("does not exist in 2.6.10", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20, era: "2.6.10" });
    expect(() => m.procText("/proc/zoneinfo")).toThrow(/No such file or directory/);
    expect(m.procText("/proc/buddyinfo")).not.toBeNull();
  });
});
