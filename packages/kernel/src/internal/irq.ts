/**
 * kernel/irq: interrupt descriptors, their actions, the flow handlers and /proc/interrupts.
 *
 * - Legacy lines 0–15 sit on the IO-APIC (chip "IO-APIC", hwirq = pin); PCI INTx lines are level
 *   triggered (handle_fasteoi_irq, shown "fasteoi"): while a line stays asserted after the handlers
 *   ran (the EOI), it fires again; a line that keeps firing with nobody handling it is disabled as
 *   note_interrupt() does ("irq N: nobody cared", then "Disabling IRQ #N").
 * - MSI vectors get irq numbers from 24 up (the first after the IO-APIC's 24 pins) on chip "PCI-MSI",
 *   hwirq (bus << 8 | devfn) << 11 | vector (pci_msi_domain_calc_hwirq), edge triggered.
 * - request_irq/free_irq follow __setup_irq()/__free_irq(): sharing needs IRQF_SHARED on every
 *   action and a dev_id; a mismatch is -EBUSY with the "Flags mismatch" line.
 * - Handlers run as driver code (a throw is an oops) in interrupt context: no process is current,
 *   so no process is blamed.
 */
import type { PciFunction } from "@faultline/phys";
import { EBUSY, EINVAL } from "../constants";
import { recordClockEvent } from "./clock-events";
import type { Kernel, Task } from "./kernel";
import { callDriver } from "./oops";
import { onPciInstall, type PciState, pciState } from "./pci-bus";

export const IRQ_NONE = 0;
export const IRQ_HANDLED = 1;
export const IRQ_WAKE_THREAD = 2;
export const IRQF_SHARED = 0x00000080;
export const IRQF_TRIGGER_RISING = 0x00000001;
export const IRQF_TRIGGER_FALLING = 0x00000002;
export const IRQF_TRIGGER_HIGH = 0x00000004;
export const IRQF_TRIGGER_LOW = 0x00000008;
export const IRQF_NO_THREAD = 0x00010000;

/** Legacy (ISA/IO-APIC) lines, and where dynamically allocated (MSI) irqs start. */
export const NR_IRQS_LEGACY = 16;
export const FIRST_DYNAMIC_IRQ = 24;
/** note_interrupt(): this many unhandled in a row disables the line. */
const SPURIOUS_LIMIT = 1000;

/**
 * An interrupt handler (irq_handler_t): gets the irq and the dev_id it was requested with, returns
 * IRQ_HANDLED or IRQ_NONE.
 */
export type IrqHandler = (irq: number, devId: unknown) => number;

interface IrqAction {
  readonly handler: IrqHandler;
  readonly flags: number;
  readonly name: string;
  readonly devId: unknown;
  /** The module whose code the handler is. */
  readonly owner: string;
}

interface IrqDesc {
  readonly irq: number;
  readonly chip: "IO-APIC" | "PCI-MSI";
  readonly hwirq: number;
  readonly level: boolean;
  readonly actions: IrqAction[];
  count: number;
  disabled: boolean;
  /** Functions asserting this (level) line right now. */
  readonly asserted: Set<PciFunction>;
  /** A flow handler is running (a nested assert is picked up by its loop). */
  running: boolean;
  unhandled: number;
}

interface IrqState {
  readonly descs: Map<number, IrqDesc>;
  /** MSI message data → irq. */
  readonly msi: Map<number, number>;
  nextDynamic: number;
}

const states = new WeakMap<Kernel, IrqState>();

export function irqState(k: Kernel): IrqState {
  pciState(k);
  return states.get(k)!;
}

