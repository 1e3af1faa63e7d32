import { isaMemory } from "@faultline/devices";
import { PAGE_SIZE, PROT_READ } from "@faultline/kernel";
import { expect, it } from "vitest";
import { buggy } from "../test/__fixtures__/buggy-driver";
import { mapDevice, snapshot, tryMapDevice } from "./index";
import { useMachine } from "./vitest";

const kit = useMachine({
  ramBytes: 16 << 20,
  devices: () => [isaMemory({ base: 0xd0000, size: 0x2000, name: "isa-ram" })],
  drivers: [buggy()],
  spawn: { name: "mapper" },
});

it("snapshot: iomem, the running processes' maps, dmesg, under headings", async () => {
  const { m, p } = await kit.boot();
  const a = mapDevice(p, "/dev/buggy", { length: PAGE_SIZE, prot: PROT_READ });
  p.mmu.load8(a);
  const q = m.spawn({ name: "idle" });
  expect(snapshot(m, { dmesg: "buggy" })).toMatchInlineSnapshot(`
    "## /proc/iomem
    00000000-00000fff : Reserved
    00001000-0009ffff : System RAM
    000a0000-000bffff : PCI Bus 0000:00
      000a0000-000bffff : Video RAM area
    000d0000-000d1fff : isa-ram
    000f0000-000fffff : System ROM
    00100000-00ffffff : System RAM
    c0000000-febfffff : PCI Bus 0000:00
    100000000-8ffffffff : PCI Bus 0000:00

    ## /proc/1/maps (mapper)
    7ffff7ffe000-7ffff7fff000 r--s 00000000 00:05 400                        /dev/buggy

    ## /proc/2/maps (idle)

    ## dmesg
    buggy: loaded with major 254
    "
  `);
  q.libc.exit(0);
  expect(snapshot(m, { iomem: false, dmesg: false, files: ["/proc/devices"] })).toMatchInlineSnapshot(`
    "## /proc/1/maps (mapper)
    7ffff7ffe000-7ffff7fff000 r--s 00000000 00:05 400                        /dev/buggy

    ## /proc/devices
    Character devices:
    254 buggy

    Block devices:
    "
  `);
  expect(
    snapshot(m, { processes: [p], smaps: true, iomem: false, dmesg: /^faultline: / }),
  ).toMatchInlineSnapshot(`
    "## /proc/1/smaps (mapper)
    7ffff7ffe000-7ffff7fff000 r--s 00000000 00:05 400                        /dev/buggy
    Size:                  4 kB
    KernelPageSize:        4 kB
    MMUPageSize:           4 kB
    Rss:                   4 kB
    Pss:                   4 kB
    Pss_Dirty:             0 kB
    Shared_Clean:          0 kB
    Shared_Dirty:          0 kB
    Private_Clean:         4 kB
    Private_Dirty:         0 kB
    Referenced:            4 kB
    Anonymous:             0 kB
    KSM:                   0 kB
    LazyFree:              0 kB
    AnonHugePages:         0 kB
    ShmemPmdMapped:        0 kB
    FilePmdMapped:         0 kB
    Shared_Hugetlb:        0 kB
    Private_Hugetlb:       0 kB
    Swap:                  0 kB
    SwapPss:               0 kB
    Locked:                0 kB
    THPeligible:           0
    VmFlags: rd sh mr mw me ms sd 

    ## dmesg
    faultline: isa device isa-ram realized
    "
  `);
});

it("mapDevice throws as libc does; tryMapDevice returns the -errno", async () => {
  const { p } = await kit.boot();
  expect(tryMapDevice(p, "/dev/nothing", { length: PAGE_SIZE })).toBe(-2);
  expect(() => mapDevice(p, "/dev/nothing", { length: PAGE_SIZE })).toThrow(
    /^open: No such file or directory/,
  );
  expect(tryMapDevice(p, "/dev/buggy", { length: 0 })).toBe(-22);
  expect(() => mapDevice(p, "/dev/buggy", { length: 0 })).toThrow(/^mmap: Invalid argument/);
  // Neither leaves an fd open: 0-2 are the console.
  expect([...p.fds.keys()]).toEqual([0, 1, 2]);
  const a = tryMapDevice(p, "/dev/buggy", { length: PAGE_SIZE, offset: PAGE_SIZE, addr: 0x10000000 });
  expect(a).toBeGreaterThan(0);
  expect([...p.fds.keys()]).toEqual([0, 1, 2]);
});
