/* Loggers: configuration, per-thread line buffers, the background flusher, sinks, child loggers
 * and the audit call.
 *
 * Each logging thread owns one single-producer/single-consumer ring per root logger, found
 * through a small thread-local cache. A log call formats its line into the thread's scratch
 * buffer, then copies it into the ring as one record [u32 length][u32 level][line\n\0], padded
 * to 8 bytes, and publishes it by advancing `head`. The flusher thread reads records up to
 * `head`, hands them to the sink and advances `tail`. A record is published whole or not at all,
 * so lines never tear, and the flusher writes one record at a time, so lines never interleave.
 * A full ring drops the line (or, with block_when_full, waits for the flusher).
 *
 * Rings are reference-counted (the root and the owning thread): a thread that exits marks its
 * ring abandoned and the flusher frees it once empty; a root freed before the thread exits leaves
 * the last reference to the thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "log/log_internal.h"
#include "util/alloc.h"

#define DEFAULT_BUFFER (256u * 1024u)
#define MIN_BUFFER 4096u
#define MAX_BUFFER (1u << 30)
#define OUT_CAP (64u * 1024u)
#define WRAP_MARK UINT32_MAX
#define CACHE_SLOTS 8
#define HUP_SLOTS 16
#define NAP_MS 1

struct api__log_tbuf {
  _Atomic size_t head; /* written by the owning thread */
  char pad1[64 - sizeof(size_t)];
  _Atomic size_t tail; /* written by the flusher */
  char pad2[64 - sizeof(size_t)];
  char *ring; /* NULL in sync mode */
  size_t cap; /* power of two */
  char *scratch;
  size_t scratch_cap;
  atomic_int refs;
  atomic_bool abandoned;
  api__log_tbuf *next; /* in the root's list; changed under root->mu */
};

struct api__log_root {
  api_logger lg; /* the root's own handle: first, so the allocation is the handle */
  uint64_t id;   /* unique per root, never reused: the key of the thread-local cache */
  atomic_int level;
  api__fmt fmt;
  api__redact redact;
  api_log_sink sink;
  char *path;
  api_log_sink_fn cb;
  void *cb_data;
  bool sync, block, syslog_open;
  size_t cap, max_line;
  int fd;
  atomic_bool reopen;

  pthread_mutex_t mu; /* the buffer list, flush counters, waits */
  pthread_cond_t flushed;
  pthread_cond_t space;
  pthread_mutex_t sink_mu; /* sync mode: one writer at a time */
  api__log_tbuf *bufs;
  uint64_t flush_req, flush_done;
  atomic_int blocked;

  pthread_t thread;
  bool thread_started;
  int wake[2];
  atomic_bool sleeping;
  atomic_bool stop;

  _Atomic uint64_t dropped;
  uint64_t reported;
  char *out; /* fd sinks: lines batched into one write */
  size_t out_len;
  char report[256]; /* the drop report line */
};

static _Atomic uint64_t next_root_id = 1;

/* ---- per-thread buffers ---- */

typedef struct {
  uint64_t id;
  api__log_tbuf *b;
} tl_entry;

static _Thread_local tl_entry tl_cache[CACHE_SLOTS];
static _Thread_local unsigned tl_evict;
static _Thread_local bool tl_registered;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tbuf_free(api__log_tbuf *b) {
  api__free(b->ring);
  api__free(b->scratch);
  api__free(b);
}

static void tbuf_unref(api__log_tbuf *b) {
  if (atomic_fetch_sub(&b->refs, 1) == 1) tbuf_free(b);
}

/* The thread is done with b: the flusher frees it once drained (or the root already let go). */
static void tbuf_release(api__log_tbuf *b) {
  atomic_store(&b->abandoned, true);
  tbuf_unref(b);
}

static void tl_destroy(void *p) {
  tl_entry *c = p;
  for (int i = 0; i < CACHE_SLOTS; i++) {
    if (c[i].b) tbuf_release(c[i].b);
    c[i].b = NULL;
    c[i].id = 0;
  }
}

static void tl_make_key(void) { (void)pthread_key_create(&tl_key, tl_destroy); }

