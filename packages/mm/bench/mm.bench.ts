// Hot paths of Mm/Mmu against raw baselines measured in the same run (STYLE.md: ratios, not times).
//   cd packages/mm && npx tsx --conditions=@faultline/source bench/mm.bench.ts
// Goals: TLB-hit load32 ≤ 1.5 × a raw Uint32Array read indexed from the same 47-bit address;
// bulk read ≥ 0.8 × the speed of Uint8Array.set; an anonymous write fault ≤ 2 × zeroing one frame;
// an mmap+munmap pair with 100,000 VMAs ≤ 2 × the same with 100.
import { PhysMemory } from "@faultline/phys";
import { measureSideBySide, recordResults } from "../../../bench/record.ts";
import { tlbLoops } from "../../../bench/tlb-loops.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../src/constants.ts";
import { Mm } from "../src/mm.ts";
import { Mmu } from "../src/mmu.ts";
import { ramOnly } from "../src/phys-access.ts";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const BASE = 0x1000_0000_0000;

const mem = PhysMemory.create({ ramBytes: 512 * 1024 * 1024 });

// ---- 1. TLB-hit load32 and store32 ------------------------------------------------------------------------
{
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm);
  const PAGES = 64; // well inside the 256-entry TLB
  const bytes = PAGES * P;
  mm.mmap(BASE, bytes, RW, ANON | MAP_FIXED, null, 0);
  for (let a = BASE; a < BASE + bytes; a += 4) mmu.store32(a, a & 0xffff);
  const raw = new Uint32Array(bytes / 4);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 4) & 0xffff;
  // The same loops the worker bench runs (packages/sim/bench): identical address arithmetic.
  const ns = measureSideBySide(tlbLoops(mmu, raw, BASE, bytes), { iterations: 2_000_000 });
  recordResults("mm: TLB-hit load32", {
    "ns/load32 (Mmu, TLB hit)": ns.mmuLoad32!,
    "ns/read raw Uint32Array, index from the 47-bit address": ns.rawFromAddress!,
    "ns/read raw Uint32Array, precomputed index": ns.rawPrecomputed!,
    "ratio load32 / raw from address (goal ≤ 1.5)": ns.mmuLoad32! / ns.rawFromAddress!,
    "ratio load32 / raw precomputed": ns.mmuLoad32! / ns.rawPrecomputed!,
    "ns/store32 (Mmu, TLB hit)": ns.mmuStore32!,
    "ns/write raw Uint32Array, index from the 47-bit address": ns.rawStoreFromAddress!,
    "ratio store32 / raw write from address (goal ≤ 1.5)": ns.mmuStore32! / ns.rawStoreFromAddress!,
  });
  mm.exit();
}

// ---- 2. bulk read of 1 MiB ------------------------------------------------------------------
{
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm);
  const MIB = 1 << 20;
  mm.mmap(BASE, MIB, RW, ANON | MAP_FIXED, null, 0);
  const src = new Uint8Array(MIB);
  for (let i = 0; i < MIB; i++) src[i] = i & 0xff;
  mmu.write(BASE, src);
  const dst = new Uint8Array(MIB);
  // Emulated RAM is a SharedArrayBuffer, and V8 copies out of shared memory with relaxed-atomic word
  // moves rather than memcpy: the same copy from a SharedArrayBuffer is the floor for any emulator.
  const sharedSrc = new Uint8Array(new SharedArrayBuffer(MIB));
  sharedSrc.set(src);
  const ns = measureSideBySide(
    {
      mmuRead: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += mmu.read(BASE, MIB)[i & 0xfff]!;
        return s;
      },
      mmuReadInto: (n) => {
        for (let i = 0; i < n; i++) mmu.readInto(BASE, dst);
        return dst[7]!;
      },
      rawSet: (n) => {
        for (let i = 0; i < n; i++) dst.set(src);
        return dst[7]!;
      },
      sharedSet: (n) => {
        for (let i = 0; i < n; i++) dst.set(sharedSrc);
        return dst[7]!;
      },
    },
    { iterations: 200, rounds: 15 },
  );
  recordResults("mm: bulk read of 1 MiB", {
    "µs/mmu.read 1 MiB": ns.mmuRead! / 1000,
    "µs/mmu.readInto 1 MiB": ns.mmuReadInto! / 1000,
    "µs/Uint8Array.set 1 MiB": ns.rawSet! / 1000,
    "speed mmu.read / Uint8Array.set (goal ≥ 0.8)": ns.rawSet! / ns.mmuRead!,
    "speed mmu.readInto / Uint8Array.set": ns.rawSet! / ns.mmuReadInto!,
    "µs/Uint8Array.set 1 MiB out of a SharedArrayBuffer": ns.sharedSet! / 1000,
    "speed mmu.readInto / set out of a SharedArrayBuffer": ns.sharedSet! / ns.mmuReadInto!,
  });
  mm.exit();
}

