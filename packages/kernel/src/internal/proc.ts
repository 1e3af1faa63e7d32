/**
 * fs/proc: the /proc files, built at read time as seq_file does: iomem, ioports, meminfo, buddyinfo,
 * devices, version, vmallocinfo, and PID/maps, PID/smaps.
 */
import {
  AddressSpaceMapping,
  HPAGE_SIZE,
  memtypesOf,
  renderMaps,
  renderPtdumpUser,
  renderSmaps,
} from "@faultline/mm";
import { EINVAL, SEEK_CUR, SEEK_SET } from "../constants";
import type { FileOperations } from "../driver-types";
import { renderProcDma } from "../isa-dma";
import { procSysvipcShm } from "./ipc-shm";
import { renderInterrupts } from "./irq";
import { type Kernel, RELEASE, type Task } from "./kernel";
import { renderProcBusPciDevices } from "./pci-bus";
import { renderVmallocinfo, VMALLOC_TOTAL, vmallocOf } from "./vmalloc";
import { userPageCensus } from "./vmstat";
import { procZoneinfo } from "./zoneinfo";

/** The text of a /proc file as `self` (null: no process, /proc/self does not exist) sees it, or null. */
export function procText(k: Kernel, path: string, self: Task | null): string | null {
  switch (path) {
    case "/proc/iomem":
      return k.phys.iomem();
    case "/proc/ioports":
      return k.phys.ioports();
    case "/proc/meminfo":
      return meminfo(k);
    case "/proc/buddyinfo":
      // 2.6.10 had no ZONE_DMA32 (v2.6.15): its Normal zone began at 16 MiB.
      return k.mem.renderBuddyinfo({ dma32: k.era !== "2.6.10" });
    case "/proc/zoneinfo":
      return procZoneinfo(k);
    case "/proc/devices":
      return `${k.chrdev.renderDevices()}\nBlock devices:\n`;
    case "/proc/version":
      return `Linux version ${RELEASE[k.era]} (faultline) #1 SMP\n`;
    case "/proc/mounts":
    case "/proc/self/mounts":
      return procMounts(k);
    case "/proc/sysvipc/shm":
      return procSysvipcShm(k);
    case "/proc/interrupts":
      return renderInterrupts(k);
    case "/proc/vmallocinfo":
      return renderVmallocinfo(k);
    case "/proc/dma":
      return renderProcDma(k);
    case "/proc/bus/pci/devices":
      return renderProcBusPciDevices(k);
    // debugfs: arch/x86/mm/pat/memtype.c's memtype list, and the reader's own page tables
    // (arch/x86/mm/debug_pagetables.c, CONFIG_PTDUMP_DEBUGFS; the user half only).
    case "/sys/kernel/debug/x86/pat_memtype_list":
      return memtypesOf(k.mem).render();
    case "/sys/kernel/debug/page_tables/current_user":
      return self ? renderPtdumpUser(self.mm.pgd) : null;
    default:
      break;
  }
  const task = /^\/proc\/(self|\d+)\/task(?:\/(\d+)\/(maps|smaps|stat))?$/.exec(path);
  if (task) {
    // /proc/PID/task lists the group's threads (one TID a line); task/TID/* is that thread's view.
    const leader = task[1] === "self" ? self : k.tasks.get(Number(task[1]));
    if (!leader) return null;
    if (!task[2]) return [...leader.group].map((o) => `${o.pid}\n`).join("");
    const th = k.tasks.get(Number(task[2]));
    if (!th || th.group !== leader.group) return null;
    return procPidFile(th, task[3]!, false);
  }
  const m = /^\/proc\/(self|\d+)\/(maps|smaps|stat)$/.exec(path);
  if (!m) return null;
  const t = m[1] === "self" ? self : k.tasks.get(Number(m[1]));
  if (!t) return null;
  return procPidFile(t, m[2]!, true);
}

/** maps, smaps, stat of a task (stat: its own fault counters, or the group's for /proc/PID/stat). */
function procPidFile(t: Task, what: string, wholeGroup: boolean): string {
  if (what === "stat") return procStat(t, wholeGroup);
  if (t.state !== "running" && ![...t.group].some((o) => o.state === "running")) return "";
  return what === "maps" ? renderMaps(t.mm) : renderSmaps(t.mm);
}

/**
 * /proc/PID/stat (fs/proc/array.c do_task_stat): pid, (comm), state, ppid, pgrp, session, tty_nr,
 * tpgid, flags, minflt, cminflt, majflt, cmajflt, … num_threads (field 20) …; fields Faultline does not
 * model are 0. minflt/majflt are the thread's, or the sum over the group for the process.
 */
