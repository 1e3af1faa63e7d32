// mm/mremap.c: do_mremap with its request carried in one `VmaRemap` (struct vma_remap_struct) through
// check_prep_vma, remap_move (multi-VMA MREMAP_FIXED moves since 6.17), mremap_at, mremap_to and
// move_vma.

import { PG_mlocked } from "@faultline/phys";
import {
  MAP_FIXED,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  TASK_SIZE,
  VM_ACCOUNT,
  VM_DONTEXPAND,
  VM_HUGETLB,
  VM_LOCKED,
  VM_LOCKED_MASK,
  VM_MAYSHARE,
  VM_PFNMAP,
  VM_SEALED,
  VM_SHARED,
} from "./constants";
import { EAGAIN, EFAULT, EINVAL, ENOMEM, EPERM } from "./errno";
import { populateLockedMapping } from "./gup";
import { hstateVma, hugeAlign } from "./hugetlb";
import { linearPageIndex, offsetInPage, PAGE, pageAlign, TWO64, ul } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import { doVmiMunmap, getUnmappedArea, rangeFree, vmsCompleteMunmapVmas, vmsGatherMunmapVmas } from "./mmap";
import { TABLE_OOM } from "./pgtable";
import { rssAdd, vmNormalPfn, ZAP_UNMAP, zapPageRange } from "./rmap";
import { ShmemFile } from "./shmem";
import { mayExpandVm, vmEnoughMemory } from "./vm-account";
import { newRangeMerge, removeVma, vmAreaDup, vmaLink, vmaMergeExtend, vmaMergeNewRange } from "./vma";

/** struct vma_remap_struct: one mremap request as it moves through the steps. */
export interface VmaRemap {
  readonly addr: number;
  /** Page aligned (huge page aligned for hugetlb); mremap_to() shortens it when it shrinks before moving. */
  oldLen: number;
  /** Page aligned; align_hugetlb() rounds both lengths up to whole huge pages. */
  newLen: number;
  readonly flags: number;
  /** The requested address (MREMAP_FIXED), then the one chosen for the move. */
  newAddr: number;
  /** The VMA at addr; looked up again after each unmap (vrm->vma). */
  vma: Vma | null;
}

