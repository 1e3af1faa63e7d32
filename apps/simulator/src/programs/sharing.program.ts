// The sharing scenario: a process and its forked child share memory the three shmem ways Linux offers
// besides MAP_SHARED|MAP_ANONYMOUS: a tmpfs file in /dev/shm (found by its path), a memfd (through the
// fd fork copies) and a SysV segment (found by its key). The parent's mapping of the file is a page
// longer than the file: a load there is SIGBUS (BUS_ADRERR), which its handler catches; the parent
// goes on, grows the file, and the same load reads zeros.
import { defineProgram, MAP_SHARED, O_RDWR, SIGBUS, SignalError } from "@faultline/sim";
import { hex, PAGE, RW, readFile, say, show } from "./lib";

const O_CREAT = 0o100;
const IPC_CREAT = 0o1000;
const IPC_RMID = 0;
const KEY = 0x5eed;
const FILE = "/dev/shm/sharing";

/** A syscall that must work: its result, or the program fails saying which call and why. */
function must(what: string, r: unknown): number {
  if (typeof r !== "number" || r < 0) throw new Error(`${what}: ${typeof r === "number" ? show(r) : r}`);
  return r;
}

export default defineProgram(
  (sys, mmu) => {
    const fd = must("open", sys.open(FILE, O_RDWR | O_CREAT, 0o600));
    must("ftruncate", sys.call("ftruncate", fd, PAGE));
    const file = must("mmap", sys.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0));
    say(sys, `${FILE}: one page of file, mapped two pages long at ${hex(file)}`);
    const mfd = must("memfd_create", sys.call("memfd_create", "sharing", 0));
    must("ftruncate", sys.call("ftruncate", mfd, PAGE));
    const memfd = must("mmap", sys.mmap(0, PAGE, RW, MAP_SHARED, mfd, 0));
    say(sys, `memfd_create("sharing") = fd ${mfd}, mapped at ${hex(memfd)}`);
    const id = must("shmget", sys.call("shmget", KEY, PAGE, IPC_CREAT | 0o600));
    const seg = must("shmat", sys.call("shmat", id, 0, 0));
    say(sys, `shmget(${hex(KEY)}) = id ${id}, attached at ${hex(seg)}`);
    mmu.store32(file, 1);
    mmu.store32(memfd, 2);
    mmu.store32(seg, 3);
    say(sys, "stored 1 in the file, 2 in the memfd, 3 in the segment; forking");

    const child = sys.fork({ mfd });
    sys.waitpid(child);
    const answers = [mmu.load32(file + 4), mmu.load32(memfd + 4), mmu.load32(seg + 4)];
    say(sys, `the child's answers: file ${answers[0]}, memfd ${answers[1]}, segment ${answers[2]}`);

    let caught = 0;
    sys.sigaction(SIGBUS, {
      handler: (info) => {
        caught++;
        say(sys, `  SIGBUS caught: code ${info.code} (BUS_ADRERR), address ${hex(info.addr)}`);
      },
    });
    say(sys, `loading ${hex(file + PAGE)}, past the end of the file...`);
    try {
      mmu.load8(file + PAGE);
      say(sys, "  no fault (not what Linux does)");
    } catch (e) {
      if (!SignalError.is(e) || !e.handled) throw e;
      say(sys, "  the handler returned: going on");
    }
    must("ftruncate", sys.call("ftruncate", fd, 2 * PAGE));
    say(sys, `ftruncate to two pages: the same load reads ${hex(mmu.load8(file + PAGE))}`);

    const shm = readFile(sys, "/proc/sysvipc/shm").split("\n");
    say(
      sys,
      `/proc/sysvipc/shm: ${shm.length > 1 ? shm[1]!.trim().split(/\s+/).slice(0, 7).join(" ") : "?"}`,
    );
    must("shmdt", sys.call("shmdt", seg));
    must("shmctl", sys.call("shmctl", id, IPC_RMID));
    return answers.join() === "10,20,30" && caught === 1 ? 0 : 1;
  },
  (sys, mmu) => {
    // A new worker: the file by its name, the memfd by the fd the fork copied, the segment by its key.
    const { mfd } = sys.forkTag as { mfd: number };
    const fd = must("open", sys.open(FILE, O_RDWR, 0));
    const file = must("mmap", sys.mmap(0, PAGE, RW, MAP_SHARED, fd, 0));
    const memfd = must("mmap", sys.mmap(0, PAGE, RW, MAP_SHARED, mfd, 0));
    const seg = must("shmat", sys.call("shmat", must("shmget", sys.call("shmget", KEY, PAGE, 0)), 0, 0));
    say(
      sys,
      `child: its own mappings read file ${mmu.load32(file)}, memfd ${mmu.load32(memfd)}, segment ${mmu.load32(seg)}; answering ten times each`,
    );
    mmu.store32(file + 4, mmu.load32(file) * 10);
    mmu.store32(memfd + 4, mmu.load32(memfd) * 10);
    mmu.store32(seg + 4, mmu.load32(seg) * 10);
    return 0;
  },
  undefined,
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
