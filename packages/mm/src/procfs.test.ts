// /proc/PID/maps and smaps text (reference linux-mm.md §4): exact lines, padding, s/p, offsets,
// device numbers, Rss/Pss accounting and VmFlags.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "./constants";
import { Mm } from "./mm";
import { AddressSpaceMapping, type MmFile, type Vma } from "./mm_types";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { renderMaps, renderSmaps } from "./procfs";

const P = 4096;
const A = 0x7f3a_1c2d_4000;
const RW = PROT_READ | PROT_WRITE;

function setup() {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem));
  return { mem, mm, mmu: Mmu.forMm(mm) };
}

function devFile(path: string, ino: number, mmap: (vma: Vma) => number, writable = true): MmFile {
  return {
    path,
    devMajor: 0,
    devMinor: 5,
    ino,
    mapping: new AddressSpaceMapping(path),
    readable: true,
    writable,
    mmap,
    get() {},
    put() {},
  };
}

/** LDD3's /dev/simpler: remap_pfn_range of the offset's pfns. */
const simpler = (ino = 412) =>
  devFile("/dev/simpler", ino, (vma) =>
    vma.vmMm.remapPfnRange(vma, vma.vmStart, vma.vmPgoff, vma.vmEnd - vma.vmStart) ? -11 : 0,
  );

/** One smaps field's value in kB, for the VMA starting at `start`. */
function field(smaps: string, start: number, name: string): string {
  const blocks = smaps.split(/\n(?=[0-9a-f]+-)/);
  const block = blocks.find((b) => b.startsWith(start.toString(16).padStart(8, "0")));
  if (!block) throw new Error(`no VMA at ${start.toString(16)} in\n${smaps}`);
  const line = block.split("\n").find((l) => l.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`no ${name} in\n${block}`);
  return line;
}
const kb = (smaps: string, start: number, name: string) =>
  Number(/(\d+) kB$/.exec(field(smaps, start, name))![1]);

