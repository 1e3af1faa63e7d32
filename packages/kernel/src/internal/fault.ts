/** arch/x86/mm/fault.c and mm/oom_kill.c: the page-fault entry and the OOM kill it may end in. */
import { FAULT_KILLED, FAULT_OOM, type Mm } from "@faultline/mm";
import { enterKernel, leaveKernel } from "./current";
import { doExit } from "./exit";
import type { Kernel, Task } from "./kernel";
import { KERNEL, oops } from "./oops";

/** The MMU's page-fault hook for `t`: handle_mm_fault in kernel context; FAULT_* or the mm's answer. */
export function pageFault(k: Kernel, t: Task, addr: number, write: boolean): number {
  if (t.state !== "running") return FAULT_KILLED;
  const prevT = k.current;
  k.current = t;
  const prev = enterKernel(k);
  let r: number;
  // The mm counts the process's faults; the thread's own counters take the difference.
  const minBefore = t.mm.minflt;
  const majBefore = t.mm.majflt;
  try {
    r = t.mm.handleFault(addr, write);
    t.minflt += t.mm.minflt - minBefore;
    t.majflt += t.mm.majflt - majBefore;
  } catch (e) {
    // A throw that no driver wrapper caught: a bug in kernel code (or a driver's vm_ops installed
    // outside ->mmap). Still an oops, not a dead machine.
    oops(k, k.currentDriver ?? KERNEL, "page fault", e);
    r = FAULT_KILLED;
  } finally {
    leaveKernel(prev);
    k.current = prevT;
  }
  if (t.killPending || r === FAULT_KILLED) {
    doExit(k, t, { signal: "SIGKILL" });
    return FAULT_KILLED;
  }
  if (r === FAULT_OOM) {
    oomKill(k, t);
    return FAULT_OOM;
  }
  return r;
}

/** pagefault_out_of_memory(): the OOM killer picks the faulting process. */
function oomKill(k: Kernel, t: Task): void {
  const mm = t.mm;
  k.log.printk(
    3,
    `Out of memory: Killed process ${t.pid} (${t.comm}) total-vm:${vmSizeKb(mm)}kB, anon-rss:${mm.rssAnon * 4}kB, file-rss:${mm.rssFile * 4}kB, shmem-rss:${mm.rssShmem * 4}kB`,
  );
  doExit(k, t, { signal: "SIGKILL" });
}

function vmSizeKb(mm: Mm): number {
  let n = 0;
  for (const v of mm) n += v.vmEnd - v.vmStart;
  return n / 1024;
}
