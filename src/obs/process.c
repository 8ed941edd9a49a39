/* Process metrics read from /proc at render time (Linux). */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "obs/obs_internal.h"

static double start_time = NAN;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

/* Boot time (/proc/stat btime) plus the process' start in clock ticks after boot (field 22 of
 * /proc/self/stat, counted after the command name, which may hold spaces and parentheses). */
static void find_start_time(void) {
  char buf[1024];
  double btime = NAN;
  FILE *f = fopen("/proc/stat", "re");
  if (f) {
    while (fgets(buf, sizeof(buf), f))
      if (strncmp(buf, "btime ", 6) == 0) btime = strtod(buf + 6, NULL);
    fclose(f);
  }
  f = fopen("/proc/self/stat", "re");
  if (!f) return;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return;
  p++;
  /* p is at " state ppid ..."; state is field 3, starttime field 22. */
  for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
  long ticks = sysconf(_SC_CLK_TCK);
  if (p && ticks > 0) start_time = btime + strtod(p + 1, NULL) / (double)ticks;
}

static double read_start_time(void *ud) {
  pthread_once(&start_once, find_start_time);
  return start_time;
}

static double read_cpu(void *ud) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Field 0 (size) or 1 (resident) of /proc/self/statm, in bytes. */
static double statm(int field) {
  FILE *f = fopen("/proc/self/statm", "re");
  if (!f) return NAN;
  unsigned long v[2];
  int n = fscanf(f, "%lu %lu", &v[0], &v[1]);
  fclose(f);
  if (n != 2) return NAN;
  return (double)v[field] * (double)sysconf(_SC_PAGESIZE);
}

static double read_rss(void *ud) { return statm(1); }
static double read_vsize(void *ud) { return statm(0); }

static double read_open_fds(void *ud) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return NAN;
  double n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory stream's own descriptor */
}

static double read_max_fds(void *ud) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return NAN;
  return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

int api_metrics_add_process(api_metrics *m) {
  static const struct {
    api__mkind kind;
    const char *name, *help;
    api_metric_read_fn read;
  } defs[] = {
      {API__M_CALLBACK_GAUGE, "process_start_time_seconds",
       "Start time of the process since unix epoch in seconds.", read_start_time},
      {API__M_CALLBACK_COUNTER, "process_cpu_seconds_total",
       "Total user and system CPU time spent in seconds.", read_cpu},
      {API__M_CALLBACK_GAUGE, "process_resident_memory_bytes", "Resident memory size in bytes.",
       read_rss},
      {API__M_CALLBACK_GAUGE, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
       read_vsize},
      {API__M_CALLBACK_GAUGE, "process_open_fds", "Number of open file descriptors.",
       read_open_fds},
      {API__M_CALLBACK_GAUGE, "process_max_fds", "Maximum number of open file descriptors.",
       read_max_fds},
  };
  if (!m) return api__fail(API_EINVAL, "metrics: no registry");
  pthread_once(&start_once, find_start_time);
  for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
    api__metric *x;
    int rc = api__metrics_add(
        m, defs[i].kind,
        API_METRIC(.name = defs[i].name, .help = defs[i].help, .read = defs[i].read), &x);
    /* A second call adds what an earlier one, short of memory, did not. */
    if (rc == API_EEXIST && api__metrics_has_callback(m, defs[i].name, defs[i].read)) continue;
    if (rc) return rc;
  }
  return 0;
}
