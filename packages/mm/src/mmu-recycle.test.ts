// mmu.read's results given back with mmu.recycle (issue 14: `read` pools): the next read of the same
// length reuses the memory, nothing is ever detached (that would slow every typed-array access of the
// thread), a live result never changes under its owner, and anything that is not a live result is
// refused.
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runOnDist } from "../test/dist-probe";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "./constants";
import { Mm } from "./mm";
import { Mmu, readPoolStats } from "./mmu";
import { ramOnly } from "./phys-access";
import { SignalError } from "./signal";

const BIG = 64 * 1024; // the smallest length the pool keeps (UNZEROED_MIN)
const BASE = 0x7000_0000_0000;

function setup(bytes = 1 << 20) {
  const mem = PhysMemory.create({ ramBytes: 32 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm);
  mm.mmap(BASE, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
  const fill = (seed: number) => {
    const b = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) b[i] = (i * 7 + seed) & 0xff;
    mmu.write(BASE, b);
    return b;
  };
  return { mm, mmu, fill };
}

/** Empties the pool (it is per thread, and other tests of this file fill it); returns what it held. */
function drainPool() {
  const { mm, mmu } = setup();
  const held: Uint8Array[] = [];
  for (let s = readPoolStats(); s.buffers > 0; s = readPoolStats()) {
    // Read every length the pool could hold until it is empty: the lengths used in this file.
    for (const len of [BIG, BIG + 4096, 2 * BIG, 1 << 20]) held.push(mmu.read(BASE, len));
  }
  mm.exit();
  return held;
}

/** Byte equality without vitest's element-by-element diff (slow on megabytes). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

describe("mmu.recycle", () => {
  it("hands the given-back memory to the next read of that length, detaching nothing", () => {
    const { mm, mmu, fill } = setup();
    drainPool();
    const first = fill(1);
    const r = mmu.read(BASE, 1 << 20);
    expect(same(r, first)).toBe(true);
    const buffer = r.buffer;
    mmu.recycle(r);
    // As with free(): the array keeps its memory until a later read takes it (not detached).
    expect(r.length).toBe(1 << 20);
    expect(buffer.byteLength).toBe(1 << 20);
    expect(readPoolStats()).toEqual({ bytes: 1 << 20, buffers: 1 });

    const second = fill(2);
    const r2 = mmu.read(BASE, 1 << 20);
    expect(readPoolStats()).toEqual({ bytes: 0, buffers: 0 });
    // (=== rather than toBe: a failing toBe deep-compares a megabyte to explain itself)
    expect(r2 === r).toBe(false);
    expect(r2.buffer === buffer).toBe(true); // the same host memory, every byte overwritten
    expect(same(r2, second)).toBe(true);
    // A read of another length does not take it.
    mmu.recycle(r2);
    const other = mmu.read(BASE, BIG);
    expect(other.buffer === buffer).toBe(false);
    expect(readPoolStats().buffers).toBe(1);
    mm.exit();
  });

  it("leaves V8's ArrayBufferDetaching protector intact (a detach slows every TLB hit of the thread)", () => {
    // Plain Node on the built package, as a user runs it: tsx's loader thread detaches buffers of
    // its own. The trace flag prints a line when any isolate gives the protector up.
    const run = (arg: string) =>
      runOnDist(
        ["--trace-protector-invalidation"],
        `
        mm.mmap(${BASE}, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
        for (let k = 0; k < 4; k++) mmu.recycle(mmu.read(${BASE}, ${BIG} << (k & 1)));
        mmu.recycle(mmu.read(${BASE}, 100));
        try { mmu.read(${BASE} + (1 << 20) - 4096, 8192); } catch {}
        if (process.argv[1] === "detach") { const b = new ArrayBuffer(8); structuredClone(b, { transfer: [b] }); }
        `,
        arg,
      );
    const out = run("keep");
    expect(out).toContain("done");
    expect(out).not.toContain("ArrayBufferDetaching");
    // The probe sees a detach when there is one.
    expect(run("detach")).toContain("Invalidating protector cell ArrayBufferDetaching");
  }, 30_000);

  it("refuses what is not a live result of read, with a TypeError, and changes nothing", () => {
    const { mm, mmu } = setup();
    const r = mmu.read(BASE, BIG);
    const msg = /mmu.recycle: not a live result of mmu.read \(recycled already, or not read's\)/;
    for (const bad of [new Uint8Array(BIG), r.subarray(0, 16), new Uint8Array(r.buffer), null, 5, "x", {}])
      expect(() => mmu.recycle(bad as never), String(bad)).toThrow(msg);
    expect(r.length).toBe(BIG); // still the caller's, and nothing was pooled
    const before = readPoolStats();
    mmu.recycle(r);
    expect(() => mmu.recycle(r)).toThrow(msg);
    expect(readPoolStats().buffers).toBe(before.buffers + 1);

    // One the caller transferred elsewhere is detached already: refused, and nothing is pooled.
    const t = mmu.read(BASE, BIG);
    structuredClone(t.buffer, { transfer: [t.buffer as ArrayBuffer] });
    const mid = readPoolStats();
    expect(() => mmu.recycle(t)).toThrow("mmu.recycle: this result of mmu.read was detached (transferred?)");
    expect(readPoolStats()).toEqual(mid);
    expect(() => mmu.recycle(t)).toThrow(msg);
    mm.exit();
  });

  it("takes small results back but pools only large ones, up to 16 MiB in all", () => {
    const { mm, mmu } = setup();
    const held = drainPool();
    const small = mmu.read(BASE, 100);
    mmu.recycle(small);
    expect(() => mmu.recycle(small)).toThrow(/not a live result/);
    expect(readPoolStats()).toEqual({ bytes: 0, buffers: 0 });
    const results = Array.from({ length: 20 }, () => mmu.read(BASE, 1 << 20));
    for (const r of results) mmu.recycle(r);
    expect(readPoolStats()).toEqual({ bytes: 16 << 20, buffers: 16 });
    // The pool holds the first 16 given back; the rest are left to the collector.
    const again = Array.from({ length: 17 }, () => mmu.read(BASE, 1 << 20));
    const pooled = new Set(results.slice(0, 16).map((r) => r.buffer));
    expect(new Set(again.slice(0, 16).map((r) => r.buffer)).size).toBe(16);
    expect(again.slice(0, 16).every((r) => pooled.has(r.buffer))).toBe(true);
    expect(results.some((r) => r.buffer === again[16]!.buffer)).toBe(false);
    for (const r of again) mmu.recycle(r);
    for (const h of held) mmu.recycle(h);
    mm.exit();
  });

  it("a read that faults part-way returns its array to the pool unseen, and the next read is whole", () => {
    const { mm, mmu, fill } = setup(2 * BIG);
    drainPool();
    const data = fill(3);
    mmu.recycle(mmu.read(BASE, 2 * BIG)); // the pool holds a buffer full of `data`
    expect(readPoolStats().buffers).toBe(1);
    const hole = BASE + BIG + 4096;
    mm.munmap(hole, BIG - 4096);
    expect(() => mmu.read(BASE, 2 * BIG)).toThrow(SignalError);
    expect(readPoolStats().buffers).toBe(1); // taken, filled part-way, given back
    // The hole mapped again reads as zeros: the pooled buffer's old bytes must not show.
    mm.mmap(hole, BIG - 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    const whole = mmu.read(BASE, 2 * BIG);
    expect(readPoolStats().buffers).toBe(0);
    const want = new Uint8Array(2 * BIG);
    want.set(data.subarray(0, BIG + 4096));
    expect(same(whole, want)).toBe(true);
    mmu.recycle(whole);
    mm.exit();
  });

  it("results of one Mmu can be recycled through another (the pool is the thread's)", () => {
    const a = setup();
    const b = setup();
    drainPool();
    const r = a.mmu.read(BASE, BIG);
    b.mmu.recycle(r);
    expect(() => a.mmu.recycle(r)).toThrow(/not a live result/);
    expect(b.mmu.read(BASE, BIG).buffer === r.buffer).toBe(true);
    a.mm.exit();
    b.mm.exit();
  });

  it("property: a live result never changes under its owner, whatever others read, recycle or write", () => {
    const { mm, mmu, fill } = setup(4 * BIG);
    const lengths = [100, BIG, BIG + 4096, 2 * BIG];
    type Op =
      | { kind: "read"; len: number; at: number }
      | { kind: "recycle"; which: number }
      | { kind: "write"; seed: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("read" as const), len: fc.constantFrom(...lengths), at: fc.nat(16) }),
      fc.record({ kind: fc.constant("recycle" as const), which: fc.nat(20) }),
      fc.record({ kind: fc.constant("write" as const), seed: fc.nat(255) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let mem = fill(0);
        const live: { r: Uint8Array; expect: Uint8Array }[] = [];
        for (const o of ops) {
          if (o.kind === "read") {
            const off = o.at * 4096;
            const len = Math.min(o.len, mem.length - off);
            const r = mmu.read(BASE + off, len);
            expect(same(r, mem.subarray(off, off + len))).toBe(true);
            live.push({ r, expect: r.slice() });
          } else if (o.kind === "recycle") {
            const [gone] = live.splice(o.which % Math.max(live.length, 1), 1);
            if (gone) mmu.recycle(gone.r);
          } else mem = fill(o.seed);
          for (const l of live) expect(same(l.r, l.expect)).toBe(true);
          expect(readPoolStats().bytes).toBeLessThanOrEqual(16 << 20);
        }
        for (const l of live) mmu.recycle(l.r);
      }),
      { numRuns: 60 },
    );
    mm.exit();
  });
});
