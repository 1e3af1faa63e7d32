// Helpers shared by the built-in scenario's programs (they run in worker threads).
import { errnoName, isErr } from "@faultline/mm";
import { PAGE_SIZE } from "@faultline/phys";
import {
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Sys,
} from "@faultline/sim";

export { MAP_PRIVATE, MAP_SHARED, MREMAP_MAYMOVE, O_RDWR, PROT_READ, PROT_WRITE };
export const PAGE = PAGE_SIZE;
export const RW = PROT_READ | PROT_WRITE;

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** A syscall result as a person reads it: the value, or -EINVAL. */
export const show = (r: number): string => (isErr(r) ? `-${errnoName(r)}` : hex(r));

/** Writes one line of the story to the console (fd 1), prefixed with the pid. */
export function say(sys: Sys, text: string): void {
  sys.write(1, `[pid ${sys.pid}] ${text}\n`);
}

/** Reads a whole (small) file, such as /proc/self/maps or /proc/iomem. */
export function readFile(sys: Sys, path: string): string {
  const fd = sys.open(path, 0);
  if (fd < 0) return "";
  let text = "";
  const buf = new Uint8Array(PAGE_SIZE);
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
