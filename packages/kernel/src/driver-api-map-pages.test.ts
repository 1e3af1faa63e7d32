/**
 * vmMapPages, vmMapPagesZero, vmInsertPages and vmfInsertPfnProt seen from a user process: a driver's
 * ->mmap (or ->fault) calls them, a process maps the device, reads what the driver wrote, writes what
 * the driver reads back; /proc/PID/smaps shows VM_MIXEDMAP; every PTE's page reference goes at munmap
 * and exit; a driver's bad arguments are a WARNING and -EINVAL (VM_FAULT_SIGBUS for the vmf_ one).
 */
import { describe, expect, it } from "vitest";
import {
  allocPage,
  allocPages,
  defineDriver,
  EINVAL,
  ENXIO,
  freePage,
  freePages,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_SIZE,
  type Page,
  PROT_READ,
  PROT_WRITE,
  pfnToPage,
  VM_FAULT_SIGBUS,
  VM_PFNMAP,
  VM_WRITE,
  type Vma,
  vmfInsertPfnProt,
  vmInsertPages,
  vmMapPages,
  vmMapPagesZero,
} from "./index";

interface Ctl {
  pages: Page[];
  /** What the driver's ->mmap does with the VMA and its pages (its answer is ->mmap's). */
  onMmap: (vma: Vma, pages: Page[]) => number;
}

/** A device of four pages (page i filled with 0xa0 + i) whose ->mmap is whatever the test says. */
function pagesDevice(ctl: Ctl) {
  return defineDriver({
    name: "mapdev",
    apiVersion: 1,
    init(ctx) {
      for (let i = 0; i < 4; i++) {
        const p = allocPage()!;
        p.bytes().fill(0xa0 + i);
        ctl.pages.push(p);
      }
      const major = ctx.allocChrdevRegion(0, 1, "mapdev");
      ctx.cdevAdd(major, 0, 1, { mmap: (_file, vma) => ctl.onMmap(vma, ctl.pages) });
      ctx.createDevNode("mapdev", major, 0);
      return 0;
    },
    exit() {
      for (const p of ctl.pages.splice(0)) freePage(p);
    },
  });
}

async function boot(onMmap: Ctl["onMmap"]) {
  const ctl: Ctl = { pages: [], onMmap };
  const m = await Machine.create({ ramBytes: 16 << 20, drivers: [pagesDevice(ctl)] });
  const p = m.spawn({ name: "app" });
  const fd = p.libc.open("/dev/mapdev", O_RDWR);
  const counts = () => ctl.pages.map((pg) => [pg.count, pg.mapcount]);
  return { m, p, fd, ctl, counts };
}

const RW = PROT_READ | PROT_WRITE;
const vmFlagsOf = (smaps: string) => smaps.match(/^VmFlags: (.*)$/m)?.[1]?.trim();

/** The WARNING report's message line (the one after "cut here"). */
function warning(m: Machine): string | undefined {
  const log = m.dmesg();
  const at = log.lastIndexOf("------------[ cut here ]------------");
  return at < 0 ? undefined : log[at + 1];
}

