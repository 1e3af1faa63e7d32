// mmu.read's results given back with mmu.recycle (issue 14: `read` pools): the next read of the same
// length reuses the memory, a recycled array is detached (a use after recycle sees nothing), a live
// result never changes under its owner, and anything that is not a live result is refused.
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
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
  it("detaches the result and every view of its buffer; the next read of that length takes its memory", () => {
    const { mm, mmu, fill } = setup();
    drainPool();
    const first = fill(1);
    const r = mmu.read(BASE, 1 << 20);
    expect(same(r, first)).toBe(true);
    const words = new Uint32Array(r.buffer);
    const dv = new DataView(r.buffer);
    mmu.recycle(r);
    expect(r.length).toBe(0);
    expect(r.buffer.byteLength).toBe(0);
    expect(words.length).toBe(0);
    expect(() => dv.getUint8(0)).toThrow(TypeError);
    // A use after recycle reads nothing and writes nowhere.
    expect(r[5]).toBeUndefined();
    r[5] = 99;
    expect(readPoolStats()).toEqual({ bytes: 1 << 20, buffers: 1 });

    const second = fill(2);
    const r2 = mmu.read(BASE, 1 << 20);
    expect(readPoolStats()).toEqual({ bytes: 0, buffers: 0 });
    expect(same(r2, second)).toBe(true); // every byte overwritten: nothing of the first result shows
    expect(r.length).toBe(0);
    mmu.recycle(r2);
    mm.exit();
  });

  it("refuses what is not a live result of read, with a TypeError, and changes nothing", () => {
    const { mm, mmu } = setup();
    const r = mmu.read(BASE, BIG);
    const msg = /mmu.recycle: not a live result of mmu.read \(recycled already, or not read's\)/;
    for (const bad of [new Uint8Array(BIG), r.subarray(0, 16), new Uint8Array(r.buffer), null, 5, "x", {}])
      expect(() => mmu.recycle(bad as never), String(bad)).toThrow(msg);
    expect(r.length).toBe(BIG); // still the caller's
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

  it("detaches small results too but pools only large ones, up to 16 MiB in all", () => {
    const { mm, mmu } = setup();
    const held = drainPool();
    const small = mmu.read(BASE, 100);
    mmu.recycle(small);
    expect(small.length).toBe(0);
    expect(readPoolStats()).toEqual({ bytes: 0, buffers: 0 });
    const results = Array.from({ length: 20 }, () => mmu.read(BASE, 1 << 20));
    for (const r of results) mmu.recycle(r);
    expect(readPoolStats()).toEqual({ bytes: 16 << 20, buffers: 16 });
    expect(results.every((r) => r.length === 0)).toBe(true);
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
    const r = a.mmu.read(BASE, BIG);
    b.mmu.recycle(r);
    expect(r.length).toBe(0);
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
            if (gone) {
              mmu.recycle(gone.r);
              expect(gone.r.length).toBe(0);
            }
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
