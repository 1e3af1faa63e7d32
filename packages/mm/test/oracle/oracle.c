/*
 * Faultline differential-test oracle: runs a memory-management script against the
 * real Linux kernel and prints one transcript line per operation.
 *
 * Build:  cc -O1 -o oracle oracle.c
 * Usage:  ./oracle < script.txt
 *
 * Script (one op per line, numbers in C syntax: 0x.. hex or decimal; '#' starts a comment):
 *   arena <base> <size>                  header; must come before the first op
 *   mmap <addr> <len> <prot> <flags> [<offset>]     anonymous, fd = -1
 *   munmap <addr> <len>
 *   mremap <old> <oldlen> <newlen> <flags> [<new>]
 *   mprotect <addr> <len> <prot>
 *   madvise <addr> <len> <advice>
 *   load8|load16|load32|load64 <addr>
 *   store8|store16|store32|store64 <addr> <value>
 *   maps
 *   rss                                  Rss and Anonymous kB of the arena's VMAs (smaps)
 *   pkey_alloc <flags> <init>            pkey_alloc(2)
 *   pkey_free <pkey>                     pkey_free(2)
 *   pkey_mprotect <addr> <len> <prot> <pkey>
 *   pkey_get <key>                       glibc pkey_get (RDPKRU); -ENOSYS without OSPKE
 *   pkey_set <key> <rights>              glibc pkey_set (WRPKRU); -ENOSYS without OSPKE
 *   mlock <addr> <len>                   mlock(2)
 *   munlock <addr> <len>                 munlock(2)
 *   fork ... end                         child runs the enclosed ops, then exits; the parent's
 *                                        waitpid prints "exit <code>", "killed <SIG>", "-ECHILD"
 *                                        (reaped at exit: SIGCHLD ignored, SA_NOCLDWAIT) or
 *                                        "stopped <SIG>" (then the child is killed)
 *   memfd <size>                         memfd_create("oracle", MFD_ALLOW_SEALING) + ftruncate:
 *                                        the file's slot (0, 1, ...; fds are inherited by fork)
 *   mmapfd <addr> <len> <prot> <flags> <slot> <offset>   mmap of a memfd
 *   ftruncate <slot> <size>
 *   fallocate <slot> <mode> <offset> <len>
 *   pwrite <slot> <offset> <byte> <len>  writes len copies of byte: the count
 *   pread <slot> <offset>                reads up to 8 bytes: "read 0x<count> 0x<value, LE>"
 *   seal <slot> <seals>                  fcntl(F_ADD_SEALS)
 *   close <slot>                         close(2) of the slot's fd
 *   sigaction <sig> <disp> [<flags> [<mask>]]   rt_sigaction(2): disp 0 SIG_DFL, 1 SIG_IGN, 2 a
 *                                        handler (faults siglongjmp out of it, other signals
 *                                        return); prints the old action "<dfl|ign|catch> <flags>
 *                                        <mask>" (flags without SA_SIGINFO/SA_RESTORER, which the
 *                                        oracle adds for its handler; mask = signals 1..64 as bits)
 *   sigprocmask <how> <set>              rt_sigprocmask(2) with a 64-bit set; prints the old set
 *   kill <sig>                           kill(getpid(), sig)
 *   mincore <addr> <len>                 mincore(2); prints "0 <one digit per page>" (at most 4096 pages)
 *   mlock2 <addr> <len> <flags>          mlock2(2)
 *   mlockall <flags> / munlockall        mlockall(2) / munlockall(2)
 *   getrlimit <res>                      prlimit64(0, res, NULL, &old); prints "<cur> <max>"
 *   setrlimit <res> <cur> <max>          prlimit64(0, res, &new, NULL)
 *   unprivileged                         drops CAP_IPC_LOCK (capset), so RLIMIT_MEMLOCK applies
 *   brk <addr>                           brk(2); prints the break it returns
 *   mseal <addr> <len> <flags>           mseal(2) (Linux 6.10+)
 *   msync <addr> <len> <flags>           msync(2)
 *   exit <code>                          exit_group(2) (in a fork child: its parent's waitpid prints
 *                                        "exit <code>"); prints nothing
 *   vmflags <addr>                       the VmFlags of the VMA holding addr in /proc/self/smaps
 *                                        ("rd wr mr …", or "none")
 * Heap-relative numbers: an argument "H+<n>" or "H-<n>" is start_brk plus or minus n (start_brk from
 * /proc/self/stat: randomised, so scripts name the heap relative to it). Results and maps lines at or
 * above start_brk (within 64 MiB) print the same way, maps lines with their blanks collapsed
 * ("H+0x0-H+0x2000 rw-p 00000000 00:00 0 [heap]"). malloc() is told to use mmap only, so the heap is
 * the script's alone.
 * Signals the oracle's handler caught during an op (not faults) follow its result as
 * " caught SIGUSR1,SIGTERM"; a SIGCHLD the kernel sent shows its siginfo, as
 * "SIGCHLD{CLD_EXITED status=3 pid=child uid=self}" (pid=child: the last child this process forked).
 * A script with signal ops flushes after every op, so a top-level process killed by a signal keeps its
 * transcript (linux.ts then adds "killed <SIG>").
 *
 * Transcript: "<index> <op text> = <result>", maps entries follow their op line as
 * "  <line exactly as in /proc/self/maps>". Ops whose range could touch memory outside
 * the arena (and that the kernel would not reject outright) are not executed and
 * report "= REFUSED".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ULL
#define USER_TOP (1ULL << 47)
#define TASK_SIZE 0x7ffffffff000ULL /* x86-64, 4-level paging */
#define MAP_FIXED_FLAG 0x10ULL
#define MAP_FIXED_NOREPLACE_FLAG 0x100000ULL
#define MREMAP_MAYMOVE_FLAG 1ULL
#define MREMAP_FIXED_FLAG 2ULL
#define MREMAP_DONTUNMAP_FLAG 4ULL

