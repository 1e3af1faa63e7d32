// A child's exit notifies its parent (kernel/exit.c exit_notify, kernel/signal.c do_notify_parent):
// the exit signal with CLD_* siginfo, autoreap under SIG_IGN / SA_NOCLDWAIT, threads, clone's exit
// signal, core dumps. test/oracle-sigchld.test.ts compares the fork cases with the live kernel.
import { describe, expect, it } from "vitest";
import {
  __WALL,
  __WCLONE,
  CLD_DUMPED,
  CLD_EXITED,
  CLD_KILLED,
  CLONE_PTHREAD,
  ECHILD,
  MAP_SHARED,
  Machine,
  PROT_READ,
  type Process,
  RLIMIT_CORE,
  SA_NOCLDSTOP,
  SA_NOCLDWAIT,
  SIG_DFL,
  SIG_IGN,
  SIGBUS,
  SIGCHLD,
  SIGKILL,
  SIGSEGV,
  SIGUSR1,
  type SigInfo,
  SignalError,
  WCOREDUMP,
  WEXITSTATUS,
  WTERMSIG,
} from "./index";

async function boot(): Promise<{ m: Machine; p: Process; got: SigInfo[] }> {
  const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
  return { m, p: m.spawn({ name: "parent" }), got: [] };
}

/** The child process of a fork by `p`. */
function fork(m: Machine, p: Process): Process {
  return m.process(p.libc.fork())!;
}

/** Runs `fn`, which ends the process with a signal. */
function dies(fn: () => unknown): void {
  expect(fn).toThrow(SignalError);
}

describe("SIGCHLD on a child's exit", () => {
  it("a handler gets CLD_EXITED with the exit code, the child's pid and uid 0, when the parent returns to user mode", async () => {
    const { m, p, got } = await boot();
    p.libc.sigaction(SIGCHLD, { handler: (i) => got.push(i) });
    const c = fork(m, p);
    c.libc.exitGroup(3);
    // Pending until the parent's next return from the kernel: its waitpid.
    expect(got).toEqual([]);
    expect(p.libc.waitpid(c.pid)).toEqual({ pid: c.pid, status: 3 << 8 });
    expect(got).toEqual([{ signo: SIGCHLD, code: CLD_EXITED, addr: 0, pid: c.pid, uid: 0, status: 3 }]);
    expect(p.handledSignals.at(-1)).toEqual({ signal: "SIGCHLD", code: "CLD_EXITED", addr: 0 });
  });

  it("CLD_KILLED after a fault's SIGSEGV and SIGBUS and after kill(SIGKILL); si_status the signal", async () => {
    const { m, p, got } = await boot();
    p.libc.sigaction(SIGCHLD, { handler: (i) => got.push(i) });
    const segv = fork(m, p);
    dies(() => segv.mmu.load8(0x1000_0000_0000));
    const bus = fork(m, p);
    const fd = bus.sys.memfdCreate("f");
    const addr = bus.libc.mmap(0, 0x2000, PROT_READ, MAP_SHARED, fd, 0);
    dies(() => bus.mmu.load8(addr));
    const killed = fork(m, p);
    dies(() => killed.sys.kill(killed.pid, SIGKILL));
    for (const c of [segv, bus, killed]) p.libc.waitpid(c.pid);
    expect(got.map((i) => [i.code, i.pid, i.status])).toEqual([
      [CLD_KILLED, segv.pid, SIGSEGV],
      [CLD_KILLED, bus.pid, SIGBUS],
      [CLD_KILLED, killed.pid, SIGKILL],
    ]);
  });

  it("the default action ignores SIGCHLD: no handler, no death; the zombie stays until waitpid", async () => {
    const { m, p } = await boot();
    const c = fork(m, p);
    c.libc.exitGroup(7);
    expect(p.sys.getpid()).toBe(p.pid);
    expect(p.alive).toBe(true);
    expect(m.process(c.pid)?.state).toBe("zombie");
    const w = p.libc.waitpid(-1)!;
    expect([w.pid, WEXITSTATUS(w.status)]).toEqual([c.pid, 7]);
    expect(m.process(c.pid)).toBeUndefined();
  });

  it("SIG_IGN: the child is reaped at exit and nothing is sent; waitpid is ECHILD", async () => {
    const { m, p } = await boot();
    p.libc.sigaction(SIGCHLD, { handler: SIG_IGN });
    const c = fork(m, p);
    c.libc.exitGroup(0);
    expect(m.process(c.pid)).toBeUndefined();
    expect(p.sys.sigpending()).toEqual([]);
    expect(p.sys.waitpid(c.pid)).toBe(-ECHILD);
    expect(p.sys.waitpid(-1)).toBe(-ECHILD);
    // A running child still counts (a blocking wait would wait for it, then find none).
    const d = fork(m, p);
    expect(p.sys.waitpid(-1)).toBe(0);
    d.libc.exitGroup(0);
    expect(p.sys.waitpid(-1)).toBe(-ECHILD);
  });

  it("SA_NOCLDWAIT: reaped at exit, and a handler still runs; with SIG_DFL nothing runs; SA_NOCLDSTOP alone reaps nothing", async () => {
    const { m, p, got } = await boot();
    const handler = (i: SigInfo) => got.push(i);
    p.libc.sigaction(SIGCHLD, { handler, flags: SA_NOCLDWAIT });
    const a = fork(m, p);
    a.libc.exitGroup(5);
    expect(p.sys.waitpid(a.pid)).toBe(-ECHILD);
    expect(got.map((i) => [i.code, i.status])).toEqual([[CLD_EXITED, 5]]);
    p.libc.sigaction(SIGCHLD, { handler: SIG_DFL, flags: SA_NOCLDWAIT });
    const b = fork(m, p);
    b.libc.exitGroup(0);
    expect(m.process(b.pid)).toBeUndefined();
    p.libc.sigaction(SIGCHLD, { handler, flags: SA_NOCLDSTOP });
    const c = fork(m, p);
    c.libc.exitGroup(6);
    expect(p.libc.waitpid(c.pid)?.status).toBe(6 << 8);
    expect(got).toHaveLength(2);
  });

  it("a blocked SIGCHLD waits for the unblock; the zombie is reaped meanwhile", async () => {
    const { m, p, got } = await boot();
    p.libc.sigaction(SIGCHLD, { handler: (i) => got.push(i) });
    p.libc.sigprocmask(0, [SIGCHLD]);
    const c = fork(m, p);
    c.libc.exitGroup(2);
    expect(p.libc.waitpid(c.pid)?.status).toBe(2 << 8);
    expect(p.sys.sigpending()).toEqual([SIGCHLD]);
    p.libc.sigprocmask(1, [SIGCHLD]);
    expect(got.map((i) => [i.pid, i.status])).toEqual([[c.pid, 2]]);
  });
});

