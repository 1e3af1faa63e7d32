import { faultlineBuild } from "../../tsup.shared.ts";

export default faultlineBuild(["src/index.ts", "src/cli.ts"]);
