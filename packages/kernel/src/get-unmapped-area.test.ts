// A driver's fops->get_unmapped_area decides where its mappings go (mm/mmap.c __get_unmapped_area
// calls it even for MAP_FIXED). mmap trusts the answer: mmap_region() unmaps whatever was there.
// mremap trusts it too (vrm_set_new_addr), but moving a VMA onto live ones would corrupt Linux's
// tree; here that is a BUG raised before anything changes: the caller dies, the machine is whole.
import { describe, expect, it } from "vitest";
import {
  allocPages,
  defineDriver,
  freePages,
  getPage,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  type Page,
  PROT_READ,
  PROT_WRITE,
  SignalError,
} from "./index";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** /dev/placer: every mapping goes where `place.at` says, MAP_FIXED or not (unless `place.honourFixed`). */
async function boot(place: { at: number; honourFixed: boolean }) {
  const pages: Page[] = [];
  const drv = defineDriver({
    name: "placer",
    apiVersion: 1,
    init(ctx) {
      for (let i = 0; i < 4; i++) pages.push(allocPages(0, 0)!);
      const major = ctx.allocChrdevRegion(0, 1, "placer");
      ctx.cdevAdd(major, 0, 1, {
        getUnmappedArea: (_f, addr, _len, _pgoff, flags) =>
          place.honourFixed && flags & MAP_FIXED ? addr : place.at,
        mmap: (_f, vma) => {
          vma.vmOps = {
            fault: (vmf) => {
              const p = pages[vmf.pgoff % pages.length]!;
              getPage(p);
              vmf.page = p;
              return 0;
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("placer", major, 0);
      return 0;
    },
    exit() {
      for (const p of pages) freePages(p, 0);
    },
  });
  const m = await Machine.create({ ramBytes: 16 << 20, drivers: [drv] });
  return { m, free0: m.mem.nrFreePages };
}

function expectOopsKill(m: Machine, call: () => unknown, range: string): void {
  let err: unknown;
  try {
    call();
  } catch (e) {
    err = e;
  }
  expect(SignalError.is(err) && err.signal).toBe("SIGKILL");
  expect(m.oopses()).toHaveLength(1);
  const bug = m.dmesg().find((l) => l.startsWith("BUG:"));
  expect(bug).toBe(
    `BUG: kernel oops in sys_mremap: get_unmapped_area of /dev/placer answered ${range}, which is already mapped`,
  );
  m.checkInvariants();
}

describe("a driver's get_unmapped_area in mremap", () => {
  it("ignoring MAP_FIXED onto a live mapping: the caller dies by the oops, a bystander goes on, nothing leaks", async () => {
    const place = { at: 0x7000_0000_0000, honourFixed: false };
    const { m, free0 } = await boot(place);
    const p = m.spawn();
    const other = m.spawn();
    const fd = p.libc.open("/dev/placer", O_RDWR);
    const a = p.sys.mmap(0, 8192, RW, MAP_SHARED, fd, 0);
    expect(a).toBe(0x7000_0000_0000);
    p.mmu.store32(a, 0x1234);
    const target = p.sys.mmap(0, 8192, RW, ANON, -1, 0);
    const ofd = other.libc.open("/dev/placer", O_RDWR);
    const o = other.sys.mmap(0, 4096, RW, MAP_SHARED, ofd, 0);
    // The driver answers its own live mapping's address for the move to `target`.
    expectOopsKill(
      m,
      () => p.sys.mremap(a, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, target),
      "[0x700000000000, 0x700000001000)",
    );
    expect(other.mmu.load32(o)).toBe(0x1234);
    expect(other.sys.munmap(o, 4096)).toBe(0);
    other.libc.exit(0);
    m.checkInvariants();
    expect(m.unloadDriver("placer")).toBe(0);
    expect(m.mem.nrFreePages).toBe(free0 + 4);
  });

  it("a growth that moves onto a live mapping: the same BUG, before the VMA is touched", async () => {
    const place = { at: 0x7000_0000_0000, honourFixed: true };
    const { m, free0 } = await boot(place);
    const p = m.spawn();
    const fd = p.libc.open("/dev/placer", O_RDWR);
    const a = p.sys.mmap(0, 8192, RW, MAP_SHARED, fd, 0);
    // Something sits right after the mapping, so growing must move, and the driver answers `a` itself.
    expect(p.sys.mmap(a + 8192, 4096, RW, ANON | MAP_FIXED, -1, 0)).toBe(a + 8192);
    expectOopsKill(m, () => p.sys.mremap(a, 8192, 16384, MREMAP_MAYMOVE), "[0x700000000000, 0x700000004000)");
    expect(m.unloadDriver("placer")).toBe(0);
    expect(m.mem.nrFreePages).toBe(free0 + 4);
  });

  it("a free range the driver answers is where the mapping moves, fixed or not (the answer is taken)", async () => {
    const place = { at: 0x7000_0000_0000, honourFixed: true };
    const { m } = await boot(place);
    const p = m.spawn();
    const fd = p.libc.open("/dev/placer", O_RDWR);
    const a = p.sys.mmap(0, 8192, RW, MAP_SHARED, fd, 0);
    p.mmu.store32(a + 4096, 0xbeef);
    expect(p.sys.mmap(a + 8192, 4096, RW, ANON | MAP_FIXED, -1, 0)).toBe(a + 8192);
    place.at = 0x6000_0000_0000;
    expect(p.sys.mremap(a, 8192, 16384, MREMAP_MAYMOVE)).toBe(0x6000_0000_0000);
    expect(p.mmu.load32(0x6000_0000_0000 + 4096)).toBe(0xbeef);
    m.checkInvariants();
  });

  it("mmap takes a mapped answer as Linux does: mmap_region() unmaps what was there", async () => {
    const place = { at: 0x7000_0000_0000, honourFixed: false };
    const { m } = await boot(place);
    const p = m.spawn();
    const anon = p.sys.mmap(0x7000_0000_0000, 4096, RW, ANON | MAP_FIXED, -1, 0);
    expect(anon).toBe(0x7000_0000_0000);
    p.mmu.store32(anon, 7);
    const fd = p.libc.open("/dev/placer", O_RDWR);
    expect(p.sys.mmap(0, 4096, RW, MAP_SHARED, fd, 0)).toBe(0x7000_0000_0000);
    expect(m.procText(`/proc/${p.pid}/maps`)).toContain("/dev/placer");
    expect(m.procText(`/proc/${p.pid}/maps`).split("\n").filter(Boolean)).toHaveLength(1);
    m.checkInvariants();
  });
});
