import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BANK_BYTES_MAX,
  directMapAddress,
  directMapPhys,
  fromHalves,
  high32,
  LOCATION_NONE,
  locationBank,
  locationOf,
  locationOffset,
  low32,
  offsetInPage,
  PAGE_ENTRY_NONE,
  PAGE_OFFSET,
  PAGE_SIZE,
  PHYS_ADDR_LIMIT,
  PhysMachine,
  pageEntryBank,
  pageEntryLocation,
  pageEntryOf,
  pageEntryOffset,
  pageEntryWritable,
  pfnOf,
  pfnUp,
  physOf,
} from "./index";

const MAX_PFN = PHYS_ADDR_LIMIT / PAGE_SIZE - 1;
const pfn = fc.integer({ min: 0, max: MAX_PFN });
const bank = fc.integer({ min: 0, max: 4095 });
const bankOffset = fc.integer({ min: 0, max: BANK_BYTES_MAX - 1 });

describe("physical addresses and page frames", () => {
  it("paddr = physOf(pfn) + offsetInPage, exactly, up to MAXPHYADDR", () => {
    fc.assert(
      fc.property(pfn, fc.integer({ min: 0, max: PAGE_SIZE - 1 }), (p, off) => {
        const paddr = physOf(p) + off;
        expect(pfnOf(paddr)).toBe(p);
        expect(offsetInPage(paddr)).toBe(off);
        expect(pfnUp(paddr)).toBe(off === 0 ? p : p + 1);
      }),
    );
  });

  it("the direct map is PAGE_OFFSET + paddr, and back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PHYS_ADDR_LIMIT - 1 }), (paddr) => {
        expect(directMapAddress(paddr) - PAGE_OFFSET).toBe(paddr);
        expect(directMapPhys(directMapAddress(paddr))).toBe(paddr);
      }),
    );
  });
});

describe("locations and page entries", () => {
  it("a location round-trips bank and offset", () => {
    fc.assert(
      fc.property(bank, bankOffset, (b, off) => {
        const loc = locationOf(b, off);
        expect(loc).toBeGreaterThanOrEqual(0);
        expect([locationBank(loc), locationOffset(loc)]).toEqual([b, off]);
      }),
    );
  });

  it("a page entry round-trips bank, writability and offset, and converts to the same location", () => {
    fc.assert(
      fc.property(bank, fc.boolean(), bankOffset, (b, w, off) => {
        const e = pageEntryOf(b, w, off);
        expect([pageEntryBank(e), pageEntryWritable(e), pageEntryOffset(e)]).toEqual([b, w, off]);
        expect(pageEntryLocation(e)).toBe(locationOf(b, off));
      }),
    );
    expect(pageEntryLocation(PAGE_ENTRY_NONE)).toBe(LOCATION_NONE);
  });

  it("ramLocate and pageEntry agree with the encoders on a machine with RAM above 4 GiB", () => {
    const m = PhysMachine.create({ ramBytes: 4 * 1024 ** 3 + 64 * 1024 ** 2 });
    for (const r of m.mem.ramRanges) {
      for (const p of [pfnOf(r.start), pfnOf(r.end) - 1]) {
        const loc = m.mem.ramLocate(p);
        const t = m.translatePage(p);
        expect(loc).toBe(locationOf(t.bank, t.offset));
        expect(pageEntryLocation(m.pageEntry(p))).toBe(loc);
      }
    }
    expect(m.mem.ramLocate(pfnOf(m.pci.window32.start))).toBe(LOCATION_NONE);
    expect(m.pageEntry(pfnOf(m.pci.window32.start))).toBe(PAGE_ENTRY_NONE);
  });
});

describe("64-bit values as 32-bit halves", () => {
  it("fromHalves(low32(v), high32(v)) === v", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
        expect(low32(v)).toBeLessThan(2 ** 32);
        expect(fromHalves(low32(v), high32(v))).toBe(v);
      }),
    );
  });
});
