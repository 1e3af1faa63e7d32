// Handled signals (issue 12 §1): sigaction, sigprocmask, kill, SA_RESETHAND, SA_NODEFER, force_sig.
import { pciMemoryDevice } from "@faultline/devices";
import { describe, expect, it } from "vitest";
import { simple } from "./__fixtures__/test-drivers";
import {
  BUS_ADRERR,
  EINVAL,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SA_NODEFER,
  SA_RESETHAND,
  SA_RESTORER,
  SA_SIGINFO,
  SA_UNSUPPORTED,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SI_USER,
  SIG_BLOCK,
  SIG_DFL,
  SIG_IGN,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SIGBUS,
  SIGCHLD,
  SIGKILL,
  SIGSEGV,
  SIGSTOP,
  SIGTERM,
  SIGUSR1,
  SIGUSR2,
  type SigInfo,
  SignalError,
  WTERMSIG,
} from "./index";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

async function boot(): Promise<{ m: Machine; p: Process }> {
  const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
  return { m, p: m.spawn({ name: "sig" }) };
}

/** The SignalError an access throws, or null. */
function signalOf(fn: () => unknown): SignalError | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (SignalError.is(e)) return e;
    throw e;
  }
}

describe("sigaction(2)", () => {
  it("returns the previous action as oldact does; SIG_DFL at first; unknown flags dropped", async () => {
    const { m, p } = await boot();
    const h = () => {};
    expect(p.sys.sigaction(SIGSEGV, null)).toEqual({ handler: SIG_DFL, flags: 0, mask: [] });
    expect(
      p.sys.sigaction(SIGSEGV, { handler: h, flags: SA_SIGINFO | SA_UNSUPPORTED, mask: [SIGUSR1, SIGKILL] }),
    ).toEqual({
      handler: SIG_DFL,
      flags: 0,
      mask: [],
    });
    // do_sigaction: SA_UNSUPPORTED cleared, SIGKILL never in a mask.
    expect(p.sys.sigaction(SIGSEGV, SIG_IGN)).toEqual({ handler: h, flags: SA_SIGINFO, mask: [SIGUSR1] });
    expect(p.sys.sigaction(SIGSEGV, SIG_DFL)).toEqual({ handler: SIG_IGN, flags: 0, mask: [] });
    // SA_RESETHAND written as a negative int or as 0x80000000 is the same bit.
    p.sys.sigaction(SIGUSR1, { handler: h, flags: SA_RESETHAND | SA_RESTORER });
    expect((p.sys.sigaction(SIGUSR1) as { flags: number }).flags).toBe((SA_RESETHAND | SA_RESTORER) >>> 0);
    m.checkInvariants();
  });

  it("-EINVAL for a signal outside 1..64 and for an action on SIGKILL or SIGSTOP (reading them is fine)", async () => {
    const { p } = await boot();
    for (const s of [0, -1, 65, 1000]) expect(p.sys.sigaction(s, SIG_IGN), String(s)).toBe(-EINVAL);
    expect(p.sys.sigaction(SIGKILL, SIG_IGN)).toBe(-EINVAL);
    expect(p.sys.sigaction(SIGSTOP, { handler: () => {} })).toBe(-EINVAL);
    expect(p.sys.sigaction(SIGKILL, null)).toEqual({ handler: SIG_DFL, flags: 0, mask: [] });
    expect(() => p.libc.sigaction(0, null)).toThrow(/sigaction: Invalid argument/);
  });

  it("refuses what C could not pass: a TypeError naming the argument, nothing installed", async () => {
    const { p } = await boot();
    expect(() => p.sys.sigaction(SIGSEGV, { handler: "x" } as never)).toThrow(/^rt_sigaction: act must be/);
    expect(() => p.sys.sigaction(SIGSEGV, { handler: () => {}, mask: [0] })).toThrow(/mask/);
    expect(() => p.sys.sigaction(SIGSEGV, 2 as never)).toThrow(TypeError);
    expect(p.sys.sigaction(SIGSEGV)).toEqual({ handler: SIG_DFL, flags: 0, mask: [] });
  });
});

