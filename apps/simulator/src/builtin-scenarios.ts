// The scenarios the `faultline` command carries: `builtin:<name>` in place of a scenario file.
import { DEFAULT_SCENARIO } from "./default-scenario";
import { ScenarioError } from "./errors";
import type { Scenario } from "./scenario";
import { SHARING_SCENARIO } from "./sharing-scenario";

export const BUILTIN_SCENARIOS: Readonly<Record<string, Scenario>> = {
  [DEFAULT_SCENARIO.name]: DEFAULT_SCENARIO,
  [SHARING_SCENARIO.name]: SHARING_SCENARIO,
};

/** Whether a scenario argument names a built-in scenario rather than a file. */
export const isBuiltinScenario = (arg: string): boolean => arg.startsWith("builtin:");

/** The built-in scenario `builtin:<name>` names; a ScenarioError listing them for any other name. */
export function builtinScenario(arg: string): Scenario {
  const s = Object.hasOwn(BUILTIN_SCENARIOS, arg.slice(8)) ? BUILTIN_SCENARIOS[arg.slice(8)] : undefined;
  if (!s) {
    const names = Object.keys(BUILTIN_SCENARIOS).map((n) => `builtin:${n}`);
    throw new ScenarioError(arg, "(scenario)", `a scenario file or one of ${names.join(", ")}`, arg);
  }
  return s;
}
