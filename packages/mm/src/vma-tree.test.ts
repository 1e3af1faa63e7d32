import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VmaTree } from "./vma-tree";

const PAGE = 4096;

interface V {
  vmStart: number;
  vmEnd: number;
  id: number;
}

let nextId = 0;
function vma(start: number, end: number): V {
  return { vmStart: start, vmEnd: end, id: nextId++ };
}

/** Reference model: a sorted array, everything by linear scan. */
class Model {
  items: V[] = [];

  overlaps(s: number, e: number, except?: V): boolean {
    return this.items.some((x) => x !== except && x.vmStart < e && s < x.vmEnd);
  }
  insert(v: V): void {
    this.items.push(v);
    this.items.sort((a, b) => a.vmStart - b.vmStart);
  }
  remove(v: V): boolean {
    const i = this.items.indexOf(v);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }
  find(addr: number): V | undefined {
    return this.items.find((x) => x.vmEnd > addr);
  }
  findContaining(addr: number): V | undefined {
    return this.items.find((x) => x.vmStart <= addr && addr < x.vmEnd);
  }
  intersecting(s: number, e: number): V[] {
    return this.items.filter((x) => x.vmStart < e && s < x.vmEnd);
  }
  isFree(a: number, len: number): boolean {
    return !this.overlaps(a, a + len);
  }
  /** Brute force over every page-aligned candidate address in [low, high - len]. */
  gap(topDown: boolean, len: number, low: number, high: number, mask: number, off: number): number {
    const align = mask + 1;
    const ok = (a: number) => (((a - off) % align) + align) % align === 0 && this.isFree(a, len);
    if (topDown) {
      for (let a = high - len; a >= low; a -= PAGE) if (ok(a)) return a;
    } else {
      for (let a = low; a + len <= high; a += PAGE) if (ok(a)) return a;
    }
    return -1;
  }
}

// Small page universe so operations collide, optionally shifted high to exercise > 2^32 arithmetic.
const UNIVERSE = 96;
const MASKS = [0, PAGE - 1, 2 * PAGE - 1, 4 * PAGE - 1, 16 * PAGE - 1, 2 ** 21 - 1];

type Op =
  | { k: "insert"; p: number; n: number }
  | { k: "remove"; i: number; foreign: boolean }
  | { k: "update"; i: number; ds: number; de: number }
  | { k: "find"; p: number }
  | { k: "contain"; p: number }
  | { k: "intersect"; p: number; n: number }
  | { k: "neigh"; i: number }
  | { k: "from"; p: number }
  | { k: "gap"; top: boolean; lo: number; hi: number; n: number; m: number; o: number };

