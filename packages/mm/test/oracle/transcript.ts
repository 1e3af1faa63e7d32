// Transcripts: what oracle.c prints (and what the Faultline side must print) for a script.
//
//   <index> <op text> = <result>
//
// <index> counts ops from 0; ops inside a `fork` are numbered `<fork index>.<n>` and printed (by
// the child) before the fork's own line. <op text> is `opText(op)`. <result>:
//   mmap/mremap success   0x<address>
//   other syscalls        0                         (success)
//   any syscall failure   -<ERRNO>                  e.g. -EINVAL
//   load                  0x<value>                 e.g. 0x0, 0xdeadbeef
//   store                 0
//   faulting load/store   <SIGNAL> <si_code> 0x<si_addr>, e.g. SIGSEGV SEGV_MAPERR 0x100000003000
//   rss                   rss <kB> anon <kB>        (Rss and Anonymous of the arena's VMAs)
//   pkey_alloc, pkey_get  0x<key> / 0x<rights>
//   maps                  <n>, followed by n lines "  <line exactly as in /proc/self/maps>"
//                         for every VMA intersecting the arena
//   fork                  exit <status> | killed <SIGNAL>
//   pread                 read 0x<count> 0x<up to 8 bytes read, little-endian>
//   (oracle only)         REFUSED: op not executed, it could have touched memory outside the arena

import { type Op, opText } from "./script.ts";

export type Signal = "SIGSEGV" | "SIGBUS";
export type FaultCode = "SEGV_MAPERR" | "SEGV_ACCERR" | "SEGV_PKUERR" | "BUS_ADRERR" | "BUS_OBJERR";

/** Structured result of one op, for emulators that want to build transcript lines. */
export type OpResult =
  | { readonly type: "addr"; readonly addr: bigint }
  | { readonly type: "ok" }
  | { readonly type: "errno"; readonly errno: string }
  | { readonly type: "value"; readonly value: bigint }
  | { readonly type: "fault"; readonly signal: Signal; readonly code: FaultCode; readonly addr: bigint }
  | { readonly type: "maps"; readonly lines: readonly string[] }
  | { readonly type: "rss"; readonly rssKb: number; readonly anonKb: number }
  | { readonly type: "exit"; readonly status: number }
  | { readonly type: "read"; readonly count: number; readonly value: bigint };

export function formatResult(r: OpResult): string {
  switch (r.type) {
    case "addr":
      return `0x${r.addr.toString(16)}`;
    case "ok":
      return "0";
    case "errno":
      return r.errno.startsWith("-") ? r.errno : `-${r.errno}`;
    case "value":
      return `0x${r.value.toString(16)}`;
    case "fault":
      return `${r.signal} ${r.code} 0x${r.addr.toString(16)}`;
    case "maps":
      return String(r.lines.length);
    case "rss":
      return `rss ${r.rssKb} anon ${r.anonKb}`;
    case "exit":
      return `exit ${r.status}`;
    case "read":
      return `read 0x${r.count.toString(16)} 0x${r.value.toString(16)}`;
  }
}

/** The transcript lines for one op (several for `maps`). */
export function formatOpLines(index: string | number, op: Op, r: OpResult): string[] {
  const head = `${index} ${opText(op)} = ${formatResult(r)}`;
  return r.type === "maps" ? [head, ...r.lines.map((l) => `  ${l}`)] : [head];
}

/** Column where the kernel pads the name of a maps line to (seq_setwidth 25 + 6*8 - 1). */
export const MAPS_NAME_PAD = 72;

/** Formats a /proc/PID/maps line the way the kernel does (show_vma_header_prefix + seq_pad). */
export function formatMapsLine(f: {
  readonly start: bigint;
  readonly end: bigint;
  readonly perms: string;
  readonly offset: bigint;
  readonly dev: string;
  readonly inode: bigint | number | string;
  readonly name?: string;
}): string {
  const h = (v: bigint, w: number) => v.toString(16).padStart(w, "0");
  const head = `${h(f.start, 8)}-${h(f.end, 8)} ${f.perms} ${h(f.offset, 8)} ${f.dev} ${f.inode} `;
  if (f.name === undefined || f.name === "") return head;
  return `${head.padEnd(MAPS_NAME_PAD, " ")} ${f.name}`;
}

const MAPS_RE = /^ {2}([0-9a-f]+-[0-9a-f]+ [-r][-w][-x][ps] [0-9a-f]+ )([0-9a-f]+:[0-9a-f]+) (\d+) (.*)$/;

export interface NormalizeOptions {
  /** Replace non-zero inode numbers (shmem objects: differ per run) by `<ino>`. Default true. */
  readonly inode?: boolean;
  /** Replace the device of inode-carrying lines (shmem `00:01` here) by `<dev>`. Default false. */
  readonly dev?: boolean;
}

