// Scenario files: the machine, the drivers to load and the programs to start. JSON on disk;
// every field is checked and a bad one is reported as "file: field: expected …, got …".
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type DeviceModel,
  isaMemory,
  pciDmaEngine,
  pciFramebuffer,
  pciMemoryDevice,
} from "@faultline/devices";
import { dmaEngine } from "@faultline/driver-dma-engine";
import { mem } from "@faultline/driver-mem";
import { nopage } from "@faultline/driver-nopage";
import { pciFb } from "@faultline/driver-pci-fb";
import { regionRemap } from "@faultline/driver-region-remap";
import { scullp } from "@faultline/driver-scullp";
import { scullv } from "@faultline/driver-scullv";
import { simple } from "@faultline/driver-simple";
import type { DriverDefinition, MachineOptions } from "@faultline/kernel";
import { offsetInPage, PAGE_SIZE } from "@faultline/phys";
import { Refusal, ScenarioError } from "./errors";
import { type LoadedPlugin, loadPlugin, resolveFrom } from "./plugins";

export type Era = "2.6.10" | "modern";

/** A device, driver or program from a module: `{ module, export?, options? }` (see plugins.ts). */
export interface PluginRef {
  readonly module: string;
  readonly export: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export type DeviceSpec =
  | { readonly type: "isaMemory"; readonly base: number; readonly size: number; readonly name?: string }
  | { readonly type: "pciMemoryDevice"; readonly barSize: number; readonly name?: string }
  | { readonly type: "pciFramebuffer"; readonly width?: number; readonly height?: number }
  | { readonly type: "pciDmaEngine" }
  | { readonly type: "plugin"; readonly plugin: PluginRef };

export type DriverSpec =
  | { readonly type: "simple"; readonly handler?: "fault" | "nopage" }
  | { readonly type: "nopage" }
  | { readonly type: "regionRemap"; readonly start: number; readonly size: number }
  | { readonly type: "mem" }
  | { readonly type: "scullp" }
  | { readonly type: "scullv" }
  | { readonly type: "pciFb" }
  | { readonly type: "dmaEngine" }
  | { readonly type: "plugin"; readonly plugin: PluginRef };

/** How a process ends: exit(code), or death by a signal. */
export type ExitSpec = { readonly code: number } | { readonly signal: string };

export interface ProgramSpec {
  /** "builtin:<name>" or a path to a module whose default export is defineProgram(...). */
  readonly program: string;
  readonly argv: readonly string[];
  /**
   * How the spawned process must end, for every era or per era (default `{ code: 0 }`); the command
   * exits 1 when one ends otherwise. Processes it forks are not judged.
   */
  readonly expect: Readonly<Record<Era, ExitSpec>>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The eras to run the scenario in, one after the other (default: modern). */
  readonly eras: readonly Era[];
  readonly machine: {
    readonly ramBytes: number;
    readonly devices: readonly DeviceSpec[];
    readonly drivers: readonly DriverSpec[];
    /** The CPU (MachineOptions.cpu): `{ "pku": true }` for protection keys. */
    readonly cpu?: { readonly pku: boolean };
    /** MachineOptions.zeroPage: false as on hosts booted with pvm_no_zero_page=1. */
    readonly zeroPage?: boolean;
  };
  readonly programs: readonly ProgramSpec[];
}

export { Refusal, ScenarioError } from "./errors";

const BUILTINS = new Set(["share", "grow", "region", "pci", "pci-nopage", "fb", "dma"]);
const SIGNALS = new Set(["SIGSEGV", "SIGBUS", "SIGKILL"]);

/** Reads and checks a scenario file. */
export function loadScenario(path: string): { scenario: Scenario; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ScenarioError(path, "(file)", "a readable scenario file", (e as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(path, "(file)", "JSON", (e as Error).message);
  }
  const scenario = parseScenario(json, path);
  const baseDir = dirname(resolve(path));
  // A program file must exist before anything runs (not a SIGKILL in a worker later).
  scenario.programs.forEach((p, i) => {
    if (p.program.startsWith("builtin:")) return;
    if (!isPath(p.program)) {
      // A package's module, found as an import in the scenario's folder would find it.
      try {
        resolveFrom(p.program, baseDir);
      } catch (e) {
        throw new ScenarioError(
          path,
          `programs[${i}].program`,
          `a module that an import in ${baseDir} finds`,
          new Refusal(`${JSON.stringify(p.program)}: ${(e as Error).message.split("\n")[0]}`),
        );
      }
      return;
    }
    const file = resolve(baseDir, p.program);
    if (!existsSync(file))
      throw new ScenarioError(
        path,
        `programs[${i}].program`,
        `a module file (looked for ${file})`,
        p.program,
      );
  });

  return { scenario, baseDir };
}

/** Checks a scenario object; `file` names it in errors. */
export function parseScenario(json: unknown, file: string): Scenario {
  const err = (field: string, expected: string, got: unknown): never => {
    throw new ScenarioError(file, field, expected, got);
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : err(field, "an object", v);
  const num = (v: unknown, field: string, what = 'a non-negative integer (or a "0x…" string)'): number => {
    const n = typeof v === "string" && /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : v;
    return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : err(field, what, v);
  };
  const str = (v: unknown, field: string): string =>
    typeof v === "string" && v.length > 0 ? v : err(field, "a string", v);
  const root = obj(json, "(top level)");
  for (const k of Object.keys(root)) {
    if (!["name", "description", "eras", "machine", "programs"].includes(k))
      err(k, "one of name, description, eras, machine, programs", k);
  }
  const eras = root.eras === undefined ? ["modern"] : root.eras;
  if (!Array.isArray(eras) || eras.length === 0)
    err("eras", 'a non-empty array of "2.6.10" | "modern"', eras);
  (eras as unknown[]).forEach((e, i) => {
    if (e !== "2.6.10" && e !== "modern") err(`eras[${i}]`, '"2.6.10" or "modern"', e);
  });
  /** Unknown keys are refused at every depth, naming the ones allowed there. */
  const only = (o: Record<string, unknown>, field: string, keys: readonly string[]): void => {
    for (const k of Object.keys(o))
      if (!keys.includes(k)) err(field ? `${field}.${k}` : k, `one of ${keys.join(", ")}`, k);
  };
  const machine = obj(root.machine ?? {}, "machine");
  only(machine, "machine", ["ramBytes", "devices", "drivers", "cpu", "zeroPage"]);
  const cpuIn = machine.cpu === undefined ? {} : obj(machine.cpu, "machine.cpu");
  only(cpuIn, "machine.cpu", ["pku"]);
  if (cpuIn.pku !== undefined && typeof cpuIn.pku !== "boolean")
    err("machine.cpu.pku", "true or false", cpuIn.pku);
  if (machine.zeroPage !== undefined && typeof machine.zeroPage !== "boolean")
    err("machine.zeroPage", "true or false", machine.zeroPage);
  const ramBytes =
    machine.ramBytes === undefined ? 64 * 1024 * 1024 : num(machine.ramBytes, "machine.ramBytes");
  if (offsetInPage(ramBytes) !== 0 || ramBytes < 2 * 1024 * 1024)
    err("machine.ramBytes", "a multiple of 4096, at least 2 MiB", machine.ramBytes);
  const devicesIn = machine.devices ?? [];
  if (!Array.isArray(devicesIn)) err("machine.devices", "an array", devicesIn);
  const devices = (devicesIn as unknown[]).map((d, i): DeviceSpec => {
    const f = `machine.devices[${i}]`;
    const o = obj(d, f);
    if ("module" in o) return { type: "plugin", plugin: pluginRef(o, f) };
    if (o.type === "isaMemory") only(o, f, ["type", "base", "size", "name"]);
    if (o.type === "pciMemoryDevice") only(o, f, ["type", "barSize", "name"]);
    if (o.type === "pciFramebuffer") only(o, f, ["type", "width", "height"]);
    if (o.type === "pciDmaEngine") only(o, f, ["type"]);
    switch (o.type) {
      case "isaMemory":
        return {
          type: "isaMemory",
          base: num(o.base, `${f}.base`),
          size: num(o.size, `${f}.size`),
          ...(o.name ? { name: str(o.name, `${f}.name`) } : {}),
        };
      case "pciMemoryDevice": {
        // A memory BAR is a power of two of at least 16 bytes; a page-mapped one at least a page.
        const barSize = num(o.barSize, `${f}.barSize`);
        if (barSize < PAGE_SIZE || (barSize & (barSize - 1)) !== 0 || barSize > 2 ** 30)
          err(`${f}.barSize`, "a power of two from 4096 (0x1000) to 1 GiB", o.barSize);
        return {
          type: "pciMemoryDevice",
          barSize,
          ...(o.name ? { name: str(o.name, `${f}.name`) } : {}),
        };
      }
      case "pciFramebuffer":
        return {
          type: "pciFramebuffer",
          ...(o.width === undefined ? {} : { width: num(o.width, `${f}.width`) }),
          ...(o.height === undefined ? {} : { height: num(o.height, `${f}.height`) }),
        };
      case "pciDmaEngine":
        return { type: "pciDmaEngine" };
      default:
        return err(
          `${f}.type`,
          '"isaMemory", "pciMemoryDevice", "pciFramebuffer" or "pciDmaEngine" (or { "module": … } for a plugin)',
          o.type,
        );
    }
  });
  const driversIn = machine.drivers ?? [];
  if (!Array.isArray(driversIn)) err("machine.drivers", "an array", driversIn);
  const drivers = (driversIn as unknown[]).map((d, i): DriverSpec => {
    const f = `machine.drivers[${i}]`;
    const o = obj(d, f);
    if ("module" in o) return { type: "plugin", plugin: pluginRef(o, f) };
    const driverKeys: Record<string, readonly string[]> = {
      simple: ["type", "handler"],
      nopage: ["type"],
      mem: ["type"],
      scullp: ["type"],
      scullv: ["type"],
      regionRemap: ["type", "start", "size"],
      pciFb: ["type"],
      dmaEngine: ["type"],
    };
    if (typeof o.type === "string" && driverKeys[o.type]) only(o, f, driverKeys[o.type]!);
    switch (o.type) {
      case "simple":
        if (o.handler !== undefined && o.handler !== "fault" && o.handler !== "nopage")
          err(`${f}.handler`, '"fault" or "nopage"', o.handler);
        return o.handler ? { type: "simple", handler: o.handler as "fault" | "nopage" } : { type: "simple" };
      case "nopage":
      case "mem":
      case "scullp":
      case "scullv":
      case "pciFb":
      case "dmaEngine":
        return { type: o.type };
      case "regionRemap":
        return { type: "regionRemap", start: num(o.start, `${f}.start`), size: num(o.size, `${f}.size`) };
      default:
        return err(
          `${f}.type`,
          '"simple", "nopage", "regionRemap", "mem", "scullp", "scullv", "pciFb" or "dmaEngine" (or { "module": … } for a plugin)',
          o.type,
        );
    }
  });
  if (!Array.isArray(root.programs) || root.programs.length === 0)
    err("programs", "a non-empty array of { program, argv? }", root.programs);
  const programs = (root.programs as unknown[]).map((p, i): ProgramSpec => {
    const f = `programs[${i}]`;
    const o = obj(p, f);
    const program = str(o.program, `${f}.program`);
    if (program.startsWith("builtin:") && !BUILTINS.has(program.slice(8))) {
      err(
        `${f}.program`,
        `a built-in program (${[...BUILTINS].map((b) => `builtin:${b}`).join(", ")}) or a module path`,
        program,
      );
    }
    for (const k of Object.keys(o))
      if (!["program", "argv", "expect"].includes(k)) err(`${f}.${k}`, "one of program, argv, expect", k);
    const argv = o.argv ?? [];
    if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string"))
      err(`${f}.argv`, "an array of strings", argv);
    return { program, argv: argv as string[], expect: expectations(o.expect, `${f}.expect`) };
  });
  function pluginRef(o: Record<string, unknown>, field: string): PluginRef {
    only(o, field, ["module", "export", "options"]);
    const options = o.options === undefined ? {} : obj(o.options, `${field}.options`);
    return {
      module: str(o.module, `${field}.module`),
      export: o.export === undefined ? "default" : str(o.export, `${field}.export`),
      options,
    };
  }
  function exitSpec(v: unknown, field: string): ExitSpec {
    const what = '{ "code": 0..255 } or { "signal": "SIGSEGV" | "SIGBUS" | "SIGKILL" }';
    const o = obj(v, field);
    const keys = Object.keys(o);
    if (
      keys.length === 1 &&
      keys[0] === "code" &&
      Number.isInteger(o.code) &&
      (o.code as number) >= 0 &&
      (o.code as number) <= 255
    )
      return { code: o.code as number };
    if (keys.length === 1 && keys[0] === "signal" && SIGNALS.has(o.signal as string))
      return { signal: o.signal as string };
    return err(field, what, v);
  }
  function expectations(v: unknown, field: string): Record<Era, ExitSpec> {
    if (v === undefined) return { "2.6.10": { code: 0 }, modern: { code: 0 } };
    const o = obj(v, field);
    if ("code" in o || "signal" in o) {
      const one = exitSpec(o, field);
      return { "2.6.10": one, modern: one };
    }
    for (const k of Object.keys(o))
      if (k !== "2.6.10" && k !== "modern")
        err(`${field}.${k}`, 'an era ("2.6.10" or "modern") or code/signal', k);
    return {
      "2.6.10": o["2.6.10"] === undefined ? { code: 0 } : exitSpec(o["2.6.10"], `${field}["2.6.10"]`),
      modern: o.modern === undefined ? { code: 0 } : exitSpec(o.modern, `${field}.modern`),
    };
  }
  return {
    name: typeof root.name === "string" ? root.name : file,
    description: typeof root.description === "string" ? root.description : "",
    eras: eras as Era[],
    machine: {
      ramBytes,
      devices,
      drivers,
      ...(cpuIn.pku !== undefined ? { cpu: { pku: cpuIn.pku as boolean } } : {}),
      ...(machine.zeroPage !== undefined ? { zeroPage: machine.zeroPage as boolean } : {}),
    },
    programs,
  };
}

/** "ts" when running from source (this repository), "js" from the published dist/. */
const OWN_EXT = import.meta.url.endsWith(".ts") ? "ts" : "js";

/** A relative or absolute file path, as opposed to a bare module specifier ("pkg/prog"). */
const isPath = (p: string): boolean => p.startsWith(".") || isAbsolute(p) || p.startsWith("file:");

/** The module URL of a program (built-ins live next to this file; bare specifiers resolve as imports). */
export function programUrl(spec: ProgramSpec, baseDir: string): URL {
  if (spec.program.startsWith("builtin:"))
    return new URL(`./programs/${spec.program.slice(8)}.program.${OWN_EXT}`, import.meta.url);
  if (spec.program.startsWith("file:")) return new URL(spec.program);
  if (!isPath(spec.program)) return resolveFrom(spec.program, baseDir);
  return pathToFileURL(resolve(baseDir, spec.program));
}

/** A device or driver factory refused its parameters: `field` says which entry. */
export class DeviceSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "DeviceSpecError";
  }
}

function made<T>(field: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new DeviceSpecError(field, e instanceof Error ? e.message : String(e));
  }
}