enum kind {
  K_MMAP,
  K_MUNMAP,
  K_MREMAP,
  K_MPROTECT,
  K_MADVISE,
  K_LOAD,
  K_STORE,
  K_MAPS,
  K_FORK,
  K_RSS,
  K_PKEY_ALLOC,
  K_PKEY_FREE,
  K_PKEY_MPROTECT,
  K_PKEY_GET,
  K_PKEY_SET,
  K_MLOCK,
  K_MUNLOCK,
  K_MEMFD,
  K_MMAPFD,
  K_FTRUNCATE,
  K_FALLOCATE,
  K_PWRITE,
  K_PREAD,
  K_SEAL,
  K_CLOSE,
  K_SIGACTION,
  K_SIGPROCMASK,
  K_KILL,
  K_MINCORE,
  K_MLOCK2,
  K_MLOCKALL,
  K_MUNLOCKALL,
  K_GETRLIMIT,
  K_SETRLIMIT,
  K_UNPRIVILEGED,
  K_BRK,
  K_MSEAL,
  K_VMFLAGS,
  K_MSYNC,
  K_EXIT,
};

struct op {
  enum kind kind;
  int width;        /* bytes, for loads/stores */
  int nargs;        /* arguments actually given (for optional ones) */
  uint64_t a[6];    /* raw arguments in script order (heap-relative ones resolved) */
  int64_t rel[6];   /* for a heap-relative argument, its offset from start_brk */
  unsigned relmask; /* bit k: argument k was heap-relative */
  size_t child_end; /* K_FORK: index one past the last child op */
  char text[160];   /* canonical text, echoed in the transcript */
};

static struct op *ops;
static size_t nops, capops;
static uint64_t arena_base, arena_size;
/* memfd slots: slot n is the fd of the n-th memfd the script created (-1 once closed). */
static int slots[64];
static int nslots;

static void die(const char *msg, unsigned long line) {
  fprintf(stderr, "oracle: line %lu: %s\n", line, msg);
  exit(2);
}

/* ---------------------------------------------------------------- errno names */

static const char *errno_name(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case ENXIO: return "ENXIO";
  case E2BIG: return "E2BIG";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV";
  case EINVAL: return "EINVAL";
  case ENFILE: return "ENFILE";
  case EMFILE: return "EMFILE";
  case ETXTBSY: return "ETXTBSY";
  case EFBIG: return "EFBIG";
  case ENOSPC: return "ENOSPC";
  case ESPIPE: return "ESPIPE";
  case EROFS: return "EROFS";
  case ERANGE: return "ERANGE";
  case ENOSYS: return "ENOSYS";
  case EOVERFLOW: return "EOVERFLOW";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EHWPOISON: return "EHWPOISON";
  case ECHILD: return "ECHILD";
  default: return NULL;
  }
}

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGILL: return "SIGILL";
  case SIGFPE: return "SIGFPE";
  case SIGKILL: return "SIGKILL";
  case SIGABRT: return "SIGABRT";
  case SIGUSR1: return "SIGUSR1";
  case SIGUSR2: return "SIGUSR2";
  case SIGTERM: return "SIGTERM";
  case SIGINT: return "SIGINT";
  case SIGHUP: return "SIGHUP";
  case SIGCHLD: return "SIGCHLD";
  default: return NULL;
  }
}

