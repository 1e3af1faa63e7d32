// Two processes share memory the three shmem ways: a tmpfs file by its path, a memfd through the fd
// fork copies, a SysV segment by its key. The parent also touches its file mapping past the end of
// the file: SIGBUS, caught by a handler, and it goes on.
import {
  defineProgram,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
  SignalError,
} from "@faultline/sim";

const O_CREAT = 0o100;
const IPC_CREAT = 0o1000;
const IPC_RMID = 0;
const KEY = 0x5eed;
const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;

export default defineProgram(
  (sys, mmu) => {
    const fd = sys.open("/dev/shm/story", O_RDWR | O_CREAT, 0o600);
    sys.call("ftruncate", fd, PAGE);
    const file = sys.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0); // one page of file, two of mapping
    const mfd = sys.call("memfd_create", "story", 0) as number;
    sys.call("ftruncate", mfd, PAGE);
    const memfd = sys.mmap(0, PAGE, RW, MAP_SHARED, mfd, 0);
    const id = sys.call("shmget", KEY, PAGE, IPC_CREAT | 0o600) as number;
    const seg = sys.call("shmat", id, 0, 0) as number;
    mmu.store32(file, 1);
    mmu.store32(memfd, 2);
    mmu.store32(seg, 3);

    sys.sigaction(SIGBUS, { handler: (info) => console.log(`SIGBUS at 0x${info.addr.toString(16)}`) });
    try {
      mmu.load8(file + PAGE); // past the end of the file
    } catch (e) {
      if (!SignalError.is(e) || !e.handled) throw e;
    }

    const child = sys.fork();
    sys.waitpid(child);
    const sum = mmu.load32(file + 4) + mmu.load32(memfd + 4) + mmu.load32(seg + 4);
    sys.call("shmdt", seg);
    sys.call("shmctl", id, IPC_RMID);
    return sum === 10 + 20 + 30 ? 0 : 1;
  },
  (sys, mmu) => {
    // A new worker: the file by name, the memfd by the inherited fd (3 is the tmpfs file), the segment by key.
    const file = sys.mmap(0, PAGE, RW, MAP_SHARED, sys.open("/dev/shm/story", O_RDWR, 0), 0);
    const memfd = sys.mmap(0, PAGE, RW, MAP_SHARED, 4, 0);
    const seg = sys.call("shmat", sys.call("shmget", KEY, PAGE, 0) as number, 0, 0) as number;
    mmu.store32(file + 4, mmu.load32(file) * 10);
    mmu.store32(memfd + 4, mmu.load32(memfd) * 10);
    mmu.store32(seg + 4, mmu.load32(seg) * 10);
    return 0;
  },
);
