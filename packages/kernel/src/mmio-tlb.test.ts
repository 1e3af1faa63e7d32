// MMIO pages in the TLB (issue 11 §5, QEMU's TLB_MMIO): a process's access to a device register is
// served from the TLB entry (no walk, no FlatView search), and every event that changes what the
// access reaches drops the entry first: munmap, mprotect, a driver's zap, the PCI command register
// turning memory decoding off, a BAR moved, the device removed. The property at the end runs random
// sequences of all of them on two machines, one with the MMIO TLB and one without (every access
// walks and goes through the bus, as before), and requires the same results, signals, device state
// and guest-error log at every step.
import { PCI_MEMORY_ID, pciMemoryDevice } from "@faultline/devices";
import { PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_MEMORY } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DriverDefinition,
  defineDriver,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
  SIGSEGV,
  SignalError,
  unmapMappingRange,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  vmFlagsSet,
  vmfInsertPfn,
} from "./index";

const RAM = 16 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const ZAP = 0x7a01;
const REG_SCRATCH = 0x0c;
/** A free spot in the PCI hole for BAR 1 to move to. */
const MOVED_BAR = 0xc002_0000;

interface RegsControl {
  /** Physical address the fault handler maps (the register BAR, as probed at open). */
  phys: number;
  faults: number;
}

/**
 * /dev/regs: maps one page of physical memory (the register BAR) with vmfInsertPfn from its fault
 * handler, as pci-fb maps its VRAM; ioctl ZAP revokes every mapping (unmap_mapping_range).
 */
