// The mm's part of a machine snapshot: one address space (mm_struct's counters, limits and pkey state,
// its PGD's frame) and its VMAs (range, flags, offset, protection key, anon_vma identity, file, vm_ops,
// private data). Page tables and the frames they map are physical memory's to save (memory-state.ts in
// phys): only the root's pfn is kept here, and restoring walks the tables again (PageTables.adopt).
//
// What a VMA points to outside mm (its struct file, its vm_operations_struct, vm_private_data) is named
// by the caller: `saveMm` asks a SaveRefs for a number or value for each, `restoreMm` asks a
// RestoreRefs for the object back. anon_vma identity (what merging compares) is kept as an index into
// a table shared by every mm of the machine, so fork's shared anon_vmas stay shared.
import { DEFAULT_MAX_MAP_COUNT } from "./constants";
import type { Era } from "./era";
import { memtypesOf, PfnmapTrackCtx } from "./memtype";
import { Mm } from "./mm";
import { AnonVma, type MmFile, Vma, type VmOperations } from "./mm_types";
import { PGPROT_CACHE_MASK } from "./pgprot";
import { PageTables } from "./pgtable";
import type { PhysAccess } from "./phys-access";

/** One VMA as saved. */
export interface VmaState {
  readonly start: number;
  readonly end: number;
  readonly flags: number;
  readonly pgoff: number;
  readonly pkey: number;
  /** Index in the machine's anon_vma table, or -1. */
  readonly anonVma: number;
  readonly chainSingular: boolean;
  readonly anonymous: boolean;
  /** The caller's name for the file (-1: none). */
  readonly file: number;
  /** The caller's name for the vm_ops (null: none). */
  readonly ops: unknown;
  /** The caller's form of vm_private_data (null: none). */
  readonly priv: unknown;
  /** vm_page_prot's cache bits (a driver's pgprotWritecombine / pgprotNoncached); absent: none. */
  readonly cache?: number;
  /**
   * vma->pfnmap_track_ctx: [identity, pfn, size] (the identity shared by the VMAs a split or fork
   * made from one remap_pfn_range); absent: none.
   */
  readonly track?: readonly [number, number, number];
  /** VM_MAYBE_GUARD (Vma.maybeGuard); absent: not set. */
  readonly guard?: boolean;
}

/** One mm as saved. */
export interface MmState {
  readonly era: Era;
  readonly maxMapCount: number;
  readonly pku: boolean;
  readonly zeroPage: boolean;
  readonly dead: boolean;
  /** The PGD's pfn (meaningless once dead). */
  readonly pgd: number;
  /** mlockLimit, stackLimit, rlimAs, rlimData.cur, rlimData.max (Infinity for none). */
  readonly limits: readonly number[];
  /** defFlags, minflt, majflt, lockedVm, rssAnon, rssFile, rssShmem, hiwaterRss. */
  readonly counters: readonly number[];
  /** allocationMap, executeOnlyPkey, PKRU. */
  readonly pkeys: readonly number[];
  /** start_brk and brk (the heap, brk.ts); absent in snapshots from before brk(2): the defaults. */
  readonly brk?: readonly number[];
  readonly vmas: readonly VmaState[];
}

/** How the caller names what VMAs point to. */
export interface SaveRefs {
  file(f: MmFile): number;
  ops(vma: Vma, ops: VmOperations): unknown;
  priv(vma: Vma, data: unknown): unknown;
}

/** How the caller gets it back. Each throws an Error naming what is wrong with a bad reference. */
export interface RestoreRefs {
  file(id: number): MmFile;
  ops(vma: Vma, saved: unknown): VmOperations;
  priv(vma: Vma, saved: unknown): unknown;
}

/**
 * anon_vma identities while saving (object → index) and restoring (index → object); the same for
 * pfnmap_track_ctx (a PAT reservation shared by several VMAs).
 */