function procStat(t: Task, wholeGroup: boolean): string {
  const threads = [...t.group];
  const min = wholeGroup ? threads.reduce((n, o) => n + o.minflt, 0) : t.minflt;
  const maj = wholeGroup ? threads.reduce((n, o) => n + o.majflt, 0) : t.majflt;
  const state = t.state === "running" ? "R" : "Z";
  const f = [t.pid, `(${t.comm})`, state, t.parent?.tgid ?? 0, t.tgid, t.tgid, 0, -1, 0, min, 0, maj, 0];
  const rest: number[] = new Array(52 - f.length).fill(0);
  rest[20 - f.length - 1] = threads.filter((o) => o.state === "running").length;
  return `${[...f, ...rest].join(" ")}\n`;
}

/** /proc/meminfo: MemTotal and MemFree from the allocator, the rest counted from the page tables. */
function meminfo(k: Kernel): string {
  const { anon, mapped, shmem: shmemPages, tables } = userPageCensus(k);
  const shmem = shmemPages.size;
  const free = k.mem.nrFreePages * 4;
  return (
    k.mem.renderMeminfo([
      ["MemAvailable", free],
      ["Buffers", 0],
      ["Cached", shmem * 4],
      ["SwapCached", 0],
      ["SwapTotal", 0],
      ["SwapFree", 0],
      ["AnonPages", anon.size * 4],
      ["Mapped", mapped.size * 4],
      ["Shmem", shmem * 4],
      ["PageTables", tables * 4],
      // VMALLOC_TOTAL >> 10; vmalloc_nr_pages() in kB; VmallocChunk has been 0 since v5.3.
      ["VmallocTotal", Math.floor(VMALLOC_TOTAL / 1024)],
      ["VmallocUsed", vmallocOf(k).nrPages * 4],
      ["VmallocChunk", 0],
    ]) + hugetlbReportMeminfo()
  );
}

/**
 * hugetlb_report_meminfo(): the default hstate's pool, in pages, then all hstates' memory. The pool
 * is empty on every Faultline machine (packages/mm/src/hugetlb.ts); its page size is 2 MiB.
 */
function hugetlbReportMeminfo(): string {
  const pages = (k: string) => `${`${k}:`.padEnd(19)}${"0".padStart(5)}\n`;
  return (
    pages("HugePages_Total") +
    pages("HugePages_Free") +
    pages("HugePages_Rsvd") +
    pages("HugePages_Surp") +
    `Hugepagesize:   ${String(HPAGE_SIZE / 1024).padStart(8)} kB\n` +
    `Hugetlb:        ${"0".padStart(8)} kB\n`
  );
}

/** A procfs inode number for `path`: handed out in order of first use, per machine. */
export function procIno(k: Kernel, path: string): number {
  let n = k.procInos.get(path);
  if (n === undefined) {
    n = k.nextProcIno++;
    k.procInos.set(path, n);
  }
  return n;
}

/** The i_mapping of a /proc file (one per path, as the inode's). */
export function procMapping(k: Kernel, path: string): AddressSpaceMapping {
  let m = k.procMappings.get(path);
  if (!m) {
    m = new AddressSpaceMapping(path);
    k.procMappings.set(path, m);
  }
  return m;
}

/**
 * A seq_file-like read-only file: the text is built by the read that starts at offset 0 and kept for
 * the reads that follow (seq_read); seeking back to 0 builds it again. seq_lseek() knows SEEK_SET and
 * SEEK_CUR only.
 */
export function procFops(build: () => string): FileOperations {
  return {
    read: (f, buf, ppos) => {
      if (ppos.value === 0 || !(f.privateData instanceof Uint8Array))
        f.privateData = new TextEncoder().encode(build());
      const bytes = f.privateData as Uint8Array;
      const start = Math.min(ppos.value, bytes.length);
      const n = Math.min(buf.length, bytes.length - start);
      buf.set(bytes.subarray(start, start + n));
      ppos.value = start + n;
      return n;
    },
    llseek: (f, offset, whence) => {
      if (whence !== SEEK_SET && whence !== SEEK_CUR) return -EINVAL;
      const pos = (whence === SEEK_SET ? 0 : f.fPos) + offset;
      if (pos < 0) return -EINVAL;
      f.fPos = pos;
      return pos;
    },
  };
}

/**
 * /proc/mounts: devtmpfs, procfs and the tmpfs mounts, with the options show_mountinfo prints (a
 * tmpfs prints size= only when it is not the default, half of RAM).
 */
function procMounts(k: Kernel): string {
  let out =
    "devtmpfs /dev devtmpfs rw,nosuid,mode=755 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n";
  const dflt = Math.floor((k.mem.totalRamPages * 4096) / 2 / 4096);
  for (const sb of k.tmpfs) {
    const size = sb.blocks.maxBlocks === dflt ? "" : `,size=${sb.blocks.maxBlocks * 4}k`;
    out += `tmpfs ${sb.mountPoint} tmpfs ${sb.options.replace(",inode64", `${size},inode64`)} 0 0\n`;
  }
  return out;
}
