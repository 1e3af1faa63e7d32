// The TLB-hit loops every bench measures, in a thread or in a worker: one definition, so the ratios
// compare identical loops. Addresses walk the first `bytes` of a mapping at `base` in 4-byte steps,
// as `BASE + ((i * 4) & mask)`; the raw baseline does the same address arithmetic and then indexes a
// Uint32Array by `(addr - base) / 4`, which is the least any emulated load must do. The store loops
// are the same with a store of the loop counter in place of the load.

/** What the loops load and store through: an Mmu, or a program's MMU facade. */
export interface Loads {
  load32(addr: number): number;
  store32(addr: number, value: number): void;
}

export function tlbLoops(
  mmu: Loads,
  raw: Uint32Array,
  base: number,
  bytes: number,
): Record<
  "mmuLoad32" | "rawFromAddress" | "rawPrecomputed" | "mmuStore32" | "rawStoreFromAddress",
  (n: number) => number
> {
  if (bytes & (bytes - 1)) throw new RangeError("tlbLoops: bytes must be a power of two");
  const mask = bytes - 1;
  return {
    mmuLoad32: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + mmu.load32(base + ((i * 4) & mask))) | 0;
      return s;
    },
    rawFromAddress: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const addr = base + ((i * 4) & mask);
        s = (s + raw[(addr - base) / 4]!) | 0;
      }
      return s;
    },
    mmuStore32: (n) => {
      for (let i = 0; i < n; i++) mmu.store32(base + ((i * 4) & mask), i);
      return n;
    },
    rawStoreFromAddress: (n) => {
      for (let i = 0; i < n; i++) {
        const addr = base + ((i * 4) & mask);
        raw[(addr - base) / 4] = i;
      }
      return n;
    },
    rawPrecomputed: (n) => {
      let s = 0;
      const m = raw.length - 1;
      for (let i = 0; i < n; i++) s = (s + raw[i & m]!) | 0;
      return s;
    },
  };
}

// The same loops as plain functions that take the MMU, the raw array, the base and the mask as
// arguments, as most programs call an MMU (a local or a parameter). The closures of tlbLoops capture
// one MMU each: Node 20's V8 then compiles them with the MMU, its arrays and the base as constants
// (function context specialization), which spares each iteration loads and checks a plain function
// keeps; newer V8s (Node 22, 24) no longer specialize and the two forms measure alike there.
function plainLoad32(mmu: Loads, n: number, base: number, mask: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + mmu.load32(base + ((i * 4) & mask))) | 0;
  return s;
}
function plainRawLoad(raw: Uint32Array, n: number, base: number, mask: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const addr = base + ((i * 4) & mask);
    s = (s + raw[(addr - base) / 4]!) | 0;
  }
  return s;
}
function plainStore32(mmu: Loads, n: number, base: number, mask: number): number {
  for (let i = 0; i < n; i++) mmu.store32(base + ((i * 4) & mask), i);
  return n;
}
function plainRawStore(raw: Uint32Array, n: number, base: number, mask: number): number {
  for (let i = 0; i < n; i++) {
    const addr = base + ((i * 4) & mask);
    raw[(addr - base) / 4] = i;
  }
  return n;
}

/** tlbLoops' loops as plain functions with their inputs as arguments (see above). */
export function tlbPlainLoops(
  mmu: Loads,
  raw: Uint32Array,
  base: number,
  bytes: number,
): Record<"mmuLoad32" | "rawFromAddress" | "mmuStore32" | "rawStoreFromAddress", (n: number) => number> {
  if (bytes & (bytes - 1)) throw new RangeError("tlbPlainLoops: bytes must be a power of two");
  const mask = bytes - 1;
  return {
    mmuLoad32: (n) => plainLoad32(mmu, n, base, mask),
    rawFromAddress: (n) => plainRawLoad(raw, n, base, mask),
    mmuStore32: (n) => plainStore32(mmu, n, base, mask),
    rawStoreFromAddress: (n) => plainRawStore(raw, n, base, mask),
  };
}