/** do_mremap() on the syscall's arguments: the new address or -errno. */
export function doMremap(
  mm: MmStruct,
  addrIn: number,
  oldLenIn: number,
  newLenIn: number,
  flags: number,
  newAddrIn: number,
): number {
  const addr = ul(addrIn);
  const newAddr = ul(newAddrIn);
  let oldLen = pageAlign(oldLenIn);
  const newLen = pageAlign(newLenIn);
  // check_mremap_params(); the flags known are the era's (mremapFlags: no MREMAP_DONTUNMAP in 2.6.10).
  // flags is an unsigned long: a bit above 31 (or a negative value) is unknown too.
  if (flags & ~mm.rules.mremapFlags || flags !== flags >>> 0) return -EINVAL;
  if (offsetInPage(addrIn) !== 0) return -EINVAL;
  if (newLen === 0) return -EINVAL;
  const impliesNew = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
  // 2.6.10's do_mremap() compared new_len with TASK_SIZE only for MREMAP_FIXED; other calls fail
  // later, mostly with -ENOMEM (era.ts mremapNewLenChecked).
  if (newLen > TASK_SIZE && (impliesNew || mm.rules.mremapNewLenChecked)) return -EINVAL;
  if (impliesNew) {
    if (newAddr > TASK_SIZE - newLen) return -EINVAL;
    if (offsetInPage(newAddrIn) !== 0) return -EINVAL;
    if (!(flags & MREMAP_MAYMOVE)) return -EINVAL;
    if (flags & MREMAP_DONTUNMAP && oldLen !== newLen) return -EINVAL;
    // vrm_overlaps(): end_old is addr + old_len in an unsigned long, so an old_len near 2^64 wraps below
    // addr and overlaps nothing; the call goes on to unmap new_addr (6.18.44: EFAULT or EINVAL after).
    const endOld = Number(BigInt.asUintN(64, BigInt(addr) + BigInt(oldLen)));
    if (endOld > newAddr && newAddr + newLen > addr) return -EINVAL;
    // 2.6.10's do_mremap() tested each side separately: new_addr == addr overlapped even with
    // old_len == 0 (era.ts mremapEmptyOldOverlapsNothing).
    if (newAddr === addr && !mm.rules.mremapEmptyOldOverlapsNothing) return -EINVAL;
    // check_mremap_params(): a move to a new address (only) needs room for both ranges split in
    // three and move_vma()'s four spare slots. Linux 6.18.44: a shrink in place at map_count
    // max_map_count - 1 succeeds; an MREMAP_FIXED move at max_map_count - 5 is ENOMEM. 2.6.10 had
    // only move_vma()'s check, after the unmap at new_addr (era.ts mremapEarlyMapCount).
    if (mm.rules.mremapEarlyMapCount && mm.mapCount + 2 >= mm.maxMapCount - 3) return -ENOMEM;
  }
  if (!mm.rules.mremapVmaChecksFirst) {
    // 2.6.10's do_mremap() unmapped new_addr and shrank before it looked at the VMA, so a call that
    // fails after this leaves both done (era.ts mremapVmaChecksFirst). A shrink without MREMAP_FIXED
    // is done here, whatever was mapped at addr; do_munmap()'s -EINVAL for a zero length is ignored.
    if (flags & MREMAP_FIXED) {
      const err = doVmiMunmap(mm, newAddr, newLen);
      if (err) return err;
    }
    if (oldLen >= newLen) {
      const err = doVmiMunmap(mm, addr + newLen, oldLen - newLen);
      if (err && oldLen !== newLen) return err;
      if (!(flags & MREMAP_FIXED)) return addr;
      oldLen = newLen;
    }
    if (flags & MREMAP_FIXED && !mm.rules.mremapFixedViaMremapTo) {
      // 2.6.10's do_mremap(): the one VMA at addr, its checks (the limits even when nothing grows),
      // then move_vma() at new_addr, no get_unmapped_area() (era.ts mremapFixedViaMremapTo).
      const vrm: VmaRemap = { addr, oldLen, newLen, flags, newAddr, vma: mm.vmaLookup(addr) };
      return checkPrepVma(mm, vrm) || moveVma(mm, vrm);
    }
  }
  // Since v6.17 a pure MREMAP_FIXED move may span several VMAs (remap_move()).
  if (flags & MREMAP_FIXED && oldLen === newLen)
    return remapMove(mm, { addr, oldLen, newLen, flags, newAddr });
  const vma = mm.vmaLookup(addr);
  // A same-size mremap in place is a no-op once something is mapped at addr (what 6.18 answers,
  // whatever lies past the VMA's end), unless the VMA is sealed or hugetlb (check_prep_vma() asks
  // align_hugetlb() first).
  if (vma && oldLen === newLen && !impliesNew && !(vma.vmFlags & VM_HUGETLB))
    return vma.vmFlags & VM_SEALED ? -EPERM : addr;
  const vrm: VmaRemap = { addr, oldLen, newLen, flags, newAddr, vma };
  const err = checkPrepVma(mm, vrm);
  if (err) return err;
  return impliesNew ? mremapTo(mm, vrm) : mremapAt(mm, vrm);
}

