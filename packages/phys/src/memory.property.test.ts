// Model-based test of the buddy allocator: random sequences of allocations, frees, references and
// deliberate mistakes, checked against a plain model of the allocated blocks and checkInvariants().
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ORDER, PhysError, PhysMemory } from "./index";

type Cmd =
  | { readonly op: "alloc"; readonly order: number }
  | { readonly op: "free" | "get" | "put" | "split"; readonly k: number }
  | { readonly op: "freeWrongOrder"; readonly k: number; readonly delta: number }
  | { readonly op: "freeTail"; readonly k: number; readonly i: number }
  | {
      readonly op: "stray";
      readonly what: "free" | "get" | "put";
      readonly pfn: number;
      readonly order: number;
    };

interface Block {
  order: number;
  refs: number;
}

const order = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_ORDER }) },
);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: order.map((o) => ({ op: "alloc", order: o }) as const) },
  { weight: 4, arbitrary: fc.nat().map((k) => ({ op: "free", k }) as const) },
  { weight: 2, arbitrary: fc.nat().map((k) => ({ op: "get", k }) as const) },
  { weight: 2, arbitrary: fc.nat().map((k) => ({ op: "put", k }) as const) },
  { weight: 1, arbitrary: fc.nat().map((k) => ({ op: "split", k }) as const) },
  {
    weight: 1,
    arbitrary: fc
      .record({ k: fc.nat(), delta: fc.integer({ min: 1, max: 3 }) })
      .map((r) => ({ op: "freeWrongOrder", ...r }) as const),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.nat(), i: fc.nat() }).map((r) => ({ op: "freeTail", ...r }) as const),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        what: fc.constantFrom("free", "get", "put"),
        pfn: fc.integer({ min: -2, max: 0x900 }),
        order: fc.integer({ min: 0, max: MAX_ORDER }),
      })
      .map((r) => ({ op: "stray", ...r }) as const),
  },
);

/** Everything a refused call must leave exactly as it was. */
function snapshot(mem: PhysMemory): string {
  return JSON.stringify([
    mem.nrFreePages,
    mem.buddyinfo(),
    Array.from(mem.refcount),
    Array.from(mem.mapcount),
    Array.from(mem.flags),
    Array.from(mem.order),
    Array.from(mem.next),
    Array.from(mem.prev),
  ]);
}

function expectRefused(mem: PhysMemory, call: () => unknown): void {
  const before = snapshot(mem);
  expect(call).toThrow(PhysError);
  expect(snapshot(mem)).toBe(before);
}

function run(cmds: readonly Cmd[]): void {
  // 8 MiB: small enough to run out, and one MAX_ORDER block stays untouched until asked for.
  const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
  const total = mem.nrFreePages;
  const bootBuddy = mem.buddyinfo();
  const held = new Map<number, Block>();
  const heads = () => [...held.keys()];
  const pick = (k: number) => {
    const hs = heads();
    return hs.length === 0 ? undefined : hs[k % hs.length]!;
  };
  const used = () => [...held.values()].reduce((n, b) => n + (1 << b.order), 0);

  for (const c of cmds) {
    switch (c.op) {
      case "alloc": {
        const before = mem.buddyinfo();
        const pfn = mem.allocPfn(c.order);
        if (pfn < 0) {
          // The buddy allocator fails only when no free block of that order or larger exists.
          expect(before.slice(c.order).every((n) => n === 0)).toBe(true);
          break;
        }
        expect(pfn % (1 << c.order)).toBe(0);
        for (let i = 0; i < 1 << c.order; i++) expect(mem.ramLocate(pfn + i)).toBeGreaterThanOrEqual(0);
        for (const [h, b] of held) {
          expect(pfn + (1 << c.order) <= h || h + (1 << b.order) <= pfn).toBe(true);
        }
        expect(mem.pageCount(pfn)).toBe(1);
        held.set(pfn, { order: c.order, refs: 1 });
        break;
      }
      case "free":
      case "put": {
        const pfn = pick(c.k);
        if (pfn === undefined) break;
        const b = held.get(pfn)!;
        if (c.op === "free") mem.freePages(pfn, b.order);
        else expect(mem.putPage(pfn)).toBe(b.refs === 1);
        if (--b.refs === 0) held.delete(pfn);
        break;
      }
      case "get": {
        const pfn = pick(c.k);
        if (pfn === undefined) break;
        mem.getPage(pfn);
        held.get(pfn)!.refs++;
        break;
      }
      case "split": {
        const pfn = pick(c.k);
        if (pfn === undefined) break;
        const b = held.get(pfn)!;
        mem.splitPage(pfn, b.order);
        for (let i = 1; i < 1 << b.order; i++) held.set(pfn + i, { order: 0, refs: 1 });
        b.order = 0;
        break;
      }
      case "freeWrongOrder": {
        const pfn = pick(c.k);
        if (pfn === undefined) break;
        const b = held.get(pfn)!;
        expectRefused(mem, () => mem.freePages(pfn, (b.order + c.delta) % (MAX_ORDER + 2)));
        break;
      }
      case "freeTail": {
        const pfn = pick(c.k);
        if (pfn === undefined) break;
        const b = held.get(pfn)!;
        if (b.order === 0) break;
        const tail = pfn + 1 + (c.i % ((1 << b.order) - 1));
        expectRefused(mem, () => mem.freePages(tail, 0));
        expectRefused(mem, () => mem.getPage(tail));
        expectRefused(mem, () => mem.putPage(tail));
        break;
      }
      case "stray": {
        // A pfn the model does not hold: free, unallocated tail, reserved, ISA hole, or no page at all.
        if (held.has(c.pfn)) break;
        const reservedRef = mem.pfnValid(c.pfn) && mem.pageCount(c.pfn) > 1;
        if (c.what === "free") expectRefused(mem, () => mem.freePages(c.pfn, c.order));
        else if (c.what === "put" && !reservedRef) expectRefused(mem, () => mem.putPage(c.pfn));
        else if (c.what === "get" && !(mem.pfnValid(c.pfn) && mem.pageCount(c.pfn) > 0)) {
          expectRefused(mem, () => mem.getPage(c.pfn));
        }
        break;
      }
    }
    expect(mem.nrFreePages).toBe(total - used());
    mem.checkInvariants();
  }

  // Returning everything must coalesce back to the boot state.
  for (const [pfn, b] of held) {
    while (b.refs-- > 0) mem.putPage(pfn);
  }
  expect(mem.nrFreePages).toBe(total);
  expect(mem.buddyinfo()).toEqual(bootBuddy);
  mem.checkInvariants();
}

describe("buddy allocator against a model", () => {
  it("keeps alignment, no overlap, counts, refcounts and refusals exact", () => {
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 120 }), (cmds) => run(cmds)),
      { numRuns: 150 },
    );
  });

  it("reserved pages: the zero page, pfn 0 and the ISA hole keep their boot reference", () => {
    const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
    for (const pfn of [0, mem.zeroPfn, 0xa0, 0xff]) {
      expectRefused(mem, () => mem.putPage(pfn));
      expectRefused(mem, () => mem.freePages(pfn, 0));
      mem.getPage(pfn);
      expect(mem.putPage(pfn)).toBe(false);
    }
    mem.checkInvariants();
  });
});
