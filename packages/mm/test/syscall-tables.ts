// Shared by the per-syscall test files (src/mmap.test.ts, mremap.test.ts, …): the two kinds of table
// rows, the fake struct file, and the constants the rows use.
//
// Two kinds of rows:
//  - script rows: anonymous memory inside the oracle's arena, written in the oracle's script language
//    (test/oracle/script.ts). They run on Faultline through runOnFaultline, and the same rows run on
//    the machine's real kernel through runOnLinux when a C compiler is available, so every expected
//    value here is the kernel's, not our reading of it.
//  - Mm rows: what the oracle cannot express (files, drivers, limits, msync, mlock). They run on a
//    fresh Mm with a fake struct file; their expectations follow the kernel source cited in the row.
import { PAGE_SIZE, PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { EAGAIN } from "../src/index";
import { Mm } from "../src/mm";
import { AddressSpaceMapping, type MmFile, type MmOptions, type Vma } from "../src/mm_types";
import { ramOnly } from "../src/phys-access";
import { runOnFaultline } from "./oracle/faultline";
import { liveKernelMismatch, runOnLinux } from "./oracle/linux";
import {
  MAP_FIXED,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type Op,
  PRIVATE_ANON,
  PROT_READ,
  PROT_WRITE,
  SHARED_ANON,
} from "./oracle/script";
import { resultsByIndex } from "./oracle/transcript";

export const RW = PROT_READ | PROT_WRITE;
export const PF = PRIVATE_ANON | MAP_FIXED;
export const SF = SHARED_ANON | MAP_FIXED;
export const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
export const MADV_HUGEPAGE = 14;
export const MADV_COLD = 20;
export const MADV_PAGEOUT = 21;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MADV_DONTNEED_LOCKED = 24;
export const MAP_DROPPABLE = 0x08;
export const hex = (n: bigint) => `0x${n.toString(16)}`;
/** Any successful address (the kernel randomizes where a non-fixed mapping lands). */
export const ANY_ADDR = "<addr>";

// ------------------------------------------------------------------------------ script rows

export interface ScriptRow {
  readonly name: string;
  /** Ops run first; their results are not checked (the call's result depends on them). */
  readonly setup: readonly Op[];
  readonly call: Op;
  /** Transcript result: "-EINVAL", "0", "0x…", "SIGSEGV SEGV_MAPERR 0x…", or ANY_ADDR. */
  readonly expect: string;
}

export const row = (name: string, setup: readonly Op[], call: Op, expectText: string): ScriptRow => ({
  name,
  setup,
  call,
  expect: expectText,
});

export function resultOf(lines: readonly string[], r: ScriptRow): string {
  const got = resultsByIndex(lines).get(String(r.setup.length));
  if (got === undefined) throw new Error(`no result for the call in:\n${lines.join("\n")}`);
  return got;
}

/**
 * A MAP_32BIT address: find_start_end()'s window [1 GiB, 2 GiB) (arch/x86/kernel/sys_x86_64.c; a live
 * kernel that randomizes moves the window's start up by less than 32 MiB).
 */
export const ADDR_32BIT = "<addr in [1 GiB, 2 GiB)>";

export function matches(got: string, want: string): boolean {
  if (want === ANY_ADDR) return /^0x[0-9a-f]+$/.test(got);
  if (want === ADDR_32BIT) {
    if (!/^0x[0-9a-f]+$/.test(got)) return false;
    const a = Number.parseInt(got, 16);
    return a >= 0x4000_0000 && a < 0x8000_0000;
  }
  return got === want;
}

/**
 * One describe per syscall: each row on Faultline, then all rows on the live kernel, which must give
 * each row's expectation. of this machine is checked to give each row's expectation.
 * `liveSkip` says why this host's kernel cannot be compared for these rows (a kernel configuration
 * Faultline does not model, such as one without KSM), or null.
 */
export function scriptTable(
  title: string,
  rows: readonly ScriptRow[],
  liveSkip: () => string | null = () => null,
): void {
  describe(`${title} (script rows)`, () => {
    it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, r) => {
      // runOnFaultline checks mm and physical-memory invariants and frees everything at the end.
      const lines = runOnFaultline([...r.setup, r.call]);
      const got = resultOf(lines, r);
      expect(matches(got, r.expect), `${lines.join("\n")}\nexpected ${r.expect}`).toBe(true);
    });
    const live = liveKernelMismatch() ?? liveSkip();
    it.skipIf(live !== null)(
      `every row's expectation is what the real kernel returns${live ? ` [SKIPPED: ${live}]` : ""}`,
      () => {
        const wrong: string[] = [];
        for (const r of rows) {
          const got = resultOf(runOnLinux([...r.setup, r.call]), r);
          if (!matches(got, r.expect)) wrong.push(`${r.name}: kernel ${got}, table ${r.expect}`);
        }
        expect(wrong).toEqual([]);
      },
    );
  });
}