describe("vmMapPages from ->mmap", () => {
  it("maps the pages vm_pgoff on; the process reads and writes them; munmap and exit drop the references", async () => {
    const { m, p, fd, ctl, counts } = await boot((vma, pages) => vmMapPages(vma, pages));
    const a = p.libc.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, PAGE_SIZE);
    expect([p.mmu.load8(a), p.mmu.load8(a + PAGE_SIZE + 9)]).toEqual([0xa1, 0xa2]);
    p.mmu.store32(a + PAGE_SIZE + 16, 0xdeadbeef);
    expect(
      new DataView(ctl.pages[2]!.bytes().buffer, ctl.pages[2]!.bytes().byteOffset).getUint32(16, true),
    ).toBe(0xdeadbeef);
    expect(vmFlagsOf(p.procSmaps())).toBe("rd wr sh mr mw me ms sd mm");
    expect(p.procSmaps()).toMatch(/^Rss: +8 kB$/m);
    expect(counts()).toEqual([
      [1, 0],
      [2, 1],
      [2, 1],
      [1, 0],
    ]);
    m.checkInvariants();
    // A second mapping of the whole device: its own references.
    const b = p.libc.mmap(0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(b + 3 * PAGE_SIZE)).toBe(0xa3);
    expect(counts().map(([c]) => c)).toEqual([2, 3, 3, 2]);
    m.checkInvariants();
    expect(p.sys.munmap(a, 2 * PAGE_SIZE)).toBe(0);
    expect(counts().map(([c]) => c)).toEqual([2, 2, 2, 2]);
    m.checkInvariants();
    expect(p.sys.exit(0)).toBe(0);
    expect(counts()).toEqual(Array(4).fill([1, 0]));
    m.checkInvariants();
  });

  it("-ENXIO for vm_pgoff at or past the pages, then for a VMA larger than what is left; no WARNING", async () => {
    const { m, p, fd, counts } = await boot((vma, pages) => vmMapPages(vma, pages));
    expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 4 * PAGE_SIZE)).toBe(-ENXIO);
    expect(p.sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 3 * PAGE_SIZE)).toBe(-ENXIO);
    expect(p.sys.mmap(0, 5 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-ENXIO);
    expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
    expect(warning(m)).toBeUndefined();
    expect(counts()).toEqual(Array(4).fill([1, 0]));
    m.checkInvariants();
  });

  it("vmMapPagesZero ignores vm_pgoff; a num below the array's length bounds the object", async () => {
    const { m, p, fd } = await boot((vma, pages) =>
      vma.vmPgoff === 9 ? vmMapPagesZero(vma, pages) : vmMapPages(vma, pages, 2),
    );
    const a = p.libc.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 9 * PAGE_SIZE);
    expect(p.mmu.load8(a)).toBe(0xa0);
    expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 2 * PAGE_SIZE)).toBe(-ENXIO);
    m.checkInvariants();
  });

  it("a failing page in the middle: ->mmap's error, the mmap fails, and the pages mapped before it are released", async () => {
    let tail: Page | null = null;
    const { m, p, fd, counts } = await boot((vma, pages) => {
      // pfnToPage gives the driver's own page 1 back: a page it holds.
      return vmMapPages(vma, [pages[0]!, pfnToPage(pages[1]!.pfn), tail!, pages[3]!]);
    });
    // A tail page of an unsplit order-1 block: refcount 0, refused by validate_page_before_insert.
    const head = m.withKernel(() => allocPages(1)!);
    tail = m.mem.pfnToPage(head.pfn + 1);
    expect(p.sys.mmap(0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-EINVAL);
    expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
    expect(counts()).toEqual(Array(4).fill([1, 0]));
    m.withKernel(() => freePages(head, 1));
    m.checkInvariants();
  });
});

