/* Size limits over real sockets: each limit lets a request exactly at it through and answers one
 * byte over with its status (414, 431, 413) and the JSON error body, decided as early as possible,
 * while the other clients of the same worker keep being served. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

static api_app *app;
static api_server *srv;
static int port;

/* The target's length as the handler saw it. */
static int target(api_req *req, api_res *res, void *ud) {
  char buf[64];
  size_t n = strlen(api_req_path(req)) + strlen(api_req_query_string(req));
  if (*api_req_query_string(req)) n++; /* the '?' */
  snprintf(buf, sizeof(buf), "%zu", n);
  return api_res_text(res, 200, buf);
}

static int count_headers(api_req *req, api_res *res, void *ud) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%zu", api_req_header_count(req));
  return api_res_text(res, 200, buf);
}

static int body_len(api_req *req, api_res *res, void *ud) {
  size_t len;
  api_req_body(req, &len);
  char buf[32];
  snprintf(buf, sizeof(buf), "%zu", len);
  return api_res_text(res, 200, buf);
}

static int ping(api_req *req, api_res *res, void *ud) { return api_res_text(res, 200, "pong"); }

static void start(api_config cfg) {
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/t/*rest", target, NULL), 0);
  cr_assert_eq(api_app_get(app, "/h", count_headers, NULL), 0);
  cr_assert_eq(api_app_post(app, "/body", body_len, NULL), 0);
  cr_assert_eq(api_app_get(app, "/ping", ping, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void start_small(void) {
  api_config cfg = tc_config(1); /* one worker: the bystander shares it with the offenders */
  cfg.max_uri = 100;
  cfg.max_header_bytes = 512;
  cfg.max_headers = 10;
  cfg.max_body = 1000;
  cfg.idle_timeout_ms = 20000;
  start(cfg);
}

static void stop(void) { tc_stop(srv, app); }

TestSuite(limits, .timeout = 30, .fini = stop);

/* A keep-alive client that checks it is still served between the offenders. */
static tc_conn *bystander;

static void bystander_ok(const char *after) {
  if (!bystander) bystander = tc_connect(port);
  cr_assert_not_null(bystander);
  cr_assert_eq(tc_send_str(bystander, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(bystander, &r, false), 0, "the bystander is served after %s", after);
  cr_assert_str_eq(r.body, "pong");
  tc_response_free(&r);
}

static void bystander_done(void) {
  tc_close(bystander);
  bystander = NULL;
}

/* Send raw on a fresh connection and return the one response. */
static void exchange(const char *raw, size_t len, tc_response *r) {
  tc_conn *c = tc_connect(port);
  cr_assert_not_null(c);
  cr_assert_eq(tc_send(c, raw, len), 0);
  cr_assert_eq(tc_read(c, r, false), 0, "an answer to %.60s", raw);
  tc_close(c);
}

static void expect_error(const tc_response *r, int status, const char *code) {
  cr_assert_eq(r->status, status, "status %d, expected %d: %s", r->status, status, r->body);
  json_t *j = json_loads(r->body, 0, NULL);
  cr_assert_not_null(j, "a JSON error body: %s", r->body);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), code);
  json_decref(j);
  cr_assert_str_eq(tc_header(r, "connection"), "close");
}

static char *repeat(char ch, size_t n) {
  char *s = malloc(n + 1);
  cr_assert_not_null(s);
  memset(s, ch, n);
  s[n] = '\0';
  return s;
}

