// physRead32 on RAM against a raw Uint32Array read of the same bank at the same random addresses.
// Run: cd packages/phys && pnpm exec tsx --conditions=@faultline/source bench/phys.bench.ts
import { PAGE_SIZE, PhysMachine } from "@faultline/phys";
import { measureSideBySide, recordResults } from "../../../bench/record.ts";

const m = PhysMachine.create({ ramBytes: 256 * 1024 * 1024 });
const ram = m.mem.ramRanges.find((r) => r.start === 0x100000)!;
const t = m.translatePage(ram.start / PAGE_SIZE);
const u32 = m.banks.u32[t.bank]!;
const N = 1 << 16;

/** N random aligned addresses in [ram.start, ram.start + span), and the bank index each one reads. */
function addresses(span: number): { addrs: Uint32Array; idx: Uint32Array } {
  const addrs = new Uint32Array(N);
  const idx = new Uint32Array(N);
  let seed = 0x9e3779b9;
  for (let i = 0; i < N; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const off = (seed % (span / 4)) * 4;
    addrs[i] = ram.start + off;
    idx[i] = (t.offset + off) >>> 2;
  }
  return { addrs, idx };
}

// Give the RAM contents so the reads are not all from the kernel's zero page.
for (let a = ram.start; a < ram.end; a += 4) m.physWrite32(a, a ^ 0x5a5a5a5a);

const figures: Record<string, number> = {};
for (const [label, span] of [
  ["cache-resident (16 KiB)", 16 * 1024],
  ["whole RAM (255 MiB)", ram.end - ram.start],
] as const) {
  const { addrs, idx } = addresses(span);
  const r = measureSideBySide({
    raw: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + u32[idx[i & (N - 1)]!]!) | 0;
      return s;
    },
    // The same read with its index computed from the physical address (the RAM image is offset by
    // the ISA hole above 1 MiB): the floor any decoder of a physical address pays.
    rawFromAddress: (n) => {
      const base = t.offset - ram.start;
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + u32[(addrs[i & (N - 1)]! + base) >>> 2]!) | 0;
      return s;
    },
    physRead32: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + m.physRead32(addrs[i & (N - 1)]!)) | 0;
      return s;
    },
    "as.physRead32": (n) => {
      const as = m.as;
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + as.physRead32(addrs[i & (N - 1)]!)) | 0;
      return s;
    },
  });
  figures[`${label}: raw Uint32Array ns/read`] = r.raw!;
  figures[`${label}: machine.physRead32 ns/read`] = r.physRead32!;
  figures[`${label}: addressSpace.physRead32 ns/read`] = r["as.physRead32"]!;
  figures[`${label}: raw Uint32Array, index from the address ns/read`] = r.rawFromAddress!;
  figures[`${label}: physRead32 / raw with index from the address (goal <= 1.5)`] =
    r.physRead32! / r.rawFromAddress!;
  figures[`${label}: physRead32 / raw with precomputed index`] = r.physRead32! / r.raw!;
}
recordResults("phys: physRead32 on RAM", figures);

// pageEntry (the per-page cache the kernel's TLB fill asks) and ramLocate (what page-table walks and
// workers ask) over random RAM pfns, against a raw Float64Array lookup of precomputed answers.
{
  const pfns = new Uint32Array(N);
  const firstPfn = ram.start / PAGE_SIZE;
  const nPfns = (ram.end - ram.start) / PAGE_SIZE;
  let seed = 0x2545f491;
  for (let i = 0; i < N; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    pfns[i] = firstPfn + (seed % nPfns);
  }
  // Within the 4096-slot page cache, so pageEntry is measured on its hit path.
  const hot = pfns.map((p) => firstPfn + (p % 4096));
  const answers = Float64Array.from(pfns, (p) => m.mem.ramLocate(p));
  const r = measureSideBySide({
    raw: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += answers[i & (N - 1)]!;
      return s;
    },
    pageEntryHit: (n) => {
      const as = m.as;
      let s = 0;
      for (let i = 0; i < n; i++) s += as.pageEntry(hot[i & (N - 1)]!);
      return s;
    },
    ramLocate: (n) => {
      const mem = m.mem;
      let s = 0;
      for (let i = 0; i < n; i++) s += mem.ramLocate(pfns[i & (N - 1)]!);
      return s;
    },
  });
  recordResults("phys: pageEntry and ramLocate", {
    "raw Float64Array lookup ns/call": r.raw!,
    "addressSpace.pageEntry (cache hit) ns/call": r.pageEntryHit!,
    "physMemory.ramLocate ns/call": r.ramLocate!,
    "pageEntry / raw": r.pageEntryHit! / r.raw!,
    "ramLocate / raw": r.ramLocate! / r.raw!,
  });
}