onPciInstall((k: Kernel, _s: PciState) => {
  const st: IrqState = { descs: new Map(), msi: new Map(), nextDynamic: FIRST_DYNAMIC_IRQ };
  for (let i = 0; i < NR_IRQS_LEGACY; i++) st.descs.set(i, newDesc(i, "IO-APIC", i, true));
  states.set(k, st);
  const bus = k.phys.pci;
  bus.intxHandler = (fn, irq, level) => {
    const d = st.descs.get(irq);
    if (!d) return;
    if (level) d.asserted.add(fn);
    else d.asserted.delete(fn);
    if (level) runLevel(k, d);
  };
  bus.msiHandler = (_fn, _addr, data) => {
    const irq = st.msi.get(data);
    const d = irq === undefined ? undefined : st.descs.get(irq);
    if (d) handleIrq(k, d);
  };
});

function newDesc(irq: number, chip: IrqDesc["chip"], hwirq: number, level: boolean): IrqDesc {
  return {
    irq,
    chip,
    hwirq,
    level,
    actions: [],
    count: 0,
    disabled: false,
    asserted: new Set(),
    running: false,
    unhandled: 0,
  };
}

/** handle_fasteoi_irq() for a level line: fires while asserted (after each EOI), unless disabled. */
function runLevel(k: Kernel, d: IrqDesc): void {
  if (d.running) return;
  while (d.asserted.size && !d.disabled) {
    if (!d.actions.length) {
      // No handler: the line is masked at the controller until someone requests it.
      return;
    }
    const handled = handleIrq(k, d);
    if (!handled && d.asserted.size) {
      if (++d.unhandled >= SPURIOUS_LIMIT) {
        k.log.printk(3, `irq ${d.irq}: nobody cared (try booting with the "irqpoll" option)`);
        k.log.printk(0, "handlers:");
        for (const a of d.actions) k.log.printk(0, `[<00000000>] ${a.name}`);
        k.log.printk(0, `Disabling IRQ #${d.irq}`);
        d.disabled = true;
      }
    } else {
      d.unhandled = 0;
    }
  }
}

/** handle_irq_event(): every action in order; the count goes up once per interrupt. */
function handleIrq(k: Kernel, d: IrqDesc): boolean {
  if (d.disabled || !d.actions.length) return false;
  d.count++;
  recordClockEvent(k, { ns: k.phys.clock.now, kind: "irq", irq: d.irq, count: d.count });
  d.running = true;
  const prevTask: Task | null = k.current;
  k.current = null;
  let handled = false;
  try {
    for (const a of [...d.actions]) {
      const r = callDriver(
        k,
        a.owner,
        `irq ${d.irq} handler ${a.name}`,
        () => a.handler(d.irq, a.devId),
        IRQ_NONE,
      );
      if (r & IRQ_HANDLED) handled = true;
    }
  } finally {
    k.current = prevTask;
    d.running = false;
  }
  return handled;
}

/** request_irq() → request_threaded_irq() → __setup_irq(). */
export function requestIrq(
  k: Kernel,
  owner: string,
  irq: number,
  handler: IrqHandler,
  flags: number,
  name: string,
  devId: unknown,
): number {
  const st = irqState(k);
  if (flags & IRQF_SHARED && (devId === null || devId === undefined)) return -EINVAL;
  const d = Number.isInteger(irq) ? st.descs.get(irq) : undefined;
  if (!d || typeof handler !== "function") return -EINVAL;
  const old = d.actions[0];
  if (old && !(old.flags & flags & IRQF_SHARED)) {
    const h8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
    k.log.printk(
      3,
      `genirq: Flags mismatch irq ${irq}. ${h8(flags)} (${name}) vs. ${h8(old.flags)} (${old.name})`,
    );
    return -EBUSY;
  }
  d.actions.push({ handler, flags, name: String(name), devId, owner });
  if (d.actions.length === 1) {
    d.disabled = false;
    d.unhandled = 0;
  }
  // A level line already asserted is delivered as soon as it is unmasked.
  if (d.level && d.asserted.size) runLevel(k, d);
  return 0;
}

