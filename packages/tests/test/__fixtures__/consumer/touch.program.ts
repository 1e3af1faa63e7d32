// Touches argv[0] pages of anonymous memory and exits with that count.
import { defineProgram, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "@faultline/sim";

export default defineProgram((sys, mmu, argv) => {
  const n = Number(argv[0] ?? 1);
  const addr = sys.mmap(0, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (let i = 0; i < n; i++) mmu.store32(addr + i * 4096, i + 1);
  return n;
});