describe("threads", () => {
  it("a thread's exit sends nothing; the group's last exit sends the leader's status, whoever exits last", async () => {
    const { m, p, got } = await boot();
    p.libc.sigaction(SIGCHLD, { handler: (i) => got.push(i) });
    const c = fork(m, p);
    const t1 = m.process(c.libc.clone(CLONE_PTHREAD))!;
    const t2 = m.process(c.libc.clone(CLONE_PTHREAD))!;
    t1.libc.exit(1);
    c.libc.exit(4); // the leader alone: a zombie that waits for its threads (delay_group_leader)
    expect(p.sys.waitpid(c.pid)).toBe(0);
    expect(got).toEqual([]);
    t2.libc.exit(9);
    expect(p.libc.waitpid(c.pid)?.status).toBe(4 << 8);
    expect(got.map((i) => [i.pid, i.code, i.status])).toEqual([[c.pid, CLD_EXITED, 4]]);
  });

  it("exit_group from a thread and a fatal fault in a thread notify once, for the group", async () => {
    const { m, p, got } = await boot();
    p.libc.sigaction(SIGCHLD, { handler: (i) => got.push(i) });
    const a = fork(m, p);
    m.process(a.libc.clone(CLONE_PTHREAD))!.libc.exitGroup(8);
    const b = fork(m, p);
    const bt = m.process(b.libc.clone(CLONE_PTHREAD))!;
    dies(() => bt.mmu.load8(0x1000_0000_0000));
    p.libc.waitpid(a.pid);
    p.libc.waitpid(b.pid);
    expect(got.map((i) => [i.pid, i.code, i.status])).toEqual([
      [a.pid, CLD_EXITED, 8],
      [b.pid, CLD_KILLED, SIGSEGV],
    ]);
  });
});

