// Summarises Stryker's JSON reports (mutation/<package>.json, written by `pnpm mutate`) into
// mutation/results.json: per mutated file, mutants killed / survived / timed out / uncovered and the
// score, with survivors judged equivalent (tools/mutate/equivalent.json: file, line, replacement, why)
// left out of the score and listed with the reason. Prints the table.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}
interface Equivalent {
  file: string;
  line: number;
  replacement: string;
  why: string;
}

const root = resolve(import.meta.dirname, "../..");
const dir = join(root, "mutation");
const equivalents: Equivalent[] = JSON.parse(
  readFileSync(join(import.meta.dirname, "equivalent.json"), "utf8"),
);
const reports = existsSync(dir)
  ? readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "results.json")
  : [];
if (reports.length === 0) {
  console.error("no Stryker reports in mutation/: run `pnpm mutate` first");
  process.exit(1);
}

const rows: Record<string, unknown>[] = [];
const survivors: Record<string, unknown>[] = [];
for (const r of reports) {
  const report = JSON.parse(readFileSync(join(dir, r), "utf8")) as Report;
  for (const [path, { mutants }] of Object.entries(report.files)) {
    const file = relative(
      root,
      resolve(root, path.startsWith("/") ? path : join("packages", r.replace(/\.json$/, ""), path)),
    );
    const count = (s: string) => mutants.filter((m) => m.status === s).length;
    let equivalent = 0;
    for (const m of mutants.filter((x) => x.status === "Survived" || x.status === "NoCoverage")) {
      const eq = equivalents.find(
        (e) =>
          file.endsWith(e.file) &&
          e.line === m.location.start.line &&
          e.replacement === (m.replacement ?? ""),
      );
      if (eq) equivalent++;
      survivors.push({
        file,
        line: m.location.start.line,
        mutator: m.mutatorName,
        replacement: m.replacement ?? "",
        status: m.status,
        equivalent: eq?.why ?? null,
      });
    }
    const killed = count("Killed") + count("Timeout");
    const live = count("Survived") + count("NoCoverage") - equivalent;
    rows.push({
      file,
      mutants: mutants.length,
      killed,
      survived: count("Survived"),
      noCoverage: count("NoCoverage"),
      equivalent,
      ignored: count("Ignored") + count("CompileError") + count("RuntimeError"),
      score: killed + live === 0 ? null : Math.round((1000 * killed) / (killed + live)) / 10,
    });
  }
}
writeFileSync(join(dir, "results.json"), `${JSON.stringify({ files: rows, survivors }, null, 2)}\n`);
console.table(rows);
