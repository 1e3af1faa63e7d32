// The syscall table and the C-ABI conversion at its door (issues 8 and 9 §2): every argument C could
// not pass is a TypeError naming the syscall and the argument, thrown before the kernel is entered
// (nothing changes, the process goes on, no oops); integers become their C types; a name or number
// that is not in the table is -ENOSYS.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CLOCK_THREAD_CPUTIME_ID,
  describeSyscall,
  EBADF,
  EINVAL,
  ENOMEM,
  ENOSPC,
  ENOSYS,
  EOPNOTSUPP,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SIGUSR1,
  SignalError,
  SYS_getpid,
  SYS_madvise,
  SYS_mmap,
  SYS_mprotect,
  SYS_mremap,
  SYS_msync,
  SYS_munmap,
  SYS_pkey_alloc,
  SYS_pkey_free,
  SYS_pkey_mprotect,
  syscallNames,
} from "./index";
import { type ArgKind, convertArgs, syscall } from "./internal/syscall";
import { SYSCALL_TABLE } from "./syscall_64.tbl";

const RAM = 16 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** A value each kind accepts (so that only the argument under test is wrong). */
const VALID: Record<ArgKind, unknown> = {
  int: 0,
  pid_t: 0,
  "unsigned int": 0,
  umode_t: 0,
  long: 0,
  off_t: 0,
  "unsigned long": 0,
  "unsigned long flags": 0,
  size_t: 0,
  "const char *path": "/dev/console",
  "const char *buf": new Uint8Array(1),
  "char *buf": new Uint8Array(1),
  "const struct sigaction *": null,
  "const sigset_t *": null,
  "const struct rlimit *": null,
  "struct shmid_ds *": null,
  "struct timespec *": null,
};

/** What C could not have passed, whatever the parameter's type. */
const HOSTILE: ReadonlyArray<[string, unknown]> = [
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["1.5", 1.5],
  ["null", null],
  ["an object", {}],
  ["an array", [1]],
  ["true", true],
  ["a function", () => 0],
  ["Symbol(x)", Symbol("x")],
];

async function boot(): Promise<{ m: Machine; p: Process; a: number }> {
  const m = await Machine.create({ ramBytes: RAM });
  const p = m.spawn();
  const a = p.sys.mmap(0, 4096, RW, ANON, -1, 0);
  p.mmu.store32(a, 0x5a5a);
  return { m, p, a };
}

/** Everything a refused call must leave as it was. */
function snapshot(m: Machine, p: Process) {
  return { maps: p.procMaps(), dmesg: m.dmesg().length, fds: [...p.fds.keys()], state: p.state };
}

