// Kernel entries from a worker that need nothing of the scheduler: a page fault its walk could not
// satisfy, an MMIO load or store (arch/x86/mm/fault.c and the bus), a page location for its TLB, a
// fault signal to deliver (force_sig_fault). Syscalls, exit and start stay with the Simulation, which
// owns the process table they change.

import type { FaultSignal, SimKernel } from "../kernel-port";
import {
  type KernelChannel,
  KIND_FAULT,
  OP_FAULT,
  OP_LOCATE,
  OP_MMIO_READ,
  OP_MMIO_WRITE,
  OP_SIGNAL,
  REQ_ADDR,
  REQ_FLAG,
  REQ_VALUE,
} from "./channel";
import { mmioTranslate } from "./mmio";

/** Records one kernel entry and its result (deterministic mode's trace). */
export type Recorder = (pid: number, op: string, args: readonly unknown[], ret: unknown) => void;

/**
 * Serves the request waiting in `chan` if it is one of these entries, replying on the channel; false
 * for any other op (the caller's to serve).
 */
export function serveEntry(k: SimKernel, pid: number, chan: KernelChannel, record: Recorder): boolean {
  switch (chan.op) {
    case OP_FAULT: {
      const addr = chan.f64[REQ_ADDR]!;
      const write = chan.i32[REQ_FLAG] === 1;
      const r = k.target(pid).fault(addr, write);
      record(pid, "fault", [addr, write], r);
      chan.reply(r);
      return true;
    }
    case OP_MMIO_READ: {
      const vaddr = chan.f64[REQ_ADDR]!;
      const size = chan.i32[REQ_FLAG] as 1 | 2 | 4;
      const paddr = mmioTranslate(k, pid, vaddr, size, false);
      if (paddr < 0) {
        record(pid, "mmio-read", [vaddr, size], paddr);
        chan.reply(-paddr, 0, KIND_FAULT);
        return true;
      }
      const v = k.target(pid).phys.physRead(paddr, size, vaddr);
      record(pid, "mmio-read", [vaddr, size], v);
      chan.reply(v);
      return true;
    }
    case OP_MMIO_WRITE: {
      const vaddr = chan.f64[REQ_ADDR]!;
      const size = chan.i32[REQ_FLAG] as 1 | 2 | 4;
      const value = chan.f64[REQ_VALUE]!;
      const paddr = mmioTranslate(k, pid, vaddr, size, true);
      if (paddr < 0) {
        record(pid, "mmio-write", [vaddr, size, value], paddr);
        chan.reply(-paddr, 0, KIND_FAULT);
        return true;
      }
      k.target(pid).phys.physWrite(paddr, size, value, vaddr);
      record(pid, "mmio-write", [vaddr, size, value], 0);
      chan.reply(0);
      return true;
    }
    case OP_LOCATE: {
      const pfn = chan.f64[REQ_ADDR]!;
      const phys = k.target(pid).phys;
      const loc = phys.locatePage(pfn);
      const writable = loc >= 0 && phys.pageWritable(pfn);
      record(pid, "locate", [pfn], [loc, writable]);
      chan.reply(loc, writable ? 1 : 0);
      return true;
    }
    case OP_SIGNAL: {
      const sig = chan.readPayload<FaultSignal>();
      const frame = k.forceSigFault?.(pid, sig) ?? null;
      record(pid, "signal", [sig.signal, sig.code, sig.addr], frame ? frame.handler : 0);
      chan.replySyscall({ ret: frame, bufs: [] });
      return true;
    }
    default:
      return false;
  }
}