describe("a fault with a handler installed", () => {
  it("runs the handler with signo, code and addr, then throws a handled SignalError; the process goes on", async () => {
    const { m, p } = await boot();
    const a = p.libc.mmap(0, 0x3000, RW, ANON, -1, 0);
    p.mmu.store32(a, 0x1234);
    p.libc.mprotect(a + 0x1000, 0x1000, PROT_NONE);
    p.libc.munmap(a + 0x2000, 0x1000);
    const seen: SigInfo[] = [];
    p.libc.sigaction(SIGSEGV, { handler: (i) => seen.push(i) });
    const e1 = signalOf(() => p.mmu.load8(a + 0x2005));
    expect(e1?.handled).toBe(true);
    expect(e1?.signal).toBe("SIGSEGV");
    const e2 = signalOf(() => p.mmu.store32(a + 0x1000, 7));
    expect(e2?.handled).toBe(true);
    expect(e2?.code).toBe("SEGV_ACCERR");
    expect(seen).toEqual([
      { signo: SIGSEGV, code: SEGV_MAPERR, addr: a + 0x2005 },
      { signo: SIGSEGV, code: SEGV_ACCERR, addr: a + 0x1000 },
    ]);
    expect(p.alive).toBe(true);
    expect(p.mmu.load32(a)).toBe(0x1234);
    // The signal was blocked only while the handler ran.
    expect(p.sys.sigprocmask(SIG_BLOCK, null)).toEqual([]);
    expect(p.handledSignals).toEqual([
      { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: a + 0x2005 },
      { signal: "SIGSEGV", code: "SEGV_ACCERR", addr: a + 0x1000 },
    ]);
    expect(p.handledSignalCount).toBe(2);
    // Handled faults print no "segfault at" line (show_signal_msg: unhandled signals only).
    expect(m.dmesg().join("\n")).not.toMatch(/segfault/);
    m.checkInvariants();
  });

  it("SIGBUS from a driver's mapping reaches a SIGBUS handler with BUS_ADRERR", async () => {
    const pci = pciMemoryDevice({ barSize: 0x10000 });
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024, devices: [pci], drivers: [simple()] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/simplen", O_RDWR);
    const a = p.libc.mmap(0, 0x1000, PROT_READ, MAP_SHARED, fd, pci.pci.barAddress(0)!);
    const seen: SigInfo[] = [];
    p.libc.sigaction(SIGBUS, { handler: (i) => seen.push(i) });
    expect(signalOf(() => p.mmu.load8(a + 3))?.handled).toBe(true);
    expect(seen).toEqual([{ signo: SIGBUS, code: BUS_ADRERR, addr: a + 3 }]);
    expect(p.alive).toBe(true);
    m.checkInvariants();
  });

  it("without a handler nothing changes: death by the signal, the segfault line in dmesg", async () => {
    const { m, p } = await boot();
    const e = signalOf(() => p.mmu.load8(0x1000));
    expect(e?.handled).toBe(false);
    expect(p.alive).toBe(false);
    expect(p.exitSignal).toBe("SIGSEGV");
    expect(WTERMSIG(p.waitStatus!)).toBe(SIGSEGV);
    expect(m.dmesg().join("\n")).toMatch(/sig\[\d+\]: segfault at 1000/);
    m.checkInvariants();
  });

  it("SIG_IGN on a synchronous fault still kills, and so does a blocked SIGSEGV (force_sig)", async () => {
    const ign = await boot();
    ign.p.libc.sigaction(SIGSEGV, SIG_IGN);
    expect(signalOf(() => ign.p.mmu.load8(0x1000))?.handled).toBe(false);
    expect(ign.p.exitSignal).toBe("SIGSEGV");
    expect(ign.m.dmesg().join("\n")).toMatch(/segfault at 1000/);

    const blk = await boot();
    let ran = false;
    blk.p.libc.sigaction(SIGSEGV, { handler: () => (ran = true) });
    blk.p.libc.sigprocmask(SIG_BLOCK, [SIGSEGV]);
    expect(signalOf(() => blk.p.mmu.store8(0x1000, 1))?.handled).toBe(false);
    expect(ran).toBe(false);
    expect(blk.p.exitSignal).toBe("SIGSEGV");
    // A handler was installed: show_signal_msg stays quiet.
    expect(blk.m.dmesg().join("\n")).not.toMatch(/segfault/);
    blk.m.checkInvariants();
  });

  it("SA_RESETHAND: the second fault kills; without it every fault is handled", async () => {
    const { p } = await boot();
    let n = 0;
    p.libc.sigaction(SIGSEGV, { handler: () => n++, flags: SA_RESETHAND });
    expect(signalOf(() => p.mmu.load8(0x1000))?.handled).toBe(true);
    // Only the handler is reset: the flags stay, as oldact shows on Linux.
    expect(p.sys.sigaction(SIGSEGV)).toEqual({ handler: SIG_DFL, flags: SA_RESETHAND >>> 0, mask: [] });
    expect(signalOf(() => p.mmu.load8(0x1000))?.handled).toBe(false);
    expect(n).toBe(1);
    expect(p.exitSignal).toBe("SIGSEGV");

    const q = (await boot()).p;
    let k = 0;
    q.libc.sigaction(SIGSEGV, { handler: () => k++ });
    for (let i = 0; i < 5; i++) expect(signalOf(() => q.mmu.load8(0x1000))?.handled).toBe(true);
    expect(k).toBe(5);
    expect(q.alive).toBe(true);
  });

  it("a fault inside the handler kills unless SA_NODEFER (the signal is blocked while its handler runs)", async () => {
    for (const nodefer of [false, true]) {
      const { p } = await boot();
      let depth = 0;
      const handler = () => {
        depth++;
        if (depth === 1) p.mmu.load8(0x2000); // a nested fault
      };
      p.libc.sigaction(SIGSEGV, { handler, flags: nodefer ? SA_NODEFER : 0 });
      const e = signalOf(() => p.mmu.load8(0x1000));
      expect(depth, `SA_NODEFER ${nodefer}`).toBe(nodefer ? 2 : 1);
      expect(e?.handled).toBe(nodefer);
      expect(p.alive).toBe(nodefer);
      if (nodefer) {
        expect(e?.addr).toBe(0x2000); // the inner handler's siglongjmp wins
        expect(p.sys.sigprocmask(SIG_BLOCK, null)).toEqual([]);
      }
    }
  });

  it("the handler's mask is blocked while it runs and restored after", async () => {
    const { p } = await boot();
    let during: number[] | number = [];
    p.libc.sigprocmask(SIG_BLOCK, [SIGUSR2]);
    p.libc.sigaction(SIGSEGV, {
      handler: () => (during = p.sys.sigprocmask(SIG_BLOCK, null)),
      mask: [SIGUSR1],
    });
    signalOf(() => p.mmu.load8(0x1000));
    expect(during).toEqual([SIGUSR1, SIGSEGV, SIGUSR2]);
    expect(p.libc.sigprocmask(SIG_BLOCK, null)).toEqual([SIGUSR2]);
  });

  it("fork: the child inherits the actions and the blocked set", async () => {
    const { m, p } = await boot();
    let who = "";
    p.libc.sigaction(SIGSEGV, { handler: () => (who = "caught") });
    p.libc.sigprocmask(SIG_BLOCK, [SIGUSR1]);
    const c = m.process(p.libc.fork())!;
    expect(c.sys.sigprocmask(SIG_BLOCK, null)).toEqual([SIGUSR1]);
    expect(signalOf(() => c.mmu.load8(0x1000))?.handled).toBe(true);
    expect(who).toBe("caught");
    expect(c.alive).toBe(true);
    m.checkInvariants();
  });
});