// ---- 3. anonymous write fault -----------------------------------------------------------------
// The host OS commits a SharedArrayBuffer page on its first touch (~1-3 µs): that is the host's cost,
// not the emulated fault's. Touch every RAM page once first so both sides work on committed memory.
for (const bank of mem.ramBanks) {
  const u8 = mem.banks.u8[bank]!;
  for (let i = 0; i < u8.length; i += 4096) u8[i] = 0;
}
{
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm);
  const PER_CALL = 2000;
  const ROUNDS = 15;
  const region = (ROUNDS + 3) * PER_CALL * P;
  mm.mmap(BASE, region, RW, ANON | MAP_FIXED, null, 0);
  let next = BASE;
  const frame = new Uint8Array(P);
  const ns = measureSideBySide(
    {
      writeFault: (n) => {
        for (let i = 0; i < n; i++, next += P) mmu.store32(next, i);
        return next;
      },
      zeroFrame: (n) => {
        for (let i = 0; i < n; i++) {
          frame.fill(0);
          frame[i & 0xfff] = 1;
        }
        return frame[5]!;
      },
    },
    { iterations: PER_CALL, rounds: ROUNDS },
  );
  recordResults("mm: anonymous write fault", {
    "ns/write fault (fresh zeroed frame, RAM committed by the host)": ns.writeFault!,
    "ns/zero one 4 KiB frame with fill": ns.zeroFrame!,
    "ratio fault / zeroing (goal ≤ 2)": ns.writeFault! / ns.zeroFrame!,
  });
  mm.exit();
}

// ---- 4. mmap + munmap with 100 vs 100,000 VMAs --------------------------------------------
function mmapPair(n: number): { run: (iterations: number) => number; mm: Mm } {
  const mm = new Mm(ramOnly(mem), { maxMapCount: 200_000 });
  // Alternating protections so neighbours never merge: n VMAs.
  for (let i = 0; i < n; i++) {
    const r = mm.mmap(BASE + i * P, P, i % 2 ? PROT_READ : RW, ANON | MAP_FIXED, null, 0);
    if (r !== BASE + i * P) throw new Error(`setup mmap failed: ${r}`);
  }
  if (mm.mapCount !== n) throw new Error(`expected ${n} VMAs, have ${mm.mapCount}`);
  return {
    mm,
    run: (iterations) => {
      let s = 0;
      for (let i = 0; i < iterations; i++) {
        const a = mm.mmap(0, P, RW, ANON, null, 0);
        s += mm.munmap(a, P) + (a & 0xfff);
      }
      return s;
    },
  };
}
{
  const small = mmapPair(100);
  const big = mmapPair(100_000);
  const ns = measureSideBySide({ n100: small.run, n100000: big.run }, { iterations: 20_000, rounds: 15 });
  recordResults("mm: mmap+munmap pair", {
    "ns/pair with 100 VMAs": ns.n100!,
    "ns/pair with 100,000 VMAs": ns.n100000!,
    "ratio 100,000 / 100 (goal ≤ 2)": ns.n100000! / ns.n100!,
  });
  small.mm.exit();
  big.mm.exit();
}
