/* Asynchronous requests over real sockets: offloaded work does not hold up the worker, requests
 * resumed from other threads are answered, after-callbacks may fail or suspend again, a client
 * that leaves while its request is suspended costs nothing, and a graceful shutdown lets the
 * request in flight finish while it closes everything else. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/client.h"

static api_app *app;
static api_server *srv;
static int port;

/* A gate the test opens: offloaded work waits on it (5 s at most, so a failing test ends). */
static sem_t gate;
static atomic_int jobs_started, afters_run, cleanups_run;

static void gate_wait(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 5;
  while (sem_timedwait(&gate, &ts) != 0 && errno == EINTR) {
  }
}

static bool wait_for(atomic_int *v, int at_least, int timeout_ms) {
  for (double t0 = tc_now(); tc_now() - t0 < timeout_ms / 1000.0; usleep(5000))
    if (atomic_load(v) >= at_least) return true;
  return atomic_load(v) >= at_least;
}

static void count_cleanup(void *ud) { atomic_fetch_add(&cleanups_run, 1); }

static int fast(api_req *req, api_res *res, void *ud) { return api_res_text(res, 200, "fast"); }

static void gated_work(void *ud) {
  atomic_fetch_add(&jobs_started, 1);
  gate_wait();
}

static void sleepy_work(void *ud) {
  atomic_fetch_add(&jobs_started, 1);
  usleep(1000 * 1000);
}

static int slow_after(api_req *req, api_res *res, void *ud) {
  atomic_fetch_add(&afters_run, 1);
  return api_res_text(res, 200, "slow done");
}

static int gated(api_req *req, api_res *res, void *ud) {
  if (api_req_on_free(req, count_cleanup, NULL)) return API_ENOMEM;
  return api_offload(req, gated_work, slow_after, NULL);
}

static int sleepy(api_req *req, api_res *res, void *ud) {
  return api_offload(req, sleepy_work, slow_after, NULL);
}

/* After-callbacks that fail in the ways a handler can. */
static int after_conflict(api_req *req, api_res *res, void *ud) {
  api_res_text(res, 201, "half-built"); /* replaced by the error */
  return API_ECONFLICT;
}
static int after_internal(api_req *req, api_res *res, void *ud) { return API_EINTERNAL; }
static void nothing(void *ud) {}
static int offload_conflict(api_req *req, api_res *res, void *ud) {
  return api_offload(req, nothing, after_conflict, NULL);
}
static int offload_internal(api_req *req, api_res *res, void *ud) {
  return api_offload(req, nothing, after_internal, NULL);
}

static int offload_misuse(api_req *req, api_res *res, void *ud) {
  int a = api_offload(req, NULL, slow_after, NULL);
  int b = api_offload(req, nothing, NULL, NULL);
  return api_res_json_new(res, 200, json_pack("{s:i,s:i}", "no_work", a, "no_after", b));
}

/* A handler that suspends its request and has another thread answer it 100 ms later. */
typedef struct held {
  api_req *req;
  api_res *res;
  int delay_ms;
} held;

static void *answer_later(void *arg) {
  held *h = arg;
  usleep((useconds_t)h->delay_ms * 1000);
  api_res_json_new(h->res, 200,
                   json_pack("{s:s,s:s}", "answered", "later", "path", api_req_path(h->req)));
  api_req_resume(h->req);
  return NULL;
}

static int start_answer_thread(api_req *req, api_res *res, int delay_ms) {
  held *h = api_req_alloc(req, sizeof(*h));
  if (!h) return API_ENOMEM;
  *h = (held){req, res, delay_ms};
  pthread_t t;
  if (pthread_create(&t, NULL, answer_later, h)) return API_ESYS;
  pthread_detach(t);
  return API_ASYNC;
}

static int deferred(api_req *req, api_res *res, void *ud) {
  if (api_req_on_free(req, count_cleanup, NULL)) return API_ENOMEM;
  return start_answer_thread(req, res, 100);
}

