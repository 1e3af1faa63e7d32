import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesOf, stateOf } from "./__fixtures__/test-helpers";
import {
  allocPages,
  type DriverDefinition,
  defineDriver,
  EFAULT,
  EINVAL,
  ENOMEM,
  freePages,
  kmapPage,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_OFFSET,
  type Page,
  PROT_READ,
  PROT_WRITE,
  SnapshotError,
  type Vma,
} from "./index";
import {
  isVmallocAddr,
  remapVmallocRange,
  remapVmallocRangePartial,
  VMALLOC_END,
  VMALLOC_START,
  vfree,
  vmalloc,
  vmallocToPage,
  vmallocToPfn,
  vmallocUser,
  vzalloc,
} from "./vmalloc";

const RAM = 8 * 1024 * 1024;
const PAGE = 4096;

/** What the test driver's mmap does: remap_vmalloc_range of its buffer, or what a test asks. */
interface VbufCtl {
  pages: number;
  /** vmallocUser (mappable) or plain vmalloc. */
  user: boolean;
  onMmap?: (vma: Vma, addr: number) => number;
  addr: number;
}

/** A driver with one vmalloc buffer made at init, mapped by its mmap with remapVmallocRange. */
function vbuf(ctl: VbufCtl): DriverDefinition {
  return defineDriver({
    name: "vbuf",
    apiVersion: 1,
    version: "1.0.0",
    snapshot: {
      version: 1,
      save: () => ({ addr: ctl.addr }),
      restore: (s) => {
        ctl.addr = (s as { addr: number }).addr;
      },
    },
    init(ctx) {
      ctl.addr = ctl.user ? vmallocUser(ctl.pages * PAGE) : vmalloc(ctl.pages * PAGE);
      if (!ctl.addr) return -ENOMEM;
      const major = ctx.allocChrdevRegion(0, 1, "vbuf");
      ctx.cdevAdd(major, 0, 1, {
        mmap: (_f, vma) =>
          ctl.onMmap ? ctl.onMmap(vma, ctl.addr) : remapVmallocRange(vma, ctl.addr, vma.vmPgoff),
      });
      ctx.createDevNode("vbuf", major, 0);
      return 0;
    },
    exit() {
      vfree(ctl.addr);
    },
  });
}

/** Byte `off` of the vmalloc buffer at `addr`, through its struct page (driver code's way). */
const kbyte = (addr: number, off: number) => kmapPage(vmallocToPage(addr + off)!)[off % PAGE]!;

