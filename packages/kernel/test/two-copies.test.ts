/**
 * Two copies of the built @faultline/kernel in one program, as a driver plugin that bundles its own
 * brings: a driver defined with the plugin's copy is refused by a machine of the host's copy, and the
 * driver API called through the plugin's copy from a host machine's callback says which copies are
 * loaded and that plugins take the kernel as a peer dependency. Plain Node (no vitest module graph):
 * the host copy is dist/index.js, the plugin's a byte-identical file at another path.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const hostCopy = join(pkgDir, "dist", "index.js");
// Inside the package, so the copy resolves @faultline/phys, mm and devices as the original does.
const copyDir = join(pkgDir, "node_modules", ".cache", "two-copies-test", "plugin-bundle");
const pluginCopy = join(copyDir, "index.js");

interface Outcome {
  readonly defineRefused: string | null;
  readonly oops: string | null;
  readonly sameCopy: { readonly loaded: number; readonly valid: boolean; readonly log: string[] };
  readonly version: string;
}

function run(): Outcome {
  const script = `
    const host = await import(${JSON.stringify(pathToFileURL(hostCopy).href)});
    const plugin = await import(${JSON.stringify(pathToFileURL(pluginCopy).href)});
    const out = { version: JSON.parse((await import("node:fs")).readFileSync(${JSON.stringify(join(pkgDir, "package.json"))}, "utf8")).version };
    // 1. a driver made by the plugin's copy, loaded into the host's machine
    const bundled = plugin.defineDriver({ name: "fb", apiVersion: 1, init: () => 0 });
    try { await host.Machine.create({ ramBytes: 4 << 20, drivers: [bundled] }); out.defineRefused = null; }
    catch (e) { out.defineRefused = e.message; }
    // 2. a plain driver object whose init calls the plugin copy's driver API
    const m = await host.Machine.create({ ramBytes: 4 << 20 });
    m.loadDriver({ name: "fb", apiVersion: 1, init: () => (plugin.pfnValid(0) ? 0 : -5) });
    out.oops = m.oopses()[0]?.error?.message ?? null;
    // 3. the same with the host's copy: works inside init
    const m2 = await host.Machine.create({ ramBytes: 4 << 20 });
    let valid = false;
    const d = host.defineDriver({ name: "ok", apiVersion: 1, init: () => { valid = host.pfnValid(0); host.printk("ok: init ran"); return 0; } });
    out.sameCopy = { loaded: m2.loadDriver(d), valid, log: m2.dmesg() };
    console.log(JSON.stringify(out));
  `;
  const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: pkgDir,
    encoding: "utf8",
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Outcome;
}

describe("two copies of @faultline/kernel", () => {
  beforeAll(() => {
    if (!existsSync(hostCopy))
      throw new Error(`${hostCopy} is missing: run pnpm --filter @faultline/kernel build`);
    mkdirSync(copyDir, { recursive: true });
    copyFileSync(hostCopy, pluginCopy);
  });
  afterAll(() => rmSync(copyDir, { recursive: true, force: true }));

  it("are detected and named, with the peer-dependency rule", () => {
    const out = run();
    const host = `@faultline/kernel ${out.version} at ${pathToFileURL(hostCopy).href}`;
    const plugin = `@faultline/kernel ${out.version} at ${pathToFileURL(pluginCopy).href}`;
    const advice =
      "two copies of @faultline/kernel are loaded; a driver plugin must take @faultline/kernel as a peerDependency (not a dependency, and not bundled into its build) so that it shares the copy of the program that creates the machine";
    expect(out.defineRefused).toBe(
      `drivers[0]: driver "fb" was defined with ${plugin}, but this machine runs ${host}: ${advice}`,
    );
    expect(out.oops).toBe(
      `pfnValid: called through ${plugin}, but the running machine belongs to ${host}: ${advice}`,
    );
    // One copy: the driver API works inside init, and nothing speaks of copies.
    expect(out.sameCopy.loaded).toBe(0);
    expect(out.sameCopy.valid).toBe(true);
    expect(out.sameCopy.log).toContain("ok: init ran");
  }, 60_000);
});
