/**
 * scullp from a user process: data written with write() is served to mappings page by page by the
 * fault handler; holes and offsets past the data are SIGBUS; live mappings are counted and block trim.
 */
import {
  EBUSY,
  ENODEV,
  type Era,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEEK_SET,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_RESERVED,
  virtToPage,
} from "@faultline/kernel";
import {
  expectSignal,
  mapDevice,
  mapDeviceRanges,
  tryMapDevice,
  useMachine,
} from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import { SCULLP_IOCQORDER, SCULLP_IOCTORDER, SCULLP_IOCTRIM, scullp } from "./index";

const kit = useMachine({ ramBytes: 32 * 2 ** 20, drivers: () => [scullp()], spawn: { name: "scullp-test" } });

/** Fills scullp0 with `pages` pages; page i holds bytes (i + 1). Returns nothing; leaves no fd open. */
function fill(p: Process, pages: number, skip: readonly number[] = []): void {
  const fd = p.libc.open("/dev/scullp0", O_WRONLY);
  for (let i = 0; i < pages; i++) {
    if (skip.includes(i)) continue;
    p.libc.lseek(fd, i * PAGE_SIZE, SEEK_SET);
    expect(p.libc.write(fd, new Uint8Array(PAGE_SIZE).fill(i + 1))).toBe(PAGE_SIZE);
  }
  p.libc.close(fd);
}

