// mm/debug.c's validate_mm(), extended to the counters: the audit tests and the machine run after
// every step.
import { PG_anon, PG_buddy } from "@faultline/phys";
import { PAGE } from "./internal";
import { isValidGuardVma } from "./madvise";
import { memtypesOf } from "./memtype";
import type { MmStruct, Vma } from "./mm_types";
import { pteHoldsPage, pteIsGuardMarker } from "./pgtable";
import { vmNormalPfn } from "./rmap";

/**
 * VMAs sorted, disjoint, page aligned, non-empty (how they merge is pinned by the differential
 * test against the kernel, since Linux itself leaves some mergeable neighbours apart); every
 * present PTE inside a VMA and pointing to an allocated frame; counters equal to the PTEs.
 * Returns the references this mm's PTEs hold per pfn, so a machine can check refcounts globally.
 */
export function validateMm(mm: MmStruct): Map<number, number> {
  const held = new Map<number, number>();
  if (mm.dead) {
    if (mm.vmas.size) throw new Error("exited mm still has VMAs");
    return held;
  }
  let prev: Vma | null = null;
  let anon = 0;
  let file = 0;
  let shmem = 0;
  for (const v of mm.vmas) {
    if (v.vmStart % PAGE || v.vmEnd % PAGE || v.vmEnd <= v.vmStart) throw new Error(`bad VMA bounds: ${v}`);
    if (v.vmPkey !== 0 && !(mm.pkeys.enabled && v.vmPkey < mm.pkeys.maxPkey))
      throw new Error(
        `VMA ${v} has pkey ${v.vmPkey} on a machine ${mm.pkeys.enabled ? "with 16 keys" : "without PKU"}`,
      );
    if (prev && prev.vmEnd > v.vmStart) throw new Error(`overlapping VMAs: ${prev} and ${v}`);
    // A whole-VMA remap_pfn_range's PAT reservation lives as long as a VMA holds its context.
    const ctx = v.pfnmapTrackCtx;
    if (ctx && !memtypesOf(mm.mem).holds(ctx.pfn * PAGE, ctx.pfn * PAGE + ctx.size))
      throw new Error(
        `VMA ${v} holds a PAT reservation of pfn ${ctx.pfn.toString(16)} (+${ctx.size}) that is not in the memtype list`,
      );
    prev = v;
  }
  mm.pgd.forEach(0, 2 ** 47, (a, slot, pte) => {
    const v = mm.vmaLookup(a);
    if (!v) throw new Error(`PTE at ${a.toString(16)} outside every VMA`);
    if (pteIsGuardMarker(pte)) {
      // A marker holds no page and no key, and only VMAs guard regions may be installed in hold one.
      if (mm.pgd.readPkey(slot) !== 0) throw new Error(`guard marker at ${a.toString(16)} carries a key`);
      if (!isValidGuardVma(v, true)) throw new Error(`guard marker at ${a.toString(16)} in ${v}`);
      return;
    }
    if (!pteHoldsPage(pte))
      throw new Error(`PTE at ${a.toString(16)} is neither a page nor a marker: ${pte}`);
    if (mm.pgd.readPkey(slot) !== v.vmPkey)
      throw new Error(`PTE at ${a.toString(16)} has pkey ${mm.pgd.readPkey(slot)}, its VMA ${v.vmPkey}`);
    const pfn = vmNormalPfn(mm, pte);
    if (pfn < 0) return;
    if (mm.mem.flags[pfn]! & PG_buddy || mm.mem.refcount[pfn]! <= 0) {
      throw new Error(`PTE at ${a.toString(16)} maps free frame ${pfn.toString(16)}`);
    }
    held.set(pfn, (held.get(pfn) ?? 0) + 1);
    if (mm.mem.flags[pfn]! & PG_anon) anon++;
    else if (v.vmFile?.mapping.swapBacked) shmem++;
    else file++;
  });
  if (anon !== mm.rssAnon || file !== mm.rssFile || shmem !== mm.rssShmem) {
    throw new Error(
      `RSS counters anon/file/shmem ${mm.rssAnon}/${mm.rssFile}/${mm.rssShmem} but PTEs say ${anon}/${file}/${shmem}`,
    );
  }
  return held;
}