/* Offload, then suspend again from the after-callback, then answer from a thread. */
static int after_suspends(api_req *req, api_res *res, void *ud) {
  atomic_fetch_add(&afters_run, 1);
  return start_answer_thread(req, res, 50);
}
static int offload_then_suspend(api_req *req, api_res *res, void *ud) {
  return api_offload(req, nothing, after_suspends, NULL);
}

/* A request the test itself resumes (see parked). */
static api_req *_Atomic parked_req;
static api_res *_Atomic parked_res;
static atomic_int parked_count;
static int park(api_req *req, api_res *res, void *ud) {
  if (api_req_on_free(req, count_cleanup, NULL)) return API_ENOMEM;
  atomic_store(&parked_res, res);
  atomic_store(&parked_req, req);
  atomic_fetch_add(&parked_count, 1);
  return API_ASYNC;
}

/* "/big?n=<bytes>": a body of n bytes. */
static int big(api_req *req, api_res *res, void *ud) {
  const char *q = api_req_query(req, "n");
  size_t n = q ? strtoul(q, NULL, 10) : 0;
  char *p = api_req_alloc(req, n ? n : 1);
  if (!p) return API_ENOMEM;
  memset(p, 'b', n);
  return api_res_body_ref(res, "application/octet-stream", p, n);
}

/* "/gated-big?n=<bytes>": offloaded behind the gate, then a body of n bytes. */
static int big_after(api_req *req, api_res *res, void *ud) {
  atomic_fetch_add(&afters_run, 1);
  return big(req, res, ud);
}
static int gated_big(api_req *req, api_res *res, void *ud) {
  return api_offload(req, gated_work, big_after, NULL);
}

