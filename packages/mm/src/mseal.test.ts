// mseal(2) on an Mm (the live kernel's rows are in packages/kernel/test/oracle-heap-seal.test.ts):
// a property test that no later call changes a sealed range, and smaps' "sl".
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EINVAL,
  ENOMEM,
  EPERM,
  MADV_DONTNEED,
  MADV_NORMAL,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Mm,
  Mmu,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
  ramOnly,
  renderSmaps,
  VM_SEALED,
} from "./index";

const P = 4096;
const A = 0x1000_0000_0000;
const RW = PROT_READ | PROT_WRITE;
const PF = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

/** Every page of [start, end) is mapped. */
function noHole(mm: Mm, start: number, end: number): boolean {
  for (let a = start; a < end; a += P) if (!mm.vmaLookup(a)) return false;
  return true;
}

describe("mseal(2)", () => {
  it("checks its arguments before the range, and seals nothing when the range has a hole", () => {
    const mm = new Mm(ramOnly(PhysMemory.create({ ramBytes: 4 << 20 })));
    mm.mmap(A, 2 * P, RW, PF, null, 0);
    expect(mm.mseal(A, P, 1)).toBe(-EINVAL);
    expect(mm.mseal(A + 1, P, 0)).toBe(-EINVAL);
    expect(mm.mseal(A, -1, 0)).toBe(-EINVAL);
    expect(mm.mseal(A, 0, 0)).toBe(0);
    expect(mm.mseal(A, 3 * P, 0)).toBe(-ENOMEM);
    expect([...mm].some((v) => v.vmFlags & VM_SEALED)).toBe(false);
    expect(mm.mseal(A + P, 1, 0)).toBe(0);
    expect(renderSmaps(mm)).toContain("VmFlags: rd wr mr mw me ac sd sl \n");
    mm.checkInvariants();
  });

  it("the second split past vm.max_map_count: -ENOMEM, the first split stays, nothing sealed", () => {
    // mseal_apply() passes vma_modify_flags()'s error on; the split at the start is not undone.
    const mm = new Mm(ramOnly(PhysMemory.create({ ramBytes: 4 << 20 })), { maxMapCount: 2 });
    mm.mmap(A, 3 * P, RW, PF, null, 0);
    expect(mm.mseal(A + P, P, 0)).toBe(-ENOMEM);
    expect(mm.mapCount).toBe(2);
    expect([...mm].some((v) => v.vmFlags & VM_SEALED)).toBe(false);
    mm.checkInvariants();
    mm.exit();
  });

  it("no munmap, mmap(MAP_FIXED), mprotect, mremap or madvise ever changes a sealed range; each that reaches it is -EPERM", () => {
    const mem = PhysMemory.create({ ramBytes: 4 << 20 });
    const page = fc.integer({ min: 0, max: 15 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant("munmap" as const), p: page, n: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant("mmap" as const), p: page, n: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant("mprotect" as const), p: page, n: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant("mremap" as const), p: page, n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant("madvise" as const), p: page, n: fc.integer({ min: 1, max: 6 }) }),
    );
    fc.assert(
      fc.property(page, fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 20 }), (s, n, ops) => {
        const mm = new Mm(ramOnly(mem));
        const mmu = Mmu.forMm(mm);
        mm.mmap(A, 20 * P, RW, PF, null, 0);
        const end = Math.min(s + n, 20);
        for (let i = s; i < end; i++) mmu.store8(A + i * P, i + 1);
        expect(mm.mseal(A + s * P, (end - s) * P, 0)).toBe(0);
        const sealed = () =>
          [...mm]
            .filter((v) => v.vmFlags & VM_SEALED)
            .map((v) => `${v.vmStart}-${v.vmEnd}:${v.vmFlags}`)
            .join();
        const before = sealed();
        const hits = (p: number, k: number) => p < end && p + k > s;
        for (const o of ops) {
          const a = A + o.p * P;
          let r: number;
          switch (o.kind) {
            case "munmap":
              r = mm.munmap(a, o.n * P);
              break;
            case "mmap":
              r = mm.mmap(a, o.n * P, PROT_READ, PF, null, 0);
              break;
            case "mprotect":
              r = mm.mprotect(a, o.n * P, PROT_READ);
              break;
            case "mremap":
              r = mm.mremap(a, o.n * P, o.n * P, MREMAP_MAYMOVE | MREMAP_FIXED, A + 24 * P);
              break;
            default:
              r = mm.madvise(a, o.n * P, o.p % 2 ? MADV_DONTNEED : MADV_NORMAL);
          }
          // munmap and MAP_FIXED fail whenever they reach the sealed range; mprotect when no hole comes
          // first (-ENOMEM then), mremap when its source is sealed (else it moves what it can first);
          // madvise of writable anonymous memory may discard even sealed memory.
          const reaches =
            o.kind === "munmap" ||
            o.kind === "mmap" ||
            (o.kind === "mprotect" && noHole(mm, a, A + s * P)) ||
            (o.kind === "mremap" && ((mm.vmaLookup(a)?.vmFlags ?? 0) & VM_SEALED) !== 0);
          if (reaches && hits(o.p, o.n)) expect(r, o.kind).toBe(-EPERM);
          expect(sealed()).toBe(before);
        }
        for (let i = s; i < end; i++) {
          const v = mmu.load8(A + i * P);
          expect(v === i + 1 || v === 0).toBe(true);
        }
        mm.checkInvariants();
        mm.exit();
      }),
      { numRuns: 150 },
    );
  });
});
