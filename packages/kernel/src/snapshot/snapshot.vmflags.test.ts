// vm_flags is an int32 whose sign bit is VM_MERGEABLE (MADV_MERGEABLE): a snapshot keeps it, and a
// file whose flags are not an int32 is refused.
import { describe, expect, it } from "vitest";
import {
  MADV_GUARD_INSTALL,
  MADV_MERGEABLE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  PROT_READ,
  PROT_WRITE,
  VM_MERGEABLE,
} from "../index";

const P = 4096;

describe("snapshots and VM_MERGEABLE", () => {
  it("a MERGEABLE VMA (the flags' sign bit) is restored as it was: VmFlags mg, the split kept", async () => {
    expect(VM_MERGEABLE).toBe(-(2 ** 31));
    const a = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = a.spawn({ name: "ksm" });
    const addr = p.libc.mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.mmu.store32(addr, 0x1234);
    expect(p.libc.madvise(addr, P, MADV_MERGEABLE)).toBe(0);
    const vma = p.mm.vmas.find(addr)!;
    expect(vma.vmFlags & VM_MERGEABLE).not.toBe(0);
    expect(p.procSmaps()).toMatch(/VmFlags: rd wr [a-z ]*\bmg \n/);
    const b = await Machine.restore(a.snapshot());
    const q = b.process(p.pid)!;
    expect(q.procMaps()).toBe(p.procMaps());
    expect(q.procSmaps()).toBe(p.procSmaps());
    expect(q.mm.vmas.find(addr)!.vmFlags).toBe(vma.vmFlags);
    expect(q.mmu.load32(addr)).toBe(0x1234);
    b.checkInvariants();
    a.checkInvariants();
  });

  it("a VMA marked VM_MAYBE_GUARD (MADV_GUARD_INSTALL) keeps its mark: VmFlags gu, and fork still copies its markers", async () => {
    const a = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = a.spawn({ name: "guard" });
    const addr = p.libc.mmap(0, 3 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    expect(p.libc.madvise(addr + P, P, MADV_GUARD_INSTALL)).toBe(0);
    expect(p.procSmaps()).toMatch(/VmFlags: rd wr sh mr mw me ms gu /);
    const b = await Machine.restore(a.snapshot());
    const q = b.process(p.pid)!;
    expect(q.procSmaps()).toBe(p.procSmaps());
    expect(q.mm.vmas.find(addr)!.maybeGuard).toBe(true);
    const child = b.process(q.libc.fork())!;
    expect(() => child.mmu.load8(addr + P)).toThrow(/SIGSEGV/);
    b.checkInvariants();
  });
});
