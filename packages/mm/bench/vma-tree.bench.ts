// VmaTree: one remove + top-down gap search + bottom-up aligned gap search + find + re-insert cycle
// on 1-page elements packed back to back, at 100 vs 100,000 elements. O(log n) operations should
// show a per-cycle ratio of a few, not ~1000.
//   cd packages/mm && npx tsx --conditions=@faultline/source bench/vma-tree.bench.ts
import { measureSideBySide, recordResults } from "../../../bench/record.ts";
import { VmaTree } from "../src/vma-tree.ts";

const PAGE = 4096;

interface V {
  vmStart: number;
  vmEnd: number;
}

function cycle(n: number): (iterations: number) => number {
  const tree = new VmaTree<V>();
  const items: V[] = [];
  for (let i = 0; i < n; i++) {
    const v = { vmStart: (i + 16) * PAGE, vmEnd: (i + 17) * PAGE };
    items.push(v);
    tree.insert(v);
  }
  const top = (n + 16) * PAGE;
  // Fixed pseudo-random victims, precomputed so the loop measures only the tree.
  const order = new Uint32Array(1 << 16);
  let seed = 0x9e3779b9;
  for (let i = 0; i < order.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    order[i] = seed % n;
  }
  let k = 0;
  return (iterations) => {
    let sink = 0;
    for (let i = 0; i < iterations; i++) {
      const v = items[order[k++ & 0xffff]!]!;
      tree.remove(v);
      sink += tree.findGapTopDown(PAGE, 16 * PAGE, top);
      sink += tree.findGapBottomUp(PAGE, 16 * PAGE, top, 2 * PAGE - 1, v.vmStart % (2 * PAGE));
      sink += tree.find(v.vmStart)?.vmStart ?? 0;
      tree.insert(v);
    }
    return sink;
  };
}

const ns = measureSideBySide(
  { "n=100": cycle(100), "n=100000": cycle(100_000) },
  { iterations: 100_000, rounds: 15 },
);
recordResults("mm: VmaTree remove+gap search+find+insert cycle", {
  "ns/cycle at 100 elements": ns["n=100"]!,
  "ns/cycle at 100,000 elements": ns["n=100000"]!,
  "ratio 100,000 / 100": ns["n=100000"]! / ns["n=100"]!,
});
