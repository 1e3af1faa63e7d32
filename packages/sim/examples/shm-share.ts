// Runs shm-share.program.ts: a parent and its forked child (two workers) share a tmpfs file, a memfd
// and a SysV segment. Run it with:
// pnpm --filter @faultline/sim exec tsx --conditions=@faultline/source examples/shm-share.ts
import { pathToFileURL } from "node:url";
import { type ProcessResult, Simulation } from "@faultline/sim";

export async function shmShare(): Promise<ProcessResult[]> {
  const sim = await Simulation.create({ machine: { ramBytes: 64 * 1024 * 1024 }, deadlineMs: 30_000 });
  sim.spawn(new URL("./shm-share.program.ts", import.meta.url));
  const results = await sim.run();
  for (const r of results) {
    console.log(`pid ${r.pid}: ${JSON.stringify(r.exit)}, handled ${JSON.stringify(r.handledSignals)}`);
  }
  const meminfo = sim.machine.procText("/proc/meminfo").split("\n");
  console.log(meminfo.filter((l) => /^(Cached|Shmem|Mapped):/.test(l)).join("\n"));
  sim.machine.checkInvariants();
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await shmShare();
