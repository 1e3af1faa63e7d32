// Two workers share memory every shmem way (issue 12 §2): a tmpfs file by its path, a memfd through
// the fd fork copies, a SysV segment by its key. The parent also maps past the file's end and
// catches the SIGBUS, then goes on. Exit codes say what went wrong (0: everything as on Linux).
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
const KEY = 0x5eed;
const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;

export default defineProgram(
  (sys, mmu) => {
    // A tmpfs file of one page, mapped two pages: the second is past EOF.
    const fd = sys.open("/dev/shm/story", O_RDWR | O_CREAT, 0o600);
    if (fd < 0) return 10;
    if (sys.call("ftruncate", fd, PAGE) !== 0) return 11;
    const file = sys.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0);
    mmu.store32(file, 0x11111111);
    const mfd = sys.call("memfd_create", "story", 0) as number;
    if (mfd < 0) return 12;
    if (sys.call("ftruncate", mfd, PAGE) !== 0) return 13;
    const memfd = sys.mmap(0, PAGE, RW, MAP_SHARED, mfd, 0);
    mmu.store32(memfd, 0x22222222);
    const id = sys.call("shmget", KEY, PAGE, IPC_CREAT | 0o600) as number;
    if (id < 0) return 14;
    const seg = sys.call("shmat", id, 0, 0) as number;
    if (seg < 0) return 15;
    mmu.store32(seg, 0x33333333);
    // SIGBUS past EOF, caught: the process goes on.
    let caught = 0;
    sys.sigaction(SIGBUS, { handler: (i) => (caught = i.addr) });
    try {
      mmu.load8(file + PAGE);
      return 16;
    } catch (e) {
      if (!SignalError.is(e) || !e.handled) return 17;
    }
    if (caught !== file + PAGE) return 18;
    const child = sys.fork([memfd, mfd]);
    if (child < 0) return 19;
    if (sys.waitpid(child) !== child || sys.lastWaitStatus !== 0) return 20 + (sys.lastWaitStatus >> 8);
    // The child's stores, through its own mappings of the three objects.
    if (mmu.load32(file + 4) !== 0x44444444) return 40;
    if (mmu.load32(memfd + 4) !== 0x55555555) return 41;
    if (mmu.load32(seg + 4) !== 0x66666666) return 42;
    const back = sys.call("pread64", fd, 4, 4) as Uint8Array;
    if (
      !(back instanceof Uint8Array) ||
      new DataView(back.buffer, back.byteOffset).getUint32(0, true) !== 0x44444444
    )
      return 43;
    if (sys.call("shmdt", seg) !== 0 || sys.call("shmctl", id, 0) !== 0) return 44;
    return 0;
  },
  (sys, mmu) => {
    const [parentMemfd, mfd] = sys.forkTag as [number, number];
    // The tmpfs file by name, in this worker.
    const fd = sys.open("/dev/shm/story", O_RDWR, 0);
    if (fd < 0) return 1;
    const file = sys.mmap(0, PAGE, RW, MAP_SHARED, fd, 0);
    if (mmu.load32(file) !== 0x11111111) return 2;
    mmu.store32(file + 4, 0x44444444);
    // The memfd: the inherited mapping and a new one through the inherited fd.
    if (mmu.load32(parentMemfd) !== 0x22222222) return 3;
    const mine = sys.mmap(0, PAGE, RW, MAP_SHARED, mfd, 0);
    mmu.store32(mine + 4, 0x55555555);
    // The SysV segment by its key.
    const id = sys.call("shmget", KEY, PAGE, 0) as number;
    const seg = sys.call("shmat", id, 0, 0) as number;
    if (seg < 0 || mmu.load32(seg) !== 0x33333333) return 4;
    mmu.store32(seg + 4, 0x66666666);
    return 0;
  },
);
