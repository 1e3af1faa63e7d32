/**
 * LDD3 chapter 15's statements about the simple driver, one test each, from a user process, in both
 * eras where they differ.
 */
import { isaMemory, pciMemoryDevice } from "@faultline/devices";
import {
  DRIVER_API_VERSION,
  defineDriver,
  type Era,
  getPage,
  MAP_PRIVATE,
  type Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  NOPAGE_OOM,
  O_RDWR,
  O_SYNC,
  PAGE_SIZE,
  PROT_READ,
  type Process,
  pfnToPage,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_OOM,
  VM_IO,
  VM_RESERVED,
  type Vma,
  type VmFault,
} from "@faultline/kernel";
import { expectSignal, mapDevice, mapDeviceRanges, useMachine } from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import { simple } from "./index";

const MiB = 2 ** 20;
const ISA_BASE = 0xd0000;

/** Every machine: ISA memory in the legacy hole, a PCI device with a 1 MiB BAR, simple, a process "mapper". */
const kit = useMachine({
  ramBytes: 64 * MiB,
  devices: () => [
    isaMemory({ base: ISA_BASE, size: 0x4000, name: "isa-ram" }),
    pciMemoryDevice({ barSize: MiB }),
  ],
  drivers: () => [simple()],
  spawn: { name: "mapper" },
});

/** The driver's VMA log lines, in order. */
const simpleLog = (m: Machine) => m.dmesg().filter((l) => l.startsWith("Simple VMA"));

const hex = (n: number) => n.toString(16);
const ERAS: Era[] = ["modern", "2.6.10"];

