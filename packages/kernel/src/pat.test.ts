// Mapping attributes from a driver's side: ioremap variants and their memtype reservations, the
// debugfs views (pat_memtype_list, page_tables/current_user), vm_flags_set/clear's lock check and the
// VM_MAYWRITE rule of ->mmap.
import { pciFramebuffer } from "@faultline/devices";
import { describe, expect, it } from "vitest";
import { ioremap, iounmap, remapPfnRange, vmfInsertPfn } from "./driver-api";
import {
  type DriverDefinition,
  defineDriver,
  EBUSY,
  MAP_SHARED,
  Machine,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  VM_FAULT_NOPAGE,
  VM_IO,
  VM_MAYWRITE,
  VM_PFNMAP,
} from "./index";
import { archIoFreeMemtypeWc, archIoReserveMemtypeWc, ioremapUc, ioremapWc, pgprotNoncached } from "./pat";
import { pciIomap, pciIomapWc, pciIounmap, pciResourceStart } from "./pci";
import { pciDevOf } from "./pci-machine";
import { vmFlagsClear, vmFlagsSet } from "./vm-flags";

const RAM = 16 << 20;
const P = 4096;

async function fbMachine(drivers: DriverDefinition[] = []) {
  const fb = pciFramebuffer({ width: 64, height: 48 });
  const m = await Machine.create({ ramBytes: RAM, devices: [fb], drivers });
  const dev = pciDevOf(m, fb)!;
  const vram = m.withKernel(() => pciResourceStart(dev, 0));
  const regs = m.withKernel(() => pciResourceStart(dev, 2));
  return { m, dev, vram, regs };
}

const list = (m: Machine) => m.procText("/sys/kernel/debug/x86/pat_memtype_list");
const entry = (start: number, end: number, type: string) =>
  `PAT: [mem 0x${start.toString(16).padStart(16, "0")}-0x${end.toString(16).padStart(16, "0")}] ${type}\n`;

describe("ioremap and its memtype reservation", () => {
  it("ioremap reserves UC-, ioremap_wc WC, ioremap_uc UC; iounmap frees its own; a second iounmap warns", async () => {
    const { m, vram, regs } = await fbMachine();
    m.withKernel(() => {
      const r = ioremap(regs, 0x20)!;
      expect(list(m)).toBe(`PAT memtype list:\n${entry(regs, regs + P, "uncached-minus")}`);
      const w = ioremapWc(vram, 0x4000)!;
      expect(list(m)).toContain(entry(vram, vram + 0x4000, "write-combining"));
      iounmap(r);
      expect(list(m)).not.toContain("uncached-minus");
      iounmap(r);
      iounmap(w);
      const u = ioremapUc(regs, P)!;
      expect(list(m)).toBe(`PAT memtype list:\n${entry(regs, regs + P, "uncached")}`);
      iounmap(u);
    });
    expect(m.dmesg()).toContain("iounmap: bad address (this window was already unmapped)");
    expect(list(m)).toBe("PAT memtype list:\n");
  });

  it("a WC request over a range reserved UC- is granted as UC- (is_new_memtype_allowed), as is pci_iomap_wc", async () => {
    const { m, dev, regs } = await fbMachine();
    m.withKernel(() => {
      const uc = pciIomap(dev, 2)!;
      const wc = ioremapWc(regs, P)!;
      expect(wc).not.toBeNull();
      const wc2 = pciIomapWc(dev, 2)!;
      expect(list(m)).toBe(`PAT memtype list:\n${entry(regs, regs + P, "uncached-minus").repeat(3)}`);
      pciIounmap(dev, wc2);
      iounmap(wc);
      pciIounmap(dev, uc);
    });
    expect(list(m)).toBe("PAT memtype list:\n");
  });

  it("arch_io_reserve_memtype_wc: WC for pages mapped later one by one; -EBUSY when the types conflict", async () => {
    const { m, vram } = await fbMachine();
    m.withKernel(() => {
      expect(archIoReserveMemtypeWc(vram, 0x4000)).toBe(0);
      // ioremap (UC-) of the reserved aperture is allowed and gets WC, the type in force.
      const w = ioremap(vram, P)!;
      expect(list(m)).toBe(
        `PAT memtype list:\n${entry(vram, vram + 0x4000, "write-combining")}${entry(vram, vram + P, "write-combining")}`,
      );
      iounmap(w);
      archIoFreeMemtypeWc(vram, 0x4000);
      // Two different types in the range: memtype_check_conflict refuses.
      expect(archIoReserveMemtypeWc(vram, P)).toBe(0);
      const uc = ioremapUc(vram + P, P)!;
      expect(archIoReserveMemtypeWc(vram, 2 * P)).toBe(-EBUSY);
      iounmap(uc);
      archIoFreeMemtypeWc(vram, P);
    });
    expect(m.dmesg().some((l) => /x86\/PAT: .* conflicting memory types/.test(l))).toBe(true);
    expect(list(m)).toBe("PAT memtype list:\n");
  });
});

