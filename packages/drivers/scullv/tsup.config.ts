import { faultlineBuild } from "../../../tsup.shared.ts";

export default faultlineBuild();
