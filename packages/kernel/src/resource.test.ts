// getrlimit/setrlimit/prlimit (issue 12 §4) and what the limits do to the mm (RLIMIT_AS, RLIMIT_DATA,
// RLIMIT_STACK, RLIMIT_MEMLOCK); the live-kernel rows are in test/oracle-limits.test.ts.
import { describe, expect, it } from "vitest";
import {
  EINVAL,
  ENOMEM,
  EPERM,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  Machine,
  MCL_CURRENT,
  MLOCK_ONFAULT,
  PROT_READ,
  PROT_WRITE,
  RLIM_INFINITY,
  RLIMIT_AS,
  RLIMIT_DATA,
  RLIMIT_MEMLOCK,
  RLIMIT_NOFILE,
  RLIMIT_STACK,
  SignalError,
} from "./index";
import { dropCapIpcLock } from "./internal/resource";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

describe("getrlimit, setrlimit, prlimit", () => {
  it("a login shell's defaults; soft above hard and unknown resources are EINVAL; NOFILE above nr_open EPERM", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = m.spawn();
    expect(p.sys.getrlimit(RLIMIT_STACK)).toEqual({ cur: 8 * 1024 * 1024, max: RLIM_INFINITY });
    expect(p.sys.getrlimit(RLIMIT_MEMLOCK)).toEqual({ cur: 8 * 1024 * 1024, max: 8 * 1024 * 1024 });
    expect(p.sys.getrlimit(16)).toBe(-EINVAL);
    expect(p.sys.setrlimit(RLIMIT_AS, { cur: 2 * P, max: P })).toBe(-EINVAL);
    expect(p.sys.setrlimit(RLIMIT_NOFILE, { cur: 1024, max: 2 ** 21 })).toBe(-EPERM);
    expect(p.sys.prlimit(9999, RLIMIT_AS)).toBe(-ESRCH);
    expect(p.sys.prlimit(0, RLIMIT_AS, { cur: 64 * P, max: RLIM_INFINITY })).toEqual({
      cur: RLIM_INFINITY,
      max: RLIM_INFINITY,
    });
    const c = m.process(p.libc.fork())!;
    expect(c.sys.getrlimit(RLIMIT_AS)).toEqual({ cur: 64 * P, max: RLIM_INFINITY });
    // Another process's limit, by pid.
    expect(p.sys.prlimit(c.pid, RLIMIT_DATA, { cur: P, max: P })).toEqual({
      cur: RLIM_INFINITY,
      max: RLIM_INFINITY,
    });
    expect(c.sys.mmap(0, 2 * P, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(() => p.sys.setrlimit(RLIMIT_AS, { cur: 1.5, max: 2 } as never)).toThrow(
      /^setrlimit: rlim must be/,
    );
    m.checkInvariants();
  });

  it("RLIMIT_AS bounds mmap; RLIMIT_STACK bounds stack growth (SIGSEGV beyond it)", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = m.spawn();
    p.libc.setrlimit(RLIMIT_AS, { cur: 8 * P, max: RLIM_INFINITY });
    expect(p.sys.mmap(0, 8 * P, RW, ANON, -1, 0)).toBeGreaterThan(0);
    expect(p.sys.mmap(0, P, RW, ANON, -1, 0)).toBe(-ENOMEM);
    p.libc.setrlimit(RLIMIT_AS, { cur: RLIM_INFINITY, max: RLIM_INFINITY });
    p.libc.setrlimit(RLIMIT_STACK, { cur: 4 * P, max: RLIM_INFINITY });
    const s = p.libc.mmap(0, 2 * P, RW, ANON | MAP_GROWSDOWN, -1, 0);
    p.mmu.store8(s - P, 1); // grows to 3 pages
    p.mmu.store8(s - 2 * P, 1); // 4 pages: the limit
    expect(() => p.mmu.store8(s - 3 * P, 1)).toThrow(SignalError);
    expect(p.exitSignal).toBe("SIGSEGV");
    m.checkInvariants();
  });

  it("RLIMIT_MEMLOCK binds a process without CAP_IPC_LOCK: mlock ENOMEM, mlockall ENOMEM, zero limit EPERM", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = m.spawn();
    const a = p.libc.mmap(0, 4 * P, RW, ANON, -1, 0);
    p.libc.setrlimit(RLIMIT_MEMLOCK, { cur: 2 * P, max: 2 * P });
    expect(p.sys.mlock(a, 4 * P)).toBe(0); // root: CAP_IPC_LOCK
    p.libc.munlock(a, 4 * P);
    dropCapIpcLock(p.task);
    expect(p.sys.mlock(a, 3 * P)).toBe(-ENOMEM);
    expect(p.sys.mlock2(a, 2 * P, MLOCK_ONFAULT)).toBe(0);
    expect(p.sys.mlock2(a, P, 2)).toBe(-EINVAL);
    expect(p.sys.mlockall(MCL_CURRENT)).toBe(-ENOMEM);
    p.libc.setrlimit(RLIMIT_MEMLOCK, { cur: 0, max: 0 });
    expect(p.sys.mlock(a, P)).toBe(-EPERM);
    // The first mlock populated the pages (they stay resident after munlock).
    expect(p.sys.mincore(a, 4 * P, 4)).toEqual(Uint8Array.of(1, 1, 1, 1));
    m.checkInvariants();
  });
});
