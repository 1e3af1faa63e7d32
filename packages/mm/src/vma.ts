// mm/vma.c: linking, splitting and duplicating VMAs, and merging. Every merge (a new range next to
// existing VMAs, an existing range whose flags change, a VMA growing in place) builds one `VmaMerge`
// (the kernel's struct vma_merge_struct) and asks the same two questions, canMergeLeft and
// canMergeRight, so a merge rule is written once.
import { MMAP_MIN_ADDR, VM_ACCESS_FLAGS, VM_GROWSDOWN, VM_LOCKED, VM_SOFTDIRTY } from "./constants";
import { EFAULT, ENOMEM, EPERM } from "./errno";
import { linearPageIndex, PAGE, vmaPages } from "./internal";
import { AnonVma, type MmFile, type MmStruct, Vma } from "./mm_types";
import { mayExpandVm, vmEnoughMemory } from "./vm-account";

// ---- the VMA set ------------------------------------------------------------------------------

/** vma_link(): into the tree and the file's i_mmap. */
export function vmaLink(mm: MmStruct, vma: Vma): void {
  mm.vmas.insert(vma);
  vma.vmFile?.mapping.vmas.add(vma);
}

/** remove_vma(): ->close, drop the file reference. The VMA must be unlinked and zapped. */
export function removeVma(vma: Vma): void {
  vma.vmOps?.close?.(vma);
  if (vma.vmFile) {
    vma.vmFile.mapping.vmas.delete(vma);
    vma.vmFile.put();
  }
  vmAreaFree(vma);
}

/** A VMA swallowed by a merge: leaves the tree without ->close (its range lives on in the neighbour). */
function unlinkMerged(mm: MmStruct, v: Vma): void {
  mm.vmas.remove(v);
  if (v.vmFile) {
    v.vmFile.mapping.vmas.delete(v);
    v.vmFile.put();
  }
  vmAreaFree(v);
}

/** vm_area_dup(): a copy of `vma` for `mm` (its own, or a fork child's), holding a file reference. */
export function vmAreaDup(vma: Vma, mm: MmStruct = vma.vmMm): Vma {
  const v = new Vma(mm, vma.vmStart, vma.vmEnd, vma.vmFlags, vma.vmPgoff);
  v.vmOps = vma.vmOps;
  v.vmFile = vma.vmFile;
  v.vmPrivateData = vma.vmPrivateData;
  v.anonVma = vma.anonVma;
  v.anonVmaChainSingular = vma.anonVmaChainSingular;
  v.anonymous = vma.anonymous;
  v.vmPkey = vma.vmPkey;
  v.maybeGuard = vma.maybeGuard;
  v.vmPageProt = vma.vmPageProt;
  v.pfnmapTrackCtx = vma.pfnmapTrackCtx;
  v.pfnmapTrackCtx?.get();
  vma.vmFile?.get();
  return v;
}

/** vm_area_free(): what a VMA holds besides its file: the PAT reservation's reference (pfnmap_track_ctx). */
export function vmAreaFree(vma: Vma): void {
  vma.pfnmapTrackCtx?.put();
  vma.pfnmapTrackCtx = null;
}

/**
 * __split_vma(): splits at addr; the new VMA is the part below addr when `newBelow`, else the
 * part above. The new VMA gets ->open. Returns the new VMA or -errno.
 */
export function splitVma(mm: MmStruct, vma: Vma, addr: number, newBelow: boolean): Vma | number {
  if (vma.vmOps?.maySplit) {
    const err = vma.vmOps.maySplit(vma, addr);
    if (err) return err;
  }
  const nv = vmAreaDup(vma, mm);
  const pages = (addr - vma.vmStart) / PAGE;
  if (newBelow) {
    nv.vmEnd = addr;
    mm.vmas.updateBounds(vma, addr, vma.vmEnd);
    vma.vmPgoff += pages;
  } else {
    nv.vmStart = addr;
    nv.vmPgoff += pages;
    mm.vmas.updateBounds(vma, vma.vmStart, addr);
  }
  vmaLink(mm, nv);
  nv.vmOps?.open?.(nv);
  return nv;
}

/**
 * split_vma(): __split_vma() within vm.max_map_count. A split that would need another map slot is
 * -ENOMEM (2.6.10's split_vma() and today's alike). munmap's splits check the limit themselves, as
 * each era did (era.ts munmapSplitsChecked).
 */
