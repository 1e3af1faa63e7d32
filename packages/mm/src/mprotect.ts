// mm/mprotect.c: do_mprotect_pkey (mprotect and pkey_mprotect), mprotect_fixup, change_protection.

import {
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_HUGETLB,
  VM_LOCKED,
  VM_NORESERVE,
  VM_READ,
  VM_SEALED,
  VM_SHARED,
  VM_WRITE,
} from "./constants";
import { EACCES, EINVAL, ENOMEM, EPERM } from "./errno";
import { mmPopulate } from "./gup";
import { offsetInPage, PAGE, pageAlign, protToVm, TWO64, ul, vmaWantsWritenotify } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import {
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  pteFlags,
  pteIsGuardMarker,
  pteModify,
} from "./pgtable";
import { mayExpandVm, vmEnoughMemory } from "./vm-account";
import { vmaModifyFlags } from "./vma";

/** do_mprotect_pkey(): `pkeyIn` -1 is plain mprotect (the VMA keeps its key, or gets the execute-only one). */
export function doMprotectPkey(
  mm: MmStruct,
  startIn: number,
  lenIn: number,
  protIn: number,
  pkeyIn: number,
): number {
  let prot = protIn;
  // The int argument as C sees it (a non-integer names no key).
  const pkey = Number.isInteger(pkeyIn) ? pkeyIn | 0 : -2;
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (offsetInPage(startIn) !== 0) return -EINVAL;
  const start = ul(startIn);
  if (!lenIn) return 0;
  const len = pageAlign(lenIn);
  const end = start + len;
  if (len === 0 || end <= start || end >= TWO64) return -ENOMEM;
  // arch_validate_prot() on the unsigned long: a bit above 31 (or a negative value) is unknown too.
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) || protIn !== protIn >>> 0) return -EINVAL;
  // A key userspace did not allocate cannot be used (the execute-only key counts as not allocated).
  if (pkey !== -1 && !mm.pkeys.isAllocated(pkey)) return -EINVAL;
  let vma = mm.vmas.find(start);
  if (!vma || vma.vmStart >= end) return -ENOMEM;
  let nstart = start;
  if (grows & PROT_GROWSDOWN) {
    nstart = vma.vmStart;
    if (!(vma.vmFlags & VM_GROWSDOWN)) return -EINVAL;
  } else if (vma.vmStart > start) return -ENOMEM;
  if (grows & PROT_GROWSUP) return -EINVAL;
  let tmp = vma.vmStart;
  let error = 0;
  while (vma && vma.vmStart < end) {
    if (vma.vmStart !== tmp) {
      error = -ENOMEM;
      break;
    }
    const newPkey = mm.pkeys.overrideMprotectPkey(vma.vmPkey, vma.vmFlags & VM_ACCESS_FLAGS, prot, pkey);
    let newFlags = protToVm(prot) | (vma.vmFlags & ~VM_ACCESS_FLAGS);
    // VM_MAY* shifted onto VM_*: asking for what the open mode forbids is -EACCES.
    if (newFlags & ~(newFlags >> 4) & VM_ACCESS_FLAGS) {
      error = -EACCES;
      break;
    }
    tmp = Math.min(vma.vmEnd, end);
    const s = Math.max(nstart, vma.vmStart);
    const oldFlags = vma.vmFlags;
    // mprotect_fixup(): a sealed VMA refuses any change, even to what it has; the VMAs before it
    // in the range keep their new protection.
    if (oldFlags & VM_SEALED) {
      error = -EPERM;
      break;
    }
    // mprotect_fixup(): private memory becoming writable is charged (VM_ACCOUNT); anon memory
    // made read-only before it was ever written gives the charge back. Both only after its
    // `newflags == oldflags` early return: a VMA whose protection is unchanged keeps its
    // VM_ACCOUNT (e.g. read-only, charged, no anon_vma) and is neither modified nor merged.
    const changed = newFlags !== oldFlags || newPkey !== vma.vmPkey;
    if (changed) {
      if (newFlags & VM_WRITE) {
        // Space limits when the area turns into data (RLIMIT_DATA, vm-account.ts).
        const nrpages = (tmp - s) / PAGE;
        if (!mayExpandVm(mm, newFlags, nrpages) && mayExpandVm(mm, oldFlags, nrpages)) {
          error = -ENOMEM;
          break;
        }
        if (!(oldFlags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) {
          if (vmEnoughMemory(mm, nrpages)) {
            error = -ENOMEM;
            break;
          }
          newFlags |= VM_ACCOUNT;
        }
      } else if (oldFlags & VM_ACCOUNT && vma.anonymous && !vma.anonVma) {
        newFlags &= ~VM_ACCOUNT;
      }
    }
    let next: Vma | null | undefined;
    if (newFlags !== oldFlags || newPkey !== vma.vmPkey) {
      const r = vmaModifyFlags(mm, vma, s, tmp, newFlags, { pkey: newPkey });
      if (typeof r === "number") {
        error = r;
        break;
      }
      changeProtection(mm, r, s, tmp);
      // mprotect_fixup(): private locked memory becoming writable is populated with write faults now
      // (populate_vma_page_range), so it never takes a COW fault later; shared memory is not (it has
      // no COW to break). That came with v2.6.38's 'mlock: avoid dirtying pages and triggering
      // writeback', the change that also stopped locked populates write-faulting shared memory
      // (era.ts lockedPopulateWritesShared); 2.6.9/2.6.11's mprotect_fixup() populated nothing.
      if (
        !mm.rules.lockedPopulateWritesShared &&
        (oldFlags & (VM_WRITE | VM_SHARED | VM_LOCKED)) === VM_LOCKED &&
        newFlags & VM_WRITE
      )
        mmPopulate(mm, s, tmp);
      // Carry on after the VMA that now covers the range: a merge may have extended it past tmp.
      tmp = Math.max(tmp, r.vmEnd);
      next = mm.vmas.next(r);
    } else {
      next = mm.vmas.next(vma);
    }
    nstart = tmp;
    vma = next ?? undefined;
  }
  if (!error && tmp < end) error = -ENOMEM;
  return error;
}