static api__log_tbuf *tbuf_new(api__log_root *r) {
  api__log_tbuf *b = api__calloc(1, sizeof(*b));
  if (!b) return NULL;
  b->scratch_cap = r->max_line < 4096 ? r->max_line : 4096;
  b->scratch = api__malloc(b->scratch_cap);
  if (!r->sync) {
    b->cap = r->cap;
    b->ring = api__malloc(b->cap);
  }
  if (!b->scratch || (!r->sync && !b->ring)) {
    tbuf_free(b);
    return NULL;
  }
  atomic_init(&b->refs, 2);
  return b;
}

static api__log_tbuf *tbuf_get(api__log_root *r) {
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (tl_cache[i].id == r->id) return tl_cache[i].b;
  pthread_once(&tl_once, tl_make_key);
  api__log_tbuf *b = tbuf_new(r);
  if (!b) return NULL;
  pthread_mutex_lock(&r->mu);
  b->next = r->bufs;
  r->bufs = b;
  pthread_mutex_unlock(&r->mu);
  int slot = -1;
  for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
    if (!tl_cache[i].b) slot = i;
  if (slot < 0) {
    slot = (int)(tl_evict++ % CACHE_SLOTS);
    tbuf_release(tl_cache[slot].b);
  }
  tl_cache[slot].id = r->id;
  tl_cache[slot].b = b;
  if (!tl_registered) {
    pthread_setspecific(tl_key, tl_cache);
    tl_registered = true;
  }
  return b;
}

/* ---- sinks (flusher thread, or the sink lock in sync mode) ---- */

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, 1000) <= 0) return; /* a stuck sink loses this batch */
    } else {
      return; /* disk full, closed descriptor: nothing better to do with a log line */
    }
  }
}

static void out_flush(api__log_root *r) {
  if (r->out_len) write_all(r->fd, r->out, r->out_len);
  r->out_len = 0;
}

static int syslog_prio(int level) {
  switch (level) {
    case API_LOG_TRACE:
    case API_LOG_DEBUG:
      return LOG_DEBUG;
    case API_LOG_INFO:
      return LOG_INFO;
    case API_LOG_WARN:
      return LOG_WARNING;
    case API_LOG_ERROR:
      return LOG_ERR;
    default:
      return LOG_CRIT;
  }
}

/* One line (with its '\n'; line[len] is '\0') to the sink. */
static void sink_line(api__log_root *r, int level, const char *line, size_t len) {
  switch (r->sink) {
    case API_LOG_SINK_CALLBACK:
      r->cb((api_log_level)level, line, len, r->cb_data);
      break;
    case API_LOG_SINK_SYSLOG:
      syslog(syslog_prio(level), "%.*s", (int)(len - 1), line);
      break;
    default:
      if (r->out_len + len > OUT_CAP) out_flush(r);
      if (len > OUT_CAP) {
        write_all(r->fd, line, len);
      } else {
        memcpy(r->out + r->out_len, line, len);
        r->out_len += len;
      }
  }
}

static int open_file(const char *path) {
  return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
}

static void sink_reopen(api__log_root *r) {
  if (r->sink != API_LOG_SINK_FILE) return;
  out_flush(r);
  int fd = open_file(r->path);
  if (fd < 0) return; /* keep writing to the old file; the next SIGHUP retries */
  close(r->fd);
  r->fd = fd;
}

/* Write "log lines dropped" if lines were dropped since the last report. */
static void report_drops(api__log_root *r) {
  uint64_t d = atomic_load(&r->dropped);
  if (d == r->reported || atomic_load(&r->level) >= API_LOG_OFF) return;
  api_log_field f = API_LOG_UINT("dropped", d - r->reported);
  r->reported = d;
  api__lbuf b = {.p = r->report, .cap = sizeof(r->report) - 1};
  api__log_begin(&b, &r->fmt, api__log_now_ms(), API_LOG_WARN, "log lines dropped");
  api__log_put_fields(&b, &r->fmt, &f, 1);
  api__log_end(&b, &r->fmt);
  b.p[b.len] = '\0';
  sink_line(r, API_LOG_WARN, b.p, b.len);
}

