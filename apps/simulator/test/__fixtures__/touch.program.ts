// A scenario's own program: maps anonymous memory, touches argv[0] pages, and exits with that count.
import { defineProgram } from "@faultline/sim";

export default defineProgram((sys, mmu, argv) => {
  const n = Number(argv[0] ?? 1);
  const addr = sys.mmap(0, n * 4096, 0x3, 0x22, -1, 0);
  for (let i = 0; i < n; i++) mmu.store32(addr + i * 4096, i + 1);
  sys.write(1, `[pid ${sys.pid}] touched ${n} pages\n`);
  return n;
});
