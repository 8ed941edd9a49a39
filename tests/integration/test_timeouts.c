/* Timeouts and the connection cap over real sockets: a slow head or body is answered 408 at its
 * deadline however the bytes trickle in, silent and idle connections are closed, and a worker at
 * its connection cap refuses newcomers with a 503 while serving the clients it has. Upper bounds
 * are generous (CI machines are noisy); lower bounds only where the behaviour needs them. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/client.h"

static api_app *app;
static api_server *srv;
static int port;

static int ping(api_req *req, api_res *res, void *ud) { return api_res_text(res, 200, "pong"); }

static int body_len(api_req *req, api_res *res, void *ud) {
  size_t len;
  api_req_body(req, &len);
  char buf[32];
  snprintf(buf, sizeof(buf), "%zu", len);
  return api_res_text(res, 200, buf);
}

/* "/big?n=<bytes>": a body of n bytes, to fill the socket buffers. */
static int big(api_req *req, api_res *res, void *ud) {
  const char *q = api_req_query(req, "n");
  size_t n = q ? strtoul(q, NULL, 10) : 0;
  char *p = api_req_alloc(req, n ? n : 1);
  if (!p) return API_ENOMEM;
  memset(p, 'b', n);
  return api_res_body_ref(res, "application/octet-stream", p, n);
}

