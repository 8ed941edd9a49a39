/* bench_log: log 1,000,000 access-log records to ./bench_log.out and print lines written per
 * second.
 *
 * The record is the one /work/shared/bench/peers/pino_bench.js writes with pino: msg "request
 * completed" with request_id, method, path, status and duration_ms, plus time and level. The
 * logger runs asynchronously (the background thread writes to the file) in its bench-only
 * block_when_full mode, so that no line is dropped: the producer waits when its buffer is full.
 * The clock stops after api_logger_flush(), when every line is in the file; the file's line count
 * is checked. Usage: bench_log [lines] [sync]. Run it pinned: taskset -c 0 ./bench_log
 * The last line printed is "lines/s N".
 */
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char buf[1 << 16];
  long lines = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    for (size_t i = 0; i < n; i++) lines += buf[i] == '\n';
  fclose(f);
  return lines;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  bool sync = argc > 2 && strcmp(argv[2], "sync") == 0;
  const char *path = "bench_log.out";
  unlink(path);
  api_logger *log;
  int rc = api_logger_new(
      &log, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .file_path = path, .sync = sync,
                           .block_when_full = true, .buffer_size = 1 << 20, .ignore_env = true));
  if (rc != 0) {
    fprintf(stderr, "api_logger_new: %s %s\n", api_strerror(rc), api_last_error());
    return 1;
  }
  double t0 = now();
  for (long i = 0; i < n; i++)
    api_log(log, API_LOG_INFO, "request completed", API_LOG_STR("request_id", "a1b2c3d4e5f6"),
            API_LOG_STR("method", "GET"), API_LOG_STR("path", "/api/v1/users/42"),
            API_LOG_INT("status", 200), API_LOG_DOUBLE("duration_ms", 0.412));
  api_logger_flush(log);
  double dt = now() - t0;
  /* A disabled level: the check alone (the fields are not even evaluated). */
  double t1 = now();
  for (long i = 0; i < n; i++)
    api_log(log, API_LOG_DEBUG, "request completed", API_LOG_STR("request_id", "a1b2c3d4e5f6"),
            API_LOG_INT("status", 200));
  double disabled_ns = (now() - t1) / (double)n * 1e9;
  unsigned long long dropped = (unsigned long long)api_logger_dropped(log);
  api_logger_free(log);
  long written = count_lines(path);
  printf("mode %s, %ld lines logged, %ld lines in %s, %llu dropped, %.3f s\n",
         sync ? "sync" : "async", n, written, path, dropped, dt);
  printf("disabled level: %.1f ns per call\n", disabled_ns);
  if (written != n) fprintf(stderr, "bench_log: line count mismatch\n");
  printf("lines/s %.0f\n", (double)written / dt);
  return written == n ? 0 : 1;
}
