// For the worker pool's test: module-level state that must start afresh in every process (exit 3 if
// this module was already run), a forked child, a throw with a stack, and a fatal SIGSEGV.
import { defineProgram } from "@faultline/sim";

let runs = 0;

export default defineProgram(
  (sys, mmu, argv) => {
    runs++;
    if (runs !== 1) return 3;
    const a = sys.mmap(0, 8192, 3, 0x22, -1, 0);
    mmu.store32(a, 7);
    if (argv[0] === "throw") throw new Error(`boom at ${a}`);
    if (argv[0] === "segv") mmu.load32(0x10);
    if (argv[0] === "fork") {
      const child = sys.fork({ a });
      mmu.store32(a + 4096, 9);
      sys.waitpid(child);
      return sys.lastWaitStatus >> 8;
    }
    return 0;
  },
  (sys, mmu) => {
    runs++;
    if (runs !== 1) return 3;
    const { a } = sys.forkTag as { a: number };
    return mmu.load32(a) === 7 ? 5 : 6;
  },
);