static void start(api_config cfg) {
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/ping", ping, NULL), 0);
  cr_assert_eq(api_app_post(app, "/body", body_len, NULL), 0);
  cr_assert_eq(api_app_get(app, "/big", big, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void start_short(void) {
  api_config cfg = tc_config(1);
  cfg.header_timeout_ms = 1000;
  cfg.idle_timeout_ms = 300;
  cfg.body_timeout_ms = 1000;
  start(cfg);
}

static void stop(void) { tc_stop(srv, app); }

TestSuite(timeouts, .timeout = 30, .fini = stop);

static void expect_408(tc_conn *c, const char *what) {
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "%s: an answer", what);
  cr_assert_eq(r.status, 408, "%s: %s", what, r.head);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s: JSON body: %s", what, r.body);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "REQUEST_TIMEOUT");
  cr_assert(json_string_length(json_object_get(j, "request_id")) > 0);
  json_decref(j);
  cr_assert_str_eq(tc_header(&r, "connection"), "close", "%s", what);
  tc_response_free(&r);
  char rest[1024];
  cr_assert_eq(tc_read_until_closed(c, rest, sizeof(rest), 3000), 0, "%s: closed after the 408",
               what);
}

/* Trickle data one byte per 100 ms until the server answers; returns when it did (seconds after
 * the first byte), or fails after 5 s. */
static double trickle_until_answered(tc_conn *c, const char *data) {
  size_t len = strlen(data);
  double t0 = tc_now();
  for (size_t i = 0;; i++) {
    cr_assert_lt(tc_now() - t0, 5.0, "no answer while bytes trickled in for 5 s");
    /* After the data runs out, keep the connection busy with harmless bytes of a field value. */
    char b = i < len ? data[i] : 'a';
    if (tc_send(c, &b, 1)) break; /* the server has closed: its answer is buffered */
    if (tc_readable(c, 100)) break;
  }
  return tc_now() - t0;
}

Test(timeouts, slowloris_head_is_not_extended_by_trickling, .init = start_short) {
  tc_conn *c = tc_connect_nodelay(port);
  double took = trickle_until_answered(c, "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  cr_assert_lt(took, 2.5, "408 after %.2fs: the 1 s head timeout counts from the first byte", took);
  cr_assert_geq(took, 0.8, "the head timeout did not fire early (%.2fs)", took);
  expect_408(c, "slow head");
  tc_close(c);
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200, "the server goes on");
  tc_response_free(&r);
}

Test(timeouts, slowloris_on_a_second_request_of_a_keep_alive_connection, .init = start_short) {
  /* The first request is quick; the next head trickles and gets its own deadline. */
  tc_conn *c = tc_connect_nodelay(port);
  cr_assert_eq(tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  tc_response_free(&r);
  double took = trickle_until_answered(c, "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  cr_assert_lt(took, 2.5, "408 after %.2fs", took);
  expect_408(c, "slow second head");
  tc_close(c);
}

Test(timeouts, slow_body_is_not_extended_by_trickling, .init = start_short) {
  tc_conn *c = tc_connect_nodelay(port);
  cr_assert_eq(tc_send_str(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"),
               0);
  double took = trickle_until_answered(c, "");
  cr_assert_lt(took, 2.5, "408 after %.2fs: the 1 s body timeout covers the whole body", took);
  cr_assert_geq(took, 0.8, "the body timeout did not fire early (%.2fs)", took);
  expect_408(c, "slow Content-Length body");
  tc_close(c);

  c = tc_connect_nodelay(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "100000\r\n"),
               0);
  took = trickle_until_answered(c, "");
  cr_assert_lt(took, 2.5, "408 after %.2fs for a trickling chunked body", took);
  expect_408(c, "slow chunked body");
  tc_close(c);
}

Test(timeouts, a_connection_that_sends_nothing_is_closed_after_the_idle_timeout,
     .init = start_short) {
  tc_conn *c = tc_connect(port);
  double t0 = tc_now();
  char rest[1024];
  long n = tc_read_until_closed(c, rest, sizeof(rest), 3000);
  double took = tc_now() - t0;
  cr_assert_geq(n, 0, "closed within 3 s (idle_timeout_ms = 300)");
  cr_assert_eq(n, 0, "closed without an answer: %s", rest);
  cr_assert_geq(took, 0.2, "not before the idle timeout (%.2fs)", took);
  tc_close(c);
}

Test(timeouts, an_idle_keep_alive_connection_is_closed_after_the_idle_timeout) {
  api_config cfg = tc_config(1);
  cfg.idle_timeout_ms = 1000;
  start(cfg);
  tc_conn *c = tc_connect(port);
  /* Activity keeps it alive: five requests 300 ms apart outlast the 1 s idle timeout. */
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0, "request %d", i);
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0, "request %d on a connection kept busy", i);
    cr_assert_null(tc_header(&r, "connection"));
    tc_response_free(&r);
    usleep(300 * 1000);
  }
  double t0 = tc_now();
  char rest[1024];
  cr_assert_eq(tc_read_until_closed(c, rest, sizeof(rest), 3000), 0,
               "the idle connection is closed, silently: %s", rest);
  cr_assert_geq(tc_now() - t0, 0.4, "not before the idle timeout");
  tc_close(c);
}

Test(timeouts, a_stalled_body_gets_408, .init = start_short) {
  tc_conn *c = tc_connect(port);
  double t0 = tc_now();
  cr_assert_eq(tc_send_str(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"),
               0);
  cr_assert(tc_readable(c, 3000), "an answer within 3 s (body_timeout_ms = 1000)");
  cr_assert_geq(tc_now() - t0, 0.8, "not before the body timeout");
  expect_408(c, "stalled body");
  tc_close(c);
}

Test(timeouts, a_stalled_head_gets_408, .init = start_short) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n"), 0);
  cr_assert(tc_readable(c, 3000), "an answer within 3 s (header_timeout_ms = 1000)");
  expect_408(c, "stalled head");
  tc_close(c);
}

static void cap_start(void) {
  api_config cfg = tc_config(1);
  cfg.max_connections = 2;
  cfg.idle_timeout_ms = 20000;
  start(cfg);
}

static void served(tc_conn *c, const char *what) {
  cr_assert_eq(tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0, "%s", what);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "%s", what);
  cr_assert_eq(r.status, 200, "%s", what);
  cr_assert_str_eq(r.body, "pong");
  tc_response_free(&r);
}

static void refused(tc_conn *c, const char *what) {
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "%s: a 503, not a reset", what);
  cr_assert_eq(r.status, 503, "%s", what);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s: JSON body: %s", what, r.body);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "UNAVAILABLE");
  json_decref(j);
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  cr_assert_not_null(tc_header(&r, "retry-after"));
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000), "%s: closed", what);
}

