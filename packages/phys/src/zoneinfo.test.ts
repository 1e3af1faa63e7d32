// /proc/zoneinfo in mm/vmstat.c's exact format. The fixture is /proc/zoneinfo as an x86-64 Linux 6.18
// (2 CPUs, 24 GiB) printed it: the model's text must have the same lines, in the same order, with the
// same spacing, zone by zone, numbers aside (and the second CPU's pageset aside: the model has one).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { __GFP_DMA, PhysMemory, renderZoneinfo } from "./index";

const MiB = 1024 * 1024;
const linux = readFileSync(new URL("./__fixtures__/zoneinfo-linux-6.18.txt", import.meta.url), "utf8");

/** Each zone's block of lines, keyed by zone name. */
function zonesOf(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^Node 0, zone +(\w+)$/.exec(line);
    if (m) {
      cur = [];
      out.set(m[1]!, cur);
    }
    cur.push(line);
  }
  return out;
}

/** A block's lines with every number made `N`, and the pagesets of CPUs other than 0 dropped. */
function shape(lines: string[]): string[] {
  const out: string[] = [];
  let skip = false;
  for (const line of lines) {
    if (/^ {4}cpu: /.test(line)) skip = line !== "    cpu: 0";
    else if (!line.startsWith("              ") && !line.startsWith("  vm stats")) skip = false;
    if (!skip) out.push(line.replace(/\d+/g, "N"));
  }
  return out;
}

describe("/proc/zoneinfo", () => {
  it("has Linux's lines for a first populated zone, a populated one and an empty one", () => {
    // 5 GiB: DMA, DMA32 and Normal all populated, as on the machine the fixture comes from.
    const mem = PhysMemory.create({ ramBytes: 5 * 1024 * MiB });
    const ours = zonesOf(renderZoneinfo(mem, { node: {}, zone: [] }));
    const theirs = zonesOf(linux);
    expect([...ours.keys()]).toEqual(["DMA", "DMA32", "Normal", "Movable", "Device"]);
    expect([...ours.keys()]).toEqual([...theirs.keys()]);
    for (const name of ours.keys()) expect(shape(ours.get(name)!)).toEqual(shape(theirs.get(name)!));
  });

  it("prints the allocator's numbers: free pages and blocks, marks, spans, protection, NUMA hits, pagesets", () => {
    const mem = PhysMemory.create({ ramBytes: 64 * MiB });
    const pfn = mem.allocPfn(0, __GFP_DMA);
    const text = renderZoneinfo(mem, { node: { nr_anon_pages: 7 }, zone: [{ nr_mlock: 3 }] });
    const [dma, dma32] = mem.zones();
    const blocks = zonesOf(text);
    const dmaText = blocks.get("DMA")!.join("\n");
    expect(dmaText).toContain("\n  per-node stats\n      nr_inactive_anon 0\n");
    expect(dmaText).toContain("\n      nr_anon_pages 7\n      nr_mapped    0\n");
    expect(dmaText).toContain(`\n  pages free     ${mem.zoneFreePages()[0]}\n        boost    0\n`);
    expect(dmaText).toContain(
      `\n        min      ${dma!.min}\n        low      ${dma!.low}\n        high     ${dma!.high}\n        promo    ${dma!.promo}\n`,
    );
    expect(dmaText).toContain("\n        spanned  4095\n        present  3999\n");
    expect(dmaText).toContain(`\n        protection: (0, ${Math.floor(dma32!.managedPages / 256)}, `);
    expect(dmaText).toContain("\n      nr_mlock     3\n");
    expect(dmaText).toContain("\n      numa_hit     1\n");
    expect(dmaText).toContain("\n  node_unreclaimable:  0\n  start_pfn:           1");
    // Free pages in blocks of pageblock order (9) and up.
    const counts = mem.buddyinfoByZone()[0]!.counts;
    expect(dmaText).toContain(`\n      nr_free_pages_blocks ${counts[9]! * 512 + counts[10]! * 1024}\n`);
    const dma32Text = blocks.get("DMA32")!.join("\n");
    expect(dma32Text).not.toContain("per-node stats");
    expect(dma32Text).toContain(`\n              batch:    ${dma32!.pcpBatch}\n`);
    expect(dma32Text).toContain("\n  start_pfn:           4096");
    // An empty zone ends at its protection line.
    expect(blocks.get("Normal")!.at(-1)).toBe("        protection: (0, 0, 0, 0, 0)");
    expect(text).toContain("protection: (0, 0, 0, 0, 0)\nNode 0, zone  Movable\n");
    expect(text.endsWith("protection: (0, 0, 0, 0, 0)\n")).toBe(true);
    mem.freePages(pfn, 0);
    mem.checkInvariants();
  });
});
