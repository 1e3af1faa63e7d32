/**
 * TestKit.verify(): each check fails when its rule is broken (a leaked frame, an undeclared oops or
 * bad page, a broken invariant, a declared oops that never came) and passes on a correct driver.
 * The hooks that call verify() after each test are tested in test/hooks.test.ts.
 */
import { isaMemory } from "@faultline/devices";
import {
  BUS_ADRERR,
  DRIVER_API_VERSION,
  defineDriver,
  MAP_PRIVATE,
  O_CREAT,
  O_WRONLY,
  PAGE_SIZE,
  PROT_READ,
  pfnToPage,
  SIGBUS,
} from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { buggy } from "../test/__fixtures__/buggy-driver";
import { expectSignal, mapDevice, TestKit, TestKitError } from "./index";

const MiB = 2 ** 20;
const ISA_BASE = 0xd0000;

/** Maps the ISA page at the mmap offset with a fault handler that forgets getPage. */
const forgetful = defineDriver({
  name: "forgetful",
  apiVersion: DRIVER_API_VERSION,
  init(ctx) {
    const major = ctx.allocChrdevRegion(0, 1, "forgetful");
    ctx.cdevAdd(major, 0, 1, {
      mmap(_f, vma) {
        vma.vmOps = {
          fault(vmf) {
            vmf.page = pfnToPage(vmf.pgoff);
            return 0;
          },
        };
        return 0;
      },
    });
    ctx.createDevNode("forgetful", major, 0);
    return 0;
  },
});

/** verify()'s problems, or [] when it passed. */
function problems(kit: TestKit): readonly string[] {
  try {
    kit.verify();
    return [];
  } catch (e) {
    if (e instanceof TestKitError) return e.problems;
    throw e;
  }
}

describe("TestKit.boot", () => {
  it("boots with the devices, loads the drivers after them (a function sees them), spawns pid 1", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB, spawn: { name: "mapper" } });
    const seen: string[] = [];
    const { m, p, devices, drivers } = await kit.boot({
      era: "2.6.10",
      devices: () => [isaMemory({ base: 0xd0000, size: 0x2000, name: "isa-ram" })],
      drivers: ([isa]) => {
        seen.push(isa.name);
        return [buggy()];
      },
    });
    expect(seen).toEqual(["isa-ram"]);
    expect(devices[0].ram.length).toBe(0x2000); // the device's own type, not just DeviceModel
    expect(m.era).toBe("2.6.10");
    expect(m.mem.totalRamPages).toBeLessThanOrEqual((16 * MiB) / PAGE_SIZE);
    expect(m.loadedDrivers()).toEqual(["buggy"]);
    expect(drivers.map((d) => d.name)).toEqual(["buggy"]);
    expect([p.pid, p.comm]).toEqual([1, "mapper"]);
    expect(kit.machines).toEqual([m]);
    expect(problems(kit)).toEqual([]);
    expect(kit.machines).toEqual([]);
  });

  it("a driver whose init fails makes boot throw with its errno and the log's tail", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    await expect(kit.boot({ drivers: [buggy(), buggy()] })).rejects.toThrow(
      /driver buggy failed to load: init returned -17 \(File exists\)[\s\S]*buggy: module is already loaded/,
    );
    kit.verify();
  });
});