/* ---- the flusher ---- */

static size_t rec_size(size_t len) { return (8 + len + 1 + 7) & ~(size_t)7; }

/* Hand every record published in b to the sink. Returns whether there were any. */
static bool drain(api__log_root *r, api__log_tbuf *b) {
  size_t head = atomic_load_explicit(&b->head, memory_order_acquire);
  size_t tail = atomic_load_explicit(&b->tail, memory_order_relaxed);
  if (head == tail) return false;
  while (tail != head) {
    size_t pos = tail & (b->cap - 1);
    uint32_t hdr[2];
    memcpy(hdr, b->ring + pos, 8);
    if (hdr[0] == WRAP_MARK) {
      tail += b->cap - pos;
    } else {
      sink_line(r, (int)hdr[1], b->ring + pos + 8, hdr[0]);
      tail += rec_size(hdr[0]);
    }
    if (r->block) atomic_store_explicit(&b->tail, tail, memory_order_release);
  }
  out_flush(r); /* a record is out of the ring only once it is written */
  atomic_store_explicit(&b->tail, tail, memory_order_release);
  if (atomic_load(&r->blocked)) {
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->space);
    pthread_mutex_unlock(&r->mu);
  }
  return true;
}

/* One pass over every buffer; frees the abandoned ones that are empty. */
static bool drain_all(api__log_root *r) {
  bool any = false;
  pthread_mutex_lock(&r->mu);
  api__log_tbuf *b = r->bufs;
  pthread_mutex_unlock(&r->mu);
  /* New buffers are pushed at the head; only this thread unlinks, so the walk is safe. */
  for (; b; b = b->next) any |= drain(r, b);
  pthread_mutex_lock(&r->mu);
  for (api__log_tbuf **pp = &r->bufs; *pp;) {
    api__log_tbuf *t = *pp;
    if (atomic_load(&t->abandoned) && atomic_load(&t->head) == atomic_load(&t->tail)) {
      *pp = t->next;
      tbuf_unref(t);
    } else {
      pp = &t->next;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return any;
}

static bool has_data(api__log_root *r) {
  pthread_mutex_lock(&r->mu);
  bool data = r->flush_req != r->flush_done;
  for (api__log_tbuf *b = r->bufs; b && !data; b = b->next)
    data = atomic_load(&b->head) != atomic_load(&b->tail);
  pthread_mutex_unlock(&r->mu);
  return data;
}

static void wait_for_work(api__log_root *r) {
  atomic_store(&r->sleeping, true);
  if (!has_data(r) && !atomic_load(&r->stop) && !atomic_load(&r->reopen)) {
    struct pollfd pfd = {.fd = r->wake[0], .events = POLLIN};
    (void)poll(&pfd, 1, 1000);
    char tmp[64];
    while (read(r->wake[0], tmp, sizeof(tmp)) > 0) {
    }
  }
  atomic_store(&r->sleeping, false);
}

static void *flusher_main(void *arg) {
  api__log_root *r = arg;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    uint64_t req = r->flush_req;
    pthread_mutex_unlock(&r->mu);
    if (atomic_exchange(&r->reopen, false)) {
      drain_all(r); /* what was logged before the request goes to the old file */
      sink_reopen(r);
    }
    /* Read stop before draining: a line logged after this pass's drain but before stop was set
     * must still be written by one more pass. */
    bool stopping = atomic_load(&r->stop);
    bool any = drain_all(r);
    report_drops(r);
    out_flush(r);
    pthread_mutex_lock(&r->mu);
    r->flush_done = req;
    pthread_cond_broadcast(&r->flushed);
    pthread_mutex_unlock(&r->mu);
    if (stopping) {
      if (!any) break;
    } else if (!any) {
      wait_for_work(r);
    } else if (!atomic_load(&r->blocked)) {
      /* Busy: let lines gather for a moment rather than wake for each one. Flush requests,
       * blocked writers, half-full buffers and reopen requests cut the nap short. */
      struct pollfd pfd = {.fd = r->wake[0], .events = POLLIN};
      if (poll(&pfd, 1, NAP_MS) > 0) {
        char tmp[64];
        while (read(r->wake[0], tmp, sizeof(tmp)) > 0) {
        }
      }
    }
  }
  return NULL;
}

/* Wake the flusher if it sleeps (force: whether or not). Async-signal-safe. */
static void wake(api__log_root *r, bool force) {
  if (force || (atomic_load(&r->sleeping) && atomic_exchange(&r->sleeping, false))) {
    int e = errno;
    ssize_t w = write(r->wake[1], "", 1);
    (void)w; /* a full pipe already holds a wake-up */
    errno = e;
  }
}

/* ---- writing a line ---- */

static bool room(api__log_tbuf *b, size_t need) {
  size_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
  size_t tail = atomic_load_explicit(&b->tail, memory_order_acquire);
  size_t contig = b->cap - (head & (b->cap - 1));
  size_t total = need <= contig ? need : contig + need;
  return (head - tail) + total <= b->cap;
}

static void wait_room(api__log_root *r, api__log_tbuf *b, size_t need) {
  pthread_mutex_lock(&r->mu);
  atomic_fetch_add(&r->blocked, 1);
  while (!room(b, need)) {
    wake(r, true);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->space, &r->mu, &ts);
  }
  atomic_fetch_sub(&r->blocked, 1);
  pthread_mutex_unlock(&r->mu);
}

