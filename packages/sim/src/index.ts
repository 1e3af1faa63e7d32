export { type ExitRequest, type SimKernel, WNOHANG } from "./kernel-port";
export { machineKernel } from "./machine-kernel";
export {
  defineProgram,
  type Program,
  type ProgramMain,
  type ProgramMmu,
  type Sys,
  type SyscallArg,
  WEXITSTATUS,
  WIFEXITED,
  WIFSIGNALED,
  WTERMSIG,
} from "./program";
export {
  type DeterministicOptions,
  type ExitStatus,
  type ProcessResult,
  Simulation,
  type SimulationOptions,
  SimulationTimeoutError,
} from "./simulation";
export { decodeTrace, encodeTrace, ReplayDivergenceError, type SimTrace, type TraceEvent } from "./trace";
