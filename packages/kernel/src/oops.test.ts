// The oops table (docs/driver-api.md §6): every driver callback the guide lists, made to throw. Each
// row checks the dmesg BUG line naming the callback, that the process the kernel worked for dies by
// SIGKILL (and what the call itself gave back), that a bystander process goes on, that
// checkInvariants() holds, and that every frame is back once every process has exited. The two
// write-notification callbacks (vm_ops->page_mkwrite, pfn_mkwrite) have their rows in mkwrite.test.ts.
import { describe, expect, it } from "vitest";
import {
  allocPages,
  type DriverDefinition,
  defineDriver,
  ENOENT,
  freePages,
  getPage,
  MAP_FIXED,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  type Page,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEEK_SET,
  SignalError,
  type VmOperations,
} from "./index";

const RAM = 16 * 1024 * 1024;

/** Callback names as the BUG line prints them. */
type Callback =
  | "init"
  | "exit"
  | "fops->open"
  | "fops->release"
  | "fops->read"
  | "fops->write"
  | "fops->llseek"
  | "fops->unlocked_ioctl"
  | "fops->mmap"
  | "fops->get_unmapped_area"
  | "vm_ops->open"
  | "vm_ops->close"
  | "vm_ops->fault"
  | "vm_ops->nopage"
  | "vm_ops->may_split"
  | "vm_ops->mremap"
  | "vm_ops->name";

interface Bomb {
  armed: Callback | null;
  pages: Page[];
}

/** A driver with every callback; the armed one throws "<callback> exploded". */
function bombDriver(b: Bomb, useNopage: boolean): DriverDefinition {
  const boom = (cb: Callback) => {
    if (b.armed === cb) throw new Error(`${cb} exploded`);
  };
  const page = (pgoff: number) => b.pages[pgoff % b.pages.length]!;
  const ops: VmOperations = {
    open: () => boom("vm_ops->open"),
    close: () => boom("vm_ops->close"),
    maySplit: () => {
      boom("vm_ops->may_split");
      return 0;
    },
    mremap: () => {
      boom("vm_ops->mremap");
      return 0;
    },
    name: () => {
      boom("vm_ops->name");
      return "[bomb]";
    },
    ...(useNopage
      ? {
          nopage: (vma, address) => {
            boom("vm_ops->nopage");
            const p = page(vma.vmPgoff + (address - vma.vmStart) / 4096);
            getPage(p);
            return p;
          },
        }
      : {
          fault: (vmf) => {
            boom("vm_ops->fault");
            const p = page(vmf.pgoff);
            getPage(p);
            vmf.page = p;
            return 0;
          },
        }),
  };
  return defineDriver({
    name: "bomb",
    apiVersion: 1,
    init(ctx) {
      boom("init");
      for (let i = 0; i < 4; i++) {
        const p = allocPages(0, 0);
        if (!p) return -12;
        b.pages.push(p);
      }
      const major = ctx.allocChrdevRegion(0, 1, "bomb");
      ctx.cdevAdd(major, 0, 1, {
        open: () => {
          boom("fops->open");
          return 0;
        },
        release: () => {
          boom("fops->release");
          return 0;
        },
        read: () => {
          boom("fops->read");
          return 0;
        },
        write: (_f, buf) => {
          boom("fops->write");
          return buf.length;
        },
        llseek: (_f, off) => {
          boom("fops->llseek");
          return off;
        },
        unlockedIoctl: () => {
          boom("fops->unlocked_ioctl");
          return 0;
        },
        getUnmappedArea: (_f, addr, _len, _pgoff, flags) => {
          boom("fops->get_unmapped_area");
          // A driver placing its own mappings must still honour MAP_FIXED (mremap passes it).
          return flags & MAP_FIXED ? addr : 0x7000_0000_0000;
        },
        mmap: (_f, vma) => {
          boom("fops->mmap");
          vma.vmOps = ops;
          return 0;
        },
      });
      ctx.createDevNode("bomb", major, 0);
      return 0;
    },
    exit() {
      boom("exit");
      for (const p of b.pages) freePages(p, 0);
      b.pages.length = 0;
    },
  });
}

const L = 3 * 4096;

interface Row {
  readonly cb: Callback;
  /** Sets the victim up (before arming), then returns the call that reaches the armed callback. */
  readonly setup: (p: Process, fd: number) => () => unknown;
  readonly nopage?: boolean;
}

