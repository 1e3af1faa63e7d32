// A MAP_HUGETLB mapping (MAP_NORESERVE: the pool is empty) in a snapshot: its file of the internal
// hugetlbfs mount and hugetlb's vm_ops come back, so the restored machine's VMA still faults SIGBUS,
// still refuses an unaligned split, and shares one file between a process and its fork child.
import { describe, expect, it } from "vitest";
import {
  EINVAL,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  PROT_READ,
  PROT_WRITE,
  SHM_HUGETLB,
  SHM_NORESERVE,
} from "../index";

const P = 4096;
const HUGE = 2 * 1024 * 1024;

describe("snapshots and hugetlb", () => {
  it("a hugetlb VMA is restored with its file and vm_ops: maps, smaps, SIGBUS, the split rule", async () => {
    const a = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = a.spawn({ name: "huge" });
    const flags = MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE;
    const priv = p.sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | flags, -1, 0) as number;
    const shared = p.sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED | flags, -1, 0) as number;
    expect(priv % HUGE).toBe(0);
    expect(shared % HUGE).toBe(0);
    const child = a.process(p.libc.fork())!;
    const b = await Machine.restore(a.snapshot());
    const q = b.process(p.pid)!;
    expect(q.procMaps()).toBe(p.procMaps());
    expect(q.procMaps()).toMatch(/ 00:11 \d+ +\/anon_hugepage \(deleted\)\n/);
    expect(q.procSmaps()).toBe(p.procSmaps());
    expect(q.procSmaps()).toMatch(/KernelPageSize: +2048 kB/);
    const qc = b.process(child.pid)!;
    expect(qc.mm.vmas.find(shared)!.vmFile).toBe(q.mm.vmas.find(shared)!.vmFile);
    expect(q.sys.munmap(priv, P)).toBe(-EINVAL);
    expect(() => q.mmu.load8(shared + 5)).toThrow(/SIGBUS/);
    b.checkInvariants();
    a.checkInvariants();
  });

  it("a SHM_HUGETLB segment and its attach come back: the huge page size, 00:11, SIGBUS, the split rule", async () => {
    const a = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = a.spawn({ name: "sysv" });
    const id = p.sys.shmget(0, 3 * P, SHM_HUGETLB | SHM_NORESERVE | 0o600);
    expect(id).toBeGreaterThanOrEqual(0);
    const at = p.sys.shmat(id, 0, 0) as number;
    expect(at % HUGE).toBe(0);
    const b = await Machine.restore(a.snapshot());
    const q = b.process(p.pid)!;
    expect(q.procMaps()).toBe(p.procMaps());
    expect(q.procMaps()).toMatch(/ 00:11 \d+ +\/SYSV00000000 \(deleted\)\n/);
    expect(q.procSmaps()).toMatch(/KernelPageSize: +2048 kB/);
    expect(q.sys.shmdt(at + P)).toBe(-EINVAL);
    // A new attach of the restored segment is hugetlb too.
    const again = q.sys.shmat(id, 0, 0) as number;
    expect(again % HUGE).toBe(0);
    expect(q.sys.munmap(again, P)).toBe(-EINVAL);
    expect(q.sys.shmdt(again)).toBe(0);
    // The touch kills the process (no handler).
    expect(() => q.mmu.load8(at + 5)).toThrow(/SIGBUS/);
    b.checkInvariants();
  });
});