/** check_prep_vma() */
function checkPrepVma(mm: MmStruct, r: VmaRemap): number {
  const vma = r.vma;
  if (!vma) return -EFAULT;
  // mseal(2): a sealed VMA is neither moved, shrunk nor grown.
  if (vma.vmFlags & VM_SEALED) return -EPERM;
  const impliesNew = (r.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
  if (vma.vmFlags & VM_HUGETLB) {
    if (!alignHugetlb(r, hstateVma(vma))) return -EINVAL;
    // vrm_will_map_new(): with both lengths whole huge pages, a call that keeps the size in place is
    // a no-op (mremap_at()), whatever lies past the VMA.
    if (r.oldLen === r.newLen && !impliesNew) return 0;
  }
  // 2.6.10 duplicated private mappings too (era.ts mremapZeroOldLenSharedOnly).
  if (r.oldLen === 0 && mm.rules.mremapZeroOldLenSharedOnly && !(vma.vmFlags & (VM_SHARED | VM_MAYSHARE)))
    return -EINVAL;
  if (r.flags & MREMAP_DONTUNMAP && vma.vmFlags & (VM_DONTEXPAND | VM_PFNMAP)) return -EINVAL;
  // A shrink unmaps the tail wherever it lies (shrink_vma() uses do_vmi_munmap); what moves or
  // grows must lie inside this VMA.
  const len = r.newLen < r.oldLen ? (impliesNew ? r.newLen : 0) : r.oldLen;
  if (len > vma.vmEnd - r.addr) return -EFAULT;
  const grows = r.newLen > r.oldLen;
  // 2.6.10's do_mremap() checked the limits below on every call that got here, growing or not
  // (era.ts mremapFixedViaMremapTo): a move of locked memory failed once RLIMIT_MEMLOCK was lowered.
  if (!grows && mm.rules.mremapFixedViaMremapTo) return 0;
  if (grows) {
    if (linearPageIndex(vma, r.addr) + r.newLen / PAGE >= TWO64) return -EINVAL;
    // Every remap_pfn_range VMA is VM_DONTEXPAND|VM_PFNMAP today: it may shrink or move, never grow.
    // 2.6.10's do_mremap() asked VM_DONTEXPAND only, so its VM_IO|VM_RESERVED ones grew.
    if (vma.vmFlags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  }
  if (vma.vmFlags & VM_LOCKED && mm.lockedVm * PAGE + r.newLen - r.oldLen > mm.mlockLimit) return -EAGAIN;
  if (!mayExpandVm(mm, vma.vmFlags, (r.newLen - r.oldLen) / PAGE)) return -ENOMEM;
  return 0;
}

/**
 * align_hugetlb(): both lengths are rounded up to whole huge pages, both addresses must be huge page
 * aligned (new_addr as the syscall gave it, even without MREMAP_FIXED: 6.18.44 refuses a same-size
 * mremap in place whose fifth argument is 0x1000), and the mapping may not grow ("the underlying hugetlb
 * reservation is not yet capable to handle split reservation"). False: -EINVAL.
 */
function alignHugetlb(r: VmaRemap, size: number): boolean {
  r.oldLen = hugeAlign(r.oldLen, size);
  r.newLen = hugeAlign(r.newLen, size);
  if (r.addr % size !== 0 || r.newAddr % size !== 0) return false;
  return r.newLen <= r.oldLen;
}

/** remap_move(): a same-size MREMAP_FIXED move of every VMA in the range, keeping the gaps. */
function remapMove(mm: MmStruct, r: Omit<VmaRemap, "vma">): number {
  const start = r.addr;
  const end = r.addr + r.oldLen;
  let res = -EFAULT;
  let seen = false;
  let target = r.newAddr;
  let lastEnd = 0;
  let pos = start;
  for (;;) {
    // for_each_vma_range(): after a move the walk resumes at the old end of the VMA just done, so
    // a VMA that grew by merging with the moved piece is not visited again.
    let vma = mm.vmas.find(pos);
    if (vma && seen && vma.vmStart < pos) vma = mm.vmas.next(vma);
    if (!vma || vma.vmStart >= end) break;
    if (!seen && start < vma.vmStart) return -EFAULT;
    const a = Math.max(vma.vmStart, start);
    const len = Math.min(end, vma.vmEnd) - a;
    const offset = seen ? vma.vmStart - lastEnd : 0;
    lastEnd = vma.vmEnd;
    pos = vma.vmEnd;
    const sub: VmaRemap = {
      addr: a,
      oldLen: len,
      newLen: len,
      flags: r.flags,
      newAddr: target + offset,
      vma,
    };
    // vma_multi_allowed(): a driver that places its own mappings may not obey MREMAP_FIXED.
    if (vma.vmFile?.getUnmappedArea && !(vma.vmFile instanceof ShmemFile)) {
      if (seen || vma.vmEnd < end) return -EFAULT;
    }
    let rv = checkPrepVma(mm, sub);
    if (!rv) rv = mremapTo(mm, sub);
    if (rv < 0) return rv;
    if (!seen) res = rv;
    seen = true;
    target = rv + len;
  }
  return res;
}

/** mremap_at(): resize without a new address. */
function mremapAt(mm: MmStruct, r: VmaRemap): number {
  const vma = r.vma!;
  if (r.oldLen === r.newLen) return r.addr;
  if (r.newLen < r.oldLen) {
    // shrink_vma(): a failed unmap (a split past vm.max_map_count) is the answer; 2.6.10's do_mremap()
    // returned do_munmap()'s error too. Linux 6.18.44: shrinking a VMA to leave a hole at
    // max_map_count is ENOMEM.
    const err = doVmiMunmap(mm, r.addr + r.newLen, r.oldLen - r.newLen);
    return err || r.addr;
  }
  // expand_vma(): grow in place when the range ends at the VMA's end and the space after is free.
  const delta = r.newLen - r.oldLen;
  if (
    r.addr + r.oldLen === vma.vmEnd &&
    vma.vmEnd + delta <= TASK_SIZE &&
    rangeFree(mm, vma.vmEnd, vma.vmEnd + delta)
  ) {
    return expandVmaInPlace(mm, vma, delta) ? r.addr : -ENOMEM;
  }
  if (!(r.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  // 2.6.10's do_mremap() passed the VMA's own vm_pgoff (era.ts mremapAreaPgoffAtAddr).
  const pgoff = mm.rules.mremapAreaPgoffAtAddr ? linearPageIndex(vma, r.addr) : vma.vmPgoff;
  const a = getUnmappedArea(mm, vma.vmFile, 0, r.newLen, pgoff, vma.vmFlags & VM_MAYSHARE ? MAP_SHARED : 0);
  if (a < 0) return a;
  r.newAddr = checkNewRange(mm, vma, a, r.newLen);
  return moveVma(mm, r);
}

/**
 * vrm_set_new_addr() takes whatever get_unmapped_area() answers. A driver's own get_unmapped_area
 * may answer a range that is already mapped (or, for MREMAP_FIXED, ignore MAP_FIXED and answer
 * another address that is): Linux would then insert the moved VMA over live ones and corrupt the
 * tree. Here that is a kernel BUG, raised before anything changes, so the caller dies by the oops
 * and the machine stays consistent.
 */
function checkNewRange(mm: MmStruct, vma: Vma, addr: number, len: number): number {
  if (!rangeFree(mm, addr, addr + len)) {
    throw new Error(
      `get_unmapped_area of ${vma.vmFile?.path ?? "an anonymous mapping"} answered ` +
        `[0x${addr.toString(16)}, 0x${(addr + len).toString(16)}), which is already mapped`,
    );
  }
  return addr;
}

/** mremap_to(): MREMAP_FIXED / MREMAP_DONTUNMAP. */
function mremapTo(mm: MmStruct, r: VmaRemap): number {
  if (r.flags & MREMAP_FIXED) {
    const err = doVmiMunmap(mm, r.newAddr, r.newLen);
    if (err) return err;
    r.vma = mm.vmaLookup(r.addr);
    if (!r.vma) return -EFAULT;
  }
  if (r.newLen < r.oldLen) {
    // mremap_to(): shrink_vma()'s error is the answer.
    const err = doVmiMunmap(mm, r.addr + r.newLen, r.oldLen - r.newLen);
    if (err) return err;
    r.oldLen = r.newLen;
    r.vma = mm.vmaLookup(r.addr);
    if (!r.vma) return -EFAULT;
  }
  const vma = r.vma!;
  // mremap_to(): MREMAP_DONTUNMAP keeps the old range, so the address space grows by all of it
  // (RLIMIT_AS, and RLIMIT_DATA for a data mapping), checked after the unmap at new_addr.
  if (r.flags & MREMAP_DONTUNMAP && !mayExpandVm(mm, vma.vmFlags, r.oldLen / PAGE)) return -ENOMEM;
  const mapFlags = (r.flags & MREMAP_FIXED ? MAP_FIXED : 0) | (vma.vmFlags & VM_MAYSHARE ? MAP_SHARED : 0);
  const a = getUnmappedArea(mm, vma.vmFile, r.newAddr, r.newLen, linearPageIndex(vma, r.addr), mapFlags);
  if (a < 0) return a;
  r.newAddr = checkNewRange(mm, vma, a, r.newLen);
  return moveVma(mm, r);
}

/**
 * expand_vma_in_place(): vma_merge_extend(), then locked memory is charged and populated; false when
 * vma_merge_extend() fails (-ENOMEM). 2.6.10's do_mremap() grew the VMA with vma_adjust() alone: it
 * never merged with the next VMA, nor refused a VM_SPECIAL one (era.ts mremapGrowMerges).
 */
function expandVmaInPlace(mm: MmStruct, vma: Vma, delta: number): boolean {
  const oldEnd = vma.vmEnd;
  if (vma.vmFlags & VM_ACCOUNT && vmEnoughMemory(mm, delta / PAGE)) return false;
  if (!mm.rules.mremapGrowMerges) mm.vmas.updateBounds(vma, vma.vmStart, oldEnd + delta);
  else if (!vmaMergeExtend(mm, vma, delta)) return false;
  if (vma.vmFlags & VM_LOCKED) {
    mm.lockedVm += delta / PAGE;
    // 2.6.10: make_pages_present() (era.ts lockedPopulateWritesShared; 2.6.9/2.6.11 do_mremap()).
    populateLockedMapping(mm, oldEnd, oldEnd + delta);
  }
  return true;
}

/** move_vma(): copy_vma at r.newAddr, move the page tables, unmap the old range. */
function moveVma(mm: MmStruct, r: VmaRemap): number {
  let vma = r.vma!;
  const { addr: oldAddr, oldLen, newAddr, newLen, flags } = r;
  if (mm.mapCount >= mm.maxMapCount - 3) return -ENOMEM;
  if (vma.vmOps?.maySplit) {
    let err = 0;
    if (vma.vmStart !== oldAddr) err = vma.vmOps.maySplit(vma, oldAddr);
    if (!err && vma.vmEnd !== oldAddr + oldLen) err = vma.vmOps.maySplit(vma, oldAddr + oldLen);
    if (err) return err;
  }
  // vrm_charge(): accounted memory is charged what the move adds (all of new_len when the old range
  // stays, MREMAP_DONTUNMAP).
  const charge = (flags & MREMAP_DONTUNMAP ? newLen : Math.abs(newLen - oldLen)) / PAGE;
  if (vma.vmFlags & VM_ACCOUNT && vmEnoughMemory(mm, charge)) return -ENOMEM;
  // copy_vma(): an anonymous VMA never faulted takes the pgoff of its new place, so it can merge there.
  const pgoff = vma.anonymous && !vma.anonVma ? newAddr / PAGE : linearPageIndex(vma, oldAddr);
  const moveLen = Math.min(oldLen, newLen);
  // copy_vma(): merge into a neighbour at the destination if possible, else a new VMA with ->open.
  const vmaStart = vma.vmStart;
  let nv = vmaMergeNewRange(
    newRangeMerge(mm, {
      start: newAddr,
      end: newAddr + newLen,
      pgoff,
      flags: vma.vmFlags,
      pkey: vma.vmPkey,
      file: vma.vmFile,
      anonVma: vma.anonVma,
      copiedFrom: vma,
    }),
  );
  // copy_vma(): a never-faulted source can merge with its own new place (its pgoff was reset to
  // line up); the merged VMA is then the source for the rest of the move ("*vmap = vma = new_vma").
  if (nv && vmaStart >= nv.vmStart && vmaStart < nv.vmEnd) vma = nv;
  let opened = false;
  if (!nv) {
    nv = vmAreaDup(vma, mm);
    nv.vmStart = newAddr;
    nv.vmEnd = newAddr + newLen;
    nv.vmPgoff = pgoff;
    vmaLink(mm, nv);
    nv.vmOps?.open?.(nv);
    opened = true;
  }
  if (movePageTables(mm, vma, oldAddr, nv, newAddr, moveLen) < 0) {
    movePageTables(mm, nv, newAddr, vma, oldAddr, moveLen);
    undoCopyVma(mm, nv, newAddr, newLen, opened);
    return -ENOMEM;
  }
  if (nv.vmOps?.mremap) {
    const err = nv.vmOps.mremap(nv);
    if (err) {
      movePageTables(mm, nv, newAddr, vma, oldAddr, moveLen);
      undoCopyVma(mm, nv, newAddr, newLen, opened);
      return err;
    }
  }
  if (flags & MREMAP_DONTUNMAP) {
    // The old VMA stays, empty: private anon reads zeros after this, shared memory the same data.
    // It loses VM_LOCKED but keeps VM_ACCOUNT (move_vma() only conceals it when it unmaps).
    // dontunmap_complete() only clears the flag: the pages still mapped there stay mlocked
    // (unevictable), so reclaim (MADV_PAGEOUT) keeps skipping them. The new VMA is charged to
    // locked_vm (vrm_stat_account()) and the old one's charge is not given back: Linux counts the
    // locked memory twice from here on, even after munlockall().
    if (vma.vmFlags & VM_LOCKED) {
      markMlocked(mm, vma);
      mm.lockedVm += newLen / PAGE;
    }
    vma.vmFlags &= ~VM_LOCKED_MASK;
    if (vma.vmStart === oldAddr && vma.vmEnd === oldAddr + oldLen && nv !== vma) vma.anonVma = null;
    return newAddr;
  }
  const wasLocked = vma.vmFlags & VM_LOCKED;
  // move_vma() ignores a failure to unmap the old range (and an old_len of 0 unmaps nothing:
  // that is the "duplicate a shared mapping" case).
  if (oldLen > 0) doVmiMunmap(mm, oldAddr, oldLen);
  // 2.6.10's move_vma() hid VM_ACCOUNT before do_munmap() and restored it only when that succeeded,
  // which of length 0 it does not: a duplicated private writable VMA lost VM_ACCOUNT (era.ts
  // mremapZeroOldLenSharedOnly). Today only shared VMAs, never VM_ACCOUNT, get here with old_len 0.
  else vma.vmFlags &= ~VM_ACCOUNT;
  if (wasLocked) {
    mm.lockedVm += newLen / PAGE;
    // 2.6.10: make_pages_present() (era.ts lockedPopulateWritesShared; 2.6.9/2.6.11 move_vma()).
    if (newLen > oldLen) populateLockedMapping(mm, newAddr + oldLen, newAddr + newLen);
  }
  return newAddr;
}

/** The copy failed after copy_vma(): take the new range away again. */
function undoCopyVma(mm: MmStruct, nv: Vma, start: number, len: number, opened: boolean): void {
  if (opened) {
    zapPageRange(mm, nv, nv.vmStart, nv.vmEnd, ZAP_UNMAP);
    mm.vmas.remove(nv);
    removeVma(nv);
  } else {
    // It had merged into an existing VMA: give the range back.
    const d = vmsGatherMunmapVmas(mm, start, start + len);
    if (typeof d !== "number") vmsCompleteMunmapVmas(mm, d);
  }
}

/** move_page_tables(): PTEs move with their pages; nothing faults, refcounts stay. */
function movePageTables(
  mm: MmStruct,
  from: Vma,
  oldAddr: number,
  to: Vma,
  newAddr: number,
  len: number,
): number {
  const moves: Array<[number, number]> = [];
  mm.pgd.forEach(oldAddr, oldAddr + len, (a, _slot, pte) => {
    moves.push([a, pte]);
  });
  for (const [a, pte] of moves) {
    const dst = mm.pgd.pteSlot(newAddr + (a - oldAddr), true);
    if (dst === TABLE_OOM) return -ENOMEM;
    const src = mm.pgd.pteSlot(a, false);
    mm.pgd.setPte(src, 0);
    mm.pgd.setPte(dst, pte, to.vmPkey);
    const pfn = vmNormalPfn(mm, pte);
    if (pfn >= 0 && from.vmFile !== to.vmFile) {
      rssAdd(mm, from, pfn, -1);
      rssAdd(mm, to, pfn, 1);
    }
  }
  mm.flushTlbRange(oldAddr, oldAddr + len);
  mm.pgd.freeEmpty(oldAddr, oldAddr + len);
  return 0;
}

/** PG_mlocked on every page `vma` maps (its pages stay mlocked when it loses VM_LOCKED unmunlocked). */
function markMlocked(mm: MmStruct, vma: Vma): void {
  mm.pgd.forEach(vma.vmStart, vma.vmEnd, (_addr, _slot, pte) => {
    const pfn = vmNormalPfn(mm, pte);
    if (pfn >= 0) Atomics.or(mm.mem.flags, pfn, PG_mlocked);
  });
}
