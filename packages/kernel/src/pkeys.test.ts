// The machine's CPU option `cpu: { pku }` and `zeroPage`, seen through processes' syscalls and MMUs.
import { describe, expect, it } from "vitest";
import {
  EINVAL,
  ENOSPC,
  ENOSYS,
  ErrnoError,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PKEY_DISABLE_ACCESS,
  PKEY_DISABLE_WRITE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SignalError,
} from "./index";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const PRIV = MAP_PRIVATE | MAP_ANONYMOUS;

describe("a machine whose CPU has PKU", () => {
  it("execute-only memory kills a reader with SIGSEGV SEGV_PKUERR; smaps shows the key", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024, cpu: { pku: true } });
    expect(m.cpu.pku).toBe(true);
    const p = m.spawn({ name: "xo" });
    const a = p.sys.mmap(0, P, PROT_EXEC, PRIV, -1, 0);
    expect(p.procSmaps()).toMatch(/ProtectionKey: +1\n/);
    let err: unknown;
    try {
      p.mmu.load8(a);
    } catch (e) {
      err = e;
    }
    expect(SignalError.is(err) && err.code).toBe("SEGV_PKUERR");
    expect((err as SignalError).pkey).toBe(1);
    expect(p.exitSignal).toBe("SIGSEGV");
    expect(m.dmesg().some((l) => l.includes(`xo[${p.pid}]: segfault at ${a.toString(16)}`))).toBe(true);
    m.checkInvariants();
  });

  it("pkey_alloc, pkey_mprotect, pkey_set and pkey_free through sys and libc", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024, cpu: { pku: true } });
    const p = m.spawn();
    const a = p.libc.mmap(0, 2 * P, RW, PRIV, -1, 0);
    p.mmu.store32(a, 7);
    const k = p.libc.pkeyAlloc(0, PKEY_DISABLE_WRITE);
    expect(k).toBe(1);
    expect(p.sys.pkeyMprotect(a, P, RW, k)).toBe(0);
    expect(p.sys.pkeyGet(k)).toBe(PKEY_DISABLE_WRITE);
    expect(p.mmu.load32(a)).toBe(7);
    p.libc.pkeySet(k, 0);
    p.mmu.store32(a, 8);
    expect(p.mmu.load32(a)).toBe(8);
    expect(() => p.libc.pkeySet(k, 9)).toThrow(ErrnoError);
    expect(p.sys.pkeyFree(k)).toBe(0);
    expect(p.sys.pkeyFree(k)).toBe(-EINVAL);
    // A child inherits the key tags and the thread's PKRU.
    const c = m.process(p.sys.fork())!;
    expect(c.sys.pkeyGet(k)).toBe(0);
    expect(c.mmu.load32(a)).toBe(8);
    c.sys.pkeySet(k, PKEY_DISABLE_ACCESS);
    expect(() => c.mmu.load32(a)).toThrow(/SEGV_PKUERR/);
    expect(p.mmu.load32(a)).toBe(8);
    m.checkInvariants();
  });
});

describe("a machine without PKU (default)", () => {
  it("answers pkey calls as Linux does on such a CPU, and exec-only memory is readable", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    expect(m.cpu).toEqual({ pku: false });
    const p = m.spawn();
    expect(p.sys.pkeyAlloc(0, 0)).toBe(-EINVAL);
    expect(p.sys.pkeyAlloc(0, 0)).toBe(-ENOSPC);
    expect(p.sys.pkeyGet(0)).toBe(-ENOSYS);
    expect(() => p.libc.pkeySet(0, 0)).toThrow(expect.objectContaining({ code: "ENOSYS" }));
    const a = p.sys.mmap(0, P, PROT_EXEC, PRIV, -1, 0);
    expect(p.mmu.load8(a)).toBe(0);
    expect(p.procSmaps()).not.toMatch(/ProtectionKey/);
  });

  it("zeroPage: false gives a read fault its own page (Rss, Anonymous) as such hosts do", async () => {
    for (const zeroPage of [true, false]) {
      const m = await Machine.create({ ramBytes: 16 * 1024 * 1024, zeroPage });
      const p = m.spawn();
      const a = p.sys.mmap(0, P, RW, PRIV, -1, 0);
      expect(p.mmu.load8(a)).toBe(0);
      expect(p.mm.rssAnon).toBe(zeroPage ? 0 : 1);
      m.checkInvariants();
    }
  });

  it("rejects malformed cpu and zeroPage options with the option's name", async () => {
    await expect(Machine.create({ cpu: { pku: "yes" as never } })).rejects.toThrow(
      /cpu\.pku: expected a boolean, got "yes"/,
    );
    await expect(Machine.create({ cpu: { pkru: true } as never })).rejects.toThrow(
      /cpu: unknown option "pkru"/,
    );
    await expect(Machine.create({ cpu: 3 as never })).rejects.toThrow(/cpu: expected an object/);
    await expect(Machine.create({ zeroPage: 0 as never })).rejects.toThrow(/zeroPage: expected a boolean/);
  });
});