export function splitVmaChecked(mm: MmStruct, vma: Vma, addr: number, newBelow: boolean): Vma | number {
  if (mm.mapCount >= mm.maxMapCount) return -ENOMEM;
  return splitVma(mm, vma, addr, newBelow);
}

// ---- merging ----------------------------------------------------------------------------------

/**
 * struct vma_merge_struct: a range [start, end) with the properties it would have, its neighbours,
 * and (for an existing range) the VMA it lies in.
 */
export interface VmaMerge {
  readonly mm: MmStruct;
  /** The VMA ending at `start`, if any. */
  readonly prev: Vma | null;
  /** The existing VMA the range lies in (vmg->middle); null for a new range. */
  readonly middle: Vma | null;
  /** The VMA starting at `end`, if any. */
  readonly next: Vma | null;
  readonly start: number;
  readonly end: number;
  readonly pgoff: number;
  readonly flags: number;
  readonly pkey: number;
  readonly file: MmFile | null;
  readonly anonVma: AnonVma | null;
  /** The VMA mremap copies (vmg->copied_from), whose anon_vma the range brings along. */
  readonly copiedFrom: Vma | null;
}

/** vma_is_fork_child() (mm/vma.c): has an anon_vma and its anon_vma_chain holds a parent's too. */
function isForkChild(v: Vma | null): boolean {
  return v !== null && v.anonVma !== null && !v.anonVmaChainSingular;
}

/**
 * is_mergeable_anon_vma() (mm/vma.c, 6.16+): may the target `tgt` take the range's anon_vma? The
 * fork-child test applies to the side that brings the anon_vma: the middle VMA and copied_from when
 * only the range has one (dup_anon_vma into tgt), tgt when only tgt has one; with both, they must be
 * the same anon_vma.
 */
function isMergeableAnonVma(tgt: Vma, vmg: VmaMerge): boolean {
  if (!tgt.anonVma && vmg.anonVma) return !isForkChild(vmg.middle) && !isForkChild(vmg.copiedFrom);
  if (tgt.anonVma && !vmg.anonVma) return !isForkChild(tgt);
  return tgt.anonVma === vmg.anonVma;
}

/** is_mergeable_vma() + is_mergeable_anon_vma(): could `v` and the range be one VMA? */
function isMergeable(v: Vma, vmg: VmaMerge): boolean {
  // The vm_ops objects are not compared (neither era's is_mergeable_vma() does): the same file gives
  // the same ops, and a merged range keeps the surviving VMA's. 2.6.10's refused a neighbour with
  // ->close outright; today only a VMA the merge deletes is asked (canRemove; era.ts
  // closeBlocksOnlyRemoval).
  if (v.vmOps?.close && !vmg.mm.rules.closeBlocksOnlyRemoval) return false;
  if ((v.vmFlags ^ vmg.flags) & ~VM_SOFTDIRTY || v.vmPkey !== vmg.pkey) return false;
  if (v.vmFile !== vmg.file) return false;
  return isMergeableAnonVma(v, vmg);
}

/**
 * Neither the new flags nor (for an existing range) the VMA's current ones may be VM_SPECIAL, as the
 * era defines it (era.ts vmSpecial: 2.6.10's vma_merge() refused VM_IO, VM_DONTCOPY, VM_DONTEXPAND and
 * VM_RESERVED). 2.6.10 asked the new flags only; mprotect_fixup() kept the special bits in them.
 */
function special(vmg: VmaMerge): boolean {
  return ((vmg.flags | (vmg.middle?.vmFlags ?? 0)) & vmg.mm.rules.vmSpecial) !== 0;
}

/** can_vma_merge_left(): prev ends at the range and continues it (flags, object, file offset). */
export function canMergeLeft(vmg: VmaMerge): boolean {
  const prev = vmg.prev;
  return (
    prev !== null &&
    !special(vmg) &&
    prev.vmEnd === vmg.start &&
    (vmg.middle === null || vmg.start === vmg.middle.vmStart) &&
    isMergeable(prev, vmg) &&
    prev.vmPgoff + vmaPages(prev) === vmg.pgoff
  );
}

/** can_vma_merge_right(): next starts at the range's end and continues it. */
export function canMergeRight(vmg: VmaMerge): boolean {
  const next = vmg.next;
  return (
    next !== null &&
    !special(vmg) &&
    next.vmStart === vmg.end &&
    (vmg.middle === null || vmg.end === vmg.middle.vmEnd) &&
    isMergeable(next, vmg) &&
    next.vmPgoff === vmg.pgoff + (vmg.end - vmg.start) / PAGE
  );
}

