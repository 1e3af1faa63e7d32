// Fault-around (do_fault_around + filemap_map_pages): a read fault of a shmem mapping maps the cached,
// up-to-date pages of its 16-page window, inside the VMA and the file; 2.6.10 mapped one page.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { FALLOC_FL_KEEP_SIZE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "./constants";
import type { Era } from "./era";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { ShmemFile, ShmemInode } from "./shmem";

const PAGE = 4096;

function setup(era: Era) {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem), { era });
  const inode = new ShmemInode(mem);
  // 20 pages of data, then 4 fallocated (not up to date) pages, then a 2-page hole; i_size 28 pages.
  inode.write(0, new Uint8Array(20 * PAGE).fill(7));
  inode.fallocate(FALLOC_FL_KEEP_SIZE, 20 * PAGE, 4 * PAGE);
  inode.setSize(28 * PAGE);
  const file = new ShmemFile(inode, 0, "/f");
  return { mem, mm, mmu: Mmu.forMm(mm), inode, file };
}

describe("fault-around", () => {
  it("maps the 16-page aligned window of cached pages on a read fault (modern), one page in 2.6.10", () => {
    for (const [era, want] of [
      ["modern", 16],
      ["2.6.10", 1],
    ] as const) {
      const { mm, mmu, file } = setup(era);
      const a = mm.mmap(0, 32 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
      expect(mmu.load8(a + 3 * PAGE)).toBe(7);
      expect(mm.rssShmem).toBe(want);
      mm.checkInvariants();
      mm.exit();
    }
  });

  it("stops at the VMA, skips pages not up to date and holes, maps private mappings read-only", () => {
    const { mm, mmu, file, inode } = setup("modern");
    // A VMA starting at file page 18: its window is clipped to the VMA (pages 18..31 of the file).
    const a = mm.mmap(0, 14 * PAGE, PROT_READ, MAP_PRIVATE, file, 18 * PAGE);
    expect(mmu.load8(a)).toBe(7);
    // Pages 18 and 19 have data; 20..23 were fallocated but never touched; 24..27 are holes.
    expect(mm.rssShmem).toBe(2);
    expect(mmu.load8(a + 3 * PAGE)).toBe(0); // the fault itself makes page 21 up to date
    expect(inode.notUptodate.has(21)).toBe(false);
    expect(mm.rssShmem).toBe(3);
    // A write to a private page mapped by fault-around copies it (the cache keeps its bytes).
    expect(mm.mprotect(a, 14 * PAGE, PROT_READ | PROT_WRITE)).toBe(0);
    mmu.store8(a + PAGE, 9);
    expect(inode.read(19 * PAGE, new Uint8Array(1))).toBe(1);
    const b = new Uint8Array(1);
    inode.read(19 * PAGE, b);
    expect(b[0]).toBe(7);
    mm.checkInvariants();
    mm.exit();
  });

  it("maps pages fallocated twice: the second fallocate makes them up to date (modern)", () => {
    // Linux 6.18.44, a memfd: fallocate pages 2..5, fallocate 2..3 again, pwrite over 4..6, map pages
    // 3..4 and read page 4: fault-around maps page 3 as well (RSS 8 kB); without the second fallocate
    // it maps page 4 alone (shmem_get_folio_gfp: SGP_FALLOC on a folio fallocated earlier clears it).
    const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem), { era: "modern" });
    const mmu = Mmu.forMm(mm);
    const inode = new ShmemInode(mem);
    inode.setSize(6 * PAGE);
    expect(inode.fallocate(0, 2 * PAGE, 4 * PAGE)).toBe(0);
    expect(inode.fallocate(0, 2 * PAGE, 2 * PAGE)).toBe(0);
    expect([inode.notUptodate.has(2), inode.notUptodate.has(3), inode.notUptodate.has(5)]).toEqual([
      false,
      false,
      true,
    ]);
    inode.write(0x44a8, new Uint8Array(0x2174).fill(0x55));
    const a = mm.mmap(0, 2 * PAGE, PROT_READ, MAP_PRIVATE, new ShmemFile(inode, 0, "/f"), 3 * PAGE);
    expect(mmu.load8(a + 0x1bef)).toBe(0x55);
    expect(mm.rssShmem).toBe(2);
    expect(mmu.load8(a)).toBe(0);
    mm.checkInvariants();
    mm.exit();
  });
});