static const char *si_code_name(int sig, int code) {
  if (sig == SIGSEGV) {
    switch (code) {
    case 1: return "SEGV_MAPERR";
    case 2: return "SEGV_ACCERR";
    case 3: return "SEGV_BNDERR";
    case 4: return "SEGV_PKUERR";
    default: break;
    }
  } else if (sig == SIGBUS) {
    switch (code) {
    case 1: return "BUS_ADRALN";
    case 2: return "BUS_ADRERR";
    case 3: return "BUS_OBJERR";
    case 4: return "BUS_MCEERR_AR";
    case 5: return "BUS_MCEERR_AO";
    default: break;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------------- output */

/* -ENAME without the newline (results that may be followed by " caught …"). */
static void print_errno_name(int e) {
  const char *n = errno_name(e);
  if (n)
    printf("-%s", n);
  else
    printf("-E%d", e);
}

static void print_errno(int e) {
  const char *n = errno_name(e);
  if (n)
    printf("-%s\n", n);
  else
    printf("-E%d\n", e);
}

static void print_prefix(const char *idx, const struct op *o) { printf("%s %s = ", idx, o->text); }

/* syscall() returns -1 and sets errno on failure (kernel returns -4095..-1). */
/* The heap: mm->start_brk of this process, and how far above it heap-relative ranges may reach. */
static uint64_t start_brk;
#define HEAP_WINDOW (64ULL << 20)
static int in_heap_window(uint64_t v) { return v >= start_brk && v < start_brk + HEAP_WINDOW; }

static void print_addr_result(long r) {
  if (r == -1)
    print_errno(errno);
  else if (in_heap_window((uint64_t)r))
    printf("H+0x%llx\n", (unsigned long long)((uint64_t)r - start_brk));
  else
    printf("0x%llx\n", (unsigned long long)(unsigned long)r);
}

static void print_zero_result(long r) {
  if (r == -1)
    print_errno(errno);
  else if (r == 0)
    printf("0\n");
  else
    printf("0x%llx\n", (unsigned long long)(unsigned long)r);
}

/* ---------------------------------------------------------------- safety guard */

/* The range [addr, addr+len) rounded out to pages may be touched by the kernel only if
 * it lies inside the arena; ranges that wrap the 64-bit space or start above the user
 * address space are always rejected by the kernel, so they are safe to pass through. */
static int range_ok(uint64_t addr, uint64_t len) {
  uint64_t start = addr & ~(PAGE - 1);
  if (addr >= USER_TOP) return 1;
  if (len > UINT64_MAX - addr - (PAGE - 1)) return 1; /* wraps */
  uint64_t end = (addr + len + PAGE - 1) & ~(PAGE - 1);
  if (start >= start_brk && end <= start_brk + HEAP_WINDOW) return 1;
  return start >= arena_base && end <= arena_base + arena_size;
}

/* mmap and munmap reject ranges ending above TASK_SIZE before touching anything. */
static int beyond_task_size(uint64_t addr, uint64_t len) {
  return len > TASK_SIZE || addr > TASK_SIZE - len;
}

/* The length an anonymous MAP_HUGETLB mmap maps: rounded up to its huge page size (bits 26..31 name
 * its log2, 0 the default 2 MiB); 0 when that wraps or names a size above 1 GiB, which no x86-64
 * hstate has (the kernel then refuses the call). */
static uint64_t mmap_len(uint64_t flags, uint64_t len) {
  if (!(flags & 0x40000ULL)) return len;
  unsigned log = (flags >> 26) & 0x3f;
  if (log > 30) return 0;
  uint64_t size = log ? 1ULL << log : 2ULL << 20;
  if (len > UINT64_MAX - (size - 1)) return 0;
  return (len + size - 1) & ~(size - 1);
}

static int op_safe(const struct op *o) {
  switch (o->kind) {
  case K_MMAP:
    /* Without MAP_FIXED the kernel picks free space (or uses the hint only if free). */
    if (!(o->a[3] & MAP_FIXED_FLAG)) return 1;
    return range_ok(o->a[0], mmap_len(o->a[3], o->a[1])) || beyond_task_size(o->a[0], o->a[1]);
  case K_MUNMAP:
    return range_ok(o->a[0], o->a[1]) || beyond_task_size(o->a[0], o->a[1]);
  case K_MPROTECT:
  case K_PKEY_MPROTECT:
  case K_MADVISE:
  case K_MLOCK:
  case K_MUNLOCK:
  case K_MSEAL:
  case K_MSYNC:
    return range_ok(o->a[0], o->a[1]);
  case K_BRK:
    /* Below start_brk the break stays; past TASK_SIZE it cannot move; else it stays near the heap. */
    return o->a[0] < start_brk || o->a[0] >= TASK_SIZE || o->a[0] <= start_brk + HEAP_WINDOW;
  case K_MMAPFD:
    if (!(o->a[3] & MAP_FIXED_FLAG)) return 1;
    return range_ok(o->a[0], o->a[1]) || beyond_task_size(o->a[0], o->a[1]);
  case K_FALLOCATE:
    return o->a[3] <= (16ULL << 20); /* never allocate much of the host's memory */
  case K_PWRITE:
    return o->a[3] <= (1ULL << 20);
  case K_MREMAP:
    /* The old range is shrunk/unmapped in place; a FIXED destination is unmapped first.
     * Growth (in place or MAYMOVE) only ever takes free address space. */
    if (!range_ok(o->a[0], o->a[1])) return 0;
    if (o->a[3] & MREMAP_FIXED_FLAG) return range_ok(o->nargs > 4 ? o->a[4] : 0, o->a[2]);
    return 1;
  default:
    return 1;
  }
}

/* ---------------------------------------------------------------- faults */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;
static volatile int fault_sig, fault_code;
static volatile uint64_t fault_addr;

/* Signals caught outside a guarded access (kill, an unblocked pending signal), in order; for a
 * SIGCHLD the kernel sent (si_code CLD_*), its siginfo too (printed by print_caught). */
static volatile int caught[64];
static volatile int caught_code[64], caught_status[64];
static volatile pid_t caught_pid[64];
static volatile uid_t caught_uid[64];
static volatile int ncaught;
/* The last child this process forked: a SIGCHLD's si_pid prints as "child" when it is that one. */
static pid_t last_child;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (!fault_armed && sig != SIGSEGV && sig != SIGBUS) {
    if (ncaught < 64) {
      caught_code[ncaught] = si->si_code;
      caught_status[ncaught] = si->si_status;
      caught_pid[ncaught] = si->si_pid;
      caught_uid[ncaught] = si->si_uid;
      caught[ncaught++] = sig;
    }
    return;
  }
  if (!fault_armed) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  fault_sig = sig;
  fault_code = si->si_code;
  fault_addr = (uint64_t)(uintptr_t)si->si_addr;
  siglongjmp(fault_jmp, 1);
}

static void install_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
}

static void print_fault(void) {
  const char *sn = signal_name(fault_sig);
  const char *cn = si_code_name(fault_sig, fault_code);
  if (sn)
    printf("%s", sn);
  else
    printf("SIG%d", fault_sig);
  if (cn)
    printf(" %s", cn);
  else
    printf(" CODE%d", fault_code);
  if (in_heap_window(fault_addr))
    printf(" H+0x%llx\n", (unsigned long long)(fault_addr - start_brk));
  else
    printf(" 0x%llx\n", (unsigned long long)fault_addr);
}

static void do_load(const struct op *o) {
  uint64_t v = 0;
  uintptr_t p = (uintptr_t)o->a[0];
  if (sigsetjmp(fault_jmp, 1) == 0) {
    fault_armed = 1;
    switch (o->width) {
    case 1: v = *(volatile uint8_t *)p; break;
    case 2: v = *(volatile uint16_t *)p; break;
    case 4: v = *(volatile uint32_t *)p; break;
    default: v = *(volatile uint64_t *)p; break;
    }
    fault_armed = 0;
    printf("0x%llx\n", (unsigned long long)v);
  } else {
    fault_armed = 0;
    print_fault();
  }
}

static void do_store(const struct op *o) {
  uintptr_t p = (uintptr_t)o->a[0];
  uint64_t v = o->a[1];
  if (sigsetjmp(fault_jmp, 1) == 0) {
    fault_armed = 1;
    switch (o->width) {
    case 1: *(volatile uint8_t *)p = (uint8_t)v; break;
    case 2: *(volatile uint16_t *)p = (uint16_t)v; break;
    case 4: *(volatile uint32_t *)p = (uint32_t)v; break;
    default: *(volatile uint64_t *)p = v; break;
    }
    fault_armed = 0;
    printf("0\n");
  } else {
    fault_armed = 0;
    print_fault();
  }
}

/* ---------------------------------------------------------------- maps */

static void do_maps(void) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    print_errno(errno);
    return;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) abort();
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      abort();
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);

  /* collect the lines first so the count can be printed on the op line */
  size_t nsel = 0;
  size_t starts[4096], ends[4096];
  size_t pos = 0;
  while (pos < len) {
    size_t eol = pos;
    while (eol < len && buf[eol] != '\n') eol++;
    char *endp;
    unsigned long long s = strtoull(buf + pos, &endp, 16);
    unsigned long long e = (*endp == '-') ? strtoull(endp + 1, NULL, 16) : 0;
    if (((e > arena_base && s < arena_base + arena_size) || (s >= start_brk && s < start_brk + HEAP_WINDOW)) &&
        nsel < 4096) {
      starts[nsel] = pos;
      ends[nsel] = eol;
      nsel++;
    }
    pos = eol + 1;
  }
  printf("%zu\n", nsel);
  for (size_t i = 0; i < nsel; i++) {
    char *line = buf + starts[i];
    int n = (int)(ends[i] - starts[i]);
    unsigned long long s = strtoull(line, NULL, 16);
    if (s < start_brk || s >= start_brk + HEAP_WINDOW) {
      printf("  %.*s\n", n, line);
      continue;
    }
    /* A heap line: addresses relative to start_brk, runs of blanks as one, none at the end. */
    char *dash = memchr(line, '-', (size_t)n);
    unsigned long long e = strtoull(dash + 1, NULL, 16);
    char *rest = memchr(line, ' ', (size_t)n);
    printf("  H+0x%llx-H+0x%llx", s - start_brk, e - start_brk);
    int blank = 0;
    for (char *c = rest; c < line + n; c++) {
      if (*c == ' ') {
        blank = 1;
        continue;
      }
      if (blank) putchar(' ');
      blank = 0;
      putchar(*c);
    }
    putchar('\n');
  }
  free(buf);
}

