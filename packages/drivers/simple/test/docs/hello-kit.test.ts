import { BUS_ADRERR, PROT_READ, SIGBUS } from "@faultline/kernel";
import { expectSignal, mapDevice, useMachine } from "@faultline/testkit/vitest";
import { expect, it } from "vitest";
import { hello } from "./hello-driver";

// Every test boots through the kit; after each one, the kit checks that no oops happened, that
// checkInvariants() holds, and that every page is back once all processes exited and the driver
// was unloaded.
const kit = useMachine({ ramBytes: 32 << 20, drivers: () => [hello("hi")] });

it.each(["modern", "2.6.10"] as const)("%s: maps the greeting; the second page is SIGBUS", async (era) => {
  const { p } = await kit.boot({ era });
  const addr = mapDevice(p, "/dev/hello", { length: 2 * 4096, prot: PROT_READ });
  expect(new TextDecoder().decode(p.mmu.read(addr, 2))).toBe("hi");
  expectSignal(() => p.mmu.load8(addr + 4096), { signo: SIGBUS, code: BUS_ADRERR, addr: addr + 4096 });
});