describe("TestKit.verify", () => {
  it("passes on a correct driver: mapped, faulted, SIGBUS, processes left running, drivers left loaded", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { m, p } = await kit.boot({ drivers: [buggy()] });
    const a = mapDevice(p, "/dev/buggy", { length: 2 * PAGE_SIZE, prot: PROT_READ });
    expect(p.mmu.load8(a)).toBe(0x42);
    const q = m.spawn();
    const b = mapDevice(q, "/dev/buggy", { length: PAGE_SIZE, flags: MAP_PRIVATE });
    q.mmu.store8(b, 1); // a COW copy: a frame that must come back when q is killed
    expectSignal(() => p.mmu.load8(a + PAGE_SIZE), { signo: SIGBUS, code: BUS_ADRERR, addr: a + PAGE_SIZE });
    expect(problems(kit)).toEqual([]);
    // verify() killed q and unloaded the driver.
    expect(q.alive).toBe(false);
    expect(m.loadedDrivers()).toEqual([]);
  });

  it("a page the driver never frees is a frame not back, named with its refcount", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { p } = await kit.boot({ drivers: [buggy("leak-on-unload")] });
    mapDevice(p, "/dev/buggy", { length: PAGE_SIZE });
    const found = problems(kit);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^1 frame\(s\) not back once every process exited and every driver was unloaded \(\d+ free at boot, \d+ now\): pfn 0x[0-9a-f]+ \(refcount 1, mapcount 0\)\n.*allocPages without freePages/,
    );
  });

  it("a reference taken and never dropped is a frame not back too (invariants hold: the driver holds it)", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { m, p } = await kit.boot({ drivers: [buggy("extra-ref")] });
    const a = mapDevice(p, "/dev/buggy", { length: PAGE_SIZE });
    p.mmu.load8(a);
    m.checkInvariants();
    const found = problems(kit);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^1 frame\(s\) not back .*: pfn 0x[0-9a-f]+ \(refcount 1, mapcount 0\)/);
  });

  it("a tmpfs file that outlives its process holds the kernel's pages, not leaked ones", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { m, p } = await kit.boot({ drivers: [buggy("leak-on-unload")] });
    const fd = p.libc.open("/tmp/notes", O_CREAT | O_WRONLY, 0o644);
    expect(p.libc.write(fd, new Uint8Array(3 * PAGE_SIZE).fill(1))).toBe(3 * PAGE_SIZE);
    expect(m.procText("/proc/meminfo")).toMatch(/^Shmem:\s+12 kB$/m);
    // Only the driver's page is reported; the file's three stay with tmpfs after every process exits.
    const found = problems(kit);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^1 frame\(s\) not back .*\(\d+ free at boot, \d+ now, 3 in tmpfs or SysV shm\)/,
    );
  });

  it("a broken invariant (a fault handler without getPage) fails, before and after teardown", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { p } = await kit.boot({ drivers: [buggy("no-get-page")] });
    const a = mapDevice(p, "/dev/buggy", { length: PAGE_SIZE });
    p.mmu.load8(a);
    // The unmap at exit drops the reference the PTE never had: the driver's own page is freed under it,
    // and its exit frees it again (an oops).
    expect(problems(kit)).toEqual([
      expect.stringMatching(
        /^checkInvariants\(\) after the test: pfn 0x[0-9a-f]+: refcount 1 but 2 references exist \(PTE of pid 1, driver\)$/,
      ),
      expect.stringMatching(
        /^checkInvariants\(\) once every process exited and every driver was unloaded: pfn 0x[0-9a-f]+ is free but referenced by driver$/,
      ),
      expect.stringMatching(
        /^unexpected driver buggy oops in exit: freePages\(pfn 0x[0-9a-f]+, order 0\): the frame is not allocated\n/,
      ),
    ]);
  });

  it("an undeclared oops fails, saying how to declare it; a declared one passes", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { p } = await kit.boot({ drivers: [buggy("throw-in-fault")] });
    const a = mapDevice(p, "/dev/buggy", { length: PAGE_SIZE });
    expectSignal(() => p.mmu.load8(a), { signal: "SIGKILL" });
    expect(problems(kit)).toEqual([
      'unexpected driver buggy oops in vm_ops->fault (pid 1): buggy: cannot read properties of null\n     (a test that means it says so: kit.expectOops({ driver: "buggy", callback: "vm_ops->fault" }))',
    ]);

    const { p: p2 } = await kit.boot({ drivers: [buggy("throw-in-fault")] });
    kit.expectOops({ driver: "buggy", message: /cannot read/ });
    expectSignal(() => p2.mmu.load8(mapDevice(p2, "/dev/buggy", { length: PAGE_SIZE })), {
      signal: "SIGKILL",
    });
    expect(problems(kit)).toEqual([]);
  });

  it("a declared oops that never came fails; so does one oops too many", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    await kit.boot({ drivers: [buggy()] });
    kit.expectOops({ driver: "buggy", callback: "vm_ops->fault" });
    expect(problems(kit)).toEqual([
      'expected 1 oops(es) matching { driver: "buggy", callback: "vm_ops->fault" }, got 0',
    ]);

    kit.expectOops({ driver: "buggy" });
    for (let i = 0; i < 2; i++) {
      const { p } = await kit.boot({ drivers: [buggy("throw-in-fault")] });
      expectSignal(() => p.mmu.load8(mapDevice(p, "/dev/buggy", { length: PAGE_SIZE })), {
        signal: "SIGKILL",
      });
    }
    const found = problems(kit);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^machine 2 of 2 \(modern\): unexpected driver buggy oops in vm_ops->fault/);
  });

  it("a bad page report (a reserved page mapped without getPage) fails unless declared", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    for (const declared of [false, true]) {
      const { m, p } = await kit.boot({
        devices: [isaMemory({ base: ISA_BASE, size: PAGE_SIZE })],
        drivers: [forgetful],
      });
      const a = mapDevice(p, "/dev/forgetful", { length: PAGE_SIZE, offset: ISA_BASE });
      p.mmu.load8(a);
      expect(() => m.checkInvariants()).toThrow(/refcount 1 but 2 references exist/);
      expect(p.sys.munmap(a, PAGE_SIZE)).toBe(0); // the zap finds the missing reference: bad_page()
      m.checkInvariants();
      if (declared) {
        kit.expectBadPage({ driver: "forgetful", pfn: ISA_BASE / PAGE_SIZE, reason: /would go below/ });
        expect(problems(kit)).toEqual([]);
      } else {
        expect(problems(kit)).toEqual([
          "unexpected bad page state: pfn 0xd0 in process test (mapped by driver forgetful): put_page: refcount 1 would go below its boot reference (reserved page)\n     (a test that means it says so: kit.expectBadPage({ pfn: 0xd0 }))",
        ]);
      }
    }
  });

  it("declarations without a machine fail, unless the test failed anyway", () => {
    const kit = new TestKit();
    kit.expectOops();
    expect(problems(kit)).toEqual([
      "the test declared an oops or a bad page but booted no machine through the kit",
    ]);
    kit.expectOops();
    kit.verify({ testFailed: true }); // a failed test's declarations are no news
  });

  it("an oops in a driver's exit at teardown is reported too", async () => {
    const kit = new TestKit({ ramBytes: 16 * MiB });
    const { m } = await kit.boot({ drivers: [buggy()] });
    // rmmod of a driver whose exit throws: the oops comes from the kit's own teardown.
    const badExit = defineDriver({
      name: "bad-exit",
      apiVersion: DRIVER_API_VERSION,
      init: () => 0,
      exit: () => {
        throw new Error("exit: double free");
      },
    });
    expect(m.loadDriver(badExit)).toBe(0);
    const found = problems(kit);
    expect(found).toEqual([
      'unexpected driver bad-exit oops in exit: exit: double free\n     (a test that means it says so: kit.expectOops({ driver: "bad-exit", callback: "exit" }))',
    ]);
  });
});
