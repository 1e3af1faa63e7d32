import { it } from "node:test";
import { useMachine } from "../../../src/node-test";
import { SCENARIOS } from "./scenarios";

const kit = useMachine({ ramBytes: 16 << 20 });
for (const [name, run] of Object.entries(SCENARIOS)) it(name, () => run(kit));