/* Copy one formatted line (line[len - 1] == '\n') into b's ring. */
static int enqueue(api__log_root *r, api__log_tbuf *b, int level, const char *line, size_t len,
                   bool block) {
  size_t need = rec_size(len);
  if (!room(b, need)) {
    if (!block) {
      atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
      wake(r, false);
      return API_EUNAVAILABLE;
    }
    wait_room(r, b, need);
  }
  size_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
  size_t pos = head & (b->cap - 1);
  if (need > b->cap - pos) {
    uint32_t mark = WRAP_MARK;
    memcpy(b->ring + pos, &mark, 4);
    head += b->cap - pos;
    pos = 0;
  }
  uint32_t hdr[2] = {(uint32_t)len, (uint32_t)level};
  memcpy(b->ring + pos, hdr, 8);
  memcpy(b->ring + pos + 8, line, len);
  b->ring[pos + 8 + len] = '\0';
  /* seq_cst, paired with the flusher's store of `sleeping` then re-check of the heads. */
  atomic_store(&b->head, head + need);
  size_t used = head + need - atomic_load_explicit(&b->tail, memory_order_relaxed);
  wake(r, used >= b->cap / 2 && used - need < b->cap / 2); /* crossed half full: now */
  return 0;
}

static void emit_bound(api__lbuf *o, const api__fmt *fmt, const api_logger *lg) {
  if (lg->prefix) {
    api__lbuf_put(o, lg->prefix, lg->prefix_len);
    return;
  }
  if (lg->up) emit_bound(o, fmt, lg->up);
  api__log_put_fields(o, fmt, lg->fields, lg->nfields);
}

typedef struct {
  int64_t ms;
  const api_log_field *f1, *f2;
  size_t n1, n2;
  bool block; /* wait for room instead of dropping */
} line_args;

static void format_line(api__lbuf *o, api__log_root *r, const api_logger *lg, api_log_level level,
                        const char *msg, const line_args *a) {
  api__log_begin(o, &r->fmt, a->ms, level, msg);
  emit_bound(o, &r->fmt, lg);
  api__log_put_fields(o, &r->fmt, a->f1, a->n1);
  api__log_put_fields(o, &r->fmt, a->f2, a->n2);
  api__log_end(o, &r->fmt);
}

