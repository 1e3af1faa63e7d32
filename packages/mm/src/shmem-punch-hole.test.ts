// ShmemFile.punchHole, the public way to punch pages out of a shmem file: the same as
// fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on them (shmem_fallocate()): every mapping is
// zapped first, so each process sees the hole at once, and a write seal refuses it.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { F_SEAL_WRITE, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } from "./constants";
import { EINVAL, EPERM } from "./errno";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { ShmemFile, ShmemInode } from "./shmem";

const P = 4096;
const A = 0x7000_0000_0000;

function setup() {
  const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
  const inode = new ShmemInode(mem);
  inode.write(0, new Uint8Array(3 * P).fill(7));
  const file = new ShmemFile(inode, 0, "/f");
  file.get(); // the open file descriptor's reference: the inode outlives its mappings
  const a = new Mm(ramOnly(mem));
  const b = new Mm(ramOnly(mem));
  for (const mm of [a, b])
    expect(mm.mmap(A, 3 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file, 0)).toBe(A);
  const mmus = [Mmu.forMm(a), Mmu.forMm(b)];
  for (const mmu of mmus) expect(mmu.load8(A + P)).toBe(7); // both map page 1
  return { mem, inode, file, mms: [a, b], mmus };
}

describe("ShmemFile.punchHole", () => {
  it("zaps every mapping of the pages and frees them: both processes read zeros there at once", () => {
    const { inode, file, mms, mmus } = setup();
    const used = inode.pages.size;
    expect(file.punchHole(1, 1)).toBe(0);
    for (const mm of mms) expect(mm.pgd.getPte(A + P)).toBe(0);
    expect(inode.pages.size).toBe(used - 1);
    for (const mmu of mmus) expect([mmu.load8(A), mmu.load8(A + P), mmu.load8(A + 2 * P)]).toEqual([7, 0, 7]);
    // A store after the hole lands in the file's new page, seen by the other process too.
    mmus[0]!.store8(A + P, 9);
    expect(mmus[1]!.load8(A + P)).toBe(9);
    for (const mm of mms) {
      mm.checkInvariants();
      mm.exit();
    }
  });

  it("is refused under a write seal (-EPERM) and for a bad range (-EINVAL), changing nothing", () => {
    const { inode, file, mms } = setup();
    for (const mm of mms) mm.munmap(A, 3 * P); // F_SEAL_WRITE needs no writable shared mapping
    expect(inode.addSeals(F_SEAL_WRITE)).toBe(0);
    expect(file.punchHole(0, 3)).toBe(-EPERM);
    for (const [pgoff, n] of [
      [0, 0],
      [-1, 1],
      [0.5, 1],
      [0, Number.NaN],
    ])
      expect(file.punchHole(pgoff!, n!), `${pgoff}, ${n}`).toBe(-EINVAL);
    const back = new Uint8Array(3 * P);
    expect(inode.read(0, back)).toBe(3 * P);
    expect([...new Set(back)]).toEqual([7]);
    for (const mm of mms) mm.exit();
  });
});