function regsDriver(ctl: RegsControl): DriverDefinition {
  return defineDriver({
    name: "regs",
    apiVersion: 1,
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, "regs");
      ctx.cdevAdd(major, 0, 1, {
        open: () => 0,
        unlockedIoctl(file, cmd) {
          if (cmd !== ZAP) return -25;
          unmapMappingRange(file, 0, 0);
          return 0;
        },
        mmap(_file, vma) {
          vmFlagsSet(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
          vma.vmOps = {
            fault(vmf) {
              ctl.faults++;
              if (vmf.pgoff !== 0) return VM_FAULT_SIGBUS;
              return vmfInsertPfn(vmf.vma, vmf.address, ctl.phys / 4096);
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("regs", major, 0);
      return 0;
    },
  });
}

async function setup(options: { mmioTlb?: boolean } = {}) {
  const dev = pciMemoryDevice({ barSize: 0x10000 });
  const ctl: RegsControl = { phys: 0, faults: 0 };
  const m = await Machine.create({ ramBytes: RAM, devices: [dev], drivers: [regsDriver(ctl)] });
  if (options.mmioTlb === false) {
    // The reference: a machine whose MMU is never handed a resolved MMIO page, so every MMIO access
    // walks and decodes through the bus (what Faultline did before MMIO entered the TLB).
    m.physAccess.mmioPage = () => null;
  }
  const bar = dev.pci.barAddress(1)!;
  ctl.phys = bar;
  const p = m.spawn();
  const fd = p.libc.open("/dev/regs", O_RDWR);
  const va = p.libc.mmap(0, 4096, RW, MAP_SHARED, fd, 0);
  return { m, dev, ctl, p, fd, va, bar };
}

/** What an access ended in: its value, or the signal it raised. */
function attempt(f: () => unknown): string {
  try {
    const v = f();
    return typeof v === "number" ? `0x${v.toString(16)}` : "ok";
  } catch (e) {
    if (SignalError.is(e)) return `${e.signal}/${e.code}`;
    throw e;
  }
}

const guestLog = (m: Machine) => m.phys.as.log.list().map((e) => `${e.kind} ${e.message}`);

describe("MMIO pages in the TLB", () => {
  it("the first access walks and caches the page; later loads and stores reach the device without a walk", async () => {
    const { m, p, va, bar } = await setup();
    expect(p.mmu.load32(va)).toBe(PCI_MEMORY_ID);
    p.mmu.checkTlb();
    p.mmu.store32(va + REG_SCRATCH, 0x1234); // the first store walks to set the dirty bit
    const walks = p.mmu.walks;
    for (let i = 0; i < 100; i++) {
      p.mmu.store32(va + REG_SCRATCH, i);
      expect(p.mmu.load32(va + REG_SCRATCH)).toBe(i);
      expect(m.phys.physRead32(bar + REG_SCRATCH)).toBe(i); // the device's register, not a copy
    }
    expect(p.mmu.walks).toBe(walks);
    p.mmu.checkTlb();
    m.checkInvariants();
  });

  it("an access the device refuses is refused and logged exactly as through the bus", async () => {
    const { m, p, va, bar } = await setup();
    expect(p.mmu.load32(va)).toBe(PCI_MEMORY_ID); // cached now
    m.phys.as.log.clear();
    // pci-memory accepts aligned 32-bit accesses only.
    expect(p.mmu.load8(va + 1)).toBe(0xff);
    expect(p.mmu.load16(va + 2)).toBe(0xffff);
    expect(p.mmu.load32(va + 2)).toBe(0xffffffff);
    p.mmu.store16(va + REG_SCRATCH, 0xbeef);
    const viaTlb = guestLog(m);
    m.phys.as.log.clear();
    expect(m.phys.physRead8(bar + 1)).toBe(0xff);
    expect(m.phys.physRead16(bar + 2)).toBe(0xffff);
    expect(m.phys.as.physRead(bar + 2, 4)).toBe(0xffffffff);
    m.phys.as.physWrite(bar + REG_SCRATCH, 2, 0xbeef);
    expect(viaTlb).toEqual(guestLog(m));
    expect(viaTlb).toHaveLength(4);
    expect(m.phys.physRead32(bar + REG_SCRATCH)).toBe(0); // the refused store changed nothing
  });

  it("munmap, mprotect and a driver's zap drop the entry before they return", async () => {
    const { m, ctl, p, fd, va } = await setup();
    p.mmu.store32(va + REG_SCRATCH, 7);
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(7);
    // mprotect read-only: loads still reach the device, a store is SEGV_ACCERR.
    expect(p.libc.mprotect(va, 4096, PROT_READ)).toBe(0);
    p.mmu.checkTlb();
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(7);
    p.libc.sigaction(SIGSEGV, { handler: () => {} });
    expect(attempt(() => p.mmu.store32(va + REG_SCRATCH, 8))).toBe("SIGSEGV/SEGV_ACCERR");
    expect(p.libc.mprotect(va, 4096, PROT_NONE)).toBe(0);
    expect(attempt(() => p.mmu.load32(va))).toBe("SIGSEGV/SEGV_ACCERR");
    expect(p.libc.mprotect(va, 4096, RW)).toBe(0);
    // The driver's zap: the next access faults into the driver again.
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(7);
    const faults = ctl.faults;
    expect(p.libc.ioctl(fd, ZAP, 0)).toBe(0);
    p.mmu.checkTlb();
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(7);
    expect(ctl.faults).toBe(faults + 1);
    // munmap: the address is gone.
    expect(p.libc.munmap(va, 4096)).toBe(0);
    p.mmu.checkTlb();
    expect(attempt(() => p.mmu.load32(va))).toBe("SIGSEGV/SEGV_MAPERR");
    m.checkInvariants();
  });

  it("the PCI command register turning memory decoding off, a moved BAR and a removed device drop it", async () => {
    const { m, dev, p, va, bar } = await setup();
    p.mmu.store32(va + REG_SCRATCH, 0x55);
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0x55);
    const cmd = dev.pci.configRead(PCI_COMMAND, 2);
    dev.pci.configWrite(PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
    p.mmu.checkTlb();
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0xffffffff); // nothing decodes the address: all-ones
    p.mmu.store32(va + REG_SCRATCH, 0x66); // dropped
    dev.pci.configWrite(PCI_COMMAND, 2, cmd);
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0x55);
    // BAR 1 moved: the PTE still points at the old address, where nothing answers now.
    const barReg = PCI_BASE_ADDRESS_0 + 4;
    dev.pci.configWrite(barReg, 4, MOVED_BAR);
    expect(dev.pci.barAddress(1)).toBe(MOVED_BAR);
    p.mmu.checkTlb();
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0xffffffff);
    expect(m.phys.physRead32(MOVED_BAR + REG_SCRATCH)).toBe(0x55);
    dev.pci.configWrite(barReg, 4, bar);
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0x55);
    p.mmu.checkTlb();
    // The device removed.
    m.phys.removePciDevice(dev.pci);
    p.mmu.checkTlb();
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0xffffffff);
    m.checkInvariants();
  });

  it("checkTlb catches an MMIO entry a missing flush left behind, which still reaches only what the bus decodes", async () => {
    const { m, dev, p, va } = await setup();
    p.mmu.store32(va + REG_SCRATCH, 0x77);
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0x77);
    p.mm.tlbClients.delete(p.mmu); // the kernel no longer tells this MMU anything
    const cmd = dev.pci.configRead(PCI_COMMAND, 2);
    dev.pci.configWrite(PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
    expect(() => p.mmu.checkTlb()).toThrow(/as MMIO, which the bus no longer resolves/);
    // The stale entry belongs to the old FlatView: it goes through the bus, which floats.
    expect(p.mmu.load32(va + REG_SCRATCH)).toBe(0xffffffff);
    p.mmu.flushAll();
    p.mmu.checkTlb();
    p.mm.tlbClients.add(p.mmu);
    m.checkInvariants();
  });

  it("a forked child caches its own entries; the parent's munmap does not touch them", async () => {
    const { m, p, va } = await setup();
    p.mmu.store32(va + REG_SCRATCH, 0x99);
    const c = m.process(p.libc.fork())!;
    expect(c.mmu.load32(va + REG_SCRATCH)).toBe(0x99);
    expect(p.libc.munmap(va, 4096)).toBe(0);
    c.mmu.checkTlb();
    c.mmu.store32(va + REG_SCRATCH, 0xaa);
    expect(m.phys.physRead32(m.phys.as.find(0xc001_0000)!.start + REG_SCRATCH)).toBe(0xaa);
    m.checkInvariants();
  });
});

