// A user's simulation: their own device model and driver (the driver guide's /dev/hello), a
// TypeScript program in two worker processes, everything from the installed packages.
import { Machine } from "@faultline/kernel";
import { Simulation } from "@faultline/sim";
import { dice } from "./dice.ts";
import { hello } from "./hello-driver.ts";

const machine = await Machine.create({ ramBytes: 32 << 20, devices: [dice(0xd0000)], drivers: [hello()] });
const sim = await Simulation.create({ machine, deadlineMs: 120_000 });
const program = new URL("./read-hello.program.ts", import.meta.url);
sim.spawn(program);
sim.spawn(program);
const results = await sim.run();
machine.checkInvariants();
console.log(
  JSON.stringify({
    exits: results.map((r) => r.exit),
    console: machine.console(),
    iomem: machine.procText("/proc/iomem"),
    dmesg: machine.dmesg().filter((l) => l.startsWith("hello")),
  }),
);