/** change_protection(): rewrites PTEs of [start, end) for the VMA's new flags, then flushes. */
export function changeProtection(mm: MmStruct, vma: Vma, start: number, end: number): void {
  const f = vma.vmFlags;
  const accessible = (f & (VM_READ | VM_WRITE | VM_EXEC)) !== 0;
  const shared = (f & VM_SHARED) !== 0;
  const notify = vmaWantsWritenotify(vma);
  mm.pgd.forEach(start, end, (_a, slot, pte) => {
    // change_pte_range(): a non-present marker has no protection to change.
    if (pteIsGuardMarker(pte)) return;
    let fl = pteFlags(pte);
    if (!accessible) fl = (fl & ~_PAGE_PRESENT) | _PAGE_PROTNONE;
    else if (fl & _PAGE_PROTNONE) fl = (fl & ~_PAGE_PROTNONE) | _PAGE_PRESENT;
    if (!(f & VM_WRITE)) fl &= ~_PAGE_RW;
    // A shared VMA whose driver wants write notification keeps clean pages read-only
    // (can_change_shared_pte_writable: only dirty ones skip the next write fault).
    else if (shared && fl & _PAGE_PRESENT && (!notify || fl & _PAGE_DIRTY)) fl |= _PAGE_RW;
    // change_protection() rewrites every PTE with the VMA's new page protection, its key included.
    if (fl !== pteFlags(pte) || mm.pgd.readPkey(slot) !== vma.vmPkey)
      mm.pgd.setPte(slot, pteModify(pte, fl), vma.vmPkey);
  });
  mm.flushTlbRange(start, end);
}