/** Maps the device three pages long, shared read-write, and faults in its first page. */
function mapped(p: Process, fd: number): number {
  const a = p.libc.mmap(0, L, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  p.mmu.load8(a);
  return a;
}

const ROWS: readonly Row[] = [
  { cb: "fops->open", setup: (p) => () => p.sys.open("/dev/bomb", O_RDWR) },
  { cb: "fops->release", setup: (p, fd) => () => p.sys.close(fd) },
  { cb: "fops->read", setup: (p, fd) => () => p.sys.read(fd, new Uint8Array(8)) },
  { cb: "fops->write", setup: (p, fd) => () => p.sys.write(fd, new Uint8Array(8)) },
  { cb: "fops->llseek", setup: (p, fd) => () => p.sys.lseek(fd, 0, SEEK_SET) },
  { cb: "fops->unlocked_ioctl", setup: (p, fd) => () => p.sys.ioctl(fd, 0x1234, 0) },
  { cb: "fops->mmap", setup: (p, fd) => () => p.sys.mmap(0, L, PROT_READ, MAP_SHARED, fd, 0) },
  { cb: "fops->get_unmapped_area", setup: (p, fd) => () => p.sys.mmap(0, L, PROT_READ, MAP_SHARED, fd, 0) },
  {
    cb: "vm_ops->open",
    setup: (p, fd) => {
      const a = mapped(p, fd);
      // One split (the tail page): one new VMA, one ->open.
      return () => p.sys.mprotect(a + 2 * 4096, 4096, PROT_READ);
    },
  },
  {
    cb: "vm_ops->close",
    setup: (p, fd) => {
      const a = mapped(p, fd);
      return () => p.sys.munmap(a, L);
    },
  },
  {
    cb: "vm_ops->fault",
    setup: (p, fd) => {
      const a = mapped(p, fd);
      return () => p.mmu.load8(a + 4096);
    },
  },
  {
    cb: "vm_ops->nopage",
    nopage: true,
    setup: (p, fd) => {
      const a = mapped(p, fd);
      return () => p.mmu.store8(a + 2 * 4096, 1);
    },
  },
  {
    cb: "vm_ops->may_split",
    setup: (p, fd) => {
      const a = mapped(p, fd);
      return () => p.sys.munmap(a + 4096, 4096);
    },
  },
  {
    cb: "vm_ops->mremap",
    setup: (p, fd) => {
      const a = mapped(p, fd);
      return () => p.sys.mremap(a, L, L, MREMAP_MAYMOVE | MREMAP_FIXED, a + 16 * 4096);
    },
  },
  {
    cb: "vm_ops->name",
    setup: (p, fd) => {
      mapped(p, fd);
      return () => p.sys.read(p.sys.open(`/proc/${p.pid}/maps`, 0) as number, new Uint8Array(4096));
    },
  },
];

async function boot(nopage = false) {
  const bomb: Bomb = { armed: null, pages: [] };
  const m = await Machine.create({ ramBytes: RAM, drivers: [bombDriver(bomb, nopage)] });
  return { m, bomb };
}

describe("oops table: every driver callback that throws", () => {
  it.each(ROWS.map((r) => [r.cb, r] as const))("%s", async (cb, r) => {
    const { m, bomb } = await boot(r.nopage);
    const free0 = m.mem.nrFreePages;
    const victim = m.spawn();
    const bystander = m.spawn();
    const fd = victim.libc.open("/dev/bomb", O_RDWR);
    const bfd = bystander.libc.open("/dev/bomb", O_RDWR);
    const ba = mapped(bystander, bfd);
    const call = r.setup(victim, fd);
    bomb.armed = cb;
    let thrown: unknown = null;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    bomb.armed = null;
    // The caller gets no result: it is killed by SIGKILL on the way back to user space.
    expect(thrown, `${cb}: the call should not return`).toBeInstanceOf(SignalError);
    expect((thrown as SignalError).signal).toBe("SIGKILL");
    expect(victim.exitSignal).toBe("SIGKILL");
    expect(victim.state).not.toBe("running");
    expect(m.dmesg(), m.dmesg().join("\n")).toContain(`BUG: driver bomb oops in ${cb}: ${cb} exploded`);
    expect(m.dmesg().some((l) => l.startsWith("Oops: 0000 [#1]"))).toBe(true);
    expect(m.oopses().length).toBe(1);
    m.checkInvariants();
    // The bystander and the machine go on.
    expect(bystander.state).toBe("running");
    bystander.mmu.store8(ba + 4096, 7);
    expect(bystander.mmu.load8(ba + 4096)).toBe(7);
    bystander.libc.exit(0);
    m.checkInvariants();
    // Unloading frees the driver's own 4 pages too.
    expect(m.unloadDriver("bomb")).toBe(0);
    expect(m.mem.nrFreePages).toBe(free0 + 4);
  });

  it("init: the module does not load, no device appears, nobody is killed", async () => {
    const bomb: Bomb = { armed: "init", pages: [] };
    const m = await Machine.create({ ramBytes: RAM, drivers: [bombDriver(bomb, false)] });
    expect(m.dmesg()).toContain("BUG: driver bomb oops in init: init exploded");
    const p = m.spawn();
    expect(p.sys.open("/dev/bomb", O_RDWR)).toBe(-ENOENT);
    expect(p.state).toBe("running");
    expect(m.unloadDriver("bomb")).toBe(-ENOENT);
    m.checkInvariants();
  });

  it("exit: rmmod still drops the driver's registrations; the oops is logged", async () => {
    const { m, bomb } = await boot();
    const p = m.spawn();
    bomb.armed = "exit";
    expect(m.unloadDriver("bomb")).toBe(0);
    expect(m.dmesg()).toContain("BUG: driver bomb oops in exit: exit exploded");
    expect(p.sys.open("/dev/bomb", O_RDWR)).toBe(-ENOENT);
    expect(p.state).toBe("running");
    m.checkInvariants();
  });
});
