// Protection keys in the MMU and the mm (pkeys(7)): what the TLB may cache under a PKRU, how keys
// follow pages through mprotect, mremap and fork, and the invariant that a PTE carries its VMA's key.
// The syscall results themselves are pinned against real kernels by the oracle cases "pkeys",
// "exec-only" and "faults" (test/oracle, recorded on a PKU CPU under QEMU and live on PKU hosts).
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  EINVAL,
  ENOSPC,
  ENOSYS,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "./index";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { INIT_PKRU_VALUE, PKEY_DISABLE_ACCESS, PKEY_DISABLE_WRITE } from "./pkeys";
import { renderSmaps } from "./procfs";
import { SignalError } from "./signal";

const P = 4096;
const A = 0x1000_0000_0000;
const RW = PROT_READ | PROT_WRITE;
const PRIV = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

function machine(pku: boolean) {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const free = mem.nrFreePages;
  const mm = new Mm(ramOnly(mem), { pku });
  const mmu = Mmu.forMm(mm);
  const done = (...others: Mm[]) => {
    for (const m of [mm, ...others]) m.checkInvariants();
    for (const m of [...others, mm]) m.exit();
    mem.checkInvariants();
    expect(mem.nrFreePages).toBe(free);
  };
  return { mem, mm, mmu, done };
}

const signalOf = (fn: () => unknown): SignalError | null => {
  try {
    fn();
    return null;
  } catch (e) {
    if (SignalError.is(e)) return e;
    throw e;
  }
};

