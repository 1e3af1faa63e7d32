import type { Scenario } from "./scenario";

/**
 * The second built-in scenario (`faultline run builtin:sharing`): two processes share a tmpfs file, a
 * memfd and a SysV segment, and one of them catches the SIGBUS of a load past its file's end and goes
 * on (issue 12). Today's kernel only: memfd came with 3.17.
 */
export const SHARING_SCENARIO: Scenario = {
  name: "sharing",
  description: "two processes share a tmpfs file, a memfd and a SysV segment; one catches a SIGBUS past EOF",
  eras: ["modern"],
  machine: { ramBytes: 32 * 1024 * 1024, devices: [], drivers: [] },
  programs: [
    { program: "builtin:sharing", argv: [], expect: { "2.6.10": { code: 0 }, modern: { code: 0 } } },
  ],
};
