// Sleeps five times 25 ms on the virtual clock (nanosleep), reading /dev/ticker's count after each
// sleep; the count must grow and CLOCK_MONOTONIC must have moved by at least the time slept.
import { defineProgram } from "@faultline/sim";

const TICKS = 0x5401;
const CLOCK_MONOTONIC = 1;

export default defineProgram((sys) => {
  const fd = sys.open("/dev/ticker", 2);
  const t0 = sys.call("clock_gettime", CLOCK_MONOTONIC) as number;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (sys.nanosleep(0, 25_000_000) !== 0) return 10;
    seen.push(sys.ioctl(fd, TICKS, 0));
  }
  const t1 = sys.call("clock_gettime", CLOCK_MONOTONIC) as number;
  sys.write(1, `[pid ${sys.pid}] slept ${t1 - t0} ns, ticks ${seen.join(",")}\n`);
  if (t1 - t0 < 5 * 25_000_000) return 11;
  for (let i = 1; i < seen.length; i++) if (seen[i]! <= seen[i - 1]!) return 12;
  return 0;
});
