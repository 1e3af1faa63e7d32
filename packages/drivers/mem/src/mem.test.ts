/**
 * /dev/mem's mmap (drivers/char/mem.c mmap_mem, arch/x86/mm/init.c devmem_is_allowed) from a user
 * process: the first MiB and non-RAM (device memory, PCI BARs) may be mapped, other System RAM not.
 */
import { PCI_MEMORY_ID, pciMemoryDevice } from "@faultline/devices";
import {
  EFAULT,
  EINVAL,
  EPERM,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  O_RDWR,
  O_SYNC,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEEK_SET,
} from "@faultline/kernel";
import { tryMapDevice, useMachine } from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import { mem } from "./index";

const MiB = 2 ** 20;

/** Every machine: a PCI device with a 1 MiB BAR, /dev/mem, a process "mapper". */
const kit = useMachine({
  ramBytes: 64 * MiB,
  devices: () => [pciMemoryDevice({ barSize: MiB })],
  drivers: () => [mem()],
  spawn: { name: "mapper" },
});

/** mmap of /dev/mem opened O_RDWR | O_SYNC: the address or -errno. */
const mmapMem = (
  p: Process,
  length: number,
  offset: number,
  flags = MAP_SHARED,
  prot = PROT_READ | PROT_WRITE,
) => tryMapDevice(p, "/dev/mem", { length, offset, flags, prot, openFlags: O_RDWR | O_SYNC });

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe.each(["modern", "2.6.10"] as const)("/dev/mem (%s)", (era) => {
  it("is char 1:1", async () => {
    const { m } = await kit.boot({ era });
    expect(m.procText("/proc/devices")).toMatch(/^\s*1 mem$/m);
  });

  it("maps the first MiB: the System ROM and VGA text memory", async () => {
    const { m, p } = await kit.boot({ era });
    const rom = mmapMem(p, 0x10000, 0xf0000, MAP_SHARED, PROT_READ);
    expect(text(p.mmu.read(rom, 20))).toBe("Faultline System ROM");
    expect([...p.mmu.read(rom + 0xfff0, 5)]).toEqual([0xea, 0x5b, 0xe0, 0x00, 0xf0]);
    const vga = mmapMem(p, PAGE_SIZE, 0xb8000);
    p.mmu.store16(vga, 0x0741);
    expect(m.phys.physRead16(0xb8000)).toBe(0x0741);
    m.checkInvariants();
  });

  it("refuses System RAM above 1 MiB with -EPERM, also when a range only ends there", async () => {
    const { m, p } = await kit.boot({ era });
    expect(mmapMem(p, PAGE_SIZE, 0x200000)).toBe(-EPERM);
    expect(mmapMem(p, 2 * PAGE_SIZE, 0xff000)).toBe(-EPERM);
    expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
    m.checkInvariants();
  });

  it("maps non-RAM: a PCI BAR's memory and its registers (loads reach the device)", async () => {
    const {
      m,
      p,
      devices: [pci],
    } = await kit.boot({ era });
    const ram = mmapMem(p, MiB, pci.barAddress(0)!);
    p.mmu.store32(ram + 0x8000, 0x1234);
    expect(new DataView(pci.ram.buffer).getUint32(0x8000, true)).toBe(0x1234);
    const regs = mmapMem(p, PAGE_SIZE, pci.barAddress(1)!);
    expect(p.mmu.load32(regs)).toBe(PCI_MEMORY_ID);
    // remap_pfn_range marks VM_IO|VM_PFNMAP|VM_DONTEXPAND|VM_DONTDUMP today, VM_IO (|VM_RESERVED) in 2.6.10.
    expect(m.procText(`/proc/${p.pid}/smaps`)).toContain(
      era === "modern" ? "VmFlags: rd wr sh mr mw me ms pf io de dd" : "VmFlags: rd wr sh mr mw me ms io",
    );
    m.checkInvariants();
  });

  it("refuses ranges past the physical address width with -EINVAL", async () => {
    const { m, p } = await kit.boot({ era });
    expect(mmapMem(p, PAGE_SIZE, 2 ** 52)).toBe(-EINVAL);
    expect(mmapMem(p, 2 * PAGE_SIZE, 2 ** 52 - PAGE_SIZE)).toBe(-EINVAL);
    m.checkInvariants();
  });

  it("allows private mappings: a write makes a private copy, the device is not changed", async () => {
    const {
      m,
      p,
      devices: [pci],
    } = await kit.boot({ era });
    pci.ram[0] = 0x11;
    const a = mmapMem(p, PAGE_SIZE, pci.barAddress(0)!, MAP_PRIVATE);
    expect(p.mmu.load8(a)).toBe(0x11);
    p.mmu.store8(a, 0x22);
    expect(p.mmu.load8(a)).toBe(0x22);
    expect(pci.ram[0]).toBe(0x11);
    pci.ram[0] = 0x33; // the copy no longer tracks the device
    expect(p.mmu.load8(a)).toBe(0x22);
    m.checkInvariants();
  });

  it("a fork child reads the mapping (PFNMAP PTEs are copied)", async () => {
    const {
      m,
      p,
      devices: [pci],
    } = await kit.boot({ era });
    pci.ram[100] = 0x7e;
    const a = mmapMem(p, PAGE_SIZE, pci.barAddress(0)!);
    const child = m.process(p.sys.fork())!;
    expect(child.mmu.load8(a + 100)).toBe(0x7e);
    m.checkInvariants();
  });

  it("strict: false (no CONFIG_STRICT_DEVMEM) maps System RAM", async () => {
    const { m, p } = await kit.boot({ era, drivers: [mem({ strict: false })] });
    m.phys.physWrite32(0x200000, 0xc0ffee);
    const a = mmapMem(p, PAGE_SIZE, 0x200000, MAP_SHARED, PROT_READ);
    expect(a).toBeGreaterThan(0);
    // 2.6.10's remap_pfn_range left ordinary RAM unmapped: it faults in as the zero page.
    expect(p.mmu.load32(a)).toBe(era === "modern" ? 0xc0ffee : 0);
    m.checkInvariants();
  });
});

