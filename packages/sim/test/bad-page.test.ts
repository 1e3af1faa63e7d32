import {
  allocPages,
  type DriverDefinition,
  defineDriver,
  freePages,
  type Page,
  pfnToPage,
} from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";
import { until } from "./__fixtures__/until";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

/** An order-2 block whose tail pages (refcount 0) the fault handler maps without getPage. */
function forgetful(state: { block: Page | null }): DriverDefinition {
  return defineDriver({
    name: "forgetful",
    apiVersion: 1,
    init(ctx) {
      state.block = allocPages(2, 0);
      if (!state.block) return -12;
      const major = ctx.allocChrdevRegion(0, 1, "forgetful");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault(vmf) {
              vmf.page = pfnToPage(state.block!.pfn + 1 + vmf.pgoff);
              return 0;
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("forgetful", major, 0);
      return 0;
    },
    exit() {
      if (state.block) freePages(state.block, 2);
    },
  });
}

describe("a crashed worker's reap", () => {
  it("treats a page its PTE held no reference to as a bad page: reported, quarantined, the machine goes on", async () => {
    const state = { block: null as Page | null };
    const sim = await Simulation.create({
      machine: { ramBytes: 32 * 1024 * 1024, drivers: [forgetful(state)] },
      deadlineMs: 20_000,
    });
    const m = sim.machine!;
    const pid = sim.spawn(program("forgetful-crash.ts"));
    const done = sim.run();
    await until(() => (m.process(pid)?.mm.rss ?? 0) >= 3, "the worker to fault in the 3 pages");
    await sim.worker(pid)!.terminate();
    const r = await done;
    expect(r[0]!.exit).toEqual({ signal: "SIGKILL" });
    expect(m.process(pid)?.state).toBe("zombie");
    const tails = [1, 2, 3].map((i) => state.block!.pfn + i);
    expect(m.badPages().map((b) => [b.pfn, b.driver])).toEqual(tails.map((pfn) => [pfn, "forgetful"]));
    for (const pfn of tails) {
      expect(m.dmesg()).toContain(
        `BUG: Bad page state in process ${m.process(pid)!.comm}  pfn:${pfn.toString(16).padStart(5, "0")}`,
      );
      expect(m.mem.isQuarantined(pfn)).toBe(true);
    }
    m.checkInvariants();
    expect(m.unloadDriver("forgetful")).toBe(0);
    m.checkInvariants();
  });
});
