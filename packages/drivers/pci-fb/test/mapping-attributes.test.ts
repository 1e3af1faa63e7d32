/**
 * The framebuffer's mapping attributes: VRAM write-combined (PAT entry 1, PWT in the PTE), registers
 * uncached-minus (PCD), as the memtype list and the page-table dump show them. The outputs quoted in
 * docs/write-a-pci-driver.md ("Mapping attributes") are checked here against a run.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pciFramebuffer } from "@faultline/devices";
import { MAP_SHARED, Machine, O_RDONLY, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { pciFb } from "../src/index";

const root = resolve(import.meta.dirname, "../../../..");
const DOC = "docs/write-a-pci-driver.md";
/** The PTE's cache bits: PWT (bit 3), PCD (bit 4), PAT (bit 7). */
const PWT = 0x8;
const PCD = 0x10;
const PAT = 0x80;

async function run() {
  const m = await Machine.create({
    ramBytes: 16 << 20,
    devices: [pciFramebuffer({ width: 64, height: 48 })],
    drivers: [pciFb()],
  });
  const p = m.spawn({ name: "painter" });
  const fd = p.libc.open("/dev/flfb0", O_RDWR);
  const pixels = p.libc.mmap(0, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const regs = p.libc.mmap(0, 0x1000, PROT_READ, MAP_SHARED, fd, 0x4000);
  p.mmu.store32(pixels, 0xff0000ff); // the first VRAM page faults in
  const read = (path: string) => {
    const f = p.libc.open(path, O_RDONLY);
    const text = new TextDecoder().decode(p.libc.read(f, 1 << 16));
    p.libc.close(f);
    return text;
  };
  return { m, p, fd, pixels, regs, read };
}

/** The ```text block that follows `<!-- output: name -->` in the guide. */
function docOutput(name: string): string {
  const doc = readFileSync(resolve(root, DOC), "utf8");
  const m = new RegExp(`<!-- output: ${name} -->\\s*\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`${DOC} has no output block "${name}"`);
  return m[1]!;
}

describe("pci-fb mapping attributes", () => {
  it("VRAM PTEs are write-combining, the register PTE uncached-minus", async () => {
    const { p, pixels, regs } = await run();
    const cache = (a: number) => p.mm.pgd.getPte(a) & (PAT | PCD | PWT);
    expect(cache(pixels)).toBe(PWT);
    expect(cache(regs)).toBe(PCD);
    expect(p.mm.pgd.getPte(pixels + 0x1000)).toBe(0); // not touched yet: page by page
    p.mmu.load32(pixels + 0x1000);
    expect(cache(pixels + 0x1000)).toBe(PWT);
  });

  it("shows what the guide says: pat_memtype_list and the page-table dump", async () => {
    const { read, pixels, regs } = await run();
    expect(read("/sys/kernel/debug/x86/pat_memtype_list")).toBe(docOutput("pat_memtype_list"));
    const mine = read("/sys/kernel/debug/page_tables/current_user")
      .split("\n")
      .filter((l) => {
        const start = Number.parseInt(l.slice(2, 18), 16);
        return start >= Math.min(pixels, regs) && start < Math.max(pixels, regs) + 0x4000;
      })
      .map((l) => `${l}\n`)
      .join("");
    expect(mine).toBe(docOutput("current_user"));
  });

  it("each reservation goes with what made it: munmap, remove", async () => {
    const { m, p, fd, regs, pixels, read } = await run();
    p.libc.munmap(regs, 0x1000);
    p.libc.munmap(pixels, 0x4000);
    const list = read("/sys/kernel/debug/x86/pat_memtype_list").split("\n").filter(Boolean);
    // The probe's two: VRAM (archIoReserveMemtypeWc) and the register window (pciIomap).
    expect(list.slice(1).map((l) => l.split("] ")[1])).toEqual(["write-combining", "uncached-minus"]);
    p.libc.close(fd);
    expect(m.unloadDriver("fl_fb")).toBe(0);
    expect(m.procText("/sys/kernel/debug/x86/pat_memtype_list")).toBe("PAT memtype list:\n");
    m.checkInvariants();
  });
});
