/**
 * kernel/signal.c: sigaction, sigprocmask, sigpending, kill, rt_sigreturn, the sending side
 * (send_signal_locked, complete_signal), the forced synchronous fault signal (force_sig_fault) and
 * delivery on the way back to user mode (get_signal, handle_signal).
 *
 * Delivery runs a handler given as a function right there, in the process's thread (a handler that
 * returns resumes the interrupted code: the syscall returns). A handler given as a user-space
 * address (a simulator worker's) gets a SignalFrame the runtime picks up, runs, and ends with
 * rt_sigreturn. Job control is not modelled: the stop signals' default action (SIGSTOP, SIGTSTP,
 * SIGTTIN, SIGTTOU) discards them here instead of stopping the process.
 */
import { NSIG, type SiCodeName, type SignalError, signalName } from "@faultline/mm";
import { EINVAL, ESRCH } from "../constants";
import {
  CLD_DUMPED,
  CLD_EXITED,
  CLD_KILLED,
  type CldCodeName,
  type HandledSignal,
  SA_EXPOSE_TAGBITS,
  SA_NOCLDSTOP,
  SA_NOCLDWAIT,
  SA_NODEFER,
  SA_ONSTACK,
  SA_RESETHAND,
  SA_RESTART,
  SA_RESTORER,
  SA_SIGINFO,
  SI_USER,
  SIG_BLOCK,
  SIG_DFL,
  SIG_IGN,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SIGCHLD,
  SIGCONT,
  SIGFPE,
  SIGILL,
  SIGSTOP,
  SIGSYS,
  SIGTRAP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
  SIGURG,
  SIGWINCH,
  type SigActionResult,
  type SigHandler,
  type SigInfo,
} from "../signal";
import { doExit, setNotifyParent, WCOREFLAG } from "./exit";
import type { Kernel, Task } from "./kernel";
import { interruptSleep } from "./nanosleep";
import {
  DEFAULT_ACTION,
  HANDLED_RECORDS,
  type KSigAction,
  type SignalFrame,
  setOf,
  sigmask,
} from "./sighand";

const SIGKILL = 9;
const SIGBUS = 7;
const SIGSEGV = 11;

/** The signals of a set, in number order. */
export function sigsetToArray(set: bigint): number[] {
  const out: number[] = [];
  for (let n = 1; n <= NSIG; n++) if (set & sigmask(n)) out.push(n);
  return out;
}
export const sigsetFromArray = setOf;

