/*
 * Minimal static PID 1 for the pku-qemu initramfs.
 *
 * Serial ports (set up by run-oracle.sh):
 *   ttyS0 = kernel console + info marker lines (goes to a host log file)
 *   ttyS1 = oracle stdout only, framed by ===ORACLE-BEGIN=== / ===ORACLE-END===
 *   ttyS2 = oracle stderr only
 * ttyS1/ttyS2 are put in raw mode so bytes arrive unmodified (no \n -> \r\n).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void say(const char *fmt, const char *a) {
  /* console lines; leading \n so a half-printed kernel line can't glue onto ours */
  dprintf(2, "\n");
  dprintf(2, fmt, a);
  dprintf(2, "\n");
}

static int open_raw(const char *path) {
  int fd = open(path, O_RDWR | O_NOCTTY);
  if (fd < 0) return -1;
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    tcsetattr(fd, TCSANOW, &t);
  }
  return fd;
}

static int has_word(const char *line, const char *w) {
  size_t n = strlen(w);
  for (const char *p = line; (p = strstr(p, w)) != NULL; p += n) {
    int before = (p == line) || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':';
    int after = p[n] == ' ' || p[n] == '\n' || p[n] == '\0';
    if (before && after) return 1;
  }
  return 0;
}

static void off(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

int main(void) {
  mkdir("/dev", 0755);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int c = open("/dev/console", O_RDWR | O_NOCTTY);
  if (c >= 0) { dup2(c, 0); dup2(c, 1); dup2(c, 2); if (c > 2) close(c); }
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/tmp", 01777);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("tmpfs", "/tmp", "tmpfs", 0, NULL);

  struct utsname u;
  if (uname(&u) == 0) say("===PKU-QEMU-UNAME=== %s", u.release);

  int pku = 0, ospke = 0;
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char *line = NULL; size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
      if (strncmp(line, "flags", 5) == 0) { pku = has_word(line, "pku"); ospke = has_word(line, "ospke"); break; }
    }
    free(line); fclose(f);
  }
  char buf[64];
  snprintf(buf, sizeof buf, "pku=%d ospke=%d", pku, ospke);
  say("===PKU-QEMU-CPU=== %s", buf);

  int out = open_raw("/dev/ttyS1");
  int err = open_raw("/dev/ttyS2");
  if (out < 0) { say("===PKU-QEMU-ERROR=== cannot open %s", "/dev/ttyS1"); off(); }
  if (err < 0) err = 2;

  dprintf(out, "===ORACLE-BEGIN===\n");
  pid_t pid = fork();
  if (pid == 0) {
    int in = open("/script.txt", O_RDONLY);
    if (in < 0) { dprintf(err, "init: cannot open /script.txt: %s\n", strerror(errno)); _exit(127); }
    dup2(in, 0); dup2(out, 1); dup2(err, 2);
    if (in > 2) close(in);
    if (out > 2) close(out);
    if (err > 2) close(err);
    execl("/oracle", "oracle", (char *)NULL);
    dprintf(2, "init: exec /oracle: %s\n", strerror(errno));
    _exit(127);
  }
  int st = 0;
  while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  dprintf(out, "===ORACLE-END===\n");
  tcdrain(out);
  if (err != 2) tcdrain(err);
  if (pid < 0) snprintf(buf, sizeof buf, "fork-failed");
  else if (WIFEXITED(st)) snprintf(buf, sizeof buf, "exit=%d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "signal=%d", WTERMSIG(st));
  else snprintf(buf, sizeof buf, "status=%d", st);
  say("===PKU-QEMU-STATUS=== %s", buf);
  off();
}
