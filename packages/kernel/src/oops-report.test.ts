/**
 * The kernel's oops path in detail (internal/oops.ts, vm-ops.ts, bug.ts; issue 16's mutation scope):
 * the exact lines of the oops and WARNING reports, who gets marked for SIGKILL, the current kernel
 * restored after withKernel, vm_ops a driver does not have staying absent, one wrapper per driver's
 * vm_ops (so VMAs of one file still merge), and the reference accounting of pages a fault handler
 * hands over. The oops table itself (every callback throwing) is oops.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  allocPages,
  type DriverDefinition,
  defineDriver,
  EINVAL,
  freePages,
  getPage,
  ioremap,
  MAP_FIXED,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  type Page,
  PROT_READ,
  PROT_WRITE,
  pfnToPage,
  pfnValid,
  putPage,
  remapPfnRange,
  SignalError,
  VM_FAULT_SIGBUS,
  type Vma,
  type VmOperations,
  vmfInsertPfn,
} from "./index";

const RAM = 16 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const TAINT = "Tainted: G      D  O       6.18.0-faultline";

interface Ctl {
  /** Throw from this callback ("init", "close", "ioctl"). */
  throwIn: string | null;
  /** The fault handler gives its own reference on page 0 away to the PTE (get for the PTE, put its own). */
  giveAway: boolean;
  /** A nopage handler instead of ->fault, forgetting getPage. */
  forgetfulNopage: boolean;
  /** The driver API calls its ioctl makes (their results). */
  ioctl: (() => unknown) | null;
  pages: Page[];
  /** The order-2 block of the forgetful ->nopage. */
  block: Page | null;
  vmas: Vma[];
}

const newCtl = (over: Partial<Ctl> = {}): Ctl => ({
  throwIn: null,
  giveAway: false,
  forgetfulNopage: false,
  ioctl: null,
  pages: [],
  block: null,
  vmas: [],
  ...over,
});

/** A driver with four pages served by ->fault (or ->nopage); no ->mremap, no ->name, ->close only if asked. */
function pager(name: string, ctl: Ctl, withClose = false): DriverDefinition {
  const boom = (cb: string) => {
    if (ctl.throwIn === cb) throw new Error(`${cb} exploded`);
  };
  const ops: VmOperations = ctl.forgetfulNopage
    ? {
        // scullp's bug (bad-page.test.ts's forgetful driver, through ->nopage): a tail page of an
        // order-2 block (refcount 0) handed over without getPage.
        nopage: (vma, address) =>
          pfnToPage(ctl.block!.pfn + 1 + vma.vmPgoff + (address - vma.vmStart) / PAGE_SIZE),
      }
    : {
        fault: (vmf) => {
          const p = ctl.pages[vmf.pgoff % 4]!;
          getPage(p);
          if (ctl.giveAway && vmf.pgoff === 0 && ctl.pages[0] !== undefined) {
            // The driver's own hold (from allocPages) goes with the page: it keeps none.
            putPage(p);
            ctl.giveAway = false;
          }
          vmf.page = p;
          return 0;
        },
      };
  if (withClose) ops.close = () => boom("close");
  return defineDriver({
    name,
    apiVersion: 1,
    init(ctx) {
      boom("init");
      for (let i = 0; i < 4; i++) ctl.pages.push(allocPages(0, 0)!);
      if (ctl.forgetfulNopage) ctl.block = allocPages(2, 0);
      const major = ctx.allocChrdevRegion(0, 1, name);
      ctx.cdevAdd(major, 0, 1, {
        mmap: (_f, vma) => {
          vma.vmOps = ops;
          ctl.vmas.push(vma);
          return 0;
        },
        unlockedIoctl: () => {
          boom("ioctl");
          ctl.ioctl?.();
          return 0;
        },
      });
      ctx.createDevNode(name, major, 0);
      return 0;
    },
    exit() {
      for (const p of ctl.pages) if (p) freePages(p, 0);
      if (ctl.block) freePages(ctl.block, 2);
    },
  });
}

