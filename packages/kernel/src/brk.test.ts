// brk(2), glibc's brk/sbrk and mseal(2) on a process (the live kernel's rows are in
// test/oracle-heap-seal.test.ts): the calls go through the syscall table, maps names the heap, a
// snapshot keeps the break and the seals, and a 2.6.10 machine has no mseal.
import { describe, expect, it } from "vitest";
import {
  ENOMEM,
  ENOSYS,
  EPERM,
  ErrnoError,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PROT_READ,
  PROT_WRITE,
  SYS_brk,
  SYS_mseal,
} from "./index";

const PAGE = 4096;

describe("brk(2) and sbrk(3)", () => {
  it("p.sys.brk answers the break, moved or not; sbrk returns the old break and throws ENOMEM when refused", async () => {
    const m = await Machine.create({ ramBytes: 8 << 20 });
    const p = m.spawn({ name: "heap" });
    const start = p.sys.brk(0);
    expect(p.sys.call(SYS_brk, 0)).toBe(start);
    expect(p.libc.sbrk(0)).toBe(start);
    expect(p.libc.sbrk(2 * PAGE)).toBe(start);
    expect(p.libc.sbrk(0)).toBe(start + 2 * PAGE);
    p.mmu.store32(start + PAGE, 0xfeed);
    expect(p.procMaps()).toContain(`${start.toString(16)}-${(start + 2 * PAGE).toString(16)} rw-p`);
    expect(p.procMaps()).toMatch(/ \[heap\]\n/);
    expect(p.libc.sbrk(-PAGE)).toBe(start + 2 * PAGE);
    expect(p.sys.brk(start - PAGE)).toBe(start + PAGE);
    expect(() => p.libc.brk(start - PAGE)).not.toThrow();
    // Right below another mapping the heap cannot grow: one page must stay free.
    expect(p.sys.mmap(start + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x100000, -1, 0)).toBe(
      start + 3 * PAGE,
    );
    expect(() => p.libc.sbrk(2 * PAGE)).toThrow(expect.objectContaining({ errno: ENOMEM }));
    expect(() => p.libc.brk(start + 3 * PAGE)).toThrow(ErrnoError);
    expect(p.libc.sbrk(0)).toBe(start + PAGE);
    m.checkInvariants();
  });
});

describe("mseal(2)", () => {
  it("seals through the table; a sealed heap keeps its break; a snapshot keeps both", async () => {
    const m = await Machine.create({ ramBytes: 8 << 20 });
    const p = m.spawn({ name: "sealer" });
    const start = p.sys.brk(0);
    p.sys.brk(start + 2 * PAGE);
    p.mmu.store8(start, 0x5a);
    expect(p.sys.call(SYS_mseal, start, PAGE, 0)).toBe(0);
    expect(p.sys.brk(start)).toBe(start + 2 * PAGE);
    expect(p.sys.munmap(start, PAGE)).toBe(-EPERM);
    expect(p.sys.mprotect(start, PAGE, PROT_READ)).toBe(-EPERM);
    expect(() => p.libc.mseal(start, PAGE, 1)).toThrow(ErrnoError);
    expect(p.procSmaps()).toMatch(/VmFlags: rd wr mr mw me ac sd sl \n/);
    const maps = p.procMaps();

    const r = await Machine.restore(m.snapshot());
    const q = r.process(p.pid)!;
    expect(q.procMaps()).toBe(maps);
    expect(q.sys.brk(0)).toBe(start + 2 * PAGE);
    expect(q.sys.munmap(start, PAGE)).toBe(-EPERM);
    expect(q.mmu.load8(start)).toBe(0x5a);
    expect(q.sys.brk(start + PAGE)).toBe(start + PAGE);
    r.checkInvariants();
  });

  it("is -ENOSYS on a 2.6.10 machine, whose maps do not name the heap", async () => {
    const m = await Machine.create({ ramBytes: 8 << 20, era: "2.6.10" });
    const p = m.spawn({ name: "old" });
    const start = p.sys.brk(0);
    expect(p.sys.brk(start + PAGE)).toBe(start + PAGE);
    expect(p.sys.mseal(start, PAGE, 0)).toBe(-ENOSYS);
    expect(p.procMaps()).not.toContain("[heap]");
    expect(p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).toBeGreaterThan(
      0,
    );
  });
});
