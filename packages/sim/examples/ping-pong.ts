// Runs ping-pong.program.ts on a 64 MiB machine: one kernel (this thread), two CPUs (workers).
// Run it with: pnpm --filter @faultline/sim exec tsx --conditions=@faultline/source examples/ping-pong.ts
import { pathToFileURL } from "node:url";
import { type ProcessResult, Simulation } from "@faultline/sim";

export async function pingPong(rounds = 1000): Promise<ProcessResult[]> {
  const sim = await Simulation.create({ machine: { ramBytes: 64 * 1024 * 1024 }, deadlineMs: 30_000 });
  sim.spawn(new URL("./ping-pong.program.ts", import.meta.url), [String(rounds)]);
  const results = await sim.run();
  for (const r of results) {
    console.log(`pid ${r.pid} on thread ${r.threadId}: ${JSON.stringify(r.exit)}, ${r.minflt} minor faults`);
  }
  console.log(sim.machine.procText("/proc/meminfo").split("\n").slice(0, 2).join("\n"));
  sim.machine.checkInvariants();
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await pingPong();
