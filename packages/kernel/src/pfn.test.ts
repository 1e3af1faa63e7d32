/**
 * The PFN_* helpers and the driver API's pfn/address checks: a pfn no machine has (negative, as
 * `bar >> PAGE_SHIFT` gives for a BAR above 2 GiB; fractional; beyond MAXPHYADDR) is refused with what
 * Linux returns and a WARNING in dmesg saying why, and installs nothing.
 */
import { pciMemoryDevice } from "@faultline/devices";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defineDriver,
  EINVAL,
  ioRemapPfnRange,
  ioremap,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_SHIFT,
  PAGE_SIZE,
  PFN_DOWN,
  PFN_PHYS,
  PFN_UP,
  PROT_READ,
  PROT_WRITE,
  pfnToPage,
  pfnValid,
  remapPfnRange,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VM_PFNMAP,
  type Vma,
  vmfInsertPfn,
} from "./index";

describe("PFN_DOWN, PFN_UP, PFN_PHYS", () => {
  it("are exact where >> is not (addresses at or above 2 GiB)", () => {
    expect(0xfebf0000 >> PAGE_SHIFT).toBe(-5136); // what a C-minded driver writes
    expect(PFN_DOWN(0xfebf0000)).toBe(0xfebf0);
    expect(PFN_DOWN(0xfebf0fff)).toBe(0xfebf0);
    expect(PFN_UP(0xfebf0001)).toBe(0xfebf1);
    expect(PFN_UP(0xfebf0000)).toBe(0xfebf0);
    expect(PFN_PHYS(0xfebf0)).toBe(0xfebf0000);
    expect(PFN_PHYS(2 ** 40 - 1)).toBe(2 ** 52 - PAGE_SIZE);
  });

  it("round-trip for every address below MAXPHYADDR", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 - 1 }), (a) => {
        const pfn = PFN_DOWN(a);
        expect(Number.isInteger(pfn)).toBe(true);
        expect(PFN_PHYS(pfn)).toBeLessThanOrEqual(a);
        expect(a - PFN_PHYS(pfn)).toBeLessThan(PAGE_SIZE);
        expect(PFN_UP(a)).toBe(a % PAGE_SIZE === 0 ? pfn : pfn + 1);
      }),
    );
  });
});

/** A driver whose mmap maps the BAR with the pfn `pfnOf(bar)` computes (remap, ioremap or fault-time). */
function barDriver(
  how: "remap" | "ioremap" | "fault",
  pfnOf: (bar: number) => number,
  bar: () => number,
  addrOf: (vma: Vma) => number = (vma) => vma.vmStart,
) {
  return defineDriver({
    name: "bar",
    apiVersion: 1,
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, "bar");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          const size = vma.vmEnd - vma.vmStart;
          if (how === "remap") return remapPfnRange(vma, addrOf(vma), pfnOf(bar()), size, vma.vmPageProt);
          if (how === "ioremap") return ioRemapPfnRange(vma, addrOf(vma), pfnOf(bar()), size);
          vma.vmFlags |= VM_PFNMAP;
          vma.vmOps = {
            fault(vmf) {
              return vmfInsertPfn(vmf.vma, vmf.address, pfnOf(bar()) + vmf.pgoff - vmf.vma.vmPgoff);
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("bar", major, 0);
      return 0;
    },
  });
}

async function boot(
  how: "remap" | "ioremap" | "fault",
  pfnOf: (bar: number) => number,
  addrOf?: (vma: Vma) => number,
) {
  const pci = pciMemoryDevice({ barSize: 0x10000 });
  const m = await Machine.create({
    ramBytes: 16 << 20,
    devices: [pci],
    drivers: [barDriver(how, pfnOf, () => pci.pci.barAddress(0)!, addrOf)],
  });
  const bar = pci.pci.barAddress(0)!;
  const p = m.spawn({ name: "app" });
  const fd = p.libc.open("/dev/bar", O_RDWR);
  return { m, p, fd, bar, pci };
}

/** The WARNING report's lines, from "cut here" to the end marker. */
function warning(m: Machine): string[] {
  const log = m.dmesg();
  const at = log.lastIndexOf("------------[ cut here ]------------");
  expect(at).toBeGreaterThanOrEqual(0);
  return log.slice(at, log.indexOf("---[ end trace 0000000000000000 ]---", at) + 1);
}

