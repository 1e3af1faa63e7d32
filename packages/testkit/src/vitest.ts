/**
 * `useMachine()` for vitest: a TestKit whose `verify()` runs in an `afterEach` hook, so every test that
 * booted a machine through it fails on an undeclared oops or bad page, a broken invariant, or a frame
 * that is not back once every process exited and every driver was unloaded.
 */
import type { DeviceModel, DriverDefinition } from "@faultline/kernel";
import { afterEach } from "vitest";
import { type BootOptions, TestKit } from "./test-kit";

export * from "./index";

/**
 * Call at the top of a test file or inside a `describe` (it registers an afterEach hook there).
 * `defaults` apply to every `kit.boot()`. Tests of one file must not run concurrently.
 */
export function useMachine<
  const D extends readonly DeviceModel[] = readonly DeviceModel[],
  const R extends readonly DriverDefinition[] = readonly DriverDefinition[],
>(defaults: BootOptions<D, R> = {}): TestKit<D, R> {
  const kit = new TestKit<D, R>(defaults);
  afterEach((ctx) => {
    kit.verify({ testFailed: ctx.task.result?.state === "fail" });
  });
  return kit;
}