describe("sigprocmask(2), kill(2)", () => {
  it("sigprocmask: BLOCK, UNBLOCK, SETMASK; SIGKILL/SIGSTOP never blocked; -EINVAL for a bad how", async () => {
    const { p } = await boot();
    expect(p.sys.sigprocmask(SIG_BLOCK, [SIGUSR1, SIGKILL, SIGSTOP])).toEqual([]);
    expect(p.sys.sigprocmask(SIG_BLOCK, [SIGUSR2])).toEqual([SIGUSR1]);
    expect(p.sys.sigprocmask(SIG_UNBLOCK, [SIGUSR1])).toEqual([SIGUSR1, SIGUSR2]);
    expect(p.sys.sigprocmask(SIG_SETMASK, [SIGTERM])).toEqual([SIGUSR2]);
    expect(p.sys.sigprocmask(3, [SIGTERM])).toBe(-EINVAL);
    // Without a set `how` is not looked at.
    expect(p.sys.sigprocmask(99, null)).toEqual([SIGTERM]);
  });

  it("kill to itself: the handler runs before kill returns, with si_code SI_USER and si_pid", async () => {
    const { p } = await boot();
    const seen: SigInfo[] = [];
    p.libc.sigaction(SIGUSR1, { handler: (i) => seen.push(i) });
    expect(p.sys.kill(p.pid, SIGUSR1)).toBe(0);
    expect(seen).toEqual([{ signo: SIGUSR1, code: SI_USER, addr: 0, pid: p.pid }]);
    expect(p.handledSignals.at(-1)).toEqual({ signal: "SIGUSR1", code: "SI_USER", addr: 0 });
  });

  it("a blocked signal waits; unblocking delivers it before sigprocmask returns; standard signals do not queue twice", async () => {
    const { p } = await boot();
    let n = 0;
    p.libc.sigaction(SIGUSR1, { handler: () => n++ });
    p.libc.sigprocmask(SIG_BLOCK, [SIGUSR1]);
    p.libc.kill(p.pid, SIGUSR1);
    p.libc.kill(p.pid, SIGUSR1);
    expect(n).toBe(0);
    expect(p.sys.sigpending()).toEqual([SIGUSR1]);
    p.libc.sigprocmask(SIG_UNBLOCK, [SIGUSR1]);
    expect(n).toBe(1);
    expect(p.sys.sigpending()).toEqual([]);
    // Real-time signals queue each time.
    let rt = 0;
    p.libc.sigaction(40, { handler: () => rt++ });
    p.libc.sigprocmask(SIG_BLOCK, [40]);
    for (let i = 0; i < 3; i++) p.libc.kill(p.pid, 40);
    p.libc.sigprocmask(SIG_UNBLOCK, [40]);
    expect(rt).toBe(3);
  });

  it("default actions: SIGTERM kills (the call throws), SIGCHLD is ignored, SIG_IGN discards", async () => {
    const { m, p } = await boot();
    expect(p.sys.kill(p.pid, SIGCHLD)).toBe(0);
    p.libc.sigaction(SIGUSR1, SIG_IGN);
    expect(p.sys.kill(p.pid, SIGUSR1)).toBe(0);
    expect(p.alive).toBe(true);
    const e = signalOf(() => p.sys.kill(p.pid, SIGTERM));
    expect(e?.signal).toBe("SIGTERM");
    expect(p.alive).toBe(false);
    expect(p.exitSignal).toBe("SIGTERM");
    expect(WTERMSIG(p.waitStatus!)).toBe(SIGTERM);
    m.checkInvariants();
  });

  it("kill another process: its default action kills it at once; a handler runs at its next kernel return", async () => {
    const { m, p } = await boot();
    const victim = m.spawn({ name: "victim" });
    const a = victim.libc.mmap(0, 0x1000, RW, ANON, -1, 0);
    victim.mmu.store8(a, 1);
    expect(p.sys.kill(victim.pid, SIGTERM)).toBe(0);
    expect(victim.alive).toBe(false);
    expect(victim.exitSignal).toBe("SIGTERM");
    m.checkInvariants();

    const catcher = m.spawn({ name: "catcher" });
    let got = 0;
    catcher.libc.sigaction(SIGUSR2, { handler: (i) => (got = i.pid ?? -1) });
    p.libc.kill(catcher.pid, SIGUSR2);
    expect(got).toBe(0);
    catcher.sys.getppid(); // a system call: the handler runs on its way out (exit_to_user_mode)
    expect(got).toBe(p.pid);
    expect(catcher.alive).toBe(true);
  });

  it("kill: -ESRCH for no such process, -EINVAL for a bad signal, 0 for signal 0 and for a zombie", async () => {
    const { m, p } = await boot();
    expect(p.sys.kill(9999, SIGTERM)).toBe(-ESRCH);
    expect(p.sys.kill(p.pid, 65)).toBe(-EINVAL);
    expect(p.sys.kill(p.pid, -1)).toBe(-EINVAL);
    expect(p.sys.kill(p.pid, 0)).toBe(0);
    expect(p.sys.kill(-5, SIGTERM)).toBe(-ESRCH);
    const c = m.process(p.libc.fork())!;
    c.libc.exit(3);
    expect(p.sys.kill(c.pid, SIGTERM)).toBe(0);
    expect(p.libc.waitpid(c.pid)).toEqual({ pid: c.pid, status: 3 << 8 });
    expect(p.sys.kill(c.pid, 0)).toBe(-ESRCH);
  });

  it("kill(-1) signals every other process, zombies included; not the caller", async () => {
    const { m, p } = await boot();
    const others = [m.spawn(), m.spawn()];
    expect(p.sys.kill(-1, SIGKILL)).toBe(0);
    expect(others.map((o) => o.exitSignal)).toEqual(["SIGKILL", "SIGKILL"]);
    expect(p.alive).toBe(true);
    // Zombies are still on the task list and take a signal without effect (as Linux's for_each_process).
    expect(p.sys.kill(-1, SIGKILL)).toBe(0);
    m.checkInvariants();
  });

  it("rt_sigreturn without a frame kills with SIGSEGV, as a corrupt frame does", async () => {
    const { p } = await boot();
    expect(signalOf(() => p.sys.rtSigreturn())?.signal).toBe("SIGSEGV");
    expect(p.exitSignal).toBe("SIGSEGV");
  });
});
