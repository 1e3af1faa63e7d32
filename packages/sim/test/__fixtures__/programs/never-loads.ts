// A program module whose top level never finishes.
import { defineProgram } from "@faultline/sim";

for (;;) {
  // spin forever while loading
}

export default defineProgram(() => 0);
