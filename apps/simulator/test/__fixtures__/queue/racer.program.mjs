// racer.program.ts in plain JavaScript, so the compiled CLI loads it without a TypeScript loader: parent
// and forked child each add 1 to a counter in a shared page around a getpid() (where the scheduler may
// switch); the parent exits 1 when an update was lost, which depends on the seed.
import { defineProgram, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from "@faultline/sim";

function bump(sys, mmu, addr) {
  const v = mmu.load32(addr);
  sys.getpid();
  mmu.store32(addr, v + 1);
}

export default defineProgram(
  (sys, mmu) => {
    const addr = sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    mmu.store32(addr, 0);
    const child = sys.fork({ addr });
    bump(sys, mmu, addr);
    sys.waitpid(child);
    return mmu.load32(addr) === 2 ? 0 : 1;
  },
  (sys, mmu) => {
    bump(sys, mmu, sys.forkTag.addr);
    return 0;
  },
);
