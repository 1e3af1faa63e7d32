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
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fds[256], nfds;

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
    } else printf("?\n");
  }
  return 0;
}
