import { it } from "vitest";
import { useMachine } from "../../../src/vitest";
import { SCENARIOS } from "./scenarios";

const kit = useMachine({ ramBytes: 16 << 20 });
for (const [name, run] of Object.entries(SCENARIOS)) it(name, () => run(kit));
