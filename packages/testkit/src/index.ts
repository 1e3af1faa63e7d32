/**
 * @faultline/testkit: test a Faultline driver plugin. This file is the package's whole public surface
 * (the framework hooks are `@faultline/testkit/vitest` and `@faultline/testkit/node-test`).
 */
export { type ExpectedSignal, expectSignal } from "./expect-signal";
export {
  type MapOptions,
  type MapRange,
  type MapRangesOptions,
  mapDevice,
  mapDeviceRanges,
  tryMapDevice,
} from "./map-device";
export { type SnapshotOptions, snapshot } from "./snapshot";
export {
  type BadPageExpectation,
  type BootedMachine,
  type BootOptions,
  type OopsExpectation,
  TestKit,
  TestKitError,
} from "./test-kit";
