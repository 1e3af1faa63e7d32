// A well-behaved process: a few syscalls and faults, then exit(argv[0]).
import { defineProgram } from "@faultline/sim";

export default defineProgram((sys, mmu, argv) => {
  const base = sys.mmap(0, 8 * 4096, 3, 0x02 | 0x20, -1, 0);
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    mmu.store32(base + i * 4096, sys.getpid() + i);
    sum += mmu.load32(base + i * 4096);
  }
  if (sum !== 8 * sys.getpid() + 28) return 99;
  if (argv[1] === "segv") mmu.load32(0x1000);
  if (argv[1] === "throw") throw new Error("program bug");
  sys.munmap(base, 8 * 4096);
  return Number(argv[0] ?? 0);
});
