// tmpfs file syscalls against the live kernel (issue 12 §2): __fixtures__/fs-oracle.c runs a script on
// fresh tmpfs mounts of /dev/shm and /tmp in a private mount namespace; the same script on Faultline
// must print the same lines (results, errno, stat's mode/nlink/size/blocks, getdents order). Skipped,
// with the reason in its title, without a C compiler, Linux x86-64, or the right to mount.
import { describe, expect, it } from "vitest";
import { compileFsOracle, runFsOnFaultline, runFsOnLinux } from "./__fixtures__/fs-runner";

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o200000;
const o = (n: number) => `0${n.toString(8)}`;
const D = "/dev/shm/d";

const SCRIPT = [
  `mkdir ${D} 0755`,
  `mkdir ${D} 0755`,
  `mkdir ${D}/x/y 0755`,
  `mkdir ${D}/. 0755`,
  `mkdir /dev/shm 0755`,
  `open ${D}/a ${o(O_RDWR)} 0`,
  `open ${D}/a ${o(O_RDWR | O_CREAT)} 0666`,
  `open ${D}/a ${o(O_RDWR | O_CREAT | O_EXCL)} 0666`,
  `open ${D}/a/b ${o(O_RDONLY)} 0`,
  `open ${D}/a/ ${o(O_RDONLY)} 0`,
  `open ${D}/a/ ${o(O_RDONLY | O_CREAT)} 0666`,
  `open ${D}/new/ ${o(O_RDONLY | O_CREAT)} 0666`,
  `open ${D} ${o(O_RDWR)} 0`,
  `open ${D} ${o(O_RDONLY | O_CREAT)} 0666`,
  `open ${D}/zz ${o(O_RDONLY | O_CREAT | O_DIRECTORY)} 0666`,
  `open ${D}/missing/.. ${o(O_RDONLY)} 0`,
  `open ${D}/a/.. ${o(O_RDONLY)} 0`,
  `open ${D} ${o(O_RDONLY | O_DIRECTORY)} 0`,
  "write 1 5000",
  "fstat 1",
  "lseek 1 0 1",
  "lseek 1 -10 2",
  "lseek 1 -6000 1",
  "lseek 1 0 3",
  "lseek 1 4096 4",
  "lseek 1 5000 3",
  "pwrite 1 1 20000",
  "fstat 1",
  "lseek 1 8192 3",
  "lseek 1 6000 4",
  "pread 1 100 19950",
  "pread 1 10 -1",
  "read 11 10",
  "ftruncate 1 -1",
  "ftruncate 11 0",
  "ftruncate 1 100",
  "fstat 1",
  `truncate ${D} 1`,
  `truncate ${D}/a 8193`,
  `stat ${D}/a`,
  "fallocate 1 0 0 0",
  "fallocate 1 2 0 1",
  "fallocate 1 16 0 1",
  "fallocate 1 0 0 12288",
  "fallocate 1 1 0 40960",
  `stat ${D}/a`,
  "fallocate 1 3 100 8192",
  `stat ${D}/a`,
  "fallocate 11 0 0 1",
  "fsync 1",
  "fsync 11",
  `open ${D}/b ${o(O_WRONLY | O_CREAT | O_APPEND)} 0600`,
  "write 18 10",
  "lseek 18 0 0",
  "write 18 10",
  "fstat 18",
  "read 18 1",
  `open ${D}/b ${o(O_RDONLY | O_TRUNC)} 0`,
  "fstat 18",
  `mkdir ${D}/c 0700`,
  `stat ${D}`,
  "getdents 11",
  "getdents 11",
  `rmdir ${D}`,
  `rmdir ${D}/a`,
  `rmdir ${D}/c/.`,
  `rmdir ${D}/c/..`,
  `rmdir /dev/shm`,
  `unlink ${D}`,
  `unlink ${D}/a/`,
  `unlink ${D}/c/.`,
  `rename ${D} ${D}/sub`,
  `rename ${D}/a /tmp/a`,
  `rename ${D}/a ${D}/c`,
  `rename ${D}/c ${D}/a`,
  `rename ${D}/a/ ${D}/e`,
  `rename ${D}/b ${D}/a`,
  `rename ${D}/c ${D}/f`,
  `stat ${D}/b`,
  `stat ${D}`,
  "fstat 1",
  `open ${D} ${o(O_RDONLY)} 0`,
  "getdents 82",
  `unlink ${D}/a`,
  "fstat 1",
  `rmdir ${D}/f`,
  `rmdir ${D}`,
  `stat /dev/shm`,
];

const { bin, why } = compileFsOracle();

describe("tmpfs: Faultline prints what the live kernel prints", () => {
  it.skipIf(bin === null)(
    `the file script's transcript matches${bin ? "" : ` [SKIPPED: ${why}]`}`,
    async () => {
      const linux = runFsOnLinux(bin!, SCRIPT);
      const faultline = await runFsOnFaultline(SCRIPT);
      const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd()).join("\n");
      expect(trim(faultline)).toBe(trim(linux));
    },
  );
});