// ------------------------------------------------------------------------------ Mm rows

export interface FakeFileOptions {
  readonly readable?: boolean;
  readonly writable?: boolean;
  readonly unsignedOffset?: boolean;
  /** f_op->mmap; null for a device without one. Default: accept (vm_ops left as the core set them). */
  readonly mmap?: ((vma: Vma) => number) | null;
}

export let nextIno = 7000;
/** A struct file on devtmpfs (00:05) with the given f_mode and mmap method. */
export function fakeFile(o: FakeFileOptions = {}): MmFile {
  const mmapFn = o.mmap === null ? undefined : (o.mmap ?? (() => 0));
  return {
    path: "/dev/fake",
    devMajor: 0,
    devMinor: 5,
    ino: ++nextIno,
    mapping: new AddressSpaceMapping("fake"),
    readable: o.readable ?? true,
    writable: o.writable ?? true,
    unsignedOffset: o.unsignedOffset ?? false,
    mmap: mmapFn,
    get() {},
    put() {},
  };
}

/** A driver whose mmap is remap_pfn_range of the pfns the offset names (LDD3 simple_remap_mmap). */
export function remapFile(): MmFile {
  return fakeFile({
    mmap: (vma) =>
      vma.vmMm.remapPfnRange(vma, vma.vmStart, 0xfe000 + vma.vmPgoff, vma.vmEnd - vma.vmStart) ? -EAGAIN : 0,
  });
}

export interface Ctx {
  readonly mm: Mm;
  readonly mem: PhysMemory;
}

export interface MmRow {
  readonly name: string;
  readonly options?: MmOptions;
  /** Returns the syscall's result; may run any setup first. */
  readonly run: (c: Ctx) => number;
  /** A negative errno, 0, or "addr" for any successful address. */
  readonly expect: number | "addr";
  /** Optional check of state after the call. */
  readonly after?: (c: Ctx) => void;
}

export const A = 0x1000_0000_0000;
export const P = PAGE_SIZE;
export const at = (n: number) => A + n * P;

export function mmTable(title: string, rows: readonly MmRow[]): void {
  describe(`${title} (Mm rows)`, () => {
    it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, r) => {
      const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
      const free = mem.nrFreePages;
      const mm = new Mm(ramOnly(mem), r.options ?? {});
      const c = { mm, mem };
      const got = r.run(c);
      if (r.expect === "addr") {
        expect(got).toBeGreaterThanOrEqual(0);
        expect(got % P).toBe(0);
      } else expect(got).toBe(r.expect);
      r.after?.(c);
      mm.checkInvariants();
      mem.checkInvariants();
      mm.exit();
      expect(mem.nrFreePages).toBe(free);
    });
  });
}

/** A 2-page remap_pfn_range VMA at A (shared RW unless `flags` says otherwise). */
export function mapRemap(mm: Mm, flags = MAP_SHARED | MAP_FIXED, prot = RW, len = 2 * P): number {
  return mm.mmap(A, len, prot, flags, remapFile(), 0);
}

export function mapAnon(mm: Mm, len = P): number {
  return mm.mmap(A, len, RW, PF, null, 0);
}
