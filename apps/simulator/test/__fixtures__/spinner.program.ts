// Never ends, but keeps entering the kernel, so the simulation's own hang check (no kernel entry for
// a while) does not catch it: only a sweep's per-run timeout does.
import { defineProgram } from "@faultline/sim";

export default defineProgram((sys) => {
  for (;;) sys.getpid();
});