/** free_irq(): removes the action with this dev_id; returns its name, or null (with the warning). */
export function freeIrq(k: Kernel, irq: number, devId: unknown): string | null {
  const d = irqState(k).descs.get(irq);
  const i = d ? d.actions.findIndex((a) => a.devId === devId) : -1;
  if (!d || i < 0) {
    k.log.printk(4, `Trying to free already-free IRQ ${irq}`);
    return null;
  }
  const [a] = d.actions.splice(i, 1);
  return a!.name;
}

/** Frees every action a module left (module unload), with a warning each. */
export function freeOwnerIrqs(k: Kernel, owner: string): void {
  const st = states.get(k);
  if (!st) return;
  for (const d of st.descs.values()) {
    for (const a of [...d.actions]) {
      if (a.owner !== owner) continue;
      k.log.printk(4, `${owner}: unloaded with IRQ ${d.irq} ("${a.name}") requested: freed`);
      d.actions.splice(d.actions.indexOf(a), 1);
    }
  }
}

/** Whether any action is installed on `irq` (a driver's remove must have freed its own). */
export function irqActions(k: Kernel, irq: number): readonly string[] {
  return (
    irqState(k)
      .descs.get(irq)
      ?.actions.map((a) => a.name) ?? []
  );
}

/** msi_domain_alloc_irqs(): `n` new irqs for a function's MSI vectors, data = irq for each. */
export function allocMsiIrqs(k: Kernel, fn: PciFunction, n: number): number[] {
  const st = irqState(k);
  const out: number[] = [];
  const devId = (0 << 8) | (fn.slot << 3) | fn.fn;
  // Multiple Message Enable needs an aligned block of data values (the vector goes in the low bits).
  const first = Math.ceil(st.nextDynamic / n) * n;
  for (let v = 0; v < n; v++) {
    const irq = first + v;
    st.descs.set(irq, newDesc(irq, "PCI-MSI", (devId << 11) | v, false));
    st.msi.set(irq, irq);
    out.push(irq);
  }
  st.nextDynamic = first + n;
  return out;
}

/** The irqs' descriptors go (pci_free_irq_vectors); their actions must have been freed. */
export function freeMsiIrqs(k: Kernel, irqs: readonly number[]): void {
  const st = irqState(k);
  for (const irq of irqs) {
    st.descs.delete(irq);
    st.msi.delete(irq);
  }
}

/** Interrupts counted on `irq` so far (kstat_irqs). */
export function irqCount(k: Kernel, irq: number): number {
  return irqState(k).descs.get(irq)?.count ?? 0;
}

/**
 * /proc/interrupts (show_interrupts): the header with one CPU column, then each irq that has an
 * action or has fired: "%*d: ", the count as "%10u ", the chip " %8s", the hwirq " %*lu", the flow
 * "-%-8s" (fasteoi / edge) and the actions' names joined by ", "; then ERR and MIS
 * (arch_show_interrupts' last lines). prec is 3 (fewer than 1000 irqs).
 */
export function renderInterrupts(k: Kernel): string {
  const st = irqState(k);
  const prec = 3;
  let out = `${" ".repeat(prec + 8)}${"CPU0".padEnd(11)}\n`;
  for (const d of [...st.descs.values()].sort((a, b) => a.irq - b.irq)) {
    if (!d.actions.length && !d.count) continue;
    let line = `${String(d.irq).padStart(prec)}: ${String(d.count).padStart(10)} `;
    line += ` ${d.chip.padStart(8)} ${String(d.hwirq).padStart(prec)}-${(d.level ? "fasteoi" : "edge").padEnd(8)}`;
    if (d.actions.length) line += `  ${d.actions.map((a) => a.name).join(", ")}`;
    out += `${line}\n`;
  }
  out += `${"ERR".padStart(prec)}: ${"0".padStart(10)}\n`;
  out += `${"MIS".padStart(prec)}: ${"0".padStart(10)}\n`;
  return out;
}

// ---- machine snapshots (snapshot/hw.ts) -------------------------------------------------------

