/**
 * kernel/fork.c's clone(2) for threads, kernel/exit.c's exit_group(2), kernel/signal.c's tgkill(2),
 * gettid(2). A thread is a task of the same thread group: same mm (its own MMU and TLB, which every
 * munmap/mprotect/mremap shoots down before returning), same signal handlers, limits and (with
 * CLONE_FILES) fd table; its own pid (the TID), blocked set and fault counters.
 *
 * Supported: a thread (CLONE_VM | CLONE_SIGHAND | CLONE_THREAD, with or without CLONE_FILES; CLONE_FS,
 * CLONE_SYSVSEM, CLONE_SETTLS, CLONE_*TID, CLONE_VFORK, CLONE_IO and namespace flags change nothing
 * here), and a process (no CLONE_VM, CLONE_FILES, CLONE_SIGHAND: fork, with the exit signal of the
 * flags' low byte, CSIGNAL; CLONE_PARENT is not modelled: the child is the caller's). Sharing an mm or an fd table
 * between two processes (CLONE_VM or CLONE_FILES without CLONE_THREAD) is not modelled: -EINVAL.
 */
import { EINVAL, ESRCH } from "../constants";
import { SI_TKILL, type SigInfo } from "../signal";
import { doExit } from "./exit";
import { copyCloseOnExec } from "./fdtable";
import { forkProcess, newTask } from "./fork";
import type { Kernel, Task } from "./kernel";
import { sendSignal } from "./signal";

/** The low byte of clone's flags: the signal the child's exit sends its parent (exit_signal). */
export const CSIGNAL = 0x000000ff;
export const CLONE_VM = 0x00000100;
export const CLONE_FS = 0x00000200;
export const CLONE_FILES = 0x00000400;
export const CLONE_SIGHAND = 0x00000800;
export const CLONE_VFORK = 0x00004000;
export const CLONE_PARENT = 0x00008000;
export const CLONE_THREAD = 0x00010000;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_SYSVSEM = 0x00040000;
export const CLONE_SETTLS = 0x00080000;
export const CLONE_PARENT_SETTID = 0x00100000;
export const CLONE_CHILD_CLEARTID = 0x00200000;
export const CLONE_CHILD_SETTID = 0x01000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
/** What glibc's pthread_create passes (create_thread in sysdeps/unix/sysv/linux/createthread.c). */
export const CLONE_PTHREAD =
  CLONE_VM |
  CLONE_FS |
  CLONE_FILES |
  CLONE_SIGHAND |
  CLONE_THREAD |
  CLONE_SYSVSEM |
  CLONE_SETTLS |
  CLONE_PARENT_SETTID |
  CLONE_CHILD_CLEARTID;

/** A new thread of t's group; its pid (the TID). */
export function cloneThread(k: Kernel, t: Task, flags: number): Task {
  const th = newTask(k, t.mm, t.parent, t.comm, t);
  if (!(flags & CLONE_FILES)) {
    // A thread with its own copy of the fd table (dup_fd): not the one newTask shared.
    const own = new Map(t.fds);
    (th as { fds: Task["fds"] }).fds = own;
    for (const f of own.values()) f.get();
    copyCloseOnExec(t, th);
  }
  return th;
}

/**
 * clone(2) (copy_process's flag checks first): the new task's pid, or -EINVAL for CLONE_THREAD
 * without CLONE_SIGHAND, CLONE_SIGHAND without CLONE_VM, CLONE_NEWNS or CLONE_NEWUSER with CLONE_FS,
 * CLONE_THREAD with CLONE_NEWUSER or CLONE_NEWPID, and what is not modelled (see above).
 */
export function sysClone(k: Kernel, t: Task, flags: number): number {
  const f = flags >>> 0;
  if ((f & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if ((f & (CLONE_NEWUSER | CLONE_FS)) === (CLONE_NEWUSER | CLONE_FS)) return -EINVAL;
  if (f & CLONE_THREAD && !(f & CLONE_SIGHAND)) return -EINVAL;
  if (f & CLONE_SIGHAND && !(f & CLONE_VM)) return -EINVAL;
  if (f & CLONE_THREAD && f & (CLONE_NEWUSER | CLONE_NEWPID)) return -EINVAL;
  if (f & CLONE_THREAD) return cloneThread(k, t, f).pid;
  if (f & (CLONE_VM | CLONE_FILES)) return -EINVAL;
  // The legacy clone(2) takes the exit signal unchecked (only clone3 refuses a bad one): 0 or a
  // number past 64 sends nothing (do_notify_parent's valid_signal), and only __WCLONE/__WALL wait for it.
  return forkProcess(k, t, f & CSIGNAL);
}

/** gettid(2) */
export function sysGettid(_k: Kernel, t: Task): number {
  return t.pid;
}

/** exit_group(2): every thread of the group exits with `status`. */
export function sysExitGroup(k: Kernel, t: Task, status: number): number {
  doExit(k, t, { code: status, group: true });
  return 0;
}

/**
 * tgkill(2): `sig` to thread `tid` of group `tgid` (si_code SI_TKILL). -EINVAL for a non-positive id
 * or a bad signal, -ESRCH when no such thread is in that group.
 */
export function sysTgkill(k: Kernel, t: Task, tgid: number, tid: number, sig: number): number {
  if (tgid <= 0 || tid <= 0 || sig < 0 || sig > 64) return -EINVAL;
  const target = k.tasks.get(tid);
  if (!target || target.tgid !== tgid) return -ESRCH;
  const info: SigInfo = Object.freeze({ signo: sig, code: SI_TKILL, addr: 0, pid: t.tgid });
  if (sig) sendSignal(k, target, sig, info, true);
  return 0;
}
