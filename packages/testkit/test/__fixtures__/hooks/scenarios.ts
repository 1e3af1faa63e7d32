// The tests both hook fixtures run, as functions of the kit: each breaks one rule (or none), and the
// hook, not the test body, must notice.
import { PAGE_SIZE } from "@faultline/kernel";
import { expectSignal, mapDevice, type TestKit } from "../../../src/index";
import { buggy } from "../buggy-driver";

export const SCENARIOS = {
  /** A correct driver, its page mapped and read: passes. */
  async clean(kit: TestKit) {
    const { p } = await kit.boot({ drivers: [buggy()] });
    p.mmu.load8(mapDevice(p, "/dev/buggy", { length: PAGE_SIZE }));
  },
  /** exit forgets freePages: fails, a frame not back. */
  async "leaked frame"(kit: TestKit) {
    const { p } = await kit.boot({ drivers: [buggy("leak-on-unload")] });
    p.mmu.load8(mapDevice(p, "/dev/buggy", { length: PAGE_SIZE }));
  },
  /** The fault handler throws, the test expects the SIGKILL but not the oops: fails. */
  async "unexpected oops"(kit: TestKit) {
    const { p } = await kit.boot({ drivers: [buggy("throw-in-fault")] });
    expectSignal(() => p.mmu.load8(mapDevice(p, "/dev/buggy", { length: PAGE_SIZE })), { signal: "SIGKILL" });
  },
  /** The same, declared: passes. */
  async "declared oops"(kit: TestKit) {
    const { p } = await kit.boot({ drivers: [buggy("throw-in-fault")] });
    kit.expectOops({ driver: "buggy", callback: "vm_ops->fault" });
    expectSignal(() => p.mmu.load8(mapDevice(p, "/dev/buggy", { length: PAGE_SIZE })), { signal: "SIGKILL" });
  },
  /** The fault handler forgets getPage: fails, checkInvariants. */
  async "broken invariant"(kit: TestKit) {
    const { p } = await kit.boot({ drivers: [buggy("no-get-page")] });
    p.mmu.load8(mapDevice(p, "/dev/buggy", { length: PAGE_SIZE }));
  },
} satisfies Record<string, (kit: TestKit) => Promise<void>>;
