import { isaMemory, pciMemoryDevice } from "@faultline/devices";
import { describe, expect, it } from "vitest";
import { pagesControl, pagesDriver, simple } from "./__fixtures__/test-drivers";
import {
  defineDriver,
  EBUSY,
  FAULT_KILLED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_MAYMOVE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SignalError,
} from "./index";

const RAM = 16 * 1024 * 1024;

describe("device models under drivers", () => {
  it("ISA device RAM through nopage and remap; PCI BAR through remap only", async () => {
    const isa = isaMemory({ base: 0xd0000, size: 0x10000 });
    const pci = pciMemoryDevice({ barSize: 0x10000 });
    const m = await Machine.create({
      ramBytes: RAM,
      devices: [isa, pci],
      drivers: [simple({ modernFault: true })],
    });
    const bar = pci.pci.barAddress(0)!;
    expect(bar).toBeGreaterThan(0);
    expect(m.procText("/proc/iomem")).toContain(`${bar.toString(16)}-`);
    expect(m.procText("/proc/iomem")).toContain("000d0000-000dffff : isa-memory");
    const p = m.spawn();
    const fdr = p.libc.open("/dev/simpler", O_RDWR);
    const fdn = p.libc.open("/dev/simplen", O_RDWR);
    // ISA: both minors reach the same bytes.
    const r = p.libc.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fdr, 0xd0000);
    const n = p.libc.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fdn, 0xd0000);
    p.mmu.store32(r + 0x1004, 0xcafef00d);
    expect(p.mmu.load32(n + 0x1004)).toBe(0xcafef00d);
    expect(m.phys.physRead32(0xd1004)).toBe(0xcafef00d);
    // PCI BAR: remap works, nopage gets SIGBUS (no struct page).
    const pr = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fdr, bar);
    p.mmu.store8(pr + 3, 0x5a);
    expect(m.phys.physRead8(bar + 3)).toBe(0x5a);
    m.checkInvariants();
    const pn = p.libc.mmap(0, 0x1000, PROT_READ, MAP_SHARED, fdn, bar);
    expect(() => p.mmu.load8(pn)).toThrow(/SIGBUS/);
    m.checkInvariants();
  });

  it("a FlatView change (device unplugged) flushes every TLB", async () => {
    const pci = pciMemoryDevice({ barSize: 0x10000 });
    const m = await Machine.create({ ramBytes: RAM, devices: [pci], drivers: [simple()] });
    const bar = pci.pci.barAddress(0)!;
    const p = m.spawn();
    const fd = p.libc.open("/dev/simpler", O_RDWR);
    const a = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, bar);
    p.mmu.store8(a, 0x12);
    expect(p.mmu.load8(a)).toBe(0x12); // cached in the TLB now
    m.phys.removePciDevice(pci.pci);
    expect(p.mmu.load8(a)).toBe(0xff); // unassigned: all-ones through the bus
    m.checkInvariants();
  });

  it("ROM pages: stores are dropped; a private mapping COWs them into RAM", async () => {
    const m = await Machine.create({ ramBytes: RAM, drivers: [simple({ modernFault: true })] });
    const p = m.spawn();
    const fdn = p.libc.open("/dev/simplen", O_RDWR);
    const a = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fdn, 0xf0000);
    const before = p.mmu.load8(a);
    p.mmu.store8(a, before ^ 0xff);
    expect(p.mmu.load8(a)).toBe(before);
    const b = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE, fdn, 0xf0000);
    p.mmu.store8(b, before ^ 0xff);
    expect(p.mmu.load8(b)).toBe(before ^ 0xff);
    expect(m.phys.physRead8(0xf0000)).toBe(before);
    m.checkInvariants();
    p.libc.exit(0);
    m.checkInvariants();
  });

  it("majors: dynamic from 254 down; register_chrdev_region conflicts are -EBUSY", async () => {
    const results: number[] = [];
    const d = (name: string, fixed?: number) =>
      defineDriver({
        name,
        apiVersion: 1,
        init(ctx) {
          const r = fixed ? ctx.registerChrdevRegion(fixed, 0, 1, name) : ctx.allocChrdevRegion(0, 1, name);
          results.push(r);
          return Math.min(r, 0);
        },
      });
    const m = await Machine.create({ ramBytes: RAM, drivers: [d("a"), d("b"), d("c", 254), d("e", 60)] });
    expect(results).toEqual([254, 253, -EBUSY, 0]);
    expect(m.loadedDrivers()).toEqual(["a", "b", "e"]);
    expect(m.dmesg()).toContain("c: init failed with error -16");
  });

  it("an oops in init leaves the driver out and the machine running", async () => {
    const bad = defineDriver({
      name: "bad",
      apiVersion: 1,
      init(ctx) {
        const major = ctx.allocChrdevRegion(0, 1, "bad");
        ctx.createDevNode("bad", major, 0);
        throw new Error("init exploded");
      },
    });
    const m = await Machine.create({ ramBytes: RAM, drivers: [bad, simple()] });
    expect(m.dmesg()).toContain("BUG: driver bad oops in init: init exploded");
    expect(m.loadedDrivers()).toEqual(["simple"]);
    const p = m.spawn();
    expect(p.sys.open("/dev/bad", O_RDWR)).toBe(-2);
    expect(p.libc.open("/dev/simpler", O_RDWR)).toBe(3);
    m.checkInvariants();
  });

  it("an oops in vm_ops->close during munmap: the unmap completes, the caller dies", async () => {
    const ctl = pagesControl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pagesDriver(ctl)] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/pages", O_RDWR);
    const a = p.libc.mmap(0, 4 * 4096, PROT_READ, MAP_SHARED, fd, 0);
    p.mmu.load8(a);
    ctl.throwIn = "close";
    expect(() => p.sys.munmap(a, 4 * 4096)).toThrow(SignalError);
    expect(p.exitSignal).toBe("SIGKILL");
    expect(m.dmesg()).toContain("BUG: driver pages oops in vm_ops->close: close exploded");
    m.checkInvariants();
    expect(FAULT_KILLED).toBe(5);
  });

  it("private driver mappings copy on write; the driver's page stays", async () => {
    const ctl = pagesControl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pagesDriver(ctl)] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/pages", O_RDWR);
    const a = p.libc.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    expect(p.mmu.load8(a)).toBe(1);
    p.mmu.store8(a, 99);
    expect(p.mmu.load8(a)).toBe(99);
    expect(ctl.pages[0]!.bytes()[0]).toBe(1);
    expect(p.procSmaps()).toMatch(/Anonymous: +4 kB/);
    // growth of a fault-backed private VMA: pages past the old end fault in from the driver
    const b = p.libc.mremap(a, 2 * 4096, 4 * 4096, MREMAP_MAYMOVE);
    expect(p.mmu.load8(b + 3 * 4096)).toBe(4);
    expect(p.mmu.load8(b)).toBe(99);
    m.checkInvariants();
    p.libc.exit(0);
    m.checkInvariants();
  });

  it("a driver page leak shows in checkInvariants", async () => {
    const ctl = pagesControl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pagesDriver(ctl)] });
    m.checkInvariants();
    m.mem.getPage(ctl.pages[0]!); // a reference nobody accounts for
    expect(() => m.checkInvariants()).toThrow(/refcount 2 but 1 references exist/);
    m.mem.putPage(ctl.pages[0]!);
    expect(m.unloadDriver("pages")).toBe(0);
    m.checkInvariants();
  });
});
