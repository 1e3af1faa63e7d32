import { faultlineBuild } from "../../tsup.shared.ts";

// The worker entry is loaded by URL next to the bundle (dist/internal/worker-main.js).
export default faultlineBuild(["src/index.ts", "src/internal/worker-main.ts"]);