/** The lines of the last report that starts with `first`, up to its end marker. */
function report(m: Machine, first: string | RegExp): string[] {
  const log = m.dmesg();
  let at = -1;
  for (let i = log.length - 1; i >= 0 && at < 0; i--) {
    if (typeof first === "string" ? log[i] === first : first.test(log[i]!)) at = i;
  }
  expect(at, log.join("\n")).toBeGreaterThanOrEqual(0);
  const end = log.findIndex((l, i) => i > at && l.startsWith("---[ end trace "));
  return log.slice(at, end + 1);
}

const CUT = "------------[ cut here ]------------";

describe("the oops report", () => {
  it("names the process the kernel worked for, counts oopses, and marks only that process", async () => {
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const victims = [m.spawn({ name: "first" }), m.spawn({ name: "second" })];
    ctl.throwIn = "ioctl";
    for (const [i, p] of victims.entries()) {
      const fd = p.sys.open("/dev/pager", O_RDWR);
      expect(() => p.sys.ioctl(fd, 1, 0)).toThrow(SignalError);
      expect(p.exitSignal).toBe("SIGKILL");
      expect(report(m, /^BUG: driver pager oops in fops->unlocked_ioctl/)).toEqual([
        "BUG: driver pager oops in fops->unlocked_ioctl: ioctl exploded",
        `Oops: 0000 [#${i + 1}] SMP`,
        `CPU: 0 PID: ${p.pid} Comm: ${p.comm} ${TAINT}`,
        `---[ end trace ${String(i + 1).padStart(16, "0")} ]---`,
      ]);
    }
    expect(victims.map((p) => p.comm)).toEqual(["first", "second"]);
    m.checkInvariants();
  });

  it("a throw from code no driver wrapper covers is the kernel's oops, blamed on no driver", async () => {
    // vm_ops installed after ->mmap returned (here from an ioctl) are not wrapped: their throw
    // reaches the fault path itself.
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const p = m.spawn({ name: "late" });
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    ctl.ioctl = () => {
      ctl.vmas[0]!.vmOps = {
        fault: () => {
          throw new Error("unwrapped");
        },
      };
    };
    expect(p.sys.ioctl(fd, 1, 0)).toBe(0);
    expect(() => p.mmu.load8(a)).toThrow(SignalError);
    expect(p.exitSignal).toBe("SIGKILL");
    expect(report(m, /^BUG: /)).toEqual([
      "BUG: kernel oops in page fault: unwrapped",
      "Oops: 0000 [#1] SMP",
      `CPU: 0 PID: ${p.pid} Comm: late ${TAINT}`,
      "---[ end trace 0000000000000001 ]---",
    ]);
    expect(m.oopses().map((o) => o.driver)).toEqual(["kernel"]);
    m.checkInvariants();
  });

  it("an oops with no process (module init) is swapper/0's, PID 0", async () => {
    const ctl = newCtl({ throwIn: "init" });
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    expect(report(m, /^BUG: driver pager oops in init/)).toEqual([
      "BUG: driver pager oops in init: init exploded",
      "Oops: 0000 [#1] SMP",
      `CPU: 0 PID: 0 Comm: swapper/0 ${TAINT}`,
      "---[ end trace 0000000000000001 ]---",
    ]);
    m.checkInvariants();
  });

  it("an oops in ->close while the process exits does not mark the exiting process again", async () => {
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl, true)] });
    const p = m.spawn({ name: "leaver" });
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    p.mmu.store8(a, 1);
    ctl.throwIn = "close";
    expect(p.sys.exit(3)).toBe(0);
    expect(m.dmesg()).toContain("BUG: driver pager oops in vm_ops->close: close exploded");
    // It ends as it asked to (exit code 3, no signal); a zombie is never left marked for SIGKILL.
    expect(p.state).toBe("zombie");
    expect(p.exitSignal).toBeNull();
    expect(p.exitCode).toBe(3);
    expect(p.killPending).toBe(false);
    m.checkInvariants();
  });
});

