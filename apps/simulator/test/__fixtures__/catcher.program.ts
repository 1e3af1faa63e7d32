// Catches SIGSEGV twice (an unmapped page, then PROT_NONE) and goes on: exit 0 (issue 12 §1).
import { defineProgram, MAP_ANONYMOUS, MAP_PRIVATE, PROT_NONE, SIGSEGV, SignalError } from "@faultline/sim";

export default defineProgram((sys, mmu) => {
  let caught = 0;
  sys.sigaction(SIGSEGV, { handler: () => caught++ });
  const a = sys.mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (const addr of [0x1000, a]) {
    try {
      mmu.load8(addr);
    } catch (e) {
      if (!(SignalError.is(e) && e.handled)) throw e;
    }
  }
  sys.write(1, `[pid ${sys.pid}] caught ${caught}\n`);
  return caught === 2 ? 0 : 1;
});
