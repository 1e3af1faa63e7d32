import type { Scenario } from "./scenario";

const ISA_BASE = 0xd0000;
const REGION_SIZE = 0x4000;
const OK = { code: 0 } as const;

/**
 * The book's story end to end (LDD3 chapter 15): two processes sharing /dev/simplen pages on ISA
 * memory, a private COW mapping, an mremap growth of a VMA without a fault handler, region-remap
 * offsets and its -EINVAL, a PCI BAR mapped with remap_pfn_range (and nopage failing there) —
 * told in 2.6.10, then again on today's kernel. A third act leaves the book's page for the rest of a
 * device's life: PCI drivers probed for their functions, the framebuffer's VRAM shared by two
 * processes (one draws a frame per vblank, the 60 Hz interrupt the device raises from the machine's
 * virtual clock, while the other watches), a DMA copy into a user buffer pinned for the device.
 */
export const DEFAULT_SCENARIO: Scenario = {
  name: "ldd3-chapter-15",
  description: "LDD3 chapter 15 on ISA and PCI memory, in the book's 2.6.10 and in today's kernel",
  eras: ["2.6.10", "modern"],
  machine: {
    ramBytes: 64 * 1024 * 1024,
    devices: [
      { type: "isaMemory", base: ISA_BASE, size: 0x10000, name: "isa-mem" },
      { type: "pciMemoryDevice", barSize: 0x100000, name: "pci-mem" },
      { type: "pciFramebuffer" },
      { type: "pciDmaEngine" },
    ],
    drivers: [
      { type: "simple" },
      { type: "nopage" },
      { type: "regionRemap", start: ISA_BASE + 0x8000, size: REGION_SIZE },
      { type: "pciFb" },
      { type: "dmaEngine" },
    ],
  },
  programs: [
    { program: "builtin:share", argv: [String(ISA_BASE)], expect: { "2.6.10": OK, modern: OK } },
    // Growing a VMA without a fault handler: zero-filled pages in the book, SIGBUS today.
    { program: "builtin:grow", argv: [], expect: { "2.6.10": OK, modern: { signal: "SIGBUS" } } },
    { program: "builtin:region", argv: [String(REGION_SIZE)], expect: { "2.6.10": OK, modern: OK } },
    { program: "builtin:pci", argv: ["0000:00:02.0"], expect: { "2.6.10": OK, modern: OK } },
    // nopage cannot serve PCI memory (no struct page): SIGBUS in both eras.
    {
      program: "builtin:pci-nopage",
      argv: ["0000:00:02.0"],
      expect: { "2.6.10": { signal: "SIGBUS" }, modern: { signal: "SIGBUS" } },
    },
    // Act three: probe, iomem with the driver's claim, VRAM drawn per vblank while another reads it, a DMA copy.
    { program: "builtin:fb", argv: [], expect: { "2.6.10": OK, modern: OK } },
    { program: "builtin:dma", argv: [], expect: { "2.6.10": OK, modern: OK } },
  ],
};
