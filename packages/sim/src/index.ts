/**
 * The constants a program passes to its syscalls, with their Linux x86-64 values (one definition, in
 * @faultline/kernel), so a program module needs no other import.
 */
export {
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PKEY_DISABLE_ACCESS,
  PKEY_DISABLE_WRITE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from "@faultline/kernel";
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
