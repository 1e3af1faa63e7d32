// A program module whose top level never finishes: it blocks its thread for good, never yielding, as
// a spinning loop would, but without burning a core while the other program loads and the run waits
// out loadTimeoutMs (a spin took CPU from the healthy program's load on a busy machine). Killing the
// worker still has to stop a thread that never returns to its event loop.
import { defineProgram } from "@faultline/sim";

Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);

export default defineProgram(() => 0);
