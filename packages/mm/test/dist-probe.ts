// A script run by plain Node on the built package (dist), as a user runs it, with V8 flags that make
// the engine report what it did (a protector given up, an inlining decision): the tests of what the
// hot paths must not make V8 do. tsx and vitest would add their own work to what the flags show.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");

/**
 * Runs `body` as an ES module after a prologue that gives it `mm` and `mmu` (8 MiB of RAM) and the
 * mm exports it names; prints "done" at the end. Returns stdout, where V8's traces go.
 */
export function runOnDist(v8Flags: readonly string[], body: string, ...argv: string[]): string {
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run pnpm --filter @faultline/mm build`);
  const script = `
    const { Mm, Mmu, ramOnly, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED, PROT_READ, PROT_WRITE } =
      await import(${JSON.stringify(pathToFileURL(dist).href)});
    const { PhysMemory } = await import("@faultline/phys");
    const mm = new Mm(ramOnly(PhysMemory.create({ ramBytes: 8 << 20 })));
    const mmu = Mmu.forMm(mm);
    ${body}
    console.log("done");
  `;
  return execFileSync(process.execPath, [...v8Flags, "--input-type=module", "-e", script, ...argv], {
    cwd: dirname(dist),
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
}