const shifted = (bar: number) => bar >> PAGE_SHIFT;

describe("remapPfnRange and ioRemapPfnRange refuse pfns no machine has", () => {
  it("a BAR above 2 GiB is above 2 GiB (the premise)", async () => {
    const { bar } = await boot("remap", PFN_DOWN);
    expect(bar).toBeGreaterThanOrEqual(2 ** 31);
    expect(shifted(bar)).toBeLessThan(0);
  });

  for (const how of ["remap", "ioremap"] as const) {
    const fn = how === "remap" ? "remapPfnRange" : "ioRemapPfnRange";
    it(`${fn}: bar >> PAGE_SHIFT is -EINVAL with a WARNING naming PFN_DOWN's answer`, async () => {
      const { m, p, fd, bar } = await boot(how, shifted);
      expect(p.sys.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)).toBe(-EINVAL);
      const w = warning(m);
      expect(w[1]).toBe(
        `${fn}: pfn ${shifted(bar)} (-0x${(-shifted(bar)).toString(16)}) is negative: addr >> PAGE_SHIFT of an address at or above 2 GiB is negative in JavaScript (a signed 32-bit shift); PFN_DOWN(addr) would give 0x${PFN_DOWN(bar).toString(16)}`,
      );
      expect(w[2]).toBe(`WARNING: CPU: 0 PID: ${p.pid} at remap_pfn_range (mm/memory.c) [bar]`);
      expect(w[3]).toBe("Modules linked in: bar");
      expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
      m.checkInvariants();
    });

    it(`${fn}: PFN_DOWN(bar) maps the BAR`, async () => {
      const { m, p, fd, bar } = await boot(how, PFN_DOWN);
      const a = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      p.mmu.store32(a + 8, 0x1234abcd);
      expect(m.phys.physRead32(bar + 8)).toBe(0x1234abcd);
      expect(m.dmesg().join("\n")).not.toContain("WARNING");
      m.checkInvariants();
    });
  }

  it.each([
    ["a fraction", (bar: number) => bar / PAGE_SIZE + 0.5, /pfn \d+\.5 is not an integer/],
    ["beyond MAXPHYADDR", () => 2 ** 40, /pfn 0x10000000000 is beyond MAXPHYADDR/],
    ["an address passed as a pfn", (bar: number) => bar * PAGE_SIZE, /pfn 0x[0-9a-f]+ is beyond MAXPHYADDR/],
    ["a range that ends beyond MAXPHYADDR", () => 2 ** 40 - 1, /ends beyond MAXPHYADDR/],
    ["a string", () => "0xfebf0" as unknown as number, /pfn 0xfebf0 is not a number \(string\)/],
  ])("remapPfnRange: %s is -EINVAL with a WARNING", async (_what, pfnOf, why) => {
    const { m, p, fd } = await boot("remap", pfnOf);
    expect(p.sys.mmap(0, 0x2000, PROT_READ, MAP_SHARED, fd, 0)).toBe(-EINVAL);
    expect(warning(m)[1]).toMatch(why);
    m.checkInvariants();
  });

  it("remapPfnRange: an unaligned addr is -EINVAL with a WARNING (WARN_ON_ONCE(!PAGE_ALIGNED(addr)))", async () => {
    const { m, p, fd } = await boot("remap", PFN_DOWN, (vma) => vma.vmStart + 4);
    expect(p.sys.mmap(0, 0x1000, PROT_READ, MAP_SHARED, fd, 0)).toBe(-EINVAL);
    expect(warning(m)[1]).toMatch(/^remapPfnRange: addr 0x[0-9a-f]+4 is not page-aligned$/);
    m.checkInvariants();
  });
});

