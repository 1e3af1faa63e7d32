// Takes down the whole host process (programs are trusted JavaScript in a worker thread, not a
// sandbox): what a native crash in a driver or a runaway allocation would do to a sweep's child.
import { defineProgram } from "@faultline/sim";

export default defineProgram((sys) => {
  sys.getpid();
  process.kill(process.pid, "SIGKILL");
  return 0;
});