describe("syscall_64.tbl", () => {
  it("uses the x86-64 numbers and names each syscall once", () => {
    expect([SYS_mmap, SYS_mprotect, SYS_munmap, SYS_mremap, SYS_msync, SYS_madvise]).toEqual([
      9, 10, 11, 25, 26, 28,
    ]);
    expect([SYS_pkey_mprotect, SYS_pkey_alloc, SYS_pkey_free, SYS_getpid]).toEqual([329, 330, 331, 39]);
    const rows = syscallNames();
    expect(new Set(rows.map((r) => r.nr)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    expect(rows.map((r) => r.nr)).toEqual([...rows.map((r) => r.nr)].sort((x, y) => x - y));
    expect(rows.find((r) => r.name === "mmap")?.params).toEqual([
      "unsigned long addr",
      "unsigned long length",
      "unsigned long prot",
      "unsigned long flags",
      "unsigned long fd",
      "unsigned long offset",
    ]);
  });

  it("describeSyscall finds a row by number, name or method, and nothing else", () => {
    expect(describeSyscall(SYS_mmap)?.name).toBe("mmap");
    expect(describeSyscall("pkeyAlloc")).toEqual(describeSyscall(SYS_pkey_alloc));
    expect(describeSyscall("waitpid")?.name).toBe("wait4");
    expect([describeSyscall("mlock2")?.since, describeSyscall(SYS_mmap)?.since]).toEqual(["4.4", null]);
    for (const k of ["constructor", "__proto__", "toString", 7, null, {}])
      expect(describeSyscall(k)).toBeUndefined();
  });

  it("every table entry is a method of p.sys and p.libc", async () => {
    const { p } = await boot();
    for (const e of SYSCALL_TABLE) {
      expect(typeof (p.sys as unknown as Record<string, unknown>)[e.method], e.method).toBe("function");
      expect(typeof (p.libc as unknown as Record<string, unknown>)[e.method], e.method).toBe("function");
    }
  });

  it("sys.call reaches the table only: by name, method or number; anything else is -ENOSYS and harmless", async () => {
    const { m, p, a } = await boot();
    expect(p.sys.call("getpid")).toBe(p.pid);
    expect(p.sys.call(SYS_getpid)).toBe(p.pid);
    // No PKU: as Linux on such a CPU (-EINVAL, then -ENOSPC).
    expect(p.sys.call("pkey_alloc", 0, 0)).toBe(-EINVAL);
    expect(p.sys.call("pkeyAlloc", 0, 0)).toBe(-ENOSPC);
    expect(p.sys.call(SYS_pkey_alloc, 0, 0)).toBe(-ENOSPC);
    const before = snapshot(m, p);
    for (const name of [
      "constructor",
      "file",
      "run",
      "__proto__",
      "toString",
      "valueOf",
      "call",
      "k",
      "t",
      "",
      "hasOwnProperty",
    ])
      expect(p.sys.call(name, 0), name).toBe(-ENOSYS);
    for (const nr of [-1, 7, 100_000, 1.5, Number.NaN]) expect(p.sys.call(nr), String(nr)).toBe(-ENOSYS);
    expect(p.sys.call({} as never)).toBe(-ENOSYS);
    expect(snapshot(m, p)).toEqual(before);
    expect(p.mmu.load32(a)).toBe(0x5a5a);
    expect(m.oopses()).toEqual([]);
    m.checkInvariants();
  });

  it("getpid, getppid and gettid are system calls like any other: a pending signal is delivered on their way out, the call costs CPU time, a dead task gets -ESRCH", async () => {
    const { m, p } = await boot();
    const caught: string[] = [];
    p.sys.sigaction(SIGUSR1, { handler: () => caught.push("USR1") });
    for (const call of ["getpid", "getppid", "gettid"] as const) {
      caught.length = 0;
      expect(p.sys.kill(p.pid, SIGUSR1)).toBe(0); // delivered on kill's own way out
      expect(caught).toEqual(["USR1"]);
      const child = m.process(p.libc.fork())!;
      child.sys.sigaction(SIGUSR1, { handler: () => caught.push(`child ${call}`) });
      expect(p.sys.kill(child.pid, SIGUSR1)).toBe(0); // pending in the child until it enters the kernel
      expect(caught).toEqual(["USR1"]);
      // exit_to_user_mode() after entry_SYSCALL_64, whatever the call.
      const cpu0 = child.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID) as number;
      expect(child.sys[call]()).toBe(call === "getppid" ? p.pid : child.pid);
      expect(caught).toEqual(["USR1", `child ${call}`]);
      expect((child.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID) as number) - cpu0).toBe(2_000); // getpid + this call
      child.sys.exit(0);
      expect(child.sys[call]()).toBe(-ESRCH);
      expect(p.libc.waitpid(child.pid)?.pid).toBe(child.pid);
    }
    m.checkInvariants();
  });

  it("a 2.6.10 machine has no syscall added after 2.6.10: each is -ENOSYS, entered like any other call", async () => {
    // The rows that name the release that added them (arch/x86/entry/syscalls/syscall_64.tbl history).
    const later = SYSCALL_TABLE.filter((e) => e.since !== null).map((e) => `${e.name} ${e.since}`);
    expect(later).toEqual([
      "fallocate 2.6.23",
      "prlimit64 2.6.36",
      "memfd_create 3.17",
      "mlock2 4.4",
      "pkey_mprotect 4.9",
      "pkey_alloc 4.9",
      "pkey_free 4.9",
      "mseal 6.10",
    ]);
    const old = await Machine.create({ ramBytes: RAM, era: "2.6.10" });
    const modern = await Machine.create({ ramBytes: RAM });
    const p = old.spawn();
    const q = modern.spawn();
    const caught: string[] = [];
    p.sys.sigaction(SIGUSR1, { handler: () => caught.push("USR1") });
    const a = p.sys.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const b = q.sys.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const fd = p.sys.open("/dev/zero", 2);
    const args: Record<string, (x: Process, addr: number) => unknown> = {
      fallocate: (x) => x.sys.call("fallocate", fd, 0, 0, 4096),
      prlimit64: (x) => x.sys.call("prlimit64", 0, 7),
      memfd_create: (x) => x.sys.call("memfd_create", "x", 0),
      mlock2: (x, addr) => x.sys.call("mlock2", addr, 4096, 0),
      pkey_mprotect: (x, addr) => x.sys.call("pkey_mprotect", addr, 4096, RW, 0),
      pkey_alloc: (x) => x.sys.call("pkey_alloc", 0, 0),
      pkey_free: (x) => x.sys.call("pkey_free", 1),
      mseal: (x, addr) => x.sys.call("mseal", addr, 4096, 0),
    };
    for (const e of SYSCALL_TABLE.filter((r) => r.since !== null)) {
      const call = args[e.name]!;
      caught.length = 0;
      const child = old.process(p.libc.fork())!;
      child.sys.sigaction(SIGUSR1, { handler: () => caught.push(e.name) });
      expect(p.sys.kill(child.pid, SIGUSR1)).toBe(0);
      const cpu0 = child.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID) as number;
      expect(call(child, a), e.name).toBe(-ENOSYS);
      // sys_ni_syscall is a syscall too: the pending signal is delivered on its way out, it costs CPU.
      expect(caught).toEqual([e.name]);
      expect((child.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID) as number) - cpu0).toBe(2_000);
      child.sys.exit(0);
      p.libc.waitpid(child.pid);
      // The same call on a modern machine reaches its handler.
      expect(call(q, b), e.name).not.toBe(-ENOSYS);
    }
    old.checkInvariants();
    modern.checkInvariants();
  });
});

