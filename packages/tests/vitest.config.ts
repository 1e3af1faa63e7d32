import { faultlineProject } from "../../vitest.shared.ts";

// npm installs from the registry and packs every package: minutes, not seconds, on a busy 2-core machine.
export default faultlineProject("tests", { testTimeout: 300_000 });
