// A process's MMIO register load and store (issue 11 §5) against a direct physRead32/physWrite32 of
// the same register, measured side by side in one run (STYLE.md: ratios, not times).
//   cd packages/kernel && npx tsx --conditions=@faultline/source bench/mmio.bench.ts
// Goal: the process's load ≤ 2 × the direct physRead32, and ≤ 40 ns on a quiet machine.
//
// The device is pci-memory's register BAR (32-bit registers 0x00..0x0c, all readable), mapped
// uncached into a process with remap_pfn_range by the test driver `simple` (/dev/simpler). Every
// loop walks the four registers in turn with the same address arithmetic, `base + ((i * 4) & 12)`:
// the process's loops from the mapping's virtual address, the baselines from the BAR's physical one.
// The device's own callback (no bus at all) is the floor any emulator dispatches to.
import { pciMemoryDevice } from "@faultline/devices";
import { measureSideBySide, recordResults } from "../../../bench/record.ts";
import { simple } from "../src/__fixtures__/test-drivers.ts";
import { MAP_SHARED, Machine, O_RDWR, PROT_READ, PROT_WRITE } from "../src/index.ts";

/** A machine with pci-memory and a process that maps its register BAR. */
async function boot(mmioTlb: boolean) {
  const dev = pciMemoryDevice({ barSize: 0x10000 });
  const m = await Machine.create({ ramBytes: 64 * 1024 * 1024, devices: [dev], drivers: [simple()] });
  // Without the MMIO TLB (what Faultline did before it): the MMU is never handed a resolved MMIO
  // page, so every access walks the page tables and searches the FlatView.
  // (Replaced, not deleted: the object keeps its shape, so the comparison is not of a slower one.)
  if (!mmioTlb) m.physAccess.mmioPage = () => null;
  const regs = dev.pci.barAddress(1);
  if (regs === null) throw new Error("pci-memory: BAR 1 is not assigned");
  const p = m.spawn();
  const fd = p.libc.open("/dev/simpler", O_RDWR);
  const va = p.libc.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, regs);
  return { m, regs, p, va };
}
const { m, regs, p, va } = await boot(true);
const uncached = await boot(false);
const mmu = p.mmu;
const mmuUncached = uncached.p.mmu;
const vaUncached = uncached.va;
const phys = m.phys;
const as = phys.as;
// The floor: pci-memory's region ops, reached without any bus (the MemoryRegion the BAR decodes to).
const region = as.find(regs)?.region;
const ops = region?.ops;
if (!ops) throw new Error("pci-memory: BAR 1 does not decode to an MMIO region");
// Registers 0x0c (scratch) and 0x04 (liveness) are writable; the store loops write the scratch one.
const SCRATCH = 0x0c;

const loops = {
  processLoad32: (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + mmu.load32(va + ((i * 4) & 12))) | 0;
    return s;
  },
  processLoad32NoMmioTlb: (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + mmuUncached.load32(vaUncached + ((i * 4) & 12))) | 0;
    return s;
  },
  physRead32: (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + phys.physRead32(regs + ((i * 4) & 12))) | 0;
    return s;
  },
  addressSpaceRead32: (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + as.physRead32(regs + ((i * 4) & 12))) | 0;
    return s;
  },
  deviceCallback: (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + (ops.read((i * 4) & 12, 4) as number)) | 0;
    return s;
  },
  processStore32: (n: number) => {
    for (let i = 0; i < n; i++) mmu.store32(va + SCRATCH, i);
    return n;
  },
  physWrite32: (n: number) => {
    for (let i = 0; i < n; i++) phys.physWrite32(regs + SCRATCH, i);
    return n;
  },
};
const walksBefore = mmu.walks;
const min = measureSideBySide(loops, { iterations: 100_000, rounds: 41, statistic: "min" });
const med = measureSideBySide(loops, { iterations: 100_000, rounds: 41 });
const walks = mmu.walks - walksBefore;
m.checkInvariants();
uncached.m.checkInvariants();

recordResults("kernel: MMIO register access from a process", {
  "ns/process load32 of an MMIO register": min.processLoad32!,
  "ns/physRead32 of the same register (PhysMachine)": min.physRead32!,
  "ns/addressSpace.physRead32 of the same register": min.addressSpaceRead32!,
  "ns/the device's read callback alone": min.deviceCallback!,
  "ratio process load32 / physRead32 (goal ≤ 2)": min.processLoad32! / min.physRead32!,
  "ns/process load32 without the MMIO TLB (walk + FlatView search each time)": min.processLoad32NoMmioTlb!,
  "ratio process load32 without the MMIO TLB / physRead32": min.processLoad32NoMmioTlb! / min.physRead32!,
  "speed-up of the MMIO TLB (load32 without / with)": min.processLoad32NoMmioTlb! / min.processLoad32!,
  "ratio process load32 / device callback": min.processLoad32! / min.deviceCallback!,
  "ns/process store32 to an MMIO register": min.processStore32!,
  "ns/physWrite32 of the same register": min.physWrite32!,
  "ratio process store32 / physWrite32": min.processStore32! / min.physWrite32!,
  "medians: ratio process load32 / physRead32": med.processLoad32! / med.physRead32!,
  "medians: ratio process store32 / physWrite32": med.processStore32! / med.physWrite32!,
  "page walks per 1000 process accesses (MMIO TLB)": (walks * 1000) / (2 * 43 * 2 * 100_000),
  statistic: "fastest of 41 rounds of 100,000 accesses (medians of the same number of rounds beside)",
});