Test(limits, uri_at_the_limit_passes_one_more_is_414, .init = start_small) {
  bystander_ok("nothing");
  char req[1024];
  /* "/t/" + 97 bytes = 100 = max_uri. */
  char *a = repeat('a', 97);
  int n = snprintf(req, sizeof(req), "GET /t/%s HTTP/1.1\r\nHost: x\r\n\r\n", a);
  tc_response r;
  exchange(req, (size_t)n, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "100");
  tc_response_free(&r);
  n = snprintf(req, sizeof(req), "GET /t/%sb HTTP/1.1\r\nHost: x\r\n\r\n", a);
  exchange(req, (size_t)n, &r);
  expect_error(&r, 414, "URI_TOO_LONG");
  tc_response_free(&r);
  bystander_ok("a 414");
  /* The query counts: "/t/x?" + 95 = 100 passes, 101 does not. */
  free(a);
  a = repeat('q', 95);
  n = snprintf(req, sizeof(req), "GET /t/x?%s HTTP/1.1\r\nHost: x\r\n\r\n", a);
  exchange(req, (size_t)n, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "100");
  tc_response_free(&r);
  n = snprintf(req, sizeof(req), "GET /t/x?%sq HTTP/1.1\r\nHost: x\r\n\r\n", a);
  exchange(req, (size_t)n, &r);
  expect_error(&r, 414, "URI_TOO_LONG");
  tc_response_free(&r);
  free(a);
  /* A long target is refused as soon as it is too long: no need to finish the request line. */
  tc_conn *c = tc_connect(port);
  a = repeat('a', 300);
  cr_assert_eq(tc_send_str(c, "GET /t/"), 0);
  cr_assert_eq(tc_send_str(c, a), 0);
  cr_assert_eq(tc_read(c, &r, false), 0, "414 before the request line ends");
  expect_error(&r, 414, "URI_TOO_LONG");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  free(a);
  bystander_ok("an unfinished long request line");
  bystander_done();
}

/* The field section counts every byte after the request line through the blank line. */
Test(limits, header_section_at_the_limit_passes_one_more_is_431, .init = start_small) {
  bystander_ok("nothing");
  /* "Host: x\r\n" (9) + "X: " v "\r\n" (5 + len) + "\r\n" (2) = 512 when len = 496. */
  char *v = repeat('v', 496);
  char req[2048];
  int n = snprintf(req, sizeof(req), "GET /h HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n", v);
  tc_response r;
  exchange(req, (size_t)n, &r);
  cr_assert_eq(r.status, 200, "a 512-byte field section passes: %s", r.body);
  cr_assert_str_eq(r.body, "2");
  tc_response_free(&r);
  /* The same head with a pipelined request right behind it: the bytes after the head do not
   * count against it. */
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send(c, req, (size_t)n), 0);
  cr_assert_eq(tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(r.body, "pong");
  tc_response_free(&r);
  tc_close(c);
  free(v);

  v = repeat('v', 497);
  n = snprintf(req, sizeof(req), "GET /h HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n", v);
  exchange(req, (size_t)n, &r);
  expect_error(&r, 431, "HEADERS_TOO_LARGE");
  tc_response_free(&r);
  free(v);
  bystander_ok("a 431");

  /* A header section that never ends is refused once it passes the limit. */
  c = tc_connect(port);
  v = repeat('v', 2000);
  cr_assert_eq(tc_send_str(c, "GET /h HTTP/1.1\r\nHost: x\r\nX: "), 0);
  cr_assert_eq(tc_send_str(c, v), 0);
  cr_assert_eq(tc_read(c, &r, false), 0, "431 without waiting for the end of the head");
  expect_error(&r, 431, "HEADERS_TOO_LARGE");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  free(v);
  bystander_ok("an endless header");
  bystander_done();
}

Test(limits, max_headers_pass_one_more_is_431, .init = start_small) {
  char req[1024];
  size_t n = (size_t)snprintf(req, sizeof(req), "GET /h HTTP/1.1\r\nHost: x\r\n");
  for (int i = 1; i < 10; i++)
    n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%d: %d\r\n", i, i);
  size_t at_limit = n;
  memcpy(req + n, "\r\n", 3);
  tc_response r;
  exchange(req, n + 2, &r);
  cr_assert_eq(r.status, 200, "10 fields pass");
  cr_assert_str_eq(r.body, "10");
  tc_response_free(&r);
  n = at_limit + (size_t)snprintf(req + at_limit, sizeof(req) - at_limit, "X-10: 10\r\n\r\n");
  exchange(req, n, &r);
  expect_error(&r, 431, "HEADERS_TOO_LARGE");
  tc_response_free(&r);
  bystander_ok("too many fields");
  bystander_done();
}

