/* Unit tests for the logger's asynchronous side: file sink and reopen after logrotate's rename
 * (by call and by SIGHUP), callback and stderr sinks, drops when a buffer is full, many writer
 * threads, flush and free, threads that exit, and allocation failure. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libapi/log.h"
#include "util/alloc.h"

static char dir[64];

static void setup(void) {
  strcpy(dir, "/tmp/libapi-log-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  api__alloc_fail_after(-1);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(log_sink, .init = setup, .fini = teardown);

static char *path_in(const char *name) {
  static char p[4][256];
  static int i;
  char *out = p[i++ % 4];
  cr_assert_lt(strlen(dir) + strlen(name) + 2, sizeof(p[0]));
  strcpy(out, dir);
  strcat(out, "/");
  strcat(out, name);
  return out;
}

/* The whole file, NUL-terminated (caller frees). */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "open %s", path);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n < 2) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* Every line of buf is a JSON object; returns the number of lines. fn, if set, sees each. */
static size_t check_lines(char *buf, void (*fn)(json_t *, void *), void *arg) {
  size_t n = 0;
  for (char *line = buf, *nl; *line; line = nl + 1) {
    nl = strchr(line, '\n');
    cr_assert_not_null(nl, "the last line is complete");
    *nl = '\0';
    json_error_t err;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(j, "line %zu is JSON (%s): %.200s", n, err.text, line);
    if (fn) fn(j, arg);
    json_decref(j);
    *nl = '\n';
    n++;
  }
  return n;
}

static size_t count_lines(const char *path) {
  char *b = slurp(path, NULL);
  size_t n = check_lines(b, NULL, NULL);
  free(b);
  return n;
}

static api_logger *file_logger(const char *path, bool sync) {
  api_logger *lg;
  int rc = api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .file_path = path,
                                              .sync = sync, .ignore_env = true));
  cr_assert_eq(rc, 0, "%s", api_last_error());
  return lg;
}

/* ---- file sink and logrotate ---- */

static void rotate_test(bool sync, bool by_signal) {
  const char *path = path_in("app.log"), *old = path_in("app.log.1");
  api_logger *lg = file_logger(path, sync);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0640);
  if (by_signal) cr_assert_eq(api_logger_reopen_on_sighup(lg), 0);
  for (int i = 0; i < 10; i++) api_log(lg, API_LOG_INFO, "before", API_LOG_INT("i", i));
  api_logger_flush(lg);
  cr_assert_eq(rename(path, old), 0);
  /* Until the reopen, lines follow the renamed file, as with any logrotate "create" setup. */
  api_log(lg, API_LOG_INFO, "still old");
  if (by_signal)
    cr_assert_eq(raise(SIGHUP), 0); /* to this thread, handled before raise returns */
  else
    api_logger_reopen(lg);
  /* The background thread reopens soon; a flush waits for it. */
  api_logger_flush(lg);
  for (int i = 0; i < 5; i++) api_log(lg, API_LOG_INFO, "after", API_LOG_INT("i", i));
  api_logger_flush(lg);
  char *a = slurp(old, NULL), *b = slurp(path, NULL);
  cr_assert_eq(check_lines(a, NULL, NULL), 11, "%s", a);
  cr_assert_eq(check_lines(b, NULL, NULL), 5, "%s", b);
  cr_assert(strstr(a, "still old") && !strstr(a, "\"after\""));
  cr_assert(!strstr(b, "before") && !strstr(b, "still old"));
  free(a);
  free(b);
  api_logger_free(lg);
}

Test(log_sink, file_reopen_after_rename) { rotate_test(false, false); }
Test(log_sink, file_reopen_after_rename_sync) { rotate_test(true, false); }
Test(log_sink, file_reopen_on_sighup) { rotate_test(false, true); }

