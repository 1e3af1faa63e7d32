// arch/x86/mm/dump_pagetables.c over mm/ptdump.c: /sys/kernel/debug/page_tables/current_user, the
// user half of one address space's page tables as runs of entries with the same flags.

import { _PAGE_PAT } from "./pgprot";
import {
  _PAGE_PCD,
  _PAGE_PRESENT,
  _PAGE_PWT,
  _PAGE_RW,
  _PAGE_USER,
  type PageTables,
  ptePfn,
} from "./pgtable";

/** x86's level numbers in the dump: 1 pgd, 2 p4d, 3 pud, 4 pmd, 5 pte. */
const LEVEL_NAME = ["cr3", "pgd", "p4d", "pud", "pmd", "pte"];
/** _PAGE_GLOBAL (bit 8; on a non-present entry the same bit is _PAGE_PROTNONE, not printed). */
const _PAGE_GLOBAL = 0x100;
const NX_BIT = 2 ** 52;
/** First kernel address: where the "User Space" section ends (pgd entry 256, sign-extended). */
const KERNEL_HALF = 0xffff800000000000n;

/** printk_prot(): the flag columns of one run. */
function printkProt(flags: number, nx: boolean, level: number): string {
  if (!(flags & _PAGE_PRESENT)) return `${" ".repeat(30)}${LEVEL_NAME[level]}\n`;
  let s = flags & _PAGE_USER ? "USR " : "    ";
  s += flags & _PAGE_RW ? "RW " : "ro ";
  s += flags & _PAGE_PWT ? "PWT " : "    ";
  s += flags & _PAGE_PCD ? "PCD " : "    ";
  // Bit 7 is PSE above the PTE level and PAT in a PTE; the model has no huge pages.
  s += "    ";
  s += level === 5 && flags & _PAGE_PAT ? "PAT " : "    ";
  s += flags & _PAGE_GLOBAL ? "GLB " : "    ";
  s += nx ? "NX " : "x  ";
  return `${s}${LEVEL_NAME[level]}\n`;
}

/**
 * The "User Space" section of ptdump's output for these page tables, as the kernel prints it:
 * `0x<start>-0x<end>   <size><unit> <flags> <level>`, one line per run of entries whose flags (present,
 * RW, USR, accessed, dirty, cache bits, software bits, NX) and level agree. Holes are reported at the
 * level where the walk found nothing: with four-level paging the folded p4d level for an empty
 * top-level entry (the generic page walk meets it there), pud, pmd or pte below. The kernel half is
 * not modelled, so the dump stops where it starts (the last user run ends at 0xffff800000000000, the
 * sign-extended address of pgd entry 256, as the kernel prints it).
 */
export function renderPtdumpUser(pt: PageTables): string {
  const out: string[] = ["---[ User Space ]---\n"];
  let runStart = 0n;
  let runFlags = -1;
  let runNx = false;
  let runLevel = 0;
  const note = (addr: bigint, flags: number, nx: boolean, level: number): void => {
    if (runFlags === -1) {
      runFlags = flags;
      runNx = nx;
      runLevel = level;
      runStart = addr;
      return;
    }
    if (flags === runFlags && nx === runNx && level === runLevel) return;
    out.push(line(runStart, addr, runFlags, runNx, runLevel));
    runStart = addr;
    runFlags = flags;
    runNx = nx;
    runLevel = level;
  };
  const walk = (table: number, level: number, base: number): void => {
    const span = level === 1 ? 2 ** 39 : 2 ** (12 + 9 * (5 - level));
    const count = level === 1 ? 256 : 512;
    for (let i = 0; i < count; i++) {
      const addr = base + i * span;
      const e = pt.tableEntry(table, i);
      if (level === 5) {
        const nx = e >= NX_BIT;
        note(BigInt(addr), (nx ? e - NX_BIT : e) % 4096, nx, 5);
      } else if (e === 0) {
        // An empty top-level entry is seen at the folded p4d level.
        note(BigInt(addr), 0, false, level === 1 ? 2 : level);
      } else {
        walk(ptePfn(e), level === 1 ? 3 : level + 1, addr);
      }
    }
  };
  walk(pt.root, 1, 0);
  if (runFlags !== -1) out.push(line(runStart, KERNEL_HALF, runFlags, runNx, runLevel));
  return out.join("");
}

const UNITS = "BKMGTPE";

function line(start: bigint, end: bigint, flags: number, nx: boolean, level: number): string {
  let delta = end - start;
  let u = 0;
  while ((delta & 1023n) === 0n && u < UNITS.length - 1) {
    delta >>= 10n;
    u++;
  }
  const a = `0x${start.toString(16).padStart(16, "0")}-0x${end.toString(16).padStart(16, "0")}   `;
  return `${a}${delta.toString().padStart(9, " ")}${UNITS[u]} ${printkProt(flags, nx, level)}`;
}
