/**
 * Property: whatever sequence of writes a process makes, at whatever order, read() and a mapping of
 * scullv0 show exactly the bytes written (zeros elsewhere in a written quantum: vmalloc'ed and
 * cleared), a page of a quantum never written is SIGBUS, and trimming afterwards gives every page back.
 * Checked against a plain array model, with a small qset so the list has many nodes.
 */
import { MAP_SHARED, O_RDWR, O_WRONLY, PAGE_SIZE, PROT_READ, SEEK_SET, SignalError } from "@faultline/kernel";
import { useMachine } from "@faultline/testkit/vitest";
import fc from "fast-check";
import { expect, it } from "vitest";
import { SCULLV_IOCTRIM, scullv } from "./index";

const PAGES = 12;
const kit = useMachine();

it("read() and mappings show what write() stored, unwritten quanta are SIGBUS, trim frees everything", async () => {
  const writeArb = fc.record({
    pos: fc.integer({ min: 0, max: PAGES * PAGE_SIZE - 1 }),
    len: fc.integer({ min: 1, max: 3 * PAGE_SIZE }),
    byte: fc.integer({ min: 1, max: 255 }),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(writeArb, { minLength: 1, maxLength: 8 }),
      fc.constantFrom(0, 1, 2),
      fc.constantFrom("modern", "2.6.10" as const),
      async (writes, order, era) => {
        const {
          m,
          p: w,
          drivers: [drv],
        } = await kit.boot({ ramBytes: 16 * 2 ** 20, era, drivers: [scullv({ order, qset: 2 })] });
        const quantum = PAGE_SIZE << order;
        const model = new Uint8Array((PAGES + 4) * PAGE_SIZE);
        const quanta = new Set<number>();
        let size = 0;
        const free0 = m.mem.nrFreePages;
        const fd = w.libc.open("/dev/scullv0", O_WRONLY);
        for (const { pos, len, byte } of writes) {
          w.libc.lseek(fd, pos, SEEK_SET);
          let done = 0;
          while (done < len) done += w.libc.write(fd, new Uint8Array(len - done).fill(byte));
          model.fill(byte, pos, pos + len);
          for (let q = Math.floor(pos / quantum); q * quantum < pos + len; q++) quanta.add(q);
          size = Math.max(size, pos + len);
        }
        const dev = drv.devices[0]!;
        expect(dev.size).toBe(size);
        m.checkInvariants();
        // read(): from each quantum's start, one call returns the rest of the quantum (up to the size);
        // a quantum never written reads as end of file.
        const rfd = w.libc.open("/dev/scullv0", O_RDWR);
        for (let q = 0; q * quantum < size; q++) {
          w.libc.lseek(rfd, q * quantum, SEEK_SET);
          const want = quanta.has(q) ? model.subarray(q * quantum, Math.min(size, (q + 1) * quantum)) : [];
          expect(w.libc.read(rfd, 2 * quantum)).toEqual(Uint8Array.from(want));
        }
        w.libc.close(rfd);
        const pages = Math.ceil(size / PAGE_SIZE);
        for (let pg = 0; pg < pages; pg++) {
          const p = m.spawn();
          const mfd = p.libc.open("/dev/scullv0", O_RDWR);
          const a = p.libc.mmap(0, pages * PAGE_SIZE, PROT_READ, MAP_SHARED, mfd, 0);
          if (quanta.has(Math.floor((pg * PAGE_SIZE) / quantum))) {
            expect(p.mmu.read(a + pg * PAGE_SIZE, PAGE_SIZE)).toEqual(
              model.subarray(pg * PAGE_SIZE, (pg + 1) * PAGE_SIZE),
            );
            m.checkInvariants();
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
        expect(dev.vmas).toBe(0);
        m.checkInvariants();
        expect(w.sys.ioctl(fd, SCULLV_IOCTRIM)).toBe(0);
        expect(m.mem.nrFreePages).toBe(free0);
        m.checkInvariants();
        kit.verify(); // each run on its own: a failure here is shrunk like any other
      },
    ),
    { numRuns: 40 },
  );
});
