/**
 * Property: whatever sequence of writes a process makes, a mapping of scullp0 shows exactly the bytes
 * written (zeros elsewhere in a written page), SIGBUS for pages never written, and trimming afterwards
 * gives every page back. Checked against a plain array model, with a small qset so the list has many
 * nodes.
 */
import { MAP_SHARED, O_RDWR, O_WRONLY, PAGE_SIZE, PROT_READ, SEEK_SET, SignalError } from "@faultline/kernel";
import { useMachine } from "@faultline/testkit/vitest";
import fc from "fast-check";
import { expect, it } from "vitest";
import { SCULLP_IOCTRIM, scullp } from "./index";

const PAGES = 8;
const kit = useMachine();

it("mappings show what write() stored, holes are SIGBUS, trim frees everything", async () => {
  const writeArb = fc.record({
    pos: fc.integer({ min: 0, max: PAGES * PAGE_SIZE - 1 }),
    len: fc.integer({ min: 1, max: 2 * PAGE_SIZE }),
    byte: fc.integer({ min: 1, max: 255 }),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(writeArb, { minLength: 1, maxLength: 8 }),
      fc.constantFrom("modern", "2.6.10" as const),
      async (writes, era) => {
        const {
          m,
          p: w,
          drivers: [drv],
        } = await kit.boot({ ramBytes: 16 * 2 ** 20, era, drivers: [scullp({ qset: 2 })] });
        const model = new Uint8Array((PAGES + 2) * PAGE_SIZE);
        const written = new Set<number>();
        let size = 0;
        const free0 = m.mem.nrFreePages;
        const fd = w.libc.open("/dev/scullp0", O_WRONLY);
        for (const { pos, len, byte } of writes) {
          w.libc.lseek(fd, pos, SEEK_SET);
          let done = 0;
          while (done < len) done += w.libc.write(fd, new Uint8Array(len - done).fill(byte));
          model.fill(byte, pos, pos + len);
          for (let pg = Math.floor(pos / PAGE_SIZE); pg * PAGE_SIZE < pos + len; pg++) written.add(pg);
          size = Math.max(size, pos + len);
        }
        expect(drv.devices[0]!.size).toBe(size);
        const pages = Math.ceil(size / PAGE_SIZE);
        for (let pg = 0; pg < pages; pg++) {
          const p = m.spawn();
          const mfd = p.libc.open("/dev/scullp0", O_RDWR);
          const a = p.libc.mmap(0, pages * PAGE_SIZE, PROT_READ, MAP_SHARED, mfd, 0);
          if (written.has(pg)) {
            expect(p.mmu.read(a + pg * PAGE_SIZE, PAGE_SIZE)).toEqual(
              model.subarray(pg * PAGE_SIZE, (pg + 1) * PAGE_SIZE),
            );
            p.libc.exit(0);
          } else {
            let sig = "";
            try {
              p.mmu.load8(a + pg * PAGE_SIZE);
            } catch (e) {
              if (SignalError.is(e)) sig = e.signal;
            }
            expect(sig).toBe("SIGBUS");
          }
        }
        m.checkInvariants();
        expect(w.sys.ioctl(fd, SCULLP_IOCTRIM)).toBe(0);
        expect(m.mem.nrFreePages).toBe(free0);
        m.checkInvariants();
        kit.verify(); // each run on its own: a failure here is shrunk like any other
      },
    ),
    { numRuns: 40 },
  );
});
