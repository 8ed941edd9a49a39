/* The engine's promises over real loopback sockets: offloaded work does not stall a worker, limits
 * answer with their status before reading more, timeouts cannot be stretched by trickling bytes,
 * the connection cap refuses cleanly, and a real client (curl) is served. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "support/client.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fast(api_req *req, api_res *res, void *ud) { return api_res_text(res, 200, "fast"); }

static void block_800ms(void *ud) { usleep(800 * 1000); }
static int slow_after(api_req *req, api_res *res, void *ud) {
  return api_res_text(res, 200, "slow");
}
static int slow(api_req *req, api_res *res, void *ud) {
  return api_offload(req, block_800ms, slow_after, NULL);
}

static int echo(api_req *req, api_res *res, void *ud) {
  size_t len;
  const char *body = api_req_body(req, &len);
  return api_res_body(res, "application/octet-stream", body, len);
}

/* A handler that suspends its request and has another thread answer it 100 ms later. */
typedef struct held {
  api_req *req;
  api_res *res;
} held;

static void *answer_later(void *arg) {
  held *h = arg;
  usleep(100 * 1000);
  api_res_text(h->res, 200, "later");
  api_req_resume(h->req);
  return NULL;
}

static int deferred(api_req *req, api_res *res, void *ud) {
  held *h = api_req_alloc(req, sizeof(*h));
  if (!h) return API_ENOMEM;
  *h = (held){req, res};
  pthread_t t;
  if (pthread_create(&t, NULL, answer_later, h)) return API_EINTERNAL;
  pthread_detach(t);
  return API_ASYNC;
}

static api_app *app;
static api_server *srv;
static int port;

