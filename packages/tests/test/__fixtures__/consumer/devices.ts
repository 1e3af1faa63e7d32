// The consumer's device plugin entry for scenarios: options arrive as a JSON object.
import { dice } from "./dice.ts";

export function diceDevice(options: { base: number }) {
  return dice(options.base);
}
