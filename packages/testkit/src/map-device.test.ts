/**
 * mapDeviceRanges: several ranges of one open file, side by side, each at the offset asked for, and
 * the file closed after (on failure too).
 */
import {
  DRIVER_API_VERSION,
  defineDriver,
  EINVAL,
  ErrnoError,
  type File,
  MAP_PRIVATE,
  type Machine,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  type Process,
} from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { mapDeviceRanges } from "./index";
import { useMachine } from "./vitest";

/** What /dev/pages saw: each open, and each mmap with its file, place and page offset. */
interface Seen {
  opens: number;
  mmaps: Array<{ file: File; start: number; end: number; pgoff: number }>;
}

/** /dev/pages: a device of 4 pages that records its opens and mmaps and refuses a range past its end. */
function pagesDriver(seen: Seen) {
  let major = 0;
  return defineDriver({
    name: "pages",
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      major = ctx.allocChrdevRegion(0, 1, "pages");
      ctx.cdevAdd(major, 0, 1, {
        open() {
          seen.opens++;
          return 0;
        },
        mmap(file, vma) {
          if (vma.vmPgoff * PAGE_SIZE + (vma.vmEnd - vma.vmStart) > 4 * PAGE_SIZE) return -EINVAL;
          seen.mmaps.push({ file, start: vma.vmStart, end: vma.vmEnd, pgoff: vma.vmPgoff });
          return 0;
        },
      });
      ctx.createDevNode("pages", major, 0);
      return 0;
    },
    exit(ctx) {
      ctx.removeDevNode("pages");
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
    },
  });
}

const hex = (n: number) => n.toString(16);

/** The lines of /proc/pid/maps that overlap [from, to). */
const mapsIn = (m: Machine, p: Process, from: number, to: number) =>
  m
    .procText(`/proc/${p.pid}/maps`)
    .split("\n")
    .filter((l) => {
      const [s, e] = l
        .split(" ")[0]!
        .split("-")
        .map((x) => Number.parseInt(x, 16));
      return s! < to && e! > from;
    });

describe("mapDeviceRanges", () => {
  const seen: Seen = { opens: 0, mmaps: [] };
  const kit = useMachine({ ramBytes: 16 * 2 ** 20, drivers: () => [pagesDriver(seen)] });
  const boot = async () => {
    seen.opens = 0;
    seen.mmaps = [];
    return kit.boot();
  };

  it("maps each range of one open file where the one before ends, at its offset, and closes the file", async () => {
    const { m, p } = await boot();
    const [a, b, c] = mapDeviceRanges(p, "/dev/pages", [
      { length: 2 * PAGE_SIZE },
      { length: PAGE_SIZE, offset: 3 * PAGE_SIZE },
      { length: PAGE_SIZE, offset: PAGE_SIZE },
    ]);
    expect([b - a, c - a]).toEqual([2 * PAGE_SIZE, 3 * PAGE_SIZE]);
    // One open, and every mmap of that one file, in order, at its place and offset.
    expect(seen.opens).toBe(1);
    expect(seen.mmaps.map(({ start, end, pgoff }) => [start, end, pgoff])).toEqual([
      [a, a + 2 * PAGE_SIZE, 0],
      [b, b + PAGE_SIZE, 3],
      [c, c + PAGE_SIZE, 1],
    ]);
    expect(new Set(seen.mmaps.map((x) => x.file)).size).toBe(1);
    // The reservation is all device now (read-write, shared: mapDevice's defaults), nothing of it left.
    expect(mapsIn(m, p, a, a + 4 * PAGE_SIZE)).toEqual([
      expect.stringMatching(new RegExp(`^${hex(a)}-${hex(b)} rw-s 00000000 .*/dev/pages$`)),
      expect.stringMatching(new RegExp(`^${hex(b)}-${hex(c)} rw-s 00003000 .*/dev/pages$`)),
      expect.stringMatching(new RegExp(`^${hex(c)}-${hex(c + PAGE_SIZE)} rw-s 00001000 .*/dev/pages$`)),
    ]);
    // The file was closed: the next open takes the lowest descriptor again.
    expect(p.libc.open("/dev/pages", O_RDWR)).toBe(3);
    m.checkInvariants();
  });

  it("maps every range with the options' prot, flags and open flags", async () => {
    const { m, p } = await boot();
    const [a, b] = mapDeviceRanges(
      p,
      "/dev/pages",
      [{ length: PAGE_SIZE }, { length: PAGE_SIZE, offset: PAGE_SIZE }],
      {
        prot: PROT_READ,
        flags: MAP_PRIVATE,
      },
    );
    // Neighbours of one file at consecutive offsets, same flags: one VMA for the modern kernel.
    expect(mapsIn(m, p, a, b + PAGE_SIZE)).toEqual([
      expect.stringMatching(new RegExp(`^${hex(a)}-${hex(b + PAGE_SIZE)} r--p 00000000 .*/dev/pages$`)),
    ]);
    expect(seen.opens).toBe(1);
  });

  it("throws the mmap's ErrnoError, leaves the ranges before it mapped, and closes the file", async () => {
    const { m, p } = await boot();
    let thrown: unknown;
    try {
      mapDeviceRanges(p, "/dev/pages", [{ length: PAGE_SIZE }, { length: PAGE_SIZE, offset: 4 * PAGE_SIZE }]);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ErrnoError);
    expect(thrown).toMatchObject({ syscall: "mmap", code: "EINVAL" });
    expect(seen.mmaps).toHaveLength(1);
    const a = seen.mmaps[0]!.start;
    expect(mapsIn(m, p, a, a + PAGE_SIZE)).toEqual([expect.stringMatching(/ rw-s 00000000 .*\/dev\/pages$/)]);
    expect(p.libc.open("/dev/pages", O_RDWR)).toBe(3);
    // open's failure is open's ErrnoError; no ranges at all is the caller's mistake.
    expect(() => mapDeviceRanges(p, "/dev/none", [{ length: PAGE_SIZE }])).toThrow(
      expect.objectContaining({ syscall: "open", code: "ENOENT" }),
    );
    expect(() => mapDeviceRanges(p, "/dev/pages", [])).toThrow(RangeError);
    m.checkInvariants();
  });
});
