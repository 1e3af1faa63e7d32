/*
 * tmpfs oracle: in a private mount namespace with fresh tmpfs mounts on /dev/shm and /tmp, runs a
 * script of file syscalls and prints one line per op; tmpfs.live.test.ts runs the same script on
 * Faultline and compares. Script lines (numbers in C syntax; fds are remembered as #0, #1, … in order):
 *   open <path> <flags> <mode>   → "fd" or -ERRNO (failed opens take a slot too)
 *   close|fsync|fstat|getdents <n>,  read <n> <count>, write <n> <count> ('x' bytes),
 *   pread <n> <count> <off>, pwrite <n> <count> <off>, lseek <n> <off> <whence>,
 *   ftruncate <n> <len>, fallocate <n> <mode> <off> <len>,
 *   mkdir <path> <mode>, rmdir|unlink|stat <path>, truncate <path> <len>, rename <old> <new>
 * stat/fstat print "mode 0… nlink … size … blocks …", getdents the names in order.
 * memfd: memfd <name> <flags> and dup <n> take fd slots ("fd"), fcntl <n> <cmd> <arg> prints the result,
 * peek <n> <off> the byte pread finds there ("eof" past the end); mmap <n> <len> <prot> <flags> <off>
 * takes a mapping slot ("map"; the address is the kernel's choice, not printed), mstore|mload <m> <off>
 * [<byte>] store or load a byte through it (a fault prints SIGSEGV/SIGBUS and its code), mname <m>
 * the name /proc/self/maps shows for it, munmap <m> <len>. childopen <fd> <flags>: a forked child opens
 * /proc/<parent>/fd/<fd> and closes it; prints "fd" or the child's -ERRNO.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fds[256], nfds;
static unsigned char *maps[256];
static int nmaps;
static sigjmp_buf jb;
static volatile int fsig, fcode;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  fsig = sig;
  fcode = si->si_code;
  siglongjmp(jb, 1);
}

static void res(long r) {
  if (r < 0) printf("-%s\n", strerrorname_np(errno));
  else printf("%ld\n", r);
}

static void st(int r, struct stat *s) {
  if (r < 0) printf("-%s\n", strerrorname_np(errno));
  else printf("mode 0%o nlink %lu size %lld blocks %lld\n", s->st_mode, (unsigned long)s->st_nlink, (long long)s->st_size, (long long)s->st_blocks);
}

int main(void) {
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL) != 0 || mount("tmpfs", "/tmp", "tmpfs", 0, NULL) != 0) {
    fprintf(stderr, "no private tmpfs mounts: %s\n", strerror(errno));
    return 3;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  char line[512], op[16], a[256], b[256];
  static char buf[1 << 20];
  memset(buf, 'x', sizeof buf);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (sscanf(line, "%15s %255s %255s", op, a, b) < 1) continue;
    long x = strtol(a, NULL, 0), y = strtol(b, NULL, 0), z = 0, w = 0;
    sscanf(line, "%*s %*s %*s %li %li", &z, &w);
    int fd = x >= 0 && x < nfds ? fds[x] : -1;
    struct stat s;
    printf("%s = ", line);
    errno = 0;
    if (!strcmp(op, "open")) {
      int r = open(a, (int)y, (int)z);
      if (nfds < 256) fds[nfds++] = r;
      if (r < 0) res(-1); else printf("fd\n");
    } else if (!strcmp(op, "close")) res(close(fd));
    else if (!strcmp(op, "fsync")) res(fsync(fd));
    else if (!strcmp(op, "fstat")) st(fstat(fd, &s), &s);
    else if (!strcmp(op, "stat")) st(stat(a, &s), &s);
    else if (!strcmp(op, "read")) res(read(fd, buf, (size_t)y));
    else if (!strcmp(op, "write")) res(write(fd, buf, (size_t)y));
    else if (!strcmp(op, "pread")) res(pread(fd, buf, (size_t)y, z));
    else if (!strcmp(op, "pwrite")) res(pwrite(fd, buf, (size_t)y, z));
    else if (!strcmp(op, "lseek")) res(lseek(fd, y, (int)z));
    else if (!strcmp(op, "ftruncate")) res(ftruncate(fd, y));
    else if (!strcmp(op, "fallocate")) res(fallocate(fd, (int)y, z, w));
    else if (!strcmp(op, "mkdir")) res(mkdir(a, (mode_t)y));
    else if (!strcmp(op, "rmdir")) res(rmdir(a));
    else if (!strcmp(op, "unlink")) res(unlink(a));
    else if (!strcmp(op, "truncate")) res(truncate(a, y));
    else if (!strcmp(op, "rename")) res(rename(a, b));
    else if (!strcmp(op, "getdents")) {
      char d[4096];
      long n = syscall(SYS_getdents64, fd, d, sizeof d);
      if (n < 0) { res(-1); continue; }
      for (long off = 0; off < n;) {
        struct dirent64 *e = (struct dirent64 *)(d + off);
        printf("%s%s", off ? " " : "", e->d_name);
        off += e->d_reclen;
      }
      printf("\n");
    } else if (!strcmp(op, "memfd")) {
      int r = (int)syscall(SYS_memfd_create, a, (unsigned)y);
      if (nfds < 256) fds[nfds++] = r;
      if (r < 0) res(-1); else printf("fd\n");
    } else if (!strcmp(op, "dup")) {
      int r = dup(fd);
      if (nfds < 256) fds[nfds++] = r;
      if (r < 0) res(-1); else printf("fd\n");
    } else if (!strcmp(op, "fcntl")) res(fcntl(fd, (int)y, (int)z));
    else if (!strcmp(op, "peek")) {
      unsigned char c;
      long n = pread(fd, &c, 1, y);
      if (n < 0) res(-1); else if (n == 0) printf("eof\n"); else printf("0x%x\n", c);
    } else if (!strcmp(op, "mmap")) {
      long off = 0;
      sscanf(line, "%*s %*s %*s %*s %*s %li", &off);
      void *m = mmap(NULL, (size_t)y, (int)z, (int)w, fd, off);
      if (nmaps < 256) maps[nmaps++] = m == MAP_FAILED ? NULL : m;
      if (m == MAP_FAILED) res(-1); else printf("map\n");
    } else if (!strcmp(op, "munmap")) res(x >= 0 && x < nmaps ? munmap(maps[x], (size_t)y) : -1);
    else if (!strcmp(op, "mstore") || !strcmp(op, "mload")) {
      volatile unsigned char *m = x >= 0 && x < nmaps && maps[x] ? maps[x] + y : NULL;
      if (!m) { printf("nomap\n"); continue; }
      if (sigsetjmp(jb, 1) == 0) {
        if (op[1] == 's') { *m = (unsigned char)z; printf("0\n"); }
        else printf("0x%x\n", *m);
      } else printf("%s %d\n", fsig == SIGBUS ? "SIGBUS" : "SIGSEGV", fcode);
    } else if (!strcmp(op, "childopen")) {
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/fd/%ld", (int)getpid(), x);
      fflush(stdout);
      pid_t pid = fork();
      if (pid == 0) {
        int r = open(path, (int)y);
        _exit(r < 0 ? errno : close(r) == 0 ? 0 : 255);
      }
      int status = 0;
      waitpid(pid, &status, 0);
      int e = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
      if (e == 0) printf("fd\n");
      else if (e == 255) printf("?\n");
      else printf("-%s\n", strerrorname_np(e));
    } else if (!strcmp(op, "mname")) {
      FILE *f = fopen("/proc/self/maps", "r");
      char l[512], *name = NULL;
      uintptr_t want = x >= 0 && x < nmaps ? (uintptr_t)maps[x] : 0;
      while (f && fgets(l, sizeof l, f)) {
        if (strtoull(l, NULL, 16) != want) continue;
        l[strcspn(l, "\n")] = 0;
        name = strchr(l, '/');
        break;
      }
      printf("%s\n", name ? name : "-");
      if (f) fclose(f);
    } else printf("?\n");
  }
  return 0;
}