export class AnonVmaTable {
  private readonly ids = new Map<AnonVma, number>();
  private readonly objs: AnonVma[] = [];
  private readonly trackIds = new Map<PfnmapTrackCtx, number>();
  private readonly tracks: Array<PfnmapTrackCtx | undefined> = [];
  /** The [identity, pfn, size] a VMA's tracking context is saved as. */
  trackOf(ctx: PfnmapTrackCtx): readonly [number, number, number] {
    let id = this.trackIds.get(ctx);
    if (id === undefined) {
      id = this.trackIds.size;
      this.trackIds.set(ctx, id);
    }
    return [id, ctx.pfn, ctx.size];
  }
  /**
   * The context of a saved [identity, pfn, size]: made (holding the reservation the restored memtype
   * tree has) for the first VMA naming it, another reference for each next one.
   */
  trackObjectOf(mm: Mm, t: unknown, what: string): PfnmapTrackCtx {
    const a = t as readonly number[];
    if (!Array.isArray(a) || a.length !== 3)
      throw new Error(`${what}: pfnmap tracking: expected [id, pfn, size]`);
    const id = num(a[0], `${what} pfnmap tracking id`, 0, 2 ** 24);
    const pfn = num(a[1], `${what} pfnmap pfn`, 0, 2 ** 40);
    const size = num(a[2], `${what} pfnmap size`, 4096, 2 ** 52);
    const old = this.tracks[id];
    if (old) {
      if (old.pfn !== pfn || old.size !== size)
        throw new Error(`${what}: pfnmap tracking ${id} named twice differently`);
      old.get();
      return old;
    }
    const memtypes = memtypesOf(mm.mem);
    if (!memtypes.holds(pfn * 4096, pfn * 4096 + size))
      throw new Error(`${what}: pfnmap tracking of [${pfn * 4096}, +${size}) has no memtype reservation`);
    const ctx = new PfnmapTrackCtx(memtypes, pfn, size);
    this.tracks[id] = ctx;
    return ctx;
  }
  idOf(a: AnonVma | null): number {
    if (!a) return -1;
    let id = this.ids.get(a);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(a, id);
    }
    return id;
  }
  objectOf(id: number): AnonVma | null {
    if (id === -1) return null;
    if (!Number.isInteger(id) || id < 0 || id > 1 << 24) throw new Error(`anon_vma ${id} out of range`);
    while (this.objs.length <= id) this.objs.push(new AnonVma());
    return this.objs[id]!;
  }
}

/** The snapshot state of `mm` and its VMAs: anon_vmas numbered through `anon`, files and vm_ops through `refs`. */
export function saveMm(mm: Mm, anon: AnonVmaTable, refs: SaveRefs): MmState {
  return {
    era: mm.era,
    maxMapCount: mm.maxMapCount,
    pku: mm.pkeys.enabled,
    zeroPage: mm.zeroPage,
    dead: mm.dead,
    pgd: mm.pgd.root,
    limits: [mm.mlockLimit, mm.stackLimit, mm.rlimAs, mm.rlimData.cur, mm.rlimData.max],
    counters: [
      mm.defFlags,
      mm.minflt,
      mm.majflt,
      mm.lockedVm,
      mm.rssAnon,
      mm.rssFile,
      mm.rssShmem,
      mm.hiwaterRss,
    ],
    pkeys: [mm.pkeys.allocationMap, mm.pkeys.executeOnlyPkey, mm.pkeys.pkru[0]!],
    brk: [mm.startBrk, mm.currentBrk],
    vmas: [...mm.vmas].map((v) => ({
      start: v.vmStart,
      end: v.vmEnd,
      flags: v.vmFlags,
      pgoff: v.vmPgoff,
      pkey: v.vmPkey,
      anonVma: anon.idOf(v.anonVma),
      chainSingular: v.anonVmaChainSingular,
      anonymous: v.anonymous,
      file: v.vmFile ? refs.file(v.vmFile) : -1,
      ops: v.vmOps ? refs.ops(v, v.vmOps) : null,
      priv: v.vmPrivateData === null || v.vmPrivateData === undefined ? null : refs.priv(v, v.vmPrivateData),
      ...(v.vmPageProt & PGPROT_CACHE_MASK ? { cache: v.vmPageProt & PGPROT_CACHE_MASK } : {}),
      ...(v.pfnmapTrackCtx ? { track: anon.trackOf(v.pfnmapTrackCtx) } : {}),
      ...(v.maybeGuard ? { guard: true } : {}),
    })),
  };
}

const num = (v: unknown, what: string, min = -(2 ** 53), max = 2 ** 53): number => {
  if (typeof v !== "number" || Number.isNaN(v) || v < min || v > max) throw new Error(`${what}: bad number`);
  return v;
};
/** vm_flags: an int32 (VM_MERGEABLE is its sign bit). */
const int32 = (v: unknown, what: string): number => {
  const n = num(v, what, -(2 ** 31), 2 ** 31 - 1);
  if ((n | 0) !== n) throw new Error(`${what}: bad number`);
  return n;
};
const limit = (v: unknown, what: string): number =>
  v === Number.POSITIVE_INFINITY ? v : num(v, what, 0, 2 ** 64);

/**
 * A new Mm on `phys` with the VMAs of `s` (its page tables are adopted later, with adoptPageTables,
 * once physical memory holds the saved tables). Throws an Error naming the first bad field.
 */
