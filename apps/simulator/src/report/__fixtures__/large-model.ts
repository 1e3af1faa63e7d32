import { FAULTLINE_VERSION } from "../build";
import type {
  EraModel,
  FaultKind,
  FrameModel,
  IomemModel,
  ProcessModel,
  ReportModel,
  VmaModel,
} from "../model";

/**
 * A 64 GiB machine as Faultline lays it out (RAM below the 32-bit PCI hole, the rest above 4 GiB) with
 * 20 processes of 500 VMAs each; every VMA has 2 of its 8 pages mapped, some frames shared, some COW copies.
 */
export function largeModel(): ReportModel {
  const GiB = 2 ** 30;
  const iomem: IomemModel[] = [
    { start: 0, end: 0xfff, name: "Reserved", depth: 0, kind: "reserved" },
    { start: 0x1000, end: 0x9ffff, name: "System RAM", depth: 0, kind: "ram" },
    { start: 0xa0000, end: 0xbffff, name: "PCI Bus 0000:00", depth: 0, kind: "window" },
    { start: 0xa0000, end: 0xbffff, name: "Video RAM area", depth: 1, kind: "legacy" },
    { start: 0xf0000, end: 0xfffff, name: "System ROM", depth: 0, kind: "legacy" },
    { start: 0x100000, end: 3 * GiB - 1, name: "System RAM", depth: 0, kind: "ram" },
    { start: 3 * GiB, end: 0xfebfffff, name: "PCI Bus 0000:00", depth: 0, kind: "window" },
    { start: 3 * GiB, end: 3 * GiB + 0xfffff, name: "0000:00:02.0", depth: 1, kind: "bar" },
    { start: 3 * GiB, end: 3 * GiB + 0xfff, name: "pci-mem", depth: 2, kind: "claim" },
    { start: 4 * GiB, end: 65 * GiB - 1, name: "System RAM", depth: 0, kind: "ram" },
    { start: 65 * GiB, end: 97 * GiB - 1, name: "PCI Bus 0000:00", depth: 0, kind: "window" },
  ];
  const kinds: FaultKind[] = ["minor", "minor", "minor", "driver", "cow", "sigbus"];
  const processes: ProcessModel[] = [];
  const frames = new Map<number, { mappers: number[]; cowOf: number }>();
  const faults: EraModel["faults"][number][] = [];
  let tick = 0;
  for (let p = 0; p < 20; p++) {
    const pid = p + 1;
    const vmas: VmaModel[] = [];
    for (let v = 0; v < 500; v++) {
      const start = 0x7f0000000000 + (p * 500 + v) * 0x10000;
      const ptes = [0, 5].map((index) => {
        const n = p * 1000 + v * 2 + index / 5;
        // Every tenth frame is shared with the next process; frames spread over all 64 GiB.
        const pfn = 0x100000 + (((n % 10 === 0 && p > 0 ? n - 1000 : n) * 797) % (60 * 262144));
        const f = frames.get(pfn) ?? { mappers: [], cowOf: n % 97 === 0 ? pfn + 1 : -1 };
        if (!f.mappers.includes(pid)) f.mappers.push(pid);
        frames.set(pfn, f);
        faults.push({
          tick: ++tick,
          pid,
          addr: start + index * 4096,
          write: v % 2 === 0,
          kind: kinds[n % 6]!,
          pfn,
          fromPfn: -1,
        });
        return { index, pfn, writable: v % 2 === 0, special: false };
      });
      vmas.push({
        start,
        end: start + 8 * 4096,
        flags: 0x73,
        perms: "rw-p",
        vmFlags: "rd wr mr mw me ac",
        backing: v % 3 === 0 ? "device" : "anon",
        name: v % 3 === 0 ? "/dev/scullp" : null,
        pgoff: 0,
        ptes,
      });
    }
    processes.push({
      pid,
      ppid: 0,
      name: `worker-${pid}`,
      exit: "exit 0",
      capturedAt: tick,
      tablePages: 40,
      vmas,
    });
  }
  const frameList: FrameModel[] = [...frames.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([pfn, f]) => ({
      pfn,
      hasPage: true,
      refcount: f.mappers.length,
      mapcount: f.mappers.length,
      flags: 32,
      zero: false,
      cowOf: f.cowOf,
      mappers: f.mappers,
    }));
  return {
    format: "faultline-report",
    version: 1,
    faultline: FAULTLINE_VERSION,
    scenario: { name: "large", description: "64 GiB of RAM, 20 processes, 10,000 VMAs" },
    eras: [
      {
        era: "modern",
        ramBytes: 64 * GiB,
        totalRamPages: 16 * 2 ** 20,
        freePages: 16 * 2 ** 20 - frameList.length,
        zeroPfn: 1,
        iomem,
        processes,
        frames: frameList,
        faults,
        ticks: tick,
      },
    ],
  };
}
