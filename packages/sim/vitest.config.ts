import { faultlineProject } from "../../vitest.shared.ts";

// Every test boots worker threads (each loads tsx and the sources): seconds apiece on a busy 2-core
// machine, so the per-test limit is generous; the tests bound their own waits with clear messages.
export default faultlineProject("sim", { testTimeout: 120_000 });