describe("clone's exit signal", () => {
  it("clone(SIGUSR1): the parent gets SIGUSR1; only __WCLONE or __WALL wait for it; SIG_IGN of SIGCHLD reaps nothing", async () => {
    const { m, p, got } = await boot();
    p.libc.sigaction(SIGUSR1, { handler: (i) => got.push(i) });
    p.libc.sigaction(SIGCHLD, { handler: SIG_IGN });
    const c = m.process(p.libc.clone(SIGUSR1))!;
    c.libc.exitGroup(1);
    expect(p.sys.waitpid(c.pid)).toBe(-ECHILD);
    expect(got.map((i) => [i.signo, i.code, i.pid, i.status])).toEqual([[SIGUSR1, CLD_EXITED, c.pid, 1]]);
    expect(p.libc.waitpid(c.pid, __WCLONE)?.status).toBe(1 << 8);
    const d = m.process(p.libc.clone(0))!;
    d.libc.exitGroup(0);
    expect(got).toHaveLength(1);
    // exit signal 0: no signal; a plain wait does not see it (not SIGCHLD), __WALL does.
    expect(p.sys.waitpid(-1)).toBe(-ECHILD);
    expect(p.libc.waitpid(-1, __WALL)?.pid).toBe(d.pid);
  });

  it("an exit signal whose default action kills kills the parent (the child is reaped by nobody: it stays a zombie)", async () => {
    const { m, p } = await boot();
    const c = m.process(p.libc.clone(SIGUSR1))!;
    c.libc.exitGroup(0);
    expect(p.exitSignal).toBe("SIGUSR1");
    expect(m.process(c.pid)?.parent).toBeNull();
  });
});

describe("orphans", () => {
  it("a child whose parent exited first has no parent (init is not modelled): its exit sends nothing", async () => {
    const { m, p } = await boot();
    const c = fork(m, p);
    p.libc.exitGroup(0);
    expect(c.libc.getppid()).toBe(0);
    c.libc.exitGroup(0);
    expect(c.state).toBe("zombie");
  });

  it("a zombie child is still waitable by the parent's other thread after the forking thread exits", async () => {
    const { m, p } = await boot();
    const t = m.process(p.libc.clone(CLONE_PTHREAD))!;
    const c = fork(m, t);
    t.libc.exit(0);
    c.libc.exitGroup(3);
    expect(p.libc.waitpid(c.pid)?.status).toBe(3 << 8);
  });
});

describe("core dumps (CLD_DUMPED, WCOREDUMP)", () => {
  // Linux 6.18.44, core_pattern "core": a core limit of a page dumps, one byte less does not
  // (binfmt_elf's min_coredump); SIGKILL never dumps (checked by hand in a scratch directory).
  for (const [limit, how, dumped] of [
    [0x1000, "SIGSEGV", true],
    [0xfff, "SIGSEGV", false],
    [-1, "SIGABRT", true],
    [0x1000, "SIGKILL", false],
    [0, "SIGSEGV", false],
  ] as const) {
    it(`RLIMIT_CORE ${limit}, ${how}: ${dumped ? "CLD_DUMPED" : "CLD_KILLED"}`, async () => {
      const { m, p, got } = await boot();
      p.libc.sigaction(SIGCHLD, { handler: (i) => got.push(i) });
      const c = fork(m, p);
      c.libc.setrlimit(RLIMIT_CORE, { cur: limit, max: -1 });
      if (how === "SIGSEGV") {
        c.libc.sigaction(SIGSEGV, { handler: SIG_DFL });
        dies(() => c.mmu.load8(0x1000_0000_0000));
      } else dies(() => c.sys.kill(c.pid, how === "SIGKILL" ? SIGKILL : 6));
      const w = p.libc.waitpid(c.pid)!;
      expect([WCOREDUMP(w.status), WTERMSIG(w.status)]).toEqual([
        dumped,
        how === "SIGSEGV" ? 11 : how === "SIGKILL" ? 9 : 6,
      ]);
      expect(got[0]?.code).toBe(dumped ? CLD_DUMPED : CLD_KILLED);
    });
  }
});