describe("withKernel", () => {
  it("restores the kernel that was current before it (none, or the outer machine's)", async () => {
    const m1 = await Machine.create({ ramBytes: RAM });
    const m2 = await Machine.create({ ramBytes: 2 * RAM });
    expect(() => pfnValid(0)).toThrow(/no current kernel/);
    expect(m1.withKernel(() => pfnValid(RAM / PAGE_SIZE - 1))).toBe(true);
    expect(() => pfnValid(0)).toThrow(/no current kernel/);
    // Inside m1, m2's withKernel runs on m2 and hands m1 back.
    const inner = m1.withKernel(() => {
      const r = [pfnValid(RAM / PAGE_SIZE + 1)];
      r.push(m2.withKernel(() => pfnValid(RAM / PAGE_SIZE + 1)));
      r.push(pfnValid(RAM / PAGE_SIZE + 1));
      return r;
    });
    expect(inner).toEqual([false, true, false]);
    expect(() => pfnValid(0)).toThrow(/no current kernel/);
    // A throw leaves no current kernel behind either.
    expect(() =>
      m1.withKernel(() => {
        throw new Error("tool bug");
      }),
    ).toThrow("tool bug");
    expect(() => pfnValid(0)).toThrow(/no current kernel/);
  });
});

describe("the WARNING report", () => {
  it("lists every loaded module, and names the driver whose code runs", async () => {
    const a = newCtl();
    const b = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("alpha", a), pager("beta", b)] });
    const p = m.spawn({ name: "app" });
    const fd = p.sys.open("/dev/beta", O_RDWR);
    let got: unknown = null;
    b.ioctl = () => {
      got = ioremap(-1, 4096);
    };
    expect(p.sys.ioctl(fd, 1, 0)).toBe(0);
    expect(got).toBeNull();
    expect(report(m, CUT)).toEqual([
      CUT,
      "ioremap: invalid physical address: physical address -0x1 is negative: a | or & on an address at or above 2 GiB makes it a signed 32-bit number in JavaScript; 0xffffffff was probably meant",
      `WARNING: CPU: 0 PID: ${p.pid} at __ioremap_caller (arch/x86/mm/ioremap.c) [beta]`,
      "Modules linked in: alpha beta",
      "---[ end trace 0000000000000000 ]---",
    ]);
    expect(p.state).toBe("running"); // a WARNING kills nobody
  });

  it.each<[string, unknown, string]>([
    ["a bigint", 4096n, "physical address 4096n is not a number (bigint)"],
    ["a string", "0x1000", "physical address 0x1000 is not a number (string)"],
    [
      "-2^31 (the lowest | can give)",
      -(2 ** 31),
      "physical address -0x80000000 is negative: a | or & on an address at or above 2 GiB makes it a signed 32-bit number in JavaScript; 0x80000000 was probably meant",
    ],
    ["below -2^31", -(2 ** 31) - 4096, "physical address -0x80001000 is negative"],
  ])("ioremap of %s: null, and the WARNING says why", async (_what, paddr, why) => {
    const m = await Machine.create({ ramBytes: RAM });
    expect(m.withKernel(() => ioremap(paddr as number, 4096))).toBeNull();
    expect(report(m, CUT).slice(1, 3)).toEqual([
      `ioremap: invalid physical address: ${why}`,
      "WARNING: CPU: 0 PID: 0 at __ioremap_caller (arch/x86/mm/ioremap.c)",
    ]);
  });

  it("ioremap of physical address 0 is no WARNING", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    expect(m.withKernel(() => ioremap(0, 4096))).not.toBeNull();
    expect(m.dmesg().join("\n")).not.toContain("WARNING");
  });

  it.each<[string, unknown, string]>([
    ["a bigint", 16n, "pfn 16n is not a number (bigint)"],
    [
      "-2^19 (the lowest addr >> 12 can give)",
      -(2 ** 19),
      "pfn -524288 (-0x80000) is negative: addr >> PAGE_SHIFT of an address at or above 2 GiB is negative in JavaScript (a signed 32-bit shift); PFN_DOWN(addr) would give 0x80000",
    ],
    ["below -2^19", -(2 ** 19) - 1, "pfn -524289 (-0x80001) is negative"],
  ])("remapPfnRange of %s: -EINVAL, and the WARNING says why", async (_what, pfn, why) => {
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const p = m.spawn({ name: "app" });
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    const vma = ctl.vmas[0]!;
    let r: unknown = null;
    ctl.ioctl = () => {
      r = remapPfnRange(vma, a, pfn as number, PAGE_SIZE);
    };
    expect(p.sys.ioctl(fd, 1, 0)).toBe(0);
    expect(r).toBe(-EINVAL);
    expect(report(m, CUT).slice(1, 3)).toEqual([
      `remapPfnRange: ${why}`,
      `WARNING: CPU: 0 PID: ${p.pid} at remap_pfn_range (mm/memory.c) [pager]`,
    ]);
  });

  it("outside any machine there is no log: a bad pfn still gets its error code, nothing throws", async () => {
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const p = m.spawn();
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    const vma = ctl.vmas[0]!;
    const before = m.dmesg().length;
    expect(vmfInsertPfn(vma, a, -1)).toBe(VM_FAULT_SIGBUS);
    expect(remapPfnRange(vma, a, -1, PAGE_SIZE)).toBe(-EINVAL);
    expect(m.dmesg().length).toBe(before);
    m.checkInvariants();
  });
});