static int write_line(api_logger *lg, api_log_level level, const char *msg, const line_args *a) {
  api__log_root *r = lg->root;
  api__log_tbuf *b = tbuf_get(r);
  if (!b) {
    atomic_fetch_add(&r->dropped, 1);
    return API_ENOMEM;
  }
  api__lbuf o;
  for (;;) {
    o = (api__lbuf){.p = b->scratch, .cap = b->scratch_cap - 1};
    format_line(&o, r, lg, level, msg, a);
    if (!o.over) break;
    size_t ncap = b->scratch_cap * 2;
    if (ncap > r->max_line) ncap = r->max_line;
    char *p = ncap > b->scratch_cap ? api__realloc(b->scratch, ncap) : NULL;
    if (!p) { /* longer than a line may be, or out of memory */
      atomic_fetch_add(&r->dropped, 1);
      if (!r->sync) wake(r, false);
      return API_EUNAVAILABLE;
    }
    b->scratch = p;
    b->scratch_cap = ncap;
  }
  if (!r->sync) return enqueue(r, b, (int)level, o.p, o.len, a->block);
  o.p[o.len] = '\0';
  pthread_mutex_lock(&r->sink_mu);
  if (atomic_exchange(&r->reopen, false)) sink_reopen(r);
  report_drops(r);
  sink_line(r, (int)level, o.p, o.len);
  out_flush(r);
  pthread_mutex_unlock(&r->sink_mu);
  return 0;
}

/* ---- public calls ---- */

bool api_log_enabled(const api_logger *lg, api_log_level level) {
  return lg && level >= API_LOG_TRACE && level < API_LOG_OFF &&
         (int)level >= atomic_load_explicit(&lg->root->level, memory_order_relaxed);
}

int api_log_fields(api_logger *lg, api_log_level level, const char *msg, const api_log_field *f,
                   size_t n) {
  if (!lg || !msg || (!f && n)) return API_EINVAL;
  if (!api_log_enabled(lg, level)) return 0;
  line_args a = {.ms = api__log_now_ms(), .f1 = f, .n1 = n, .block = lg->root->block};
  int rc = write_line(lg, level, msg, &a);
  if (level == API_LOG_FATAL && rc == 0) api_logger_flush(lg);
  return rc;
}

int api_audit(api_logger *lg, const api_audit_event *ev) {
  if (!lg || !ev) return API_EINVAL;
  if (!ev->action || (ev->result != API_AUDIT_SUCCESS && ev->result != API_AUDIT_FAILURE))
    return api__fail(API_EINVAL, "api_audit: an event needs an action and a result");
  if (ev->nfields && !ev->fields) return API_EINVAL;
  if (atomic_load(&lg->root->level) >= API_LOG_OFF) return 0;
  api_log_field f[8];
  size_t n = 0;
  f[n++] = API_LOG_BOOL("audit", true);
  if (ev->actor) f[n++] = API_LOG_STR("actor", ev->actor);
  f[n++] = API_LOG_STR("action", ev->action);
  if (ev->target) f[n++] = API_LOG_STR("target", ev->target);
  if (ev->client) f[n++] = API_LOG_STR("client", ev->client);
  f[n++] = API_LOG_STR("result", ev->result == API_AUDIT_SUCCESS ? "success" : "failure");
  if (ev->reason) f[n++] = API_LOG_STR("reason", ev->reason);
  if (ev->request_id) f[n++] = API_LOG_STR("request_id", ev->request_id);
  line_args a = {.ms = ev->time_ms ? ev->time_ms : api__log_now_ms(),
                 .f1 = f,
                 .n1 = n,
                 .f2 = ev->fields,
                 .n2 = ev->nfields,
                 .block = true};
  int rc = write_line(lg, API_LOG_INFO, "audit", &a);
  return rc == API_EUNAVAILABLE ? api__fail(API_EINVAL, "api_audit: the line is too long") : rc;
}

void api_logger_set_level(api_logger *lg, api_log_level level) {
  if (!lg || level < API_LOG_TRACE || level > API_LOG_OFF) return;
  atomic_store(&lg->root->level, (int)level);
}

api_log_level api_logger_level(const api_logger *lg) {
  return lg ? (api_log_level)atomic_load(&lg->root->level) : API_LOG_OFF;
}

const char *api_log_level_name(api_log_level level) {
  static const char *const names[] = {"trace", "debug", "info", "warn", "error", "fatal", "off"};
  if (level < API_LOG_TRACE || level > API_LOG_OFF) return "unknown";
  return names[level - API_LOG_TRACE];
}

