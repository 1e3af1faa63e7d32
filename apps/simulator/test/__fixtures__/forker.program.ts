// Forks once; the child exits 4, the parent waits and exits with what the child said.
import { defineProgram } from "@faultline/sim";

export default defineProgram(
  (sys) => {
    const child = sys.fork();
    if (child < 0) return 10;
    sys.waitpid(child);
    return (sys.lastWaitStatus >> 8) & 0xff;
  },
  () => 4,
);