describe("protection keys on a PKU CPU", () => {
  it("a new mm has key 0 allocated and PKRU = init_pkru_value (every other key access-disabled)", () => {
    const { mm, done } = machine(true);
    expect(mm.pkru[0]).toBe(INIT_PKRU_VALUE);
    expect(mm.pkeyGet(0)).toBe(0);
    expect(mm.pkeyGet(1)).toBe(PKEY_DISABLE_ACCESS);
    expect(mm.pkeyAlloc(0, 0)).toBe(1);
    expect(mm.pkeyGet(1)).toBe(0);
    done();
  });

  it("hands out 15 keys, then -ENOSPC; a freed key comes back", () => {
    const { mm, done } = machine(true);
    const keys = Array.from({ length: 15 }, () => mm.pkeyAlloc(0, 0));
    expect(keys).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(mm.pkeyAlloc(0, 0)).toBe(-ENOSPC);
    expect(mm.pkeyFree(7)).toBe(0);
    expect(mm.pkeyAlloc(0, PKEY_DISABLE_WRITE)).toBe(7);
    expect(mm.pkeyGet(7)).toBe(PKEY_DISABLE_WRITE);
    // With every key taken, PROT_EXEC has no execute-only key to use: the mapping keeps key 0 and reads.
    const { mmu } = { mmu: Mmu.forMm(mm) };
    expect(mm.mmap(A, P, PROT_EXEC, PRIV, null, 0)).toBe(A);
    expect(mm.findVma(A)!.vmPkey).toBe(0);
    expect(mmu.load8(A)).toBe(0);
    done();
  });

  it("the TLB never lets through what a new PKRU denies (pkeySet flushes), and reads hit under WD", () => {
    const { mm, mmu, done } = machine(true);
    expect(mm.mmap(A, 2 * P, RW, PRIV, null, 0)).toBe(A);
    const k = mm.pkeyAlloc(0, 0);
    expect(mm.pkeyMprotect(A, 2 * P, RW, k)).toBe(0);
    mmu.store32(A, 42);
    expect(mmu.load32(A)).toBe(42); // cached for read and write now
    expect(mm.pkeySet(k, PKEY_DISABLE_WRITE)).toBe(0);
    expect(mmu.load32(A)).toBe(42);
    const walks = mmu.walks;
    expect(mmu.load32(A + 4)).toBe(0);
    expect(mmu.walks).toBe(walks); // a read under WD is a TLB hit
    expect(signalOf(() => mmu.store32(A, 1))).toMatchObject({ code: "SEGV_PKUERR", pkey: k, addr: A });
    expect(mm.pkeySet(k, PKEY_DISABLE_ACCESS)).toBe(0);
    expect(signalOf(() => mmu.load32(A))).toMatchObject({ code: "SEGV_PKUERR", pkey: k });
    // Not-present pages are refused by the fault handler before anything is allocated.
    const rss = mm.rss;
    expect(signalOf(() => mmu.store8(A + P, 1))).toMatchObject({ code: "SEGV_PKUERR", addr: A + P });
    expect(mm.rss).toBe(rss);
    expect(mm.pkeySet(k, 0)).toBe(0);
    expect(mmu.load32(A)).toBe(42);
    done();
  });

  it("bulk reads and writes obey the key too", () => {
    const { mm, mmu, done } = machine(true);
    expect(mm.mmap(A, 2 * P, RW, PRIV, null, 0)).toBe(A);
    mmu.write(A, new Uint8Array(2 * P).fill(7));
    const k = mm.pkeyAlloc(0, PKEY_DISABLE_WRITE);
    expect(mm.pkeyMprotect(A + P, P, RW, k)).toBe(0);
    expect(mmu.read(A, 2 * P).every((b) => b === 7)).toBe(true);
    expect(signalOf(() => mmu.write(A, new Uint8Array(2 * P)))).toMatchObject({
      code: "SEGV_PKUERR",
      addr: A + P,
    });
    // A fault part-way leaves the earlier page written, as on Linux.
    expect(mmu.load8(A)).toBe(0);
    expect(mmu.load8(A + P)).toBe(7);
    done();
  });

  it("PTEs carry their VMA's key through pkey_mprotect of populated pages, mremap and fork", () => {
    const { mm, mmu, done } = machine(true);
    expect(mm.mmap(A, 4 * P, RW, PRIV, null, 0)).toBe(A);
    for (let i = 0; i < 4; i++) mmu.store32(A + i * P, i + 1);
    const k = mm.pkeyAlloc(0, 0);
    expect(mm.pkeyMprotect(A + P, 2 * P, RW, k)).toBe(0);
    expect(mm.vmas.size).toBe(3);
    mm.checkInvariants(); // includes: every PTE's key equals its VMA's
    const B = A + 0x100 * P;
    expect(mm.mremap(A + P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B)).toBe(B);
    expect(mm.findVma(B)!.vmPkey).toBe(k);
    mm.checkInvariants();
    expect(mmu.load32(B)).toBe(2);
    const child = mm.fork() as Mm;
    expect(child.pkru[0]).toBe(mm.pkru[0]);
    expect(child.findVma(B)!.vmPkey).toBe(k);
    child.checkInvariants();
    const cmmu = Mmu.forMm(child);
    expect(cmmu.load32(B + P)).toBe(3);
    // The child's PKRU is its own register from now on.
    expect(child.pkeySet(k, PKEY_DISABLE_ACCESS)).toBe(0);
    expect(signalOf(() => cmmu.load32(B))).toMatchObject({ code: "SEGV_PKUERR" });
    expect(mmu.load32(B)).toBe(2);
    // Plain mprotect keeps the key; same flags and key merge back.
    expect(mm.mprotect(B, 2 * P, PROT_READ)).toBe(0);
    expect(mm.findVma(B)!.vmPkey).toBe(k);
    done(child);
  });

  it("execute-only: PROT_EXEC gets the mm's execute-only key; smaps shows ProtectionKey", () => {
    const { mm, mmu, done } = machine(true);
    expect(mm.mmap(A, P, PROT_EXEC, PRIV, null, 0)).toBe(A);
    const xo = mm.pkeys.executeOnlyPkey;
    expect(xo).toBe(1);
    expect(signalOf(() => mmu.load8(A))).toMatchObject({ signal: "SIGSEGV", code: "SEGV_PKUERR", pkey: xo });
    expect(mm.pkeyFree(xo)).toBe(-EINVAL);
    expect(mm.pkeyMprotect(A, P, PROT_READ, xo)).toBe(-EINVAL);
    expect(renderSmaps(mm)).toMatch(/ProtectionKey: +1\nVmFlags: ex mr mw me/);
    expect(mm.mprotect(A, P, PROT_READ | PROT_EXEC)).toBe(0);
    expect(mm.findVma(A)!.vmPkey).toBe(0);
    expect(mmu.load8(A)).toBe(0);
    expect(renderSmaps(mm)).toMatch(/ProtectionKey: +0\n/);
    done();
  });

  it("a signal handler starts with init_pkru_value (signalDelivered), flushing what the old PKRU allowed", () => {
    const { mm, mmu, done } = machine(true);
    expect(mm.mmap(A, P, RW, PRIV, null, 0)).toBe(A);
    const k = mm.pkeyAlloc(0, 0);
    expect(mm.pkeyMprotect(A, P, RW, k)).toBe(0);
    mmu.store8(A, 1);
    mm.pkeys.signalDelivered();
    expect(mm.pkru[0]).toBe(INIT_PKRU_VALUE);
    expect(signalOf(() => mmu.load8(A))).toMatchObject({ code: "SEGV_PKUERR" });
    done();
  });
});

describe("protection keys on a CPU without PKU (the default)", () => {
  it("answer as Linux 6.18 does there: -EINVAL then -ENOSPC, -EINVAL for every key, glibc -ENOSYS", () => {
    const { mm, mmu, done } = machine(false);
    expect(mm.pkru[0]).toBe(0);
    expect(mm.pkeyAlloc(0, 0)).toBe(-EINVAL);
    expect(mm.pkeyAlloc(0, 0)).toBe(-ENOSPC);
    expect(mm.pkeyFree(0)).toBe(-EINVAL);
    expect(mm.mmap(A, P, PROT_EXEC, PRIV, null, 0)).toBe(A);
    expect(mm.pkeyMprotect(A, P, PROT_EXEC, -1)).toBe(0);
    expect(mm.pkeyMprotect(A, P, PROT_EXEC, 0)).toBe(-EINVAL);
    expect(mmu.load8(A)).toBe(0); // execute-only is readable without pkeys
    expect(mm.pkeyGet(0)).toBe(-ENOSYS);
    expect(mm.pkeySet(0, 0)).toBe(-ENOSYS);
    expect(renderSmaps(mm)).not.toMatch(/ProtectionKey/);
    done();
  });
});