int api_logger_flush(api_logger *lg) {
  if (!lg) return API_EINVAL;
  api__log_root *r = lg->root;
  if (r->sync) return 0; /* every line is out when its call returns */
  pthread_mutex_lock(&r->mu);
  uint64_t my = ++r->flush_req;
  wake(r, true);
  while (r->flush_done < my) pthread_cond_wait(&r->flushed, &r->mu);
  pthread_mutex_unlock(&r->mu);
  return 0;
}

uint64_t api_logger_dropped(const api_logger *lg) {
  return lg ? atomic_load(&lg->root->dropped) : 0;
}

void api_logger_reopen(api_logger *lg) {
  if (!lg) return;
  api__log_root *r = lg->root;
  atomic_store(&r->reopen, true);
  if (!r->sync) wake(r, true);
}

/* ---- SIGHUP ---- */

static _Atomic(api_logger *) hup_loggers[HUP_SLOTS];
static atomic_bool hup_installed;

static void on_sighup(int sig) {
  (void)sig;
  for (int i = 0; i < HUP_SLOTS; i++) {
    api_logger *lg = atomic_load(&hup_loggers[i]);
    if (lg) api_logger_reopen(lg);
  }
}

int api_logger_reopen_on_sighup(api_logger *lg) {
  if (!lg) return API_EINVAL;
  lg = &lg->root->lg;
  int slot = -1;
  for (int i = 0; i < HUP_SLOTS && slot < 0; i++) {
    api_logger *expect = NULL;
    if (atomic_load(&hup_loggers[i]) == lg) return 0;
    if (atomic_compare_exchange_strong(&hup_loggers[i], &expect, lg)) slot = i;
  }
  if (slot < 0) return api__fail(API_EEXIST, "api_logger_reopen_on_sighup: too many loggers");
  if (!atomic_exchange(&hup_installed, true)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGHUP, &sa, NULL) != 0) {
      atomic_store(&hup_installed, false);
      atomic_store(&hup_loggers[slot], NULL);
      return api__fail(API_ESYS, "sigaction(SIGHUP): %s", strerror(errno));
    }
  }
  return 0;
}

static void hup_forget(api_logger *lg) {
  for (int i = 0; i < HUP_SLOTS; i++) {
    api_logger *expect = lg;
    atomic_compare_exchange_strong(&hup_loggers[i], &expect, NULL);
  }
}

/* ---- children ---- */

api_logger *api__logger_child_init(api__logger_child_storage *s, api_logger *parent,
                                   const api_log_field *f, size_t n) {
  *s = (api_logger){.root = parent->root, .up = parent, .fields = f, .nfields = f ? n : 0};
  return s;
}

int api_logger_child(api_logger **out, api_logger *parent, const api_log_field *f, size_t n) {
  if (!out) return API_EINVAL;
  *out = NULL;
  if (!parent || (!f && n)) return API_EINVAL;
  api__log_root *r = parent->root;
  api_logger *c = api__calloc(1, sizeof(*c));
  if (!c) return API_ENOMEM;
  size_t cap = 256;
  for (;;) {
    char *p = api__malloc(cap);
    if (!p) break;
    api__lbuf o = {.p = p, .cap = cap};
    emit_bound(&o, &r->fmt, parent);
    api__log_put_fields(&o, &r->fmt, f, n);
    if (!o.over) {
      c->prefix = p;
      c->prefix_len = o.len;
      break;
    }
    api__free(p);
    cap *= 2;
  }
  if (!c->prefix) {
    api__free(c);
    return API_ENOMEM;
  }
  c->root = r;
  c->owned = true;
  *out = c;
  return 0;
}

/* ---- creating and freeing roots ---- */

static int parse_level(const char *s, int *out) {
  static const char *const names[] = {"trace", "debug", "info", "warn", "error", "fatal", "off"};
  for (int i = 0; i < 7; i++) {
    if (strcasecmp(s, names[i]) == 0) {
      *out = API_LOG_TRACE + i;
      return 0;
    }
  }
  if (strcasecmp(s, "warning") == 0) {
    *out = API_LOG_WARN;
    return 0;
  }
  return -1;
}

