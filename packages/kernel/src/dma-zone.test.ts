// ZONE_DMA as /proc/buddyinfo shows it (mm/vmstat.c frag_show): one line per populated zone, and a
// 24-bit coherent buffer taken from the first 16 MiB.
import { describe, expect, it } from "vitest";
import { dmaTestDevice } from "./__fixtures__/dma-device";
import { DMA_BIT_MASK, dmaAllocCoherent, dmaFreeCoherent, dmaSetMaskAndCoherent } from "./dma-mapping";
import { Machine } from "./index";

/** Free pages per zone, from /proc/buddyinfo. */
function freeByZone(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n").filter(Boolean)) {
    const m = /^Node 0, zone +(\w+) ((?: +\d+){11}) $/.exec(line);
    if (!m) throw new Error(`bad buddyinfo line: ${JSON.stringify(line)}`);
    out[m[1]!] = m[2]!
      .trim()
      .split(/ +/)
      .reduce((t, n, o) => t + Number(n) * 2 ** o, 0);
  }
  return out;
}

describe("/proc/buddyinfo zones", () => {
  it("lists DMA and DMA32 on a 64 MiB machine, their free pages adding up to MemFree", async () => {
    const m = await Machine.create({ ramBytes: 64 << 20 });
    const text = m.procText("/proc/buddyinfo");
    expect(text).toMatch(/^Node 0, zone {6}DMA( +\d+){11} \nNode 0, zone {4}DMA32( +\d+){11} \n$/);
    const z = freeByZone(text);
    expect(z.DMA! + z.DMA32!).toBe(m.mem.nrFreePages);
    expect(z.DMA).toBeLessThan(4096);
    const small = await Machine.create({ ramBytes: 8 << 20 });
    expect(small.procText("/proc/buddyinfo")).toMatch(/^Node 0, zone {6}DMA( +\d+){11} \n$/);
  });

  it("2.6.10 (no ZONE_DMA32 before v2.6.15) lists DMA and Normal: Normal is the modern DMA32 and Normal added up", async () => {
    for (const ramBytes of [64 * 2 ** 20, 6 * 2 ** 30]) {
      const old = await Machine.create({ ramBytes, era: "2.6.10" });
      const now = await Machine.create({ ramBytes });
      const text = old.procText("/proc/buddyinfo");
      expect(text).toMatch(/^Node 0, zone {6}DMA( +\d+){11} \nNode 0, zone {3}Normal( +\d+){11} \n$/);
      const lines = (t: string) => t.split("\n").filter(Boolean);
      const counts = (line: string) => line.trim().split(/ +/).slice(4).map(Number);
      const modern = lines(now.procText("/proc/buddyinfo"));
      const sum = counts(modern[1]!).map((n, o) => n + (modern[2] ? counts(modern[2])[o]! : 0));
      expect(counts(lines(text)[1]!)).toEqual(sum);
      expect(lines(text)[0]).toBe(modern[0]);
      expect(freeByZone(text).DMA! + freeByZone(text).Normal!).toBe(old.mem.nrFreePages);
    }
  });

  it("a 24-bit coherent buffer comes out of ZONE_DMA; DMA32 ends as it was", async () => {
    // A bus-master PCI function on a 64 MiB machine (DMA32 above 16 MiB).
    const { m, dev } = await dmaTestDevice();
    const before = freeByZone(m.procText("/proc/buddyinfo"));
    const buf = m.withKernel(() => {
      expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(24))).toBe(0);
      return dmaAllocCoherent(dev, 4 * 4096)!;
    });
    expect(buf.dmaHandle + buf.size - 1).toBeLessThanOrEqual(DMA_BIT_MASK(24));
    const during = freeByZone(m.procText("/proc/buddyinfo"));
    expect(during.DMA).toBe(before.DMA! - 4);
    expect(during.DMA32).toBe(before.DMA32);
    m.withKernel(() => dmaFreeCoherent(dev, 4 * 4096, buf.vaddr, buf.dmaHandle));
    expect(freeByZone(m.procText("/proc/buddyinfo"))).toEqual(before);
    m.checkInvariants();
  });
});