static void start(api_config cfg) {
  sem_init(&gate, 0, 0);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/fast", fast, NULL), 0);
  cr_assert_eq(api_app_get(app, "/gated", gated, NULL), 0);
  cr_assert_eq(api_app_get(app, "/sleepy", sleepy, NULL), 0);
  cr_assert_eq(api_app_get(app, "/conflict", offload_conflict, NULL), 0);
  cr_assert_eq(api_app_get(app, "/internal", offload_internal, NULL), 0);
  cr_assert_eq(api_app_get(app, "/misuse", offload_misuse, NULL), 0);
  cr_assert_eq(api_app_get(app, "/deferred", deferred, NULL), 0);
  cr_assert_eq(api_app_get(app, "/twice", offload_then_suspend, NULL), 0);
  cr_assert_eq(api_app_get(app, "/park", park, NULL), 0);
  cr_assert_eq(api_app_get(app, "/big", big, NULL), 0);
  cr_assert_eq(api_app_get(app, "/gated-big", gated_big, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void start_one_worker(void) { start(tc_config(1)); }

static void stop(void) {
  /* Open the gate for any job still waiting, so the server can stop. */
  for (int i = 0; i < 16; i++) sem_post(&gate);
  tc_stop(srv, app);
  sem_destroy(&gate);
}

TestSuite(async, .timeout = 30, .fini = stop);

static void get(tc_conn *c, const char *path) {
  char req[256];
  snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
  cr_assert_eq(tc_send_str(c, req), 0);
}

static void expect(tc_conn *c, int status, const char *body, const char *what) {
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "%s: a response", what);
  cr_assert_eq(r.status, status, "%s: %s%s", what, r.head, r.body);
  if (body) cr_assert_str_eq(r.body, body, "%s", what);
  tc_response_free(&r);
}

Test(async, offloaded_work_does_not_hold_up_the_worker, .init = start_one_worker) {
  /* One worker. The job blocks until the test opens the gate, so the fast request can only be
   * answered if the worker is free while the job runs. */
  tc_conn *s = tc_connect(port), *f = tc_connect(port);
  get(s, "/gated");
  cr_assert(wait_for(&jobs_started, 1, 3000), "the job started");
  double t0 = tc_now();
  get(f, "/fast");
  expect(f, 200, "fast", "the fast request, while the job blocks");
  cr_assert_lt(tc_now() - t0, 3.0);
  cr_assert_not(tc_readable(s, 0), "the slow request is still pending when the fast one is done");
  /* More requests on the fast connection, still while the job blocks. */
  for (int i = 0; i < 5; i++) {
    get(f, "/fast");
    expect(f, 200, "fast", "more fast requests");
  }
  cr_assert_eq(atomic_load(&afters_run), 0);
  sem_post(&gate);
  expect(s, 200, "slow done", "the slow request after the gate opened");
  cr_assert_eq(atomic_load(&afters_run), 1);
  /* The slow connection is reusable. */
  get(s, "/fast");
  expect(s, 200, "fast", "keep-alive after an offloaded request");
  tc_close(s);
  tc_close(f);
}

Test(async, a_sleeping_job_does_not_delay_a_fast_request, .init = start_one_worker) {
  /* The job sleeps 1 s. A worker that waited for it would answer the fast request only after
   * the job's after-callback had run; a free worker answers at once. The margin for a noisy
   * machine is the whole second. */
  tc_conn *s = tc_connect(port), *f = tc_connect(port);
  get(s, "/sleepy");
  cr_assert(wait_for(&jobs_started, 1, 3000), "the job started");
  double t0 = tc_now();
  get(f, "/fast");
  expect(f, 200, "fast", "the fast request");
  double took = tc_now() - t0;
  cr_assert_eq(atomic_load(&afters_run), 0,
               "the fast answer came while the job still ran (it took %.2fs)", took);
  cr_assert_not(tc_readable(s, 0), "the slow request is still pending");
  expect(s, 200, "slow done", "the slow request");
  cr_assert_geq(tc_now() - t0, 0.5, "the slow request really waited for its job");
  tc_close(s);
  tc_close(f);
}

Test(async, more_jobs_than_offload_threads_all_complete, .init = start_one_worker) {
  /* 4 offload threads by default, 8 jobs: they queue, and the worker stays free. */
  tc_conn *c[8];
  for (int i = 0; i < 8; i++) {
    c[i] = tc_connect(port);
    get(c[i], "/gated");
  }
  cr_assert(wait_for(&jobs_started, 4, 3000), "four jobs run at once");
  tc_conn *f = tc_connect(port);
  get(f, "/fast");
  expect(f, 200, "fast", "the worker is free while every offload thread is busy");
  tc_close(f);
  for (int i = 0; i < 8; i++) sem_post(&gate);
  for (int i = 0; i < 8; i++) {
    expect(c[i], 200, "slow done", "queued job");
    tc_close(c[i]);
  }
  cr_assert(wait_for(&cleanups_run, 8, 3000), "every request's cleanup ran (%d)",
            atomic_load(&cleanups_run));
}

Test(async, resume_from_another_thread, .init = start_one_worker) {
  tc_conn *c = tc_connect(port);
  double t0 = tc_now();
  get(c, "/deferred");
  expect(c, 200, "{\"answered\":\"later\",\"path\":\"/deferred\"}", "answered by another thread");
  cr_assert_geq(tc_now() - t0, 0.09, "the answer waited for the thread");
  get(c, "/fast");
  expect(c, 200, "fast", "keep-alive after a resumed request");
  tc_close(c);

  /* Twenty at once, on twenty connections of one worker. */
  tc_conn *m[20];
  for (int i = 0; i < 20; i++) {
    m[i] = tc_connect(port);
    get(m[i], "/deferred");
  }
  for (int i = 0; i < 20; i++) {
    expect(m[i], 200, NULL, "one of twenty resumed requests");
    tc_close(m[i]);
  }
  cr_assert(wait_for(&cleanups_run, 21, 3000), "every resumed request was released (%d)",
            atomic_load(&cleanups_run));
}

Test(async, after_callback_errors_become_json_errors, .init = start_one_worker) {
  tc_conn *c = tc_connect(port);
  get(c, "/conflict");
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 409, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "CONFLICT");
  json_decref(j);
  cr_assert_null(strstr(r.body, "half-built"), "the error replaces what was built");
  tc_response_free(&r);

  get(c, "/internal");
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 500);
  j = json_loads(r.body, 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                   "internal server error");
  json_decref(j);
  tc_response_free(&r);

  /* The connection survives handler errors. */
  get(c, "/fast");
  expect(c, 200, "fast", "after two failing after-callbacks");
  tc_close(c);
}