static void root_free(api__log_root *r) {
  for (api__log_tbuf *b = r->bufs, *next; b; b = next) {
    next = b->next;
    tbuf_unref(b);
  }
  for (size_t i = 0; i < r->redact.n; i++) api__free(r->redact.keys[i]);
  api__free(r->redact.keys);
  api__free(r->path);
  api__free(r->out);
  if (r->sink == API_LOG_SINK_FILE && r->fd >= 0) close(r->fd);
  if (r->wake[0] >= 0) close(r->wake[0]);
  if (r->wake[1] >= 0) close(r->wake[1]);
  pthread_mutex_destroy(&r->mu);
  pthread_mutex_destroy(&r->sink_mu);
  pthread_cond_destroy(&r->flushed);
  pthread_cond_destroy(&r->space);
  api__free(r);
}

static int configure(api__log_root *r, const api_log_config *in) {
  api_log_config c = {0};
  if (in) {
    if (in->size == 0 || in->size > sizeof(c))
      return api__fail(API_EINVAL, "api_log_config: bad size (use API_LOG_CONFIG)");
    memcpy(&c, in, in->size);
  }
  int level = c.level ? (int)c.level : API_LOG_INFO;
  int format = c.format ? (int)c.format : API_LOG_FORMAT_JSON;
  if (!c.ignore_env) {
    const char *e = getenv("API_LOG_LEVEL");
    if (e && *e && parse_level(e, &level) != 0)
      return api__fail(API_EINVAL,
                       "API_LOG_LEVEL=%.40s: expected trace, debug, info, warn, "
                       "error, fatal or off",
                       e);
    e = getenv("API_LOG_FORMAT");
    if (e && *e) {
      if (strcasecmp(e, "json") == 0)
        format = API_LOG_FORMAT_JSON;
      else if (strcasecmp(e, "pretty") == 0)
        format = API_LOG_FORMAT_PRETTY;
      else
        return api__fail(API_EINVAL, "API_LOG_FORMAT=%.40s: expected json or pretty", e);
    }
  }
  if (level < API_LOG_TRACE || level > API_LOG_OFF)
    return api__fail(API_EINVAL, "api_log_config: bad level %d", level);
  if (format != API_LOG_FORMAT_JSON && format != API_LOG_FORMAT_PRETTY)
    return api__fail(API_EINVAL, "api_log_config: bad format %d", format);
  if (c.redact_count && !c.redact_keys)
    return api__fail(API_EINVAL, "api_log_config: redact_count without redact_keys");
  if ((unsigned)c.redact > API_LOG_REDACT_NONE || (unsigned)c.color > API_LOG_COLOR_OFF)
    return api__fail(API_EINVAL, "api_log_config: bad redact or color value");
  atomic_init(&r->level, level);
  r->fmt.format = (api_log_format)format;
  r->sink = c.sink;
  r->sync = c.sync;
  r->block = c.block_when_full;
  size_t want = c.buffer_size ? c.buffer_size : DEFAULT_BUFFER;
  if (want < MIN_BUFFER) want = MIN_BUFFER;
  if (want > MAX_BUFFER) want = MAX_BUFFER;
  r->cap = MIN_BUFFER;
  while (r->cap < want) r->cap *= 2;
  r->max_line = r->cap / 2 - 16;

  if (c.redact != API_LOG_REDACT_NONE) {
    r->redact.builtin = c.redact == API_LOG_REDACT_DEFAULT;
    if (c.redact_count) {
      r->redact.keys = api__calloc(c.redact_count, sizeof(char *));
      if (!r->redact.keys) return API_ENOMEM;
      for (size_t i = 0; i < c.redact_count; i++) {
        if (!c.redact_keys[i]) return api__fail(API_EINVAL, "api_log_config: NULL redact key");
        char *k = api__strdup(c.redact_keys[i]);
        if (!k) return API_ENOMEM;
        for (char *p = k; *p; p++)
          if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        r->redact.keys[r->redact.n++] = k;
      }
    }
    r->fmt.redact = &r->redact;
  }

  switch (c.sink) {
    case API_LOG_SINK_STDERR:
      r->fd = STDERR_FILENO;
      break;
    case API_LOG_SINK_FILE:
      if (!c.file_path || !*c.file_path)
        return api__fail(API_EINVAL, "api_log_config: the file sink needs file_path");
      if (!(r->path = api__strdup(c.file_path))) return API_ENOMEM;
      r->fd = open_file(r->path);
      if (r->fd < 0)
        return api__fail(API_ESYS, "cannot open log file %s: %s", r->path, strerror(errno));
      break;
    case API_LOG_SINK_SYSLOG:
      break;
    case API_LOG_SINK_CALLBACK:
      if (!c.callback)
        return api__fail(API_EINVAL, "api_log_config: the callback sink needs a callback");
      r->cb = c.callback;
      r->cb_data = c.user_data;
      break;
    default:
      return api__fail(API_EINVAL, "api_log_config: bad sink %d", (int)c.sink);
  }
  if (c.sink == API_LOG_SINK_STDERR || c.sink == API_LOG_SINK_FILE) {
    if (!(r->out = api__malloc(OUT_CAP))) return API_ENOMEM;
  }
  bool tty = (c.sink == API_LOG_SINK_STDERR || c.sink == API_LOG_SINK_FILE) && isatty(r->fd);
  r->fmt.color = r->fmt.format == API_LOG_FORMAT_PRETTY &&
                 (c.color == API_LOG_COLOR_ON || (c.color == API_LOG_COLOR_AUTO && tty));
  if (c.sink == API_LOG_SINK_SYSLOG) {
    /* openlog keeps the ident pointer: a literal, or the caller's string for the process. */
    openlog(c.syslog_ident ? c.syslog_ident : "libapi", LOG_PID | LOG_NDELAY,
            c.syslog_facility ? c.syslog_facility : LOG_USER);
  }
  return 0;
}

