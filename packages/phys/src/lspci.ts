/**
 * `lspci -v` as pciutils prints it without its name database (numeric IDs): one paragraph per
 * function with its class, IDs, subsystem and BARs (show_size() for the sizes).
 */
import {
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_REVISION_ID,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./pci-regs";

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
  barValue(index: number): number;
  configRead(offset: number, size: 1 | 2 | 4): number;
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
export function renderLspci(fns: readonly LspciFunction[]): string {
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
    out.push("");
  }
  return `${out.join("\n")}\n`.replace(/\n\n$/, "\n");
}
