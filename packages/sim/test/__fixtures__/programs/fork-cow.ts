// Parent and child share one MAP_SHARED page and each have the MAP_PRIVATE page COW after fork.
import { defineProgram } from "@faultline/sim";

const PROT_RW = 3;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;

export default defineProgram(
  (sys, mmu) => {
    const shared = sys.mmap(0, 4096, PROT_RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const priv = sys.mmap(0, 4096, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mmu.store32(priv, 111);
    mmu.store32(shared, 0);
    const child = sys.fork([shared, priv]);
    if (child < 0) return 10;
    // Live coherence: the child spins on this word in its own worker and answers in the next one.
    mmu.store32(shared + 4, 1);
    for (let i = 0; mmu.load32(shared + 8) !== 2; i++) if (i > 2e9) return 11;
    if (sys.waitpid(child) !== child) return 12;
    if (sys.lastWaitStatus !== 7 << 8) return 13;
    if (mmu.load32(shared) !== 0xdead) return 14; // the child's MAP_SHARED store is ours too
    if (mmu.load32(priv) !== 111) return 15; // its MAP_PRIVATE store is not
    return 0;
  },
  (sys, mmu) => {
    const [shared, priv] = sys.forkTag as [number, number];
    if (mmu.load32(priv) !== 111) return 20; // the COW copy starts as the parent's page
    mmu.store32(priv, 222);
    if (mmu.load32(priv) !== 222) return 21;
    for (let i = 0; mmu.load32(shared + 4) !== 1; i++) if (i > 2e9) return 22;
    mmu.store32(shared, 0xdead);
    mmu.store32(shared + 8, 2);
    return 7;
  },
);
