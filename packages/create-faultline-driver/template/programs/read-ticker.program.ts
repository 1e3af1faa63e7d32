// A simulation program (each process of a scenario runs one, in a worker thread): maps the ticker's
// registers read-only, reads the counter argv[0] times and prints what it saw; with argv[1] "poke" it
// then stores to the read-only mapping and dies of SIGSEGV.
import { defineProgram, MAP_SHARED, O_RDONLY, PROT_READ } from "@faultline/sim";

export default defineProgram((sys, mmu, argv) => {
  const fd = sys.open("/dev/ticker", O_RDONLY, 0);
  if (fd < 0) return 1;
  const regs = sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (regs < 0) return 2;
  const counts: number[] = [];
  for (let i = 0; i < Number(argv[0] ?? 3); i++) counts.push(mmu.load32(regs + 0x04));
  sys.write(1, `[pid ${sys.pid}] ticker ${mmu.load32(regs).toString(16)} counts ${counts.join(" ")}\n`);
  if (argv[1] === "poke") mmu.store32(regs + 0x08, 10);
  return 0;
});
