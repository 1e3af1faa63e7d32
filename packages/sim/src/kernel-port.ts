import type { Mm, MmuTarget } from "@faultline/mm";
import type { PhysMemory } from "@faultline/phys";

/**
 * What the simulator needs of a kernel, all called on the kernel thread. `machineKernel(machine)`
 * adapts a @faultline/kernel Machine; tests of the runtime alone may implement it over an Mm.
 */
export interface SimKernel {
  readonly mem: PhysMemory;
  /** Creates a process with an empty address space; returns its pid. */
  spawn(name?: string): number;
  /** The process's mm: the simulator registers each worker's TLB there for shootdowns. */
  mm(pid: number): Mm;
  /** The kernel side of the process's MMU: page-table root, fault handler, physical access (MMIO). */
  target(pid: number): MmuTarget;
  /**
   * A raw syscall on behalf of `pid`, dispatched by the kernel's syscall table (by name or x86-64
   * number): a value or -errno, -ENOSYS for a call the table does not list. A TypeError *returned*
   * means an argument was refused before the kernel was entered (NaN, a string for a number, …):
   * nothing changed, and the channel hands it to the worker, which throws it in the program.
   */
  syscall(pid: number, name: string, args: unknown[]): unknown;
  /** fork(): the child's pid (its mm the COW copy of the parent's) or -errno. */
  fork(pid: number): number;
  /** The process ends (a no-op if the kernel already ended it); all it held is released. */
  exit(pid: number, how: ExitRequest): void;
  /**
   * waitpid(child, options | WNOHANG) for `pid`, never blocking: [pid, status] when a matching child
   * has exited (and is reaped), 0 when matching children still run, -errno (-ECHILD) otherwise.
   */
  waitpid(pid: number, child: number, options: number): number | readonly [number, number];
  /** Signal numbers by name (SIGSEGV, SIGBUS, SIGKILL). */
  signo(name: string): number;
}

export const WNOHANG = 1;

/** How a process ended: exit(code), or a fatal signal (with si_code and address when the MMU raised it). */
export type ExitRequest =
  | { readonly code: number }
  | { readonly signal: string; readonly siCode?: string; readonly addr?: number };
