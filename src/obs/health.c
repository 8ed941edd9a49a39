/* Health/readiness checks: each run of a check is a job in a detached thread, waited for with a
 * deadline. A job is reference-counted (the runner, its thread, the check's "last run" pointer),
 * so a check that outlives its deadline, or the registry, frees its job when it returns. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "obs/obs_internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#define MSG_SIZE 256

typedef struct hjob {
  atomic_int refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done; /* under mu */
  int rc;
  double duration_ms;
  struct timespec start;
  api_health_check_fn fn;
  void *user_data;
  char msg[MSG_SIZE];
} hjob;

typedef struct hcheck {
  char *name;
  api_health_check_fn fn;
  void *user_data;
  uint32_t timeout_ms;
  hjob *last; /* the latest run, possibly still going; under the registry's lock */
  struct hcheck *next;
} hcheck;

struct api_health {
  pthread_mutex_t mu; /* the checks; held for a whole run, so runs take turns */
  atomic_int draining;
  hcheck *first, *last;
};

static double ms_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void job_release(hjob *j) {
  if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  api__free(j);
}

static bool job_done(hjob *j) {
  pthread_mutex_lock(&j->mu);
  bool done = j->done;
  pthread_mutex_unlock(&j->mu);
  return done;
}

static void job_finish(hjob *j, int rc, const char *msg) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  pthread_mutex_lock(&j->mu);
  j->rc = rc;
  snprintf(j->msg, sizeof(j->msg), "%s", msg);
  j->duration_ms = ms_between(&j->start, &now);
  j->done = true;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

static void *job_main(void *arg) {
  hjob *j = arg;
  char msg[MSG_SIZE] = "";
  int rc = j->fn(msg, sizeof(msg), j->user_data);
  msg[sizeof(msg) - 1] = '\0';
  job_finish(j, rc, msg);
  job_release(j);
  return NULL;
}

/* Start a run of c in a thread. Returns the job with a reference for the caller, or NULL when out
 * of memory. A thread that cannot be created gives a job already done with an error. */
static hjob *job_start(hcheck *c) {
  hjob *j = api__calloc(1, sizeof(*j));
  if (!j) return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&j->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&j->mu, NULL);
  j->fn = c->fn;
  j->user_data = c->user_data;
  clock_gettime(CLOCK_MONOTONIC, &j->start);
  atomic_store(&j->refs, 3); /* the caller, the check's last, the thread */
  pthread_attr_t attr;
  pthread_t tid;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&tid, &attr, job_main, j);
  pthread_attr_destroy(&attr);
  if (err) {
    atomic_store(&j->refs, 2);
    job_finish(j, API_ESYS, "could not start a thread for the check");
  }
  return j;
}

int api_health_new(api_health **out) {
  *out = api__calloc(1, sizeof(**out));
  if (!*out) return api__fail(API_ENOMEM, "health: out of memory");
  pthread_mutex_init(&(*out)->mu, NULL);
  return 0;
}

void api_health_free(api_health *h) {
  if (!h) return;
  hcheck *c = h->first;
  while (c) {
    hcheck *next = c->next;
    job_release(c->last);
    api__free(c->name);
    api__free(c);
    c = next;
  }
  pthread_mutex_destroy(&h->mu);
  api__free(h);
}

static bool valid_check_name(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 64) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '.' || *s == '-'))
      return false;
  return true;
}

int api_health_add(api_health *h, const api_health_check *check) {
  if (!h) return api__fail(API_EINVAL, "health: no registry");
  if (!check || check->size < offsetof(api_health_check, timeout_ms) + sizeof(uint32_t))
    return api__fail(API_EINVAL, "health: check missing or built without API_HEALTH_CHECK()");
  if (!valid_check_name(check->name))
    return api__fail(API_EINVAL, "health: check name \"%.64s\" is not 1-64 of [a-zA-Z0-9_.-]",
                     check->name ? check->name : "(null)");
  if (!check->fn) return api__fail(API_EINVAL, "health: check %s has no function", check->name);
  hcheck *c = api__calloc(1, sizeof(*c));
  if (c) c->name = api__strdup(check->name);
  if (!c || !c->name) {
    api__free(c);
    return api__fail(API_ENOMEM, "health: out of memory");
  }
  c->fn = check->fn;
  c->user_data = check->user_data;
  c->timeout_ms = check->timeout_ms ? check->timeout_ms : 1000;
  pthread_mutex_lock(&h->mu);
  for (hcheck *x = h->first; x; x = x->next) {
    if (strcmp(x->name, c->name) == 0) {
      pthread_mutex_unlock(&h->mu);
      int rc = api__fail(API_EEXIST, "health: check %s already exists", c->name);
      api__free(c->name);
      api__free(c);
      return rc;
    }
  }
  if (h->last)
    h->last->next = c;
  else
    h->first = c;
  h->last = c;
  pthread_mutex_unlock(&h->mu);
  return 0;
}

void api_health_set_draining(api_health *h, int draining) {
  if (!h) return;
  atomic_store(&h->draining, draining ? 1 : 0);
}