/** The scenario's plugins, loaded and checked (loadPlugins), by the field that names them. */
export type Plugins = ReadonlyMap<string, LoadedPlugin<unknown>>;

/** Imports every plugin the scenario names and checks what its factory returns. */
export async function loadPlugins(s: Scenario, file: string, baseDir: string): Promise<Plugins> {
  const out = new Map<string, LoadedPlugin<unknown>>();
  for (const [i, d] of s.machine.devices.entries()) {
    const f = `machine.devices[${i}]`;
    if (d.type === "plugin") out.set(f, await loadPlugin(d.plugin, "device", file, f, baseDir));
  }
  for (const [i, d] of s.machine.drivers.entries()) {
    const f = `machine.drivers[${i}]`;
    if (d.type === "plugin") out.set(f, await loadPlugin(d.plugin, "driver", file, f, baseDir));
  }
  return out;
}

function plugin<T>(plugins: Plugins, field: string): T {
  const p = plugins.get(field);
  if (!p) throw new Error(`${field}: plugin not loaded (call loadPlugins first)`);
  return p.make() as T;
}

/** Machine options for one era: fresh device models and drivers (they hold state). */
export function machineOptions(s: Scenario, era: Era, plugins: Plugins = new Map()): MachineOptions {
  const devices: DeviceModel[] = s.machine.devices.map((d, i) =>
    made(`machine.devices[${i}]`, () =>
      d.type === "plugin"
        ? plugin<DeviceModel>(plugins, `machine.devices[${i}]`)
        : d.type === "isaMemory"
          ? isaMemory({ base: d.base, size: d.size, ...(d.name ? { name: d.name } : {}) })
          : d.type === "pciFramebuffer"
            ? pciFramebuffer({
                ...(d.width === undefined ? {} : { width: d.width }),
                ...(d.height === undefined ? {} : { height: d.height }),
              })
            : d.type === "pciDmaEngine"
              ? pciDmaEngine()
              : pciMemoryDevice({ barSize: d.barSize, ...(d.name ? { name: d.name } : {}) }),
    ),
  );
  const drivers: DriverDefinition[] = s.machine.drivers.map((d, i) =>
    made(`machine.drivers[${i}]`, () => {
      switch (d.type) {
        case "simple":
          return simple(d.handler ? { handler: d.handler } : {});
        case "nopage":
          return nopage();
        case "regionRemap":
          return regionRemap({ start: d.start, size: d.size });
        case "mem":
          return mem();
        case "scullp":
          return scullp();
        case "scullv":
          return scullv();
        case "pciFb":
          return pciFb();
        case "dmaEngine":
          return dmaEngine();
        case "plugin":
          return plugin<DriverDefinition>(plugins, `machine.drivers[${i}]`);
        default:
          throw new Error(`unknown driver ${(d as { type: string }).type}`);
      }
    }),
  );
  return {
    ramBytes: s.machine.ramBytes,
    era,
    devices,
    drivers,
    ...(s.machine.cpu ? { cpu: s.machine.cpu } : {}),
    ...(s.machine.zeroPage !== undefined ? { zeroPage: s.machine.zeroPage } : {}),
  };
}
