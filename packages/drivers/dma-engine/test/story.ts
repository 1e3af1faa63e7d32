// The copy engine's story (docs/dma-and-direct-io.md): a process copies 5994 bytes across page
// boundaries by DMA between two of its own buffers, pinned for the duration.
import { pciDmaEngine } from "@faultline/devices";
import { MAP_ANONYMOUS, MAP_PRIVATE, Machine, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { dmaEngine, FLDMA_GET_COMPLETIONS } from "../src/index";

export async function main() {
  const m = await Machine.create({ ramBytes: 16 << 20, devices: [pciDmaEngine()], drivers: [dmaEngine()] });
  const p = m.spawn({ name: "dmacopy" });
  const mem = p.libc.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const src = mem + 100;
  const dst = mem + 2 * 4096 + 7;
  const text = new TextEncoder().encode("direct I/O by DMA ".repeat(333));
  p.mmu.write(src, text);
  const req = new DataView(new ArrayBuffer(24));
  req.setBigUint64(0, BigInt(src), true);
  req.setBigUint64(8, BigInt(dst), true);
  req.setBigUint64(16, BigInt(text.length), true);
  const fd = p.libc.open("/dev/fldma", O_RDWR);
  const written = p.libc.write(fd, new Uint8Array(req.buffer));
  return {
    machine: m,
    process: p,
    fd,
    expected: new TextDecoder().decode(text),
    copied: new TextDecoder().decode(p.mmu.read(dst, text.length)),
    written,
    completions: p.libc.ioctl(fd, FLDMA_GET_COMPLETIONS, 0),
    interrupts: m.procText("/proc/interrupts"),
    smaps: p.procSmaps(),
  };
}