Test(limits, content_length_at_the_limit_passes_one_more_is_413_before_the_body,
     .init = start_small) {
  char *body = repeat('b', 1000);
  char req[2048];
  int n = snprintf(req, sizeof(req),
                   "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n%s", body);
  tc_response r;
  exchange(req, (size_t)n, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "1000");
  tc_response_free(&r);
  /* Only the head is sent: the 413 must come from the Content-Length alone. */
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"), 0);
  cr_assert(tc_readable(c, 3000), "the answer comes without any body byte sent");
  cr_assert_eq(tc_read(c, &r, false), 0);
  expect_error(&r, 413, "PAYLOAD_TOO_LARGE");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  /* A huge declared length, same answer. */
  c = tc_connect(port);
  cr_assert_eq(
      tc_send_str(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  expect_error(&r, 413, "PAYLOAD_TOO_LARGE");
  tc_response_free(&r);
  tc_close(c);
  free(body);
  bystander_ok("a 413");
  bystander_done();
}

Test(limits, chunked_body_over_the_limit_is_413, .init = start_small) {
  char *body = repeat('c', 1000);
  /* Exactly max_body in three chunks passes. */
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "1f4\r\n"),
               0);
  cr_assert_eq(tc_send(c, body, 500), 0);
  cr_assert_eq(tc_send_str(c, "\r\n1f3\r\n"), 0);
  cr_assert_eq(tc_send(c, body, 499), 0);
  cr_assert_eq(tc_send_str(c, "\r\n1\r\nc\r\n0\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "1000");
  tc_response_free(&r);
  /* One byte more, on the same connection: 413, and the rest is not waited for. */
  cr_assert_eq(tc_send_str(c,
                           "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3e8\r\n"),
               0);
  cr_assert_eq(tc_send(c, body, 1000), 0);
  cr_assert_eq(tc_send_str(c, "\r\n1\r\nc\r\n"), 0); /* no last chunk */
  cr_assert_eq(tc_read(c, &r, false), 0);
  expect_error(&r, 413, "PAYLOAD_TOO_LARGE");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
  /* A single chunk announcing more than the limit. */
  c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "100000\r\n"),
               0);
  cr_assert_eq(tc_send(c, body, 1000), 0);
  cr_assert_eq(tc_send(c, body, 1000), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  expect_error(&r, 413, "PAYLOAD_TOO_LARGE");
  tc_response_free(&r);
  tc_close(c);
  free(body);
  bystander_ok("chunked 413s");
  bystander_done();
}

Test(limits, default_limits_admit_a_head_far_larger_than_the_read_buffer) {
  /* Defaults: 8192-byte target, 16384-byte field section; the read buffer starts at 4 KiB. */
  start(tc_config(1));
  size_t cap = 32768;
  char *req = malloc(cap);
  cr_assert_not_null(req);
  char *path = repeat('p', 8192 - 3);
  char *v = repeat('v', 16384 - 9 - 5 - 2);
  int n = snprintf(req, cap, "GET /t/%s HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n", path, v);
  tc_conn *c = tc_connect_nodelay(port);
  /* In pieces, so that the buffer grows while the head is incomplete. */
  for (int off = 0; off < n; off += 1000) {
    cr_assert_eq(tc_send(c, req + off, (size_t)(n - off < 1000 ? n - off : 1000)), 0);
    usleep(1000);
  }
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(r.body, "8192");
  tc_response_free(&r);
  /* The connection goes on with small requests after the big one. */
  cr_assert_eq(tc_send_str(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(r.body, "pong");
  tc_response_free(&r);
  tc_close(c);
  free(path);
  free(v);
  free(req);
}

/* Many requests on one connection: the server's memory does not grow with their number. */
Test(limits, ten_thousand_requests_on_one_connection_do_not_grow_memory, .timeout = 60) {
  start(tc_config(1));
  tc_conn *c = tc_connect(port);
  static const char req[] = "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  size_t rss_warm = 0;
  for (int i = 0; i < 10000; i++) {
    cr_assert_eq(tc_send(c, req, sizeof(req) - 1), 0);
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0, "request %d", i);
    cr_assert_eq(r.status, 200);
    tc_response_free(&r);
    if (i == 999) rss_warm = tc_rss_bytes();
  }
  size_t rss_end = tc_rss_bytes();
  tc_close(c);
  if (!rss_warm || !rss_end) cr_skip_test("no /proc/self/statm");
  long grew = (long)rss_end - (long)rss_warm;
  /* Generous: allocator and sanitizer noise are a few hundred KiB; a per-request leak of even
   * 1 KiB would be 9 MiB here. */
  cr_assert_lt(grew, 4L << 20, "RSS grew by %ld bytes over 9000 requests", grew);
}
