import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hugetlbMismatch } from "../../mm/test/oracle/linux.ts";
import { PAGES_REVOKE, pagesControl, pagesDriver, simple } from "./__fixtures__/test-drivers";
import {
  type DeviceModel,
  defineDriver,
  EACCES,
  EBADF,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOTTY,
  ErrnoError,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_MAYMOVE,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  SignalError,
  UnsupportedDriverApiVersionError,
  WEXITSTATUS,
  WIFEXITED,
  WIFSIGNALED,
  WTERMSIG,
} from "./index";

const RAM = 16 * 1024 * 1024;
const VGA = 0xa0000;

describe("Machine basics", () => {
  it("/proc/meminfo ends with hugetlb_report_meminfo(): an empty pool of 2 MiB pages, as this host's when its pool is empty", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const HUGETLB = [
      "HugePages_Total:       0",
      "HugePages_Free:        0",
      "HugePages_Rsvd:        0",
      "HugePages_Surp:        0",
      "Hugepagesize:       2048 kB",
      "Hugetlb:               0 kB",
    ];
    expect(m.procText("/proc/meminfo").split("\n").slice(-7, -1)).toEqual(HUGETLB);
    // The same lines as the live kernel's, byte for byte, on a host Faultline's hugetlb matches.
    if (hugetlbMismatch() === null) {
      const host = readFileSync("/proc/meminfo", "utf8").split("\n");
      expect(host.filter((l) => /^Huge(Pages_|pagesize|tlb)/.test(l))).toEqual(HUGETLB);
    }
  });

  it("boots, spawns, reports /proc files", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    expect(p.pid).toBeGreaterThan(0);
    expect(m.process(p.pid)).toBe(p);
    expect(m.procText("/proc/meminfo")).toMatch(/^MemTotal: +\d+ kB\nMemFree: +\d+ kB\n/);
    expect(m.procText("/proc/meminfo")).toContain("PageTables:");
    expect(m.procText("/proc/iomem")).toContain("System RAM");
    expect(m.procText("/proc/buddyinfo")).toContain("Node 0, zone");
    expect(m.procText(`/proc/${p.pid}/maps`)).toBe("");
    expect(() => m.procText("/proc/nope")).toThrow(ErrnoError);
    expect(m.dmesg()[0]).toContain("Linux version 6.18.0-faultline");
    expect(m.procText("/proc/version")).toBe("Linux version 6.18.0-faultline (faultline) #1 SMP\n");
    m.checkInvariants();
  });

  it("realizes devices in order", async () => {
    const seen: string[] = [];
    const dev: DeviceModel = { name: "d0", bus: "isa", realize: (phys) => void seen.push(`d0:${!!phys}`) };
    const dev1: DeviceModel = { name: "d1", bus: "pci", realize: () => void seen.push("d1") };
    const m = await Machine.create({ ramBytes: RAM, devices: [dev, dev1] });
    expect(seen).toEqual(["d0:true", "d1"]);
    expect(m.devices).toEqual([dev, dev1]);
  });

  it("anonymous memory, fork with COW, exit and waitpid", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const a = p.sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(a).toBeGreaterThan(0);
    expect(p.mmu.load32(a)).toBe(0);
    p.mmu.store32(a, 0x1234);
    const cpid = p.sys.fork();
    const c = m.process(cpid)!;
    expect(c.mmu.load32(a)).toBe(0x1234);
    c.mmu.store32(a, 7);
    expect(p.mmu.load32(a)).toBe(0x1234);
    expect(c.mmu.load32(a)).toBe(7);
    m.checkInvariants();
    expect(c.sys.exit(3)).toBe(0);
    expect(c.state).toBe("zombie");
    m.checkInvariants();
    const w = p.sys.waitpid(cpid);
    expect(w).toEqual({ pid: cpid, status: 3 << 8 });
    if (typeof w === "number") throw new Error("unreachable");
    expect(WIFEXITED(w.status)).toBe(true);
    expect(WEXITSTATUS(w.status)).toBe(3);
    expect(m.process(cpid)).toBeUndefined();
    expect(p.sys.waitpid(cpid)).toBe(-10);
    p.sys.exit(0);
    m.checkInvariants();
    // The handle of an exited process: every system call, getpid included, finds no task.
    expect(p.pid).toBeGreaterThan(0);
    expect(p.sys.getpid()).toBe(-ESRCH);
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).toBe(-ESRCH);
  });

  it("SIGSEGV kills the process and releases everything", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const a = p.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.mmu.store8(a, 1);
    const free = m.mem.nrFreePages;
    let err: unknown;
    try {
      p.mmu.load8(a + 4096 * 100);
    } catch (e) {
      err = e;
    }
    expect(SignalError.is(err)).toBe(true);
    expect((err as SignalError).signal).toBe("SIGSEGV");
    expect((err as SignalError).code).toBe("SEGV_MAPERR");
    expect(p.state).toBe("zombie");
    expect(p.exitSignal).toBe("SIGSEGV");
    expect(m.mem.nrFreePages).toBeGreaterThan(free);
    expect(m.dmesg().some((l) => l.includes("segfault at"))).toBe(true);
    // The dead process's MMU never reaches freed tables.
    expect(() => p.mmu.load8(a)).toThrow(SignalError);
    m.checkInvariants();
  });

  it("libc throws ErrnoError", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    expect(p.sys.open("/dev/nothing", O_RDWR)).toBe(-ENOENT);
    try {
      p.libc.open("/dev/nothing", O_RDWR);
      expect.unreachable();
    } catch (e) {
      expect(ErrnoError.is(e)).toBe(true);
      expect((e as ErrnoError).code).toBe("ENOENT");
      expect((e as ErrnoError).errno).toBe(ENOENT);
      expect((e as ErrnoError).message).toBe("open: No such file or directory");
    }
    expect(p.sys.close(42)).toBe(-EBADF);
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, 42, 0x800)).toBe(-EINVAL);
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, 42, 0)).toBe(-EBADF);
  });

  it("/proc files are readable through open/read", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const fd = p.libc.open("/proc/meminfo", O_RDONLY);
    expect(fd).toBe(3);
    const bytes = p.libc.read(fd, 4096);
    expect(new TextDecoder().decode(bytes)).toContain("MemTotal:");
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0)).toBe(-ENODEV);
    p.libc.close(fd);
    const self = p.libc.open("/proc/self/maps", O_RDONLY);
    expect(p.libc.read(self, 100).length).toBe(0);
    m.checkInvariants();
  });
});

