import { PG_dirty } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { simple } from "./__fixtures__/test-drivers";
import {
  checkGupInvariants,
  FOLL_LONGTERM,
  FOLL_WRITE,
  GUP_PIN_COUNTING_BIAS,
  getUserPages,
  gupPinCount,
  pageMaybeDmaPinned,
  pinUserPages,
  unpinUserPages,
  unpinUserPagesDirtyLock,
} from "./gup";
import {
  EFAULT,
  EINVAL,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  type Page,
  PROT_READ,
  PROT_WRITE,
  putPage,
} from "./index";

const RAM = 16 * 1024 * 1024;
const PAGE = 4096;

async function boot() {
  const m = await Machine.create({ ramBytes: RAM, drivers: [simple({ modernFault: true })] });
  const p = m.spawn({ name: "dio" });
  const buf = p.libc.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  /** Runs `fn` as kernel code on behalf of `proc` (a driver's ioctl). */
  const asDriver = <T>(proc: typeof p, fn: () => T): T => m.syscall(proc, "ioctl", fn) as T;
  return { m, p, buf, asDriver };
}

describe("pin_user_pages / get_user_pages", () => {
  it("faults pages in, pins with the counting bias, a device write reaches the process, unpin dirties", async () => {
    const { m, p, buf, asDriver } = await boot();
    const pages: Page[] = [];
    expect(asDriver(p, () => pinUserPages(buf, 2, FOLL_WRITE | FOLL_LONGTERM, pages))).toBe(2);
    const [a, b] = pages as [Page, Page];
    expect(a.count).toBe(1 + GUP_PIN_COUNTING_BIAS);
    expect(a.mapcount).toBe(1);
    expect(pageMaybeDmaPinned(a)).toBe(true);
    expect(gupPinCount(m, a.pfn)).toBe(1);
    m.checkInvariants();
    checkGupInvariants(m);
    // The "device" writes the pinned frame by physical address: the process sees it.
    m.phys.writeBytes(b.pfn * PAGE + 8, Uint8Array.of(0xde, 0xad));
    expect(p.mmu.load16(buf + PAGE + 8)).toBe(0xadde);
    asDriver(p, () => unpinUserPagesDirtyLock(pages, 2, true));
    expect(a.count).toBe(1);
    expect(pageMaybeDmaPinned(a)).toBe(false);
    expect(a.flags & PG_dirty).toBe(PG_dirty);
    expect(gupPinCount(m, a.pfn)).toBe(0);
    m.checkInvariants();
  });

  it("FOLL_WRITE breaks COW first: the parent's pinned page is its own, the child keeps the old one", async () => {
    const { m, p, buf, asDriver } = await boot();
    p.mmu.store8(buf, 0x11);
    const child = m.process(p.libc.fork())!;
    const pages: Page[] = [];
    expect(asDriver(p, () => pinUserPages(buf, 1, FOLL_WRITE, pages))).toBe(1);
    const pinned = pages[0]!;
    expect(pinned.mapcount).toBe(1);
    m.phys.physWrite8(pinned.pfn * PAGE, 0x22);
    expect(p.mmu.load8(buf)).toBe(0x22);
    expect(child.mmu.load8(buf)).toBe(0x11);
    m.checkInvariants();
    // A read pin of a page still shared with the child is unshared (gup_must_unshare).
    p.mmu.store8(buf + PAGE, 0x33);
    const child2 = m.process(p.libc.fork())!;
    const ro: Page[] = [];
    expect(asDriver(p, () => pinUserPages(buf + PAGE, 1, 0, ro))).toBe(1);
    expect(ro[0]!.mapcount).toBe(1);
    m.phys.physWrite8(ro[0]!.pfn * PAGE, 0x44);
    expect(child2.mmu.load8(buf + PAGE)).toBe(0x33);
    asDriver(p, () => unpinUserPages([...pages, ...ro]));
    m.checkInvariants();
  });

  it("fork after pin copies the pinned page for the child: the parent keeps it writable, no COW takes it away", async () => {
    const { m, p, buf, asDriver } = await boot();
    p.mmu.store8(buf, 0x11);
    p.mmu.store8(buf + PAGE, 0x55);
    const pages: Page[] = [];
    expect(asDriver(p, () => pinUserPages(buf, 1, FOLL_WRITE | FOLL_LONGTERM, pages))).toBe(1);
    const pinned = pages[0]!;
    const unpinnedPte = p.mm.pgd.getPte(buf + PAGE);
    const child = m.process(p.libc.fork())!;
    // The child got its own copy of the pinned page at fork; the unpinned one is shared COW.
    const childPfn = Math.floor(child.mm.pgd.getPte(buf) / PAGE) % 2 ** 40;
    expect(childPfn).not.toBe(pinned.pfn);
    expect(child.mmu.load8(buf)).toBe(0x11);
    expect(pinned.mapcount).toBe(1);
    expect(m.mem.pfnToPage(Math.floor(unpinnedPte / PAGE) % 2 ** 40).mapcount).toBe(2);
    // The parent's store goes to the pinned page itself (its PTE stayed writable: no COW fault).
    const faults = p.mm.minflt;
    p.mmu.store8(buf + 1, 0x22);
    expect(p.mm.minflt).toBe(faults);
    expect(m.phys.physRead8(pinned.pfn * PAGE + 1)).toBe(0x22);
    // A device write into the pinned page reaches the parent, not the child.
    m.phys.physWrite8(pinned.pfn * PAGE + 2, 0x33);
    expect(p.mmu.load8(buf + 2)).toBe(0x33);
    expect(child.mmu.load8(buf + 2)).toBe(0);
    m.checkInvariants();
    asDriver(p, () => unpinUserPages(pages));
    m.checkInvariants();
  });

  it("a page munmapped (by parent and forked child) while pinned stays allocated until the last unpin, counts exact throughout", async () => {
    const { m, p, buf, asDriver } = await boot();
    const pages: Page[] = [];
    expect(asDriver(p, () => pinUserPages(buf, 1, FOLL_WRITE, pages))).toBe(1);
    const pg = pages[0]!;
    const child = m.process(p.libc.fork())!;
    m.checkInvariants();
    checkGupInvariants(m);
    child.libc.munmap(buf, 4 * PAGE);
    p.libc.munmap(buf, 4 * PAGE);
    expect(pg.mapcount).toBe(0);
    expect(pg.count).toBe(GUP_PIN_COUNTING_BIAS);
    const free = m.mem.nrFreePages;
    m.checkInvariants();
    asDriver(p, () => unpinUserPages(pages));
    expect(m.mem.nrFreePages).toBe(free + 1);
    m.checkInvariants();
  });

  it("refuses VM_IO/VM_PFNMAP, write to read-only, no VMA (-EFAULT); counts partial runs; LONGTERM only for pins", async () => {
    const { m, p, buf, asDriver } = await boot();
    const fd = p.libc.open("/dev/simpler", O_RDWR);
    const io = p.libc.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0x100000);
    const ro = p.libc.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const pages: Page[] = [];
    expect(asDriver(p, () => pinUserPages(io, 1, 0, pages))).toBe(-EFAULT);
    expect(asDriver(p, () => pinUserPages(ro, 1, FOLL_WRITE, pages))).toBe(-EFAULT);
    expect(asDriver(p, () => pinUserPages(0x1000, 1, 0, pages))).toBe(-EFAULT);
    expect(asDriver(p, () => getUserPages(buf, 1, FOLL_LONGTERM, pages))).toBe(-EINVAL);
    expect(asDriver(p, () => pinUserPages(buf, 1, 1 << 19, pages))).toBe(-EINVAL);
    // Four pages of buffer, six asked: four done.
    expect(asDriver(p, () => pinUserPages(buf, 6, FOLL_WRITE, pages))).toBe(4);
    // A read pin of an untouched page pins the zero page without a reference.
    const zr: Page[] = [];
    expect(asDriver(p, () => pinUserPages(ro, 1, 0, zr))).toBe(1);
    expect(zr[0]!.pfn).toBe(m.mem.zeroPfn);
    const got: Page[] = [];
    expect(asDriver(p, () => getUserPages(buf, 1, 0, got))).toBe(1);
    expect(got[0]!.count).toBe(2 + GUP_PIN_COUNTING_BIAS);
    m.checkInvariants();
    asDriver(p, () => {
      putPage(got[0]!);
      unpinUserPages(pages);
      unpinUserPages(zr);
    });
    expect(() => asDriver(p, () => unpinUserPages(pages.slice(0, 1)))).toThrow();
    m.checkInvariants();
  });
});
