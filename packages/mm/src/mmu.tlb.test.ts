// The TLB's own rules (issue 14's fast path): tags are page addresses, one compare checks page and
// alignment, pages outside the main RAM view are tagged TLB_OTHER_BANK and served through the bank
// list, and no cached entry ever outlives the translation it copied (Mmu.checkTlb). The property runs
// mm's reference model with small TLBs and both hit paths, each access compared with a walk.
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runOnDist } from "../test/dist-probe";
import { type Cmd, cmdArb, runSteps } from "../test/mm-model";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "./constants";
import { Mm } from "./mm";
import { Mmu, TLB_OTHER_BANK, tlbBufferBytes, tlbBufferLayout, tlbTagPage } from "./mmu";
import { ramOnly } from "./phys-access";
import { SignalError } from "./signal";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const BASE = 0x7f12_3456_0000;
const RUNS = Number(process.env.FAULTLINE_PROPERTY_RUNS ?? 40);

function setup(mainBank?: number) {
  const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm, undefined, mainBank === undefined ? {} : { mainBank });
  return { mem, mm, mmu };
}

describe("TLB tags", () => {
  it("tlbTagPage recovers the page of both kinds of tag; TLB_OTHER_BANK is out of reach of any access", () => {
    expect(tlbTagPage(BASE)).toBe(BASE);
    expect(tlbTagPage(BASE + TLB_OTHER_BANK)).toBe(BASE);
    expect(tlbTagPage(Number.NaN)).toBeNaN();
    // The hit compare for width w is addr - (addr & (4096 - w)): at most page + 3, never page + 8.
    for (const w of [1, 2, 4])
      for (let off = 0; off < P; off++) {
        const a = BASE + off;
        expect(a - (a & (P - w)) - BASE).toBeLessThan(TLB_OTHER_BANK);
      }
  });

  for (const [name, mainBank] of [
    ["the main RAM view", undefined],
    ["the bank list (mainBank -1)", -1],
  ] as const) {
    it(`${name}: aligned and unaligned accesses inside a page hit without walking again`, () => {
      const { mem, mm, mmu } = setup(mainBank);
      mm.mmap(BASE, 2 * P, RW, ANON | MAP_FIXED, null, 0);
      mmu.store32(BASE + 8, 0x11223344);
      mmu.store8(BASE + P, 1); // second page present
      const walks = mmu.walks;
      expect(mmu.load32(BASE + 8)).toBe(0x11223344);
      expect(mmu.load32(BASE + 9)).toBe(0x00112233); // unaligned: bytes 9..12
      expect(mmu.load16(BASE + 11)).toBe(0x0011);
      expect(mmu.load8(BASE + 10)).toBe(0x22);
      mmu.store32(BASE + 13, 0xaabbccdd);
      mmu.store16(BASE + 17, 0xeeff);
      expect(mmu.load64(BASE + 13)).toBe(0x0000eeffaabbccddn);
      expect(mmu.walks).toBe(walks);
      // Crossing a page boundary is still checked page by page (and may walk), and still correct.
      mmu.store32(BASE + P - 2, 0x01020304);
      expect(mmu.load32(BASE + P - 2)).toBe(0x01020304);
      mmu.checkTlb();
      mm.exit();
      mem.checkInvariants();
    });
  }

  it("a write tag is set only once the PTE is dirty, and mprotect read-only drops it before returning", () => {
    const { mm, mmu } = setup();
    mm.mmap(BASE, P, RW, ANON | MAP_FIXED, null, 0);
    expect(mmu.load32(BASE)).toBe(0); // zero page: readable, not writable through the TLB
    mmu.checkTlb();
    mmu.store32(BASE, 5); // COW off the zero page
    mmu.checkTlb();
    expect(mm.mprotect(BASE, P, PROT_READ)).toBe(0);
    mmu.checkTlb();
    expect(() => mmu.store32(BASE, 6)).toThrow(SignalError);
    expect(mmu.load32(BASE)).toBe(5);
    mm.exit();
  });

  it("checkTlb catches an entry left behind (a missing shootdown)", () => {
    const { mm, mmu } = setup();
    mm.mmap(BASE, P, RW, ANON | MAP_FIXED, null, 0);
    mmu.store32(BASE, 5);
    mm.tlbClients.delete(mmu); // the kernel no longer tells this MMU anything
    expect(mm.munmap(BASE, P)).toBe(0);
    expect(() => mmu.checkTlb()).toThrow(/caches 0x7f1234560000, which the walk does not allow/);
    mmu.flushAll();
    mmu.checkTlb();
    mm.exit();
  });

  it("an Mmu over a shared TLB buffer keeps all of its TLB there, and its hits read the buffer's offsets", () => {
    const n = 64;
    const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem));
    const at = tlbBufferLayout(n);
    // The regions follow each other and the buffer size covers the last one.
    expect([at.rTag, at.wTag, at.tBank, at.tBase]).toEqual([0, 8 * n, 16 * n, 20 * n]);
    expect(tlbBufferBytes(n)).toBe(at.tBase + 4 * n);
    expect(() =>
      Mmu.forMm(mm, undefined, { tlbEntries: n, tlbBuffer: new SharedArrayBuffer(20 * n) }),
    ).toThrow(/tlbBuffer: 1280 bytes, need 1536/);
    const buf = new SharedArrayBuffer(tlbBufferBytes(n));
    const mmu = Mmu.forMm(mm, undefined, { tlbEntries: n, tlbBuffer: buf });
    mm.mmap(BASE, 3 * P, RW, ANON | MAP_FIXED, null, 0);
    for (let k = 0; k < 3; k++) mmu.store32(BASE + k * P + 4, 100 + k);
    const wTag = new Float64Array(buf, at.wTag, n);
    const tBase = new Int32Array(buf, at.tBase, n);
    const slots = [0, 1, 2].map((k) => (BASE / P + k) % n);
    for (let k = 0; k < 3; k++) {
      expect(wTag[slots[k]!]).toBe(BASE + k * P);
      expect(tBase[slots[k]!]! % P).toBe(0); // a main-view page's offset in its bank
      const walks = mmu.walks;
      expect(mmu.load32(BASE + k * P + 4)).toBe(100 + k);
      expect(mmu.walks).toBe(walks);
    }
    // The hit path adds the buffer's own tBase (no private copy): pointing slot 0 at page 2's frame
    // makes a hit on page 0 read page 2's word. checkTlb sees the lie, and a flush mends it.
    tBase[slots[0]!] = tBase[slots[2]!]!;
    expect(mmu.load32(BASE + 4)).toBe(102);
    expect(() => mmu.checkTlb()).toThrow(/at location/);
    mmu.flushAll();
    expect(mmu.load32(BASE + 4)).toBe(100);
    mmu.checkTlb();
    mm.exit();
  });
});

