// fl_fb in a machine snapshot: a VRAM mapping (named vm_ops, the framebuffer as vm_private_data, its
// WC memtype from probe) and the register page (remap_pfn_range: a tracked UC- memtype) survive, and
// the restored machine goes on as the original: vblanks, faults on pages not touched yet, munmap.
import { pciFramebuffer } from "@faultline/devices";
import { MAP_SHARED, Machine, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { FLFB_GET_VBLANKS, pciFb } from "../src/index";

const PAGE = 4096;
const parts = () => ({ devices: [pciFramebuffer()], drivers: [pciFb()] });
const VIEWS = [
  "/proc/interrupts",
  "/proc/iomem",
  "/proc/bus/pci/devices",
  "/sys/kernel/debug/x86/pat_memtype_list",
  "/proc/meminfo",
];

function observe(m: Machine, pid: number, fd: number): string {
  const p = m.process(pid)!;
  return [
    ...VIEWS.map((v) => m.procText(v)),
    m.procText(`/proc/${pid}/maps`),
    m.procText(`/proc/${pid}/smaps`),
    m.dmesg().join("\n"),
    `vblanks ${p.sys.ioctl(fd, FLFB_GET_VBLANKS)} clock ${m.clockNs}`,
  ].join("\n---\n");
}

describe("fl_fb and machine snapshots", () => {
  it("keeps a VRAM mapping and the register page: same pixels, memtypes, vblanks and faults after restore", async () => {
    const a = await Machine.create({ ramBytes: 16 << 20, ...parts() });
    const p = a.spawn({ name: "fb" });
    const fd = p.sys.open("/dev/flfb0", O_RDWR) as number;
    const vram = p.sys.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const vramLen = 16384; // 64x48 pixels of 4 bytes, in the smallest power-of-two BAR
    const regs = p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, vramLen);
    expect(regs).toBeGreaterThan(0);
    p.mmu.write(vram + PAGE, [0xff, 0x80, 0x40, 0x20]);
    expect(p.mmu.load32(regs)).toBe(64); // width, through the uncached register page
    a.advanceClock(50_000_000);
    const b = await Machine.restore(a.snapshot(), parts());
    b.checkInvariants();
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    for (const m of [a, b]) {
      const q = m.process(p.pid)!;
      expect([...q.mmu.read(vram + PAGE, 4)]).toEqual([0xff, 0x80, 0x40, 0x20]);
      q.mmu.store8(vram + 3 * PAGE, 7); // a page never faulted before the snapshot
      expect(q.mmu.load32(regs + 4)).toBe(48);
      m.advanceClock(40_000_000);
      expect(q.sys.munmap(regs, PAGE)).toBe(0);
      expect(q.sys.munmap(vram, 4 * PAGE)).toBe(0);
      m.checkInvariants();
    }
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    expect(a.procText("/sys/kernel/debug/x86/pat_memtype_list")).toMatch(/write-combining/);
  });
});