describe("arguments are converted as the C ABI would, or refused before the kernel is entered", () => {
  it("every parameter of every syscall refuses every hostile value with a TypeError naming both", async () => {
    const { m, p, a } = await boot();
    const before = snapshot(m, p);
    let checked = 0;
    for (const e of SYSCALL_TABLE) {
      e.params.forEach((param, i) => {
        const bad: ReadonlyArray<[string, unknown]> = [
          ...HOSTILE,
          // A string where a number is expected, a number where a path is.
          ...(param.kind === "const char *path"
            ? [["42", 42] as [string, unknown]]
            : [['"1"', "1"] as [string, unknown]]),
          ...(param.default === undefined ? [["undefined", undefined] as [string, unknown]] : []),
        ];
        for (const [shown, v] of bad) {
          if (param.kind === "const char *buf" && typeof v === "string") continue; // a string is data to write
          // null is "no action" / "no set" (only read the old one); a list of signal numbers is a set.
          if (
            (param.kind === "const struct sigaction *" ||
              param.kind === "const sigset_t *" ||
              param.kind === "const struct rlimit *" ||
              param.kind === "struct shmid_ds *" ||
              param.kind === "struct timespec *") &&
            v === null
          )
            continue;
          if (param.kind === "const sigset_t *" && Array.isArray(v)) continue;
          const args = e.params.map((q) => VALID[q.kind]);
          args[i] = v;
          const call = () => p.sys.call(e.name, ...args);
          expect(call, `${e.name}(${param.name} = ${shown})`).toThrow(TypeError);
          expect(call).toThrow(new RegExp(`^${e.name}: ${param.name} must be .*, got `));
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(400);
    expect(snapshot(m, p)).toEqual(before);
    expect(p.mmu.load32(a)).toBe(0x5a5a);
    expect(m.oopses()).toEqual([]);
    m.checkInvariants();
  });

  it("the calls issue 9 lists: TypeError, nothing changed, no driver blamed", async () => {
    const { m, p, a } = await boot();
    const before = snapshot(m, p);
    expect(() => p.sys.open(42 as never, 0)).toThrow(/^open: pathname must be a string, got 42$/);
    expect(() => p.sys.mmap(0, Number.NaN, RW, ANON, -1, 0)).toThrow(
      /^mmap: length must be an integer, got NaN$/,
    );
    expect(() => p.sys.mmap(Number.NaN, 4096, RW, ANON, -1, 0)).toThrow(
      /^mmap: addr must be an integer, got NaN$/,
    );
    expect(() => p.sys.write(1, 5 as never)).toThrow(/^write: buf must be a Uint8Array or a string, got 5$/);
    expect(() => p.sys.read(0, null as never)).toThrow(
      /^read: buf must be a Uint8Array or an integer count, got null$/,
    );
    expect(() => p.sys.munmap(a, Number.NaN)).toThrow(/^munmap: length must be an integer, got NaN$/);
    expect(() => p.sys.mprotect(a, 4096, Number.NaN)).toThrow(/^mprotect: prot must be an integer, got NaN$/);
    expect(() => p.sys.mlock(a, Number.NaN)).toThrow(/^mlock: len must be an integer, got NaN$/);
    expect(() => p.sys.exit(Number.NaN)).toThrow(/^exit: status must be an integer, got NaN$/);
    expect(() => p.sys.pkeyGet(Number.NaN)).toThrow(/^pkey_get: pkey must be an integer, got NaN$/);
    expect(() => p.sys.waitpid(-1, Number.NaN)).toThrow(/^wait4: options must be an integer, got NaN$/);
    // p.libc checks the same way (a TypeError, not an ErrnoError).
    expect(() => p.libc.mmap(0, Number.NaN, RW, ANON, -1, 0)).toThrow(TypeError);
    expect(() => p.libc.open(null as never, 0)).toThrow(/^open: pathname must be a string, got null$/);
    expect(() => p.libc.exit(1.5)).toThrow(TypeError);
    expect(snapshot(m, p)).toEqual(before);
    expect(p.procMaps()).toMatch(/rw-p/);
    expect(p.mmu.load32(a)).toBe(0x5a5a);
    p.mmu.store32(a, 1);
    expect(m.oopses()).toEqual([]);
    expect(m.dmesg().join("\n")).not.toMatch(/oops/);
    m.checkInvariants();
  });

  it("a throw from the kernel's own code is a kernel oops, never blamed on a driver", async () => {
    const { m, p } = await boot();
    const bug = () =>
      m.syscall(p, "test", () => {
        throw new Error("boom");
      });
    expect(bug).toThrow(SignalError);
    expect(m.dmesg()).toContain("BUG: kernel oops in sys_test: boom");
    expect(m.dmesg().join("\n")).not.toMatch(/driver kernel/);
    expect(m.oopses()[0]).toMatchObject({ driver: "kernel", callback: "sys_test", pid: p.pid });
  });

  it("integers and bigints take the parameter's C type: int modulo 2^32, a negative size_t is huge", async () => {
    const { m, p, a } = await boot();
    // BigInts are integers too.
    const b = p.sys.mmap(0n, 4096n, BigInt(RW), BigInt(ANON), -1n as never, 0n);
    expect(b).toBeGreaterThan(0);
    expect(p.sys.munmap(BigInt(b), 4096n)).toBe(0);
    // A negative length is a huge size_t: munmap's range check and mmap's PAGE_ALIGN answer as Linux.
    expect(p.sys.munmap(a, -4096)).toBe(-EINVAL);
    expect(p.sys.mmap(0, -4096, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(p.sys.mprotect(a, -1, PROT_READ)).toBe(-ENOMEM);
    // An unsigned int fd is taken modulo 2^32: 2^32 + 1 is fd 1.
    expect(p.sys.close(2 ** 32 + 1)).toBe(0);
    expect(p.sys.close(1)).toBe(-EBADF);
    expect(p.sys.close(-1)).toBe(-EBADF);
    // An int: 2^32 - 1 is -1 (pkey_free(-1) is -EINVAL); 2^64 + 7 as a bigint is 7.
    expect(p.sys.pkeyFree(2 ** 32 - 1)).toBe(-EINVAL);
    expect(p.sys.exit((2n ** 64n + 7n) as never)).toBe(0);
    expect(p.exitCode).toBe(7);
    m.checkInvariants();
  });

  it("mmap flags are an unsigned long: MAP_SHARED_VALIDATE refuses a bit above 31 (-EOPNOTSUPP), MAP_SHARED ignores it", async () => {
    // Linux 6.18.44, a memfd and /dev/zero alike: flags 0x100000003 and 0x80000003 are EOPNOTSUPP,
    // 0x100000001 maps (do_mmap(): MAP_SHARED masks with LEGACY_MAP_MASK, MAP_SHARED_VALIDATE checks).
    const { m, p } = await boot();
    const fd = p.sys.open("/dev/zero", O_RDWR);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(p.sys.mmap(0, 4096, RW, 0x100000003n, fd, 0)).toBe(-EOPNOTSUPP);
    expect(p.sys.mmap(0, 4096, RW, 0x100000003, fd, 0)).toBe(-EOPNOTSUPP);
    expect(p.sys.mmap(0, 4096, RW, 0x80000003, fd, 0)).toBe(-EOPNOTSUPP);
    // MAP_FIXED_NOREPLACE folds MAP_FIXED into the flags first: the high bit is still seen.
    expect(p.sys.mmap(0x1000_0000_0000, 4096, RW, 0x100100003n, fd, 0)).toBe(-EOPNOTSUPP);
    expect(p.sys.mmap(0, 4096, RW, 0x100000001n, fd, 0)).toBeGreaterThan(0);
    expect(p.sys.mmap(0, 4096, RW, 0x3, fd, 0)).toBeGreaterThan(0);
    m.checkInvariants();
  });

  it("property: a 64-bit value a double cannot hold arrives as a stand-in with its sign, huge page offset and order; flags keep their low 32 bits", () => {
    const ulong = syscall(999, "ulong", "ulong", [{ name: "x", kind: "unsigned long" }], () => 0);
    const flags = syscall(999, "flags", "flags", [{ name: "x", kind: "unsigned long flags" }], () => 0);
    const conv = (v: bigint) => convertArgs(ulong, [v])[0] as number;
    const TWO52 = 2n ** 52n;
    const s64 = fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.bigInt({ min: TWO52 - 2n ** 34n, max: TWO52 + 2n ** 34n }),
      fc.bigInt({ min: -TWO52 - 2n ** 34n, max: -TWO52 + 2n ** 34n }),
    );
    fc.assert(
      fc.property(s64, s64, (s, t) => {
        const r = conv(s);
        expect(Number.isSafeInteger(r)).toBe(true);
        if (s < TWO52 && s > -TWO52) expect(r).toBe(Number(s));
        else {
          expect(Math.sign(r)).toBe(s < 0n ? -1 : 1);
          expect(Math.abs(r)).toBeGreaterThanOrEqual(2 ** 52);
          // The same offset in a 2 MiB huge page, so in a page, in two's complement (what
          // offset_in_page() and the hugetlb alignment checks read).
          expect((BigInt(r) - s) % 2n ** 21n).toBe(0n);
        }
        // The same order for values at least 4 GiB apart (and never reversed across 2^52).
        const [lo, hi] = s < t ? [s, t] : [t, s];
        if (hi - lo >= 2n ** 32n) expect(conv(lo)).toBeLessThan(conv(hi));
        // A bigint, a number and the same value modulo 2^64 agree.
        expect(conv(s + 2n ** 64n)).toBe(r);
        const f = convertArgs(flags, [s])[0] as number;
        expect(f >>> 0).toBe(Number(BigInt.asUintN(32, s)));
        expect(f === f >>> 0).toBe(BigInt.asUintN(64, s) < 2n ** 32n);
      }),
      { numRuns: 2000 },
    );
    // A number beyond 2^53 is read as the integer it is.
    expect(conv(2n ** 60n)).toBe(convertArgs(ulong, [2 ** 60])[0]);
    expect(convertArgs(flags, [2 ** 32 + 0x22])[0]).toBe(2 ** 32 + 0x22);
    expect(convertArgs(flags, [-1])[0]).toBe(2 ** 32 + 0xffffffff);
  });

  it("property: arbitrary JS values never oops the machine, never kill the process, invariants hold", async () => {
    const names = [
      // exit, exit_group, kill, tgkill and rt_sigreturn (without a frame) end the process by design.
      ...SYSCALL_TABLE.map((e) => e.name).filter(
        (n) => !["exit", "exit_group", "kill", "tgkill", "rt_sigreturn"].includes(n),
      ),
      "constructor",
      "run",
      "file",
    ];
    const arg = fc.oneof(
      fc.anything(),
      fc.integer({ min: -8, max: 1 << 20 }),
      fc.constantFrom(
        0,
        1,
        2,
        4096,
        -1,
        2 ** 32,
        2 ** 47,
        2 ** 53,
        -(2 ** 63),
        Number.NaN,
        Number.POSITIVE_INFINITY,
      ),
      fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
      fc.constantFrom("/dev/console", "/proc/self/maps", "/proc/meminfo", "//dev/./console"),
      fc.uint8Array({ maxLength: 16 }),
    );
    const step = fc.tuple(fc.constantFrom(...names), fc.array(arg, { maxLength: 7 }));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
        const m = await Machine.create({ ramBytes: RAM });
        const p = m.spawn();
        for (const [name, args] of steps) {
          try {
            const r = p.sys.call(name, ...args);
            expect(["number", "object"]).toContain(typeof r);
          } catch (e) {
            expect(e).toBeInstanceOf(TypeError);
          }
          expect(p.state).toBe("running");
        }
        expect(m.oopses()).toEqual([]);
        for (const q of m.processes()) if (q.state === "running") expect(q.killPending).toBe(false);
        m.checkInvariants();
      }),
      { numRuns: 100 },
    );
  });
});
