import { PAGE_SIZE, PG_anon, PG_dirty, PG_referenced } from "@faultline/phys";
import {
  VM_DROPPABLE,
  VM_EXEC,
  VM_HUGEPAGE,
  VM_LOCKED,
  VM_MAYSHARE,
  VM_NOHUGEPAGE,
  VM_READ,
  VM_SEALED,
  VM_SHARED,
  VM_WRITE,
} from "./constants";
import type { Mm } from "./mm";
import type { Vma } from "./mm_types";
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_PROTNONE, pteFlags } from "./pgtable";

const hex = (n: number, width = 8) => n.toString(16).padStart(width, "0");

/** Name column of /proc/PID/maps (get_vma_name): vm_ops->name, the file path, or nothing. */
export function vmaName(vma: Vma): string | null {
  const n = vma.vmOps?.name?.(vma);
  if (n) return n;
  if (vma.vmFile) return vma.vmFile.path;
  const mm = vma.vmMm;
  // vma_is_initial_heap(): any VMA overlapping [start_brk, brk), the heap or what was mapped into it.
  if (mm.rules.heapName && vma.vmStart < mm.currentBrk && vma.vmEnd > mm.startBrk) return "[heap]";
  return null;
}

/**
 * One line of /proc/PID/maps, as show_map_vma() prints it: "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu "
 * then, with a name, spaces up to column 73 (seq_pad to 25 + 6 * sizeof(void *) - 1) and the name.
 */
export function mapsLine(vma: Vma): string {
  const f = vma.vmFlags;
  const perms = `${f & VM_READ ? "r" : "-"}${f & VM_WRITE ? "w" : "-"}${f & VM_EXEC ? "x" : "-"}${f & VM_MAYSHARE ? "s" : "p"}`;
  const file = vma.vmFile;
  const pgoff = file ? vma.vmPgoff * PAGE_SIZE : 0;
  const dev = file ? `${hex(file.devMajor, 2)}:${hex(file.devMinor, 2)}` : "00:00";
  const ino = file ? file.ino : 0;
  const head = `${hex(vma.vmStart)}-${hex(vma.vmEnd)} ${perms} ${hex(pgoff)} ${dev} ${ino} `;
  const name = vmaName(vma);
  if (!name) return head;
  return `${head.padEnd(72)} ${name}`;
}

/** /proc/PID/maps */
export function renderMaps(mm: Mm): string {
  let out = "";
  for (const v of mm) out += `${mapsLine(v)}\n`;
  return out;
}

/** VmFlags mnemonics by bit number (show_smap_vma_flags in fs/proc/task_mmu.c). */
const MNEMONICS: Array<[number, string]> = [
  [0, "rd"],
  [1, "wr"],
  [2, "ex"],
  [3, "sh"],
  [4, "mr"],
  [5, "mw"],
  [6, "me"],
  [7, "ms"],
  [8, "gd"],
  [10, "pf"],
  // Bit 12 is VM_UFFD_WP's ("uw") in Linux; here it holds VM_RESERVED, which VmFlags (v3.8) never showed.
  [13, "lo"],
  [14, "io"],
  [15, "sr"],
  [16, "rr"],
  [17, "dc"],
  [18, "de"],
  [19, "lf"],
  [20, "ac"],
  [21, "nr"],
  [22, "ht"],
  [23, "sf"],
  [24, "ar"],
  [25, "wf"],
  [26, "dd"],
  [27, "sd"],
  [28, "mm"],
  [29, "hg"],
  [30, "nh"],
  [31, "mg"],
];

/**
 * The VmFlags line of /proc/PID/smaps for these VM_* flags (rd wr sh mr mw me …), with "gu" in bit 11's
 * place for a VMA marked VM_MAYBE_GUARD (Vma.maybeGuard).
 */
export function vmFlagsString(flags: number, maybeGuard = false): string {
  let s = "";
  let guard = maybeGuard;
  for (const [bit, name] of MNEMONICS) {
    if (guard && bit > 11) {
      s += "gu ";
      guard = false;
    }
    if (flags & (1 << bit)) s += `${name} `;
  }
  if (guard) s += "gu ";
  // VM_DROPPABLE and VM_SEALED are high bits in Linux, so "dp" and "sl" come after every mnemonic above.
  if (flags & VM_DROPPABLE) s += "dp ";
  if (flags & VM_SEALED) s += "sl ";
  return s;
}

/** One VMA's counters in /proc/PID/smaps (KiB). */
export interface SmapsCounters {
  rss: number;
  pss: number;
  pssDirty: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
  referenced: number;
  anonymous: number;
}

