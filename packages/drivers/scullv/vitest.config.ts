import { faultlineProject } from "../../../vitest.shared.ts";

export default faultlineProject("driver-scullv");
