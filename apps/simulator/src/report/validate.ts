// Checks that a value read from a file is a ReportModel (model.ts), field by field: plain objects with
// exactly the model's keys, numbers that are integers in range, strings, booleans, enums. A wrong field
// is a TypeError "model.eras[0].frames[3].pfn: expected a non-negative integer, got -3".
import {
  type Backing,
  type EraModel,
  type FaultKind,
  type IomemKind,
  REPORT_MODEL_FORMAT,
  REPORT_MODEL_VERSION,
  type ReportModel,
} from "./model";

const show = (v: unknown): string => {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "object" && v !== null) return Array.isArray(v) ? "an array" : "an object";
  return String(v);
};

const fail = (at: string, what: string, v: unknown): never => {
  throw new TypeError(`${at}: expected ${what}, got ${show(v)}`);
};

/** A plain object with exactly `keys` (and not __proto__ games): its fields, by name. */
function record(v: unknown, at: string, keys: readonly string[]): Record<string, unknown> {
  if (
    typeof v !== "object" ||
    v === null ||
    Array.isArray(v) ||
    Object.getPrototypeOf(v) !== Object.prototype
  )
    fail(at, "an object", v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!keys.includes(k)) throw new TypeError(`${at}: unexpected key ${show(k)}`);
  for (const k of keys) if (!Object.hasOwn(o, k)) throw new TypeError(`${at}: missing key ${show(k)}`);
  return o;
}

function list(v: unknown, at: string): readonly unknown[] {
  if (!Array.isArray(v)) fail(at, "an array", v);
  return v as unknown[];
}

const int = (v: unknown, at: string, min = 0): number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= min
    ? v
    : fail(at, min === 0 ? "a non-negative integer" : `an integer >= ${min}`, v);
const str = (v: unknown, at: string): string => (typeof v === "string" ? v : fail(at, "a string", v));
const bool = (v: unknown, at: string): boolean => (typeof v === "boolean" ? v : fail(at, "true or false", v));
const oneOf = <T extends string>(v: unknown, at: string, values: readonly T[]): T =>
  values.includes(v as T) ? (v as T) : fail(at, values.map((x) => JSON.stringify(x)).join(" | "), v);

const IOMEM_KINDS: readonly IomemKind[] = ["ram", "reserved", "legacy", "window", "bar", "isa", "claim"];
const BACKINGS: readonly Backing[] = ["anon", "device", "file", "shmem"];
const FAULT_KINDS: readonly FaultKind[] = ["minor", "cow", "driver", "sigbus", "segv", "oom", "killed"];