describe.each(["modern", "2.6.10"] as const)("scullp (%s)", (era: Era) => {
  it("creates /dev/scullp0-3; write() stores data that read() returns, a quantum at a time", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    expect(m.procText("/proc/devices")).toMatch(/^\s*\d+ scullp$/m);
    const fd = p.libc.open("/dev/scullp0", O_WRONLY);
    // One write stops at the end of the quantum (one page).
    expect(p.libc.write(fd, new Uint8Array(PAGE_SIZE + 10).fill(7))).toBe(PAGE_SIZE);
    expect(p.libc.write(fd, "tail")).toBe(4);
    p.libc.close(fd);
    expect(dev.size).toBe(PAGE_SIZE + 4);
    const rd = p.libc.open("/dev/scullp0", O_RDONLY);
    expect(p.libc.read(rd, 2 * PAGE_SIZE)).toEqual(new Uint8Array(PAGE_SIZE).fill(7));
    expect(new TextDecoder().decode(p.libc.read(rd, 100))).toBe("tail");
    m.checkInvariants();
  });

  it("mmap serves the device's own pages from the fault handler, one page per fault", async () => {
    const { m, p } = await kit.boot({ era });
    fill(p, 3);
    const addr = mapDevice(p, "/dev/scullp0", { length: 3 * PAGE_SIZE });
    expect(p.mmu.load8(addr + 2 * PAGE_SIZE + 17)).toBe(3);
    expect(p.mmu.load8(addr)).toBe(1);
    p.mmu.store8(addr + PAGE_SIZE, 0x42); // shared: the device data changes
    const rd = p.libc.open("/dev/scullp0", O_RDONLY);
    p.libc.lseek(rd, PAGE_SIZE, SEEK_SET);
    expect(p.libc.read(rd, 1)[0]).toBe(0x42);
    m.checkInvariants();
  });

  it("get_page in the fault handler: the mapping holds a reference, unmapping drops it", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    fill(p, 1);
    // The driver keeps kernel virtual addresses (page_address), as scullp does.
    const page = m.withKernel(() => virtToPage(dev.list!.data![0]!));
    expect(page.count).toBe(1); // the driver's allocation
    const addr = mapDevice(p, "/dev/scullp0", { length: PAGE_SIZE });
    p.mmu.load8(addr);
    expect(page.count).toBe(2);
    expect(page.mapcount).toBe(1);
    m.checkInvariants();
    p.libc.munmap(addr, PAGE_SIZE);
    expect(page.count).toBe(1);
    expect(page.mapcount).toBe(0);
    m.checkInvariants();
  });

  it("an offset past the data is SIGBUS", async () => {
    const { m, p } = await kit.boot({ era });
    fill(p, 1);
    const addr = mapDevice(p, "/dev/scullp0", { length: 2 * PAGE_SIZE });
    expect(p.mmu.load8(addr + 100)).toBe(1);
    expectSignal(() => p.mmu.load8(addr + PAGE_SIZE), {
      signal: "SIGBUS",
      code: "BUS_ADRERR",
      addr: addr + PAGE_SIZE,
    });
    m.checkInvariants();
  });

  it("a hole in the data is SIGBUS", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    fill(p, 3, [1]);
    expect(dev.size).toBe(3 * PAGE_SIZE);
    const addr = mapDevice(p, "/dev/scullp0", { length: 3 * PAGE_SIZE });
    expect(p.mmu.load8(addr + 2 * PAGE_SIZE)).toBe(3);
    expectSignal(() => p.mmu.load8(addr + PAGE_SIZE), { signal: "SIGBUS" });
    m.checkInvariants();
  });

  it("a hole in a later quantum set is found by walking the list (qset 2)", async () => {
    const { m, p } = await kit.boot({ era, drivers: [scullp({ qset: 2 })] });
    fill(p, 5, [3]);
    const addr = mapDevice(p, "/dev/scullp0", { length: 5 * PAGE_SIZE });
    expect(p.mmu.load8(addr + 4 * PAGE_SIZE)).toBe(5);
    expect(p.mmu.load8(addr + 2 * PAGE_SIZE)).toBe(3);
    expectSignal(() => p.mmu.load8(addr + 3 * PAGE_SIZE), { signal: "SIGBUS" });
    m.checkInvariants();
  });

  it("honours the mmap offset", async () => {
    const { m, p } = await kit.boot({ era });
    fill(p, 3);
    const addr = mapDevice(p, "/dev/scullp0", { length: PAGE_SIZE, offset: 2 * PAGE_SIZE });
    expect(p.mmu.load8(addr)).toBe(3);
    m.checkInvariants();
  });

  it("a private mapping copies on write; the device keeps its data", async () => {
    const { m, p } = await kit.boot({ era });
    fill(p, 1);
    const addr = mapDevice(p, "/dev/scullp0", { length: PAGE_SIZE, flags: MAP_PRIVATE });
    p.mmu.store8(addr, 0x99);
    expect(p.mmu.load8(addr)).toBe(0x99);
    const rd = p.libc.open("/dev/scullp0", O_RDONLY);
    expect(p.libc.read(rd, 1)[0]).toBe(1);
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
    const addr = mapDevice(p, "/dev/scullp0", { length: 3 * PAGE_SIZE });
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

  it("refuses to trim while mapped (-EBUSY from open with O_TRUNC and from the trim ioctl), trims after", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    const free0 = m.mem.nrFreePages;
    fill(p, 2);
    expect(m.mem.nrFreePages).toBe(free0 - 2);
    const fd = p.libc.open("/dev/scullp0", O_RDWR);
    const addr = p.libc.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.load8(addr);
    expect(p.sys.open("/dev/scullp0", O_WRONLY | O_TRUNC)).toBe(-EBUSY);
    expect(p.sys.open("/dev/scullp0", O_RDWR | O_TRUNC)).toBe(-EBUSY);
    expect(p.sys.ioctl(fd, SCULLP_IOCTRIM)).toBe(-EBUSY);
    expect(dev.size).toBe(2 * PAGE_SIZE);
    expect(p.mmu.load8(addr + PAGE_SIZE)).toBe(2);
    p.libc.munmap(addr, 2 * PAGE_SIZE);
    expect(p.sys.ioctl(fd, SCULLP_IOCTRIM)).toBe(0);
    expect(dev.size).toBe(0);
    expect(m.mem.nrFreePages).toBe(free0);
    m.checkInvariants();
  });

  it("a page the driver frees while a process still maps it stays allocated until the unmap", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    fill(p, 1);
    const page = m.mem.pfnToPage(Math.floor((dev.list!.data![0]! - 2 ** 52) / PAGE_SIZE));
    const addr = mapDevice(p, "/dev/scullp0", { length: PAGE_SIZE });
    p.mmu.load8(addr);
    expect(m.unloadDriver("scullp")).toBe(0); // exit trims regardless
    expect(dev.size).toBe(0);
    expect(page.count).toBe(1); // the mapping's reference
    expect(p.mmu.load8(addr)).toBe(1);
    m.checkInvariants();
    p.sys.exit(0);
    expect(page.count).toBe(0); // freed with the last reference
    m.checkInvariants();
  });

  it("order != 0 cannot be mapped: -ENODEV", async () => {
    const { m, p } = await kit.boot({ era, drivers: [scullp({ order: 1 })] });
    fill(p, 2);
    expect(tryMapDevice(p, "/dev/scullp0", { length: 2 * PAGE_SIZE })).toBe(-ENODEV);
    m.checkInvariants();
  });

  it("order set by ioctl applies from the next trim (and then mmap is -ENODEV)", async () => {
    const {
      m,
      p,
      drivers: [drv],
    } = await kit.boot({ era });
    const dev = drv.devices[0]!;
    const fd = p.libc.open("/dev/scullp0", O_RDWR);
    expect(p.sys.ioctl(fd, SCULLP_IOCTORDER, 2)).toBe(0);
    expect(p.sys.ioctl(fd, SCULLP_IOCQORDER)).toBe(2);
    expect(dev.order).toBe(0);
    fill(p, 1); // opening O_WRONLY trims: the device is now order 2
    expect(dev.order).toBe(2);
    expect(p.sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)).toBe(-ENODEV);
    const rd = p.libc.open("/dev/scullp0", O_RDONLY);
    expect(p.libc.read(rd, 10)).toEqual(new Uint8Array(10).fill(1));
    m.checkInvariants();
  });
});

