// Native Linux first-touch page faults on this machine, the baseline of Faultline's fault figures
// (packages/mm/bench/mm.bench.ts builds it with the system compiler and runs it between its own rounds).
//   cc -O2 -o native-fault native-fault.c && ./native-fault [rounds] [pages]  -> one JSON line
// Each sample maps `pages` fresh 4 KiB pages, touches each once and divides the time by the page
// count. THP is disabled on the range (MADV_NOHUGEPAGE) so every fault is a 4 KiB one. Reported per
// kind: the median and the minimum over rounds, the minor faults per page (1.0 = one fault per page
// as timed) and the resident pages a touch left per page (1.0 = the read allocated a page: a host
// without a shared zero page for this mapping, or with it disabled).
//   anon_write    private anonymous, write: do_anonymous_page allocates and zeroes a page
//   anon_read     private anonymous, read: maps the zero page where the host has one
//   devzero_read  private mapping of /dev/zero, read: the same anonymous VMA, reached through a file
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

// Thread CPU time, not wall-clock time: on a loaded 2-core machine a wall-clock sample mostly measures
// how long the thread waited for a core. The Faultline side of the bench uses CPU time too.
static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static long minflt(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

static long resident_pages(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  if (f) fclose(f);
  return resident;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

enum { ANON_WRITE, ANON_READ, DEVZERO_READ, KINDS };
static const char *names[KINDS] = {"anon_write", "anon_read", "devzero_read"};

static double sample(int kind, long pages, double *faults, double *resident) {
  size_t len = (size_t)pages * 4096;
  int fd = -1;
  if (kind == DEVZERO_READ) fd = open("/dev/zero", O_RDONLY);
  volatile unsigned char *p =
      mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  madvise((void *)p, len, MADV_NOHUGEPAGE);
  long f0 = minflt(), r0 = resident_pages();
  unsigned sink = 0;
  double t0 = now_ns();
  if (kind == ANON_WRITE)
    for (long i = 0; i < pages; i++) p[(size_t)i * 4096] = (unsigned char)i;
  else
    for (long i = 0; i < pages; i++) sink += p[(size_t)i * 4096];
  double ns = (now_ns() - t0) / pages;
  *faults = (double)(minflt() - f0) / pages;
  *resident = (double)(resident_pages() - r0) / pages;
  munmap((void *)p, len);
  if (fd >= 0) close(fd);
  if (sink == 0xdeadbeef) puts("");
  return ns;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 9;
  long pages = argc > 2 ? atol(argv[2]) : 2048;
  if (rounds < 1 || rounds > 1000 || pages < 1) return 2;
  double *v[KINDS], fl[KINDS] = {0}, res[KINDS] = {0};
  for (int k = 0; k < KINDS; k++) v[k] = calloc(rounds, sizeof(double));
  for (int r = 0; r < rounds + 1; r++)
    for (int k = 0; k < KINDS; k++) {
      double f, rs, ns = sample(k, pages, &f, &rs);
      if (r == 0) continue; // warm-up round
      v[k][r - 1] = ns;
      fl[k] += f / rounds;
      res[k] += rs / rounds;
    }
  printf("{");
  for (int k = 0; k < KINDS; k++) {
    qsort(v[k], rounds, sizeof(double), cmp);
    printf("%s\"%s\":{\"median\":%.1f,\"min\":%.1f,\"faultsPerPage\":%.2f,\"residentPerPage\":%.2f}",
           k ? "," : "", names[k], v[k][rounds / 2], v[k][0], fl[k], res[k]);
  }
  printf("}\n");
  return 0;
}
