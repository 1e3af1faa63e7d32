// Handled signals in a worker (issue 12 §1). argv[0] picks the scenario; the exit code says what
// went wrong (0: everything as Linux does it).
import {
  defineProgram,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type ProgramSigInfo,
  SA_RESETHAND,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SIG_BLOCK,
  SIGSEGV,
  SIGTERM,
  SIGUSR1,
  SignalError,
} from "@faultline/sim";

const handledFault = (fn: () => unknown): boolean => {
  try {
    fn();
    return false;
  } catch (e) {
    return SignalError.is(e) && e.handled;
  }
};

export default defineProgram(
  (sys, mmu, argv) => {
    const seen: ProgramSigInfo[] = [];
    switch (argv[0]) {
      case "catch": {
        // Two faults caught, memory intact, the process goes on and exits 0.
        const a = sys.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mmu.store32(a, 0x1234);
        sys.mprotect(a + 0x1000, 0x1000, PROT_NONE);
        const old = sys.sigaction(SIGSEGV, { handler: (i) => seen.push(i) });
        if (typeof old !== "object" || old.handler !== 0) return 10;
        if (!handledFault(() => mmu.load8(0x1000))) return 11;
        if (!handledFault(() => mmu.store32(a + 0x1000, 1))) return 12;
        if (seen.length !== 2) return 13;
        if (seen[0]!.code !== SEGV_MAPERR || seen[0]!.addr !== 0x1000 || seen[0]!.signo !== SIGSEGV)
          return 14;
        if (seen[1]!.code !== SEGV_ACCERR || seen[1]!.addr !== a + 0x1000) return 15;
        if (mmu.load32(a) !== 0x1234) return 16;
        // The old action comes back with the same function.
        const mine = sys.sigaction(SIGSEGV, null);
        if (typeof mine !== "object" || typeof mine.handler !== "function") return 17;
        const mask = sys.sigprocmask(SIG_BLOCK, null);
        if (!Array.isArray(mask) || mask.length !== 0) return 18;
        return 0;
      }
      case "bulk": {
        // Faults part-way through every accessor but the plain ones: read, readInto, write, a
        // load64/store64 across a page end, each caught once, the memory before the hole intact.
        const a = sys.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mmu.store32(a + 0xffc, 0x5678);
        sys.mprotect(a + 0x1000, 0x1000, PROT_NONE);
        sys.sigaction(SIGSEGV, { handler: (i) => seen.push(i) });
        const hole = a + 0x1000;
        if (!handledFault(() => mmu.read(a + 0xff0, 0x20))) return 60;
        if (!handledFault(() => mmu.readInto(a + 0xff0, new Uint8Array(0x20)))) return 61;
        if (!handledFault(() => mmu.write(a + 0xff0, new Uint8Array(0x20)))) return 62;
        if (!handledFault(() => mmu.load64(a + 0xffc))) return 63;
        if (!handledFault(() => mmu.store64(a + 0xffc, 1n))) return 64;
        if (seen.length !== 5 || seen.some((i) => i.code !== SEGV_ACCERR || i.addr !== hole)) return 65;
        // write() stores the bytes before the hole (as a copy_to_user would); store64 stores nothing.
        if (mmu.load32(a + 0xffc) !== 0) return 66;
        return 0;
      }
      case "resethand": {
        // SA_RESETHAND: the first fault is caught, the second kills (SIGSEGV).
        sys.sigaction(SIGSEGV, { handler: (i) => seen.push(i), flags: SA_RESETHAND });
        if (!handledFault(() => mmu.load8(0x1000))) return 20;
        mmu.load8(0x2000);
        return 21;
      }
      case "blocked": {
        // A blocked SIGSEGV still kills (force_sig), and the handler never runs.
        sys.sigaction(SIGSEGV, { handler: () => process.exit(99) });
        sys.sigprocmask(SIG_BLOCK, [SIGSEGV]);
        mmu.load8(0x1000);
        return 30;
      }
      case "kill-self": {
        // kill(getpid()) with a handler: it runs before kill returns; then SIGTERM kills.
        sys.sigaction(SIGUSR1, { handler: (i) => seen.push(i) });
        if (sys.kill(sys.pid, SIGUSR1) !== 0) return 40;
        if (seen.length !== 1 || seen[0]!.pid !== sys.pid || seen[0]!.signo !== SIGUSR1) return 41;
        sys.kill(sys.pid, SIGTERM);
        return 42;
      }
      case "kill-child": {
        // A child that spins forever is ended by the parent's kill(SIGTERM).
        const child = sys.fork("spin");
        if (child < 0) return 50;
        if (sys.kill(child, SIGTERM) !== 0) return 51;
        if (sys.waitpid(child) !== child) return 52;
        if ((sys.lastWaitStatus & 0x7f) !== SIGTERM) return 53;
        return 0;
      }
      default:
        return 2;
    }
  },
  (sys) => {
    if (sys.forkTag === "spin") for (;;) sys.getpid();
    return 3;
  },
);
