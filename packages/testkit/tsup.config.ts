import { faultlineBuild } from "../../tsup.shared.ts";

export default faultlineBuild(["src/index.ts", "src/vitest.ts", "src/node-test.ts"]);