Test(log_sink, reopen_failure_keeps_the_old_file) {
  const char *path = path_in("sub/app.log");
  char sub[128];
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  cr_assert_eq(mkdir(sub, 0700), 0);
  api_logger *lg = file_logger(path, false);
  cr_assert_eq(rename(sub, path_in("gone")), 0); /* the directory vanished: reopen fails */
  api_logger_reopen(lg);
  api_log(lg, API_LOG_INFO, "kept");
  api_logger_free(lg);
  cr_assert_eq(count_lines(path_in("gone/app.log")), 1);
}

Test(log_sink, file_appends) {
  const char *path = path_in("a.log");
  FILE *f = fopen(path, "w");
  fputs("{\"existing\":1}\n", f);
  fclose(f);
  api_logger *lg = file_logger(path, false);
  api_log(lg, API_LOG_INFO, "new");
  api_logger_free(lg);
  char *b = slurp(path, NULL);
  cr_assert(strncmp(b, "{\"existing\":1}\n{\"time\"", 22) == 0, "%s", b);
  free(b);
}

/* ---- callback sink ---- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stall; /* the callback waits while set */
  bool stalled;
  size_t lines;
  size_t warn_lines;
  long long reported; /* sum of "dropped" in drop reports */
  int last_level;
  bool fatal_seen;
} sink_state;

static void sink_init(sink_state *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
}

static void on_line(api_log_level level, const char *line, size_t len, void *ud) {
  sink_state *s = ud;
  pthread_mutex_lock(&s->mu);
  s->stalled = true;
  pthread_cond_broadcast(&s->cv);
  while (s->stall) pthread_cond_wait(&s->cv, &s->mu);
  s->lines++;
  s->last_level = (int)level;
  cr_assert_eq(line[len], '\0');
  cr_assert_eq(line[len - 1], '\n');
  json_t *j = json_loadb(line, len, 0, NULL);
  cr_assert_not_null(j, "%s", line);
  const char *msg = json_string_value(json_object_get(j, "msg"));
  if (msg && strcmp(msg, "log lines dropped") == 0) {
    s->warn_lines++;
    cr_assert_eq(level, API_LOG_WARN);
    s->reported += json_integer_value(json_object_get(j, "dropped"));
  }
  if (msg && strcmp(msg, "the end") == 0) s->fatal_seen = true;
  json_decref(j);
  pthread_mutex_unlock(&s->mu);
}

Test(log_sink, callback_async_and_flush) {
  sink_state s;
  sink_init(&s);
  api_logger *lg;
  cr_assert_eq(
      api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = on_line,
                                         .user_data = &s, .ignore_env = true)),
      0);
  for (int i = 0; i < 1000; i++) api_log(lg, API_LOG_ERROR, "x", API_LOG_INT("i", i));
  cr_assert_eq(api_logger_flush(lg), 0);
  cr_assert_eq(s.lines, 1000, "flush returns when every line is out");
  cr_assert_eq(s.last_level, API_LOG_ERROR);
  cr_assert_eq(api_logger_flush(lg), 0, "an idle flush returns");
  /* A fatal line is out when its call returns. */
  api_log(lg, API_LOG_FATAL, "the end");
  cr_assert(s.fatal_seen);
  cr_assert_eq(api_logger_flush(NULL), API_EINVAL);
  api_logger_free(lg);
}

/* A tiny buffer and a stalled sink: lines beyond the buffer are dropped, each one counted, and
 * the count is reported once the sink moves again. */