describe.each(ERAS)("simple (%s)", (era) => {
  it("registers one major with two minors, /dev/simpler and /dev/simplen", async () => {
    const { m } = await kit.boot({ era });
    expect(m.procText("/proc/devices")).toMatch(/^\s*\d+ simple$/m);
    const { m: fixed, p } = await kit.boot({ era, drivers: [simple({ major: 240 })] });
    expect(fixed.procText("/proc/devices")).toMatch(/^240 simple$/m);
    expect(p.sys.open("/dev/simpler", O_RDWR)).toBeGreaterThanOrEqual(3);
    expect(p.sys.open("/dev/simplen", O_RDWR)).toBeGreaterThanOrEqual(3);
  });

  it("/dev/simpler maps a PCI BAR with remapPfnRange: stores reach the device memory", async () => {
    const {
      m,
      p,
      devices: [, pci],
    } = await kit.boot({ era });
    const bar = pci.barAddress(0)!;
    const a = mapDevice(p, "/dev/simpler", { length: 2 * PAGE_SIZE, offset: bar });
    p.mmu.store32(a + PAGE_SIZE + 8, 0xfeedface);
    expect(new DataView(pci.ram.buffer).getUint32(PAGE_SIZE + 8, true)).toBe(0xfeedface);
    pci.ram[0] = 0x5a; // the device writes; the process sees it (no copy anywhere)
    expect(p.mmu.load8(a)).toBe(0x5a);
    const maps = m.procText(`/proc/${p.pid}/maps`);
    expect(maps).toContain(`${hex(a)}-${hex(a + 2 * PAGE_SIZE)} rw-s ${hex(bar).padStart(8, "0")} 00:05 `);
    expect(maps).toMatch(/\/dev\/simpler\n$/);
    // remap_pfn_range marks VM_IO|VM_PFNMAP|VM_DONTEXPAND|VM_DONTDUMP today, VM_IO (|VM_RESERVED) in 2.6.10.
    expect(m.procText(`/proc/${p.pid}/smaps`)).toContain(
      era === "modern" ? "VmFlags: rd wr sh mr mw me ms pf io de dd" : "VmFlags: rd wr sh mr mw me ms io",
    );
    expect(simpleLog(m)).toEqual([`Simple VMA open, virt ${hex(a)}, phys ${hex(bar)}`]);
    m.checkInvariants();
  });

  it("/dev/simpler maps the ISA memory too (eagerly: no faults, no page references)", async () => {
    const {
      m,
      p,
      devices: [isa],
    } = await kit.boot({ era });
    const page = m.mem.pfnToPage(ISA_BASE / PAGE_SIZE);
    const before = page.count;
    const a = mapDevice(p, "/dev/simpler", { length: 0x4000, offset: ISA_BASE });
    p.mmu.write(a + 0x3000, [1, 2, 3]);
    expect([...isa.ram.subarray(0x3000, 0x3003)]).toEqual([1, 2, 3]);
    expect(page.count).toBe(before);
    expect(page.mapcount).toBe(0);
    m.checkInvariants();
  });

  it.each(["fault", "nopage"] as const)(
    "ISA memory works with nopage: /dev/simplen (%s handler) serves it page by page",
    async (handler) => {
      const {
        m,
        p,
        devices: [isa],
      } = await kit.boot({ era, drivers: [simple({ handler })] });
      const pages = [0, 1, 2, 3].map((i) => m.mem.pfnToPage(ISA_BASE / PAGE_SIZE + i));
      const counts = () => pages.map((pg) => pg.count);
      const base = counts();
      const a = mapDevice(p, "/dev/simplen", { length: 0x4000, offset: ISA_BASE });
      expect(counts()).toEqual(base); // nothing mapped until touched
      isa.ram[0x2000] = 0x77;
      expect(p.mmu.load8(a + 0x2000)).toBe(0x77);
      expect(counts()).toEqual([base[0], base[1], base[2]! + 1, base[3]]);
      p.mmu.store8(a + 1, 0x99);
      expect(isa.ram[1]).toBe(0x99);
      expect(counts()).toEqual([base[0]! + 1, base[1], base[2]! + 1, base[3]]);
      expect(pages[2]!.mapcount).toBe(1);
      m.checkInvariants();
    },
  );

  it("get_page raises the refcount and unmapping drops it (LDD3: 'unmap drops one ref per page')", async () => {
    const { m, p } = await kit.boot({ era });
    const page = m.mem.pfnToPage(ISA_BASE / PAGE_SIZE);
    const before = page.count;
    const a = mapDevice(p, "/dev/simplen", { length: PAGE_SIZE, offset: ISA_BASE });
    p.mmu.load8(a);
    expect(page.count).toBe(before + 1);
    expect(page.mapcount).toBe(1);
    m.checkInvariants();
    expect(p.sys.munmap(a, PAGE_SIZE)).toBe(0);
    expect(page.count).toBe(before);
    expect(page.mapcount).toBe(0);
    m.checkInvariants();
  });

  it("a handler that forgets get_page makes unmapping drop a reference nobody took: a bad page (why the call is mandatory)", async () => {
    const forgetful = defineDriver({
      name: "forgetful",
      apiVersion: DRIVER_API_VERSION,
      init(ctx) {
        const major = ctx.allocChrdevRegion(0, 1, "forgetful");
        ctx.cdevAdd(major, 0, 1, {
          mmap(_f, vma: Vma) {
            vma.vmOps = {
              fault(vmf: VmFault) {
                vmf.page = pfnToPage(vmf.pgoff);
                return 0;
              },
            };
            return 0;
          },
        });
        ctx.createDevNode("forgetful", major, 0);
        return 0;
      },
    });
    const { m, p } = await kit.boot({ era, drivers: [simple(), forgetful] });
    const page = m.mem.pfnToPage(ISA_BASE / PAGE_SIZE);
    const before = page.count;
    const a = mapDevice(p, "/dev/forgetful", { length: PAGE_SIZE, offset: ISA_BASE });
    p.mmu.load8(a);
    expect(page.count).toBe(before); // mapped, but no reference taken for the PTE
    expect(page.mapcount).toBe(1);
    // The refcount invariant sees it at once: the fault path used a reference the driver never took.
    expect(() => m.checkInvariants()).toThrow(/refcount 1 but 2 references exist/);
    // Unmapping drops the reference the PTE should have had: the kernel catches the underflow as a
    // bad page (bad_page()), quarantines the frame, blames the driver, and the munmap completes.
    expect(p.sys.munmap(a, PAGE_SIZE)).toBe(0);
    expect(p.alive).toBe(true);
    expect(m.dmesg()).toContain(`BUG: Bad page state in process ${p.comm}  pfn:000d0`);
    expect(m.dmesg()).toContain(
      "page dumped because: put_page: refcount 1 would go below its boot reference (reserved page)",
    );
    expect(m.dmesg()).toContain(
      "page mapped by driver forgetful's vm_ops->fault, which took no reference on it (getPage)",
    );
    expect(m.mem.isQuarantined(ISA_BASE / PAGE_SIZE)).toBe(true);
    kit.expectBadPage({ driver: "forgetful", pfn: ISA_BASE / PAGE_SIZE });
    expect(page.count).toBe(before);
    m.checkInvariants();
    expect(p.sys.exit(0)).toBe(0);
    m.checkInvariants();
  });

  it.each(["fault", "nopage"] as const)(
    "PCI memory cannot use nopage: /dev/simplen (%s) on the BAR is SIGBUS (pfnValid is false)",
    async (handler) => {
      const {
        m,
        p,
        devices: [, pci],
      } = await kit.boot({ era, drivers: [simple({ handler })] });
      const bar = pci.barAddress(0)!;
      const a = mapDevice(p, "/dev/simplen", { length: PAGE_SIZE, offset: bar });
      expectSignal(() => p.mmu.load32(a + 4), { signal: "SIGBUS", code: "BUS_ADRERR", addr: a + 4 });
      expect(p.alive).toBe(false);
      expect(p.exitSignal).toBe("SIGBUS");
      m.checkInvariants();
    },
  );

  it("a driver that calls pfnToPage on the BAR anyway oopses ('use remapPfnRange') and its process is killed", async () => {
    const careless = defineDriver({
      name: "careless",
      apiVersion: DRIVER_API_VERSION,
      init(ctx) {
        const major = ctx.allocChrdevRegion(0, 1, "careless");
        ctx.cdevAdd(major, 0, 1, {
          mmap(_f, vma: Vma) {
            vma.vmOps = {
              fault(vmf: VmFault) {
                const page = pfnToPage(vmf.pgoff); // no pfnValid check
                getPage(page);
                vmf.page = page;
                return 0;
              },
            };
            return 0;
          },
        });
        ctx.createDevNode("careless", major, 0);
        return 0;
      },
    });
    const {
      m,
      p,
      devices: [, pci],
    } = await kit.boot({ era, drivers: [simple(), careless] });
    const bar = pci.barAddress(0)!;
    const a = mapDevice(p, "/dev/careless", { length: PAGE_SIZE, offset: bar });
    expectSignal(() => p.mmu.load8(a), { signal: "SIGKILL" });
    expect(p.exitSignal).toBe("SIGKILL");
    kit.expectOops({ driver: "careless", callback: "vm_ops->fault", message: "use remapPfnRange" });
    const oops = m.dmesg().find((l) => l.startsWith("BUG: driver careless oops in vm_ops->fault"));
    expect(oops).toContain(`pfnToPage(0x${hex(bar / PAGE_SIZE)}): no struct page`);
    expect(oops).toContain("use remapPfnRange");
    expect(m.oopses()).toHaveLength(1);
    m.checkInvariants();
  });

  it("beyond memory is SIGBUS: mmap of /dev/simplen succeeds, the first touch of a pfn without struct page fails", async () => {
    const { m, p } = await kit.boot({ era });
    const gap = 0x80000000; // above the 64 MiB of RAM, below the PCI hole: nothing there
    const a = mapDevice(p, "/dev/simplen", { length: 2 * PAGE_SIZE, offset: gap });
    expect(m.procText(`/proc/${p.pid}/maps`)).toContain("/dev/simplen");
    expectSignal(() => p.mmu.load8(a + PAGE_SIZE + 3), {
      signal: "SIGBUS",
      code: "BUS_ADRERR",
      addr: a + PAGE_SIZE + 3,
    });
    m.checkInvariants();
  });

  it.each([
    ["fault returns VM_FAULT_OOM", { fault: () => VM_FAULT_OOM }],
    ["nopage returns NOPAGE_OOM", { nopage: () => NOPAGE_OOM }],
  ] as const)("OOM: a driver whose %s gets its process killed with SIGKILL", async (_name, ops) => {
    const oom = defineDriver({
      name: "oom",
      apiVersion: DRIVER_API_VERSION,
      init(ctx) {
        const major = ctx.allocChrdevRegion(0, 1, "oom");
        ctx.cdevAdd(major, 0, 1, {
          mmap(_f, vma: Vma) {
            vma.vmOps = { ...ops };
            return 0;
          },
        });
        ctx.createDevNode("oom", major, 0);
        return 0;
      },
    });
    const { m, p } = await kit.boot({ era, drivers: [simple(), oom] });
    const a = mapDevice(p, "/dev/oom", { length: PAGE_SIZE });
    expectSignal(() => p.mmu.load8(a), { signal: "SIGKILL" });
    expect(p.exitSignal).toBe("SIGKILL");
    expect(m.dmesg().some((l) => l.startsWith(`Out of memory: Killed process ${p.pid} (mapper)`))).toBe(true);
    m.checkInvariants();
  });

  it("a private mapping of /dev/simplen copies on write: the device memory is not changed", async () => {
    const {
      m,
      p,
      devices: [isa],
    } = await kit.boot({ era });
    isa.ram[0] = 0x11;
    const a = mapDevice(p, "/dev/simplen", { length: PAGE_SIZE, offset: ISA_BASE, flags: MAP_PRIVATE });
    expect(p.mmu.load8(a)).toBe(0x11);
    p.mmu.store8(a, 0x22);
    expect(p.mmu.load8(a)).toBe(0x22);
    expect(isa.ram[0]).toBe(0x11);
    m.checkInvariants();
  });
});