const pageArb = fc.integer({ min: 0, max: UNIVERSE });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant("insert" as const),
      p: pageArb,
      n: fc.integer({ min: 1, max: 6 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("remove" as const), i: fc.nat(), foreign: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("update" as const),
      i: fc.nat(),
      ds: fc.integer({ min: -3, max: 3 }),
      de: fc.integer({ min: -3, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("find" as const), p: pageArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("contain" as const), p: pageArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("intersect" as const),
      p: pageArb,
      n: fc.integer({ min: -1, max: 20 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("neigh" as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("from" as const), p: pageArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("gap" as const),
      top: fc.boolean(),
      lo: pageArb,
      hi: pageArb,
      n: fc.integer({ min: 1, max: 12 }),
      m: fc.integer({ min: 0, max: MASKS.length - 1 }),
      o: fc.nat({ max: 600 }),
    }),
  },
);

/** Runs `ops` on a tree and on the model, comparing after each; returns how many steps ran. */
function runOps(base: number, ops: Op[]): number {
  const tree = new VmaTree<V>();
  const model = new Model();
  const addr = (p: number) => base + p * PAGE;
  const pick = (i: number) => model.items[i % model.items.length];
  for (const op of ops) {
    switch (op.k) {
      case "insert": {
        const v = vma(addr(op.p), addr(op.p + op.n));
        if (model.overlaps(v.vmStart, v.vmEnd)) {
          expect(() => tree.insert(v)).toThrow();
        } else {
          tree.insert(v);
          model.insert(v);
        }
        break;
      }
      case "remove": {
        const v =
          op.foreign || model.items.length === 0
            ? vma(addr(op.i % UNIVERSE), addr(UNIVERSE + 1))
            : pick(op.i)!;
        expect(tree.remove(v)).toBe(model.remove(v));
        expect(tree.has(v)).toBe(false);
        break;
      }
      case "update": {
        const v = pick(op.i);
        if (v === undefined) break;
        const ns = v.vmStart + op.ds * PAGE;
        const ne = v.vmEnd + op.de * PAGE;
        // Valid only if the order is kept: within the space between v's current neighbours.
        const j = model.items.indexOf(v);
        const lo = model.items[j - 1]?.vmEnd ?? Number.NEGATIVE_INFINITY;
        const hi = model.items[j + 1]?.vmStart ?? Number.POSITIVE_INFINITY;
        if (ns < ne && lo <= ns && ne <= hi) {
          expect(model.overlaps(ns, ne, v)).toBe(false);
          tree.updateBounds(v, ns, ne);
          expect([v.vmStart, v.vmEnd]).toEqual([ns, ne]);
        } else {
          const before = [v.vmStart, v.vmEnd];
          expect(() => tree.updateBounds(v, ns, ne)).toThrow();
          expect([v.vmStart, v.vmEnd]).toEqual(before);
        }
        break;
      }
      case "find":
        expect(tree.find(addr(op.p) + 1)).toBe(model.find(addr(op.p) + 1));
        expect(tree.find(addr(op.p))).toBe(model.find(addr(op.p)));
        break;
      case "contain":
        expect(tree.findContaining(addr(op.p))).toBe(model.findContaining(addr(op.p)));
        expect(tree.findContaining(addr(op.p) - 1)).toBe(model.findContaining(addr(op.p) - 1));
        break;
      case "intersect": {
        const s = addr(op.p) + (op.n % 2) * 100;
        const e = addr(op.p + op.n);
        expect([...tree.intersecting(s, e)]).toEqual(s < e ? model.intersecting(s, e) : []);
        break;
      }
      case "neigh": {
        const i = model.items.length === 0 ? -1 : op.i % model.items.length;
        if (i < 0) {
          expect(tree.first()).toBeUndefined();
          expect(tree.last()).toBeUndefined();
          break;
        }
        const v = model.items[i]!;
        expect(tree.prev(v)).toBe(model.items[i - 1]);
        expect(tree.next(v)).toBe(model.items[i + 1]);
        expect(tree.first()).toBe(model.items[0]);
        expect(tree.last()).toBe(model.items[model.items.length - 1]);
        break;
      }
      case "from":
        expect([...tree.from(addr(op.p))]).toEqual(model.items.filter((x) => x.vmEnd > addr(op.p)));
        break;
      case "gap": {
        const mask = MASKS[op.m]!;
        const off = (op.o * PAGE) % (mask + 1);
        const len = op.n * PAGE;
        const lo = addr(op.lo);
        const hi = addr(op.hi);
        const got = op.top
          ? tree.findGapTopDown(len, lo, hi, mask, off)
          : tree.findGapBottomUp(len, lo, hi, mask, off);
        expect(got).toBe(model.gap(op.top, len, lo, hi, mask, off));
        break;
      }
    }
    expect(tree.size).toBe(model.items.length);
  }
  tree.checkInvariants();
  expect([...tree]).toEqual(model.items);
  return ops.length;
}

describe("VmaTree against a sorted-array model", () => {
  // Each test counts its own model-checked steps (no counter shared between tests).
  it("random operation sequences (low addresses): thousands of model-checked steps", () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 150, size: "max" }), (ops) => {
        steps += runOps(0, ops);
      }),
      { numRuns: 200 },
    );
    expect(steps).toBeGreaterThan(5000);
  });

  it("random operation sequences (addresses above 2^46)", () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 150, size: "max" }), (ops) => {
        steps += runOps(2 ** 46 + 2 ** 33, ops);
      }),
      { numRuns: 150 },
    );
    expect(steps).toBeGreaterThan(3000);
  });

  it("invariants hold after every step", () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60, size: "max" }), (ops) => {
        for (let i = 1; i <= ops.length; i++) steps += runOps(0, ops.slice(0, i));
      }),
      { numRuns: 15 },
    );
    expect(steps).toBeGreaterThan(1000);
  });
});

describe("VmaTree", () => {
  it("rejects overlap, empty ranges and bad gap arguments", () => {
    const t = new VmaTree<V>();
    t.insert(vma(0x1000, 0x3000));
    expect(() => t.insert(vma(0x2000, 0x4000))).toThrow(/overlaps/);
    expect(() => t.insert(vma(0x0, 0x2000))).toThrow(/overlaps/);
    expect(() => t.insert(vma(0x5000, 0x5000))).toThrow(RangeError);
    expect(() => t.findGapTopDown(0, 0, 0x10000)).toThrow(RangeError);
    expect(() => t.findGapBottomUp(0x1000, 0, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => t.prev(vma(0x1000, 0x3000))).toThrow(/not in the tree/);
    expect(t.remove(vma(0x1000, 0x3000))).toBe(false);
    expect(t.size).toBe(1);
  });

  it("gap search at the top of a 47-bit address space with huge alignments (no 32-bit arithmetic)", () => {
    const TASK_SIZE = 2 ** 47 - PAGE;
    const t = new VmaTree<V>();
    const stack = vma(TASK_SIZE - 0x21000, TASK_SIZE);
    const libc = vma(2 ** 46 + 0x7f00_0000_0, 2 ** 46 + 0x7f00_0000_0 + 0x200000);
    t.insert(stack);
    t.insert(libc);
    const mmapBase = TASK_SIZE - 2 ** 30;
    expect(t.findGapTopDown(PAGE, 0x10000, mmapBase)).toBe(mmapBase - PAGE);
    const twoMb = 2 ** 21 - 1;
    const a = t.findGapTopDown(3 * PAGE, 0x10000, mmapBase, twoMb, 0);
    expect(a % 2 ** 21).toBe(0);
    expect(a).toBe(Math.floor((mmapBase - 3 * PAGE) / 2 ** 21) * 2 ** 21);
    expect(a).toBeGreaterThan(2 ** 46);
    const oneGb = 2 ** 30 - 1;
    const b = t.findGapTopDown(2 ** 21, 0x10000, TASK_SIZE, oneGb, 0x5000);
    expect((b - 0x5000) % 2 ** 30).toBe(0);
    expect(b + 2 ** 21).toBeLessThanOrEqual(stack.vmStart);
    // Bottom-up finds the lowest aligned hole.
    expect(t.findGapBottomUp(PAGE, 0x10000, TASK_SIZE)).toBe(0x10000);
    expect(t.findGapBottomUp(PAGE, libc.vmStart, TASK_SIZE)).toBe(libc.vmEnd);
    expect(t.findGapBottomUp(PAGE, libc.vmStart, libc.vmEnd + PAGE - 1)).toBe(-1);
    expect(t.findContaining(stack.vmEnd - 1)).toBe(stack);
    expect(t.find(libc.vmEnd)).toBe(stack);
    t.checkInvariants();
  });

  it("supports modifying the tree while iterating (munmap-style walk)", () => {
    const t = new VmaTree<V>();
    for (let i = 0; i < 50; i++) t.insert(vma(i * 2 * PAGE, (i * 2 + 1) * PAGE));
    const seen: number[] = [];
    for (const v of t.intersecting(10 * PAGE, 40 * PAGE)) {
      seen.push(v.vmStart / PAGE);
      t.remove(v);
    }
    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => 10 + 2 * i));
    expect(t.size).toBe(35);
    t.checkInvariants();
  });
});