/**
 * smaps_pte_entry()/smaps_account(): only pages vm_normal_page() returns count, so the zero page and
 * VM_PFNMAP entries add nothing. A page is private when one PTE maps it (or it has one reference);
 * Pss shares each page's size among its mappers. Values in bytes (Pss with fractions).
 */
export function smapsCounters(mm: Mm, vma: Vma): SmapsCounters {
  const c: SmapsCounters = {
    rss: 0,
    pss: 0,
    pssDirty: 0,
    sharedClean: 0,
    sharedDirty: 0,
    privateClean: 0,
    privateDirty: 0,
    referenced: 0,
    anonymous: 0,
  };
  const mem = mm.mem;
  mm.pgd.forEach(vma.vmStart, vma.vmEnd, (_a, _slot, pte) => {
    const fl = pteFlags(pte);
    if (!(fl & (_PAGE_PRESENT | _PAGE_PROTNONE))) return;
    const pfn = mm.normalPfn(pte);
    if (pfn < 0) return;
    const pflags = mem.flags[pfn]!;
    const dirty = (fl & _PAGE_DIRTY) !== 0 || (pflags & PG_dirty) !== 0;
    const young = (fl & _PAGE_ACCESSED) !== 0 || (pflags & PG_referenced) !== 0;
    const mapcount = mem.mapcount[pfn]!;
    const refcount = mem.refcount[pfn]!;
    c.rss += PAGE_SIZE;
    if (young) c.referenced += PAGE_SIZE;
    if (pflags & PG_anon) c.anonymous += PAGE_SIZE;
    const priv = refcount === 1 || mapcount < 2;
    const pss = priv ? PAGE_SIZE : PAGE_SIZE / mapcount;
    c.pss += pss;
    if (dirty) c.pssDirty += pss;
    if (priv) {
      if (dirty) c.privateDirty += PAGE_SIZE;
      else c.privateClean += PAGE_SIZE;
    } else if (dirty) c.sharedDirty += PAGE_SIZE;
    else c.sharedClean += PAGE_SIZE;
  });
  return c;
}

const kb = (label: string, bytes: number) =>
  `${`${label}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB\n`;

/** /proc/PID/smaps */
export function renderSmaps(mm: Mm, options: { thp?: "always" | "madvise" | "never" } = {}): string {
  const thp = options.thp ?? "madvise";
  let out = "";
  for (const v of mm) {
    const c = smapsCounters(mm, v);
    const locked = v.vmFlags & VM_LOCKED ? c.pss : 0;
    const anonPrivate = v.anonymous && !(v.vmFlags & VM_SHARED);
    const eligible =
      anonPrivate &&
      !(v.vmFlags & VM_NOHUGEPAGE) &&
      (thp === "always" || (thp === "madvise" && v.vmFlags & VM_HUGEPAGE))
        ? 1
        : 0;
    out += `${mapsLine(v)}\n`;
    out += kb("Size", v.vmEnd - v.vmStart);
    // vma_kernel_pagesize() and vma_mmu_pagesize() (the same on x86): vm_ops->pagesize (hugetlb's hstate).
    const pagesize = v.vmOps?.pagesize?.(v) ?? PAGE_SIZE;
    out += kb("KernelPageSize", pagesize);
    out += kb("MMUPageSize", pagesize);
    out += kb("Rss", c.rss);
    out += kb("Pss", c.pss);
    out += kb("Pss_Dirty", c.pssDirty);
    out += kb("Shared_Clean", c.sharedClean);
    out += kb("Shared_Dirty", c.sharedDirty);
    out += kb("Private_Clean", c.privateClean);
    out += kb("Private_Dirty", c.privateDirty);
    out += kb("Referenced", c.referenced);
    out += kb("Anonymous", c.anonymous);
    out += kb("KSM", 0);
    // Linux counts a lazy-free page here only once its CPU's batch has drained (lru_lazyfree_fn()),
    // which depends on batch sizes and on what else ran on that CPU; Faultline keeps no such batches.
    out += kb("LazyFree", 0);
    out += kb("AnonHugePages", 0);
    out += kb("ShmemPmdMapped", 0);
    out += kb("FilePmdMapped", 0);
    out += kb("Shared_Hugetlb", 0);
    out += kb("Private_Hugetlb", 0);
    out += kb("Swap", 0);
    out += kb("SwapPss", 0);
    out += kb("Locked", locked);
    out += `${"THPeligible:".padEnd(16)}${String(eligible).padStart(8)}\n`;
    // show_smap(): only when the CPU has protection keys (arch_pkeys_enabled()).
    if (mm.pkeys.enabled) out += `${"ProtectionKey:".padEnd(16)}${String(v.vmPkey).padStart(8)}\n`;
    out += `VmFlags: ${vmFlagsString(v.vmFlags, v.maybeGuard)}\n`;
  }
  return out;
}