/** A char device mapping the framebuffer's BARs in ways the tests below choose. */
function mapper(mmap: (vma: Parameters<typeof vmFlagsSet>[0]) => number) {
  return defineDriver({
    name: "mapper",
    apiVersion: 1,
    init(c) {
      const major = c.allocChrdevRegion(0, 1, "mapper");
      c.cdevAdd(major, 0, 1, { mmap: (_f, vma) => mmap(vma) });
      c.createDevNode("mapper", major, 0);
      return 0;
    },
  });
}

describe("vm_flags_set / vm_flags_clear and ->mmap's flag rules", () => {
  it("in ->mmap they change the flags quietly; from a fault handler they warn (mmap_lock not held for write)", async () => {
    let regs = 0;
    const d = mapper((vma) => {
      vmFlagsSet(vma, VM_IO | VM_PFNMAP);
      vmFlagsClear(vma, VM_MAYWRITE);
      vma.vmOps = {
        fault(vmf) {
          vmFlagsSet(vmf.vma, 0x00080000); // VM_NORESERVE, from the wrong place
          return vmfInsertPfn(vmf.vma, vmf.address, regs / P);
        },
      };
      return 0;
    });
    const { m, regs: r } = await fbMachine([d]);
    regs = r;
    const p = m.spawn({ name: "user" });
    const fd = p.libc.open("/dev/mapper", O_RDWR);
    const a = p.libc.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
    expect(m.dmesg().some((l) => l.includes("mmap_lock"))).toBe(false);
    p.mmu.load32(a);
    expect(m.dmesg()).toContain(
      `vmFlagsSet: mmap_lock not held for write in vm_ops->fault (vma ${a.toString(16)}-${(a + P).toString(16)})`,
    );
    expect(m.dmesg().some((l) => l.startsWith("WARNING: CPU: 0 PID:") && l.includes("vma_start_write"))).toBe(
      true,
    );
    expect(VM_FAULT_NOPAGE).toBeGreaterThan(0);
  });

  it("->mmap adding VM_MAYWRITE to a mapping of a read-only file is a WARNING (__mmap_new_file_vma)", async () => {
    const d = mapper((vma) => {
      vmFlagsSet(vma, VM_MAYWRITE);
      return 0;
    });
    const { m } = await fbMachine([d]);
    const p = m.spawn({ name: "user" });
    const fd = p.libc.open("/dev/mapper", O_RDONLY);
    // VM_WARN_ON_ONCE: a warning, the mmap still succeeds.
    expect(p.libc.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0)).toBeGreaterThan(0);
    expect(
      m.dmesg().some((l) => l.includes("->mmap set VM_MAYWRITE on a mapping that may not be written")),
    ).toBe(true);
    expect(m.dmesg()).toContain(`WARNING: CPU: 0 PID: ${p.pid} at __mmap_new_file_vma (mm/vma.c) [mapper]`);
    // Once per machine: a second such mmap succeeds without another report.
    const warnings = () => m.dmesg().filter((l) => l.includes("at __mmap_new_file_vma")).length;
    expect(warnings()).toBe(1);
    expect(p.libc.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0)).toBeGreaterThan(0);
    expect(warnings()).toBe(1);
  });
});

describe("debugfs views", () => {
  it("a process reads the memtype list and its own page tables with the PTE's cache bits", async () => {
    let regs = 0;
    const d = mapper((vma) => {
      vma.vmPageProt = pgprotNoncached(vma.vmPageProt);
      return remapPfnRange(vma, vma.vmStart, regs / P, P, vma.vmPageProt);
    });
    const fbm = await fbMachine([d]);
    regs = fbm.regs;
    const { m } = fbm;
    const p = m.spawn({ name: "user" });
    const fd = p.libc.open("/dev/mapper", O_RDWR);
    const a = p.libc.mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const read = (path: string) => {
      const f = p.libc.open(path, O_RDONLY);
      const text = new TextDecoder().decode(p.libc.read(f, 1 << 16));
      p.libc.close(f);
      return text;
    };
    expect(read("/sys/kernel/debug/x86/pat_memtype_list")).toBe(
      `PAT memtype list:\n${entry(regs, regs + P, "uncached-minus")}`,
    );
    const hex = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
    expect(read("/sys/kernel/debug/page_tables/current_user")).toContain(
      `${hex(a)}-${hex(a + P)}           4K USR RW     PCD             x  pte\n`,
    );
    expect(p.sys.open("/sys/kernel/debug/x86/pat_memtype_list", O_RDWR)).toBe(-13);
    p.libc.munmap(a, P);
    expect(list(m)).toBe("PAT memtype list:\n");
  });
});
