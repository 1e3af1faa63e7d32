/**
 * `useMachine()` for node:test: a TestKit whose `verify()` runs in node:test's `afterEach`, with the same
 * checks as the vitest hook. (Outside a test file, call `new TestKit()` and `kit.verify()` yourself.)
 */
import { afterEach } from "node:test";
import type { DeviceModel, DriverDefinition } from "@faultline/kernel";
import { type BootOptions, TestKit } from "./test-kit";

export * from "./index";

/** Call at the top of a test file or inside a `describe`; `defaults` apply to every `kit.boot()`. */
export function useMachine<
  const D extends readonly DeviceModel[] = readonly DeviceModel[],
  const R extends readonly DriverDefinition[] = readonly DriverDefinition[],
>(defaults: BootOptions<D, R> = {}): TestKit<D, R> {
  const kit = new TestKit<D, R>(defaults);
  afterEach(() => {
    kit.verify();
  });
  return kit;
}
