// Write notification (vma_wants_writenotify): a shared writable mapping whose driver has
// ->page_mkwrite (pages with struct page, e.g. fb_deferred_io) or ->pfn_mkwrite (VM_PFNMAP) gets
// read-only PTEs from its faults, and the first write to each page goes through the callback
// (mm/memory.c do_shared_fault, wp_page_shared, wp_pfn_shared). An error from it ends the fault with
// its signal; a throw is an oops that kills the writer.
import { describe, expect, it } from "vitest";
import {
  allocPages,
  type DriverDefinition,
  defineDriver,
  freePages,
  getPage,
  MAP_SHARED,
  Machine,
  O_RDWR,
  type Page,
  PROT_READ,
  PROT_WRITE,
  SignalError,
  VM_FAULT_SIGBUS,
  VM_PFNMAP,
  type VmOperations,
  vmfInsertPfn,
} from "./index";

interface Ctl {
  /** What ->page_mkwrite / ->pfn_mkwrite do: count and allow, refuse with SIGBUS, or throw. */
  mode: "ok" | "sigbus" | "throw";
  /** pgoffs the callback was called for, in order. */
  calls: number[];
  pages: Page[];
}

/** Minor 0: pages with struct page and ->page_mkwrite; minor 1: VM_PFNMAP via vmfInsertPfn and ->pfn_mkwrite. */
function notifyDriver(ctl: Ctl): DriverDefinition {
  const mkwrite = (which: string) => (vmf: { pgoff: number }) => {
    if (ctl.mode === "throw") throw new Error(`${which} exploded`);
    if (ctl.mode === "sigbus") return VM_FAULT_SIGBUS;
    ctl.calls.push(vmf.pgoff);
    return 0;
  };
  const pageOps: VmOperations = {
    fault(vmf) {
      const p = ctl.pages[vmf.pgoff];
      if (!p) return VM_FAULT_SIGBUS;
      getPage(p);
      vmf.page = p;
      return 0;
    },
    pageMkwrite: mkwrite("page_mkwrite"),
  };
  const pfnOps: VmOperations = {
    fault(vmf) {
      const p = ctl.pages[vmf.pgoff];
      return p ? vmfInsertPfn(vmf.vma, vmf.address, p.pfn) : VM_FAULT_SIGBUS;
    },
    pfnMkwrite: mkwrite("pfn_mkwrite"),
  };
  return defineDriver({
    name: "notify",
    apiVersion: 1,
    init(ctx) {
      for (let i = 0; i < 4; i++) ctl.pages.push(allocPages(0, 0)!);
      const major = ctx.allocChrdevRegion(0, 2, "notify");
      ctx.cdevAdd(major, 0, 2, {
        mmap(file, vma) {
          if (file.inode.minor === 1) {
            vma.vmFlags |= VM_PFNMAP;
            vma.vmOps = pfnOps;
          } else vma.vmOps = pageOps;
          return 0;
        },
      });
      ctx.createDevNode("notify", major, 0);
      ctx.createDevNode("notifypfn", major, 1);
      return 0;
    },
    exit() {
      for (const p of ctl.pages) freePages(p, 0);
    },
  });
}

async function boot() {
  const ctl: Ctl = { mode: "ok", calls: [], pages: [] };
  const m = await Machine.create({ ramBytes: 16 * 1024 * 1024, drivers: [notifyDriver(ctl)] });
  return { m, ctl };
}

for (const [dev, cb] of [
  ["/dev/notify", "page_mkwrite"],
  ["/dev/notifypfn", "pfn_mkwrite"],
] as const) {
  describe(`${cb} (${dev})`, () => {
    it("a read maps the page read-only; the first write to it notifies once, later writes do not", async () => {
      const { m, ctl } = await boot();
      const p = m.spawn();
      const fd = p.libc.open(dev, O_RDWR);
      const a = p.libc.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      expect(p.mmu.load8(a + 4096)).toBe(0);
      expect(ctl.calls).toEqual([]);
      p.mmu.store8(a + 4096, 1);
      p.mmu.store8(a + 4096 + 8, 2);
      expect(ctl.calls).toEqual([1]);
      // A first access that writes notifies too (do_shared_fault / wp_pfn_shared after the insert).
      p.mmu.store8(a + 3 * 4096, 3);
      expect(ctl.calls).toEqual([1, 3]);
      expect(ctl.pages[3]!.bytes()[0]).toBe(3);
      m.checkInvariants();
    });

    it("mprotect read-only then read-write keeps clean pages read-only: the next write notifies again", async () => {
      const { m, ctl } = await boot();
      const p = m.spawn();
      const fd = p.libc.open(dev, O_RDWR);
      const a = p.libc.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      p.mmu.load8(a);
      p.mmu.store8(a + 4096, 9);
      expect(ctl.calls).toEqual([1]);
      expect(p.sys.mprotect(a, 2 * 4096, PROT_READ)).toBe(0);
      expect(p.sys.mprotect(a, 2 * 4096, PROT_READ | PROT_WRITE)).toBe(0);
      p.mmu.store8(a, 1);
      // Page 1 was dirty: can_change_shared_pte_writable() made it writable again without a fault.
      p.mmu.store8(a + 4096, 10);
      expect(ctl.calls).toEqual([1, 0]);
      m.checkInvariants();
    });

    it("VM_FAULT_SIGBUS from the callback is SIGBUS for the writer; the page stays unwritten", async () => {
      const { m, ctl } = await boot();
      const p = m.spawn();
      const fd = p.libc.open(dev, O_RDWR);
      const a = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      p.mmu.load8(a);
      ctl.mode = "sigbus";
      let e: unknown;
      try {
        p.mmu.store8(a, 1);
      } catch (x) {
        e = x;
      }
      expect((e as SignalError).signal).toBe("SIGBUS");
      expect(ctl.pages[0]!.bytes()[0]).toBe(0);
      m.checkInvariants();
    });

    it(`a ${cb} that throws is an oops: the writer dies by SIGKILL, the machine goes on`, async () => {
      const { m, ctl } = await boot();
      const p = m.spawn();
      const q = m.spawn();
      const fd = p.libc.open(dev, O_RDWR);
      const a = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      p.mmu.load8(a);
      ctl.mode = "throw";
      expect(() => p.mmu.store8(a, 1)).toThrow(SignalError);
      expect(p.exitSignal).toBe("SIGKILL");
      expect(m.dmesg()).toContain(`BUG: driver notify oops in vm_ops->${cb}: ${cb} exploded`);
      expect(q.state).toBe("running");
      m.checkInvariants();
      q.libc.exit(0);
      const free = m.mem.nrFreePages;
      expect(m.unloadDriver("notify")).toBe(0);
      expect(m.mem.nrFreePages).toBe(free + 4);
    });
  });
}
