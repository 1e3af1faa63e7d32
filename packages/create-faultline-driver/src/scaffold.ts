/**
 * The generator: copies template/ (next to dist/ and src/ in this package) into a new folder, putting
 * the package's name where the template says `{{name}}`. The template is ordinary files, checked and
 * tested in the Faultline repository like any package; only `_gitignore` and `_package.json` are
 * renamed (see RENAME).
 */

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The template folder shipped with this package. */
export const TEMPLATE_DIR = fileURLToPath(new URL("../template/", import.meta.url));

/** Files of the template that are never copied (left by a build or install of the template itself). */
const SKIP = new Set(["node_modules", "dist", ".turbo"]);
/**
 * Template file name → scaffolded file name: npm drops `.gitignore` from tarballs, and a nested
 * `package.json` would be a package of its own inside this one (its `exports` and `name` are not ours).
 */
const RENAME: Readonly<Record<string, string>> = {
  _gitignore: ".gitignore",
  "_package.json": "package.json",
};
/** Files whose text gets the placeholders filled in (the rest are copied byte for byte). */
const TEXT = /\.(json|md|ts|js|txt)$|^_gitignore$/;

/**
 * Why `name` cannot be an npm package name, or null when it can. The rules npm applies to a new
 * package (validate-npm-package-name's, for new packages): at most 214 characters, lowercase, no
 * leading dot or underscore, no spaces or characters that need URL encoding (`~'!()*` included),
 * not a Node core module, optionally scoped as `@scope/name`.
 */
export function invalidPackageName(name: string): string | null {
  if (name.length === 0) return "it is empty";
  if (name.length > 214) return `it is ${name.length} characters long (214 at most)`;
  if (name.trim() !== name) return "it has leading or trailing spaces";
  if (name.toLowerCase() !== name) return "it has capital letters (npm names are lowercase)";
  const scoped = /^@([^/]+)\/([^/]+)$/.exec(name);
  if (name.startsWith("@") && !scoped) return 'a scoped name is "@scope/name"';
  const parts = scoped ? [scoped[1]!, scoped[2]!] : [name];
  for (const part of parts) {
    if (part.startsWith(".")) return "it starts with a dot";
    if (part.startsWith("_")) return "it starts with an underscore";
    if (/[~'!()*]/.test(part)) return `it contains one of ~'!()* ("${part}")`;
    if (encodeURIComponent(part) !== part) return `it contains characters that are not URL-safe ("${part}")`;
  }
  if (["node_modules", "favicon.ico"].includes(name)) return `"${name}" is reserved`;
  if (builtinModules.includes(name)) return `"${name}" is a Node.js core module`;
  return null;
}

/** The folder a package name scaffolds into by default: its name without the scope. */
export function defaultFolder(name: string): string {
  return name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
}

/** Whether `dir` can receive a new package: it does not exist, or it is an empty folder. */
export function folderProblem(dir: string): string | null {
  if (!existsSync(dir)) return null;
  if (!statSync(dir).isDirectory()) return "it exists and is not a folder";
  const entries = readdirSync(dir);
  if (entries.length > 0)
    return `it is not empty (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", …" : ""})`;
  return null;
}

export interface ScaffoldOptions {
  /** The new package's name (checked with invalidPackageName first). */
  readonly name: string;
  /** The folder to create (must not exist, or be empty). */
  readonly dir: string;
  /** The template to copy (default: this package's template/). */
  readonly template?: string;
}

/** Copies the template into `dir` with `{{name}}` filled in; returns the files written, relative to `dir`. */
export function scaffold(options: ScaffoldOptions): string[] {
  const bad = invalidPackageName(options.name);
  if (bad) throw new Error(`"${options.name}" is not a valid npm package name: ${bad}`);
  const problem = folderProblem(options.dir);
  if (problem) throw new Error(`cannot scaffold into ${options.dir}: ${problem}`);
  const from = options.template ?? TEMPLATE_DIR;
  const written: string[] = [];
  const copy = (src: string, dst: string) => {
    mkdirSync(dst, { recursive: true });
    for (const e of readdirSync(src, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (SKIP.has(e.name)) continue;
      const s = join(src, e.name);
      const d = join(dst, RENAME[e.name] ?? e.name);
      if (e.isDirectory()) copy(s, d);
      else {
        if (TEXT.test(e.name)) writeFileSync(d, fill(readFileSync(s, "utf8"), options.name));
        else copyFileSync(s, d);
        written.push(relative(options.dir, d));
      }
    }
  };
  copy(from, options.dir);
  return written;
}

/** The template's placeholders filled in. */
function fill(text: string, name: string): string {
  return text.replaceAll("{{name}}", name);
}