describe("vmalloc / vfree", () => {
  it("takes order-0 pages from the buddy allocator and vfree gives them all back; VmallocUsed counts them", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const used = () => Number(/^VmallocUsed: +(\d+) kB$/m.exec(m.procText("/proc/meminfo"))![1]);
    expect(m.procText("/proc/meminfo")).toMatch(
      /^VmallocTotal: {3}34359738367 kB\nVmallocUsed: +0 kB\nVmallocChunk: +0 kB\n/m,
    );
    const free = m.mem.nrFreePages;
    const a = m.withKernel(() => vmalloc(5 * PAGE - 100));
    expect(a).toBe(VMALLOC_START);
    expect(m.mem.nrFreePages).toBe(free - 5);
    expect(used()).toBe(20);
    expect(m.procText("/proc/vmallocinfo")).toBe(
      `0x${a.toString(16).padStart(16, "0")}-0x${(a + 6 * PAGE).toString(16).padStart(16, "0")}   24576 pages=5 vmalloc N0=5\n`,
    );
    m.withKernel(() => {
      expect(isVmallocAddr(a)).toBe(true);
      expect(isVmallocAddr(PAGE_OFFSET)).toBe(false);
      const pfns = [0, 1, 2, 3, 4].map((i) => vmallocToPfn(a + i * PAGE + 7));
      expect(new Set(pfns).size).toBe(5);
      for (const pfn of pfns) expect(Atomics.load(m.mem.refcount, pfn)).toBe(1);
      // The guard page has no page behind it.
      expect(vmallocToPage(a + 5 * PAGE)).toBeNull();
      expect(vmallocToPfn(a + 5 * PAGE)).toBe(-1);
    });
    m.checkInvariants();
    m.withKernel(() => vfree(a));
    expect(m.mem.nrFreePages).toBe(free);
    expect(used()).toBe(0);
    expect(m.procText("/proc/vmallocinfo")).toBe("");
    expect(m.dmesg().filter((l) => l.includes("WARNING"))).toEqual([]);
    m.checkInvariants();
  });

  it("hands out the lowest address that fits, each area followed by its guard page", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    m.withKernel(() => {
      const a = vmalloc(3 * PAGE);
      const b = vmalloc(PAGE);
      const c = vmalloc(2 * PAGE);
      expect([a, b - a, c - b]).toEqual([VMALLOC_START, 4 * PAGE, 2 * PAGE]);
      vfree(a);
      // The 4-page hole takes a 2-page area (3 with its guard); the page left cannot take a 1-page one.
      const d = vmalloc(2 * PAGE);
      expect(d).toBe(VMALLOC_START);
      const e = vmalloc(PAGE);
      expect(e).toBe(c + 3 * PAGE);
      vfree(b);
      const f = vmalloc(PAGE);
      expect(f).toBe(d + 3 * PAGE);
    });
    m.checkInvariants();
  });

  it("vmalloc(0) and sizes that are no size or exceed RAM return NULL and take nothing", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const free = m.mem.nrFreePages;
    m.withKernel(() => {
      expect(vmalloc(0)).toBe(0);
      expect(vmalloc(0)).toBe(0);
      expect(vmalloc(-1)).toBe(0);
      expect(vzalloc(2 ** 60)).toBe(0);
      expect(vmallocUser(RAM + PAGE)).toBe(0);
      expect(vmalloc(1.5)).toBe(0);
      expect(vmalloc(Number.NaN)).toBe(0);
    });
    expect(m.mem.nrFreePages).toBe(free);
    const log = m.dmesg();
    // WARN_ON_ONCE(!size): one report for two calls.
    expect(log.filter((l) => l === "vmalloc: WARN_ON_ONCE(!size)")).toHaveLength(1);
    expect(log).toContain(
      "insmod: vmalloc error: size 18446744073709551615, exceeds total pages, mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0",
    );
    expect(
      log.some((l) =>
        l.startsWith(`insmod: vmalloc error: size ${2 ** 60}, exceeds total pages, mode:0xdc0(`),
      ),
    ).toBe(true);
    expect(
      log.some((l) => l.startsWith(`insmod: vmalloc error: size ${RAM + PAGE}, exceeds total pages`)),
    ).toBe(true);
    expect(log).toContain("vmalloc: size 1.5 is not a size");
    expect(log).toContain("vmalloc: size NaN is not a size");
    // One byte is one page.
    const a = m.withKernel(() => vmalloc(1));
    expect(m.mem.nrFreePages).toBe(free - 1);
    m.withKernel(() => vfree(a));
    m.checkInvariants();
  });

  it("out of memory: the pages already taken go back, the report says how far it got", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const held: Page[] = [];
    m.withKernel(() => {
      for (let p = allocPages(0); p; p = allocPages(0)) held.push(p);
      for (const p of held.splice(0, 3)) freePages(p, 0);
    });
    const free = m.mem.nrFreePages;
    const a = m.withKernel(() => vmalloc(64 * PAGE));
    expect(a).toBe(0);
    expect(m.mem.nrFreePages).toBe(free);
    expect(m.procText("/proc/vmallocinfo")).toBe("");
    expect(m.procText("/proc/meminfo")).toMatch(/^VmallocUsed: +0 kB$/m);
    const report = m.dmesg().find((l) => l.includes("failed to allocate pages"))!;
    expect(report).toMatch(
      /^insmod: vmalloc error: size \d+, failed to allocate pages, mode:0xcc0\(GFP_KERNEL\), nodemask=\(null\)/,
    );
    // The size Linux reports is what was obtained (area->nr_pages * PAGE_SIZE), less than asked.
    expect(Number(/size (\d+)/.exec(report)![1])).toBeLessThan(64 * PAGE);
    m.checkInvariants();
    m.withKernel(() => {
      for (const p of held) freePages(p, 0);
    });
    m.checkInvariants();
  });

  it("vfree: NULL does nothing; an unaligned address or one in no area WARNs and changes nothing", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const a = m.withKernel(() => vmalloc(2 * PAGE));
    const free = m.mem.nrFreePages;
    const before = m.dmesg().length;
    m.withKernel(() => vfree(0));
    expect(m.dmesg().length).toBe(before);
    m.withKernel(() => vfree(a + 8));
    m.withKernel(() => vfree(a + 16 * PAGE));
    m.withKernel(() => vfree(PAGE_OFFSET));
    expect(m.mem.nrFreePages).toBe(free);
    expect(m.withKernel(() => vmallocToPfn(a + PAGE))).toBeGreaterThanOrEqual(0);
    const warns = m.dmesg().slice(before);
    const msgs = warns.filter((l) => l.startsWith("Trying to vfree()"));
    const p = (n: number) => n.toString(16).padStart(16, "0");
    expect(msgs).toEqual([
      `Trying to vfree() bad address (${p(a + 8)})`,
      `Trying to vfree() nonexistent vm area (${p(a + 8)})`,
      `Trying to vfree() nonexistent vm area (${p(a + 16 * PAGE)})`,
      `Trying to vfree() nonexistent vm area (${p(PAGE_OFFSET)})`,
    ]);
    expect(warns.filter((l) => l.startsWith("WARNING: CPU: 0 PID: 0 at "))).toEqual([
      "WARNING: CPU: 0 PID: 0 at remove_vm_area (mm/vmalloc.c)",
      "WARNING: CPU: 0 PID: 0 at vfree (mm/vmalloc.c)",
      "WARNING: CPU: 0 PID: 0 at vfree (mm/vmalloc.c)",
      "WARNING: CPU: 0 PID: 0 at vfree (mm/vmalloc.c)",
    ]);
    m.checkInvariants();
    // As in Linux (remove_vm_area finds the area by containment), a page-aligned address inside the
    // area frees all of it.
    m.withKernel(() => vfree(a + PAGE));
    expect(m.mem.nrFreePages).toBe(free + 2);
    expect(m.procText("/proc/vmallocinfo")).toBe("");
    m.checkInvariants();
  });

  it("driver code writes and reads the memory through vmallocToPage and kmapPage; vzalloc zeroes", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    m.withKernel(() => {
      // Dirty some pages, free them, so a fresh allocation may get them back.
      const dirty = vmalloc(4 * PAGE);
      for (let i = 0; i < 4; i++) kmapPage(vmallocToPage(dirty + i * PAGE)!).fill(0xee);
      vfree(dirty);
      const z = vzalloc(4 * PAGE);
      for (let i = 0; i < 4; i++)
        expect(kmapPage(vmallocToPage(z + i * PAGE)!).every((b) => b === 0)).toBe(true);
      for (let off = 0; off < 4 * PAGE; off += 1000)
        kmapPage(vmallocToPage(z + off)!)[off % PAGE] = off & 0xff;
      for (let off = 0; off < 4 * PAGE; off += 1000) expect(kbyte(z, off)).toBe(off & 0xff);
      // Same page for every byte of it; another page for the next.
      expect(vmallocToPage(z + PAGE + 4095)).toBe(vmallocToPage(z + PAGE));
      expect(vmallocToPage(z + 2 * PAGE)).not.toBe(vmallocToPage(z + PAGE));
      // A direct-map address is not a vmalloc address.
      expect(vmallocToPage(PAGE_OFFSET + 0x100000)).toBeNull();
      expect(vmallocToPage(VMALLOC_END + 1)).toBeNull();
    });
    expect(m.dmesg().some((l) => l.includes("is not a vmalloc address"))).toBe(true);
    m.checkInvariants();
  });
});