describe("/dev/mem: eras differ", () => {
  it("modern: RAM below 1 MiB maps as itself", async () => {
    const { m, p } = await kit.boot({ era: "modern" });
    m.phys.physWrite32(0x10000, 0xdeadbeef);
    const a = mmapMem(p, PAGE_SIZE, 0x10000, MAP_SHARED, PROT_READ);
    expect(p.mmu.load32(a)).toBe(0xdeadbeef);
    m.checkInvariants();
  });

  it("modern: growing a /dev/mem mapping with mremap is -EFAULT (VM_DONTEXPAND|VM_PFNMAP)", async () => {
    const {
      m,
      p,
      devices: [pci],
    } = await kit.boot({ era: "modern" });
    const a = mmapMem(p, PAGE_SIZE, pci.barAddress(0)!);
    expect(p.sys.mremap(a, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE)).toBe(-EFAULT);
    expect(p.sys.mremap(a, PAGE_SIZE, PAGE_SIZE, 0)).toBe(a);
    m.checkInvariants();
  });

  // LDD3: "mapper /dev/mem 0x10000 0x1000" shows zeros on 2.6.10: remap_pfn_range then mapped only
  // reserved pages and left ordinary RAM to fault in the zero page. The mm layer does not model that
  // (it maps RAM as itself in both eras); this documents the gap and flips when it is fixed.
  it("2.6.10: RAM below 1 MiB reads as zeros (remap_pfn_range skipped non-reserved pages)", async () => {
    const { m, p } = await kit.boot({ era: "2.6.10" });
    m.phys.physWrite32(0x10000, 0xdeadbeef);
    const a = mmapMem(p, PAGE_SIZE, 0x10000, MAP_SHARED, PROT_READ);
    expect(p.mmu.load32(a)).toBe(0);
  });
});

describe.each(["modern", "2.6.10"] as const)("/dev/mem read and write (%s)", (era) => {
  it("reads and writes the first MiB; RAM above it is -EPERM; beyond RAM is -EFAULT", async () => {
    const {
      m,
      p,
      devices: [pci],
    } = await kit.boot({ era });
    const fd = p.libc.open("/dev/mem", O_RDWR);
    expect(p.libc.lseek(fd, 0xf0000, SEEK_SET)).toBe(0xf0000);
    expect(text(p.libc.read(fd, 20))).toBe("Faultline System ROM");
    p.libc.lseek(fd, 0xb8000, SEEK_SET);
    expect(p.libc.write(fd, new Uint8Array([0x41, 0x07]))).toBe(2);
    expect(m.phys.physRead16(0xb8000)).toBe(0x0741);
    p.libc.lseek(fd, 0x200000, SEEK_SET);
    expect(p.sys.read(fd, 4)).toBe(-EPERM);
    p.libc.lseek(fd, 0xff000, SEEK_SET);
    expect(p.sys.read(fd, 2 * PAGE_SIZE)).toBe(-EPERM); // runs into RAM above 1 MiB
    p.libc.lseek(fd, pci.barAddress(0)!, SEEK_SET);
    expect(p.sys.read(fd, 4)).toBe(-EFAULT); // above high_memory: mmap it instead
    m.checkInvariants();
  });

  it("strict: false reads System RAM", async () => {
    const { m, p } = await kit.boot({ era, drivers: [mem({ strict: false })] });
    m.phys.physWrite32(0x200000, 0x64636261);
    const fd = p.libc.open("/dev/mem", O_RDWR);
    p.libc.lseek(fd, 0x200000, SEEK_SET);
    expect(text(p.libc.read(fd, 4))).toBe("abcd");
    m.checkInvariants();
  });
});