static void start(api_config cfg) {
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/fast", fast, NULL), 0);
  cr_assert_eq(api_app_get(app, "/slow", slow, NULL), 0);
  cr_assert_eq(api_app_post(app, "/echo", echo, NULL), 0);
  cr_assert_eq(api_app_get(app, "/deferred", deferred, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void stop(void) { tc_stop(srv, app); }

Test(engine, offloaded_blocking_work_does_not_delay_the_worker, .timeout = 20, .fini = stop) {
  start(tc_config(1)); /* one worker: both requests land on it */
  tc_conn *s = tc_connect(port);
  cr_assert_eq(tc_send_str(s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  usleep(50 * 1000);
  double t0 = now_s();
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  double fast_took = now_s() - t0;
  cr_assert_str_eq(r.body, "fast");
  tc_response_free(&r);
  cr_assert_lt(fast_took, 0.5, "the fast request took %.3fs while a job blocked for 0.8s",
               fast_took);
  cr_assert_eq(tc_read(s, &r, false), 0);
  cr_assert_str_eq(r.body, "slow");
  cr_assert_geq(now_s() - t0, 0.5, "the slow request really waited for its job");
  tc_response_free(&r);
  tc_close(s);
}

Test(engine, resume_from_another_thread_keeps_pipelined_order, .timeout = 20, .fini = stop) {
  start(tc_config(1));
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "GET /deferred HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(r.body, "later", "the suspended request is answered first");
  tc_response_free(&r);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(r.body, "fast");
  tc_response_free(&r);
  tc_close(c);
}

Test(engine, body_limit_is_decided_from_content_length, .timeout = 20, .fini = stop) {
  api_config cfg = tc_config(1);
  cfg.max_body = 1000;
  start(cfg);
  tc_response r;
  char req[2048];
  char body[1001];
  memset(body, 'b', sizeof(body));
  snprintf(req, sizeof(req),
           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n%.1000s", body);
  cr_assert_eq(tc_exchange(port, req, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.body_len, 1000);
  tc_response_free(&r);
  /* One byte over: the answer comes from the head alone, no body sent. */
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 413);
  cr_assert(strstr(r.body, "\"PAYLOAD_TOO_LARGE\""));
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  /* Chunked: counted as it arrives. */
  c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3e8\r\n"),
               0);
  cr_assert_eq(tc_send(c, body, 1000), 0);
  cr_assert_eq(tc_send_str(c, "\r\n1\r\nb\r\n0\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 413);
  tc_response_free(&r);
  tc_close(c);
}

Test(engine, uri_and_header_limits, .timeout = 20, .fini = stop) {
  api_config cfg = tc_config(1);
  cfg.max_uri = 100;
  cfg.max_header_bytes = 200;
  cfg.max_headers = 4;
  start(cfg);
  char req[1024], path[128];
  tc_response r;
  memset(path, 'a', 99);
  path[99] = '\0';
  snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", path); /* 100 bytes */
  cr_assert_eq(tc_exchange(port, req, &r), 0);
  cr_assert_eq(r.status, 404, "a target at the limit is routed");
  tc_response_free(&r);
  snprintf(req, sizeof(req), "GET /%sa HTTP/1.1\r\nHost: x\r\n\r\n", path);
  cr_assert_eq(tc_exchange(port, req, &r), 0);
  cr_assert_eq(r.status, 414);
  tc_response_free(&r);
  cr_assert_eq(
      tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200, "max_headers fields pass");
  tc_response_free(&r);
  cr_assert_eq(
      tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
                  &r),
      0);
  cr_assert_eq(r.status, 431, "one field too many");
  tc_response_free(&r);
  char big[300];
  memset(big, 'v', 250);
  big[250] = '\0';
  snprintf(req, sizeof(req), "GET /fast HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n", big);
  cr_assert_eq(tc_exchange(port, req, &r), 0);
  cr_assert_eq(r.status, 431);
  tc_response_free(&r);
  cr_assert_eq(tc_exchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200, "the server keeps serving");
  tc_response_free(&r);
}

Test(engine, slowloris_cannot_stretch_the_header_timeout, .timeout = 20, .fini = stop) {
  api_config cfg = tc_config(1);
  cfg.header_timeout_ms = 1000;
  start(cfg);
  tc_conn *c = tc_connect(port);
  const char *head =
      "GET /fast HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  double t0 = now_s();
  bool answered = false;
  for (const char *p = head; *p && now_s() - t0 < 5; p++) {
    if (tc_send(c, p, 1)) break; /* the server closed on us */
    usleep(100 * 1000);
    struct timeval tv = {0, 0};
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(c->fd, &fds);
    if (select(c->fd + 1, &fds, NULL, NULL, &tv) > 0) {
      answered = true;
      break;
    }
  }
  double took = now_s() - t0;
  cr_assert(answered, "the server answered while bytes were still trickling in");
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 408);
  cr_assert(strstr(r.body, "\"REQUEST_TIMEOUT\""));
  cr_assert_lt(took, 2.5, "408 after %.2fs: the timeout counts from the first byte", took);
  cr_assert_geq(took, 0.9);
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
}

Test(engine, idle_and_body_timeouts, .timeout = 20, .fini = stop) {
  api_config cfg = tc_config(1);
  cfg.idle_timeout_ms = 300;
  cfg.body_timeout_ms = 500;
  start(cfg);
  tc_conn *c = tc_connect(port);
  tc_response r;
  cr_assert_eq(tc_send_str(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  tc_response_free(&r);
  double t0 = now_s();
  cr_assert(tc_wait_closed(c, 3000), "an idle keep-alive connection is closed");
  cr_assert_lt(now_s() - t0, 2.0);
  tc_close(c);

  c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"),
               0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 408, "a stalled body times out");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
}

Test(engine, connection_cap_refuses_cleanly_and_keeps_serving, .timeout = 20, .fini = stop) {
  api_config cfg = tc_config(1);
  cfg.max_connections = 2;
  start(cfg);
  tc_conn *a = tc_connect(port), *b = tc_connect(port);
  tc_response r;
  cr_assert_eq(tc_send_str(a, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(a, &r, false), 0);
  tc_response_free(&r);
  cr_assert_eq(tc_send_str(b, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(b, &r, false), 0);
  tc_response_free(&r);
  tc_conn *c = tc_connect(port);
  cr_assert_not_null(c);
  cr_assert_eq(tc_read(c, &r, false), 0, "the third connection gets an answer, not a reset");
  cr_assert_eq(r.status, 503);
  cr_assert_eq(r.body_len, strtoul(tc_header(&r, "content-length"), NULL, 10));
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  cr_assert_eq(tc_send_str(a, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(a, &r, false), 0, "existing clients keep being served");
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
  tc_close(b);
  usleep(200 * 1000);
  cr_assert_eq(tc_exchange(port, "GET /fast HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n", &r),
               0);
  cr_assert_eq(r.status, 200, "a freed slot is usable again");
  tc_response_free(&r);
  tc_close(a);
}

/* curl: a real client, for keep-alive reuse, chunked uploads, 100-continue and HTTP/1.0. */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...) {
  char cmd[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  char *out = calloc(1, 65536);
  size_t n = fread(out, 1, 65535, p);
  out[n] = '\0';
  pclose(p);
  return out;
}

Test(engine, curl, .timeout = 30, .fini = stop) {
  if (system("command -v curl >/dev/null 2>&1") != 0) cr_skip_test("curl is not installed");
  start(tc_config(2));
  char *out =
      run("curl -s -w ' %%{http_code} %%{num_connects}' http://127.0.0.1:%d/fast "
          "http://127.0.0.1:%d/fast",
          port, port);
  cr_assert_str_eq(out, "fast 200 1fast 200 0", "two requests, one connection: %s", out);
  free(out);
  out =
      run("head -c 200000 /dev/zero | tr '\\0' x | curl -s -H 'Transfer-Encoding: chunked' "
          "--data-binary @- http://127.0.0.1:%d/echo | tr -d x | wc -c",
          port);
  cr_assert_eq(atoi(out), 0, "a 200 kB chunked upload echoes back only x's: %s", out);
  free(out);
  out =
      run("head -c 200000 /dev/zero | tr '\\0' x | curl -s -H 'Transfer-Encoding: chunked' "
          "--data-binary @- http://127.0.0.1:%d/echo | wc -c",
          port);
  cr_assert_eq(atoi(out), 200000, "all of it: %s", out);
  free(out);
  out =
      run("head -c 5000 /dev/zero | tr '\\0' y | curl -s -H 'Expect: 100-continue' "
          "--data-binary @- http://127.0.0.1:%d/echo | wc -c",
          port);
  cr_assert_eq(atoi(out), 5000, "a 5000-byte upload with 100-continue echoes back: %s", out);
  free(out);
  out = run("curl -s -0 -i http://127.0.0.1:%d/fast | tr -d '\\r' | grep -i '^connection:'", port);
  cr_assert_str_eq(out, "Connection: close\n");
  free(out);
}
