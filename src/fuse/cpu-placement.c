/*
 * cpu-placement.so: keeps the mount server's request path on one CPU and its background work on the others.
 *
 * A FUSE read of /raw crosses threads: the reader, a libfuse thread, the server's event loop, and back. Each time
 * one wakes another on a different CPU, the waker pays an inter-processor interrupt, which in a VM is an exit to
 * the hypervisor. The scheduler spreads these threads over CPUs that the background work (data file writes in
 * libuv's pool, V8's GC threads, nbdkit) keeps busy, so a small-request reader pays those hand-offs on every
 * request. Measured on this project's 2-core VM (bench/cpu-placement.sh, 512 MiB, against the same build without
 * it, three runs): `ddrescue -d -b512` of cold /raw took 0.79-0.90 of the time, a copy of /sbx/image.sbx 0.60-0.70,
 * cold `dd bs=1M` 0.91-1.03; `blkfs acquire` and warm `dd bs=1M` unchanged (A/B runs of each).
 *
 * Preloaded (LD_PRELOAD) into the mount server only (src/fuse/server-preloads.ts), and active only when it may use
 * two CPUs or more and BLKFS_CPU_PLACEMENT is not "off". Then:
 *  - the request path (the main thread, which runs the event loop, and the threads libfuse and fuse-native start)
 *    runs on the highest CPU it may use: the "front" CPU. A reader woken by it tends to move there too;
 *  - every other thread the server starts (libuv's pool, V8's platform threads, Node workers) runs on the others;
 *  - a child (nbdkit, TSK, cat) gets back every CPU the server was given, in the fork before its exec.
 * It says what it did in BLKFS_CPU_PLACEMENT_APPLIED (the mount log shows it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int active;
static cpu_set_t given; /* every CPU the process was started with */
static cpu_set_t front; /* the request path's CPU */
static cpu_set_t back;  /* the rest */
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* Threads of FUSE's request path: their start routine is in libfuse or fuse-native (file names with "fuse"). */
static int is_fuse_thread(void *(*routine)(void *)) {
  Dl_info info;
  if (dladdr((void *)routine, &info) == 0 || info.dli_fname == NULL) return 0;
  const char *base = strrchr(info.dli_fname, '/');
  return strstr(base ? base : info.dli_fname, "fuse") != NULL || strstr(info.dli_fname, "/fuse-native/") != NULL;
}

/* A background thread's start: it moves itself off the front CPU before running (no window, no other thread's id). */
struct start { void *(*routine)(void *); void *arg; };
static void *start_in_back(void *p) {
  struct start s = *(struct start *)p;
  free(p);
  sched_setaffinity(0, sizeof back, &back);
  return s.routine(s.arg);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*routine)(void *), void *arg) {
  if (real_pthread_create == NULL) real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
  /* A new thread inherits its creator's CPUs: libfuse's stay on the front CPU, the others start in the back. */
  struct start *s = active && !is_fuse_thread(routine) ? malloc(sizeof *s) : NULL;
  if (s == NULL) return real_pthread_create(thread, attr, routine, arg);
  s->routine = routine;
  s->arg = arg;
  int err = real_pthread_create(thread, attr, start_in_back, s);
  if (err != 0) free(s);
  return err;
}

static void child_gets_every_cpu(void) {
  if (active) sched_setaffinity(0, sizeof given, &given);
}

/* "0-2,5" into out (cut short where it does not fit). */
static void append_cpu_list(char *out, size_t room, const cpu_set_t *set) {
  size_t at = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && at < room; cpu++) {
    if (!CPU_ISSET(cpu, set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) last++;
    int n = last == cpu ? snprintf(out + at, room - at, "%s%d", at ? "," : "", cpu) : snprintf(out + at, room - at, "%s%d-%d", at ? "," : "", cpu, last);
    if (n < 0) break;
    at += (size_t)n;
    cpu = last;
  }
}

__attribute__((constructor)) static void place(void) {
  real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
  const char *setting = getenv("BLKFS_CPU_PLACEMENT");
  if (setting != NULL && strcmp(setting, "off") == 0) {
    setenv("BLKFS_CPU_PLACEMENT_APPLIED", "off (BLKFS_CPU_PLACEMENT=off)", 1);
    return;
  }
  if (sched_getaffinity(0, sizeof given, &given) != 0) {
    setenv("BLKFS_CPU_PLACEMENT_APPLIED", "off (sched_getaffinity failed)", 1);
    return;
  }
  if (CPU_COUNT(&given) < 2) {
    setenv("BLKFS_CPU_PLACEMENT_APPLIED", "off (one CPU to run on)", 1);
    return;
  }
  int top = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &given)) top = cpu;
  CPU_ZERO(&front);
  CPU_SET(top, &front);
  memcpy(&back, &given, sizeof back);
  CPU_CLR(top, &back);
  if (sched_setaffinity(0, sizeof front, &front) != 0) {
    setenv("BLKFS_CPU_PLACEMENT_APPLIED", "off (sched_setaffinity failed)", 1);
    return;
  }
  pthread_atfork(NULL, NULL, child_gets_every_cpu);
  active = 1;
  char note[160];
  int at = snprintf(note, sizeof note, "request path on CPU %d, other threads on CPU%s ", top, CPU_COUNT(&back) > 1 ? "s" : "");
  append_cpu_list(note + at, sizeof note - at, &back);
  setenv("BLKFS_CPU_PLACEMENT_APPLIED", note, 1);
}
