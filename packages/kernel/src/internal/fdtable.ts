/**
 * fs/file.c's close_on_exec bitmap, per task: FD_CLOEXEC of each fd (O_CLOEXEC, MFD_CLOEXEC,
 * F_SETFD). State only, so fs.ts and fcntl.ts can both use it. There is no execve here, so the flag
 * is only reported (F_GETFD) and inherited by fork.
 */
import type { Task } from "./kernel";

const closeOnExec = new WeakMap<Task, Set<number>>();

/** Sets or clears FD_CLOEXEC of `fd` (every fd install does one or the other). */
export function setCloseOnExec(t: Task, fd: number, on: boolean): void {
  let s = closeOnExec.get(t);
  if (!s) {
    if (!on) return;
    s = new Set();
    closeOnExec.set(t, s);
  }
  if (on) s.add(fd);
  else s.delete(fd);
}

/** FD_CLOEXEC of `fd`. */
export function closeOnExecOf(t: Task, fd: number): boolean {
  return closeOnExec.get(t)?.has(fd) ?? false;
}

/** dup_fd() at fork: the child's table has the parent's flags. */
export function copyCloseOnExec(parent: Task, child: Task): void {
  const s = closeOnExec.get(parent);
  if (s?.size) closeOnExec.set(child, new Set(s));
}