export function restoreMm(phys: PhysAccess, s: MmState, anon: AnonVmaTable, refs: RestoreRefs): Mm {
  if (typeof s !== "object" || s === null) throw new Error("mm: not a map");
  if (s.era !== "modern" && s.era !== "2.6.10") throw new Error(`mm: unknown era ${String(s.era)}`);
  if (!Array.isArray(s.limits) || s.limits.length !== 5) throw new Error("mm: limits must be 5 numbers");
  if (!Array.isArray(s.counters) || s.counters.length !== 8)
    throw new Error("mm: counters must be 8 numbers");
  if (!Array.isArray(s.pkeys) || s.pkeys.length !== 3) throw new Error("mm: pkeys must be 3 numbers");
  if (!Array.isArray(s.vmas)) throw new Error("mm: vmas must be a list");
  const [mlockLimit, stackLimit, rlimAs, dataCur, dataMax] = s.limits.map((v, i) =>
    limit(v, `mm limit ${i}`),
  );
  const mm = new Mm(phys, {
    era: s.era,
    maxMapCount: num(s.maxMapCount ?? DEFAULT_MAX_MAP_COUNT, "mm maxMapCount", 0, 2 ** 31),
    mlockLimit: mlockLimit!,
    stackLimit: stackLimit!,
    pku: s.pku === true,
    zeroPage: s.zeroPage !== false,
  });
  mm.rlimAs = rlimAs!;
  mm.rlimData = { cur: dataCur!, max: dataMax! };
  const c = s.counters.map((v, i) => num(v, `mm counter ${i}`, 0, 2 ** 53));
  [mm.defFlags, mm.minflt, mm.majflt, mm.lockedVm, mm.rssAnon, mm.rssFile, mm.rssShmem, mm.hiwaterRss] =
    c as [number, number, number, number, number, number, number, number];
  mm.pkeys.allocationMap = num(s.pkeys[0], "pkey allocation map", 0, 0xffff);
  mm.pkeys.executeOnlyPkey = num(s.pkeys[1], "execute-only pkey", -1, 15);
  mm.pkeys.pkru[0] = num(s.pkeys[2], "PKRU", -(2 ** 31), 2 ** 32);
  if (s.brk !== undefined) {
    if (!Array.isArray(s.brk) || s.brk.length !== 2) throw new Error("mm brk: expected [start_brk, brk]");
    mm.startBrk = num(s.brk[0], "start_brk", 0, 2 ** 47);
    mm.currentBrk = num(s.brk[1], "brk", mm.startBrk, 2 ** 64);
  }
  mm.dead = s.dead === true;
  for (const [i, vs] of s.vmas.entries()) {
    const what = `vma ${i}`;
    if (typeof vs !== "object" || vs === null) throw new Error(`${what}: not a map`);
    const start = num(vs.start, `${what} start`, 0, 2 ** 64);
    const end = num(vs.end, `${what} end`, 0, 2 ** 64);
    if (start % 4096 || end % 4096 || end <= start) throw new Error(`${what}: bad range`);
    const v = new Vma(
      mm,
      start,
      end,
      int32(vs.flags, `${what} flags`),
      num(vs.pgoff, `${what} pgoff`, 0, 2 ** 53),
    );
    v.vmPkey = num(vs.pkey, `${what} pkey`, 0, 15);
    v.anonVma = anon.objectOf(num(vs.anonVma, `${what} anon_vma`, -1, 2 ** 24));
    v.anonVmaChainSingular = vs.chainSingular !== false;
    v.anonymous = vs.anonymous === true;
    v.maybeGuard = vs.guard === true;
    const fileId = num(vs.file, `${what} file`, -1, 2 ** 31);
    v.vmFile = fileId === -1 ? null : refs.file(fileId);
    v.vmOps = vs.ops === null ? null : refs.ops(v, vs.ops);
    v.vmPrivateData = vs.priv === null ? null : refs.priv(v, vs.priv);
    if (vs.cache !== undefined) v.vmPageProt = num(vs.cache, `${what} cache bits`, 0, PGPROT_CACHE_MASK);
    if (vs.track !== undefined) v.pfnmapTrackCtx = anon.trackObjectOf(mm, vs.track, what);
    try {
      mm.vmas.insert(v);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
    v.vmFile?.mapping.vmas.add(v);
  }
  return mm;
}

/** Once physical memory is restored: the mm walks its saved page tables (a dead mm has none). */
export function adoptPageTables(mm: Mm, s: MmState): void {
  if (mm.dead) return;
  (mm as { pgd: PageTables }).pgd = PageTables.adopt(mm.mem, num(s.pgd, "mm pgd", 0, 2 ** 40));
}
