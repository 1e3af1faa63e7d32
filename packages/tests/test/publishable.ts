/** The workspace's publishable packages (a package.json without `private: true`), found, not listed. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../../..");

export interface Publishable {
  /** Folder, relative to the repository root. */
  readonly dir: string;
  readonly name: string;
  readonly pkg: Record<string, unknown>;
}

export function publishablePackages(): Publishable[] {
  const out: Publishable[] = [];
  for (const parent of ["packages", "packages/drivers", "apps"]) {
    for (const d of readdirSync(join(root, parent), { withFileTypes: true })) {
      const file = join(root, parent, d.name, "package.json");
      if (!d.isDirectory() || !existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      if (pkg.private === true) continue;
      out.push({ dir: `${parent}/${d.name}`, name: String(pkg.name), pkg });
    }
  }
  return out.sort((a, b) => a.dir.localeCompare(b.dir));
}