describe("vmInsertPages from ->mmap", () => {
  it("maps the batch, num comes back 0, smaps shows VM_MIXEDMAP; exit drops the references", async () => {
    const nums: number[] = [];
    const { m, p, fd, counts } = await boot((vma, pages) => {
      const num = { value: (vma.vmEnd - vma.vmStart) / PAGE_SIZE };
      const r = vmInsertPages(vma, vma.vmStart, pages.slice(vma.vmPgoff), num);
      nums.push(num.value);
      return r;
    });
    const a = p.libc.mmap(0, 3 * PAGE_SIZE, RW, MAP_SHARED, fd, PAGE_SIZE);
    expect(nums).toEqual([0]);
    expect([0, 1, 2].map((i) => p.mmu.load8(a + i * PAGE_SIZE))).toEqual([0xa1, 0xa2, 0xa3]);
    expect(vmFlagsOf(p.procSmaps())).toBe("rd wr sh mr mw me ms sd mm");
    expect(counts().map(([c]) => c)).toEqual([1, 2, 2, 2]);
    m.checkInvariants();
    p.sys.exit(0);
    expect(counts()).toEqual(Array(4).fill([1, 0]));
    m.checkInvariants();
  });

  it("partial failure: the error, num = the pages not inserted, the ones before left mapped for the driver to use", async () => {
    const seen: { r: number; num: number }[] = [];
    let tail: Page | null = null;
    const { m, p, fd, counts } = await boot((vma, pages) => {
      const num = { value: 4 };
      const r = vmInsertPages(vma, vma.vmStart, [pages[0]!, pages[1]!, tail!, pages[3]!], num);
      seen.push({ r, num: num.value });
      return 0; // the driver keeps what was inserted; the rest faults as SIGBUS
    });
    const head = m.withKernel(() => allocPages(1)!);
    tail = m.mem.pfnToPage(head.pfn + 1);
    const a = p.libc.mmap(0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    expect(seen).toEqual([{ r: -EINVAL, num: 2 }]);
    expect([p.mmu.load8(a), p.mmu.load8(a + PAGE_SIZE)]).toEqual([0xa0, 0xa1]);
    expect(counts().map(([c]) => c)).toEqual([2, 2, 1, 1]);
    m.checkInvariants();
    // No PTE and no fault handler behind the rest: SIGBUS kills the process, whose exit drops the two.
    expect(() => p.mmu.load8(a + 2 * PAGE_SIZE)).toThrow(/SIGBUS/);
    expect(counts()).toEqual(Array(4).fill([1, 0]));
    m.withKernel(() => freePages(head, 1));
    m.checkInvariants();
  });

  it("-EFAULT when the batch does not fit in the VMA, num untouched", async () => {
    const seen: number[] = [];
    const { m, p, fd } = await boot((vma, pages) => {
      const num = { value: 4 };
      const r = vmInsertPages(vma, vma.vmStart, pages, num);
      seen.push(num.value);
      return r;
    });
    expect(p.sys.mmap(0, 3 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-14);
    expect(seen).toEqual([4]);
    m.checkInvariants();
  });
});

describe("vmfInsertPfnProt from ->fault", () => {
  it("installs the pfn with pgprot's protection: read-only in a writable VMA", async () => {
    const { m, p, fd } = await boot((vma, pages) => {
      vma.vmFlags |= VM_PFNMAP;
      vma.vmOps = {
        fault: (vmf) =>
          vmfInsertPfnProt(vmf.vma, vmf.address, pages[vmf.pgoff]!.pfn, vmf.vma.vmPageProt & ~VM_WRITE),
      };
      return 0;
    });
    const a = p.libc.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(a + PAGE_SIZE)).toBe(0xa1);
    expect(p.mm.pgd.getPte(a + PAGE_SIZE) & 2).toBe(0); // _PAGE_RW clear
    expect(vmFlagsOf(p.procSmaps())).toBe("rd wr sh mr mw me ms pf sd");
    m.checkInvariants();
  });
});

describe("bad arguments: a WARNING and -EINVAL (VM_FAULT_SIGBUS from vmfInsertPfnProt), nothing mapped", () => {
  const otherPage = { pfn: 5, mem: {} } as unknown as Page;
  it.each([
    [
      "vmMapPages: pages not an array",
      (v: Vma) => vmMapPages(v, "pages" as unknown as Page[]),
      /pages pages is not an array/,
    ],
    ["vmMapPages: num NaN", (v: Vma, pg: Page[]) => vmMapPages(v, pg, Number.NaN), /num NaN is not a count/],
    ["vmMapPages: num negative", (v: Vma, pg: Page[]) => vmMapPages(v, pg, -1), /num -1 is not a count/],
    ["vmMapPages: num fractional", (v: Vma, pg: Page[]) => vmMapPages(v, pg, 1.5), /num 1.5 is not a count/],
    [
      "vmMapPages: num past the array",
      (v: Vma, pg: Page[]) => vmMapPages(v, pg, 5),
      /num 5 is larger than the array of 4 pages/,
    ],
    [
      "vmMapPagesZero: a null entry",
      (v: Vma, pg: Page[]) => vmMapPagesZero(v, [pg[0]!, null as unknown as Page]),
      /pages\[1\] \(null\) is not a page/,
    ],
    [
      "vmMapPages: another machine's page",
      (v: Vma) => vmMapPages(v, [otherPage]),
      /pages\[0\] .* is not a page of this machine/,
    ],
    [
      "vmInsertPages: addr NaN",
      (v: Vma, pg: Page[]) => vmInsertPages(v, Number.NaN, pg, { value: 1 }),
      /addr NaN is not an address/,
    ],
    [
      "vmInsertPages: num not a box",
      (v: Vma, pg: Page[]) => vmInsertPages(v, v.vmStart, pg, 1 as unknown as { value: number }),
      /num 1 is not a \{ value \} box/,
    ],
    [
      "vmInsertPages: num.value Infinity",
      (v: Vma, pg: Page[]) => vmInsertPages(v, v.vmStart, pg, { value: Infinity }),
      /num Infinity is not a count/,
    ],
  ])("%s", async (_what, call, why) => {
    const { m, p, fd, counts } = await boot((vma, pages) => call(vma, pages));
    expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-EINVAL);
    expect(warning(m)).toMatch(why);
    expect(m.dmesg()).toContain(
      `WARNING: CPU: 0 PID: ${p.pid} at ${/^vmInsertPages/.test(_what) ? "vm_insert_pages" : /Zero/.test(_what) ? "vm_map_pages_zero" : "vm_map_pages"} (mm/memory.c) [mapdev]`,
    );
    expect(counts()).toEqual(Array(4).fill([1, 0]));
    m.checkInvariants();
  });

  it.each([
    ["pgprot NaN", Number.NaN, 0, /pgprot NaN is not a pgprot/],
    ["pgprot negative", -1, 0, /pgprot -1 is not a pgprot/],
    ["a fractional pfn", 0x1b, 0.5, /is not an integer/],
  ])("vmfInsertPfnProt: %s", async (_what, pgprot, dpfn, why) => {
    const answers: number[] = [];
    const { m, p, fd } = await boot((vma, pages) => {
      vma.vmFlags |= VM_PFNMAP;
      vma.vmOps = {
        fault: (vmf) => {
          const r = vmfInsertPfnProt(vmf.vma, vmf.address, pages[0]!.pfn + dpfn, pgprot);
          answers.push(r);
          return r;
        },
      };
      return 0;
    });
    const a = p.libc.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    expect(() => p.mmu.load8(a)).toThrow(/SIGBUS/);
    expect(answers).toEqual([VM_FAULT_SIGBUS]);
    expect(warning(m)).toMatch(why);
    expect(p.mm.pgd.getPte(a)).toBe(0);
    m.checkInvariants();
  });
});
