// Scenario plugins: devices, drivers and programs named by module specifier, resolved from the
// scenario file's folder exactly as an `import` written in a file there would be (Node's ESM
// resolution: relative paths, bare package names, package `exports`).
//
// The contract a plugin meets (see docs/write-a-driver-plugin.md, "Load it from a scenario"):
//   { "module": "<specifier>", "export": "<name>" (default "default"), "options": { … } }
// names a function the module exports; it is called once per era with `options` (plain JSON, `{}`
// when absent) and returns a fresh device model (`defineDevice(...)(…)`, as @faultline/devices'
// factories do) or a driver (`defineDriver({ apiVersion, name, init, … })`). Plugins take
// @faultline/kernel as a peer dependency, so the machine and the plugin share one kernel.
import { fileURLToPath, pathToFileURL } from "node:url";
import type { DriverDefinition } from "@faultline/kernel";
import { moduleResolve } from "import-meta-resolve";
import { Refusal, ScenarioError } from "./errors";

/** A plugin entry as the scenario file states it. */
export interface PluginSpec {
  readonly module: string;
  readonly export: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** A loaded plugin: calling `make()` gives a fresh device model or driver. */
export interface LoadedPlugin<T> {
  readonly spec: PluginSpec;
  readonly make: () => T;
}

export type PluginKind = "device" | "driver";

/**
 * Export conditions of an `import`; inside the Faultline repository (running from source) also the
 * workspace's source condition, so a plugin and the machine share one copy of each package.
 */
const CONDITIONS = new Set(
  import.meta.url.endsWith(".ts") ? ["@faultline/source", "node", "import"] : ["node", "import"],
);

/** Where `specifier` leads from a file in `baseDir`, as `import` there would resolve it. */
export function resolveFrom(specifier: string, baseDir: string): URL {
  return moduleResolve(specifier, pathToFileURL(`${baseDir}/scenario.json`), CONDITIONS, false);
}

/**
 * Resolves and imports the plugin, finds the exported factory, and checks one call's result with
 * `options`, so any mistake is a `file: field: expected …, got …` error before anything runs.
 */
export async function loadPlugin<T>(
  spec: PluginSpec,
  kind: PluginKind,
  file: string,
  field: string,
  baseDir: string,
): Promise<LoadedPlugin<T>> {
  let url: URL;
  try {
    url = resolveFrom(spec.module, baseDir);
  } catch (e) {
    throw new ScenarioError(
      file,
      `${field}.module`,
      `a module that an import in ${baseDir} finds (is it installed?)`,
      new Refusal(`${JSON.stringify(spec.module)}: ${(e as Error).message.split("\n")[0]}`),
    );
  }
  let mod: Record<string, unknown>;
  try {
    if (isTypeScript(url)) await registerTsx(spec.module);
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    throw new ScenarioError(
      file,
      `${field}.module`,
      "a module that loads",
      new Refusal(`${fileURLToPath(url)}: ${(e as Error).message.split("\n")[0]}`),
    );
  }
  const factory = mod[spec.export];
  if (typeof factory !== "function") {
    const fns = Object.keys(mod).filter((k) => typeof mod[k] === "function");
    throw new ScenarioError(
      file,
      `${field}.export`,
      `the name of a function ${spec.module} exports (${fns.length ? fns.join(", ") : "it exports none"})`,
      spec.export,
    );
  }
  const make = (): T => {
    let made: unknown;
    try {
      made = (factory as (o: unknown) => unknown)(spec.options);
    } catch (e) {
      throw new ScenarioError(
        file,
        `${field}.options`,
        `options ${spec.module}'s ${spec.export} accepts`,
        new Refusal((e as Error).message),
      );
    }
    const why = kind === "device" ? notADevice(made) : notADriver(made);
    if (why)
      throw new ScenarioError(
        file,
        `${field}.export`,
        `a ${kind} factory (${spec.export}(options) returned ${why})`,
        spec.export,
      );
    return made as T;
  };
  make(); // checked now, not in the middle of a run
  return { spec, make };
}

const isTypeScript = (url: URL): boolean => /\.[cm]?tsx?$/.test(url.pathname);
let tsxRegistered = import.meta.url.endsWith(".ts"); // running from source: tsx is already there

/** Lets this process import TypeScript plugins: tsx, an optional peer dependency, when installed. */
async function registerTsx(module: string): Promise<void> {
  if (tsxRegistered) return;
  let api: { register: () => unknown };
  try {
    api = (await import("tsx/esm/api")) as { register: () => unknown };
  } catch {
    throw new Error(
      `${module} is TypeScript, and loading TypeScript needs tsx (an optional peer dependency of @faultline/simulator): npm install --save-dev tsx, or compile it to JavaScript`,
    );
  }
  api.register();
  tsxRegistered = true;
}

function notADevice(v: unknown): string | null {
  if (typeof v !== "object" || v === null) return `${v === null ? "null" : typeof v}, not a device model`;
  const d = v as Record<string, unknown>;
  if (typeof d.realize !== "function" || typeof d.name !== "string" || (d.bus !== "isa" && d.bus !== "pci"))
    return "an object without name, bus (isa or pci) and realize(): not a device model (defineDevice)";
  return null;
}

function notADriver(v: unknown): string | null {
  if (typeof v !== "object" || v === null) return `${v === null ? "null" : typeof v}, not a driver`;
  const d = v as Partial<DriverDefinition>;
  if (typeof d.init !== "function" || typeof d.name !== "string" || typeof d.apiVersion !== "number")
    return "an object without name, apiVersion and init(): not a driver (defineDriver)";
  return null;
}
