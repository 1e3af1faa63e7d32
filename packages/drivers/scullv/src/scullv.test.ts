/**
 * scullv from a user process: data written with write() lives in vmalloc'ed quanta and is served to
 * mappings page by page by the fault handler (vmalloc_to_page + get_page), for any order; holes and
 * offsets past the data are SIGBUS; live mappings are counted and block trim, which vfree()s.
 */
import {
  EBUSY,
  ENOTTY,
  type Era,
  isVmallocAddr,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  PAGE_SIZE,
  type Page,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEEK_SET,
  VM_RESERVED,
  vfree,
  vmalloc,
  vmallocToPage,
} from "@faultline/kernel";
import { expectSignal, mapDevice, useMachine } from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import {
  SCULLV_IOCQORDER,
  SCULLV_IOCRESET,
  SCULLV_IOCTORDER,
  SCULLV_IOCTRIM,
  SCULLV_ORDER,
  type ScullvDev,
  scullv,
} from "./index";

const kit = useMachine({ ramBytes: 32 * 2 ** 20, drivers: () => [scullv()], spawn: { name: "scullv-test" } });

/** Pages in a quantum of the default order (16). */
const QPAGES = 2 ** SCULLV_ORDER;

/** Fills scullv0 with `pages` pages; page i holds bytes (i + 1). Leaves no fd open. */
function fill(p: Process, pages: number, skip: readonly number[] = []): void {
  const fd = p.libc.open("/dev/scullv0", O_WRONLY);
  for (let i = 0; i < pages; i++) {
    if (skip.includes(i)) continue;
    p.libc.lseek(fd, i * PAGE_SIZE, SEEK_SET);
    expect(p.libc.write(fd, new Uint8Array(PAGE_SIZE).fill(i + 1))).toBe(PAGE_SIZE);
  }
  p.libc.close(fd);
}

/** The struct page behind page `n` of the device's data (qset 500: every quantum is in the first set). */
function devicePage(m: Machine, dev: ScullvDev, n: number): Page {
  const quantum = 2 ** dev.order;
  const addr = dev.list!.data![Math.floor(n / quantum)]!;
  return m.withKernel(() => vmallocToPage(addr + (n % quantum) * PAGE_SIZE)!);
}