/**
 * can_merge_remove_vma(): a VMA a merge deletes must have no ->close, or its driver would never see a
 * close for that VMA. 2.6.10's vma_merge() asked only prev and next (isMergeable), never the VMA whose
 * range changed, which a merge into prev then deleted whatever its ops (era.ts closeBlocksOnlyRemoval).
 */
const canRemove = (mm: MmStruct, v: Vma): boolean => !v.vmOps?.close || !mm.rules.closeBlocksOnlyRemoval;

/** Merging prev and next across the range: their anon_vmas must not differ (no fork test). */
const anonVmasCompatible = (prev: Vma, next: Vma): boolean =>
  !prev.anonVma || !next.anonVma || prev.anonVma === next.anonVma;

/**
 * Describes a new range [start, end) of `mm` that nothing maps yet, with the VMAs around it, for
 * vmaMergeNewRange(). Built field by field (one shape, no spread: this runs on every mmap).
 */
export function newRangeMerge(
  mm: MmStruct,
  range: Omit<VmaMerge, "mm" | "prev" | "middle" | "next" | "copiedFrom"> & { copiedFrom?: Vma | null },
): VmaMerge {
  const next0 = mm.vmas.find(range.start);
  const prevCand = next0 ? mm.vmas.prev(next0) : mm.vmas.last();
  return {
    mm,
    prev: prevCand && prevCand.vmEnd === range.start ? prevCand : null,
    middle: null,
    next: next0 && next0.vmStart === range.end ? next0 : null,
    start: range.start,
    end: range.end,
    pgoff: range.pgoff,
    flags: range.flags,
    pkey: range.pkey,
    file: range.file,
    anonVma: range.anonVma,
    copiedFrom: range.copiedFrom ?? null,
  };
}

/**
 * vma_merge_new_range(): covers the new range by expanding prev and/or next. Returns the VMA now
 * covering it, or null.
 */
export function vmaMergeNewRange(vmg: VmaMerge): Vma | null {
  const { mm, prev, next } = vmg;
  const left = canMergeLeft(vmg);
  const right = canMergeRight(vmg);
  // Merging all three deletes `next`: only if it has no ->close and the anon_vmas agree.
  if (left && right && prev && next && canRemove(mm, next) && anonVmasCompatible(prev, next)) {
    const nextEnd = next.vmEnd;
    if (!prev.anonVma) prev.anonVma = next.anonVma;
    stick(prev, next, vmg.copiedFrom);
    unlinkMerged(mm, next);
    mm.vmas.updateBounds(prev, prev.vmStart, nextEnd);
    return prev;
  }
  if (left && prev) {
    mm.vmas.updateBounds(prev, prev.vmStart, vmg.end);
    if (!prev.anonVma) prev.anonVma = vmg.anonVma;
    stick(prev, vmg.copiedFrom);
    return prev;
  }
  if (right && next) {
    mm.vmas.updateBounds(next, vmg.start, next.vmEnd);
    next.vmPgoff = vmg.pgoff;
    if (!next.anonVma) next.anonVma = vmg.anonVma;
    stick(next, vmg.copiedFrom);
    return next;
  }
  return null;
}

/** The sticky flags (VM_STICKY: VM_MAYBE_GUARD) of every VMA a merge takes in stay on the one it keeps. */
function stick(target: Vma, ...merged: ReadonlyArray<Vma | null | undefined>): void {
  for (const v of merged) if (v?.maybeGuard) target.maybeGuard = true;
}

/**
 * vma_merge_existing_range(): [start, end) of vmg.middle takes new flags; merge it into prev and/or
 * next when they are compatible. Returns the VMA now covering the range, or null (no merge).
 */