describe.each(ERAS)("simple VMA open/close log (%s)", (era) => {
  // 2.6.10's split_vma() put ->open on the piece that munmap then removes; today's on the piece that
  // stays (mm/vma.c vms_gather_munmap_vmas: __split_vma(.., start, 1)).
  const splitOpen = (start: number, phys: number) =>
    era === "2.6.10"
      ? `Simple VMA open, virt ${hex(start + PAGE_SIZE)}, phys ${hex(phys + PAGE_SIZE)}`
      : `Simple VMA open, virt ${hex(start)}, phys ${hex(phys)}`;

  it.each(["/dev/simpler", "/dev/simplen"])(
    "%s: mmap, fork, munmap of part, mremap move, exit",
    async (node) => {
      const {
        m,
        p,
        devices: [, pci],
      } = await kit.boot({ era });
      const bar = pci.barAddress(0)!;
      const phys = node === "/dev/simplen" ? ISA_BASE : bar;
      const a = mapDevice(p, node, { length: 2 * PAGE_SIZE, offset: phys });
      const want = [`Simple VMA open, virt ${hex(a)}, phys ${hex(phys)}`];
      expect(simpleLog(m)).toEqual(want);

      // fork: dup_mmap calls ->open on the child's copy.
      const childPid = p.sys.fork();
      expect(childPid).toBeGreaterThan(0);
      want.push(`Simple VMA open, virt ${hex(a)}, phys ${hex(phys)}`);
      expect(simpleLog(m)).toEqual(want);
      const child = m.process(childPid)!;
      expect(child.mmu.load8(a)).toBe(p.mmu.load8(a));

      // munmap of the last page: split (->open on the new piece), then ->close of the removed one.
      expect(p.sys.munmap(a + PAGE_SIZE, PAGE_SIZE)).toBe(0);
      want.push(splitOpen(a, phys), "Simple VMA close.");
      expect(simpleLog(m)).toEqual(want);

      // mremap move: copy_vma (->open on the new VMA), then the old one is unmapped (->close).
      const dest = p.libc.mmap(0, 4 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | 0x20, -1, 0);
      const moved = p.sys.mremap(a, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, dest + PAGE_SIZE);
      expect(moved).toBe(dest + PAGE_SIZE);
      want.push(`Simple VMA open, virt ${hex(moved)}, phys ${hex(phys)}`, "Simple VMA close.");
      expect(simpleLog(m)).toEqual(want);
      expect(p.mmu.load8(moved)).toBe(child.mmu.load8(a));

      // exit: one ->close per VMA (the child still has its 2-page copy, the parent its moved page).
      child.sys.exit(0);
      want.push("Simple VMA close.");
      p.sys.exit(0);
      want.push("Simple VMA close.");
      expect(simpleLog(m)).toEqual(want);
      m.checkInvariants();
    },
  );
});

