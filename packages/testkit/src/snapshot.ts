/**
 * A machine's state as text, for `toMatchSnapshot()` / `toMatchInlineSnapshot()` or an assert on a
 * string: /proc/iomem, each process's /proc/PID/maps (or smaps), and the kernel log, each under a
 * heading. Everything in it is deterministic for a given machine and test (addresses, majors, pids).
 */
import type { Machine, Process } from "@faultline/kernel";

/** What `snapshot` includes. */
export interface SnapshotOptions {
  /** Processes whose maps to include (default: every process still running; [] for none). */
  readonly processes?: readonly Process[];
  /** smaps instead of maps (default false). */
  readonly smaps?: boolean;
  /** Include /proc/iomem (default true). */
  readonly iomem?: boolean;
  /** Include the kernel log: true (default), false, or a filter on its lines (a RegExp or a prefix). */
  readonly dmesg?: boolean | RegExp | string;
  /** Other /proc files to include, by path ("/proc/devices", "/proc/meminfo"…). */
  readonly files?: readonly string[];
}

/** The sections, in this order: iomem, each process's maps, the other files, dmesg. */
export function snapshot(m: Machine, options: SnapshotOptions = {}): string {
  const sections: string[] = [];
  const section = (title: string, body: string) => {
    sections.push(`## ${title}\n${body.endsWith("\n") || body === "" ? body : `${body}\n`}`);
  };
  if (options.iomem ?? true) section("/proc/iomem", m.procText("/proc/iomem"));
  const procs = options.processes ?? m.processes().filter((p) => p.alive);
  const file = options.smaps ? "smaps" : "maps";
  for (const p of procs) section(`/proc/${p.pid}/${file} (${p.comm})`, m.procText(`/proc/${p.pid}/${file}`));
  for (const f of options.files ?? []) section(f, m.procText(f));
  const dmesg = options.dmesg ?? true;
  if (dmesg !== false) {
    const keep =
      dmesg === true
        ? () => true
        : typeof dmesg === "string"
          ? (l: string) => l.startsWith(dmesg)
          : (l: string) => new RegExp(dmesg.source, dmesg.flags.replace("g", "")).test(l);
    section("dmesg", m.dmesg().filter(keep).join("\n"));
  }
  return sections.join("\n");
}