int api_logger_new(api_logger **out, const api_log_config *cfg) {
  if (!out) return API_EINVAL;
  *out = NULL;
  api__log_root *r = api__calloc(1, sizeof(*r));
  if (!r) return API_ENOMEM;
  r->fd = -1;
  r->wake[0] = r->wake[1] = -1;
  pthread_mutex_init(&r->mu, NULL);
  pthread_mutex_init(&r->sink_mu, NULL);
  pthread_cond_init(&r->flushed, NULL);
  pthread_cond_init(&r->space, NULL);
  r->id = atomic_fetch_add(&next_root_id, 1);
  r->lg.root = r;
  r->lg.is_root = true;
  int rc = configure(r, cfg);
  if (rc == 0 && !r->sync) {
    if (pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
      rc = api__fail(API_ESYS, "pipe2: %s", strerror(errno));
    } else {
      /* The flusher takes no signals: they belong to the program's own threads. */
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      int e = pthread_create(&r->thread, NULL, flusher_main, r);
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      if (e != 0)
        rc = api__fail(API_ESYS, "cannot start the log thread: %s", strerror(e));
      else
        r->thread_started = true;
    }
  }
  if (rc != 0) {
    root_free(r);
    return rc;
  }
  *out = &r->lg;
  return 0;
}

void api_logger_free(api_logger *lg) {
  if (!lg) return;
  if (!lg->is_root) {
    if (lg->owned) {
      api__free(lg->prefix);
      api__free(lg);
    }
    return;
  }
  api__log_root *r = lg->root;
  hup_forget(lg);
  if (r->thread_started) {
    atomic_store(&r->stop, true);
    wake(r, true);
    pthread_join(r->thread, NULL);
  }
  report_drops(r);
  out_flush(r);
  /* This thread's reference: drop it now rather than at thread exit (the main thread's
   * thread-local destructors never run). Other threads drop theirs when they exit. */
  for (int i = 0; i < CACHE_SLOTS; i++) {
    if (tl_cache[i].id == r->id) {
      tbuf_release(tl_cache[i].b);
      tl_cache[i].id = 0;
      tl_cache[i].b = NULL;
    }
  }
  root_free(r);
}
