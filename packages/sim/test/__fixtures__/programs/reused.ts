// For the worker pool's test: a program that lets pooled threads reuse its module
// (defineProgram's reuseModule), with module state that shows it: the exit code is how many
// processes this copy of the module has run.
import { defineProgram } from "@faultline/sim";

let runs = 0;

export default defineProgram(() => ++runs, { reuseModule: true });