/** SIGKILL and SIGSTOP: never caught, blocked or ignored (sig_kernel_only). */
const KERNEL_ONLY = sigmask(SIGKILL) | sigmask(SIGSTOP);
/** Delivered before the others (SYNCHRONOUS_MASK): the faults. */
const SYNCHRONOUS = setOf([SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS]);
/** Default action "ignore" (sig_kernel_ignore), and the stop signals (not modelled: discarded). */
const DEFAULT_IGNORE = setOf([SIGCONT, SIGCHLD, SIGWINCH, SIGURG]);
const DEFAULT_STOP = setOf([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);
/** The flags rt_sigaction keeps and reports (UAPI_SA_FLAGS, since 5.11 unknown bits are cleared). */
const UAPI_SA_FLAGS =
  SA_NOCLDSTOP |
  SA_NOCLDWAIT |
  SA_SIGINFO |
  SA_ONSTACK |
  SA_RESTART |
  SA_NODEFER |
  SA_RESETHAND |
  SA_EXPOSE_TAGBITS |
  SA_RESTORER;

const validSignal = (sig: number): boolean => sig >= 1 && sig <= NSIG;

/** The argument sigaction converts: null (query only), SIG_DFL / SIG_IGN, or the action. */
export type SigActionArg = null | KSigAction;

/** sig_handler_ignored(): the handler discards the signal (SIG_IGN, or SIG_DFL of a default-ignore one). */
function handlerIgnores(handler: KSigAction["handler"], sig: number): boolean {
  const b = sigmask(sig);
  return handler === SIG_IGN || (handler === SIG_DFL && (DEFAULT_IGNORE & b || DEFAULT_STOP & b) !== 0n);
}

/** Removes signals `set` from t's pending set and queue. */
function flushPending(t: Task, set: bigint): void {
  const s = t.sig;
  if (!(s.pending & set)) return;
  s.pending &= ~set;
  for (let i = s.queue.length - 1; i >= 0; i--) if (set & sigmask(s.queue[i]!.signo)) s.queue.splice(i, 1);
}

const asResult = (a: KSigAction): SigActionResult =>
  Object.freeze({
    handler: a.handler,
    flags: (a.flags & UAPI_SA_FLAGS) >>> 0,
    mask: Object.freeze(sigsetToArray(a.mask)),
  });

/**
 * rt_sigaction(2) (do_sigaction): the previous action, or -EINVAL for a signal outside 1..64 or a new
 * action for SIGKILL/SIGSTOP. The new mask never holds SIGKILL or SIGSTOP, unknown flags are dropped,
 * and a signal the new action ignores is discarded from the pending set.
 */
export function sysRtSigaction(
  _k: Kernel,
  t: Task,
  sig: number,
  act: SigActionArg,
): SigActionResult | number {
  if (!validSignal(sig) || (act && KERNEL_ONLY & sigmask(sig))) return -EINVAL;
  const old = t.sighand.action[sig]!;
  if (act) {
    const k: KSigAction = {
      handler: act.handler,
      flags: act.flags & UAPI_SA_FLAGS,
      mask: act.mask & ~KERNEL_ONLY,
    };
    t.sighand.action[sig] = k.handler === SIG_DFL && !k.flags && !k.mask ? DEFAULT_ACTION : Object.freeze(k);
    // POSIX 3.3.1.3: setting a signal's action to ignore discards it when pending, in every thread.
    if (handlerIgnores(k.handler, sig)) for (const th of threadsOf(_k, t)) flushPending(th, sigmask(sig));
  }
  return asResult(old);
}

/** The tasks sharing t's signal handlers (its threads, itself included). */
function threadsOf(k: Kernel, t: Task): Task[] {
  return [...k.tasks.values()].filter((o) => o.sighand === t.sighand);
}

/**
 * rt_sigprocmask(2): the previous blocked set; `set` null only reads it. -EINVAL for an unknown `how`
 * (checked only when a set is given). SIGKILL and SIGSTOP are silently never blocked.
 */
export function sysRtSigprocmask(_k: Kernel, t: Task, how: number, set: bigint | null): number[] | number {
  const s = t.sig;
  const old = s.blocked;
  if (set !== null) {
    const n = set & ~KERNEL_ONLY;
    if (how === SIG_BLOCK) s.blocked |= n;
    else if (how === SIG_UNBLOCK) s.blocked &= ~n;
    else if (how === SIG_SETMASK) s.blocked = n;
    else return -EINVAL;
  }
  return sigsetToArray(old);
}

/** rt_sigpending(2): the signals pending while blocked. */
export function sysRtSigpending(_k: Kernel, t: Task): number[] {
  return sigsetToArray(t.sig.pending & t.sig.blocked);
}

/**
 * kill(2): pid > 0 that process; 0 every process of the caller's group (here: every process); -1
 * every process but the caller; < -1 the group -pid (only one group exists, and it has no number a
 * caller could name: -ESRCH). Signal 0 only checks that the target exists. A zombie takes the signal
 * and nothing happens.
 */
export function sysKill(k: Kernel, t: Task, pid: number, sig: number): number {
  if (sig < 0 || sig > NSIG) return -EINVAL;
  // si_pid is the sender's process id (task_tgid_vnr in prepare_kill_siginfo), not its thread id.
  const info: SigInfo = Object.freeze({ signo: sig, code: SI_USER, addr: 0, pid: t.tgid });
  if (pid > 0) {
    const target = k.tasks.get(pid);
    if (!target) return -ESRCH;
    if (sig) sendSignal(k, target, sig, info);
    return 0;
  }
  if (pid < -1) return -ESRCH;
  // kill_something_info(): -1 skips the caller (and init, which no process here is).
  const targets = [...k.tasks.values()].filter((o) => pid === 0 || o !== t);
  if (!targets.length) return -ESRCH;
  if (sig) for (const o of targets) sendSignal(k, o, sig, info);
  return 0;
}

/**
 * send_signal_locked() + complete_signal(): queue `sig` for `t`, or drop it if ignored (a blocked
 * signal is never dropped: its handler may change before it is unblocked). A standard signal already
 * pending is not queued twice; real-time ones are. SIGKILL, and a signal whose default action kills,
 * unblocked, end the process at once.
 */
export function sendSignal(k: Kernel, target: Task, sig: number, info: SigInfo, toThread = false): void {
  // A process-directed signal goes to a thread of the group that does not block it (complete_signal).
  const b0 = sigmask(sig);
  const t = toThread
    ? target
    : ([...target.group].find((o) => o.state === "running" && !(o.sig.blocked & b0)) ?? target);
  if (t.state !== "running") return;
  if (sig === SIGKILL) {
    doExit(k, t, { signal: "SIGKILL" });
    return;
  }
  const s = t.sig;
  const b = sigmask(sig);
  const ka = t.sighand.action[sig]!;
  if (!(s.blocked & b) && handlerIgnores(ka.handler, sig)) return;
  if (sig < 32 && s.pending & b) return;
  s.pending |= b;
  s.queue.push(info);
  if (s.blocked & b) return;
  if (ka.handler === SIG_DFL) doExit(k, t, { signal: signalName(sig) });
  // signal_wake_up(): a sleep (nanosleep.ts) ends, and the handler that runs makes it -EINTR.
  else interruptSleep(t);
}

/**
 * kernel/signal.c: do_notify_parent() for leader `p`, whose thread group is gone: the parent is sent
 * p's exit signal with si_code CLD_EXITED (si_status the exit code), CLD_KILLED or CLD_DUMPED
 * (si_status the signal). Returns whether p is reaped at once: its exit signal is SIGCHLD and the
 * parent's SIGCHLD action is SIG_IGN (then nothing is sent) or has SA_NOCLDWAIT (then the signal is
 * still sent: Linux's choice, which POSIX leaves open; sigaction(2)). A parent's wait4 then finds no
 * such child (-ECHILD).
 */
export function doNotifyParent(k: Kernel, p: Task): boolean {
  const parent = p.parent;
  if (!parent) return false;
  const ws = p.waitStatus ?? 0;
  const termsig = ws & 0x7f;
  let sig = p.exitNotifySignal;
  const info: SigInfo = Object.freeze({
    signo: sig,
    code: ws & WCOREFLAG ? CLD_DUMPED : termsig ? CLD_KILLED : CLD_EXITED,
    addr: 0,
    pid: p.tgid,
    uid: 0,
    status: termsig || (ws >> 8) & 0xff,
  });
  const act = parent.sighand.action[SIGCHLD]!;
  let autoreap = false;
  if (sig === SIGCHLD && (act.handler === SIG_IGN || act.flags & SA_NOCLDWAIT)) {
    autoreap = true;
    if (act.handler === SIG_IGN) sig = 0;
  }
  if (sig >= 1 && sig <= NSIG) sendSignal(k, parent, sig, info);
  return autoreap;
}
setNotifyParent(doNotifyParent);

/** The next deliverable signal (synchronous ones first, then the lowest number), dequeued; or null. */
function dequeueSignal(t: Task): SigInfo | null {
  const s = t.sig;
  const ready = s.pending & ~s.blocked;
  if (!ready) return null;
  const pick = ready & SYNCHRONOUS ? ready & SYNCHRONOUS : ready;
  let sig = 1;
  while (!(pick & sigmask(sig))) sig++;
  const i = s.queue.findIndex((q) => q.signo === sig);
  const info = i >= 0 ? s.queue.splice(i, 1)[0]! : { signo: sig, code: SI_USER, addr: 0 };
  if (!s.queue.some((q) => q.signo === sig)) s.pending &= ~sigmask(sig);
  return info;
}

function codeName(info: SigInfo): SiCodeName | CldCodeName {
  if (info.signo === SIGCHLD && info.code >= CLD_EXITED && info.code <= CLD_DUMPED)
    return info.code === CLD_EXITED ? "CLD_EXITED" : info.code === CLD_KILLED ? "CLD_KILLED" : "CLD_DUMPED";
  if (info.signo === SIGSEGV)
    return info.code === 2 ? "SEGV_ACCERR" : info.code === 4 ? "SEGV_PKUERR" : "SEGV_MAPERR";
  if (info.signo === SIGBUS && info.code > 0)
    return info.code === 1 ? "BUS_ADRALN" : info.code === 3 ? "BUS_OBJERR" : "BUS_ADRERR";
  return info.code === -6 ? "SI_TKILL" : info.code === 0x80 ? "SI_KERNEL" : "SI_USER";
}

/**
 * handle_signal() / signal_setup_done(): the frame for `ka`'s handler; while it runs, its mask and
 * (without SA_NODEFER) the signal itself are blocked; SA_RESETHAND puts SIG_DFL back first.
 */
function setupFrame(t: Task, info: SigInfo, ka: KSigAction): SignalFrame {
  const s = t.sig;
  const sig = info.signo;
  const frame: SignalFrame = { signo: sig, handler: ka.handler, info, saved: s.blocked };
  s.blocked = (s.blocked | ka.mask | (ka.flags & SA_NODEFER ? 0n : sigmask(sig))) & ~KERNEL_ONLY;
  // SA_ONESHOT resets the handler only: flags and mask stay (oldact shows them).
  if (ka.flags & SA_RESETHAND) t.sighand.action[sig] = Object.freeze({ ...ka, handler: SIG_DFL });
  s.handledCount++;
  if (s.handled.length < HANDLED_RECORDS) {
    const rec: HandledSignal = { signal: signalName(sig), code: codeName(info), addr: info.addr };
    s.handled.push(Object.freeze(rec));
  }
  return frame;
}

/**
 * force_sig_fault() for an access the MMU could not complete: a handler's frame, or null when the
 * signal is fatal (the caller ends the process). A blocked or ignored fault signal is not deliverable,
 * so the kernel forces it: the action goes back to SIG_DFL (and the signal is unblocked), and it kills.
 */
export function forceSigFault(t: Task, e: SignalError): SignalFrame | null {
  if (t.state !== "running") return null;
  const sig = e.signo;
  const b = sigmask(sig);
  const s = t.sig;
  let ka = t.sighand.action[sig]!;
  // show_signal_msg() prints the "segfault at" line only for a signal no handler will catch.
  s.quietFault = typeof ka.handler === "function" || ka.handler > SIG_IGN;
  if (s.blocked & b || ka.handler === SIG_IGN) {
    // force_sig_info_to_task(): only the handler goes back to SIG_DFL.
    t.sighand.action[sig] = ka = Object.freeze({ ...ka, handler: SIG_DFL });
    s.blocked &= ~b;
  }
  if (ka.handler === SIG_DFL) return null;
  const info: SigInfo = Object.freeze({
    signo: sig,
    code: e.siCode,
    addr: e.addr,
    ...(e.pkey === undefined ? {} : { pkey: e.pkey }),
  });
  s.quietFault = false;
  return setupFrame(t, info, ka);
}

/**
 * get_signal() loop on the way back to user mode: every deliverable pending signal is acted on. A
 * default action that kills ends the process (and the loop); a handler gets a frame, run here (a
 * function) or left in t.sig.frames for the runtime (a handler at a user address).
 */
export function deliverPending(k: Kernel, t: Task): void {
  while (t.state === "running") {
    const info = dequeueSignal(t);
    if (!info) return;
    const sig = info.signo;
    const ka = t.sighand.action[sig]!;
    if (handlerIgnores(ka.handler, sig)) continue;
    if (ka.handler === SIG_DFL) {
      doExit(k, t, { signal: signalName(sig) });
      return;
    }
    const f = setupFrame(t, info, ka);
    if (typeof f.handler === "function") runFrame(t, f);
    else t.sig.frames.push(f);
  }
}

/**
 * Runs an in-thread handler's frame: the handler, then (it returned, or threw out of it as a
 * siglongjmp would) the blocked set it saved.
 */
export function runFrame(t: Task, f: SignalFrame): void {
  try {
    (f.handler as SigHandler)(f.info);
  } finally {
    if (t.state === "running") t.sig.blocked = f.saved;
  }
}

/**
 * rt_sigreturn(2) for a frame a runtime ran: the blocked set goes back to what it was. Without a
 * frame to return from, the kernel finds garbage where the frame should be: SIGSEGV (badframe).
 */
export function sysRtSigreturn(k: Kernel, t: Task): number {
  const f = t.sig.active.pop();
  if (!f) {
    doExit(k, t, { signal: "SIGSEGV" });
    return 0;
  }
  t.sig.blocked = f.saved;
  return 0;
}

/** Frames waiting for the runtime that runs this task's code; they become active (rt_sigreturn pops them). */
export function takeFrames(t: Task): SignalFrame[] {
  const out = t.sig.frames.splice(0);
  t.sig.active.push(...out);
  return out;
}

/** The sigaction argument as the kernel keeps it, from what the syscall entry converted. */
export function kSigAction(
  handler: KSigAction["handler"],
  flags: number,
  mask: readonly number[],
): KSigAction {
  return { handler, flags, mask: setOf(mask) };
}