describe.each(["modern", "2.6.10"] as const)("scullv (%s)", (era: Era) => {
  it("creates /dev/scullv0-3; write() and read() move up to a whole quantum, across its pages", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    expect(m.procText("/proc/devices")).toMatch(/^\s*\d+ scullv$/m);
    const fd = p.libc.open("/dev/scullv0", O_WRONLY);
    // One write stops at the end of the quantum (16 pages), not of a page.
    expect(p.libc.write(fd, new Uint8Array(QPAGES * PAGE_SIZE + 10).fill(7))).toBe(QPAGES * PAGE_SIZE);
    expect(p.libc.write(fd, "tail")).toBe(4);
    p.libc.close(fd);
    expect(dev.size).toBe(QPAGES * PAGE_SIZE + 4);
    const rd = p.libc.open("/dev/scullv0", O_RDONLY);
    p.libc.lseek(rd, 100, SEEK_SET);
    expect(p.libc.read(rd, 2 * QPAGES * PAGE_SIZE)).toEqual(new Uint8Array(QPAGES * PAGE_SIZE - 100).fill(7));
    expect(new TextDecoder().decode(p.libc.read(rd, 100))).toBe("tail");
    expect(p.libc.read(rd, 100)).toEqual(new Uint8Array(0));
    m.checkInvariants();
  });

  it("a quantum is one vmalloc area: separate order-0 pages, zeroed where never written", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    const free0 = m.mem.nrFreePages;
    fill(p, 1);
    const addr = dev.list!.data![0]!;
    expect(m.withKernel(() => isVmallocAddr(addr))).toBe(true);
    const pages = Array.from({ length: QPAGES }, (_, k) => devicePage(m, dev, k));
    expect(new Set(pages.map((pg) => pg.pfn)).size).toBe(QPAGES);
    for (const pg of pages) expect(pg.count).toBe(1); // vmalloc's own reference
    expect(free0 - m.mem.nrFreePages).toBeGreaterThanOrEqual(QPAGES);
    // The data ends inside the quantum: read() stops at the size; the rest of the quantum is zeros.
    const fd = p.libc.open("/dev/scullv0", O_RDWR);
    p.libc.lseek(fd, 3 * PAGE_SIZE, SEEK_SET);
    p.libc.write(fd, "x");
    p.libc.lseek(fd, PAGE_SIZE - 2, SEEK_SET);
    expect(p.libc.read(fd, 2 * PAGE_SIZE + 10)).toEqual(
      Uint8Array.from([1, 1, ...new Uint8Array(2 * PAGE_SIZE), 0x78]), // up to the size (3 pages + "x")
    );
    m.checkInvariants();
  });

  it("mmap serves the device's own pages from the fault handler, one page per fault, at any order", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    expect(dev.order).toBe(4);
    fill(p, QPAGES + 4);
    const addr = mapDevice(p, "/dev/scullv0", { length: (QPAGES + 4) * PAGE_SIZE });
    // Page 17 is page 1 of quantum 1 (the book's walk would hand out quantum 17's first page: a hole).
    expect(p.mmu.load8(addr + (QPAGES + 1) * PAGE_SIZE + 17)).toBe(QPAGES + 2);
    expect(devicePage(m, dev, QPAGES + 1).mapcount).toBe(1);
    expect(devicePage(m, dev, QPAGES).mapcount).toBe(0); // one page per fault
    expect(devicePage(m, dev, QPAGES + 2).mapcount).toBe(0);
    expect(p.mmu.load8(addr + 5 * PAGE_SIZE)).toBe(6);
    expect(p.mmu.load8(addr)).toBe(1);
    p.mmu.store8(addr + PAGE_SIZE, 0x42); // shared: the device data changes
    const fd = rd(p);
    p.libc.lseek(fd, PAGE_SIZE, SEEK_SET);
    expect(p.libc.read(fd, 1)[0]).toBe(0x42);
    // and a write() shows through the mapping
    const wr = p.libc.open("/dev/scullv0", O_RDWR);
    p.libc.lseek(wr, (QPAGES + 3) * PAGE_SIZE + 9, SEEK_SET);
    p.libc.write(wr, Uint8Array.of(0x77));
    expect(p.mmu.load8(addr + (QPAGES + 3) * PAGE_SIZE + 9)).toBe(0x77);
    m.checkInvariants();
  });

  it("get_page in the fault handler: the mapping holds a reference, unmapping drops it", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    fill(p, 3);
    const page = devicePage(m, dev, 2);
    expect(page.count).toBe(1); // vmalloc's reference
    const addr = mapDevice(p, "/dev/scullv0", { length: 3 * PAGE_SIZE });
    p.mmu.load8(addr + 2 * PAGE_SIZE);
    expect(page.count).toBe(2);
    expect(page.mapcount).toBe(1);
    m.checkInvariants();
    p.libc.munmap(addr, 3 * PAGE_SIZE);
    expect(page.count).toBe(1);
    expect(page.mapcount).toBe(0);
    m.checkInvariants();
  });

  it("an offset past the data is SIGBUS, though the quantum has the page", async () => {
    const { m, p } = await kit.boot({ era });
    const fd = p.libc.open("/dev/scullv0", O_WRONLY);
    p.libc.write(fd, new Uint8Array(100).fill(5));
    p.libc.close(fd);
    const addr = mapDevice(p, "/dev/scullv0", { length: 2 * PAGE_SIZE });
    // The fault's offset is the page's: the whole first page maps, zeros after the 100 bytes.
    expect(p.mmu.load8(addr + 99)).toBe(5);
    expect(p.mmu.load8(addr + 200)).toBe(0);
    expectSignal(() => p.mmu.load8(addr + PAGE_SIZE), {
      signal: "SIGBUS",
      code: "BUS_ADRERR",
      addr: addr + PAGE_SIZE,
    });
    m.checkInvariants();
  });

  it("a quantum never written is a hole: SIGBUS; the pages around it map", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    const fd = p.libc.open("/dev/scullv0", O_WRONLY);
    p.libc.write(fd, "a");
    p.libc.lseek(fd, 2 * QPAGES * PAGE_SIZE, SEEK_SET);
    p.libc.write(fd, "c");
    p.libc.close(fd);
    expect(dev.list!.data!.slice(0, 3).map((a) => a !== null)).toEqual([true, false, true]);
    const addr = mapDevice(p, "/dev/scullv0", { length: (2 * QPAGES + 1) * PAGE_SIZE });
    expect(p.mmu.load8(addr)).toBe(0x61);
    expect(p.mmu.load8(addr + 2 * QPAGES * PAGE_SIZE)).toBe(0x63);
    expect(p.mmu.load8(addr + (QPAGES - 1) * PAGE_SIZE)).toBe(0); // in quantum 0: zeroed
    // read() does not fill holes either: it returns 0 there.
    const r = rd(p);
    p.libc.lseek(r, QPAGES * PAGE_SIZE, SEEK_SET);
    expect(p.libc.read(r, 10)).toEqual(new Uint8Array(0));
    expectSignal(() => p.mmu.load8(addr + (2 * QPAGES - 1) * PAGE_SIZE), { signal: "SIGBUS" });
    m.checkInvariants();
  });

  it("a hole in a later quantum set is found by walking the list (order 0, qset 2)", async () => {
    const { m, p } = await kit.boot({ era, drivers: [scullv({ order: 0, qset: 2 })] });
    fill(p, 5, [3]);
    const addr = mapDevice(p, "/dev/scullv0", { length: 5 * PAGE_SIZE });
    expect(p.mmu.load8(addr + 4 * PAGE_SIZE)).toBe(5);
    expect(p.mmu.load8(addr + 2 * PAGE_SIZE)).toBe(3);
    expectSignal(() => p.mmu.load8(addr + 3 * PAGE_SIZE), { signal: "SIGBUS" });
    m.checkInvariants();
  });

  it("walks sets and quanta together (order 1, qset 2: four pages a set)", async () => {
    const { m, p } = await kit.boot({ era, drivers: [scullv({ order: 1, qset: 2 })] });
    fill(p, 11);
    const addr = mapDevice(p, "/dev/scullv0", { length: 11 * PAGE_SIZE });
    for (const pg of [10, 0, 5, 7, 4, 9]) expect(p.mmu.load8(addr + pg * PAGE_SIZE + 1)).toBe(pg + 1);
    m.checkInvariants();
  });

  it("honours the mmap offset, within and across quanta", async () => {
    const { m, p } = await kit.boot({ era });
    fill(p, QPAGES + 3);
    const a = mapDevice(p, "/dev/scullv0", { length: PAGE_SIZE, offset: 2 * PAGE_SIZE });
    expect(p.mmu.load8(a)).toBe(3);
    const b = mapDevice(p, "/dev/scullv0", { length: 4 * PAGE_SIZE, offset: (QPAGES - 1) * PAGE_SIZE });
    expect(p.mmu.load8(b)).toBe(QPAGES);
    expect(p.mmu.load8(b + 3 * PAGE_SIZE)).toBe(QPAGES + 3);
    const c = mapDevice(p, "/dev/scullv0", { length: PAGE_SIZE, offset: (QPAGES + 3) * PAGE_SIZE });
    expectSignal(() => p.mmu.load8(c), { signal: "SIGBUS" }); // past the data
    m.checkInvariants();
  });

  it("a private mapping copies on write; the device keeps its data", async () => {
    const { m, p } = await kit.boot({ era });
    fill(p, 1);
    const addr = mapDevice(p, "/dev/scullv0", { length: PAGE_SIZE, flags: MAP_PRIVATE });
    p.mmu.store8(addr, 0x99);
    expect(p.mmu.load8(addr)).toBe(0x99);
    expect(p.libc.read(rd(p), 1)[0]).toBe(1);
    m.checkInvariants();
  });

  it("counts live mappings in dev.vmas through mmap, fork, split and exit", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    fill(p, 3);
    const addr = mapDevice(p, "/dev/scullv0", { length: 3 * PAGE_SIZE });
    expect(dev.vmas).toBe(1);
    const child = m.process(p.sys.fork())!;
    expect(dev.vmas).toBe(2);
    expect(child.mmu.load8(addr + PAGE_SIZE)).toBe(2);
    p.libc.munmap(addr + PAGE_SIZE, PAGE_SIZE);
    expect(dev.vmas).toBe(3);
    child.sys.exit(0);
    p.sys.exit(0);
    expect(dev.vmas).toBe(0);
    m.checkInvariants();
  });

  it("refuses to trim while mapped (-EBUSY), then vfree()s every quantum: the free page count is back", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    const free0 = m.mem.nrFreePages;
    fill(p, QPAGES + 2);
    expect(free0 - m.mem.nrFreePages).toBeGreaterThanOrEqual(2 * QPAGES);
    const fd = p.libc.open("/dev/scullv0", O_RDWR);
    const addr = p.libc.mmap(0, (QPAGES + 2) * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.load8(addr);
    p.mmu.load8(addr + QPAGES * PAGE_SIZE);
    expect(p.sys.open("/dev/scullv0", O_WRONLY | O_TRUNC)).toBe(-EBUSY);
    expect(p.sys.open("/dev/scullv0", O_RDWR | O_TRUNC)).toBe(-EBUSY);
    expect(p.sys.ioctl(fd, SCULLV_IOCTRIM)).toBe(-EBUSY);
    expect(dev.size).toBe((QPAGES + 2) * PAGE_SIZE);
    expect(p.mmu.load8(addr + (QPAGES + 1) * PAGE_SIZE)).toBe(QPAGES + 2);
    m.checkInvariants();
    p.libc.munmap(addr, (QPAGES + 2) * PAGE_SIZE);
    expect(p.sys.ioctl(fd, SCULLV_IOCTRIM)).toBe(0);
    expect(dev.size).toBe(0);
    expect(dev.list).toBeNull();
    expect(m.mem.nrFreePages).toBe(free0);
    m.checkInvariants();
  });

  it("a page vfree()d while a process still maps it stays allocated until the unmap", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    fill(p, 2);
    const page = devicePage(m, dev, 1);
    const other = devicePage(m, dev, 0);
    const addr = mapDevice(p, "/dev/scullv0", { length: 2 * PAGE_SIZE });
    p.mmu.load8(addr + PAGE_SIZE);
    expect(m.unloadDriver("scullv")).toBe(0); // exit trims regardless
    expect(dev.size).toBe(0);
    expect(other.count).toBe(0); // never mapped: freed by vfree
    expect(page.count).toBe(1); // the mapping's reference
    expect(p.mmu.load8(addr + PAGE_SIZE)).toBe(2);
    m.checkInvariants();
    p.sys.exit(0);
    expect(page.count).toBe(0); // freed with the last reference
    m.checkInvariants();
  });

  it("order set by ioctl applies from the next trim; the new order maps too", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    const fd = p.libc.open("/dev/scullv0", O_RDWR);
    expect(p.sys.ioctl(fd, SCULLV_IOCTORDER, 2)).toBe(0);
    expect(p.sys.ioctl(fd, SCULLV_IOCQORDER)).toBe(2);
    expect(dev.order).toBe(SCULLV_ORDER);
    fill(p, 6); // opening O_WRONLY trims: the device is now order 2 (quanta of 4 pages)
    expect(dev.order).toBe(2);
    expect(dev.list!.data!.filter((a) => a !== null)).toHaveLength(2);
    const addr = p.libc.mmap(0, 6 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(addr + 5 * PAGE_SIZE)).toBe(6);
    p.libc.munmap(addr, 6 * PAGE_SIZE);
    expect(p.sys.ioctl(fd, SCULLV_IOCRESET)).toBe(0);
    expect(p.sys.ioctl(fd, SCULLV_IOCQORDER)).toBe(SCULLV_ORDER);
    expect(p.sys.ioctl(fd, 0x4b63)).toBe(-ENOTTY);
    m.checkInvariants();
  });

  it("the snapshot keeps the quanta at their vmalloc addresses, the data and a live mapping", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    fill(p, QPAGES + 2, [QPAGES]);
    const fd = p.libc.open("/dev/scullv0", O_RDWR);
    const addr = p.libc.mmap(0, (QPAGES + 2) * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store8(addr + 3, 0x53);
    const quanta = drv.devices[0]!.list!.data!.slice(0, 2);
    const again = [scullv()] as const;
    const b = await Machine.restore(m.snapshot(), { drivers: again });
    const dev = again[0].devices[0]!;
    expect(dev.list!.data!.slice(0, 2)).toEqual(quanta);
    expect(dev.size).toBe((QPAGES + 2) * PAGE_SIZE);
    expect(dev.vmas).toBe(1);
    const q = b.process(p.pid)!;
    // Already mapped, and faulted in through the restored vm_ops (named "scullv").
    expect(q.mmu.load8(addr + 3)).toBe(0x53);
    expect(q.mmu.load8(addr + (QPAGES + 1) * PAGE_SIZE)).toBe(QPAGES + 2);
    expect(q.mmu.load8(addr + (QPAGES - 1) * PAGE_SIZE)).toBe(QPAGES);
    q.sys.lseek(fd, QPAGES * PAGE_SIZE + 5, SEEK_SET);
    expect(q.sys.read(fd, 1)).toEqual(new Uint8Array(1)); // zeroed page of a written quantum
    const page = b.withKernel(() => vmallocToPage(quanta[1]! + PAGE_SIZE)!);
    expect(page.count).toBe(2);
    b.checkInvariants();
    const free = b.mem.nrFreePages;
    expect(q.sys.munmap(addr, (QPAGES + 2) * PAGE_SIZE)).toBe(0);
    expect(dev.vmas).toBe(0);
    expect(q.sys.ioctl(fd, SCULLV_IOCTRIM)).toBe(0);
    expect(b.mem.nrFreePages).toBeGreaterThanOrEqual(free + 2 * QPAGES);
    b.checkInvariants();
  });
});

