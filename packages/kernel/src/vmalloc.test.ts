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
import { currentKernel } from "./internal/current";
import { vmallocOf } from "./internal/vmalloc";
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
    // The address range (guard page included) waits on the lazy list for a purge.
    expect(m.procText("/proc/vmallocinfo")).toBe(
      `0x${a.toString(16).padStart(16, "0")}-0x${(a + 6 * PAGE).toString(16).padStart(16, "0")}   24576 unpurged vm_area\n`,
    );
    expect(m.dmesg().filter((l) => l.includes("WARNING"))).toEqual([]);
    m.checkInvariants();
  });

  it("hands out the lowest free address that fits, each area followed by its guard page; a freed range waits for a purge", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
    m.withKernel(() => {
      const a = vmalloc(3 * PAGE);
      const b = vmalloc(PAGE);
      const c = vmalloc(2 * PAGE);
      expect([a, b - a, c - b]).toEqual([VMALLOC_START, 4 * PAGE, 2 * PAGE]);
      vfree(a);
      // a's 4 pages are on the lazy list, not free: the next area goes after c.
      const d = vmalloc(2 * PAGE);
      expect(d).toBe(c + 3 * PAGE);
      vfree(b);
      const e = vmalloc(PAGE);
      expect(e).toBe(d + 3 * PAGE);
      // The busy areas by address, then the unpurged ones (show_purge_info runs last), by address.
      expect(m.procText("/proc/vmallocinfo")).toBe(
        [
          `${p(c)}-${p(c + 3 * PAGE)}   12288 pages=2 vmalloc N0=2`,
          `${p(d)}-${p(d + 3 * PAGE)}   12288 pages=2 vmalloc N0=2`,
          `${p(e)}-${p(e + 2 * PAGE)}    8192 pages=1 vmalloc N0=1`,
          `${p(a)}-${p(a + 4 * PAGE)}   16384 unpurged vm_area`,
          `${p(b)}-${p(b + 2 * PAGE)}    8192 unpurged vm_area`,
          "",
        ].join("\n"),
      );
      // A freed address is no area: vfree of it again WARNs, vmallocToPage finds no page.
      expect(vmallocToPage(a)).toBeNull();
    });
    m.checkInvariants();
  });

  it("purges the lazy list once it holds more than lazy_max_pages (8192 on one CPU); then the ranges are reused", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const free = m.mem.nrFreePages;
    // 255 pages + the guard page: 256 pages of address space each, so 32 frees make exactly 8192.
    const got: number[] = [];
    m.withKernel(() => {
      for (let i = 0; i < 33; i++) {
        const a = vmalloc(255 * PAGE);
        got.push(a);
        vfree(a);
        if (i === 31) {
          // 8192 lazy pages is not more than lazy_max_pages: nothing purged yet.
          expect(m.procText("/proc/vmallocinfo").split("\n").filter(Boolean)).toHaveLength(32);
          m.checkInvariants();
        }
      }
    });
    expect(got).toEqual(got.map((_, i) => VMALLOC_START + i * 256 * PAGE));
    // The 33rd free took it to 8448 > 8192: all purged, the lowest address is free again.
    expect(m.procText("/proc/vmallocinfo")).toBe("");
    expect(m.withKernel(() => vmalloc(PAGE))).toBe(VMALLOC_START);
    expect(m.mem.nrFreePages).toBe(free - 1);
    m.checkInvariants();
  });

  it("an allocation that finds no room purges the lazy list and tries once more", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    m.withKernel(() => {
      const a = vmalloc(PAGE);
      // Unreachable through vfree alone (lazy_max_pages purges far earlier): the rest of the vmalloc
      // range lazily freed, bar one page.
      const k = currentKernel("test");
      vmallocOf(k).lazy.push({ addr: a + 2 * PAGE, size: VMALLOC_END + 1 - PAGE - (a + 2 * PAGE) });
      expect(vmalloc(2 * PAGE)).toBe(a + 2 * PAGE);
      expect(m.procText("/proc/vmallocinfo")).not.toContain("unpurged");
    });
    expect(m.dmesg().some((l) => l.includes("vmalloc error"))).toBe(false);
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
    // The failure path is vfree(): the area's range (65 pages with its guard) is lazily freed.
    expect(m.procText("/proc/vmallocinfo")).toBe(
      `0x${VMALLOC_START.toString(16).padStart(16, "0")}-0x${(VMALLOC_START + 65 * PAGE).toString(16).padStart(16, "0")}  266240 unpurged vm_area\n`,
    );
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

  it("more than 512 pages: the pages[] array is a vmalloc area of its own, after the data area, shown as vpages", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
    const used = () => Number(/^VmallocUsed: +(\d+) kB$/m.exec(m.procText("/proc/meminfo"))![1]);
    const free = m.mem.nrFreePages;
    // 512 pages: 4096 bytes of struct page pointers, not more than PAGE_SIZE: kmalloc'd, no area.
    const small = m.withKernel(() => vmalloc(512 * PAGE));
    expect(m.procText("/proc/vmallocinfo")).toBe(
      `${p(small)}-${p(small + 513 * PAGE)} ${513 * PAGE} pages=512 vmalloc N0=512\n`,
    );
    m.withKernel(() => vfree(small));
    // 513 pages: a 4104-byte array, vmalloc'd (2 pages) at the next free address after the data area.
    const a = m.withKernel(() => vmalloc(513 * PAGE));
    const arr = a + 514 * PAGE;
    expect(a).toBe(small + 513 * PAGE);
    expect(m.procText("/proc/vmallocinfo")).toBe(
      [
        `${p(a)}-${p(arr)} ${514 * PAGE} pages=513 vmalloc vpages N0=513`,
        `${p(arr)}-${p(arr + 3 * PAGE)}   12288 pages=2 vmalloc N0=2`,
        `${p(small)}-${p(small + 513 * PAGE)} ${513 * PAGE} unpurged vm_area`,
        "",
      ].join("\n"),
    );
    expect(m.mem.nrFreePages).toBe(free - 515);
    expect(used()).toBe(515 * 4);
    m.checkInvariants();
    // The array is a driver's to leave alone: vfree of it is a use after free in Linux.
    expect(() => m.withKernel(() => vfree(arr))).toThrow(
      /0x[0-9a-f]+ is the pages\[\] array of the vmalloc area at/,
    );
    // vfree of the data area frees the array area with it, both lazily.
    m.withKernel(() => vfree(a));
    expect(m.mem.nrFreePages).toBe(free);
    expect(used()).toBe(0);
    expect(m.procText("/proc/vmallocinfo")).toBe(
      [
        `${p(small)}-${p(small + 513 * PAGE)} ${513 * PAGE} unpurged vm_area`,
        `${p(a)}-${p(arr)} ${514 * PAGE} unpurged vm_area`,
        `${p(arr)}-${p(arr + 3 * PAGE)}   12288 unpurged vm_area`,
        "",
      ].join("\n"),
    );
    m.checkInvariants();
  });

  it("a large area out of memory: the page array's area and the data area are both freed lazily", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
    const held: Page[] = [];
    m.withKernel(() => {
      for (let q = allocPages(0); q; q = allocPages(0)) held.push(q);
      for (const q of held.splice(0, 10)) freePages(q, 0);
    });
    const free = m.mem.nrFreePages;
    // The array (600 * 8 bytes: 2 pages) fits; the data pages do not.
    expect(m.withKernel(() => vmalloc(600 * PAGE))).toBe(0);
    expect(m.mem.nrFreePages).toBe(free);
    const a = VMALLOC_START;
    expect(m.procText("/proc/vmallocinfo")).toBe(
      `${p(a)}-${p(a + 601 * PAGE)} ${601 * PAGE} unpurged vm_area\n${p(a + 601 * PAGE)}-${p(a + 604 * PAGE)}   12288 unpurged vm_area\n`,
    );
    m.checkInvariants();
    // The array itself does not fit: the nested vmalloc's report, then the page array's.
    m.withKernel(() => {
      for (const q of held.splice(0, 1)) freePages(q, 0);
      for (let q = allocPages(0); q; q = allocPages(0)) held.push(q);
      freePages(held.pop()!, 0);
    });
    const free2 = m.mem.nrFreePages;
    expect(m.withKernel(() => vmalloc(600 * PAGE))).toBe(0);
    const log = m.dmesg();
    expect(
      log.some((l) =>
        l.startsWith("insmod: vmalloc error: size 4096, failed to allocate pages, mode:0xdc0("),
      ),
    ).toBe(true);
    expect(log).toContain(
      `insmod: vmalloc error: size ${600 * PAGE}, failed to allocated page array size 4800, mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0`,
    );
    expect(m.mem.nrFreePages).toBe(free2);
    expect(m.procText("/proc/vmallocinfo").match(/unpurged/g)).toHaveLength(4);
    m.checkInvariants();
    m.withKernel(() => {
      for (const q of held) freePages(q, 0);
    });
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
    expect(m.procText("/proc/vmallocinfo")).toMatch(/^0x\S+ +12288 unpurged vm_area\n$/);
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

describe("a machine snapshot keeps the lazy list and the page arrays", () => {
  it("the unpurged ranges stay unusable after a restore; a large area's array area is freed with it", async () => {
    const a = await Machine.create({ ramBytes: RAM });
    const big = a.withKernel(() => {
      const x = vmalloc(PAGE);
      const b = vmalloc(600 * PAGE);
      vfree(x);
      return b;
    });
    const info = a.procText("/proc/vmallocinfo");
    expect(info).toMatch(/vpages N0=600\n.* pages=2 vmalloc N0=2\n.* 8192 unpurged vm_area\n$/);
    const b = await Machine.restore(a.snapshot());
    expect(b.procText("/proc/vmallocinfo")).toBe(info);
    b.checkInvariants();
    // Both machines hand out the same next address: not the unpurged one.
    const next = a.withKernel(() => vmalloc(PAGE));
    expect(b.withKernel(() => vmalloc(PAGE))).toBe(next);
    expect(next).not.toBe(VMALLOC_START);
    const free = b.mem.nrFreePages;
    b.withKernel(() => vfree(big));
    expect(b.mem.nrFreePages).toBe(free + 602);
    expect(b.procText("/proc/vmallocinfo").match(/unpurged/g)).toHaveLength(3);
    b.checkInvariants();
  });
});

describe("a machine snapshot's vmalloc areas are checked", () => {
  type Area = { addr: number; size: number; flags: number; pages: number[]; pagesArea?: number };
  type Range = { addr: number; size: number };
  /** vbuf's 2 pages, one page, a lazily freed page, and (big) a 513-page area and its array's area. */
  async function sample(big: boolean) {
    const ctl: VbufCtl = { pages: 2, user: true, addr: 0 };
    const m = await Machine.create({ ramBytes: RAM, drivers: [vbuf(ctl)] });
    m.withKernel(() => {
      vmalloc(PAGE);
      vfree(vmalloc(PAGE));
      if (big) vmalloc(513 * PAGE);
    });
    return stateOf(m.snapshot());
  }
  async function restore(tamper: (areas: Area[], lazy: Range[]) => void, big = false): Promise<string> {
    const s = await sample(big);
    const k = s.kernel as unknown as { vmalloc: Area[]; vmallocLazy?: Range[] };
    tamper(k.vmalloc, k.vmallocLazy!);
    if (k.vmallocLazy === undefined) delete k.vmallocLazy;
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

  it("a malformed lazy list or page array area is refused with a message saying what is wrong", async () => {
    expect(await restore(() => {}, true)).toBe("ok");
    const lazy: Array<[(a: Area[], l: Range[]) => void, RegExp]> = [
      [
        (a, l) => (l[0]!.addr = a[1]!.addr),
        /lazily freed vmalloc range 0 at 0x[0-9a-f]+: overlaps the vmalloc area at/,
      ],
      [(_, l) => (l[0]!.addr += 8), /lazily freed vmalloc range 0 .*: not a page-aligned address/],
      [(_, l) => (l[0]!.size = 100), /size 100 is not a whole number of pages/],
      [(_, l) => l.push({ ...l[0]! }), /range 1 .*: overlaps the range before it/],
      [(_, l) => (l[0]!.size = 9000 * PAGE), /hold 9000 pages, more than lazy_max_pages \(8192\)/],
      [(_, l) => ((l as unknown[])[0] = 7), /lazily freed vmalloc range 0: not a map/],
      [(_, l) => (l[0]!.addr = PAGE_OFFSET), /lazily freed vmalloc range 0 addr: expected an integer/],
    ];
    for (const [tamper, want] of lazy) expect(await restore(tamper)).toMatch(want);
    // A snapshot from before the lazy list: none.
    expect(
      await restore((_, l) => {
        l.length = 0;
      }),
    ).toBe("ok");
    const arrays: Array<[(a: Area[]) => void, RegExp]> = [
      [
        (a) => delete a[2]!.pagesArea,
        /vmalloc area 2 .*: 513 pages but no vmalloc area holds its pages\[\] array/,
      ],
      [
        (a) => (a[2]!.pagesArea = a[2]!.addr),
        /vmalloc area 2 .*: its pages\[\] array area 0x[0-9a-f]+ is no other/,
      ],
      [(a) => (a[2]!.pagesArea = a[1]!.addr), /is not a plain vmalloc area of 2 page\(s\)/],
      [(a) => (a[3]!.flags = 0x2 | 0x8), /is not a plain vmalloc area of 2 page\(s\)/],
      [
        (a) => (a[1]!.pagesArea = a[3]!.addr),
        /vmalloc area 1 .*: 1 page\(s\) keep their pages\[\] array in kmalloc/,
      ],
      [(a) => a.pop(), /vmalloc area 2 .*: its pages\[\] array area 0x[0-9a-f]+ is no other vmalloc area/],
      [(a) => (a[2]!.pagesArea = 1.5), /vmalloc area 2 pagesArea: expected an integer/],
    ];
    for (const [tamper, want] of arrays) expect(await restore(tamper, true)).toMatch(want);
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

  it("addresses are the lowest fit outside live and unpurged ranges, which no live area ever overlaps; every page is accounted for", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), async (ops) => {
        const m = await Machine.create({ ramBytes: RAM });
        const free0 = m.mem.nrFreePages;
        // The model: live areas by address, each n pages plus a guard page; the freed ranges not yet
        // purged (lazy_max_pages is 8192 pages, far more than these ops free, so they all stay).
        const model: { addr: number; n: number }[] = [];
        const lazy: { addr: number; n: number }[] = [];
        const byAddr = (x: { addr: number }, y: { addr: number }) => x.addr - y.addr;
        const end = (a: { addr: number; n: number }) => a.addr + (a.n + 1) * PAGE;
        for (const op of ops) {
          if (op.k === "alloc") {
            const got = m.withKernel(() =>
              op.user ? vmallocUser(op.pages * PAGE) : vmalloc(op.pages * PAGE - 1),
            );
            const mine = { addr: got, n: op.pages };
            // Independent of how the address is found: page aligned, in range, clear of every live
            // and every unpurged range...
            expect(got % PAGE).toBe(0);
            expect(got).toBeGreaterThanOrEqual(VMALLOC_START);
            for (const r of [...model, ...lazy])
              expect(
                got >= end(r) || end(mine) <= r.addr,
                `0x${got.toString(16)} overlaps 0x${r.addr.toString(16)}`,
              ).toBe(true);
            // ...and no lower address would do.
            for (const cand of [VMALLOC_START, ...model.map(end), ...lazy.map(end)])
              if (cand < got)
                expect(
                  [...model, ...lazy].some((r) => cand < end(r) && cand + (op.pages + 1) * PAGE > r.addr),
                ).toBe(true);
            model.push(mine);
            model.sort(byAddr);
          } else if (model.length) {
            const i = op.i % model.length;
            const a = model[i]!;
            if (op.k === "free") {
              m.withKernel(() => vfree(a.addr + (op.page % a.n) * PAGE));
              model.splice(i, 1);
              lazy.push(a);
              lazy.sort(byAddr);
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
          // The live areas by address, then the unpurged ranges by address.
          expect(info).toEqual([...model, ...lazy].map((a) => [a.addr, end(a)]));
          const unpurged = m.procText("/proc/vmallocinfo").match(/ unpurged vm_area\n/g) ?? [];
          expect(unpurged).toHaveLength(lazy.length);
          expect(m.procText("/proc/meminfo")).toContain(`VmallocUsed:    ${String(held * 4).padStart(8)} kB`);
          m.checkInvariants();
        }
      }),
      { numRuns: 25 },
    );
  });
});