describe("bulk reads", () => {
  it("a large read (unzeroed result buffer) returns exactly the bytes, and a fault part-way throws", () => {
    const { mem, mm, mmu } = setup();
    const n = 24 * P; // above the unzeroed threshold (64 KiB)
    mm.mmap(BASE, n, RW, ANON | MAP_FIXED, null, 0);
    const src = new Uint8Array(n - 3 * P);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 1) & 0xff;
    mmu.write(BASE + 5, src);
    const got = mmu.read(BASE, n);
    expect(got.constructor).toBe(Uint8Array);
    expect(got.length).toBe(n);
    const want = new Uint8Array(n);
    want.set(src, 5);
    expect(Buffer.compare(got, want)).toBe(0);
    expect(mm.munmap(BASE + n - P, P)).toBe(0);
    expect(() => mmu.read(BASE, n)).toThrow(SignalError);
    mm.exit();
    mem.checkInvariants();
  });
});

describe("TLB against the page model and a walk on every access", () => {
  for (const [name, opts] of [
    ["a 4-entry TLB, main view", { tlbEntries: 4 }],
    ["a 2-entry TLB, bank list only", { tlbEntries: 2, mainBank: -1 }],
    ["the default TLB", {}],
  ] as const) {
    it(`${name}: ${RUNS} runs × 100 steps (map/unmap/mprotect/mremap/fork/COW/loads/stores)`, () => {
      let steps = 0;
      fc.assert(
        fc.property(fc.array(cmdArb, { minLength: 100, maxLength: 100 }), (cmds: Cmd[]) => {
          steps += runSteps(cmds, { mmu: opts, reference: true });
        }),
        { numRuns: RUNS },
      );
      expect(steps).toBeGreaterThanOrEqual(RUNS * 90);
    }, 180_000);
  }
});

describe("the store miss path's shape for V8", () => {
  it("storeSlow is never inlined into a program's store loop (its call would cost every TLB hit)", () => {
    // Plain Node on the built package, as a user runs it; V8 says why it leaves a callee out of line.
    // Inlined (or called with three arguments), the miss path's call makes TurboFan keep the
    // caller's loop counter in memory: store32 1.53-1.99x the raw store instead of 1.37x (mmu.ts).
    const out = runOnDist(
      // Compiled on demand, not when a busy machine's background compiler gets to it: the loop
      // runs its hits and misses (feedback), then is optimized at once on its next call.
      ["--trace-turbo-inlining", "--allow-natives-syntax"],
      `
      mm.mmap(${BASE}, 1 << 18, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
      const loop = (n) => { for (let i = 0; i < n; i++) mmu.store32(${BASE} + ((i * 4) & 0x3ffff), i); };
      %PrepareFunctionForOptimization(loop);
      for (let k = 0; k < 3; k++) { mmu.flushAll(); loop(1 << 16); }
      %OptimizeFunctionOnNextCall(loop);
      mmu.flushAll();
      loop(1 << 16);
      `,
    );
    expect(out).toContain("done");
    // The probe sees the loop's inlining decisions: store32 goes in, storeSlow is refused.
    expect(out).toMatch(/Inlining \S+ \{\S+ <SharedFunctionInfo store32>\}/);
    expect(out).toMatch(/Cannot consider \S+ \{\S+ <SharedFunctionInfo storeSlow>\} for inlining/);
    expect(out).not.toMatch(/Inlining \S+ \{\S+ <SharedFunctionInfo storeSlow>\}/);
  }, 60_000);
});
