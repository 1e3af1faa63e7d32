// A program that cannot be loaded never looks like success: exit status 127 and the reason.
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("program loading", () => {
  it("a missing module and a wrong default export end with 127 and say why", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 16 * 1024 * 1024 }, deadlineMs: 60_000 });
    const missing = sim.spawn(program("no-such-program.ts"));
    const wrong = sim.spawn(program("not-a-program.ts"));
    const ok = sim.spawn(program("victim.ts"), ["1"]);
    const r = await sim.run();
    const byPid = (pid: number) => r.find((x) => x.pid === pid)!;
    expect(byPid(missing).exit).toEqual({ code: 127 });
    expect(byPid(missing).error).toMatch(
      /cannot load program file:.*no-such-program\.ts: .*(Cannot find|ERR_MODULE_NOT_FOUND)/,
    );
    expect(byPid(wrong).exit).toEqual({ code: 127 });
    expect(byPid(wrong).error).toMatch(
      /not-a-program\.ts: the default export is not defineProgram\(\.\.\.\) \(got a function \(call defineProgram/,
    );
    expect(byPid(ok).exit).toEqual({ code: 0 });
    sim.machine!.checkInvariants();
  });
});