describe("the driver's vm_ops as the kernel wraps them", () => {
  it("a driver without ->mremap and ->name: mremap and /proc/<pid>/maps work, no oops", async () => {
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const p = m.spawn();
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    p.mmu.store8(a + PAGE_SIZE, 42);
    const to = a + 64 * PAGE_SIZE;
    expect(p.sys.mremap(a, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to)).toBe(to);
    expect(p.mmu.load8(to + PAGE_SIZE)).toBe(42);
    expect(p.procMaps()).toContain("/dev/pager");
    expect(m.oopses()).toEqual([]);
    expect(p.state).toBe("running");
    m.checkInvariants();
  });

  it("two mappings of one file made separately merge once they agree (one wrapper per driver's vm_ops)", async () => {
    const ctl = newCtl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const p = m.spawn();
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, 4 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    // The upper half mapped again, read-only: a VMA of its own (->mmap called again).
    expect(
      p.sys.mmap(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 2 * PAGE_SIZE),
    ).toBe(a + 2 * PAGE_SIZE);
    expect(p.procMaps().trim().split("\n")).toHaveLength(2);
    // Made writable again, it is the same file, flags and offsets: vma_modify merges it into the first.
    expect(p.sys.mprotect(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, RW)).toBe(0);
    const lines = p.procMaps().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${a.toString(16)}-${(a + 4 * PAGE_SIZE).toString(16)} rw-s `));
    p.mmu.store8(a + 3 * PAGE_SIZE, 9);
    expect(p.mmu.load8(a + 3 * PAGE_SIZE)).toBe(9);
    m.checkInvariants();
  });

  it("a fault handler that gives its own reference to the PTE keeps none: the counts add up", async () => {
    const ctl = newCtl({ giveAway: true });
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const page0 = ctl.pages[0]!;
    const p = m.spawn();
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    p.mmu.store8(a, 5);
    expect(m.mem.pageCount(page0.pfn)).toBe(1); // the PTE's, and nobody else's
    m.checkInvariants();
    // The driver must not free it at rmmod any more; the process's exit frees it.
    delete ctl.pages[0];
    expect(p.sys.exit(0)).toBe(0);
    m.checkInvariants();
    expect(m.mem.pageCount(page0.pfn)).toBe(0);
  });

  it("a ->nopage handler that forgets getPage is named as such in the bad page report", async () => {
    const ctl = newCtl({ forgetfulNopage: true });
    const m = await Machine.create({ ramBytes: RAM, drivers: [pager("pager", ctl)] });
    const p = m.spawn({ name: "victim" });
    const fd = p.sys.open("/dev/pager", O_RDWR);
    const a = p.sys.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    p.mmu.load8(a + PAGE_SIZE);
    expect(p.sys.munmap(a, 2 * PAGE_SIZE)).toBe(0);
    expect(m.dmesg().join("\n")).toContain(
      "page mapped by driver pager's vm_ops->nopage, which took no reference on it (getPage)",
    );
    expect(m.badPages().map((b) => [b.pfn, b.driver])).toEqual([[ctl.block!.pfn + 2, "pager"]]);
  });
});
