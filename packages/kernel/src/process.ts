/**
 * A process as its user sees it: a handle on the kernel's task (internal/kernel.ts) with the
 * syscall surface (`sys`, `libc`) and the MMU it runs on. One handle per task (`processOf`).
 */
import { type Mm, type Mmu, renderMaps, renderSmaps, type SignalName } from "@faultline/mm";
import type { OpenFile } from "./internal/file";
import { allocFd } from "./internal/fs";
import type { Kernel, ProcessState, Task } from "./internal/kernel";
import { Libc } from "./libc";
import type { HandledSignal } from "./signal";
import { Syscalls } from "./syscalls";

export type { ProcessState } from "./internal/kernel";
export { Libc } from "./libc";
export { Syscalls, type WaitResult } from "./syscalls";

/** Options of `Machine.spawn`. */
export interface SpawnOptions {
  /** comm (what dmesg and OOM messages call it); default "proc". */
  readonly name?: string;
}

const handles = new WeakMap<Task, Process>();

/** The one Process handle of task `t`. */
export function processOf(k: Kernel, t: Task): Process {
  let p = handles.get(t);
  if (!p) {
    p = new Process(k, t);
    handles.set(t, p);
  }
  return p;
}

/** A process: a pid, an mm with its MMU, an fd table, and the syscall surface. */
export class Process {
  readonly sys: Syscalls;
  readonly libc: Libc;

  /** @internal use Machine.spawn (or fork) */
  constructor(
    /** @internal */ readonly kernel: Kernel,
    /** @internal */ readonly task: Task,
  ) {
    this.sys = new Syscalls(kernel, task);
    this.libc = new Libc(this.sys);
  }

  get pid(): number {
    return this.task.pid;
  }
  get mm(): Mm {
    return this.task.mm;
  }
  get mmu(): Mmu {
    return this.task.mmu;
  }
  get comm(): string {
    return this.task.comm;
  }
  get state(): ProcessState {
    return this.task.state;
  }
  /** The parent (fork's caller), or null: spawned by the machine, or orphaned. */
  get parent(): Process | null {
    const p = this.task.parent;
    return p ? processOf(this.kernel, p) : null;
  }
  /** Exit status: the exit code, or 128 + signal number when a signal killed it (as a shell's `$?`). */
  get exitCode(): number | null {
    return this.task.exitCode;
  }
  /** The fatal signal, or null (running, or exited normally). */
  get exitSignal(): SignalName | null {
    return this.task.exitSignal;
  }
  /** The raw wait status (what waitpid reports). */
  get waitStatus(): number | null {
    return this.task.waitStatus;
  }
  /** @internal an oops happened on this process's behalf: it dies when the kernel returns to it */
  get killPending(): boolean {
    return this.task.killPending;
  }
  /** @internal fd → struct file */
  get fds(): Map<number, OpenFile> {
    return this.task.fds;
  }

  get alive(): boolean {
    return this.task.state === "running";
  }

  /** The thread group id: the process's pid (getpid()); `pid` is this thread's id (gettid()). */
  get tgid(): number {
    return this.task.tgid;
  }
  /** The threads of this process (the group), this one included, by TID. */
  threads(): Process[] {
    return [...this.task.group].map((t) => processOf(this.kernel, t));
  }
  /** Faults this thread took (minor, major); the mm's counters are the whole process's. */
  get minflt(): number {
    return this.task.minflt;
  }
  get majflt(): number {
    return this.task.majflt;
  }

  /** The signals its handlers caught, oldest first (the first 64 are kept; `handledSignalCount` counts all). */
  get handledSignals(): readonly HandledSignal[] {
    return this.task.sig.handled;
  }
  get handledSignalCount(): number {
    return this.task.sig.handledCount;
  }

  /** /proc/PID/maps ("" once dead). */
  procMaps(): string {
    return this.alive ? renderMaps(this.mm) : "";
  }

  /** /proc/PID/smaps ("" once dead). */
  procSmaps(): string {
    return this.alive ? renderSmaps(this.mm) : "";
  }

  /** @internal lowest free fd */
  allocFd(): number {
    return allocFd(this.task);
  }
}
