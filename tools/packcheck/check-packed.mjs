// `pnpm packcheck:all` (the package checks of `pnpm test`): every publishable package packed once,
// by one `pnpm -r pack` (the tarballs pnpm publishes: workspace:* ranges made versions), then each
// tarball checked in this one process by publint (strict: warnings are errors, as `publint --strict`)
// and by Are the Types Wrong? with the esm-only profile (as `attw --pack . --profile esm-only`: the
// node10 and node16-cjs resolutions ignored). Per package, the two CLIs cost a pnpm, an npm pack, a
// publint pack and a TypeScript load each: about 15 s of CPU, most of it start-up. The packages'
// own `publint` and `attw` scripts still check one package the CLIs' way.
// Needs every package built (turbo runs this after their `build`).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { getExitCode } from "@arethetypeswrong/cli/internal/getExitCode";
import { typed as renderTyped } from "@arethetypeswrong/cli/internal/render";
import { publint } from "publint";
import { formatMessage } from "publint/utils";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
// The @arethetypeswrong/core of the pinned CLI (its dependency, not the workspace's): one version.
const cliDir = dirname(realpathSync(join(root, "node_modules/@arethetypeswrong/cli/package.json")));
const core = await import(
  pathToFileURL(createRequire(join(cliDir, "package.json")).resolve("@arethetypeswrong/core")).href
);
/** attw's esm-only profile (@arethetypeswrong/cli profiles.js). */
const ATTW_OPTIONS = {
  ignoreResolutions: ["node10", "node16-cjs"],
  format: "table",
  summary: true,
  emoji: false,
};

/** The publishable packages (package.json without `private: true`), as packages/tests finds them. */
function publishable() {
  const out = [];
  for (const parent of ["packages", "packages/drivers", "apps"]) {
    for (const d of readdirSync(join(root, parent), { withFileTypes: true })) {
      const file = join(root, parent, d.name, "package.json");
      if (!d.isDirectory() || !existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      if (pkg.private !== true) out.push({ dir: `${parent}/${d.name}`, pkg });
    }
  }
  return out.sort((a, b) => a.dir.localeCompare(b.dir));
}

const packages = publishable();
const work = mkdtempSync(join(tmpdir(), "faultline-packcheck-"));
let failed = 0;
try {
  for (const p of packages)
    if (!existsSync(join(root, p.dir, "dist"))) throw new Error(`${p.dir} has no dist/: build it first`);
  execFileSync(
    "pnpm",
    ["-r", ...packages.flatMap((p) => ["--filter", `./${p.dir}`]), "pack", "--pack-destination", work],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
  for (const { dir, pkg } of packages) {
    const file = join(work, `${pkg.name.replace(/^@/, "").replace("/", "-")}-${pkg.version}.tgz`);
    const bytes = readFileSync(file);
    const tarball = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

    const lint = await publint({ strict: true, pack: { tarball } });
    const errors = lint.messages.filter((m) => m.type === "error");
    if (lint.messages.length) {
      console.log(`publint --strict ${dir}:`);
      for (const m of lint.messages) console.log(`  ${m.type}: ${formatMessage(m, lint.pkg)}`);
    }

    const analysis = await core.checkPackage(core.createPackageFromTarballData(new Uint8Array(tarball)));
    // A package without types (the simulator: a command) passes, as the CLI's exit code says.
    const attwFailed = getExitCode(analysis, ATTW_OPTIONS) !== 0;
    if (attwFailed) console.log(await renderTyped(analysis, ATTW_OPTIONS));

    const ok = errors.length === 0 && !attwFailed;
    if (!ok) failed++;
    console.log(
      `${ok ? "ok  " : "FAIL"} ${dir}: publint ${errors.length} error(s), attw ${analysis.types ? (attwFailed ? "problems" : "no problems") : "no types to check"}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