describe("simple: mremap growth", () => {
  it("modern: a remapPfnRange VMA is VM_DONTEXPAND, growing it is -EFAULT; shrinking works", async () => {
    const {
      m,
      p,
      devices: [, pci],
    } = await kit.boot({ era: "modern" });
    const bar = pci.barAddress(0)!;
    const a = mapDevice(p, "/dev/simpler", { length: 2 * PAGE_SIZE, offset: bar });
    expect(p.sys.mremap(a, 2 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE)).toBe(-14);
    expect(p.sys.mremap(a, 2 * PAGE_SIZE, PAGE_SIZE, 0)).toBe(a);
    m.checkInvariants();
  });

  it.each(ERAS)("%s: /dev/simplen grows, and the new pages fault in through the handler", async (era) => {
    const {
      m,
      p,
      devices: [isa],
    } = await kit.boot({ era });
    isa.ram[0x3000] = 0x42;
    const a = mapDevice(p, "/dev/simplen", { length: PAGE_SIZE, offset: ISA_BASE });
    const b = p.sys.mremap(a, PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE);
    expect(b).toBeGreaterThan(0);
    expect(p.mmu.load8(b + 0x3000)).toBe(0x42);
    m.checkInvariants();
  });

  // LDD3: "if the VMA is extended with mremap and the nopage method is NULL, the kernel maps the zero
  // page". 2.6.10's remap_pfn_range set VM_IO|VM_RESERVED, not today's VM_DONTEXPAND|VM_PFNMAP, so
  // growing /dev/simpler worked and the new pages read zeros.
  it("2.6.10: growing /dev/simpler succeeds and the new pages are the zero page", async () => {
    const {
      m,
      p,
      devices: [, pci],
    } = await kit.boot({ era: "2.6.10" });
    const bar = pci.barAddress(0)!;
    pci.ram.fill(0xee);
    const a = mapDevice(p, "/dev/simpler", { length: PAGE_SIZE, offset: bar });
    const b = p.sys.mremap(a, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE);
    expect(b).toBeGreaterThan(0);
    expect(p.mmu.load32(b)).toBe(0xeeeeeeee);
    expect(p.mmu.load32(b + PAGE_SIZE)).toBe(0);
    m.checkInvariants();
  });
});