/* A JSON string: quotes, backslashes and control characters escaped, bytes that are not UTF-8
 * replaced by U+FFFD. */
static bool append_json_string(api__buf *b, const char *s) {
  if (!api__buf_append(b, "\"", 1)) return false;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    char tmp[8];
    if (c == '"' || c == '\\') {
      tmp[0] = '\\', tmp[1] = (char)c;
      if (!api__buf_append(b, tmp, 2)) return false;
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(tmp, sizeof(tmp), "\\u%04x", c);
      if (!api__buf_append(b, tmp, 6)) return false;
      i++;
    } else {
      size_t k = api__utf8_seq((const unsigned char *)s + i, n - i);
      if (!(k ? api__buf_append(b, s + i, k) : api__buf_append(b, "\xEF\xBF\xBD", 3))) return false;
      i += k ? k : 1;
    }
  }
  return api__buf_append(b, "\"", 1);
}

#define LIT(b, s) api__buf_append((b), (s), sizeof(s) - 1)

static bool append_result(api__buf *b, const char *name, bool ok, double ms, const char *error) {
  char tmp[64];
  int n = snprintf(tmp, sizeof(tmp), "%.3f", ms < 0 ? 0 : ms);
  for (int i = 0; i < n; i++)
    if (tmp[i] == ',') tmp[i] = '.'; /* a locale's decimal comma */
  if (!append_json_string(b, name) || !LIT(b, ":{\"status\":") ||
      !(ok ? LIT(b, "\"ok\"") : LIT(b, "\"fail\"")) || !LIT(b, ",\"duration_ms\":") ||
      !api__buf_append(b, tmp, (size_t)n))
    return false;
  if (error && (!LIT(b, ",\"error\":") || !append_json_string(b, error))) return false;
  return LIT(b, "}");
}

static void add_ms(struct timespec *t, uint32_t ms) {
  t->tv_sec += ms / 1000;
  t->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

int api_health_run(api_health *h, int *status, char **body, size_t *len) {
  *body = NULL;
  if (len) *len = 0;
  *status = 503;
  if (!h) return api__fail(API_EINVAL, "health: no registry");
  api__buf b = {0};
  if (atomic_load(&h->draining)) {
    if (!LIT(&b, "{\"status\":\"fail\",\"draining\":true,\"checks\":{}}") ||
        !api__buf_append(&b, "", 1))
      goto nomem;
    goto out;
  }
  pthread_mutex_lock(&h->mu);
  size_t n = 0;
  for (hcheck *c = h->first; c; c = c->next) n++;
  hjob **jobs = api__calloc(n ? n : 1, sizeof(*jobs));
  if (!jobs) {
    pthread_mutex_unlock(&h->mu);
    goto nomem;
  }
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  size_t i = 0;
  for (hcheck *c = h->first; c; c = c->next, i++) {
    if (c->last && !job_done(c->last)) { /* still going since an earlier run: wait for it */
      atomic_fetch_add(&c->last->refs, 1);
      jobs[i] = c->last;
      continue;
    }
    job_release(c->last);
    c->last = NULL;
    jobs[i] = job_start(c);
    if (jobs[i]) c->last = jobs[i];
  }
  api__buf checks = {0};
  bool all_ok = true, ok = true;
  i = 0;
  for (hcheck *c = h->first; c; c = c->next, i++) {
    hjob *j = jobs[i];
    bool pass = false;
    double ms = 0;
    const char *error = "out of memory";
    char msg[MSG_SIZE];
    if (j) {
      struct timespec deadline = now;
      add_ms(&deadline, c->timeout_ms);
      pthread_mutex_lock(&j->mu);
      while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &deadline) != ETIMEDOUT) {
      }
      if (j->done) {
        pass = j->rc >= 0;
        ms = j->duration_ms;
        /* Without a reason: "failed" for a bare -1 (not "out of memory", which API_ENOMEM's
         * text would say), the error's text otherwise. */
        snprintf(msg, sizeof(msg), "%s",
                 j->msg[0]     ? j->msg
                 : j->rc == -1 ? "failed"
                               : api_strerror(j->rc));
        error = pass ? NULL : msg;
      } else {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = ms_between(&j->start, &t);
        error = "timeout";
      }
      pthread_mutex_unlock(&j->mu);
      job_release(j);
    }
    all_ok = all_ok && pass;
    ok = ok && (c == h->first || LIT(&checks, ",")) &&
         append_result(&checks, c->name, pass, ms, error);
  }
  pthread_mutex_unlock(&h->mu);
  api__free(jobs);
  ok = ok &&
       (all_ok ? LIT(&b, "{\"status\":\"ok\",\"checks\":{")
               : LIT(&b, "{\"status\":\"fail\",\"checks\":{")) &&
       (!checks.len || api__buf_append(&b, checks.data, checks.len)) && LIT(&b, "}}") &&
       api__buf_append(&b, "", 1);
  api__buf_free(&checks);
  if (!ok) goto nomem;
  if (all_ok) *status = 200;
out:
  *body = b.data;
  if (len) *len = b.len - 1;
  return 0;
nomem:
  api__buf_free(&b);
  return api__fail(API_ENOMEM, "health: out of memory");
}
