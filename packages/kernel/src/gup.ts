/**
 * get_user_pages / pin_user_pages for drivers (mm/gup.c, include/linux/mm.h), acting on the address
 * space of the process the driver runs for (`current->mm`: from fops read/write/ioctl).
 *
 * - The walk is mm's (getUserPagesWalk: check_vma_flags' -EFAULT for VM_IO/VM_PFNMAP and for
 *   accesses the VMA does not allow, faults with FOLL_WRITE breaking COW first, partial counts).
 * - References as try_grab_folio() takes them: FOLL_GET one reference (put_page drops it);
 *   FOLL_PIN GUP_PIN_COUNTING_BIAS (1024) references on a small folio, so page_maybe_dma_pinned()
 *   is refcount >= 1024; the shared zero page is never pinned (is_zero_folio: no reference taken).
 * - The kernel counts every reference a driver holds this way (checkInvariants' refcount balance),
 *   and the pins per page (gupPinCount), so a page that a process munmaps, forks or mremaps while
 *   pinned keeps its exact refcount and mapcount, and is freed only by the last unpin.
 */
import {
  FOLL_GET,
  FOLL_LONGTERM,
  FOLL_PIN,
  FOLL_WRITE,
  GUP_PIN_COUNTING_BIAS,
  getUserPagesWalk,
  type Mm,
} from "@faultline/mm";
import { type Page, PG_dirty } from "@faultline/phys";
import { EFAULT, EINVAL } from "./constants";
import { currentKernel } from "./internal/current";
import type { Kernel } from "./internal/kernel";
import { driverRef } from "./internal/vm-ops";

export {
  FOLL_FORCE,
  FOLL_GET,
  FOLL_LONGTERM,
  FOLL_NOFAULT,
  FOLL_PIN,
  FOLL_WRITE,
  GUP_PIN_COUNTING_BIAS,
} from "@faultline/mm";

/** Pins per pfn, per kernel (what gupPinCount reports and checkGupInvariants checks). */
const pins = new WeakMap<Kernel, Map<number, number>>();

function pinMap(k: Kernel): Map<number, number> {
  let m = pins.get(k);
  if (!m) {
    m = new Map();
    pins.set(k, m);
  }
  return m;
}

/** @internal The pins of machine `k` (pfn → count), as a snapshot saves and restores them. */
export function gupPins(k: Kernel): Map<number, number> {
  return pinMap(k);
}

/** Flags a caller may pass (the internal FOLL_PIN / FOLL_GET are chosen by the entry point). */
const CALLER_FLAGS = FOLL_WRITE | (1 << 3) | (1 << 5) | (1 << 7) | FOLL_LONGTERM;

function gup(
  what: string,
  start: number,
  nrPages: number,
  gupFlags: number,
  pages: Page[] | null,
  mode: number,
): number {
  const k = currentKernel(what);
  const t = k.current;
  // is_valid_gup_args(): FOLL_PIN/FOLL_GET are internal to the entry points.
  if (!Number.isInteger(gupFlags) || gupFlags & ~CALLER_FLAGS) return -EINVAL;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(nrPages) || nrPages < 0) return -EINVAL;
  if (mode === FOLL_PIN && !pages) return -EINVAL;
  // "LONGTERM can only be specified when pinning" (is_valid_gup_args).
  if (mode !== FOLL_PIN && gupFlags & FOLL_LONGTERM) return -EINVAL;
  if (t?.state !== "running") return -EFAULT;
  if (nrPages === 0) return 0;
  // untagged_addr and the page-aligned start: __get_user_pages works on whole pages.
  const base = start - (start % 4096);
  const pfns: number[] = [];
  const n = getUserPagesWalk(t.mm, base, nrPages, gupFlags | mode, pfns, (pte) =>
    (t.mm as Mm).normalPfn(pte),
  );
  const done = Math.max(0, n);
  for (let i = 0; i < done; i++) {
    const pfn = pfns[i]!;
    const page = k.mem.pfnToPage(pfn);
    if (mode === FOLL_PIN) {
      if (pfn !== k.mem.zeroPfn) {
        for (let r = 0; r < GUP_PIN_COUNTING_BIAS; r++) k.mem.getPage(pfn);
        driverRef(k, pfn, GUP_PIN_COUNTING_BIAS);
        const pm = pinMap(k);
        pm.set(pfn, (pm.get(pfn) ?? 0) + 1);
      }
    } else if (pages) {
      k.mem.getPage(pfn);
      driverRef(k, pfn, 1);
    }
    pages?.push(page);
  }
  return n;
}

