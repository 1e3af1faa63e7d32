/**
 * LDD3: "If the nopage method is left NULL, kernel code that handles page faults maps the zero page
 * to the faulting virtual address" (2.6.10), so mremap growth reads zeros and a private write gets its
 * own copy. Today a file VMA without ->fault is SIGBUS (vma_dummy_vm_ops, commit bfd40eaff5ab).
 */
import {
  MAP_PRIVATE,
  MAP_SHARED,
  type Machine,
  MREMAP_MAYMOVE,
  PAGE_SIZE,
  type Process,
} from "@faultline/kernel";
import { expectSignal, mapDevice, useMachine } from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import { nopage } from "./index";

const kit = useMachine({ ramBytes: 32 * 2 ** 20, spawn: { name: "nopage-test" } });

const rss = (m: Machine, p: Process) =>
  m
    .procText(`/proc/${p.pid}/smaps`)
    .split("\n")
    .filter((l) => l.startsWith("Rss:"))
    .map((l) => Number(/(\d+) kB/.exec(l)![1]));

describe.each([{ vmOps: "open-close" }, { vmOps: "none" }] as const)(
  "nopage driver, vm_ops %o",
  (options) => {
    describe("2.6.10", () => {
      it("reads map the zero page: zeros, nothing in RSS", async () => {
        const { m, p } = await kit.boot({ era: "2.6.10", drivers: [nopage(options)] });
        const a = mapDevice(p, "/dev/nopage", { length: 2 * PAGE_SIZE });
        expect(p.mmu.load32(a)).toBe(0);
        expect(p.mmu.load32(a + PAGE_SIZE + 100)).toBe(0);
        expect(rss(m, p)).toEqual([0]);
        m.checkInvariants();
      });

      it("a private write gets a private copy; another process still reads zeros", async () => {
        const { m, p } = await kit.boot({ era: "2.6.10", drivers: [nopage(options)] });
        const q = m.spawn();
        const a = mapDevice(p, "/dev/nopage", { length: PAGE_SIZE, flags: MAP_PRIVATE });
        const b = mapDevice(q, "/dev/nopage", { length: PAGE_SIZE, flags: MAP_PRIVATE });
        expect(p.mmu.load8(a)).toBe(0);
        p.mmu.store8(a, 0x5a);
        expect(p.mmu.load8(a)).toBe(0x5a);
        expect(q.mmu.load8(b)).toBe(0);
        expect(rss(m, p)).toEqual([4]);
        m.checkInvariants();
      });

      it("mremap growth gives zero-filled memory", async () => {
        const { m, p } = await kit.boot({ era: "2.6.10", drivers: [nopage(options)] });
        const a = mapDevice(p, "/dev/nopage", { length: PAGE_SIZE, flags: MAP_PRIVATE });
        p.mmu.store8(a, 1);
        const b = p.sys.mremap(a, PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE);
        expect(b).toBeGreaterThan(0);
        expect(p.mmu.load8(b)).toBe(1);
        expect([...p.mmu.read(b + PAGE_SIZE, 3 * PAGE_SIZE)].every((x) => x === 0)).toBe(true);
        m.checkInvariants();
      });
    });

    describe("modern", () => {
      it("any touch is SIGBUS (shared or private, read or write)", async () => {
        for (const [flags, write] of [
          [MAP_SHARED, false],
          [MAP_SHARED, true],
          [MAP_PRIVATE, false],
          [MAP_PRIVATE, true],
        ] as const) {
          const { m, p } = await kit.boot({ era: "modern", drivers: [nopage(options)] });
          const a = mapDevice(p, "/dev/nopage", { length: PAGE_SIZE, flags });
          expectSignal(() => (write ? p.mmu.store8(a + 5, 1) : p.mmu.load8(a + 5)), {
            signal: "SIGBUS",
            code: "BUS_ADRERR",
            addr: a + 5,
          });
          expect(p.exitSignal).toBe("SIGBUS");
          m.checkInvariants();
        }
      });

      it("mremap growth succeeds (no VM_DONTEXPAND) but the new pages are SIGBUS too", async () => {
        const { m, p } = await kit.boot({ era: "modern", drivers: [nopage(options)] });
        const a = mapDevice(p, "/dev/nopage", { length: PAGE_SIZE });
        const b = p.sys.mremap(a, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE);
        expect(b).toBeGreaterThan(0);
        expectSignal(() => p.mmu.load8(b + PAGE_SIZE), { signal: "SIGBUS" });
        m.checkInvariants();
      });
    });
  },
);

describe("nopage driver VMA accounting", () => {
  it.each(["modern", "2.6.10"] as const)(
    "%s: open/close keep count through fork, split and exit",
    async (era) => {
      const drv = nopage();
      const { m, p } = await kit.boot({ era, drivers: [drv] });
      const a = mapDevice(p, "/dev/nopage", { length: 3 * PAGE_SIZE, flags: MAP_PRIVATE });
      expect(drv.liveVmas).toBe(1);
      const child = m.process(p.sys.fork())!;
      expect(drv.liveVmas).toBe(2);
      expect(p.sys.munmap(a + PAGE_SIZE, PAGE_SIZE)).toBe(0); // split in three, middle removed
      expect(drv.liveVmas).toBe(3);
      child.sys.exit(0);
      expect(drv.liveVmas).toBe(2);
      p.sys.exit(0);
      expect(drv.liveVmas).toBe(0);
      m.checkInvariants();
    },
  );
});