/** The VmFlags line of the smaps entry that starts at `addr`. */
function vmFlagsAt(m: Machine, p: Process, addr: number): string {
  const entry = m
    .procText(`/proc/${p.pid}/smaps`)
    .split(/\n(?=[0-9a-f]+-)/)
    .find((e) => e.startsWith(`${hex(addr)}-`));
  return /^VmFlags:(.*)$/m.exec(entry ?? "")?.[1]?.trim() ?? "";
}

/** The lines of /proc/pid/maps that name `path`. */
const mapsOf = (m: Machine, p: Process, path: string) =>
  m
    .procText(`/proc/${p.pid}/maps`)
    .split("\n")
    .filter((l) => l.endsWith(path));

// LDD3's simple_nopage_mmap: VM_IO at or past __pa(high_memory) or for an O_SYNC open, VM_RESERVED
// always. The 2.6.10 port does that; the modern port sets neither (as martinezjavier/ldd3 after v3.7),
// so the mapping can still grow with mremap.
describe("simple: /dev/simplen's VM_RESERVED and VM_IO (simple_nopage_mmap)", () => {
  const MARKED = VM_RESERVED | VM_DONTEXPAND | VM_DONTDUMP | VM_IO;

  it.each([
    ["modern", 1, 0],
    ["2.6.10", 2, VM_RESERVED],
  ] as const)(
    "%s: two adjacent mappings of one open file are %i VMA(s), VM_RESERVED in 2.6.10 only; each grows",
    async (era, vmas, flags) => {
      const {
        m,
        p,
        devices: [isa],
      } = await kit.boot({ era });
      isa.ram[0x3000] = 0x42;
      // Four pages of address space, then the device's pages 0-1 and 2-3 over its halves, in order.
      const [at, hi] = mapDeviceRanges(p, "/dev/simplen", [
        { length: 2 * PAGE_SIZE, offset: ISA_BASE },
        { length: 2 * PAGE_SIZE, offset: ISA_BASE + 2 * PAGE_SIZE },
      ]);
      expect(hi).toBe(at + 2 * PAGE_SIZE);
      // Today the second range joins the first before ->mmap would run (same file, flags and offsets);
      // 2.6.10 kept the two apart: VM_RESERVED is in its VM_SPECIAL (and its is_mergeable_vma() refused
      // a neighbour with ->close too).
      const lines = mapsOf(m, p, "/dev/simplen");
      expect(lines).toHaveLength(vmas);
      expect(lines[0]).toMatch(new RegExp(`^${hex(at)}-${hex(vmas === 1 ? at + 4 * PAGE_SIZE : hi)} rw-s `));
      expect(p.mm.vmaLookup(at)!.vmFlags & MARKED).toBe(flags);
      expect(p.mm.vmaLookup(hi)!.vmFlags & MARKED).toBe(flags);
      expect(p.mmu.load8(hi + 0x1000)).toBe(0x42);
      // VM_RESERVED left VM_DONTEXPAND alone in 2.6.10 (do_mremap asked that flag only): growth works.
      const grown = p.sys.mremap(at, 2 * PAGE_SIZE, 6 * PAGE_SIZE, MREMAP_MAYMOVE);
      expect(grown).toBeGreaterThan(0);
      expect(p.mm.vmaLookup(grown)!.vmFlags & MARKED).toBe(flags);
      expect(p.mmu.load8(grown + 0x3000)).toBe(0x42);
      m.checkInvariants();
    },
  );

  it.each(ERAS)("%s: VM_IO past the end of RAM or for an O_SYNC open, in 2.6.10 only", async (era) => {
    const {
      m,
      p,
      devices: [, pci],
    } = await kit.boot({ era });
    const bar = pci.barAddress(0)!;
    expect(bar).toBeGreaterThanOrEqual(m.mem.maxPfn * PAGE_SIZE); // at or past __pa(high_memory)
    const ram = mapDevice(p, "/dev/simplen", { length: PAGE_SIZE, offset: ISA_BASE });
    const sync = mapDevice(p, "/dev/simplen", {
      length: PAGE_SIZE,
      offset: ISA_BASE,
      openFlags: O_RDWR | O_SYNC,
    });
    const high = mapDevice(p, "/dev/simplen", { length: PAGE_SIZE, offset: bar });
    const plain = "rd wr sh mr mw me ms sd";
    const io = era === "2.6.10" ? "rd wr sh mr mw me ms io sd" : plain;
    expect([vmFlagsAt(m, p, ram), vmFlagsAt(m, p, sync), vmFlagsAt(m, p, high)]).toEqual([plain, io, io]);
    // VM_IO does not stop mremap growth either (2.6.10's do_mremap, today's vma_to_resize).
    const grown = p.sys.mremap(sync, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE);
    expect(grown).toBeGreaterThan(0);
    expect(vmFlagsAt(m, p, grown)).toBe(io);
    m.checkInvariants();
  });
});