function checkEra(v: unknown, at: string): EraModel {
  const e = record(v, at, [
    "era",
    "ramBytes",
    "totalRamPages",
    "freePages",
    "zeroPfn",
    "iomem",
    "processes",
    "frames",
    "faults",
    "ticks",
  ]);
  str(e.era, `${at}.era`);
  for (const k of ["ramBytes", "totalRamPages", "freePages", "ticks"]) int(e[k], `${at}.${k}`);
  int(e.zeroPfn, `${at}.zeroPfn`, -1);
  list(e.iomem, `${at}.iomem`).forEach((x, i) => {
    const w = `${at}.iomem[${i}]`;
    const r = record(x, w, ["start", "end", "name", "depth", "kind"]);
    const start = int(r.start, `${w}.start`);
    if (int(r.end, `${w}.end`) < start) fail(`${w}.end`, `an address >= start (${start})`, r.end);
    str(r.name, `${w}.name`);
    int(r.depth, `${w}.depth`);
    oneOf(r.kind, `${w}.kind`, IOMEM_KINDS);
  });
  list(e.processes, `${at}.processes`).forEach((x, i) => {
    const w = `${at}.processes[${i}]`;
    const p = record(x, w, ["pid", "ppid", "name", "exit", "capturedAt", "tablePages", "vmas"]);
    for (const k of ["pid", "ppid", "capturedAt", "tablePages"]) int(p[k], `${w}.${k}`);
    str(p.name, `${w}.name`);
    str(p.exit, `${w}.exit`);
    list(p.vmas, `${w}.vmas`).forEach((y, j) => {
      const u = `${w}.vmas[${j}]`;
      const vma = record(y, u, [
        "start",
        "end",
        "flags",
        "perms",
        "vmFlags",
        "backing",
        "name",
        "pgoff",
        "ptes",
      ]);
      const start = int(vma.start, `${u}.start`);
      const end = int(vma.end, `${u}.end`);
      if (end <= start || start % 4096 || end % 4096) fail(`${u}.end`, `a page-aligned end above start`, end);
      int(vma.flags, `${u}.flags`);
      int(vma.pgoff, `${u}.pgoff`);
      str(vma.perms, `${u}.perms`);
      str(vma.vmFlags, `${u}.vmFlags`);
      oneOf(vma.backing, `${u}.backing`, BACKINGS);
      if (vma.name !== null) str(vma.name, `${u}.name`);
      const pages = (end - start) / 4096;
      list(vma.ptes, `${u}.ptes`).forEach((z, k) => {
        const t = `${u}.ptes[${k}]`;
        const pte = record(z, t, ["index", "pfn", "writable", "special"]);
        if (int(pte.index, `${t}.index`) >= pages)
          fail(`${t}.index`, `a page index below ${pages}`, pte.index);
        int(pte.pfn, `${t}.pfn`);
        bool(pte.writable, `${t}.writable`);
        bool(pte.special, `${t}.special`);
      });
    });
  });
  list(e.frames, `${at}.frames`).forEach((x, i) => {
    const w = `${at}.frames[${i}]`;
    const f = record(x, w, ["pfn", "hasPage", "refcount", "mapcount", "flags", "zero", "cowOf", "mappers"]);
    for (const k of ["pfn", "refcount", "flags"]) int(f[k], `${w}.${k}`);
    int(f.mapcount, `${w}.mapcount`);
    int(f.cowOf, `${w}.cowOf`, -1);
    bool(f.hasPage, `${w}.hasPage`);
    bool(f.zero, `${w}.zero`);
    list(f.mappers, `${w}.mappers`).forEach((m, j) => {
      int(m, `${w}.mappers[${j}]`);
    });
  });
  list(e.faults, `${at}.faults`).forEach((x, i) => {
    const w = `${at}.faults[${i}]`;
    const f = record(x, w, ["tick", "pid", "addr", "write", "kind", "pfn", "fromPfn"]);
    for (const k of ["tick", "pid", "addr"]) int(f[k], `${w}.${k}`);
    int(f.pfn, `${w}.pfn`, -1);
    int(f.fromPfn, `${w}.fromPfn`, -1);
    bool(f.write, `${w}.write`);
    oneOf(f.kind, `${w}.kind`, FAULT_KINDS);
  });
  return v as EraModel;
}

/** `v` as a ReportModel, or a TypeError naming the first field that is wrong. */
export function checkReportModel(v: unknown, at = "model"): ReportModel {
  const m = record(v, at, ["format", "version", "faultline", "scenario", "eras"]);
  if (m.format !== REPORT_MODEL_FORMAT) fail(`${at}.format`, JSON.stringify(REPORT_MODEL_FORMAT), m.format);
  if (m.version !== REPORT_MODEL_VERSION)
    fail(`${at}.version`, `report model version ${REPORT_MODEL_VERSION}`, m.version);
  str(m.faultline, `${at}.faultline`);
  const s = record(m.scenario, `${at}.scenario`, ["name", "description"]);
  str(s.name, `${at}.scenario.name`);
  str(s.description, `${at}.scenario.description`);
  list(m.eras, `${at}.eras`).forEach((e, i) => {
    checkEra(e, `${at}.eras[${i}]`);
  });
  return v as ReportModel;
}
