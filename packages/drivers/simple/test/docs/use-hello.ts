import { MAP_SHARED, Machine, O_RDONLY, PROT_READ, SignalError } from "@faultline/kernel";
import { hello } from "./hello-driver";

export async function main() {
  const m = await Machine.create({ ramBytes: 32 << 20, drivers: [hello()] });
  const p = m.spawn({ name: "reader" });

  const fd = p.libc.open("/dev/hello", O_RDONLY);
  const addr = p.libc.mmap(0, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  const greeting = new TextDecoder().decode(p.mmu.read(addr, 22));
  const maps = m.procText(`/proc/${p.pid}/maps`);

  let signal = "";
  try {
    p.mmu.load8(addr + 4096); // the second page: the driver answers VM_FAULT_SIGBUS
  } catch (e) {
    if (SignalError.is(e)) signal = e.signal; // the process is dead now
  }
  m.checkInvariants(); // every page reference is accounted for
  return { greeting, maps, signal, dmesg: m.dmesg() };
}