Test(async, offload_rejects_missing_callbacks, .init = start_one_worker) {
  char want[128];
  snprintf(want, sizeof(want), "{\"no_work\":%d,\"no_after\":%d}", API_EINVAL, API_EINVAL);
  tc_conn *c = tc_connect(port);
  get(c, "/misuse");
  expect(c, 200, want, "api_offload without work or after returns API_EINVAL");
  tc_close(c);
}

Test(async, after_callback_may_suspend_again, .init = start_one_worker) {
  tc_conn *c = tc_connect(port);
  get(c, "/twice");
  expect(c, 200, "{\"answered\":\"later\",\"path\":\"/twice\"}", "offload, then resume");
  cr_assert_eq(atomic_load(&afters_run), 1);
  get(c, "/fast");
  expect(c, 200, "fast", "keep-alive after");
  tc_close(c);
}

Test(async, client_gone_while_suspended, .init = start_one_worker) {
  /* The request is parked; its client closes; the test resumes it later. Nothing may crash or
   * leak (ASan watches in CI), the cleanup runs, and the worker keeps serving. */
  tc_conn *c = tc_connect(port);
  get(c, "/park");
  cr_assert(wait_for(&parked_count, 1, 3000), "the handler parked the request");
  tc_close(c);
  usleep(200 * 1000); /* the FIN is in */
  api_req *req = atomic_load(&parked_req);
  api_res_text(atomic_load(&parked_res), 200, "too late");
  api_req_resume(req);
  cr_assert(wait_for(&cleanups_run, 1, 3000), "the request was released");
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_str_eq(r.body, "fast");
  tc_response_free(&r);

  /* The same with an offloaded job: the after-callback still runs (it may own resources). */
  c = tc_connect(port);
  get(c, "/gated");
  cr_assert(wait_for(&jobs_started, 1, 3000));
  tc_close(c);
  usleep(200 * 1000);
  sem_post(&gate);
  cr_assert(wait_for(&afters_run, 1, 3000), "the after-callback ran for a gone client");
  cr_assert(wait_for(&cleanups_run, 2, 3000), "and the request was released");
  cr_assert_eq(tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_str_eq(r.body, "fast");
  tc_response_free(&r);
}

Test(async, client_gone_with_a_pipelined_request_behind_the_suspended_one,
     .init = start_one_worker) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "GET /park HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  cr_assert(wait_for(&parked_count, 1, 3000));
  tc_close(c);
  usleep(100 * 1000);
  api_res_text(atomic_load(&parked_res), 200, "too late");
  api_req_resume(atomic_load(&parked_req));
  cr_assert(wait_for(&cleanups_run, 1, 3000));
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_str_eq(r.body, "fast");
  tc_response_free(&r);
}

/* ---- graceful shutdown ---- */

static void start_for_shutdown(void) {
  api_config cfg = tc_config(1);
  cfg.shutdown_timeout_ms = 5000;
  cfg.idle_timeout_ms = 20000;
  cfg.header_timeout_ms = 20000;
  start(cfg);
}

static void *open_gate_later(void *arg) {
  usleep(300 * 1000);
  sem_post(&gate);
  return NULL;
}

