/**
 * arch/x86/mm/ioremap.c's memtype half: every ioremap*() of device memory reserves the pages' memory
 * type for as long as the window lives (__ioremap_caller → memtype_reserve; iounmap → memtype_free),
 * so a user mapping of the same range cannot get a conflicting type. ioremap() asks for UC-,
 * ioremap_wc() for WC, ioremap_uc() for UC.
 */
import { isNewMemtypeAllowed, memtypesOf, type PageCacheMode } from "@faultline/mm";
import { PAGE_SIZE } from "@faultline/phys";
import { EBUSY } from "../constants";
import { warn } from "./bug";
import type { Kernel } from "./kernel";

interface Reservation {
  readonly start: number;
  readonly end: number;
}

/** The reservation each live ioremap window holds (its iounmap frees it). */
const reservations = new WeakMap<object, Reservation>();

/**
 * The memtype step of __ioremap_caller(): the whole pages of [paddr, paddr + size) reserved as `pcm`,
 * accepting another type only where is_new_memtype_allowed() does. Returns the type granted or -errno
 * (with the kernel's error line). RAM is not reserved here: Linux refuses ioremap of RAM before this
 * step, and the model's ioremap leaves RAM windows as they were.
 */
export function ioremapReserve(
  k: Kernel,
  paddr: number,
  size: number,
  pcm: PageCacheMode,
): { readonly type: number; readonly range: Reservation | null } {
  const start = Math.floor(paddr / PAGE_SIZE) * PAGE_SIZE;
  const end = Math.ceil((paddr + size) / PAGE_SIZE) * PAGE_SIZE;
  const mt = memtypesOf(k.mem);
  if (mt.pagerangeIsRam(start, end) === 1) return { type: pcm, range: null };
  const got = mt.reserve(start, end, pcm, true);
  if (got < 0) {
    k.log.printk(3, `ioremap memtype_reserve failed ${got}`);
    return { type: got, range: null };
  }
  if (got !== pcm && !isNewMemtypeAllowed(start, end - start, pcm, got)) {
    k.log.printk(
      3,
      `ioremap error for 0x${start.toString(16)}-0x${end.toString(16)}, requested 0x${pcm.toString(16)}, got 0x${got.toString(16)}`,
    );
    mt.free(start, end);
    return { type: -EBUSY, range: null };
  }
  return { type: got, range: { start, end } };
}

/** Records that `window` holds `range` until its iounmap. */
export function ioremapTrack(window: object, range: Reservation | null): void {
  if (range) reservations.set(window, range);
}

/** iounmap()'s memtype_free: each window frees its own reservation once; a second iounmap is a WARNING. */
export function iounmapRelease(k: Kernel | null, window: object): void {
  if (!k) return;
  const r = reservations.get(window);
  if (!r) {
    if (released.has(window))
      warn(k, "iounmap (arch/x86/mm/ioremap.c)", "iounmap: bad address (this window was already unmapped)");
    return;
  }
  reservations.delete(window);
  released.add(window);
  memtypesOf(k.mem).free(r.start, r.end);
}

const released = new WeakSet<object>();