Test(timeouts, connection_cap_refuses_the_third_and_keeps_the_two, .init = cap_start) {
  tc_conn *a = tc_connect(port), *b = tc_connect(port);
  cr_assert(a && b);
  served(a, "first connection");
  served(b, "second connection");
  tc_conn *c = tc_connect(port);
  cr_assert_not_null(c, "the kernel accepts the TCP connection");
  refused(c, "third connection");
  tc_close(c);
  served(a, "the first still works after the refusal");
  served(b, "the second still works after the refusal");
  /* One leaves: a newcomer is admitted once the server has seen the close. */
  tc_close(b);
  tc_conn *d = NULL;
  for (double t0 = tc_now(); tc_now() - t0 < 3.0; usleep(50 * 1000)) {
    d = tc_connect(port);
    cr_assert_not_null(d);
    cr_assert_eq(tc_send_str(d, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    tc_response r;
    int rc = tc_read(d, &r, false);
    int status = rc ? 0 : r.status;
    if (!rc) tc_response_free(&r);
    if (status == 200) break;
    tc_close(d);
    d = NULL;
  }
  cr_assert_not_null(d, "a slot freed by a closed connection is reused within 3 s");
  served(d, "the newcomer keeps being served");
  served(a, "and the first one too");
  tc_close(d);
  tc_close(a);
}

Test(timeouts, a_refused_client_that_sent_its_request_still_reads_the_503, .init = cap_start) {
  /* Real clients send their request at once. The server must not reset the connection in a way
   * that destroys the 503 before the client reads it. */
  tc_conn *a = tc_connect(port), *b = tc_connect(port);
  served(a, "first");
  served(b, "second");
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    tc_conn *c = tc_connect(port);
    cr_assert_not_null(c);
    tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(20 * 1000);
    tc_response r;
    if (tc_read(c, &r, false) == 0 && r.status == 503) ok++;
    if (r.body) tc_response_free(&r);
    tc_close(c);
  }
  cr_assert_eq(ok, 20, "only %d of 20 refused clients that had sent a request saw the 503", ok);
  tc_close(a);
  tc_close(b);
}

Test(timeouts, idle_connections_over_the_cap_do_not_block_forever, .init = cap_start) {
  /* Two silent connections fill the cap; the idle timeout (20 s here) is what frees them, so a
   * third is refused meanwhile — but only refused, never left hanging without an answer. */
  tc_conn *a = tc_connect(port), *b = tc_connect(port);
  usleep(100 * 1000);
  tc_conn *c = tc_connect(port);
  refused(c, "third while two are silent");
  tc_close(c);
  served(a, "a silent connection is served when it speaks");
  tc_close(a);
  tc_close(b);
}

Test(timeouts, a_client_that_stops_reading_is_dropped_after_the_write_timeout) {
  api_config cfg = tc_config(1);
  cfg.write_timeout_ms = 500;
  cfg.idle_timeout_ms = 20000;
  start(cfg);
  /* A small receive window, so that an 8 MiB answer cannot all leave. */
  int fd = tc_connect_small_window(port);
  cr_assert_geq(fd, 0);
  static const char req[] = "GET /big?n=8388608 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
  usleep(2000 * 1000); /* read nothing for four write timeouts */
  /* Now drain: the server must have given up, so the stream ends before the whole body. */
  size_t total = 0;
  double t0 = tc_now();
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_gt(poll(&p, 1, 3000), 0, "the stream ends (after %zu bytes)", total);
    char b[65536];
    ssize_t n = recv(fd, b, sizeof(b), 0);
    if (n <= 0) break;
    total += (size_t)n;
    cr_assert_lt(tc_now() - t0, 10.0);
  }
  close(fd);
  cr_assert_lt(total, (size_t)8388608, "the server dropped the stalled response (%zu bytes came)",
               total);
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200, "and goes on serving");
  tc_response_free(&r);
}

Test(timeouts, a_client_that_vanishes_mid_response_costs_nothing) {
  start(tc_config(1));
  for (int i = 0; i < 10; i++) {
    tc_conn *c = tc_connect(port);
    cr_assert_eq(tc_send_str(c,
                             "GET /big?n=2097152 HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /big?n=2097152 HTTP/1.1\r\nHost: x\r\n\r\n"),
                 0);
    if (i % 2) usleep(10 * 1000);
    tc_close(c); /* with unread data: a reset */
  }
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
}