Test(log_sink, drops_are_counted_and_reported) {
  sink_state s;
  sink_init(&s);
  s.stall = true;
  api_logger *lg;
  cr_assert_eq(
      api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = on_line,
                                         .user_data = &s, .buffer_size = 100, .ignore_env = true)),
      0);
  api_log(lg, API_LOG_INFO, "first");
  pthread_mutex_lock(&s.mu);
  while (!s.stalled) pthread_cond_wait(&s.cv, &s.mu); /* the flusher is stuck in the callback */
  pthread_mutex_unlock(&s.mu);
  int ok = 0, dropped = 0;
  for (int i = 0; i < 1000; i++) {
    int rc = api_log_fields(lg, API_LOG_INFO, "filler", &API_LOG_INT("i", i), 1);
    cr_assert(rc == 0 || rc == API_EUNAVAILABLE, "rc %d", rc);
    if (rc == 0)
      ok++;
    else
      dropped++;
  }
  cr_assert_gt(ok, 10, "a 4 KiB buffer holds some lines");
  cr_assert_gt(dropped, 900);
  cr_assert_eq(api_logger_dropped(lg), (uint64_t)dropped);
  pthread_mutex_lock(&s.mu);
  s.stall = false;
  pthread_cond_broadcast(&s.cv);
  pthread_mutex_unlock(&s.mu);
  api_logger_flush(lg);
  cr_assert_eq(s.lines, (size_t)ok + 1 + 1, "first + queued lines + one report");
  cr_assert_eq(s.warn_lines, 1);
  cr_assert_eq(s.reported, dropped);
  api_logger_free(lg);
}

Test(log_sink, block_when_full_never_drops) {
  sink_state s;
  sink_init(&s);
  api_logger *lg;
  cr_assert_eq(
      api_logger_new(
          &lg, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = on_line, .user_data = &s,
                              .buffer_size = 4096, .block_when_full = true, .ignore_env = true)),
      0);
  for (int i = 0; i < 20000; i++) api_log(lg, API_LOG_INFO, "line", API_LOG_INT("i", i));
  api_logger_flush(lg);
  cr_assert_eq(s.lines, 20000);
  cr_assert_eq(api_logger_dropped(lg), 0);
  api_logger_free(lg);
}

/* ---- many threads ---- */

typedef struct {
  api_logger *lg;
  int id;
  int lines;
  int queued;
} writer_arg;

static void *writer(void *p) {
  writer_arg *a = p;
  char pad[300];
  memset(pad, 'a' + a->id, sizeof(pad));
  for (int i = 0; i < a->lines; i++) {
    /* Varying lengths, so records wrap around the ring at every offset. */
    int rc = api_log_fields(a->lg, API_LOG_INFO, "w",
                            (api_log_field[]){API_LOG_INT("t", a->id), API_LOG_INT("seq", i),
                                              API_LOG_STRN("pad", pad, (size_t)(i * 7 % 300))},
                            3);
    if (rc == 0) a->queued++;
  }
  return NULL;
}

typedef struct {
  int last[16];
  int count[16];
  size_t reports;
} order_state;

static void check_order(json_t *j, void *p) {
  order_state *o = p;
  json_t *t = json_object_get(j, "t");
  if (!t) { /* a drop report */
    o->reports++;
    return;
  }
  int id = (int)json_integer_value(t), seq = (int)json_integer_value(json_object_get(j, "seq"));
  cr_assert(seq > o->last[id], "thread %d: seq %d after %d", id, seq, o->last[id]);
  o->last[id] = seq;
  o->count[id]++;
  size_t padlen = strlen(json_string_value(json_object_get(j, "pad")));
  cr_assert_eq(padlen, (size_t)(seq * 7 % 300), "line is whole");
}

static void threads_test(bool block, size_t buffer) {
  const char *path = path_in("mt.log");
  api_logger *lg;
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .file_path = path,
                                                  .buffer_size = buffer, .block_when_full = block,
                                                  .ignore_env = true)),
               0);
  enum { N = 8 };
  pthread_t th[N];
  writer_arg args[N];
  for (int i = 0; i < N; i++) {
    args[i] = (writer_arg){.lg = lg, .id = i, .lines = 20000};
    cr_assert_eq(pthread_create(&th[i], NULL, writer, &args[i]), 0);
  }
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  uint64_t dropped = api_logger_dropped(lg);
  api_logger_free(lg); /* flushes; the threads' exited buffers are drained first */
  char *b = slurp(path, NULL);
  order_state o;
  memset(&o, 0, sizeof(o));
  for (int i = 0; i < N; i++) o.last[i] = -1;
  size_t lines = check_lines(b, check_order, &o);
  free(b);
  int queued = 0;
  for (int i = 0; i < N; i++) {
    cr_assert_eq(o.count[i], args[i].queued, "thread %d: every queued line is written", i);
    queued += args[i].queued;
  }
  cr_assert_eq((uint64_t)queued + dropped, (uint64_t)N * 20000);
  cr_assert_eq(lines, (size_t)queued + o.reports, "%zu lines, %d queued, %llu dropped", lines,
               queued, (unsigned long long)dropped);
  if (block) cr_assert_eq(dropped, 0);
}