// ---- the same random sequences with and without the MMIO TLB ------------------------------------

type Step =
  | { op: "load"; size: 1 | 2 | 4; off: number }
  | { op: "store"; size: 1 | 2 | 4; off: number; value: number }
  | { op: "mprotect"; prot: number }
  | { op: "remap" }
  | { op: "zap" }
  | { op: "decode"; on: boolean }
  | { op: "bar"; moved: boolean };

const offset = fc.oneof(fc.constantFrom(0, 4, 8, 12, 16, 0x20, 0xffc), fc.integer({ min: 0, max: 4095 }));
const size = fc.constantFrom<1 | 2 | 4>(1, 2, 4, 4, 4);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("load" as const), size, off: offset }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("store" as const),
      size,
      off: offset,
      value: fc.integer({ min: 0, max: 0xffffffff }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("mprotect" as const),
      prot: fc.constantFrom(PROT_NONE, PROT_READ, RW),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: "remap" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "zap" as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("decode" as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("bar" as const), moved: fc.boolean() }) },
);

/** Runs `steps` on one machine; returns a line per step (the result and the device's registers). */
async function run(steps: readonly Step[], mmioTlb: boolean): Promise<string[]> {
  const s = await setup({ mmioTlb });
  const { m, dev, p, fd, bar } = s;
  let va = s.va;
  p.libc.sigaction(SIGSEGV, { handler: () => {} });
  p.libc.sigaction(SIGBUS, { handler: () => {} });
  const cmd = dev.pci.configRead(PCI_COMMAND, 2);
  const lines: string[] = [];
  for (const st of steps) {
    let r: string;
    const a = va;
    switch (st.op) {
      case "load":
        r = attempt(() =>
          (st.size === 1 ? p.mmu.load8 : st.size === 2 ? p.mmu.load16 : p.mmu.load32).call(p.mmu, a + st.off),
        );
        break;
      case "store":
        r = attempt(() => {
          const f = st.size === 1 ? p.mmu.store8 : st.size === 2 ? p.mmu.store16 : p.mmu.store32;
          f.call(p.mmu, a + st.off, st.value);
          return undefined;
        });
        break;
      case "mprotect":
        r = String(p.libc.mprotect(va, 4096, st.prot));
        break;
      case "remap":
        r = String(p.libc.munmap(va, 4096));
        va = p.libc.mmap(0, 4096, RW, MAP_SHARED, fd, 0);
        break;
      case "zap":
        r = String(p.libc.ioctl(fd, ZAP, 0));
        break;
      case "decode":
        dev.pci.configWrite(PCI_COMMAND, 2, st.on ? cmd : cmd & ~PCI_COMMAND_MEMORY);
        r = "ok";
        break;
      case "bar":
        dev.pci.configWrite(PCI_BASE_ADDRESS_0 + 4, 4, st.moved ? MOVED_BAR : bar);
        r = "ok";
        break;
    }
    if (mmioTlb) p.mmu.checkTlb();
    const where = dev.pci.barAddress(1) ?? bar;
    const regs = [0, 4, 12].map((o) => m.phys.physRead32(where + o).toString(16)).join(",");
    lines.push(`${JSON.stringify(st)} -> ${r} [${regs}] alive=${p.alive}`);
  }
  lines.push(...guestLog(m));
  m.checkInvariants();
  return lines;
}

describe("MMIO TLB against the uncached path", () => {
  it("random sequences of accesses, mprotect, remaps, zaps, decode toggles and BAR moves: the same on both", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        expect(await run(steps, true)).toEqual(await run(steps, false));
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