/* ---------------------------------------------------------------- rss */

/* Sums Rss and Anonymous of /proc/self/smaps over the VMAs intersecting the arena. */
static void do_rss(void) {
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) {
    print_errno(errno);
    return;
  }
  char line[512];
  int in = 0;
  unsigned long long rss = 0, anon = 0, kb;
  while (fgets(line, sizeof line, f)) {
    unsigned long long s, e;
    char c;
    if (sscanf(line, "%llx-%llx %c", &s, &e, &c) == 3 && strchr(line, '-') < strchr(line, ' ')) {
      in = e > arena_base && s < arena_base + arena_size;
      continue;
    }
    if (!in) continue;
    if (sscanf(line, "Rss: %llu kB", &kb) == 1) rss += kb;
    else if (sscanf(line, "Anonymous: %llu kB", &kb) == 1) anon += kb;
  }
  fclose(f);
  printf("rss %llu anon %llu\n", rss, anon);
}

/* ---------------------------------------------------------------- protection keys */

/* CPUID.(EAX=7,ECX=0):ECX bit 4, OSPKE: the OS enabled PKU, so RDPKRU/WRPKRU do not fault. */
static int have_ospke(void) {
  unsigned a = 7, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return (c >> 4) & 1;
}

static unsigned rdpkru(void) {
  unsigned eax, edx, ecx = 0;
  __asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(ecx));
  return eax;
}

static void wrpkru(unsigned v) {
  unsigned ecx = 0, edx = 0;
  __asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(v), "c"(ecx), "d"(edx) : "memory");
}

/* glibc's x86 pkey_get/pkey_set, with -ENOSYS where glibc's generic stubs answer it (no OSPKE). */
static void do_pkey_get(const struct op *o) {
  int key = (int)o->a[0];
  if (!have_ospke()) print_errno(ENOSYS);
  else if (key < 0 || key > 15) print_errno(EINVAL);
  else printf("0x%x\n", (rdpkru() >> (2 * key)) & 3);
}

static void do_pkey_set(const struct op *o) {
  int key = (int)o->a[0];
  unsigned rights = (unsigned)o->a[1];
  if (!have_ospke()) print_errno(ENOSYS);
  else if (key < 0 || key > 15 || rights > 3) print_errno(EINVAL);
  else {
    wrpkru((rdpkru() & ~(3u << (2 * key))) | (rights << (2 * key)));
    printf("0\n");
  }
}

/* ---------------------------------------------------------------- signals */

/* The raw rt_sigaction ABI (x86-64): handler, flags, restorer, one 64-bit mask word. */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};
#define K_SA_SIGINFO 0x4UL
#define K_SA_RESTORER 0x04000000UL

/* A handler that returns needs rt_sigreturn as its return address (glibc's __restore_rt). */
extern void oracle_restore_rt(void);
__asm__(".text\n.align 16\noracle_restore_rt:\n\tmovq $15, %rax\n\tsyscall\n");

static void do_sigaction(const struct op *o) {
  struct kernel_sigaction act, old;
  memset(&act, 0, sizeof act);
  memset(&old, 0, sizeof old);
  unsigned long disp = (unsigned long)o->a[1];
  act.flags = (unsigned long)(o->nargs > 2 ? o->a[2] : 0);
  act.mask = o->nargs > 3 ? o->a[3] : 0;
  if (disp == 2) {
    act.handler = (void *)on_fault;
    act.flags |= K_SA_SIGINFO | K_SA_RESTORER;
    act.restorer = oracle_restore_rt;
  } else
    act.handler = (void *)(uintptr_t)disp;
  long r = syscall(SYS_rt_sigaction, (int)o->a[0], &act, &old, 8);
  if (r == -1) {
    print_errno_name(errno);
    return;
  }
  uintptr_t h = (uintptr_t)old.handler;
  printf("%s 0x%lx 0x%llx", h == 0 ? "dfl" : h == 1 ? "ign" : "catch", old.flags & ~(K_SA_SIGINFO | K_SA_RESTORER),
         (unsigned long long)old.mask);
}

