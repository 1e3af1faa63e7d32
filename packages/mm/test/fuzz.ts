// `pnpm fuzz`: the property of src/mm.property.test.ts for a long time over many seeds.
//   FAULTLINE_FUZZ_SECONDS (default 600), FAULTLINE_FUZZ_STEPS per run (default 200),
//   FAULTLINE_FUZZ_SEED to replay one seed (with FAULTLINE_FUZZ_PATH for its shrunk path).
import fc from "fast-check";
import { type Cmd, cmdArb, runSteps } from "./mm-model.ts";

const seconds = Number(process.env.FAULTLINE_FUZZ_SECONDS ?? 600);
const stepsPerRun = Number(process.env.FAULTLINE_FUZZ_STEPS ?? 200);
const replaySeed = process.env.FAULTLINE_FUZZ_SEED;
const replayPath = process.env.FAULTLINE_FUZZ_PATH;

const property = fc.property(
  fc.array(cmdArb, { minLength: stepsPerRun, maxLength: stepsPerRun }),
  (cmds: Cmd[]) => {
    steps += runSteps(cmds);
  },
);
let steps = 0;
let runs = 0;
const deadline = Date.now() + seconds * 1000;

function check(seed: number, path?: string): boolean {
  const details = fc.check(property, { seed, numRuns: path ? 1 : 50, ...(path ? { path } : {}) });
  runs += details.numRuns;
  if (!details.failed) return true;
  console.error(`\nFAILED  seed ${seed}  path ${details.counterexamplePath}`);
  console.error(
    `replay: FAULTLINE_FUZZ_SEED=${seed} FAULTLINE_FUZZ_PATH=${details.counterexamplePath} pnpm fuzz`,
  );
  console.error(
    String(details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance),
  );
  return false;
}

if (replaySeed !== undefined) {
  process.exit(check(Number(replaySeed), replayPath) ? 0 : 1);
}
let failures = 0;
let lastReport = Date.now();
while (Date.now() < deadline) {
  const seed = (Math.random() * 2 ** 31) | 0;
  if (!check(seed)) failures++;
  if (Date.now() - lastReport > 10_000) {
    lastReport = Date.now();
    console.log(`${runs} runs, ${steps} steps, ${failures} failing seeds`);
  }
}
console.log(`done: ${runs} runs, ${steps} steps, ${failures} failing seeds`);
process.exit(failures ? 1 : 0);
