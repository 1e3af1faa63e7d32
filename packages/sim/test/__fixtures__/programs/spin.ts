// Touches `argv[0]` pages (MAP_PRIVATE), then spins in user code without ever entering the kernel
// again: what a crashed or hung process looks like from the kernel.
import { defineProgram } from "@faultline/sim";

export default defineProgram((sys, mmu, argv) => {
  const pages = Number(argv[0] ?? 16);
  const base = sys.mmap(0, pages * 4096, 3, 0x02 | 0x20, -1, 0);
  for (let i = 0; i < pages; i++) mmu.store32(base + i * 4096, i);
  mmu.store32(base, 0xfeed); // the parent's signal that the pages are in
  let x = 0;
  for (;;) x = (x + mmu.load32(base + (x % pages) * 4096)) >>> 0;
});