Test(async, graceful_shutdown_finishes_the_request_in_flight, .init = start_for_shutdown) {
  /* idle: a keep-alive connection between requests; busy: a request whose job blocks. */
  tc_conn *idle = tc_connect(port), *busy = tc_connect(port);
  get(idle, "/fast");
  expect(idle, 200, "fast", "before the stop");
  get(busy, "/gated");
  cr_assert(wait_for(&jobs_started, 1, 3000));

  double t0 = tc_now();
  api_server_stop(srv);

  char rest[4096];
  cr_assert_eq(tc_read_until_closed(idle, rest, sizeof(rest), 2000), 0,
               "the idle keep-alive connection is closed promptly, without an answer: %s", rest);
  cr_assert_lt(tc_now() - t0, 2.0);
  tc_close(idle);

  /* No new connection is served: refused, or closed without a response. */
  tc_conn *late = tc_connect(port);
  if (late) {
    tc_send_str(late, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    long n = tc_read_until_closed(late, rest, sizeof(rest), 3000);
    cr_assert_eq(n, 0, "a connection made after the stop gets no response: %s", rest);
    tc_close(late);
  }

  cr_assert_not(tc_readable(busy, 0), "the request in flight is still waiting for its job");
  sem_post(&gate);
  tc_response r;
  cr_assert_eq(tc_read(busy, &r, false), 0, "the in-flight response arrives");
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "slow done", "complete");
  cr_assert_str_eq(tc_header(&r, "connection"), "close", "and says Connection: close");
  tc_response_free(&r);
  cr_assert_eq(tc_read_until_closed(busy, rest, sizeof(rest), 3000), 0,
               "then the connection closes: %s", rest);
  tc_close(busy);

  double t1 = tc_now();
  cr_assert_eq(api_server_wait(srv), 0);
  cr_assert_lt(tc_now() - t1, 3.0,
               "the server stops once the last request is done, not at the "
               "5 s deadline");
  cr_assert_eq(atomic_load(&cleanups_run), 1);
}

