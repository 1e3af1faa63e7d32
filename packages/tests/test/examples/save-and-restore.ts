// Save a machine, restore it, and go on: the restored machine answers as the original would.
import { isaMemory } from "@faultline/devices";
import { scullp } from "@faultline/driver-scullp";
import { MAP_SHARED, Machine, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { counterDriver } from "./counter-driver";

/** What a fresh machine of this example is built with: devices and drivers are code, given again. */
const parts = () => ({
  devices: [isaMemory({ base: 0xd0000, size: 0x4000 })],
  drivers: [scullp(), counterDriver()],
});

export async function saveAndRestore(): Promise<{ bytes: number; text: string; opens: number }> {
  const m = await Machine.create({ ramBytes: 64 * 1024 * 1024, ...parts() });
  const p = m.spawn({ name: "writer" });
  const fd = p.sys.open("/dev/scullp0", O_RDWR);
  p.sys.write(fd, "kept across a snapshot");
  const addr = p.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  p.mmu.store8(addr, 0x4b); // 'K', through scullp's fault handler
  p.sys.open("/dev/counter", O_RDWR);

  const snapshot = m.snapshot(); // a Uint8Array: write it to a file, send it, keep it
  const restored = await Machine.restore(snapshot, parts());
  restored.checkInvariants();

  // Same pid, same fds, same mapping: the process goes on where it was.
  const q = restored.process(p.pid)!;
  q.sys.lseek(fd, 0, 0);
  const text = new TextDecoder().decode(q.sys.read(fd, 22) as Uint8Array);
  const counter = q.sys.open("/dev/counter", O_RDWR);
  return { bytes: snapshot.length, text, opens: q.sys.ioctl(counter, 0) };
}
