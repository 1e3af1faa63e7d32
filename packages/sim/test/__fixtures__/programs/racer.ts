// Two children increment a shared counter with a syscall between the load and the store: how many
// updates get lost depends only on the interleaving, so the exit status exposes the schedule.
import { defineProgram } from "@faultline/sim";

const ROUNDS = 12;

export default defineProgram(
  (sys, mmu) => {
    const shared = sys.mmap(0, 4096, 3, 0x01 | 0x20, -1, 0);
    const kids = [sys.fork(shared), sys.fork(shared)];
    for (const k of kids) if (sys.waitpid(k) !== k) return 100;
    return mmu.load32(shared); // 2 * ROUNDS when no update was lost
  },
  (sys, mmu) => {
    const shared = sys.forkTag as number;
    for (let i = 0; i < ROUNDS; i++) {
      const v = mmu.load32(shared);
      sys.getpid();
      mmu.store32(shared, v + 1);
    }
    return 0;
  },
);