describe("/proc/PID/maps", () => {
  it("prints the reference's example lines exactly, names padded to column 73", () => {
    const { mm } = setup();
    expect(mm.mmap(A, 0x20000, RW, MAP_SHARED | MAP_FIXED, simpler(), 0xa0000)).toBe(A);
    const B = 0x7f3a_1c40_0000;
    expect(mm.mmap(B, 0x20000, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0)).toBe(B);
    const lines = renderMaps(mm).split("\n");
    expect(lines[0]).toBe(
      "7f3a1c2d4000-7f3a1c2f4000 rw-s 000a0000 00:05 412                        /dev/simpler",
    );
    expect(lines[0]!.indexOf("/dev/simpler")).toBe(73);
    expect(lines[1]).toBe("7f3a1c400000-7f3a1c420000 rw-p 00000000 00:00 0 ");
    expect(lines[2]).toBe("");
  });

  it("pads short addresses to 8 hex digits", () => {
    const { mm } = setup();
    mm.mmap(0x10000, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    expect(renderMaps(mm)).toBe("00010000-00011000 r--p 00000000 00:00 0 \n");
  });

  it("shows every prot × type combination (LTP mmap04)", () => {
    const { mm } = setup();
    const combos: Array<[number, number, string]> = [
      [PROT_NONE, MAP_PRIVATE, "---p"],
      [PROT_READ, MAP_SHARED, "r--s"],
      [PROT_WRITE, MAP_PRIVATE, "-w-p"],
      [RW, MAP_SHARED, "rw-s"],
      [PROT_READ | PROT_EXEC, MAP_PRIVATE, "r-xp"],
      [PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, "rwxs"],
    ];
    for (const [i, [prot, type]] of combos.entries()) {
      mm.mmap(A + 2 * i * P, P, prot, type | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    }
    const perms = renderMaps(mm)
      .trim()
      .split("\n")
      .map((l) => l.split(" ")[1]);
    expect(perms).toEqual(combos.map((c) => c[2]));
  });

  it("s comes from VM_MAYSHARE: MAP_SHARED of an O_RDONLY file shows s without VM_SHARED", () => {
    const { mm } = setup();
    const f = devFile("/dev/ro", 9, () => 0, false);
    mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 3 * P);
    expect(renderMaps(mm)).toBe(`7f3a1c2d4000-7f3a1c2d5000 r--s 00003000 00:05 9${" ".repeat(26)}/dev/ro\n`);
  });

  it("a private file mapping shows p and its offset; shared anonymous memory is /dev/zero (deleted)", () => {
    const { mm } = setup();
    mm.mmap(
      A,
      P,
      PROT_READ,
      MAP_PRIVATE | MAP_FIXED,
      devFile("/dev/x", 77, () => 0),
      0x5000,
    );
    mm.mmap(A + 4 * P, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    const [l0, l1] = renderMaps(mm).split("\n");
    expect(l0).toBe(`7f3a1c2d4000-7f3a1c2d5000 r--p 00005000 00:05 77${" ".repeat(25)}/dev/x`);
    expect(l1).toMatch(/^7f3a1c2d8000-7f3a1c2d9000 rw-s 00000000 00:01 \d+ +\/dev\/zero \(deleted\)$/);
    expect(l1!.indexOf("/dev/zero")).toBe(73);
  });

  it("anonymous offsets are 0 even though vm_pgoff is addr >> 12; mprotect splits and re-merges", () => {
    const { mm } = setup();
    mm.mmap(A, 3 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    mm.mprotect(A + P, P, PROT_READ);
    expect(renderMaps(mm)).toBe(
      "7f3a1c2d4000-7f3a1c2d5000 rw-p 00000000 00:00 0 \n" +
        "7f3a1c2d5000-7f3a1c2d6000 r--p 00000000 00:00 0 \n" +
        "7f3a1c2d6000-7f3a1c2d7000 rw-p 00000000 00:00 0 \n",
    );
    mm.mprotect(A + P, P, RW);
    expect(renderMaps(mm)).toBe("7f3a1c2d4000-7f3a1c2d7000 rw-p 00000000 00:00 0 \n");
  });
});

describe("/proc/PID/smaps", () => {
  it("zero-page PTEs add nothing to Rss; written pages do", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 4 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    for (let i = 0; i < 4; i++) mmu.load8(A + i * P);
    let s = renderSmaps(mm);
    expect(kb(s, A, "Rss")).toBe(0);
    expect(kb(s, A, "Pss")).toBe(0);
    mmu.store8(A, 1);
    s = renderSmaps(mm);
    expect(field(s, A, "Size")).toBe("Size:                 16 kB");
    expect(field(s, A, "Rss")).toBe("Rss:                   4 kB");
    expect(kb(s, A, "Private_Dirty")).toBe(4);
    expect(kb(s, A, "Anonymous")).toBe(4);
    mm.checkInvariants();
  });

  it("VM_PFNMAP PTEs add nothing to Rss", () => {
    const { mem, mm, mmu } = setup();
    const pfn = mem.allocPfn(0);
    mm.mmap(A, P, RW, MAP_SHARED | MAP_FIXED, simpler(), pfn * P);
    mmu.store32(A, 5);
    const s = renderSmaps(mm);
    expect(kb(s, A, "Rss")).toBe(0);
    expect(kb(s, A, "Pss")).toBe(0);
    mm.exit();
    mem.putPage(pfn);
  });

  it("Pss halves for pages shared with a forked child, Shared_* vs Private_*", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    mmu.store8(A, 1);
    mmu.store8(A + P, 2);
    const child = mm.fork() as Mm;
    let s = renderSmaps(mm);
    expect(kb(s, A, "Rss")).toBe(8);
    expect(kb(s, A, "Pss")).toBe(4);
    expect(kb(s, A, "Shared_Dirty")).toBe(8);
    expect(kb(s, A, "Private_Dirty")).toBe(0);
    // The child writes one page: that page is now private to each, the other still shared.
    Mmu.forMm(child).store8(A, 3);
    s = renderSmaps(mm);
    expect(kb(s, A, "Pss")).toBe(6);
    expect(kb(s, A, "Private_Dirty")).toBe(4);
    expect(kb(s, A, "Shared_Dirty")).toBe(4);
    child.exit();
    s = renderSmaps(mm);
    expect(kb(s, A, "Pss")).toBe(8);
    mm.checkInvariants();
  });

  it("field order and format follow show_smap", () => {
    const { mm } = setup();
    mm.mmap(A, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    const names = renderSmaps(mm)
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(":")[0]);
    expect(names).toEqual([
      "Size",
      "KernelPageSize",
      "MMUPageSize",
      "Rss",
      "Pss",
      "Pss_Dirty",
      "Shared_Clean",
      "Shared_Dirty",
      "Private_Clean",
      "Private_Dirty",
      "Referenced",
      "Anonymous",
      "KSM",
      "LazyFree",
      "AnonHugePages",
      "ShmemPmdMapped",
      "FilePmdMapped",
      "Shared_Hugetlb",
      "Private_Hugetlb",
      "Swap",
      "SwapPss",
      "Locked",
      "THPeligible",
      "VmFlags",
    ]);
    expect(field(renderSmaps(mm), A, "THPeligible")).toBe("THPeligible:           0");
  });

  it('a shared RW remap_pfn_range VMA shows "VmFlags: rd wr sh mr mw me ms pf io de dd sd "', () => {
    const { mm } = setup();
    mm.mmap(A, P, RW, MAP_SHARED | MAP_FIXED, simpler(), 0xa0000);
    expect(field(renderSmaps(mm), A, "VmFlags")).toBe("VmFlags: rd wr sh mr mw me ms pf io de dd sd ");
  });

  it("VmFlags of private anonymous RW memory: rd wr mr mw me ac sd", () => {
    const { mm } = setup();
    mm.mmap(A, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    expect(field(renderSmaps(mm), A, "VmFlags")).toBe("VmFlags: rd wr mr mw me ac sd ");
  });

  it("Locked equals Pss for VM_LOCKED memory", () => {
    const { mm } = setup();
    mm.mmap(A, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | 0x2000, null, 0);
    const s = renderSmaps(mm);
    expect(kb(s, A, "Locked")).toBe(8);
    expect(field(s, A, "VmFlags")).toBe("VmFlags: rd wr mr mw me lo ac sd ");
  });
});
