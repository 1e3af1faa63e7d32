import { faultlineProject } from "../../vitest.shared.ts";

// The hook tests run vitest and node:test in child processes on fixture files: seconds, not milliseconds.
export default faultlineProject("testkit", { testTimeout: 120_000 });
