// Helpers shared by the built-in scenario's programs (they run in worker threads).
import type { Sys } from "@faultline/sim";

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MREMAP_MAYMOVE = 1;
export const O_RDWR = 2;
export const PAGE = 4096;
export const RW = PROT_READ | PROT_WRITE;

export const hex = (n: number): string => `0x${n.toString(16)}`;

const ERRNO: Record<number, string> = {
  1: "EPERM",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  19: "ENODEV",
  22: "EINVAL",
};
/** A syscall result as a person reads it: the value, or -EINVAL. */
export const show = (r: number): string => (r < 0 && r > -4096 ? `-${ERRNO[-r] ?? `E${-r}`}` : hex(r));

/** Writes one line of the story to the console (fd 1), prefixed with the pid. */
export function say(sys: Sys, text: string): void {
  sys.write(1, `[pid ${sys.pid}] ${text}\n`);
}

/** Reads a whole (small) file, such as /proc/self/maps or /proc/iomem. */
export function readFile(sys: Sys, path: string): string {
  const fd = sys.open(path, 0);
  if (fd < 0) return "";
  let text = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = sys.read(fd, buf);
    if (n <= 0) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  sys.close(fd);
  return text;
}

/** Opens a device or fails the program with a clear message. */
export function openDevice(sys: Sys, path: string): number {
  const fd = sys.open(path, O_RDWR);
  if (fd < 0) throw new Error(`open ${path}: ${show(fd)}`);
  return fd;
}

/** The start of a PCI function's first memory BAR, as /proc/iomem shows it. */
export function barAddress(sys: Sys, name: string): number {
  const line = readFile(sys, "/proc/iomem")
    .split("\n")
    .find((l) => l.trim().endsWith(`: ${name}`));
  if (!line) throw new Error(`${name} is not in /proc/iomem`);
  return Number.parseInt(line.trim().split("-")[0]!, 16);
}