// LDD3's scullp_mmap sets VM_RESERVED; the 2.6.10 port does too. The modern port does not (as
// martinezjavier/ldd3 after v3.7 killed the flag), so the mapping still grows with mremap.
describe("scullp: VM_RESERVED (scullp_mmap)", () => {
  it.each([
    ["modern", 1, 0],
    ["2.6.10", 2, VM_RESERVED],
  ] as const)(
    "%s: two adjacent mappings of one open file are %i VMA(s), VM_RESERVED in 2.6.10 only; each grows",
    async (era, vmas, flags) => {
      const {
        m,
        p,
        drivers: [drv],
      } = await kit.boot({ era });
      const dev = drv.devices[0]!;
      fill(p, 6);
      // Four pages of address space, then the device's pages 0-1 and 2-3 over its halves, in order.
      const [at, hi] = mapDeviceRanges(p, "/dev/scullp0", [
        { length: 2 * PAGE_SIZE, offset: 0 },
        { length: 2 * PAGE_SIZE, offset: 2 * PAGE_SIZE },
      ]);
      expect(hi).toBe(at + 2 * PAGE_SIZE);
      // Today the second range joins the first before ->mmap would run (same file, flags and offsets),
      // so scullp counts one mapping; 2.6.10 kept the two apart: VM_RESERVED is in its VM_SPECIAL (and
      // its is_mergeable_vma() refused a neighbour with ->close too).
      const lines = m
        .procText(`/proc/${p.pid}/maps`)
        .split("\n")
        .filter((l) => l.endsWith("/dev/scullp0"));
      expect(lines).toHaveLength(vmas);
      expect(dev.vmas).toBe(vmas);
      const MARKED = VM_RESERVED | VM_DONTEXPAND | VM_DONTDUMP;
      expect(p.mm.vmaLookup(at)!.vmFlags & MARKED).toBe(flags);
      expect(p.mm.vmaLookup(hi)!.vmFlags & MARKED).toBe(flags);
      expect(p.mmu.load8(hi)).toBe(3);
      // VM_RESERVED left VM_DONTEXPAND alone in 2.6.10 (do_mremap asked that flag only): growth works,
      // and the new pages fault in through scullp's handler.
      const grown = p.sys.mremap(at, 2 * PAGE_SIZE, 6 * PAGE_SIZE, MREMAP_MAYMOVE);
      expect(grown).toBeGreaterThan(0);
      expect(p.mm.vmaLookup(grown)!.vmFlags & MARKED).toBe(flags);
      expect(p.mmu.load8(grown + 5 * PAGE_SIZE)).toBe(6);
      p.sys.exit(0);
      expect(dev.vmas).toBe(0);
      m.checkInvariants();
    },
  );
});