function vmaMergeExistingRange(vmg: VmaMerge): Vma | null {
  const { mm, prev, next, start, end } = vmg;
  const vma = vmg.middle!;
  const mergeLeft = canMergeLeft(vmg);
  const mergeRight = canMergeRight(vmg);
  const whole = start === vma.vmStart && end === vma.vmEnd;
  const pages = (end - start) / PAGE;
  // prev absorbs vma and next: both are deleted.
  if (
    mergeLeft &&
    mergeRight &&
    whole &&
    prev &&
    next &&
    canRemove(mm, vma) &&
    canRemove(mm, next) &&
    anonVmasCompatible(prev, next)
  ) {
    const nextEnd = next.vmEnd;
    if (!prev.anonVma) prev.anonVma = vma.anonVma ?? next.anonVma;
    stick(prev, vma, next);
    unlinkMerged(mm, vma);
    unlinkMerged(mm, next);
    mm.vmas.updateBounds(prev, prev.vmStart, nextEnd);
    return prev;
  }
  if (mergeLeft && prev && (!whole || canRemove(mm, vma))) {
    if (!prev.anonVma) prev.anonVma = vma.anonVma;
    stick(prev, vma);
    if (whole) {
      unlinkMerged(mm, vma);
      mm.vmas.updateBounds(prev, prev.vmStart, end);
    } else {
      mm.vmas.updateBounds(vma, end, vma.vmEnd);
      vma.vmPgoff += pages;
      mm.vmas.updateBounds(prev, prev.vmStart, end);
    }
    return prev;
  }
  if (mergeRight && next && (!whole || canRemove(mm, vma))) {
    if (whole && !mm.rules.mergeRightKeepsNext) {
      // 2.6.10's vma_merge() case 8: vma_adjust() grows the changed VMA over next and frees next, whose
      // ->close is never called (is_mergeable_vma let no next with one get here). The VMA keeps its
      // vm_ops and private data; mprotect_fixup() gave it the new flags.
      const nextEnd = next.vmEnd;
      if (!vma.anonVma) vma.anonVma = next.anonVma;
      stick(vma, next);
      unlinkMerged(mm, next);
      mm.vmas.updateBounds(vma, start, nextEnd);
      vma.vmFlags = vmg.flags;
      vma.vmPkey = vmg.pkey;
      return vma;
    }
    if (!next.anonVma) next.anonVma = vma.anonVma;
    stick(next, vma);
    if (whole) {
      unlinkMerged(mm, vma);
      mm.vmas.updateBounds(next, start, next.vmEnd);
    } else {
      mm.vmas.updateBounds(vma, vma.vmStart, start);
      mm.vmas.updateBounds(next, start, next.vmEnd);
    }
    next.vmPgoff = vmg.pgoff;
    return next;
  }
  return null;
}

/** What vmaModifyFlags() is asked besides the range and its new flags. */
export interface ModifyFlags {
  /** The protection key the range takes (pkey_mprotect); default the VMA's own. */
  readonly pkey?: number;
  /**
   * false: split only, never merge, as 2.6.10's mlock_fixup() and madvise_behavior() did (era.ts
   * lockAdviceMerges; its mprotect_fixup() merged). Default true.
   */
  readonly merge?: boolean;
}

/**
 * vma_modify_flags() for [start, end) inside `vma`: merge with a neighbour if the result is
 * compatible (vma_merge_existing_range), else split off the outside parts. Returns the VMA that
 * now covers exactly [start, end), or -errno.
 */
export function vmaModifyFlags(
  mm: MmStruct,
  vma: Vma,
  start: number,
  end: number,
  newFlags: number,
  opts: ModifyFlags = {},
): Vma | number {
  const newPkey = opts.pkey ?? vma.vmPkey;
  if (opts.merge !== false) {
    const merged = vmaMergeExistingRange({
      mm,
      prev: mm.vmas.prev(vma) ?? null,
      middle: vma,
      next: mm.vmas.next(vma) ?? null,
      start,
      end,
      pgoff: linearPageIndex(vma, start),
      flags: newFlags,
      pkey: newPkey,
      file: vma.vmFile,
      anonVma: vma.anonVma,
      copiedFrom: null,
    });
    if (merged) return merged;
  }
  // vma_modify(): no merge, so split off what lies outside the range.
  if (start > vma.vmStart) {
    const r = splitVmaChecked(mm, vma, start, true);
    if (typeof r === "number") return r;
  }
  if (end < vma.vmEnd) {
    const r = splitVmaChecked(mm, vma, end, false);
    if (typeof r === "number") return r;
  }
  const target = mm.vmaLookup(start)!;
  target.vmFlags = newFlags;
  target.vmPkey = newPkey;
  return target;
}

/**
 * vma_merge_extend() (mremap growing in place, today): `vma` grows by `delta` bytes into free space,
 * merging with a compatible next VMA. The grown range is a new range whose prev is `vma` itself, so
 * this fails only where vma_merge_new_range() refuses outright: a VM_SPECIAL VMA.
 */
