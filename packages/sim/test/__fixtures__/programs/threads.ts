// Threads in workers (issue 12 §3): main clones a thread on the same mm; the thread's store is seen
// by main; main munmaps a page the thread has in its TLB and the thread then faults (handled).
// Exit codes say what went wrong (0: as Linux).
import {
  CLONE_PTHREAD,
  defineProgram,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SIGSEGV,
  SignalError,
} from "@faultline/sim";

const P = 4096;

export default defineProgram(
  (sys, mmu) => {
    const a = sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const b = sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const tid = sys.clone(CLONE_PTHREAD, [a, b]);
    if (tid <= 0 || tid === sys.pid) return 10;
    if (sys.call("gettid") !== sys.pid) return 11;
    for (let i = 0; mmu.load32(a) !== 42; i++) if (i > 2e9) return 12; // the thread's store
    sys.munmap(a, P);
    mmu.store32(b, 1);
    for (let i = 0; mmu.load32(b + 4) === 0; i++) if (i > 2e9) return 13;
    return mmu.load32(b + 4) === 2 ? 0 : 14;
  },
  undefined,
  (sys, mmu) => {
    const [a, b] = sys.forkTag as [number, number];
    if (!sys.isThread || sys.getpid() === sys.call("gettid")) return 20;
    sys.sigaction(SIGSEGV, { handler: () => {} });
    mmu.store32(a, 42); // now in this worker's TLB
    for (let i = 0; mmu.load32(b) !== 1; i++) if (i > 2e9) return 21;
    let faulted = false;
    try {
      mmu.load32(a); // main unmapped it: the shootdown reached this TLB
    } catch (e) {
      faulted = SignalError.is(e) && e.handled && e.code === "SEGV_MAPERR";
    }
    mmu.store32(b + 4, faulted ? 2 : 3);
    return 0;
  },
);
