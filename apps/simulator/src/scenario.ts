// Scenario files: the machine, the drivers to load and the programs to start. JSON on disk;
// every field is checked and a bad one is reported as "file: field: expected …, got …".
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type DeviceModel, isaMemory, pciMemoryDevice } from "@faultline/devices";
import { mem } from "@faultline/driver-mem";
import { nopage } from "@faultline/driver-nopage";
import { regionRemap } from "@faultline/driver-region-remap";
import { scullp } from "@faultline/driver-scullp";
import { simple } from "@faultline/driver-simple";
import type { DriverDefinition, MachineOptions } from "@faultline/kernel";

export type Era = "2.6.10" | "modern";

export type DeviceSpec =
  | { readonly type: "isaMemory"; readonly base: number; readonly size: number; readonly name?: string }
  | { readonly type: "pciMemoryDevice"; readonly barSize: number; readonly name?: string };

export type DriverSpec =
  | { readonly type: "simple"; readonly handler?: "fault" | "nopage" }
  | { readonly type: "nopage" }
  | { readonly type: "regionRemap"; readonly start: number; readonly size: number }
  | { readonly type: "mem" }
  | { readonly type: "scullp" };

export interface ProgramSpec {
  /** "builtin:<name>" or a path to a module whose default export is defineProgram(...). */
  readonly program: string;
  readonly argv: readonly string[];
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
  };
  readonly programs: readonly ProgramSpec[];
}

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
    got: unknown,
  ) {
    super(`${file}: ${field}: expected ${expected}, got ${describe(got)}`);
    this.name = "ScenarioError";
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const BUILTINS = new Set(["share", "grow", "region", "pci", "pci-nopage"]);

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
  return { scenario: parseScenario(json, path), baseDir: dirname(resolve(path)) };
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
  const machine = obj(root.machine, "machine");
  const ramBytes =
    machine.ramBytes === undefined ? 64 * 1024 * 1024 : num(machine.ramBytes, "machine.ramBytes");
  if (ramBytes % 4096 !== 0 || ramBytes < 2 * 1024 * 1024)
    err("machine.ramBytes", "a multiple of 4096, at least 2 MiB", machine.ramBytes);
  const devicesIn = machine.devices ?? [];
  if (!Array.isArray(devicesIn)) err("machine.devices", "an array", devicesIn);
  const devices = (devicesIn as unknown[]).map((d, i): DeviceSpec => {
    const f = `machine.devices[${i}]`;
    const o = obj(d, f);
    switch (o.type) {
      case "isaMemory":
        return {
          type: "isaMemory",
          base: num(o.base, `${f}.base`),
          size: num(o.size, `${f}.size`),
          ...(o.name ? { name: str(o.name, `${f}.name`) } : {}),
        };
      case "pciMemoryDevice":
        return {
          type: "pciMemoryDevice",
          barSize: num(o.barSize, `${f}.barSize`),
          ...(o.name ? { name: str(o.name, `${f}.name`) } : {}),
        };
      default:
        return err(`${f}.type`, '"isaMemory" or "pciMemoryDevice"', o.type);
    }
  });
  const driversIn = machine.drivers ?? [];
  if (!Array.isArray(driversIn)) err("machine.drivers", "an array", driversIn);
  const drivers = (driversIn as unknown[]).map((d, i): DriverSpec => {
    const f = `machine.drivers[${i}]`;
    const o = obj(d, f);
    switch (o.type) {
      case "simple":
        if (o.handler !== undefined && o.handler !== "fault" && o.handler !== "nopage")
          err(`${f}.handler`, '"fault" or "nopage"', o.handler);
        return o.handler ? { type: "simple", handler: o.handler as "fault" | "nopage" } : { type: "simple" };
      case "nopage":
      case "mem":
      case "scullp":
        return { type: o.type };
      case "regionRemap":
        return { type: "regionRemap", start: num(o.start, `${f}.start`), size: num(o.size, `${f}.size`) };
      default:
        return err(`${f}.type`, '"simple", "nopage", "regionRemap", "mem" or "scullp"', o.type);
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
    const argv = o.argv ?? [];
    if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string"))
      err(`${f}.argv`, "an array of strings", argv);
    return { program, argv: argv as string[] };
  });
  return {
    name: typeof root.name === "string" ? root.name : file,
    description: typeof root.description === "string" ? root.description : "",
    eras: eras as Era[],
    machine: { ramBytes, devices, drivers },
    programs,
  };
}

/** The module URL of a program (built-ins live next to this file). */
export function programUrl(spec: ProgramSpec, baseDir: string): URL {
  if (spec.program.startsWith("builtin:"))
    return new URL(`./programs/${spec.program.slice(8)}.program.ts`, import.meta.url);
  return pathToFileURL(resolve(baseDir, spec.program));
}

/** Machine options for one era: fresh device models and drivers (they hold state). */
export function machineOptions(s: Scenario, era: Era): MachineOptions {
  const devices: DeviceModel[] = s.machine.devices.map((d) =>
    d.type === "isaMemory"
      ? isaMemory({ base: d.base, size: d.size, ...(d.name ? { name: d.name } : {}) })
      : pciMemoryDevice({ barSize: d.barSize, ...(d.name ? { name: d.name } : {}) }),
  );
  const drivers: DriverDefinition[] = s.machine.drivers.map((d) => {
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
      default:
        throw new Error(`unknown driver ${(d as { type: string }).type}`);
    }
  });
  return { ramBytes: s.machine.ramBytes, era, devices, drivers };
}