/**
 * Normalizes one transcript line. Only maps lines of file-backed VMAs (for anonymous scripts:
 * MAP_SHARED|MAP_ANONYMOUS, shown as `/dev/zero (deleted)` on shmem) change: the inode becomes
 * `<ino>` and the name padding is recomputed with the kernel's rule, but only when the original
 * padding already followed that rule (otherwise the line is left untouched, so wrong padding still
 * shows up as a difference).
 */
export function normalizeLine(line: string, opts: NormalizeOptions = {}): string {
  const m = MAPS_RE.exec(line);
  if (!m) return line;
  const [, prefix, dev, inode, rest] = m as unknown as [string, string, string, string, string];
  if (inode === "0" && !/[1-9a-f]/.test(dev)) return line;
  const doInode = opts.inode ?? true;
  const doDev = opts.dev ?? false;
  const newDev = doDev ? "<dev>" : dev;
  const newInode = doInode && inode !== "0" ? "<ino>" : inode;
  const oldHead = `${prefix}${dev} ${inode} `;
  const newHead = `${prefix}${newDev} ${newInode} `;
  if (rest === "") return `  ${newHead}`;
  const name = rest.replace(/^ +/, "");
  const spaces = rest.length - name.length;
  const expected = Math.max(MAPS_NAME_PAD - oldHead.length, 0) + 1;
  if (spaces !== expected) return line; // wrong padding: leave as is so it cannot match the kernel
  return `  ${newHead.padEnd(MAPS_NAME_PAD, " ")} ${name}`;
}

export function normalizeTranscript(lines: readonly string[], opts: NormalizeOptions = {}): string[] {
  return lines.map((l) => normalizeLine(l, opts));
}

export interface TranscriptDiff {
  /** 0-based line number of the first difference. */
  readonly line: number;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  /** Human-readable report with context lines, `-` expected, `+` actual. */
  readonly report: string;
}

export interface DiffOptions extends NormalizeOptions {
  /** Lines of context before the difference. Default 6. */
  readonly context?: number;
  /** Normalize both sides first. Default true. */
  readonly normalize?: boolean;
  /** Labels for the two sides in the report. */
  readonly labels?: readonly [expected: string, actual: string];
}

const show = (l: string | undefined) => (l === undefined ? "<end of transcript>" : `${l}⏎`);

/** Finds the first differing line; null when the transcripts are equal. */
export function diffTranscripts(
  expected: readonly string[],
  actual: readonly string[],
  opts: DiffOptions = {},
): TranscriptDiff | null {
  const norm = opts.normalize ?? true;
  const e = norm ? normalizeTranscript(expected, opts) : [...expected];
  const a = norm ? normalizeTranscript(actual, opts) : [...actual];
  const n = Math.max(e.length, a.length);
  let i = 0;
  while (i < n && e[i] === a[i]) i++;
  if (i === n) return null;
  const ctx = opts.context ?? 6;
  const [le, la] = opts.labels ?? ["expected", "actual"];
  const out = [`transcripts differ at line ${i + 1} (- ${le}, + ${la}):`];
  for (let k = Math.max(0, i - ctx); k < i; k++) out.push(`  ${e[k]}`);
  out.push(`- ${show(e[i])}`, `+ ${show(a[i])}`);
  for (let k = i + 1; k < Math.min(n, i + 4); k++) {
    if (e[k] === a[k]) out.push(`  ${e[k]}`);
    else out.push(`- ${show(e[k])}`, `+ ${show(a[k])}`);
  }
  return { line: i, expected: e[i], actual: a[i], report: out.join("\n") };
}

/** Throws an Error carrying the diff report when the transcripts differ. */
export function assertSameTranscript(
  expected: readonly string[],
  actual: readonly string[],
  opts: DiffOptions = {},
): void {
  const d = diffTranscripts(expected, actual, opts);
  if (d) throw new Error(d.report);
}

/** Splits a transcript into `label -> result` (e.g. "3" -> "-EINVAL", "5.1" -> "0x0"). */
export function resultsByIndex(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) {
    const m = /^(\d+(?:\.\d+)*) .*? = (.*)$/.exec(l);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The maps lines (without the two-space prefix) printed by the op with the given index. */
export function mapsAt(lines: readonly string[], index: string | number): string[] {
  const label = `${index} maps = `;
  const at = lines.findIndex((l) => l.startsWith(label));
  if (at < 0) throw new Error(`no maps op with index ${index} in transcript`);
  const out: string[] = [];
  for (let k = at + 1; k < lines.length && lines[k]!.startsWith("  "); k++) out.push(lines[k]!.slice(2));
  return out;
}
