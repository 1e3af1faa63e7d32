// Threads (issue 12 §3): clone with CLONE_THREAD / Machine.spawnThread share the mm; every TLB is
// shot down before munmap/mprotect/mremap return; exit, exit_group, fatal signals, tgkill,
// /proc/PID/task and per-thread fault counters.
import { describe, expect, it } from "vitest";
import {
  CLONE_FS,
  CLONE_NEWNS,
  CLONE_PTHREAD,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  EINVAL,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SI_USER,
  SIG_BLOCK,
  SIGUSR1,
  type SigInfo,
  SignalError,
  WTERMSIG,
} from "./index";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

async function boot(): Promise<{ m: Machine; p: Process }> {
  const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
  return { m, p: m.spawn({ name: "threads" }) };
}

function faultOf(fn: () => unknown): SignalError | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (SignalError.is(e)) return e;
    throw e;
  }
}

describe("threads share the mm", () => {
  it("spawnThread and clone(CLONE_PTHREAD): same pid (tgid), own TID, stores seen both ways", async () => {
    const { m, p } = await boot();
    const t = m.spawnThread(p);
    const tid = p.libc.clone(CLONE_PTHREAD);
    const u = m.process(tid)!;
    expect([t.sys.getpid(), u.sys.getpid(), p.sys.getpid()]).toEqual([p.pid, p.pid, p.pid]);
    expect(new Set([p.sys.gettid(), t.sys.gettid(), u.sys.gettid()]).size).toBe(3);
    expect(u.tgid).toBe(p.pid);
    expect(t.mm).toBe(p.mm);
    const a = t.libc.mmap(0, P, RW, ANON, -1, 0);
    p.mmu.store32(a, 0x1234);
    expect(u.mmu.load32(a)).toBe(0x1234);
    expect(m.procText(`/proc/${p.pid}/task`)).toBe(`${p.pid}\n${t.pid}\n${tid}\n`);
    expect(p.threads().map((x) => x.pid)).toEqual([p.pid, t.pid, tid]);
    m.checkInvariants();
  });

  it("kill from a thread: si_pid is the sender's process id (tgid), not its thread id", async () => {
    const { m, p } = await boot();
    const t = m.spawnThread(p);
    const q = m.spawn({ name: "target" });
    const seen: SigInfo[] = [];
    q.libc.sigaction(SIGUSR1, { handler: (i) => seen.push(i) });
    expect(t.sys.kill(q.pid, SIGUSR1)).toBe(0);
    q.sys.getpid(); // delivered on q's way back to user mode
    expect(seen.map((i) => [i.code, i.pid])).toEqual([[SI_USER, p.pid]]);
    expect(t.pid).not.toBe(p.pid);
    m.checkInvariants();
  });

  it("clone's flag checks: THREAD needs SIGHAND, SIGHAND needs VM, NEWNS with FS", async () => {
    const { p } = await boot();
    expect(p.sys.clone(CLONE_VM | CLONE_THREAD)).toBe(-EINVAL);
    expect(p.sys.clone(CLONE_SIGHAND | CLONE_THREAD)).toBe(-EINVAL);
    expect(p.sys.clone(CLONE_NEWNS | CLONE_FS)).toBe(-EINVAL);
    // No sharing flag: fork.
    const c = p.sys.clone(17);
    expect(c).toBeGreaterThan(p.pid);
  });

  it("a thread never reads a freed or re-protected frame after munmap/mprotect/mremap by another returns", async () => {
    const { m, p } = await boot();
    const t = m.spawnThread(p);
    const seen: SigInfo[] = [];
    p.libc.sigaction(11, { handler: (i) => seen.push(i) });
    for (let round = 0; round < 40; round++) {
      const a = p.libc.mmap(0, P, RW, ANON, -1, 0);
      p.mmu.store32(a, 0xa000 + round);
      expect(t.mmu.load32(a)).toBe(0xa000 + round); // now in t's TLB
      if (round % 3 === 0) {
        p.libc.munmap(a, P);
        // The frame may already back another mapping: fill one to make a stale read visible.
        // (at another address: mmap would otherwise reuse the hole at a).
        const b = p.libc.mmap(a + 0x100000, P, RW, ANON | MAP_FIXED, -1, 0);
        p.mmu.store32(b, 0xdead);
        expect(faultOf(() => t.mmu.load32(a))?.code).toBe("SEGV_MAPERR");
        expect(t.mmu.load32(b)).toBe(0xdead);
        p.libc.munmap(b, P);
      } else if (round % 3 === 1) {
        p.libc.mprotect(a, P, PROT_READ);
        expect(faultOf(() => t.mmu.store32(a, 1))?.code).toBe("SEGV_ACCERR");
        expect(t.mmu.load32(a)).toBe(0xa000 + round);
        p.libc.munmap(a, P);
      } else {
        const to = p.libc.mmap(0, P, RW, ANON, -1, 0);
        p.libc.mremap(a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, to);
        expect(faultOf(() => t.mmu.load32(a))?.code).toBe("SEGV_MAPERR");
        expect(t.mmu.load32(to)).toBe(0xa000 + round);
        p.libc.munmap(to, P);
      }
      m.checkInvariants();
    }
    expect(seen.every((i) => i.code === SEGV_MAPERR || i.code === SEGV_ACCERR)).toBe(true);
    expect(p.alive && t.alive).toBe(true);
  });

  it("per-thread fault counters; /proc/PID/stat sums them, task/TID/stat is the thread's", async () => {
    const { m, p } = await boot();
    const t = m.spawnThread(p);
    const a = p.libc.mmap(0, 4 * P, RW, ANON, -1, 0);
    p.mmu.store8(a, 1);
    for (let i = 1; i < 4; i++) t.mmu.store8(a + i * P, 1);
    expect([p.minflt, t.minflt]).toEqual([1, 3]);
    const field = (text: string, n: number) => Number(text.trim().split(" ")[n - 1]);
    expect(field(m.procText(`/proc/${p.pid}/stat`), 10)).toBe(4);
    expect(field(m.procText(`/proc/${p.pid}/task/${t.pid}/stat`), 10)).toBe(3);
    expect(field(m.procText(`/proc/${p.pid}/stat`), 20)).toBe(2);
  });
});