describe("VmaTree complexity", () => {
  /** 1-page elements packed back to back, with a sprinkling of 1-page holes. */
  function build(n: number): { tree: VmaTree<V>; items: V[]; top: number } {
    const tree = new VmaTree<V>();
    const items: V[] = [];
    for (let i = 0; i < n; i++) {
      const v = vma((i + 16) * PAGE, (i + 17) * PAGE);
      items.push(v);
      tree.insert(v);
    }
    return { tree, items, top: (n + 16) * PAGE };
  }

  /**
   * Mixed remove / find / gap searches / re-insert cycle; returns the subtrees the gap searches
   * examined (mayFit calls) per search: the work, counted instead of timed.
   */
  function gapVisits(n: number, ops: number): number {
    const { tree, items, top } = build(n);
    let visits = 0;
    const probe = tree as unknown as { mayFit: (...a: unknown[]) => boolean };
    const mayFit = probe.mayFit;
    probe.mayFit = function (this: unknown, ...a: unknown[]) {
      visits++;
      return mayFit.apply(this, a);
    };
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let searches = 0;
    for (let k = 0; k < ops; k++) {
      const i = Math.floor(rand() * n);
      const v = items[i]!;
      tree.remove(v);
      expect(tree.findGapTopDown(PAGE, 0, top)).toBe(v.vmStart);
      expect(tree.findGapBottomUp(PAGE, 16 * PAGE, top, 2 * PAGE - 1, v.vmStart % (2 * PAGE))).toBe(
        v.vmStart,
      );
      searches += 2;
      expect(tree.find(v.vmStart)).toBe(items[i + 1]);
      tree.insert(v);
    }
    tree.checkInvariants();
    return visits / searches;
  }

  it("builds 100,000 packed elements and answers correctly, at AVL height", () => {
    const { tree, items, top } = build(100_000);
    tree.checkInvariants();
    // An AVL tree of n nodes is at most 1.44·log2(n + 2) high: every descent is logarithmic.
    expect(tree.height).toBeLessThanOrEqual(Math.floor(1.4405 * Math.log2(100_000 + 2)));
    expect(tree.findGapTopDown(PAGE, 0, top)).toBe(15 * PAGE);
    expect(tree.findGapTopDown(PAGE, 16 * PAGE, top)).toBe(-1);
    const hole = items[77_777]!;
    tree.remove(hole);
    expect(tree.findGapTopDown(PAGE, 16 * PAGE, top)).toBe(hole.vmStart);
    expect(tree.findGapBottomUp(PAGE, 16 * PAGE, top)).toBe(hole.vmStart);
    expect(tree.findGapTopDown(PAGE, 16 * PAGE, top, 2 ** 21 - 1)).toBe(-1);
    expect(tree.find(hole.vmStart)).toBe(items[77_778]);
    expect(tree.findContaining(hole.vmStart)).toBeUndefined();
    expect([...tree.intersecting(hole.vmStart - PAGE, hole.vmEnd + PAGE)]).toEqual([
      items[77_776],
      items[77_778],
    ]);
  });

  it("gap searches at 100,000 elements examine a logarithmic number of subtrees", () => {
    const big = gapVisits(100_000, 2_000);
    const small = gapVisits(100, 2_000);
    // log2(1e5) / log2(1e2) = 2.5; a linear search would examine ~1000x more subtrees.
    expect(big / small).toBeLessThan(4);
    expect(big).toBeLessThan(4 * Math.log2(100_000));
  });
});
