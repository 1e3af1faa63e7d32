// Shared memory between workers (issue 12 §2): a tmpfs file, a memfd and a SysV segment, each seen by
// both processes' own workers; a SIGBUS past EOF caught; everything released at the end.
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";

const program = new URL("./__fixtures__/programs/sharer.ts", import.meta.url);

describe("shmem across workers", () => {
  it("a tmpfs file, a memfd and a SysV segment carry stores both ways; SIGBUS past EOF is caught", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 16 * 1024 * 1024 }, deadlineMs: 60_000 });
    sim.spawn(program);
    const r = await sim.run();
    const parent = r[0]!;
    expect(parent.exit, parent.error).toEqual({ code: 0 });
    expect(parent.handledSignals).toEqual([
      { signal: "SIGBUS", code: "BUS_ADRERR", addr: expect.any(Number) },
    ]);
    expect(r.find((x) => x.pid !== parent.pid)?.exit).toEqual({ code: 0 });
    const m = sim.machine!;
    m.checkInvariants();
    // The file stays (linked in /dev/shm); the memfd and the removed segment are gone with their users.
    const p = m.spawn();
    expect(p.libc.stat("/dev/shm/story").stSize).toBe(4096);
    expect(p.sys.shmget(0x5eed, 4096, 0)).toBeLessThan(0);
  }, 120_000);
});
