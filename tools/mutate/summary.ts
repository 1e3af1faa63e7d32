// Summarises Stryker's JSON reports (mutation/<package>.json, written by `pnpm mutate`) into
// mutation/results.json: per mutated file, mutants killed / survived / timed out / uncovered and the
// score over the mutants not judged equivalent; the survivors, each with the reason when it was judged
// equivalent (tools/mutate/equivalent.json), also written out as mutation/equivalent.md. Prints the table.
//
// An equivalent is named by what it changes, not by its line number (other work moves lines): the
// file, a piece of the mutated line's text (`code`), the mutated source (`original`) and Stryker's
// `replacement`.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}
interface Equivalent {
  file: string;
  code: string;
  /** A piece of the line after, when the mutated line's text occurs more than once. */
  next?: string;
  original: string;
  replacement: string;
  why: string;
}

const root = resolve(import.meta.dirname, "../..");
const dir = join(root, "mutation");
const equivalents: Equivalent[] = JSON.parse(
  readFileSync(join(import.meta.dirname, "equivalent.json"), "utf8"),
);
const reports = existsSync(dir)
  ? readdirSync(dir).filter(
      (f) =>
        f.endsWith(".json") &&
        !f.endsWith(".incremental.json") &&
        f !== "results.json" &&
        f !== "equivalent.json",
    )
  : [];
if (reports.length === 0) {
  console.error("no Stryker reports in mutation/: run `pnpm mutate` first");
  process.exit(1);
}

// mutation/<package>.json or mutation/<package>-<chunk>.json (one chunk of mm's scope). Chunks and
// reruns may report the same file: its mutants are merged, a mutant reported twice taking the status
// from the newest report.
const byFile = new Map<string, Map<string, Mutant>>();
const sourceOf = new Map<string, string[]>();
const reportOf = new Map<string, string[]>();
const oldestFirst = reports
  .map((r) => ({ r, t: statSync(join(dir, r)).mtimeMs }))
  .sort((a, b) => a.t - b.t)
  .map((x) => x.r);
for (const r of oldestFirst) {
  const pkg = r.replace(/\.json$/, "").split("-")[0]!;
  const report = JSON.parse(readFileSync(join(dir, r), "utf8")) as Report;
  for (const [path, { mutants }] of Object.entries(report.files)) {
    const file = relative(root, resolve(root, path.startsWith("/") ? path : join("packages", pkg, path)));
    sourceOf.set(file, report.files[path]!.source.split("\n"));
    const seen = byFile.get(file) ?? new Map<string, Mutant>();
    byFile.set(file, seen);
    reportOf.set(file, [...(reportOf.get(file) ?? []), r]);
    for (const m of mutants) {
      const { start, end } = m.location;
      const at = `${start.line}:${start.column}-${end.line}:${end.column}`;
      seen.set(`${at}:${m.mutatorName}:${m.replacement ?? ""}`, m);
    }
  }
}

const rows: Record<string, unknown>[] = [];
const used = new Set<Equivalent>();
const survivors: Record<string, unknown>[] = [];
for (const [file, seen] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
  const mutants = [...seen.values()].sort(
    (a, b) =>
      a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column,
  );
  const count = (s: string) => mutants.filter((m) => m.status === s).length;
  const src = sourceOf.get(file)!;
  /** The mutated line and the source text the mutant replaces. */
  const textOf = (m: Mutant) => {
    const { start, end } = m.location;
    const lines = src.slice(start.line - 1, end.line);
    const original =
      lines.length === 1
        ? lines[0]!.slice(start.column - 1, end.column - 1)
        : [
            lines[0]!.slice(start.column - 1),
            ...lines.slice(1, -1),
            lines.at(-1)!.slice(0, end.column - 1),
          ].join("\n");
    return { line: src[start.line - 1]!, next: src[start.line] ?? "", original };
  };
  let equivalent = 0;
  for (const m of mutants.filter((x) => x.status === "Survived" || x.status === "NoCoverage")) {
    const t = textOf(m);
    const eq = equivalents.find(
      (e) =>
        file.endsWith(e.file) &&
        t.line.includes(e.code) &&
        (e.next === undefined || t.next.includes(e.next)) &&
        e.original === t.original &&
        e.replacement === (m.replacement ?? ""),
    );
    if (eq) {
      equivalent++;
      used.add(eq);
    }
    survivors.push({
      file,
      line: m.location.start.line,
      mutator: m.mutatorName,
      original: t.original,
      replacement: m.replacement ?? "",
      status: m.status,
      equivalent: eq?.why ?? null,
    });
  }
  const killed = count("Killed") + count("Timeout");
  const live = count("Survived") + count("NoCoverage") - equivalent;
  rows.push({
    file,
    reports: reportOf.get(file)!.join(" "),
    mutants: mutants.length,
    killed,
    survived: count("Survived"),
    noCoverage: count("NoCoverage"),
    equivalent,
    ignored: count("Ignored") + count("CompileError") + count("RuntimeError"),
    // killed / (killed + survivors not judged equivalent)
    score: killed + live === 0 ? null : Math.round((1000 * killed) / (killed + live)) / 10,
  });
}
writeFileSync(join(dir, "results.json"), `${JSON.stringify({ files: rows, survivors }, null, 2)}\n`);
const md = [
  "# Surviving mutants judged equivalent",
  "",
  "Written by tools/mutate/summary.ts from tools/mutate/equivalent.json (edit that file, then run",
  "`pnpm exec tsx tools/mutate/summary.ts`). Each is left out of its file's score in results.json.",
  "",
  ...equivalents.flatMap((e) => [
    `## ${e.file}: \`${e.original}\` → \`${e.replacement}\`${used.has(e) ? "" : " (not in the current reports)"}`,
    "",
    `On the line containing \`${e.code}\`.`,
    "",
    e.why,
    "",
  ]),
];
writeFileSync(join(dir, "equivalent.md"), md.join("\n"));
console.table(rows);