describe("scullv: a saved state that names the wrong vmalloc memory is refused", () => {
  it("refuses a quantum inside an area, shorter than a quantum, or named twice, before any read can oops", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot();
    fill(p, 2 * QPAGES);
    const saved = drv.snapshot!.save!() as { devs: Array<{ sets: Array<number[] | null> }> };
    const [q0, q1] = saved.devs[0]!.sets[0]!;
    const small = m.withKernel(() => vmalloc(PAGE_SIZE));
    const tampered = (addr: number) => {
      const s = structuredClone(saved);
      s.devs[0]!.sets[0]![0] = addr;
      return s;
    };
    const restore = (state: unknown) => m.withKernel(() => scullv().snapshot!.restore!(state));
    expect(() => restore(tampered(q0! + PAGE_SIZE))).toThrow(/is inside a vmalloc area, not at its start/);
    expect(() => restore(tampered(small))).toThrow(/no vmalloc memory at 0x[0-9a-f]+ \+ 4096/);
    expect(() => restore(tampered(q1!))).toThrow(/appears twice/);
    expect(() => restore(tampered(q0! + 1))).toThrow(/not a page-aligned vmalloc address/);
    // The state as saved is taken.
    expect(() => restore(saved)).not.toThrow();
    m.withKernel(() => vfree(small));
    m.checkInvariants();
  });
});

// LDD3's scullv_mmap sets VM_RESERVED, as scullp_mmap does; the modern port does not.
describe("scullv: VM_RESERVED (scullv_mmap)", () => {
  it.each([
    ["modern", 0],
    ["2.6.10", VM_RESERVED],
  ] as const)("%s: the mapping's VM_RESERVED is %i", async (era, flags) => {
    const { m, p } = await kit.boot({ era });
    fill(p, 1);
    const addr = mapDevice(p, "/dev/scullv0", { length: PAGE_SIZE });
    expect(p.mm.vmaLookup(addr)!.vmFlags & VM_RESERVED).toBe(flags);
    expect(p.mmu.load8(addr)).toBe(1);
    m.checkInvariants();
  });
});

/** A fresh read-only fd of scullv0. */
function rd(p: Process): number {
  return p.libc.open("/dev/scullv0", O_RDONLY);
}