describe("remap_vmalloc_range", () => {
  async function setup(ctl: VbufCtl) {
    const m = await Machine.create({ ramBytes: RAM, drivers: [vbuf(ctl)] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/vbuf", O_RDWR);
    return { m, p, fd };
  }

  it("a process maps the driver's buffer: it reads what the driver wrote, the driver sees what it writes", async () => {
    const ctl: VbufCtl = { pages: 3, user: true, addr: 0 };
    const { m, p, fd } = await setup(ctl);
    m.withKernel(() => {
      for (let i = 0; i < 3; i++) kmapPage(vmallocToPage(ctl.addr + i * PAGE)!)[10] = 0xa0 + i;
    });
    const u = p.libc.mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect([0, 1, 2].map((i) => p.mmu.load8(u + i * PAGE + 10))).toEqual([0xa0, 0xa1, 0xa2]);
    p.mmu.store32(u + 2 * PAGE + 100, 0xdeadbeef);
    expect(m.withKernel(() => [100, 101, 102, 103].map((o) => kbyte(ctl.addr, 2 * PAGE + o)))).toEqual([
      0xef, 0xbe, 0xad, 0xde,
    ]);
    // vm_insert_page: VM_MIXEDMAP; then VM_DONTEXPAND | VM_DONTDUMP.
    const flags = /^VmFlags: (.*)$/m.exec(p.procSmaps())![1]!.trim().split(" ");
    expect(flags).toEqual(expect.arrayContaining(["sh", "de", "dd", "mm"]));
    // Each page: the area's reference and the PTE's.
    const pfns = m.withKernel(() => [0, 1, 2].map((i) => vmallocToPfn(ctl.addr + i * PAGE)));
    for (const pfn of pfns) expect(Atomics.load(m.mem.refcount, pfn)).toBe(2);
    // A mapping from page 1 of the buffer (vm_pgoff 1).
    const u1 = p.libc.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
    expect(p.mmu.load8(u1 + 10)).toBe(0xa1);
    m.checkInvariants();
    // munmap drops the PTEs' references; vfree then gives every page back.
    p.libc.munmap(u, 3 * PAGE);
    p.libc.munmap(u1, 2 * PAGE);
    for (const pfn of pfns) expect(Atomics.load(m.mem.refcount, pfn)).toBe(1);
    const free = m.mem.nrFreePages;
    m.withKernel(() => vfree(ctl.addr));
    expect(m.mem.nrFreePages).toBe(free + 3);
    m.checkInvariants();
  });

  it("vfree while a process maps the pages: they live until its exit frees them", async () => {
    const ctl: VbufCtl = { pages: 2, user: true, addr: 0 };
    const { m, p, fd } = await setup(ctl);
    const u = p.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store8(u + PAGE, 0x42);
    const free = m.mem.nrFreePages;
    m.withKernel(() => vfree(ctl.addr));
    expect(m.mem.nrFreePages).toBe(free);
    expect(p.mmu.load8(u + PAGE)).toBe(0x42);
    m.checkInvariants();
    p.libc.exit(0);
    expect(m.mem.nrFreePages).toBeGreaterThanOrEqual(free + 2);
    m.checkInvariants();
  });

  it("-EINVAL in Linux's order: pgoff overflow, alignment, no area, not VM_USERMAP, too large; then vm_insert_page's -EFAULT", async () => {
    const ctl: VbufCtl = { pages: 2, user: true, addr: 0 };
    const { m, p, fd } = await setup(ctl);
    const plain = m.withKernel(() => vzalloc(2 * PAGE));
    const cases: Array<[string, (vma: Vma, addr: number) => number, number]> = [
      ["pgoff << PAGE_SHIFT overflows", (v, a) => remapVmallocRange(v, a, 2 ** 52), -EINVAL],
      ["pgoff negative (a huge unsigned long)", (v, a) => remapVmallocRange(v, a, -1), -EINVAL],
      ["uaddr not page aligned", (v, a) => remapVmallocRangePartial(v, v.vmStart + 1, a, 0, PAGE), -EINVAL],
      ["kaddr not page aligned", (v, a) => remapVmallocRangePartial(v, v.vmStart, a + 8, 0, PAGE), -EINVAL],
      [
        "kaddr in no area",
        (v) => remapVmallocRangePartial(v, v.vmStart, VMALLOC_START + 2 ** 40, 0, PAGE),
        -EINVAL,
      ],
      [
        "kaddr in the direct map",
        (v) => remapVmallocRangePartial(v, v.vmStart, PAGE_OFFSET, 0, PAGE),
        -EINVAL,
      ],
      ["area not VM_USERMAP (vzalloc)", (v) => remapVmallocRange(v, plain, 0), -EINVAL],
      [
        "size beyond the area (the guard page is not part of it)",
        (v, a) => remapVmallocRangePartial(v, v.vmStart, a, 0, 3 * PAGE),
        -EINVAL,
      ],
      [
        "size + pgoff beyond the area",
        (v, a) => remapVmallocRangePartial(v, v.vmStart, a, 1, 2 * PAGE),
        -EINVAL,
      ],
      [
        "uaddr past the VMA: vm_insert_page's -EFAULT",
        (v, a) => remapVmallocRangePartial(v, v.vmEnd, a, 0, PAGE),
        -EFAULT,
      ],
      ["fits", (v, a) => remapVmallocRangePartial(v, v.vmStart, a, 1, PAGE), 0],
    ];
    for (const [what, fn, want] of cases) {
      let got: number | null = null;
      ctl.onMmap = (vma, addr) => {
        got = fn(vma, addr);
        return got;
      };
      const r = p.sys.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
      expect([what, got]).toEqual([what, want]);
      if (want) expect([what, r]).toEqual([what, want]);
      else p.libc.munmap(r, 2 * PAGE);
      m.checkInvariants();
    }
    // An -EINVAL inserted nothing: only the "fits" mapping ever took a page reference, and it is gone.
    for (let i = 0; i < 2; i++)
      expect(
        Atomics.load(
          m.mem.refcount,
          m.withKernel(() => vmallocToPfn(ctl.addr + i * PAGE)),
        ),
      ).toBe(1);
  });

  it("kaddr inside an area counts only pgoff against its size, as Linux's containment lookup does", async () => {
    const ctl: VbufCtl = { pages: 3, user: true, addr: 0 };
    const { m, p, fd } = await setup(ctl);
    m.withKernel(() => {
      kmapPage(vmallocToPage(ctl.addr + PAGE)!)[0] = 0x11;
      kmapPage(vmallocToPage(ctl.addr + 2 * PAGE)!)[0] = 0x22;
    });
    ctl.onMmap = (vma, addr) => remapVmallocRangePartial(vma, vma.vmStart, addr + PAGE, 0, 2 * PAGE);
    const u = p.libc.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    expect([p.mmu.load8(u), p.mmu.load8(u + PAGE)]).toEqual([0x11, 0x22]);
    // Three pages from page 1 pass the size check but reach the guard page: Linux's vm_insert_page
    // dereferences NULL there, an oops of the driver here.
    ctl.onMmap = (vma, addr) => remapVmallocRangePartial(vma, vma.vmStart, addr + PAGE, 0, 3 * PAGE);
    expect(() => p.sys.mmap(0, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 0)).toThrow(/SIGKILL/);
    expect(m.oopses().at(-1)?.driver).toBe("vbuf");
    expect(String(m.oopses().at(-1)?.error)).toMatch(/no page behind vmalloc address .* NULL pointer/);
    m.checkInvariants();
  });
});

describe("vmalloc areas in a machine snapshot", () => {
  it("a driver finds its buffer at the same address, with its bytes; a process's mapping of it still shares them", async () => {
    const ctl: VbufCtl = { pages: 3, user: true, addr: 0 };
    const a = await Machine.create({ ramBytes: RAM, drivers: [vbuf(ctl)] });
    // Another area, and the buffer made again larger, so it is not where a fresh init would put it.
    const other = a.withKernel(() => {
      const x = vmalloc(PAGE);
      vfree(ctl.addr);
      ctl.addr = vmallocUser(4 * PAGE);
      for (let i = 0; i < 3 * PAGE; i += 512) kmapPage(vmallocToPage(ctl.addr + i)!)[i % PAGE] = (i >> 9) + 1;
      return x;
    });
    expect(ctl.addr).not.toBe(VMALLOC_START);
    const p = a.spawn();
    const fd = p.libc.open("/dev/vbuf", O_RDWR);
    const u = p.libc.mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store8(u + 5, 0x99);
    const info = a.procText("/proc/vmallocinfo");
    const meminfo = /^VmallocUsed:.*$/m.exec(a.procText("/proc/meminfo"))![0];
    const bytes = a.snapshot();

    const ctl2: VbufCtl = { pages: 3, user: true, addr: 0 };
    const b = await Machine.restore(bytes, { drivers: [vbuf(ctl2)] });
    expect(ctl2.addr).toBe(ctl.addr);
    expect(b.procText("/proc/vmallocinfo")).toBe(info);
    expect(/^VmallocUsed:.*$/m.exec(b.procText("/proc/meminfo"))![0]).toBe(meminfo);
    b.withKernel(() => {
      expect(kbyte(ctl2.addr, 5)).toBe(0x99);
      for (let i = 512; i < 3 * PAGE; i += 512) expect(kbyte(ctl2.addr, i)).toBe((i >> 9) + 1);
      expect(vmallocToPfn(other)).toBe(a.withKernel(() => vmallocToPfn(other)));
    });
    const q = b.processes().find((x) => x.pid === p.pid)!;
    q.mmu.store8(u + 2 * PAGE + 1, 0x77);
    expect(b.withKernel(() => kbyte(ctl2.addr, 2 * PAGE + 1))).toBe(0x77);
    b.checkInvariants();
    // vfree on the restored machine gives back what the saved one held.
    q.libc.munmap(u, 3 * PAGE);
    const free = b.mem.nrFreePages;
    b.withKernel(() => {
      vfree(ctl2.addr);
      vfree(other);
    });
    expect(b.mem.nrFreePages).toBe(free + 5);
    b.checkInvariants();
  });
});

describe("a machine snapshot's vmalloc areas are checked", () => {
  type Area = { addr: number; size: number; flags: number; pages: number[] };
  async function sample() {
    const ctl: VbufCtl = { pages: 2, user: true, addr: 0 };
    const m = await Machine.create({ ramBytes: RAM, drivers: [vbuf(ctl)] });
    m.withKernel(() => vmalloc(PAGE));
    return stateOf(m.snapshot());
  }
  async function restore(tamper: (areas: Area[]) => void): Promise<string> {
    const s = await sample();
    const k = s.kernel as unknown as { vmalloc: Area[] };
    tamper(k.vmalloc);
    try {
      const m = await Machine.restore(bytesOf(s), { drivers: [vbuf({ pages: 2, user: true, addr: 0 })] });
      m.checkInvariants();
      return "ok";
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      return e.message;
    }
  }

  it("a malformed area is refused with a message saying what is wrong", async () => {
    expect(await restore(() => {})).toBe("ok");
    const cases: Array<[(a: Area[]) => void, RegExp]> = [
      [(a) => (a[1]!.addr = a[0]!.addr + PAGE), /vmalloc area 1 at 0x[0-9a-f]+: overlaps the area before it/],
      [(a) => a.reverse(), /overlaps the area before it \(or the areas are not sorted/],
      [(a) => (a[1]!.addr = a[0]!.addr + 2 * PAGE), /vmalloc area 1 .*: overlaps/],
      [
        (a) => (a[1]!.pages[0] = a[0]!.pages[1]!),
        /pfn 0x[0-9a-f]+ \(page 0\) is also page of vmalloc area 0/,
      ],
      [(a) => (a[0]!.flags = 0), /vmalloc area 0 .*: flags 0 are not VM_ALLOC/],
      [(a) => (a[0]!.flags = 0x2 | 0x1), /flags 3 are not VM_ALLOC/],
      [(a) => (a[0]!.size = 2 * PAGE), /size 8192 but 2 page\(s\) and a guard page take 12288/],
      [(a) => (a[0]!.pages = []), /vmalloc area 0 .*: holds no page/],
      [(a) => (a[0]!.addr = PAGE_OFFSET), /vmalloc area 0 addr: expected an integer from \d+ to \d+/],
      [(a) => (a[0]!.addr += 8), /not a page-aligned address in the vmalloc range/],
      [(a) => (a[0]!.pages[0] = -1), /vmalloc area 0 page 0: expected an integer/],
      [(a) => ((a as unknown[])[0] = 7), /vmalloc area 0: not a map/],
      // A page that is not the area's to hold (the reserved first page): the invariants name the area.
      [
        (a) => (a[0]!.pages[0] = 0),
        /pfn 0x0: refcount 1 but 2 references exist \(reserved, vmalloc area 0x[0-9a-f]+\)$/,
      ],
      // An area dropped: its pages are held by nothing.
      [(a) => a.pop(), /refcount 1 but 0 references exist/],
    ];
    for (const [tamper, want] of cases) expect(await restore(tamper)).toMatch(want);
  });
});

describe("vmalloc against a reference model", () => {
  type Op =
    | { k: "alloc"; pages: number; user: boolean }
    | { k: "free"; i: number; page: number }
    | { k: "bad"; i: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant("alloc" as const),
        pages: fc.integer({ min: 1, max: 12 }),
        user: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("free" as const), i: fc.nat(20), page: fc.nat(12) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("bad" as const), i: fc.nat(20) }) },
  );

  it("addresses are the lowest fit, areas and guard pages never overlap, every page is accounted for", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), async (ops) => {
        const m = await Machine.create({ ramBytes: RAM });
        const free0 = m.mem.nrFreePages;
        // The model: areas by address, each n pages plus a guard page.
        const model: { addr: number; n: number }[] = [];
        for (const op of ops) {
          if (op.k === "alloc") {
            let want = VMALLOC_START;
            for (const a of model) {
              if (want + (op.pages + 1) * PAGE <= a.addr) break;
              want = a.addr + (a.n + 1) * PAGE;
            }
            const got = m.withKernel(() =>
              op.user ? vmallocUser(op.pages * PAGE) : vmalloc(op.pages * PAGE - 1),
            );
            expect(got).toBe(want);
            model.push({ addr: got, n: op.pages });
            model.sort((x, y) => x.addr - y.addr);
          } else if (model.length) {
            const i = op.i % model.length;
            const a = model[i]!;
            if (op.k === "free") {
              m.withKernel(() => vfree(a.addr + (op.page % a.n) * PAGE));
              model.splice(i, 1);
            } else {
              m.withKernel(() => vfree(a.addr + 1));
            }
          }
          const held = model.reduce((n, a) => n + a.n, 0);
          expect(m.mem.nrFreePages).toBe(free0 - held);
          const info = m
            .procText("/proc/vmallocinfo")
            .split("\n")
            .filter(Boolean)
            .map((l) =>
              l
                .split(" ")[0]!
                .split("-")
                .map((x) => Number.parseInt(x, 16)),
            );
          expect(info).toEqual(model.map((a) => [a.addr, a.addr + (a.n + 1) * PAGE]));
          for (let j = 1; j < info.length; j++) expect(info[j]![0]).toBeGreaterThanOrEqual(info[j - 1]![1]!);
          expect(m.procText("/proc/meminfo")).toContain(`VmallocUsed:    ${String(held * 4).padStart(8)} kB`);
          m.checkInvariants();
        }
      }),
      { numRuns: 25 },
    );
  });
});