describe("thread exits and signals", () => {
  it("exit ends one thread (the mm stays); the last one tears everything down; the parent sees the leader's status", async () => {
    const { m, p } = await boot();
    const c = m.process(p.libc.fork())!;
    const t = m.spawnThread(c);
    const a = c.libc.mmap(0, P, RW, ANON, -1, 0);
    c.mmu.store8(a, 7);
    t.libc.exit(3);
    expect(t.alive).toBe(false);
    expect(c.mmu.load8(a)).toBe(7);
    m.checkInvariants();
    const t2 = m.spawnThread(c);
    c.libc.exit(5); // the leader goes first: a zombie the parent cannot reap yet
    expect(p.sys.waitpid(c.pid)).toBe(0);
    expect(t2.mmu.load8(a)).toBe(7);
    m.checkInvariants();
    t2.libc.exit(0);
    expect(p.libc.waitpid(c.pid)).toEqual({ pid: c.pid, status: 5 << 8 });
    m.checkInvariants();
  });

  it("exit_group and a fatal fault end every thread", async () => {
    const { m, p } = await boot();
    const c = m.process(p.libc.fork())!;
    const t = m.spawnThread(c);
    t.libc.exitGroup(9);
    expect([c.alive, t.alive]).toEqual([false, false]);
    expect(p.libc.waitpid(c.pid)).toEqual({ pid: c.pid, status: 9 << 8 });
    const d = m.process(p.libc.fork())!;
    const u = m.spawnThread(d);
    expect(faultOf(() => u.mmu.load8(0x1000))?.signal).toBe("SIGSEGV");
    expect(d.alive).toBe(false);
    expect(WTERMSIG(p.libc.waitpid(d.pid)!.status)).toBe(11);
    m.checkInvariants();
  });

  it("tgkill reaches one thread; kill picks a thread that does not block the signal", async () => {
    const { m, p } = await boot();
    const t = m.spawnThread(p);
    const got: number[] = [];
    p.libc.sigaction(SIGUSR1, { handler: () => got.push(p.sys.gettid()) });
    expect(p.sys.tgkill(p.pid, t.pid, SIGUSR1)).toBe(0);
    expect(got.length).toBe(0); // pending until t returns from the kernel
    t.sys.getpid(); // a system call like any other: delivered on t's way back (exit_to_user_mode)
    expect(got.length).toBe(1);
    expect(p.sys.tgkill(p.pid + 100, t.pid, SIGUSR1)).toBe(-ESRCH);
    expect(p.sys.tgkill(0, t.pid, SIGUSR1)).toBe(-EINVAL);
    p.libc.sigprocmask(SIG_BLOCK, [SIGUSR1]);
    p.libc.kill(p.pid, SIGUSR1);
    expect(t.sys.sigpending()).toEqual([]);
    expect(got.length).toBe(2); // t took it: p blocks SIGUSR1
    m.checkInvariants();
  });
});
