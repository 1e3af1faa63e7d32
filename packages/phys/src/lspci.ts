/**
 * `lspci -v` as pciutils prints it without its name database (numeric IDs): one paragraph per
 * function with its class, IDs, subsystem, the Flags line (bus master, devsel timing, latency, IRQ),
 * BARs (show_size() for the sizes), capabilities (as -v prints them: one line each, MSI's
 * "Enable± Count=n/m Maskable± 64bit±") and the driver bound to it ("Kernel driver in use").
 */

import {
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_VNDR,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
  type PlacedCapability,
} from "./pci-caps";
import {
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_REVISION_ID,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./pci-regs";

/** PCI_MSI_FLAGS_MASKBIT (per-vector masking). */
const MSI_FLAGS_MASKBIT = 0x100;

/** What lspci reads of a function: its configuration space and BAR layout. */
export interface LspciFunction {
  readonly slot: number;
  readonly fn: number;
  readonly config: Uint8Array;
  readonly command: number;
  readonly bars: ReadonlyArray<{
    readonly index: number;
    readonly size: number;
    readonly io: boolean;
    readonly is64: boolean;
    readonly prefetchable: boolean;
  } | null>;
  readonly capabilities?: readonly PlacedCapability[];
  barValue(index: number): number;
  configRead(offset: number, size: 1 | 2 | 4): number;
}

/** What the kernel adds (sysfs): the IRQ it gave the function and the driver bound to it. */
export interface LspciKernelView {
  irq(f: LspciFunction): number;
  driver(f: LspciFunction): string | null;
}

const h = (n: number, w: number) => n.toString(16).padStart(w, "0");

/** lspci's size suffixes (show_size() in pciutils lspci.c). */
function showSize(x: number): string {
  const suffix = ["", "K", "M", "G", "T"];
  let i = 0;
  while (i < suffix.length - 1 && x % 1024 === 0) {
    x /= 1024;
    i++;
  }
  return ` [size=${x}${suffix[i]}]`;
}

/** The listing of `fns`, in the order given (bus order). */
export function renderLspci(fns: readonly LspciFunction[], kernel?: LspciKernelView): string {
  const out: string[] = [];
  for (const f of fns) {
    const c = f.config;
    const cls = f.configRead(PCI_CLASS_DEVICE, 2);
    const rev = c[PCI_REVISION_ID]!;
    const prog = c[PCI_CLASS_PROG]!;
    let line = `${h(0, 2)}:${h(f.slot, 2)}.${f.fn} Class ${h(cls, 4)}: Vendor ${h(f.configRead(PCI_VENDOR_ID, 2), 4)} Device ${h(f.configRead(PCI_DEVICE_ID, 2), 4)}`;
    if (rev) line += ` (rev ${h(rev, 2)})`;
    if (prog) line += ` (prog-if ${h(prog, 2)})`;
    out.push(line);
    const sv = f.configRead(PCI_SUBSYSTEM_VENDOR_ID, 2);
    if (sv) out.push(`\tSubsystem: Vendor ${h(sv, 4)} Device ${h(f.configRead(PCI_SUBSYSTEM_ID, 2), 4)}`);
    const cmd = f.command;
    // show_htype0 … "Flags:": DEVSEL timing is fast (status bits 10:9 zero) on every function here.
    let flags = "\tFlags: ";
    if (cmd & PCI_COMMAND_MASTER) flags += "bus master, ";
    flags += "fast devsel";
    if (cmd & PCI_COMMAND_MASTER) flags += `, latency ${c[PCI_LATENCY_TIMER]!}`;
    const irq = kernel ? kernel.irq(f) : c[PCI_INTERRUPT_PIN] ? c[PCI_INTERRUPT_LINE]! : 0;
    if (irq) flags += `, IRQ ${irq}`;
    out.push(flags);
    for (const b of f.bars) {
      if (!b) continue;
      const a = f.barValue(b.index);
      if (b.io) {
        let s = `\tI/O ports at ${a || cmd & PCI_COMMAND_IO ? h(a, 4) : "<unassigned>"}`;
        if (!(cmd & PCI_COMMAND_IO)) s += " [disabled]";
        out.push(s + showSize(b.size));
      } else {
        let s = `\tMemory at ${a ? h(a, 8) : "<unassigned>"} (${b.is64 ? "64-bit" : "32-bit"}, ${b.prefetchable ? "" : "non-"}prefetchable)`;
        if (!(cmd & PCI_COMMAND_MEMORY)) s += " [disabled]";
        out.push(s + showSize(b.size));
      }
    }
    for (const cap of f.capabilities ?? [])
      out.push(`\tCapabilities: [${h(cap.offset, 2)}] ${showCap(f, cap)}`);
    const drv = kernel?.driver(f);
    if (drv) out.push(`\tKernel driver in use: ${drv}`);
    out.push("");
  }
  return `${out.join("\n")}\n`.replace(/\n\n$/, "\n");
}

/** One capability as `lspci -v` names it (pciutils ls-caps.c). */
function showCap(f: LspciFunction, cap: PlacedCapability): string {
  switch (cap.id) {
    case PCI_CAP_ID_MSI: {
      const t = f.configRead(cap.offset + PCI_MSI_FLAGS, 2);
      const fl = (bit: number) => (t & bit ? "+" : "-");
      return `MSI: Enable${fl(PCI_MSI_FLAGS_ENABLE)} Count=${1 << ((t & PCI_MSI_FLAGS_QSIZE) >> 4)}/${1 << ((t & PCI_MSI_FLAGS_QMASK) >> 1)} Maskable${fl(MSI_FLAGS_MASKBIT)} 64bit${fl(PCI_MSI_FLAGS_64BIT)}`;
    }
    case PCI_CAP_ID_VNDR:
      return `Vendor Specific Information: Len=${h(f.configRead(cap.offset + 2, 1), 2)} <?>`;
    default:
      return `#${h(cap.id, 2)} [${h(f.configRead(cap.offset + 2, 2), 4)}]`;
  }
}