static const char *cld_code_name(int code) {
  static const char *const names[] = {"CLD_EXITED",  "CLD_KILLED",  "CLD_DUMPED",
                                      "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"};
  return code >= 1 && code <= 6 ? names[code - 1] : NULL;
}

/* " caught SIGUSR1,SIGCHLD{CLD_EXITED status=3 pid=child uid=self}" (nothing when none was). */
static void print_caught(void) {
  for (int k = 0; k < ncaught; k++) {
    const char *sn = signal_name(caught[k]);
    printf(k ? "," : " caught ");
    if (sn)
      printf("%s", sn);
    else
      printf("SIG%d", caught[k]);
    const char *cn = caught[k] == SIGCHLD ? cld_code_name(caught_code[k]) : NULL;
    if (cn) {
      printf("{%s status=%d pid=", cn, caught_status[k]);
      if (caught_pid[k] == last_child)
        printf("child");
      else
        printf("other");
      if (caught_uid[k] == getuid())
        printf(" uid=self}");
      else
        printf(" uid=%u}", (unsigned)caught_uid[k]);
    }
  }
}

static void do_sigprocmask(const struct op *o) {
  uint64_t set = o->a[1], old = 0;
  long r = syscall(SYS_rt_sigprocmask, (int)o->a[0], &set, &old, 8);
  if (r == -1)
    print_errno_name(errno);
  else
    printf("0x%llx", (unsigned long long)old);
}

/* ---------------------------------------------------------------- memfd */

static int slot_fd(uint64_t slot) { return slot < (uint64_t)nslots ? slots[slot] : -1; }

static void do_memfd(const struct op *o) {
  int fd = (int)syscall(SYS_memfd_create, "oracle", 2 /* MFD_ALLOW_SEALING */);
  if (fd < 0) {
    print_errno(errno);
    return;
  }
  if (ftruncate(fd, (off_t)o->a[0]) < 0) {
    print_errno(errno);
    close(fd);
    return;
  }
  if (nslots == 64) {
    printf("REFUSED\n");
    close(fd);
    return;
  }
  slots[nslots] = fd;
  printf("0x%x\n", nslots++);
}

static void do_pwrite(const struct op *o) {
  size_t len = (size_t)o->a[3];
  char *buf = malloc(len ? len : 1);
  if (!buf) abort();
  memset(buf, (int)o->a[2], len);
  long r = pwrite(slot_fd(o->a[0]), buf, len, (off_t)o->a[1]);
  free(buf);
  print_zero_result(r);
}

static void do_pread(const struct op *o) {
  unsigned char b[8] = {0};
  long r = pread(slot_fd(o->a[0]), b, 8, (off_t)o->a[1]);
  if (r < 0) {
    print_errno(errno);
    return;
  }
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
  printf("read 0x%lx 0x%llx\n", r, (unsigned long long)v);
}

/* ---------------------------------------------------------------- limits */

static void do_mincore(const struct op *o) {
  static unsigned char vec[4096];
  uint64_t len = o->a[1];
  uint64_t pages = len / PAGE + (len % PAGE != 0);
  if (pages > sizeof vec && len <= TASK_SIZE) {
    printf("REFUSED\n");
    return;
  }
  long r = syscall(SYS_mincore, (unsigned long)o->a[0], (unsigned long)len, vec);
  if (r == -1) {
    print_errno(errno);
    return;
  }
  printf("0 ");
  for (uint64_t i = 0; i < pages; i++) putchar('0' + (vec[i] & 1));
  printf("\n");
}

struct rlimit64_abi {
  uint64_t cur, max;
};

static void do_rlimit(const struct op *o) {
  struct rlimit64_abi next = {o->nargs > 1 ? o->a[1] : 0, o->nargs > 2 ? o->a[2] : 0}, old = {0, 0};
  int set = o->kind == K_SETRLIMIT;
  long r = syscall(SYS_prlimit64, 0, (unsigned)o->a[0], set ? &next : NULL, set ? NULL : &old);
  if (r == -1)
    print_errno(errno);
  else if (set)
    printf("0\n");
  else
    printf("0x%llx 0x%llx\n", (unsigned long long)old.cur, (unsigned long long)old.max);
}

/* capset(2) without CAP_IPC_LOCK (bit 14) in the effective and permitted sets. */
static void do_unprivileged(void) {
  struct {
    uint32_t version;
    int pid;
  } hdr = {0x20080522, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } data[2];
  if (syscall(SYS_capget, &hdr, data) == -1) {
    print_errno(errno);
    return;
  }
  data[0].effective &= ~(1u << 14);
  data[0].permitted &= ~(1u << 14);
  print_zero_result(syscall(SYS_capset, &hdr, data));
}

/* ---------------------------------------------------------------- heap */

static void print_heap_addr(uint64_t v) {
  if (v >= start_brk)
    printf("H+0x%llx\n", (unsigned long long)(v - start_brk));
  else
    printf("H-0x%llx\n", (unsigned long long)(start_brk - v));
}

/* mm->start_brk: field 47 of /proc/self/stat (read without stdio: malloc is not set up yet). */
static uint64_t read_start_brk(void) {
  static char buf[4096];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p += 2; /* field 3 */
  for (int field = 3; field < 47 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

/* The VmFlags line of the smaps entry holding addr. */
static void do_vmflags(const struct op *o) {
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) {
    print_errno(errno);
    return;
  }
  char line[512];
  int in = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long s, e;
    char c;
    if (sscanf(line, "%llx-%llx %c", &s, &e, &c) == 3 && strchr(line, '-') < strchr(line, ' ')) {
      in = s <= o->a[0] && o->a[0] < e;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) {
      char *v = line + 8;
      while (*v == ' ') v++;
      size_t l = strlen(v);
      while (l && (v[l - 1] == '\n' || v[l - 1] == ' ')) v[--l] = '\0';
      printf("%s\n", v);
      fclose(f);
      return;
    }
  }
  fclose(f);
  printf("none\n");
}

/* ---------------------------------------------------------------- execution */

