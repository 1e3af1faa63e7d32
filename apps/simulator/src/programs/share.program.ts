// LDD3's /dev/simplen on ISA memory: two processes share the device's pages (nopage serves each
// page, with get_page), and a private mapping gets copy-on-write pages of its own.
import { defineProgram } from "@faultline/sim";
import { hex, MAP_PRIVATE, MAP_SHARED, openDevice, PAGE, RW, say } from "./lib";

export default defineProgram(
  (sys, mmu, argv) => {
    const isa = Number(argv[0] ?? 0xd0000);
    const fd = openDevice(sys, "/dev/simplen");
    const addr = sys.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, isa);
    say(sys, `mmap /dev/simplen MAP_SHARED offset ${hex(isa)} (ISA memory) -> ${hex(addr)}`);
    mmu.store32(addr, 0xcafe0001);
    say(sys, `stored 0xcafe0001 at ${hex(addr)}; forking`);
    const child = sys.fork({ addr });
    sys.waitpid(child);
    say(
      sys,
      `after the child: second page reads ${hex(mmu.load32(addr + PAGE))} (the child's store, same device page)`,
    );
    const priv = sys.mmap(0, PAGE, RW, MAP_PRIVATE, fd, isa);
    say(sys, `mmap /dev/simplen MAP_PRIVATE -> ${hex(priv)} reads ${hex(mmu.load32(priv))}`);
    mmu.store32(priv, 0x1234);
    say(
      sys,
      `wrote 0x1234 to the private mapping: it reads ${hex(mmu.load32(priv))}, the device still ${hex(mmu.load32(addr))} (copy-on-write)`,
    );
    return 0;
  },
  (sys, mmu) => {
    const { addr } = sys.forkTag as { addr: number };
    say(sys, `child reads ${hex(mmu.load32(addr))} at ${hex(addr)}: the parent's store, shared`);
    mmu.store32(addr + PAGE, 0xbeef0002);
    say(sys, `child stored 0xbeef0002 in the second page`);
    return 0;
  },
  undefined,
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