Test(async, graceful_shutdown_answers_a_head_that_was_arriving, .init = start_for_shutdown) {
  /* A connection half-way through its request head when the stop comes is in flight, too: it
   * gets its answer, with Connection: close. */
  tc_conn *c = tc_connect(port), *busy = tc_connect(port);
  get(busy, "/gated"); /* keeps the server from stopping before the head is finished */
  cr_assert(wait_for(&jobs_started, 1, 3000));
  cr_assert_eq(tc_send_str(c, "GET /fast HTTP/1.1\r\nHost: x\r\n"), 0);
  usleep(100 * 1000);
  api_server_stop(srv);
  usleep(200 * 1000);
  cr_assert_eq(tc_send_str(c, "\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "the request that was arriving is answered");
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "fast");
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  pthread_t t;
  pthread_create(&t, NULL, open_gate_later, NULL);
  expect(busy, 200, "slow done", "the job's request");
  pthread_join(t, NULL);
  tc_close(busy);
  api_server_wait(srv);
}

Test(async, shutdown_with_only_idle_connections_is_quick, .init = start_for_shutdown) {
  tc_conn *c[5];
  for (int i = 0; i < 5; i++) {
    c[i] = tc_connect(port);
    get(c[i], "/fast");
    expect(c[i], 200, "fast", "before the stop");
  }
  tc_conn *silent = tc_connect(port);
  usleep(50 * 1000);
  double t0 = tc_now();
  api_server_stop(srv);
  cr_assert_eq(api_server_wait(srv), 0);
  cr_assert_lt(tc_now() - t0, 2.0, "idle connections do not hold a stop up to its deadline");
  for (int i = 0; i < 5; i++) {
    cr_assert(tc_wait_closed(c[i], 1000));
    tc_close(c[i]);
  }
  cr_assert(tc_wait_closed(silent, 1000));
  tc_close(silent);
}

Test(async, stop_while_a_request_is_suspended_then_resume_before_the_deadline,
     .init = start_for_shutdown) {
  tc_conn *c = tc_connect(port);
  get(c, "/park");
  cr_assert(wait_for(&parked_count, 1, 3000));
  api_server_stop(srv);
  usleep(200 * 1000);
  cr_assert_not(tc_readable(c, 0), "the suspended request's connection stays open");
  api_res_text(atomic_load(&parked_res), 200, "resumed during shutdown");
  api_req_resume(atomic_load(&parked_req));
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(r.body, "resumed during shutdown");
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  double t0 = tc_now();
  api_server_wait(srv);
  cr_assert_lt(tc_now() - t0, 3.0);
  cr_assert_eq(atomic_load(&cleanups_run), 1);
}

Test(async, graceful_shutdown_closes_a_connection_once_its_last_response_is_written) {
  /* A slow reader is still downloading a response when the stop comes. Once it has it all, its
   * connection has nothing left to do: it must close then, not sit out the idle timeout or the
   * shutdown deadline (both 20 s here). */
  api_config cfg = tc_config(1);
  cfg.shutdown_timeout_ms = 20000;
  cfg.idle_timeout_ms = 20000;
  start(cfg);
  int fd = tc_connect_small_window(port);
  cr_assert_geq(fd, 0);
  static const char req[] = "GET /big?n=8388608 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
  usleep(300 * 1000); /* the response is built and stuck in the output */
  api_server_stop(srv);
  usleep(100 * 1000);
  size_t total = 0;
  double drained_at = 0;
  for (double t0 = tc_now();;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_gt(poll(&p, 1, 5000), 0, "the connection ends (%zu bytes in)", total);
    char b[65536];
    ssize_t n = recv(fd, b, sizeof(b), 0);
    if (n <= 0) break;
    total += (size_t)n;
    if (!drained_at && total >= 8388608) drained_at = tc_now();
    cr_assert_lt(tc_now() - t0, 10.0);
  }
  double closed_at = tc_now();
  close(fd);
  cr_assert_geq(total, (size_t)8388608, "the whole response arrived (%zu bytes)", total);
  cr_assert_lt(closed_at - drained_at, 2.0,
               "closed %.2fs after the response was fully written; the deadline is 20 s",
               closed_at - drained_at);
  api_server_wait(srv);
}

/* During a shutdown, a connection whose last answer said Connection: close must close by
 * lingering (shutdown(SHUT_WR), then read), not close() at once: with unread request bytes in the
 * socket, close() sends a reset and the client loses the rest of its answer. */
Test(async, graceful_shutdown_does_not_reset_a_response_with_a_request_behind_it,
     .init = start_for_shutdown) {
  /* The client has pipelined a second request behind the one in flight (still unread in the
   * socket, as the server does not read while a handler runs). The in-flight answer says
   * Connection: close and must arrive whole: closing a socket with unread input sends a reset,
   * which throws away whatever answer bytes the kernel had not delivered yet. */
  int fd = tc_connect_small_window(port);
  cr_assert_geq(fd, 0);
  tc_conn *c = calloc(1, sizeof(*c));
  cr_assert_not_null(c);
  c->fd = fd;
  tc_set_timeout(c, 5000);
  cr_assert_eq(tc_send_str(c, "GET /gated-big?n=1048576 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert(wait_for(&jobs_started, 1, 3000));
  cr_assert_eq(tc_send_str(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  usleep(100 * 1000);
  api_server_stop(srv);
  usleep(100 * 1000);
  sem_post(&gate);
  usleep(300 * 1000); /* the answer is written, as far as the server can tell */
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "the in-flight answer arrives, not a reset");
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.body_len, 1048576, "whole");
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  char rest[1024];
  cr_assert_geq(tc_read_until_closed(c, rest, sizeof(rest), 3000), 0, "then the server closes");
  tc_close(c);
  api_server_wait(srv);
}