static void run_range(size_t from, size_t to, const char *prefix);
/* The script has signal ops: the top-level process may die of one too (see run_range). */
static int flush_each_op;

static void run_op(size_t i, const char *idx) {
  const struct op *o = &ops[i];
  long r;
  if (o->kind == K_FORK) {
    fflush(stdout);
    ncaught = 0;
    pid_t pid = fork();
    if (pid < 0) {
      print_prefix(idx, o);
      print_errno(errno);
      return;
    }
    if (pid == 0) {
      run_range(i + 1, o->child_end, idx);
      fflush(stdout);
      _exit(0);
    }
    last_child = pid;
    int status = 0;
    long w;
    /* WUNTRACED: a child that stops (kill SIGSTOP) would otherwise be waited for forever. */
    while ((w = waitpid(pid, &status, WUNTRACED)) < 0 && errno == EINTR) {
    }
    int err = errno;
    print_prefix(idx, o);
    if (w < 0) {
      /* The parent ignores SIGCHLD or set SA_NOCLDWAIT: the child was reaped at exit (ECHILD). */
      print_errno_name(err);
    } else if (WIFSTOPPED(status)) {
      const char *sn = signal_name(WSTOPSIG(status));
      if (sn)
        printf("stopped %s", sn);
      else
        printf("stopped SIG%d", WSTOPSIG(status));
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    } else if (WIFEXITED(status))
      printf("exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) {
      const char *sn = signal_name(WTERMSIG(status));
      if (sn)
        printf("killed %s", sn);
      else
        printf("killed SIG%d", WTERMSIG(status));
    } else
      printf("status 0x%x", status);
    /* A SIGCHLD handler runs as waitpid returns (the signal was sent before the child was reapable). */
    print_caught();
    printf("\n");
    return;
  }

  if (o->kind == K_EXIT) {
    /* No line: the process is gone (its parent's fork line says how). */
    fflush(stdout);
    syscall(SYS_exit_group, (int)o->a[0]);
  }
  print_prefix(idx, o);
  if (!op_safe(o)) {
    printf("REFUSED\n");
    return;
  }
  errno = 0;
  switch (o->kind) {
  case K_MMAP:
    r = syscall(SYS_mmap, (unsigned long)o->a[0], (unsigned long)o->a[1], (unsigned long)o->a[2],
                (unsigned long)o->a[3], -1L, (unsigned long)(o->nargs > 4 ? o->a[4] : 0));
    print_addr_result(r);
    break;
  case K_MUNMAP:
    r = syscall(SYS_munmap, (unsigned long)o->a[0], (unsigned long)o->a[1]);
    print_zero_result(r);
    break;
  case K_MREMAP:
    r = syscall(SYS_mremap, (unsigned long)o->a[0], (unsigned long)o->a[1], (unsigned long)o->a[2],
                (unsigned long)o->a[3], (unsigned long)(o->nargs > 4 ? o->a[4] : 0));
    print_addr_result(r);
    break;
  case K_MPROTECT:
    r = syscall(SYS_mprotect, (unsigned long)o->a[0], (unsigned long)o->a[1], (unsigned long)o->a[2]);
    print_zero_result(r);
    break;
  case K_MADVISE:
    r = syscall(SYS_madvise, (unsigned long)o->a[0], (unsigned long)o->a[1], (unsigned long)o->a[2]);
    print_zero_result(r);
    break;
  case K_LOAD:
    do_load(o);
    break;
  case K_STORE:
    do_store(o);
    break;
  case K_MAPS:
    do_maps();
    break;
  case K_RSS:
    do_rss();
    break;
  case K_PKEY_ALLOC:
    r = syscall(SYS_pkey_alloc, (unsigned long)o->a[0], (unsigned long)o->a[1]);
    print_addr_result(r);
    break;
  case K_PKEY_FREE:
    r = syscall(SYS_pkey_free, (int)o->a[0]);
    print_zero_result(r);
    break;
  case K_PKEY_MPROTECT:
    r = syscall(SYS_pkey_mprotect, (unsigned long)o->a[0], (unsigned long)o->a[1], (unsigned long)o->a[2],
                (int)o->a[3]);
    print_zero_result(r);
    break;
  case K_PKEY_GET:
    do_pkey_get(o);
    break;
  case K_PKEY_SET:
    do_pkey_set(o);
    break;
  case K_MLOCK:
    r = syscall(SYS_mlock, (unsigned long)o->a[0], (unsigned long)o->a[1]);
    print_zero_result(r);
    break;
  case K_MUNLOCK:
    r = syscall(SYS_munlock, (unsigned long)o->a[0], (unsigned long)o->a[1]);
    print_zero_result(r);
    break;
  case K_MINCORE:
    do_mincore(o);
    break;
  case K_MLOCK2:
    r = syscall(SYS_mlock2, (unsigned long)o->a[0], (unsigned long)o->a[1], (int)o->a[2]);
    print_zero_result(r);
    break;
  case K_MLOCKALL:
    print_zero_result(syscall(SYS_mlockall, (int)o->a[0]));
    break;
  case K_MUNLOCKALL:
    print_zero_result(syscall(SYS_munlockall));
    break;
  case K_GETRLIMIT:
  case K_SETRLIMIT:
    do_rlimit(o);
    break;
  case K_UNPRIVILEGED:
    do_unprivileged();
    break;
  case K_BRK:
    print_heap_addr((uint64_t)syscall(SYS_brk, (unsigned long)o->a[0]));
    break;
  case K_MSEAL:
    print_zero_result(syscall(462 /* SYS_mseal */, (unsigned long)o->a[0], (unsigned long)o->a[1],
                              (unsigned long)o->a[2]));
    break;
  case K_VMFLAGS:
    do_vmflags(o);
    break;
  case K_MSYNC:
    print_zero_result(syscall(SYS_msync, (unsigned long)o->a[0], (unsigned long)o->a[1], (int)o->a[2]));
    break;
  case K_SIGACTION:
  case K_SIGPROCMASK:
  case K_KILL:
    ncaught = 0;
    if (o->kind == K_SIGACTION)
      do_sigaction(o);
    else if (o->kind == K_SIGPROCMASK)
      do_sigprocmask(o);
    else {
      r = syscall(SYS_kill, getpid(), (int)o->a[0]);
      if (r == -1)
        print_errno_name(errno);
      else
        printf("0");
    }
    print_caught();
    printf("\n");
    break;
  case K_MEMFD:
    do_memfd(o);
    break;
  case K_MMAPFD:
    r = syscall(SYS_mmap, (unsigned long)o->a[0], (unsigned long)o->a[1], (unsigned long)o->a[2],
                (unsigned long)o->a[3], (long)slot_fd(o->a[4]), (unsigned long)o->a[5]);
    print_addr_result(r);
    break;
  case K_FTRUNCATE:
    r = ftruncate(slot_fd(o->a[0]), (off_t)o->a[1]);
    print_zero_result(r);
    break;
  case K_FALLOCATE:
    r = fallocate(slot_fd(o->a[0]), (int)o->a[1], (off_t)o->a[2], (off_t)o->a[3]);
    print_zero_result(r);
    break;
  case K_PWRITE:
    do_pwrite(o);
    break;
  case K_PREAD:
    do_pread(o);
    break;
  case K_SEAL:
    r = fcntl(slot_fd(o->a[0]), 1033 /* F_ADD_SEALS */, (int)o->a[1]);
    print_zero_result(r);
    break;
  case K_CLOSE:
    r = close(slot_fd(o->a[0]));
    if (r == 0) slots[o->a[0]] = -1;
    print_zero_result(r);
    break;
  case K_FORK:
  case K_EXIT:
    break;
  }
}