describe("drivers", () => {
  it("rejects unsupported API versions with a branded error", async () => {
    const d = defineDriver({ name: "future", apiVersion: 99, init: () => 0 });
    await expect(Machine.create({ ramBytes: RAM, drivers: [d] })).rejects.toSatisfy((e: unknown) => {
      return UnsupportedDriverApiVersionError.isInstance(e) && /future.*99.*1/.test((e as Error).message);
    });
    expect(() => defineDriver({ name: "bad name!", apiVersion: 1, init: () => 0 })).toThrow(TypeError);
  });

  it("simple: remap and nopage minors, maps line, VMA open/close logging", async () => {
    const m = await Machine.create({ ramBytes: RAM, era: "2.6.10", drivers: [simple()] });
    expect(m.procText("/proc/devices")).toContain("254 simple");
    const p = m.spawn();
    const fd = p.libc.open("/dev/simpler", O_RDWR);
    const a = p.libc.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, VGA);
    p.mmu.store8(a, 0x41);
    expect(m.phys.physRead8(VGA)).toBe(0x41);
    const maps = p.procMaps();
    expect(maps).toMatch(/^[0-9a-f]+-[0-9a-f]+ rw-s 000a0000 00:05 \d+ +\/dev\/simpler\n$/);
    expect(maps.indexOf("/dev/simpler")).toBe(73);
    expect(m.dmesg()).toContain(`Simple VMA open, virt ${a.toString(16)}, phys a0000`);
    // Growing a remap VMA: modern kernels refuse with -EFAULT (VM_DONTEXPAND).
    p.libc.munmap(a + 4096, 4096);
    expect(m.dmesg()).toContain("Simple VMA close.");

    const fdn = p.libc.open("/dev/simplen", O_RDWR);
    const b = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fdn, VGA);
    expect(p.mmu.load8(b)).toBe(0x41);
    expect(m.dmesg().some((l) => l.startsWith("---- Nopage, off a0000 phys a0000"))).toBe(true);
    m.checkInvariants();
    p.sys.exit(0);
    m.checkInvariants();
  });

  it("ENODEV without fops.mmap, EACCES for shared writable on O_RDONLY, ENOTTY", async () => {
    const m = await Machine.create({ ramBytes: RAM, drivers: [simple()] });
    const p = m.spawn();
    const fdx = p.libc.open("/dev/simplex", O_RDWR);
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fdx, 0)).toBe(-ENODEV);
    expect(p.sys.ioctl(fdx, 1, 0)).toBe(-ENOTTY);
    const ro = p.libc.open("/dev/simpler", O_RDONLY);
    expect(p.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, VGA)).toBe(-EACCES);
    const a = p.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, ro, VGA);
    expect(p.procMaps()).toContain("r--s");
    expect(p.sys.mprotect(a, 4096, PROT_READ | PROT_WRITE)).toBe(-EACCES);
    const wo = p.libc.open("/dev/simpler", O_WRONLY);
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, wo, VGA)).toBe(-EACCES);
    m.checkInvariants();
  });

  it("eras: remap growth -EFAULT; no fault handler: zero page then, SIGBUS now", async () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const m = await Machine.create({
        ramBytes: RAM,
        era,
        drivers: [
          simple(),
          defineDriver({
            name: "nofault",
            apiVersion: 1,
            init(ctx) {
              const major = ctx.allocChrdevRegion(0, 1, "nofault");
              ctx.cdevAdd(major, 0, 1, {
                mmap(_f, vma) {
                  vma.vmOps = { open() {}, close() {} };
                  return 0;
                },
              });
              ctx.createDevNode("nofault", major, 0);
              return 0;
            },
          }),
        ],
      });
      const p = m.spawn();
      const fd = p.libc.open("/dev/simpler", O_RDWR);
      const a = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, VGA);
      if (era === "modern") {
        // remap_pfn_range sets VM_DONTEXPAND|VM_PFNMAP today: the VMA may not grow.
        expect(p.sys.mremap(a, 4096, 8192, MREMAP_MAYMOVE)).toBe(-EFAULT);
      } else {
        // 2.6.10 marked it VM_IO only: it grows, and the new page faults like a VMA without nopage.
        const g = p.sys.mremap(a, 4096, 8192, MREMAP_MAYMOVE);
        expect(g).toBeGreaterThan(0);
        expect(p.mmu.load8(g + 4096)).toBe(0);
      }
      const nf = p.libc.open("/dev/nofault", O_RDWR);
      const b = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, nf, 0);
      if (era === "modern") {
        expect(() => p.mmu.load8(b)).toThrow(/SIGBUS/);
        expect(p.exitSignal).toBe("SIGBUS");
      } else {
        expect(p.mmu.load8(b)).toBe(0);
        p.mmu.store8(b, 5); // COW of the zero page
        expect(p.mmu.load8(b)).toBe(5);
        expect(p.state).toBe("running");
      }
      m.checkInvariants();
    }
  });

  it("fault driver: mremap growth faults new pages in; fork; unmapMappingRange revokes through the TLB", async () => {
    const ctl = pagesControl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pagesDriver(ctl)] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/pages", O_RDWR);
    const a = p.libc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(a)).toBe(1);
    const b = p.libc.mremap(a, 4096, 3 * 4096, MREMAP_MAYMOVE);
    expect(p.mmu.load8(b + 2 * 4096)).toBe(3);
    p.libc.close(fd);
    m.checkInvariants();
    const cpid = p.libc.fork();
    const c = m.process(cpid)!;
    expect(c.mmu.load8(b + 4096)).toBe(2);
    expect(ctl.opens).toBe(1);
    // Revoke: the next access faults again (the TLB entry is gone) and sees generation 1's pages.
    const cfd = c.libc.open("/dev/pages", O_RDONLY);
    const faults = p.mmu.faults;
    expect(c.libc.ioctl(cfd, PAGES_REVOKE)).toBe(0);
    expect(ctl.generation).toBe(1);
    expect(p.mmu.load8(b)).toBe(5);
    expect(p.mmu.faults).toBe(faults + 1);
    expect(c.mmu.load8(b + 4096)).toBe(6);
    m.checkInvariants();
    c.libc.exit(0);
    p.libc.exit(0);
    expect(ctl.releases).toBe(2);
    expect(ctl.closes).toBe(2);
    m.checkInvariants();
  });

  it("an oops in a fault handler kills only the current process", async () => {
    const ctl = pagesControl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pagesDriver(ctl)] });
    const p = m.spawn();
    const q = m.spawn();
    const fd = p.libc.open("/dev/pages", O_RDWR);
    const a = p.libc.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(a)).toBe(1);
    ctl.mode = "throw";
    let err: unknown;
    try {
      p.mmu.load8(a + 4096);
    } catch (e) {
      err = e;
    }
    expect((err as SignalError).signal).toBe("SIGKILL");
    expect(p.exitSignal).toBe("SIGKILL");
    expect(m.dmesg()).toContain("BUG: driver pages oops in vm_ops->fault: fault exploded");
    expect(q.state).toBe("running");
    expect(ctl.releases).toBe(1);
    m.checkInvariants();

    ctl.mode = "oom";
    const fd2 = q.libc.open("/dev/pages", O_RDWR);
    const b = q.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fd2, 0);
    expect(() => q.mmu.load8(b)).toThrow(SignalError);
    expect(q.exitSignal).toBe("SIGKILL");
    expect(m.dmesg().some((l) => l.startsWith(`Out of memory: Killed process ${q.pid}`))).toBe(true);
    m.checkInvariants();
    const w = m.spawn();
    expect(w.state).toBe("running");
    expect(WIFSIGNALED(9)).toBe(true);
    expect(WTERMSIG(9)).toBe(9);
  });

  it("an oops in fops->mmap or vm_ops->open during fork kills the caller with SIGKILL", async () => {
    const ctl = pagesControl();
    const m = await Machine.create({ ramBytes: RAM, drivers: [pagesDriver(ctl)] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/pages", O_RDWR);
    ctl.throwIn = "mmap";
    expect(() => p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0)).toThrow(/SIGKILL/);
    expect(p.exitSignal).toBe("SIGKILL");
    m.checkInvariants();

    ctl.throwIn = "none";
    const q = m.spawn();
    const fd2 = q.libc.open("/dev/pages", O_RDWR);
    q.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fd2, 0);
    ctl.throwIn = "open";
    expect(() => q.sys.fork()).toThrow(SignalError);
    expect(q.exitSignal).toBe("SIGKILL");
    expect(m.processes().filter((x) => x.state === "running")).toEqual([]);
    m.checkInvariants();
  });
});
