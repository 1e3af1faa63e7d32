/*
 * SysV shm oracle: runs a script of shmget/shmat/shmdt/shmctl calls and accesses on the live kernel, in
 * a fresh IPC namespace (ids start at 0), and prints one line per op; ipc-shm.live.test.ts runs the same
 * script on Faultline and compares. Script lines (numbers in C syntax):
 *   get <key> <size> <flags>      shmget: the id (remembered as #n, in order) or -ERRNO
 *   at <n> <addr> <flags>         shmat(#n): the address (0x…), or -ERRNO
 *   dt <addr>                     shmdt
 *   st <n>                        IPC_STAT: key, mode, size, nattch
 *   rm <n>                        IPC_RMID
 *   set <n> <uid> <gid> <mode>    IPC_SET
 *   w <addr> <value> / r <addr>   32-bit store / load, or the fault: SIGSEGV <code> / SIGBUS <code>
 *   maps                          the /SYSV lines of /proc/self/maps
 *   proc                          key shmid perms size nattch rss of each /proc/sysvipc/shm line
 *   stx <n>                       IPC_STAT's owners, pids and times against this process: "uid self
 *                                 … lpid 0 atime 0 dtime 0 ctime set" (self/other, 0/set)
 *   sst <index>                   SHM_STAT of an index: key and size
 *   info                          IPC_INFO: shmmin, shmmni, shmseg, and whether shmmax > shmmin and
 *                                 shmall > 0 (their ULONG_MAX - 2^24 has no exact double in Faultline)
 *   sinfo                         SHM_INFO's result (the highest index in use)
 *   mprot <addr> <len> <prot>     mprotect
 *   unmap <addr> <len>            munmap
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

static int ids[64], nids;
static sigjmp_buf jb;
static volatile int fsig, fcode;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  fsig = sig;
  fcode = si->si_code;
  siglongjmp(jb, 1);
}

static void err(void) { printf("-%s\n", strerrorname_np(errno)); }

int main(void) {
  if (unshare(CLONE_NEWIPC) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWIPC) != 0) {
    fprintf(stderr, "no private IPC namespace: %s\n", strerror(errno));
    return 3;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    char op[16];
    unsigned long long a = 0, b = 0, c = 0;
    int n = sscanf(line, "%15s %lli %lli %lli", op, &a, &b, &c);
    if (n < 1) continue;
    line[strcspn(line, "\n")] = 0;
    printf("%s = ", line);
    if (!strcmp(op, "get")) {
      int id = shmget((key_t)a, (size_t)b, (int)c);
      if (nids < 64) ids[nids++] = id < 0 ? -1 : id;
      if (id < 0) err(); else printf("%d\n", id);
    } else if (!strcmp(op, "at")) {
      void *p = shmat(ids[a], (void *)(uintptr_t)b, (int)c);
      if (p == (void *)-1) err(); else printf("%p\n", p);
    } else if (!strcmp(op, "dt")) {
      if (shmdt((void *)(uintptr_t)a) != 0) err(); else printf("0\n");
    } else if (!strcmp(op, "st")) {
      struct shmid_ds ds;
      if (shmctl(ids[a], IPC_STAT, &ds) != 0) err();
      else printf("key 0x%x mode 0%o size %zu nattch %lu\n", ds.shm_perm.__key, ds.shm_perm.mode, ds.shm_segsz, (unsigned long)ds.shm_nattch);
    } else if (!strcmp(op, "set")) {
      struct shmid_ds ds;
      memset(&ds, 0, sizeof ds);
      unsigned long long m = 0;
      sscanf(line, "%*s %*s %*s %*s %lli", &m);
      ds.shm_perm.uid = (uid_t)b;
      ds.shm_perm.gid = (gid_t)c;
      ds.shm_perm.mode = (unsigned short)m;
      if (shmctl(ids[a], IPC_SET, &ds) != 0) err(); else printf("0\n");
    } else if (!strcmp(op, "rm")) {
      if (shmctl(ids[a], IPC_RMID, NULL) != 0) err(); else printf("0\n");
    } else if (!strcmp(op, "w") || !strcmp(op, "r")) {
      volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)a;
      if (sigsetjmp(jb, 1) == 0) {
        if (op[0] == 'w') { *p = (uint32_t)b; printf("0\n"); }
        else printf("0x%x\n", *p);
      } else printf("%s %d\n", fsig == SIGBUS ? "SIGBUS" : "SIGSEGV", fcode);
    } else if (!strcmp(op, "maps") || !strcmp(op, "proc")) {
      FILE *f = fopen(op[0] == 'm' ? "/proc/self/maps" : "/proc/sysvipc/shm", "r");
      char l[512];
      int first = 1;
      printf("\n");
      while (fgets(l, sizeof l, f)) {
        if (op[0] == 'm') { if (strstr(l, "/SYSV")) printf("  %s", l); continue; }
        if (first) { first = 0; continue; }
        long long key, id, perms, size, cpid, lpid, nattch, uid, gid, cuid, cgid, at, dt, ct, rss;
        sscanf(l, "%lld %lld %llo %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &key, &id, &perms, &size, &cpid, &lpid, &nattch, &uid, &gid, &cuid, &cgid, &at, &dt, &ct, &rss);
        printf("  %lld %lld %llo %lld %lld %lld\n", key, id, perms, size, nattch, rss);
      }
      fclose(f);
    } else if (!strcmp(op, "stx")) {
      struct shmid_ds ds;
      if (shmctl(ids[a], IPC_STAT, &ds) != 0) err();
      else {
        unsigned u = getuid(), g = getgid(), p = getpid();
        printf("uid %s gid %s cuid %s cgid %s cpid %s lpid %s atime %s dtime %s ctime %s\n",
               ds.shm_perm.uid == u ? "self" : "other", ds.shm_perm.gid == g ? "self" : "other",
               ds.shm_perm.cuid == u ? "self" : "other", ds.shm_perm.cgid == g ? "self" : "other",
               (unsigned)ds.shm_cpid == p ? "self" : "other",
               ds.shm_lpid == 0 ? "0" : (unsigned)ds.shm_lpid == p ? "self" : "other",
               ds.shm_atime ? "set" : "0", ds.shm_dtime ? "set" : "0", ds.shm_ctime ? "set" : "0");
      }
    } else if (!strcmp(op, "sst")) {
      struct shmid_ds ds;
      if (shmctl((int)a, SHM_STAT, &ds) < 0) err();
      else printf("key 0x%x size %zu\n", ds.shm_perm.__key, ds.shm_segsz);
    } else if (!strcmp(op, "info")) {
      struct shminfo si;
      if (shmctl(0, IPC_INFO, (struct shmid_ds *)&si) < 0) err();
      else printf("shmmin %lu shmmni %lu shmseg %lu shmmax>shmmin %s shmall>0 %s\n", si.shmmin, si.shmmni,
                  si.shmseg, si.shmmax > si.shmmin ? "yes" : "no", si.shmall > 0 ? "yes" : "no");
    } else if (!strcmp(op, "sinfo")) {
      struct shm_info si;
      int r = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
      if (r < 0) err(); else printf("%d\n", r);
    } else if (!strcmp(op, "mprot")) {
      if (mprotect((void *)(uintptr_t)a, (size_t)b, (int)c) != 0) err(); else printf("0\n");
    } else if (!strcmp(op, "unmap")) {
      if (munmap((void *)(uintptr_t)a, (size_t)b) != 0) err(); else printf("0\n");
    } else printf("?\n");
  }
  return 0;
}