static void run_range(size_t from, size_t to, const char *prefix) {
  size_t n = 0;
  for (size_t i = from; i < to; n++) {
    char idx[128];
    if (prefix)
      snprintf(idx, sizeof idx, "%s.%zu", prefix, n);
    else
      snprintf(idx, sizeof idx, "%zu", n);
    run_op(i, idx);
    /* A child may die of a signal at its next op: what it printed so far must not die with it; so may
     * the top-level process of a script that touches signals (its runner reports how it died). */
    if (prefix || flush_each_op) fflush(stdout);
    i = ops[i].kind == K_FORK ? ops[i].child_end : i + 1;
  }
}

/* ---------------------------------------------------------------- parsing */

static int parse_u64(const char *tok, uint64_t *out) {
  char *end;
  errno = 0;
  if (tok[0] == '-') return 0;
  unsigned long long v = strtoull(tok, &end, 0);
  if (errno || *end != '\0' || end == tok) return 0;
  *out = v;
  return 1;
}

static void fmt_hex(char *dst, size_t cap, uint64_t v) { snprintf(dst, cap, "0x%llx", (unsigned long long)v); }

/* "H+<n>" / "H-<n>": start_brk plus or minus n. */
static int parse_arg(struct op *o, int k, const char *tok) {
  if (tok[0] == 'H' && (tok[1] == '+' || tok[1] == '-')) {
    uint64_t off;
    if (!parse_u64(tok + 2, &off)) return 0;
    o->rel[k] = tok[1] == '+' ? (int64_t)off : -(int64_t)off;
    o->relmask |= 1u << k;
    o->a[k] = start_brk + (uint64_t)o->rel[k];
    return 1;
  }
  return parse_u64(tok, &o->a[k]);
}

static void make_text(struct op *o, const char *name) {
  size_t used = (size_t)snprintf(o->text, sizeof o->text, "%s", name);
  for (int k = 0; k < o->nargs && used < sizeof o->text; k++) {
    char h[40];
    if (o->relmask & (1u << k))
      snprintf(h, sizeof h, "H%c0x%llx", o->rel[k] < 0 ? '-' : '+',
               (unsigned long long)(o->rel[k] < 0 ? -(uint64_t)o->rel[k] : (uint64_t)o->rel[k]));
    else
      fmt_hex(h, sizeof h, o->a[k]);
    used += (size_t)snprintf(o->text + used, sizeof o->text - used, " %s", h);
  }
}