Test(log_sink, threads_lines_whole_and_ordered) { threads_test(false, 1 << 20); }
Test(log_sink, threads_block_when_full) { threads_test(true, 8192); }

/* Small buffers drop under load: the counts still add up. */
Test(log_sink, threads_with_drops) {
  const char *path = path_in("mt.log");
  api_logger *lg;
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .file_path = path,
                                                  .buffer_size = 4096, .ignore_env = true)),
               0);
  enum { N = 4 };
  pthread_t th[N];
  writer_arg args[N];
  for (int i = 0; i < N; i++) {
    args[i] = (writer_arg){.lg = lg, .id = i, .lines = 20000};
    pthread_create(&th[i], NULL, writer, &args[i]);
  }
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  uint64_t dropped = api_logger_dropped(lg);
  api_logger_free(lg);
  char *b = slurp(path, NULL);
  order_state o;
  memset(&o, 0, sizeof(o));
  for (int i = 0; i < N; i++) o.last[i] = -1;
  size_t lines = check_lines(b, check_order, &o);
  long long reported = 0;
  for (char *p = b; (p = strstr(p, "\"dropped\":")); p++) reported += atoll(p + 10);
  free(b);
  int queued = 0;
  for (int i = 0; i < N; i++) {
    cr_assert_eq(o.count[i], args[i].queued);
    queued += args[i].queued;
  }
  cr_assert_eq((uint64_t)queued + dropped, (uint64_t)N * 20000);
  cr_assert_eq((uint64_t)reported, dropped, "every drop is reported");
  cr_assert_eq(lines, (size_t)queued + o.reports);
}

/* ---- threads that come and go ---- */

static void *short_lived(void *p) {
  api_logger *lg = p;
  api_log(lg, API_LOG_INFO, "hello from a short-lived thread");
  return NULL;
}

Test(log_sink, exited_threads_buffers_are_drained_and_freed) {
  const char *path = path_in("t.log");
  api_logger *lg = file_logger(path, false);
  for (int i = 0; i < 50; i++) {
    pthread_t t;
    pthread_create(&t, NULL, short_lived, lg);
    pthread_join(t, NULL);
  }
  api_logger_flush(lg);
  cr_assert_eq(count_lines(path), 50);
  api_logger_free(lg);
  /* A thread that outlives its logger frees its buffer when it exits (ASan checks). */
}

/* One thread, many loggers: more than its cache holds. */
Test(log_sink, many_loggers_one_thread) {
  enum { N = 20 };
  api_logger *lg[N];
  char name[N][32];
  for (int i = 0; i < N; i++) {
    snprintf(name[i], sizeof(name[i]), "l%d.log", i);
    lg[i] = file_logger(path_in(name[i]), false);
  }
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < N; i++) api_log(lg[i], API_LOG_INFO, "m", API_LOG_INT("round", round));
  for (int i = 0; i < N; i++) api_logger_free(lg[i]);
  for (int i = 0; i < N; i++) cr_assert_eq(count_lines(path_in(name[i])), 3, "logger %d", i);
}

/* ---- stderr and free ---- */

Test(log_sink, stderr_sink_and_free_flushes) {
  const char *path = path_in("err.log");
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
  api_logger *lg;
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.ignore_env = true)), 0);
  for (int i = 0; i < 1000; i++) api_log(lg, API_LOG_INFO, "to stderr", API_LOG_INT("i", i));
  api_log(lg, API_LOG_DEBUG, "filtered");
  api_logger_free(lg); /* no flush: free writes everything out */
  dup2(saved, STDERR_FILENO);
  close(saved);
  char *b = slurp(path, NULL);
  cr_assert_eq(check_lines(b, NULL, NULL), 1000, "%.300s", b);
  free(b);
}

