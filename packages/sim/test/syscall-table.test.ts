// A worker's syscalls go through the kernel's syscall table (issue 8) and their arguments are
// checked at that boundary (issue 9 §2): names that are not syscalls are -ENOSYS, arguments C could
// not pass throw a TypeError in the program; the process and the machine go on.
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("the syscall table at the worker boundary", () => {
  for (const deterministic of [false, true]) {
    it(`-ENOSYS for non-syscalls, a TypeError for bad arguments, nothing changed (${deterministic ? "deterministic" : "free"} mode)`, async () => {
      const options = { machine: { ramBytes: 32 * 1024 * 1024 }, deadlineMs: 20_000 };
      const sim = deterministic
        ? await Simulation.deterministic({ ...options, seed: 3 })
        : await Simulation.create(options);
      sim.spawn(program("hostile-args.ts"));
      const [r] = await sim.run();
      expect(r!.error).toBeUndefined();
      expect(r!.exit).toEqual({ code: 0 });
      const m = sim.machine!;
      expect(m.oopses()).toEqual([]);
      expect(m.dmesg().join("\n")).not.toMatch(/oops/i);
      m.checkInvariants();
    });
  }
});
