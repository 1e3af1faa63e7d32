// Order-0 alloc+free pair cost of the buddy allocator, side by side with a raw Int32Array free list
// of the same shape (pop a head, push it back). Run from packages/phys:
//   tsx --conditions=@faultline/source bench/alloc.bench.ts
import { PhysMemory } from "@faultline/phys";
import { measureSideBySide, recordResults } from "../../../bench/record.ts";

const mem = PhysMemory.create({ ramBytes: 256 * 1024 * 1024 });

// After boot the order-0 list is empty: each allocation splits an order-1 block and each free merges
// it back (mm/page_alloc.c: expand() and __free_one_page(); the kernel's per-cpu lists would hide
// both). To also measure the list-hit path, pin one page of 64 pairs so their buddies stay order-0.
const splitMem = mem;
const hitMem = PhysMemory.create({ ramBytes: 256 * 1024 * 1024 });
const pinned: number[] = [];
const loose: number[] = [];
for (let i = 0; i < 64; i++) {
  const p = hitMem.allocPfn(1);
  hitMem.splitPage(p, 1);
  pinned.push(p);
  loose.push(p + 1);
}
for (const p of loose) hitMem.freePages(p, 0);

// Baseline: a free list threaded through an Int32Array, as the allocator's `next` array is.
const FRAMES = 65536;
const next = new Int32Array(FRAMES);
for (let i = 0; i < FRAMES - 1; i++) next[i] = i + 1;
next[FRAMES - 1] = -1;
let head = 0;

const ns = measureSideBySide({
  rawFreeList: (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const p = head;
      head = next[p]!;
      sum += p;
      next[p] = head;
      head = p;
    }
    return sum;
  },
  buddySplitCoalesce: (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const p = splitMem.allocPfn(0);
      sum += p;
      splitMem.freePages(p, 0);
    }
    return sum;
  },
  buddyListHit: (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const p = hitMem.allocPfn(0);
      sum += p;
      hitMem.freePages(p, 0);
    }
    return sum;
  },
  getPutPage: (n) => {
    const p = pinned[0]!;
    for (let i = 0; i < n; i++) {
      hitMem.getPage(p);
      hitMem.putPage(p);
    }
    return p;
  },
});

splitMem.checkInvariants();
hitMem.checkInvariants();

const t0 = performance.now();
PhysMemory.create({ ramBytes: 64 * 1024 ** 3 });
const bootMs = performance.now() - t0;

recordResults("phys.alloc", {
  "rawFreeList.popPush.ns": ns.rawFreeList!,
  "buddy.order0.allocFree.splitCoalesce.ns": ns.buddySplitCoalesce!,
  "buddy.order0.allocFree.listHit.ns": ns.buddyListHit!,
  "buddy.getPutPage.ns": ns.getPutPage!,
  "ratio.splitCoalesce/raw": ns.buddySplitCoalesce! / ns.rawFreeList!,
  "ratio.listHit/raw": ns.buddyListHit! / ns.rawFreeList!,
  "boot64GiB.ms": bootMs,
});