/**
 * get_user_pages(start, nr_pages, gup_flags, pages): each page faulted in and referenced (put_page
 * each when done); returns how many, or -errno when the first fails. `pages` may be null (the
 * pages are only faulted in, no references taken).
 */
export function getUserPages(start: number, nrPages: number, gupFlags: number, pages: Page[] | null): number {
  return gup("getUserPages", start, nrPages, gupFlags, pages, pages ? FOLL_GET : 0);
}

/** pin_user_pages(start, nr_pages, gup_flags, pages): pinned for DMA (unpin_user_pages when done). */
export function pinUserPages(start: number, nrPages: number, gupFlags: number, pages: Page[]): number {
  return gup("pinUserPages", start, nrPages, gupFlags, pages, FOLL_PIN);
}

/** pin_user_pages_fast(): the same pins (no separate lockless walk here). */
export const pinUserPagesFast = pinUserPages;

/** unpin_user_page(): drops one pin (the zero page was never pinned). */
export function unpinUserPage(page: Page): void {
  const k = currentKernel("unpinUserPage");
  if (page.pfn === k.mem.zeroPfn) return;
  const pm = pinMap(k);
  const n = pm.get(page.pfn) ?? 0;
  // gup_put_folio() on a page nobody pinned would underflow: a driver bug, an oops.
  if (n <= 0) throw new Error(`unpinUserPage: pfn 0x${page.pfn.toString(16)} is not pinned`);
  if (n === 1) pm.delete(page.pfn);
  else pm.set(page.pfn, n - 1);
  driverRef(k, page.pfn, -GUP_PIN_COUNTING_BIAS);
  for (let r = 0; r < GUP_PIN_COUNTING_BIAS; r++) k.mem.putPage(page.pfn);
}

/** unpin_user_pages(pages, npages). */
export function unpinUserPages(pages: readonly Page[], npages: number = pages.length): void {
  for (let i = 0; i < npages; i++) unpinUserPage(pages[i]!);
}

/**
 * unpin_user_pages_dirty_lock(pages, npages, make_dirty): with make_dirty, each page is marked
 * dirty first (the device wrote it: folio_mark_dirty), then unpinned.
 */
export function unpinUserPagesDirtyLock(pages: readonly Page[], npages: number, makeDirty: boolean): void {
  const k = currentKernel("unpinUserPagesDirtyLock");
  for (let i = 0; i < npages; i++) {
    const p = pages[i]!;
    if (makeDirty && p.pfn !== k.mem.zeroPfn) Atomics.or(k.mem.flags, p.pfn, PG_dirty);
    unpinUserPage(p);
  }
}

/** page_maybe_dma_pinned() / folio_maybe_dma_pinned(): refcount >= GUP_PIN_COUNTING_BIAS. */
export function pageMaybeDmaPinned(page: Page): boolean {
  return page.count >= GUP_PIN_COUNTING_BIAS;
}

/** How many pins this kernel holds on `pfn` (0 when none). */
export function gupPinCount(k: { readonly kernel: Kernel } | Kernel, pfn: number): number {
  const kern = "kernel" in k ? k.kernel : k;
  return pins.get(kern)?.get(pfn) ?? 0;
}

/** How many pages this kernel holds pins on. */
export function gupPinnedPageCount(m: { readonly kernel: Kernel }): number {
  return pins.get(m.kernel)?.size ?? 0;
}

/**
 * The pin invariant: every pinned pfn is allocated and holds at least its pins' references, which
 * the driver-reference count includes. Throws naming the first page that breaks it.
 */
export function checkGupInvariants(m: { readonly kernel: Kernel }): void {
  const k = m.kernel;
  for (const [pfn, n] of pins.get(k) ?? []) {
    const rc = k.mem.pageCount(pfn);
    const held = k.driverRefs.get(pfn) ?? 0;
    if (rc < n * GUP_PIN_COUNTING_BIAS || held < n * GUP_PIN_COUNTING_BIAS) {
      throw new Error(
        `invariant: pfn 0x${pfn.toString(16)} has ${n} pins but refcount ${rc} and ${held} driver-held references`,
      );
    }
  }
}
