// A lost update, or not, depending on the schedule: parent and forked child each add argv[0] (default
// 1) to a counter in a shared page with a read, a syscall (where the scheduler may switch), and a
// write. The parent exits 0 when the counter has both processes' increments, 1 when one was lost.
import {
  defineProgram,
  MAP_ANONYMOUS,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  type ProgramMmu,
  type Sys,
} from "@faultline/sim";

function bump(sys: Sys, mmu: ProgramMmu, addr: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = mmu.load32(addr);
    sys.getpid();
    mmu.store32(addr, v + 1);
  }
}

export default defineProgram(
  (sys, mmu, argv) => {
    const n = Number(argv[0] ?? 1);
    const addr = sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    mmu.store32(addr, 0);
    const child = sys.fork({ addr, n });
    bump(sys, mmu, addr, n);
    sys.waitpid(child);
    const total = mmu.load32(addr);
    sys.write(1, `[pid ${sys.pid}] counter ${total} of ${2 * n}\n`);
    return total === 2 * n ? 0 : 1;
  },
  (sys, mmu) => {
    const { addr, n } = sys.forkTag as { addr: number; n: number };
    bump(sys, mmu, addr, n);
    return 0;
  },
  undefined,
  // No module state: a sweep's kept threads may run it again from the same module (the sweep tests
  // compare those runs with --no-reuse's fresh ones, byte for byte).
  { reuseModule: true },
);
