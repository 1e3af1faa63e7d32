// Enters the kernel argv[0] times (clock_gettime) and exits with the last reading's low byte, so a
// run's result depends on its schedule of kernel entries.
import { defineProgram } from "@faultline/sim";

export default defineProgram(
  (sys, _mmu, argv) => {
    let t = 0;
    for (let i = 0; i < Number(argv[0]); i++) t = sys.clockGettime(1);
    return Math.floor(t / 1000) & 0xff;
  },
  { reuseModule: true },
);