int main(void) {
  /* Before anything allocates: malloc never moves the break, so the heap is the script's, and
   * start_brk is where the break still is. */
  mallopt(M_MMAP_THRESHOLD, 0);
  /* One CPU for the whole script (fork children inherit it): a page a fault adds waits in that CPU's
   * LRU batch until lru_add_drain(), which MADV_PAGEOUT runs on its own CPU only, so a script that
   * moved between the fault and the madvise would see the page kept or paged out by chance. */
  cpu_set_t one;
  int cpu = sched_getcpu();
  CPU_ZERO(&one);
  if (cpu >= 0) {
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one); /* a cpuset that refuses leaves the script as it was */
  }
  start_brk = read_start_brk();
  if (!start_brk || (uint64_t)syscall(SYS_brk, 0UL) != start_brk) {
    fprintf(stderr, "oracle: the heap is in use before the script starts\n");
    return 2;
  }
  char line[1024];
  unsigned long lineno = 0;
  size_t stack[64];
  int depth = 0;
  int have_arena = 0;

  while (fgets(line, sizeof line, stdin)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *tok[10];
    int nt = 0;
    for (char *t = strtok(line, " \t\r\n"); t && nt < 10; t = strtok(NULL, " \t\r\n")) tok[nt++] = t;
    if (nt == 0) continue;
    const char *name = tok[0];

    if (strcmp(name, "arena") == 0) {
      if (nt != 3 || !parse_u64(tok[1], &arena_base) || !parse_u64(tok[2], &arena_size))
        die("bad arena line", lineno);
      if ((arena_base | arena_size) & (PAGE - 1) || arena_base + arena_size > USER_TOP ||
          arena_base < (1ULL << 32))
        die("arena must be page aligned and inside [4GiB, 128TiB)", lineno);
      have_arena = 1;
      continue;
    }
    if (!have_arena) die("the arena line must come first", lineno);
    if (strcmp(name, "end") == 0) {
      if (depth == 0) die("'end' without 'fork'", lineno);
      ops[stack[--depth]].child_end = nops;
      continue;
    }

    if (nops == capops) {
      capops = capops ? capops * 2 : 256;
      ops = realloc(ops, capops * sizeof *ops);
      if (!ops) abort();
    }
    struct op *o = &ops[nops];
    memset(o, 0, sizeof *o);
    int min = 0, max = 0;
    if (strcmp(name, "mmap") == 0) {
      o->kind = K_MMAP, min = 4, max = 5;
    } else if (strcmp(name, "munmap") == 0) {
      o->kind = K_MUNMAP, min = max = 2;
    } else if (strcmp(name, "mremap") == 0) {
      o->kind = K_MREMAP, min = 4, max = 5;
    } else if (strcmp(name, "mprotect") == 0) {
      o->kind = K_MPROTECT, min = max = 3;
    } else if (strcmp(name, "madvise") == 0) {
      o->kind = K_MADVISE, min = max = 3;
    } else if (strncmp(name, "load", 4) == 0 || strncmp(name, "store", 5) == 0) {
      int is_load = name[0] == 'l';
      int bits = atoi(name + (is_load ? 4 : 5));
      if (bits != 8 && bits != 16 && bits != 32 && bits != 64) die("bad access width", lineno);
      o->kind = is_load ? K_LOAD : K_STORE;
      o->width = bits / 8;
      min = max = is_load ? 1 : 2;
    } else if (strcmp(name, "maps") == 0) {
      o->kind = K_MAPS;
    } else if (strcmp(name, "rss") == 0) {
      o->kind = K_RSS;
    } else if (strcmp(name, "pkey_alloc") == 0) {
      o->kind = K_PKEY_ALLOC, min = max = 2;
    } else if (strcmp(name, "pkey_free") == 0) {
      o->kind = K_PKEY_FREE, min = max = 1;
    } else if (strcmp(name, "pkey_mprotect") == 0) {
      o->kind = K_PKEY_MPROTECT, min = max = 4;
    } else if (strcmp(name, "pkey_get") == 0) {
      o->kind = K_PKEY_GET, min = max = 1;
    } else if (strcmp(name, "pkey_set") == 0) {
      o->kind = K_PKEY_SET, min = max = 2;
    } else if (strcmp(name, "mlock") == 0) {
      o->kind = K_MLOCK, min = max = 2;
    } else if (strcmp(name, "munlock") == 0) {
      o->kind = K_MUNLOCK, min = max = 2;
    } else if (strcmp(name, "sigaction") == 0) {
      o->kind = K_SIGACTION, min = 2, max = 4, flush_each_op = 1;
    } else if (strcmp(name, "sigprocmask") == 0) {
      o->kind = K_SIGPROCMASK, min = max = 2, flush_each_op = 1;
    } else if (strcmp(name, "kill") == 0) {
      o->kind = K_KILL, min = max = 1, flush_each_op = 1;
    } else if (strcmp(name, "mincore") == 0) {
      o->kind = K_MINCORE, min = max = 2;
    } else if (strcmp(name, "mlock2") == 0) {
      o->kind = K_MLOCK2, min = max = 3;
    } else if (strcmp(name, "mlockall") == 0) {
      o->kind = K_MLOCKALL, min = max = 1;
    } else if (strcmp(name, "munlockall") == 0) {
      o->kind = K_MUNLOCKALL;
    } else if (strcmp(name, "getrlimit") == 0) {
      o->kind = K_GETRLIMIT, min = max = 1;
    } else if (strcmp(name, "setrlimit") == 0) {
      o->kind = K_SETRLIMIT, min = max = 3;
    } else if (strcmp(name, "unprivileged") == 0) {
      o->kind = K_UNPRIVILEGED;
    } else if (strcmp(name, "brk") == 0) {
      o->kind = K_BRK, min = max = 1;
    } else if (strcmp(name, "mseal") == 0) {
      o->kind = K_MSEAL, min = max = 3;
    } else if (strcmp(name, "vmflags") == 0) {
      o->kind = K_VMFLAGS, min = max = 1;
    } else if (strcmp(name, "msync") == 0) {
      o->kind = K_MSYNC, min = max = 3;
    } else if (strcmp(name, "memfd") == 0) {
      o->kind = K_MEMFD, min = max = 1;
    } else if (strcmp(name, "mmapfd") == 0) {
      o->kind = K_MMAPFD, min = max = 6;
    } else if (strcmp(name, "ftruncate") == 0) {
      o->kind = K_FTRUNCATE, min = max = 2;
    } else if (strcmp(name, "fallocate") == 0) {
      o->kind = K_FALLOCATE, min = max = 4;
    } else if (strcmp(name, "pwrite") == 0) {
      o->kind = K_PWRITE, min = max = 4;
    } else if (strcmp(name, "pread") == 0) {
      o->kind = K_PREAD, min = max = 2;
    } else if (strcmp(name, "seal") == 0) {
      o->kind = K_SEAL, min = max = 2;
    } else if (strcmp(name, "close") == 0) {
      o->kind = K_CLOSE, min = max = 1;
    } else if (strcmp(name, "exit") == 0) {
      o->kind = K_EXIT, min = max = 1;
    } else if (strcmp(name, "fork") == 0) {
      o->kind = K_FORK;
      if (depth == 64) die("forks nested too deeply", lineno);
      stack[depth++] = nops;
    } else {
      die("unknown op", lineno);
    }
    if (nt - 1 < min || nt - 1 > max) die("wrong number of arguments", lineno);
    o->nargs = nt - 1;
    for (int k = 0; k < o->nargs; k++)
      if (!parse_arg(o, k, tok[k + 1])) die("bad number", lineno);
    make_text(o, name);
    nops++;
  }
  if (depth != 0) die("'fork' without 'end'", lineno);
  if (!have_arena) die("missing arena line", lineno);

  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  install_handlers();
  run_range(0, nops, NULL);
  fflush(stdout);
  return 0;
}