Test(log_sink, syslog_sink_smoke) {
  api_logger *lg;
  cr_assert_eq(
      api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_SYSLOG, .syslog_ident = "libapi-test",
                                         .ignore_env = true)),
      0);
  api_log(lg, API_LOG_DEBUG, "not written");
  api_log(lg, API_LOG_WARN, "libapi syslog test", API_LOG_STR("k", "v\n"));
  cr_assert_eq(api_logger_flush(lg), 0);
  api_logger_free(lg);
}

Test(log_sink, sighup_registration) {
  api_logger *lg[17];
  int i;
  for (i = 0; i < 17; i++) {
    cr_assert_eq(api_logger_new(&lg[i], API_LOG_CONFIG(.sync = true, .ignore_env = true)), 0);
    int rc = api_logger_reopen_on_sighup(lg[i]);
    if (i < 16)
      cr_assert_eq(rc, 0);
    else
      cr_assert_eq(rc, API_EEXIST);
  }
  cr_assert_eq(api_logger_reopen_on_sighup(lg[0]), 0, "registering twice is fine");
  api_logger_free(lg[3]); /* frees a slot */
  cr_assert_eq(api_logger_reopen_on_sighup(lg[16]), 0);
  cr_assert_eq(raise(SIGHUP), 0); /* handled, not fatal */
  for (i = 0; i < 17; i++)
    if (i != 3) api_logger_free(lg[i]);
  cr_assert_eq(raise(SIGHUP), 0, "no registered logger: ignored");
  cr_assert_eq(api_logger_reopen_on_sighup(NULL), API_EINVAL);
}

/* ---- allocation failure ---- */

Test(log_sink, logger_new_allocation_failure) {
  const char *keys[] = {"a", "b", "c"};
  int failures = 0;
  for (long nth = 0;; nth++) {
    api_logger *lg = (api_logger *)1;
    api__alloc_fail_nth(nth);
    int rc = api_logger_new(
        &lg, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .file_path = path_in("af.log"),
                            .redact_keys = keys, .redact_count = 3, .ignore_env = true));
    api__alloc_fail_after(-1);
    if (rc == 0) {
      api_log(lg, API_LOG_INFO, "ok");
      api_logger_free(lg);
      break;
    }
    cr_assert_eq(rc, API_ENOMEM, "allocation %ld: %d", nth, rc);
    cr_assert_null(lg);
    failures++;
    cr_assert_lt(nth, 100);
  }
  cr_assert_geq(failures, 6, "root, path, keys array, three keys, batch buffer");
  cr_assert_eq(count_lines(path_in("af.log")), 1);
}

Test(log_sink, child_and_buffer_allocation_failure) {
  api_logger *lg = file_logger(path_in("af.log"), false);
  api_logger *child = (api_logger *)1;
  for (long nth = 0; nth < 2; nth++) {
    api__alloc_fail_nth(nth);
    cr_assert_eq(api_logger_child(&child, lg, &API_LOG_STR("k", "v"), 1), API_ENOMEM);
    cr_assert_null(child);
  }
  /* The first line of a thread allocates its buffer. */
  api__alloc_fail_after(0);
  cr_assert_eq(api_log_fields(lg, API_LOG_INFO, "lost", NULL, 0), API_ENOMEM);
  cr_assert_eq(api_logger_dropped(lg), 1);
  api__alloc_fail_after(-1);
  cr_assert_eq(api_log_fields(lg, API_LOG_INFO, "kept", NULL, 0), 0);
  api_logger_free(lg);
  char *b = slurp(path_in("af.log"), NULL);
  cr_assert(strstr(b, "kept") && !strstr(b, "lost"), "%s", b);
  cr_assert(strstr(b, "\"msg\":\"log lines dropped\",\"dropped\":1}"), "%s", b);
  free(b);
}