export function vmaMergeExtend(mm: MmStruct, vma: Vma, delta: number): boolean {
  const oldEnd = vma.vmEnd;
  const merged = vmaMergeNewRange(
    newRangeMerge(mm, {
      start: oldEnd,
      end: oldEnd + delta,
      pgoff: linearPageIndex(vma, oldEnd),
      flags: vma.vmFlags,
      pkey: vma.vmPkey,
      file: vma.vmFile,
      anonVma: vma.anonVma,
    }),
  );
  return merged !== null;
}

// ---- anon_vma and stack growth ------------------------------------------------------------------

/** reusable_anon_vma()/anon_vma_compatible(): an adjacent neighbour whose anon_vma `vma` may share. */
function reusableAnonVma(n: Vma | null | undefined, vma: Vma): AnonVma | null {
  if (
    n?.anonVma &&
    (n.vmEnd === vma.vmStart || n.vmStart === vma.vmEnd) &&
    n.anonVmaChainSingular &&
    ((n.vmFlags ^ vma.vmFlags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) === 0 &&
    n.vmFile === vma.vmFile &&
    n.vmPgoff === vma.vmPgoff + (n.vmStart - vma.vmStart) / PAGE
  )
    return n.anonVma;
  return null;
}

/**
 * anon_vma_prepare(): give `vma` an anon_vma if it has none, reusing a mergeable neighbour's;
 * find_mergeable_anon_vma() (mm/vma.c) tries the next VMA first, then the previous one.
 */
export function anonVmaPrepare(mm: MmStruct, vma: Vma): void {
  if (vma.anonVma) return;
  vma.anonVma =
    reusableAnonVma(mm.vmas.next(vma), vma) ?? reusableAnonVma(mm.vmas.prev(vma), vma) ?? new AnonVma();
}

/**
 * expand_downwards(): the fault at `address` found no VMA but `vma`, VM_GROWSDOWN, above it; grow
 * `vma` down to the faulting page. Returns 0, or -errno (the fault is then SEGV_MAPERR):
 * - below mmap_min_addr: -EPERM;
 * - the previous VMA, unless it is VM_GROWSDOWN too or inaccessible (PROT_NONE), must stay at least
 *   stack_guard_gap below the new start (`address - prev->vm_end < stack_guard_gap` is -ENOMEM; no
 *   gap in 2.6.10, era.ts stackGuardGap);
 * - anon_vma_prepare() comes before the growth (and stays if the growth then fails);
 * - growing more pages than vm_pgoff is -ENOMEM; acct_stack_growth(): the new size must not pass
 *   RLIMIT_STACK, nor a VM_LOCKED vma's growth RLIMIT_MEMLOCK (mlock_future_ok()), and the growth is
 *   charged (security_vm_enough_memory_mm(), made even without VM_ACCOUNT: the overcommit heuristic).
 * Then locked_vm grows with a VM_LOCKED vma, vm_start moves down and vm_pgoff with it.
 */
export function expandDownwards(mm: MmStruct, vma: Vma, address: number): number {
  if (!(vma.vmFlags & VM_GROWSDOWN)) return -EFAULT;
  const addr = address - (address % PAGE);
  if (addr < MMAP_MIN_ADDR) return -EPERM;
  const prev = mm.vmas.prev(vma);
  if (
    prev &&
    !(prev.vmFlags & VM_GROWSDOWN) &&
    prev.vmFlags & VM_ACCESS_FLAGS &&
    addr - prev.vmEnd < mm.rules.stackGuardGap
  )
    return -ENOMEM;
  anonVmaPrepare(mm, vma);
  if (addr >= vma.vmStart) return 0;
  const size = vma.vmEnd - addr;
  const grow = (vma.vmStart - addr) / PAGE;
  if (grow > vma.vmPgoff) return -ENOMEM;
  if (!mayExpandVm(mm, vma.vmFlags, grow)) return -ENOMEM;
  if (size > mm.stackLimit) return -ENOMEM;
  if (vma.vmFlags & VM_LOCKED && (mm.lockedVm + grow) * PAGE > mm.mlockLimit) return -ENOMEM;
  // acct_stack_growth(): the growth is charged even without VM_ACCOUNT.
  if (vmEnoughMemory(mm, grow)) return -ENOMEM;
  if (vma.vmFlags & VM_LOCKED) mm.lockedVm += grow;
  mm.vmas.updateBounds(vma, addr, vma.vmEnd);
  vma.vmPgoff -= grow;
  return 0;
}
