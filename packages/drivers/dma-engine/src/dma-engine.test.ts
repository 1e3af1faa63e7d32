import { pciDmaEngine } from "@faultline/devices";
import {
  EFAULT,
  EINVAL,
  gupPinnedPageCount,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  pciDevOf,
} from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { main } from "../test/story";
import { dmaEngine, FLDMA_GET_COMPLETIONS } from "./index";

const request = (src: number, dst: number, len: number) => {
  const v = new DataView(new ArrayBuffer(24));
  v.setBigUint64(0, BigInt(src), true);
  v.setBigUint64(8, BigInt(dst), true);
  v.setBigUint64(16, BigInt(len), true);
  return new Uint8Array(v.buffer);
};

describe("fl_dma", () => {
  it("leaves no pins behind, and the destination is the process's own copy after fork", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20, devices: [pciDmaEngine()], drivers: [dmaEngine()] });
    const p = m.spawn();
    const buf = p.libc.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.mmu.write(buf, new TextEncoder().encode("parent"));
    p.mmu.write(buf + 4096, new TextEncoder().encode("......"));
    const child = m.process(p.libc.fork())!;
    const fd = p.libc.open("/dev/fldma", O_RDWR);
    expect(p.libc.write(fd, request(buf, buf + 4096, 6))).toBe(24);
    expect(new TextDecoder().decode(p.mmu.read(buf + 4096, 6))).toBe("parent");
    // FOLL_WRITE broke COW before the device wrote: the child still sees its dots.
    expect(new TextDecoder().decode(child.mmu.read(buf + 4096, 6))).toBe("......");
    expect(gupPinnedPageCount(m)).toBe(0);
    expect(p.libc.ioctl(fd, FLDMA_GET_COMPLETIONS, 0)).toBe(1);
    m.checkInvariants();
  });

  it("refuses what cannot be pinned (-EFAULT), bad requests (-EINVAL); cleans up at rmmod", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20, devices: [pciDmaEngine()], drivers: [dmaEngine()] });
    const p = m.spawn();
    const ro = p.libc.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const rw = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const fd = p.libc.open("/dev/fldma", O_RDWR);
    expect(p.sys.write(fd, request(rw, ro, 16))).toBe(-EFAULT);
    expect(p.sys.write(fd, request(0x10000, rw, 16))).toBe(-EFAULT);
    expect(p.sys.write(fd, request(rw, rw + 64, 0))).toBe(-EINVAL);
    expect(p.sys.write(fd, new Uint8Array(8))).toBe(-EINVAL);
    expect(gupPinnedPageCount(m)).toBe(0);
    const free = m.mem.nrFreePages;
    expect(m.unloadDriver("fl_dma")).toBe(0);
    expect(m.mem.nrFreePages).toBe(free + 1); // the descriptor page
    expect(m.dmesg().join("\n")).not.toContain("pending DMA allocations");
    m.checkInvariants();
  });

  it("the story's copy crosses pages on both sides: three descriptors, one MSI", async () => {
    const r = await main();
    const dev = pciDevOf(r.machine, r.machine.devices[0]!)!;
    expect(dev.isBusmaster).toBe(true);
    expect(r.machine.phys.pci.functions.find((f) => f.name === dev.name)!.config[0x40 + 2]! & 1).toBe(1);
    expect(r.copied).toBe(r.expected);
  });
});
