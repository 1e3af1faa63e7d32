// kernel/fork.c dup_mmap() with mm/memory.c copy_page_range(), and mm/mmap.c exit_mmap().
import { PAGE_SIZE, PG_anon, PG_anon_exclusive } from "@faultline/phys";
import { VM_ACCOUNT, VM_DONTCOPY, VM_LOCKED_MASK, VM_WIPEONFORK } from "./constants";
import { ENOMEM } from "./errno";
import { GUP_PIN_COUNTING_BIAS } from "./gup";
import { isCowMapping, PAGE } from "./internal";
import { AnonVma, type MmStruct } from "./mm_types";
import { _PAGE_RW, pteClearFlags, pteFlags, TABLE_OOM } from "./pgtable";
import { rssAdd, vmNormalPfn, ZAP_UNMAP, zapPageRange } from "./rmap";
import { vmEnoughMemory } from "./vm-account";
import { removeVma, vmAreaDup, vmaLink } from "./vma";

/** page_maybe_dma_pinned() for an anonymous page: GUP_PIN_COUNTING_BIAS references or more. */
function pageMaybeDmaPinned(mm: MmStruct, pfn: number): boolean {
  return (
    (Atomics.load(mm.mem.flags, pfn) & PG_anon) !== 0 &&
    Atomics.load(mm.mem.refcount, pfn) >= GUP_PIN_COUNTING_BIAS
  );
}

/**
 * dup_mmap(): fills the fresh `mm` of a fork child from `oldmm`, COW for private memory. Returns 0,
 * or -ENOMEM after tearing the child down again.
 */
export function dupMmap(mm: MmStruct, oldmm: MmStruct): number {
  mm.pkeys.inherit(oldmm.pkeys);
  for (const vma of oldmm.vmas) {
    if (vma.vmFlags & VM_DONTCOPY) continue;
    // dup_mmap(): the child commits its own copy of every accounted VMA (security_vm_enough_memory_mm),
    // VMA by VMA: one larger than the overcommit heuristic allows fails the fork.
    if (vma.vmFlags & VM_ACCOUNT && vmEnoughMemory(oldmm, (vma.vmEnd - vma.vmStart) / PAGE)) {
      exitMmap(mm);
      return -ENOMEM;
    }
    const v = vmAreaDup(vma, mm);
    v.vmFlags &= ~VM_LOCKED_MASK;
    if (vma.anonVma) {
      v.anonVma = new AnonVma();
      v.anonVmaChainSingular = false;
    }
    if (v.vmFlags & VM_WIPEONFORK) {
      v.anonVma = null;
      v.anonVmaChainSingular = true;
    }
    vmaLink(mm, v);
    v.vmOps?.open?.(v);
    if (v.vmFlags & VM_WIPEONFORK) continue;
    // vma_needs_copy(): PFNMAP/MIXEDMAP entries, guard markers (VM_MAYBE_GUARD) and anything with anon
    // pages are copied; plain driver mappings are left to fault in the child (era.ts forkCopiesPtesOf).
    if (!(vma.vmFlags & oldmm.rules.forkCopiesPtesOf) && !vma.anonVma && !vma.maybeGuard) continue;
    const cow = isCowMapping(vma.vmFlags);
    let wrprotected = false;
    let oom = false;
    oldmm.pgd.forEach(vma.vmStart, vma.vmEnd, (a, slot, pte) => {
      if (oom) return;
      const dst = mm.pgd.pteSlot(a, true);
      if (dst === TABLE_OOM) {
        oom = true;
        return;
      }
      let p = pte;
      const pfn = vmNormalPfn(oldmm, pte);
      if (pfn >= 0 && cow && pageMaybeDmaPinned(oldmm, pfn)) {
        // copy_present_page(): an anonymous page a driver may have pinned for DMA is copied for the
        // child now, so the parent keeps the pinned page mapped writable and no later COW can take
        // it from under the device (the fork-after-pin rule of mm/memory.c: copy_present_pte).
        const copy = oldmm.mem.allocPfn(0);
        if (copy < 0) {
          oom = true;
          return;
        }
        oldmm.mem.frameBytes(copy).set(oldmm.mem.frameBytes(pfn));
        Atomics.or(oldmm.mem.flags, copy, PG_anon | PG_anon_exclusive);
        Atomics.add(oldmm.mem.mapcount, copy, 1);
        rssAdd(mm, v, copy, 1);
        mm.pgd.setPte(dst, pte + (copy - pfn) * PAGE_SIZE, v.vmPkey);
        return;
      }
      if (pfn >= 0) {
        oldmm.mem.getPage(pfn);
        Atomics.add(oldmm.mem.mapcount, pfn, 1);
        Atomics.and(oldmm.mem.flags, pfn, ~PG_anon_exclusive);
        rssAdd(mm, v, pfn, 1);
        if (cow && pteFlags(pte) & _PAGE_RW) {
          p = pteClearFlags(pte, _PAGE_RW);
          oldmm.pgd.setPte(slot, p, vma.vmPkey);
          wrprotected = true;
        }
      }
      mm.pgd.setPte(dst, p, v.vmPkey);
    });
    if (wrprotected) oldmm.flushTlbRange(vma.vmStart, vma.vmEnd);
    if (oom) {
      exitMmap(mm);
      return -ENOMEM;
    }
  }
  return 0;
}

/** exit_mmap(): zap everything, free the page tables, then ->close and fput every VMA once. */
export function exitMmap(mm: MmStruct): void {
  if (mm.dead) return;
  const all = [...mm.vmas];
  for (const v of all) zapPageRange(mm, v, v.vmStart, v.vmEnd, ZAP_UNMAP);
  mm.flushTlbAll();
  for (const v of all) mm.vmas.remove(v);
  for (const c of mm.tlbClients) c.release?.();
  mm.tlbClients.clear();
  mm.pgd.destroy();
  mm.dead = true;
  mm.lockedVm = 0;
  // Every VMA is closed even if a driver's ->close throws; the first error is rethrown after.
  let failure: unknown = null;
  for (const v of all) {
    try {
      removeVma(v);
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure) throw failure;
}
