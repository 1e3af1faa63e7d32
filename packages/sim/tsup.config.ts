import { faultlineBuild } from "../../tsup.shared.ts";

// The worker entry and the tsx bootstrap (for TypeScript programs) are loaded by URL next to the
// bundle (dist/internal/worker-main.js, dist/internal/ts-worker-bootstrap.js); tsx, an optional peer
// dependency, stays external.
export default faultlineBuild(
  ["src/index.ts", "src/internal/worker-main.ts", "src/internal/ts-worker-bootstrap.mjs"],
  { upstreamSources: true },
);
