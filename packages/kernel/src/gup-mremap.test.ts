// Pins under mremap (mm/mremap.c moves PTEs, not pages): a pinned page moved to a new address is the
// same page with the same counts; a pinned page that a shrink unmaps stays allocated until the unpin.
import { describe, expect, it } from "vitest";
import {
  checkGupInvariants,
  FOLL_WRITE,
  GUP_PIN_COUNTING_BIAS,
  gupPinCount,
  pinUserPages,
  unpinUserPages,
} from "./gup";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  MREMAP_MAYMOVE,
  type Page,
  PROT_READ,
  PROT_WRITE,
} from "./index";

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

async function boot() {
  const m = await Machine.create({ ramBytes: 16 << 20 });
  const p = m.spawn({ name: "dio" });
  const buf = p.libc.mmap(0, 4 * PAGE, RW, ANON, -1, 0);
  const asDriver = <T>(fn: () => T): T => m.syscall(p, "ioctl", fn) as T;
  return { m, p, buf, asDriver };
}

describe("pin_user_pages and mremap", () => {
  it("a move keeps the pinned page where the pin sees it: same frame, same counts, device writes visible at the new address", async () => {
    const { m, p, buf, asDriver } = await boot();
    const pages: Page[] = [];
    expect(asDriver(() => pinUserPages(buf + PAGE, 1, FOLL_WRITE, pages))).toBe(1);
    const pg = pages[0]!;
    // Something right after the buffer, so growing it must move it.
    expect(p.libc.mmap(buf + 4 * PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0)).toBe(buf + 4 * PAGE);
    const moved = p.libc.mremap(buf, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    expect(moved).not.toBe(buf);
    expect(pg.count).toBe(1 + GUP_PIN_COUNTING_BIAS);
    expect(pg.mapcount).toBe(1);
    expect(gupPinCount(m, pg.pfn)).toBe(1);
    m.checkInvariants();
    checkGupInvariants(m);
    m.phys.writeBytes(pg.pfn * PAGE, Uint8Array.of(0x42));
    expect(p.mmu.load8(moved + PAGE)).toBe(0x42);
    asDriver(() => unpinUserPages(pages));
    expect(pg.count).toBe(1);
    m.checkInvariants();
  });

  it("a shrink that unmaps the pinned page leaves it allocated to the pin alone until the unpin frees it", async () => {
    const { m, p, buf, asDriver } = await boot();
    const pages: Page[] = [];
    expect(asDriver(() => pinUserPages(buf + 3 * PAGE, 1, FOLL_WRITE, pages))).toBe(1);
    const pg = pages[0]!;
    expect(p.libc.mremap(buf, 4 * PAGE, 2 * PAGE, 0)).toBe(buf);
    expect(pg.mapcount).toBe(0);
    expect(pg.count).toBe(GUP_PIN_COUNTING_BIAS);
    m.checkInvariants();
    checkGupInvariants(m);
    const free = m.mem.nrFreePages;
    asDriver(() => unpinUserPages(pages));
    expect(m.mem.nrFreePages).toBe(free + 1);
    m.checkInvariants();
  });
});
