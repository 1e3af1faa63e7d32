// `pnpm typecheck:all` (the type check of `pnpm test`): every workspace package's tsconfig.json,
// checked as ONE TypeScript program. The packages import each other's sources (the
// "@faultline/source" condition of tsconfig.base.json), so a `tsc -p` per package checked phys's
// sources once for phys, again for mm, kernel, every driver, sim and the simulator: most of the
// time went to checking the same files again. The files are each package's own (its tsconfig's
// include and exclude, read here, not listed); a package whose compiler options differ from the
// others' is checked as a program of its own, so no file is ever checked under other options.
// `pnpm --filter <pkg> typecheck` (tsc -p) still checks one package alone.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The workspace's package folders, from pnpm-workspace.yaml's `packages:` globs (`dir/*` only). */
function workspaceDirs() {
  const yaml = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const globs = [...yaml.matchAll(/^\s+-\s+"?([^"\n]+?)\/\*"?\s*$/gm)].map((m) => m[1]);
  const dirs = [];
  for (const g of globs) {
    for (const e of readdirSync(join(root, g), { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const dir = join(root, g, e.name);
      if (readdirSync(dir).includes("tsconfig.json")) dirs.push(dir);
    }
  }
  return dirs.sort();
}

const formatHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => root,
  getNewLine: () => "\n",
};

const host = {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  },
};

/** Compiler options as a comparable string, without what only names the config file itself. */
const optionsKey = (o) => JSON.stringify({ ...o, configFilePath: undefined, pathsBasePath: undefined });

/** Programs to check: one per distinct set of compiler options, with the files of its packages. */
const groups = new Map();
for (const dir of workspaceDirs()) {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(dir, "tsconfig.json"), {}, host);
  if (!parsed) throw new Error(`${dir}/tsconfig.json: cannot be read`);
  if (parsed.errors.length) {
    process.stderr.write(ts.formatDiagnosticsWithColorAndContext(parsed.errors, formatHost));
    process.exit(2);
  }
  const key = optionsKey(parsed.options);
  const g = groups.get(key) ?? { options: parsed.options, files: new Set(), packages: [] };
  for (const f of parsed.fileNames) g.files.add(f);
  g.packages.push(relative(root, dir));
  groups.set(key, g);
}

let errors = 0;
for (const g of groups.values()) {
  const program = ts.createProgram({ rootNames: [...g.files], options: g.options });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  errors += diagnostics.length;
  if (diagnostics.length)
    process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, formatHost));
  console.log(`typecheck: ${g.packages.join(", ")}: ${g.files.size} files, ${diagnostics.length} error(s)`);
}
process.exitCode = errors ? 1 : 0;
