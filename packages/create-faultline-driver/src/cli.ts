/**
 * create-faultline-driver <name> [folder]: what `npm create faultline-driver@latest my-driver` and
 * `pnpm create faultline-driver my-driver` run. Exit codes: 0 scaffolded (or --help), 2 a usage error
 * (no name, a name npm would refuse, an unknown option), 1 the folder cannot take the package (not
 * empty, not writable).
 */
import { resolve } from "node:path";
import { defaultFolder, folderProblem, invalidPackageName, scaffold } from "./scaffold";

export const USAGE = `Usage: npm create faultline-driver@latest <name> [folder]
       pnpm create faultline-driver <name> [folder]

Scaffolds a Faultline driver plugin package named <name> (an npm package name, e.g. faultline-driver-foo
or @you/faultline-driver-foo) into [folder] (default: <name> without its scope), which must not exist
or be empty: TypeScript, tsup, vitest with @faultline/testkit, publint, a README, a device model, a
driver and a scenario that runs them (npx faultline run scenario.json).`;

export interface CliEnv {
  /** Where a relative folder is created. */
  readonly cwd: string;
  /** npm_config_user_agent: says which package manager ran us (for the next steps printed). */
  readonly userAgent?: string | undefined;
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
}

/** Runs the command; returns the exit code. */
export function main(argv: readonly string[], env: CliEnv): number {
  const out = env.out ?? ((t: string) => process.stdout.write(t));
  const err = env.err ?? ((t: string) => process.stderr.write(t));
  const usage = (message: string) => {
    err(`create-faultline-driver: ${message}\n\n${USAGE}\n`);
    return 2;
  };
  if (argv.includes("--help") || argv.includes("-h")) {
    out(`${USAGE}\n`);
    return 0;
  }
  const option = argv.find((a) => a.startsWith("-"));
  if (option) return usage(`unknown option ${option}`);
  if (argv.length === 0) return usage("give the new package's name, e.g. faultline-driver-foo");
  if (argv.length > 2) return usage(`expected <name> [folder], got ${argv.length} arguments`);
  const name = argv[0]!;
  const bad = invalidPackageName(name);
  if (bad) return usage(`"${name}" is not a valid npm package name: ${bad}`);
  const folder = argv[1] ?? defaultFolder(name);
  const dir = resolve(env.cwd, folder);
  const problem = folderProblem(dir);
  if (problem) {
    err(
      `create-faultline-driver: cannot scaffold into ${folder}: ${problem}. Choose another folder or empty it.\n`,
    );
    return 1;
  }
  let files: string[];
  try {
    files = scaffold({ name, dir });
  } catch (e) {
    err(`create-faultline-driver: ${(e as Error).message}\n`);
    return 1;
  }
  const pm = /^(pnpm|yarn|bun)\//.exec(env.userAgent ?? "")?.[1] ?? "npm";
  const run = pm === "npm" ? "npm run" : pm;
  out(
    `Scaffolded ${name} in ${folder} (${files.length} files). Next:\n\n` +
      `  cd ${folder}\n  ${pm} install\n  ${pm === "npm" ? "npm test" : `${pm} test`}\n  ${run} simulate    # build, then npx faultline run scenario.json\n`,
  );
  return 0;
}
