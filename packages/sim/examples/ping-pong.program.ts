// A process program: runs in its own worker thread. The parent maps a shared page, forks, and the
// two processes take turns on a counter in it, each on its own CPU (thread).
import { defineProgram, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from "@faultline/sim";

export default defineProgram(
  (sys, mmu, argv) => {
    const rounds = Number(argv[0] ?? 1000);
    const page = sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const child = sys.fork({ page, rounds }); // the child starts `child` below, memory COW-copied
    for (let i = 0; i < rounds; i++) {
      while (mmu.load32(page) % 2 !== 0); // wait for our turn: even
      mmu.store32(page, mmu.load32(page) + 1);
    }
    sys.waitpid(child);
    return mmu.load32(page) === 2 * rounds ? 0 : 1;
  },
  (sys, mmu) => {
    const { page, rounds } = sys.forkTag as { page: number; rounds: number };
    for (let i = 0; i < rounds; i++) {
      while (mmu.load32(page) % 2 !== 1); // odd
      mmu.store32(page, mmu.load32(page) + 1);
    }
    return 0;
  },
);