/**
 * The interrupt descriptors as a machine snapshot keeps them: per irq that has an action, has fired
 * or is an MSI vector, [irq, count, disabled (0/1), unhandled, MSI (0/1)]; each action as [irq,
 * driver, name, flags] (handlers are driver code: the restored drivers request them again, in
 * probe or in their snapshot.restore, and restore checks they did); the next dynamic irq.
 */
export interface IrqSnapshot {
  readonly descs: ReadonlyArray<readonly number[]>;
  readonly actions: ReadonlyArray<readonly [number, string, string, number]>;
  readonly nextDynamic: number;
}

export function saveIrqs(k: Kernel): IrqSnapshot {
  const st = irqState(k);
  const descs: number[][] = [];
  const actions: [number, string, string, number][] = [];
  for (const d of [...st.descs.values()].sort((a, b) => a.irq - b.irq)) {
    const msi = d.chip === "PCI-MSI";
    if (d.actions.length || d.count || d.disabled || d.unhandled || msi)
      descs.push([d.irq, d.count, d.disabled ? 1 : 0, d.unhandled, msi ? 1 : 0]);
    for (const a of d.actions) actions.push([d.irq, a.owner, a.name, a.flags]);
  }
  return { descs, actions, nextDynamic: st.nextDynamic };
}

/**
 * On a restored machine whose drivers requested their interrupts again: checks that the same
 * actions are installed (same irqs, drivers, names and flags, in order) and the same MSI vectors
 * allocated, then puts the counts, disabled lines and spurious counters back. An Error names the
 * first difference (nothing is changed then).
 */
export function restoreIrqs(k: Kernel, s: IrqSnapshot): void {
  const st = irqState(k);
  const now = saveIrqs(k);
  const key = (a: readonly unknown[]) => JSON.stringify(a);
  if (!Array.isArray(s?.actions) || !Array.isArray(s.descs))
    throw new Error("irqs: expected descs and actions");
  const want = s.actions.map(key);
  const have = now.actions.map(key);
  const missing = want.find((a) => !have.includes(a));
  if (missing)
    throw new Error(
      `irq action ${missing} (irq, driver, name, flags) was requested in the snapshot's machine and its driver did not request it again (in probe or snapshot.restore)`,
    );
  const extra = have.find((a) => !want.includes(a));
  if (extra || want.join() !== have.join())
    throw new Error(`irq action ${extra ?? have.join()} on the restored machine is not the snapshot's`);
  if (s.nextDynamic !== st.nextDynamic)
    throw new Error(
      `irqs: the next MSI irq is ${st.nextDynamic}, the snapshot's was ${String(s.nextDynamic)}`,
    );
  const msiNow = now.descs.filter((d) => d[4] === 1).map((d) => d[0]);
  const msiWant = s.descs.filter((d) => Array.isArray(d) && d[4] === 1).map((d) => d[0]);
  if (msiNow.join() !== msiWant.join())
    throw new Error(
      `irqs: MSI vectors ${msiNow.join(",") || "none"} allocated, the snapshot had ${msiWant.join(",") || "none"}`,
    );
  const plan = s.descs.map((d) => {
    const [irq, count, disabled, unhandled] = Array.isArray(d) ? d : [];
    const desc = st.descs.get(irq as number);
    const ok = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    if (!desc || !ok(count) || !ok(unhandled) || (disabled !== 0 && disabled !== 1))
      throw new Error(`irq ${String(irq)}: not an interrupt of this machine, or a bad count`);
    return { desc, count: count as number, disabled: disabled === 1, unhandled: unhandled as number };
  });
  for (const d of st.descs.values()) {
    d.count = 0;
    d.unhandled = 0;
    d.disabled = false;
  }
  for (const p of plan) {
    p.desc.count = p.count;
    p.desc.disabled = p.disabled;
    p.desc.unhandled = p.unhandled;
  }
}