describe("vmfInsertPfn refuses pfns no machine has", () => {
  it.each([
    ["bar >> PAGE_SHIFT", shifted, /is negative: addr >> PAGE_SHIFT/],
    ["a fraction", (bar: number) => bar / PAGE_SIZE + 0.25, /is not an integer/],
    ["beyond MAXPHYADDR", () => 2 ** 41, /is beyond MAXPHYADDR/],
  ])("%s: VM_FAULT_SIGBUS (the access gets SIGBUS), a WARNING, no PTE", async (_what, pfnOf, why) => {
    const { m, p, fd } = await boot("fault", pfnOf);
    const a = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(() => p.mmu.store8(a, 1)).toThrow(/SIGBUS/);
    const w = warning(m);
    expect(w[1]).toMatch(why);
    expect(w[1]).toMatch(/^vmfInsertPfn: /);
    expect(w[2]).toBe(`WARNING: CPU: 0 PID: ${p.pid} at vmf_insert_pfn (mm/memory.c) [bar]`);
    m.checkInvariants();
  });

  it("PFN_DOWN(bar): the store reaches the BAR", async () => {
    const { m, p, fd, bar } = await boot("fault", PFN_DOWN);
    const a = p.libc.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store8(a + 0x1003, 0x77);
    expect(m.phys.physRead8(bar + 0x1003)).toBe(0x77);
    expect(m.dmesg().join("\n")).not.toContain("WARNING");
    m.checkInvariants();
  });

  it("returns VM_FAULT_NOPAGE for a good pfn and VM_FAULT_SIGBUS for a bad one, called directly", async () => {
    let answers: number[] = [];
    const { m, p, fd, bar } = await boot("fault", PFN_DOWN);
    const a = p.libc.mmap(0, 0x1000, PROT_READ, MAP_SHARED, fd, 0);
    const vma = p.mm.findVma(a)!;
    m.withKernel(() => {
      answers = [vmfInsertPfn(vma, a, bar >> PAGE_SHIFT), vmfInsertPfn(vma, a, PFN_DOWN(bar))];
    });
    expect(answers).toEqual([VM_FAULT_SIGBUS, VM_FAULT_NOPAGE]);
    expect(p.mmu.load8(a)).toBe(m.phys.physRead8(bar));
    m.checkInvariants();
  });
});

describe("pfnValid, pfnToPage, ioremap", () => {
  it("pfnValid: not a pfn is not valid (no warning: it is the check)", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20 });
    const answers = m.withKernel(() => [-1, 0.5, 2 ** 40, Number.NaN, 0].map((pfn) => pfnValid(pfn)));
    expect(answers).toEqual([false, false, false, false, true]);
    expect(m.dmesg().join("\n")).not.toContain("WARNING");
  });

  it("pfnToPage: throws saying why (an oops in a driver)", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20 });
    expect(() => m.withKernel(() => pfnToPage(0xfebf0000 >> PAGE_SHIFT))).toThrow(
      "pfnToPage: pfn -5136 (-0x1410) is negative: addr >> PAGE_SHIFT of an address at or above 2 GiB is negative in JavaScript (a signed 32-bit shift); PFN_DOWN(addr) would give 0xfebf0",
    );
    expect(() => m.withKernel(() => pfnToPage(1.5))).toThrow("pfnToPage: pfn 1.5 is not an integer");
    expect(m.withKernel(() => pfnToPage(1)).pfn).toBe(1);
  });

  it("ioremap: an impossible address or size is null with a WARNING; a good one works", async () => {
    const { m, bar } = await boot("remap", PFN_DOWN);
    const cases: [number, number, RegExp][] = [
      [
        bar | 0,
        4,
        /physical address -0x[0-9a-f]+ is negative: a \| or & on an address at or above 2 GiB .*0x[0-9a-f]+ was probably meant/,
      ],
      [bar + 0.5, 4, /is not an integer/],
      [2 ** 52, 4, /is beyond MAXPHYADDR/],
      [bar, 0, /size 0 is not a positive integer/],
      [2 ** 52 - 2, 4, /ends beyond MAXPHYADDR/],
    ];
    for (const [paddr, size, why] of cases) {
      expect(m.withKernel(() => ioremap(paddr, size))).toBeNull();
      const w = warning(m);
      expect(w[1]).toMatch(/^ioremap: invalid physical address: /);
      expect(w[1]).toMatch(why);
      expect(w[2]).toBe("WARNING: CPU: 0 PID: 0 at __ioremap_caller (arch/x86/mm/ioremap.c)");
    }
    const io = m.withKernel(() => ioremap(bar, 0x1000))!;
    m.withKernel(() => io.writel(0xdeadbeef, 16));
    expect(m.phys.physRead32(bar + 16)).toBe(0xdeadbeef);
  });
});
