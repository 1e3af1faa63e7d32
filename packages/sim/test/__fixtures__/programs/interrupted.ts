// Sleeps cut short (issue 11 §1): argv[0] "eintr": the child installs a SIGUSR1 handler, says so in
// a shared page and sleeps 10 s; the parent waits for that word and kills it with SIGUSR1: the
// child's nanosleep returns -EINTR with the time left in rem (all of it when the signal came just
// before the sleep began). "alarm": the child sets alarm(1) without a handler and sleeps 10 s: SIGALRM
// ends it. The exit code says what went wrong (0: as Linux does it).
import { defineProgram } from "@faultline/sim";

const SIGUSR1 = 10;
const EINTR = 4;

export default defineProgram(
  (sys, mmu, argv) => {
    const ready = sys.mmap(0, 4096, 3, 0x21, -1, 0); // PROT_READ|WRITE, MAP_SHARED|MAP_ANONYMOUS
    const child = sys.fork([argv[0] ?? "eintr", ready]);
    if (child < 0) return 10;
    for (let i = 0; mmu.load32(ready) !== 1; i++) if (i > 1e6 || sys.nanosleep(0, 1_000_000) !== 0) return 11;
    if (argv[0] === "eintr" && sys.kill(child, SIGUSR1) !== 0) return 12;
    if (sys.waitpid(child) !== child) return 13;
    sys.write(1, `[pid ${sys.pid}] child status ${sys.lastWaitStatus}\n`);
    return 0;
  },
  (sys, mmu) => {
    const [scenario, ready] = sys.forkTag as [string, number];
    const caught: number[] = [];
    sys.sigaction(SIGUSR1, { handler: (i) => caught.push(i.signo) });
    if (scenario === "alarm") sys.call("alarm", 1);
    mmu.store32(ready, 1);
    const rem = new Uint8Array(16);
    const r = sys.nanosleep(10, 0, rem);
    const v = new DataView(rem.buffer);
    const sec = Number(v.getBigInt64(0, true));
    const nsec = Number(v.getBigInt64(8, true));
    sys.write(1, `[pid ${sys.pid}] nanosleep ${r}, rem ${sec} s ${nsec} ns, caught ${caught.join(",")}\n`);
    if (r !== -EINTR) return 20;
    if (sec < 8 || sec > 10) return 21;
    if (caught.join() !== String(SIGUSR1)) return 22;
    return 7;
  },
);
