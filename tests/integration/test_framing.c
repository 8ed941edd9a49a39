/* Message framing over real loopback sockets: keep-alive, pipelining, requests split across
 * packets, HTTP/1.0 and Connection rules, HEAD, automatic OPTIONS and 405, Expect: 100-continue,
 * chunked bodies with extensions and trailers, large bodies, and the Date header. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
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

static int hello(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200, json_pack("{s:s}", "message", "Hello, World!"));
}

/* "n=<id>": tells pipelined responses apart. */
static int numbered(api_req *req, api_res *res, void *ud) {
  char buf[64];
  snprintf(buf, sizeof(buf), "n=%s", api_req_param(req, "i"));
  return api_res_text(res, 200, buf);
}

static int echo(api_req *req, api_res *res, void *ud) {
  size_t len;
  const char *body = api_req_body(req, &len);
  const char *ct = api_req_header(req, "content-type");
  return api_res_body(res, ct ? ct : "application/octet-stream", body, len);
}

static atomic_int big_calls;

/* 8 KiB of 'z': big enough that a few pipelined answers fill the output buffer. */
static int big(api_req *req, api_res *res, void *ud) {
  atomic_fetch_add(&big_calls, 1);
  char *p = api_req_alloc(req, 8192);
  if (!p) return API_ENOMEM;
  memset(p, 'z', 8192);
  return api_res_body_ref(res, "text/plain", p, 8192);
}

static int things(api_req *req, api_res *res, void *ud) {
  return api_res_text(res, 200, api_req_method(req));
}

/* The body's length and the HTTP version the handler saw. */
static int info(api_req *req, api_res *res, void *ud) {
  size_t len;
  api_req_body(req, &len);
  return api_res_json_new(
      res, 200, json_pack("{s:I,s:i}", "len", (json_int_t)len, "minor", api_req_http_minor(req)));
}

/* "/status/:code" answers that status with a body the framework must drop for 204 and 304. */
static int with_status(api_req *req, api_res *res, void *ud) {
  api_res_status(res, atoi(api_req_param(req, "code")));
  return api_res_body(res, "text/plain", "body", 4);
}

/* Holds the worker for 300 ms: only so that a test can line bytes up in the kernel first. */
static int block_worker(api_req *req, api_res *res, void *ud) {
  usleep(300 * 1000);
  return api_res_text(res, 200, "blocked");
}

static void start(api_config cfg) {
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/json", hello, NULL), 0);
  cr_assert_eq(api_app_get(app, "/n/:i", numbered, NULL), 0);
  cr_assert_eq(api_app_post(app, "/echo", echo, NULL), 0);
  cr_assert_eq(api_app_get(app, "/big", big, NULL), 0);
  cr_assert_eq(api_app_get(app, "/things", things, NULL), 0);
  cr_assert_eq(api_app_post(app, "/things", things, NULL), 0);
  cr_assert_eq(api_app_post(app, "/info", info, NULL), 0);
  cr_assert_eq(api_app_get(app, "/status/:code", with_status, NULL), 0);
  cr_assert_eq(api_app_get(app, "/block", block_worker, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void start_default(void) {
  api_config cfg = tc_config(1);
  cfg.max_body = 1000;
  start(cfg);
}

static void stop(void) { tc_stop(srv, app); }

TestSuite(framing, .timeout = 30, .fini = stop);

static void expect_body(tc_conn *c, int status, const char *body, const char *what) {
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "%s: a response arrives", what);
  cr_assert_eq(r.status, status, "%s: status %d, head:\n%s", what, r.status, r.head);
  cr_assert_str_eq(r.body, body, "%s", what);
  tc_response_free(&r);
}

Test(framing, keep_alive_serves_many_requests_on_one_connection, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_not_null(c);
  for (int i = 0; i < 100; i++) {
    char req[128], want[32];
    snprintf(req, sizeof(req), "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    snprintf(want, sizeof(want), "n=%d", i);
    cr_assert_eq(tc_send_str(c, req), 0, "request %d is sent on the same connection", i);
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0, "response %d", i);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, want);
    cr_assert_null(tc_header(&r, "connection"), "HTTP/1.1 keep-alive needs no Connection header");
    tc_response_free(&r);
  }
  tc_close(c);
}

Test(framing, twenty_pipelined_requests_in_one_send_answer_in_order, .init = start_default) {
  char all[8192] = "";
  char want[20][64];
  size_t n = 0;
  for (int i = 0; i < 20; i++) {
    char one[256];
    switch (i % 3) {
      case 0:
        snprintf(one, sizeof(one), "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        snprintf(want[i], sizeof(want[i]), "n=%d", i);
        break;
      case 1: {
        char body[32];
        int bl = snprintf(body, sizeof(body), "content-length body %d", i);
        snprintf(one, sizeof(one),
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 bl, body);
        snprintf(want[i], sizeof(want[i]), "%s", body);
        break;
      }
      default:
        snprintf(one, sizeof(one),
                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "6\r\nchunk-\r\n%x\r\n%d\r\n0\r\n\r\n",
                 i < 10 ? 1 : 2, i);
        snprintf(want[i], sizeof(want[i]), "chunk-%d", i);
    }
    size_t l = strlen(one);
    cr_assert_lt(n + l, sizeof(all));
    memcpy(all + n, one, l + 1);
    n += l;
  }
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send(c, all, n), 0);
  for (int i = 0; i < 20; i++) {
    char what[32];
    snprintf(what, sizeof(what), "pipelined response %d", i);
    expect_body(c, 200, want[i], what);
  }
  cr_assert_not(tc_readable(c, 100), "nothing more than the 20 responses");
  tc_close(c);
}

Test(framing, pipelined_responses_larger_than_the_output_buffer_all_arrive, .init = start_default) {
  /* 60 requests whose answers add up to ~500 KB: the server must hold back reading while its
   * output is full, and carry on when the client drains it. */
  char all[60 * 40];
  size_t n = 0;
  for (int i = 0; i < 60; i++)
    n += (size_t)snprintf(all + n, sizeof(all) - n, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send(c, all, n), 0);
  usleep(200 * 1000); /* let the server fill its buffers before anything is read */
  for (int i = 0; i < 60; i++) {
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0, "response %d", i);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 8192, "response %d is whole", i);
    cr_assert_eq(strspn(r.body, "z"), 8192);
    tc_response_free(&r);
  }
  cr_assert_eq(tc_send_str(c, "GET /n/1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  expect_body(c, 200, "n=1", "the connection still works");
  tc_close(c);
}

Test(framing, requests_split_byte_by_byte, .init = start_default) {
  tc_conn *c = tc_connect_nodelay(port);
  const char *get = "GET /n/7?q=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: split\r\n\r\n";
  const char *post =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
      "hello world";
  const char *chunked =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain"
      "\r\n\r\n5;a=\"q\"\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: v\r\n\r\n";
  cr_assert_eq(tc_send_slowly(c, get, strlen(get), 500), 0);
  expect_body(c, 200, "n=7", "GET sent byte by byte");
  cr_assert_eq(tc_send_slowly(c, post, strlen(post), 500), 0);
  expect_body(c, 200, "hello world", "POST with Content-Length sent byte by byte");
  cr_assert_eq(tc_send_slowly(c, chunked, strlen(chunked), 500), 0);
  expect_body(c, 200, "hello world", "chunked POST sent byte by byte");
  tc_close(c);
}

Test(framing, http10_closes_by_default, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "GET /json HTTP/1.0\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"message\":\"Hello, World!\"}");
  cr_assert_not_null(tc_header(&r, "connection"));
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  cr_assert(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", r.head);
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000), "the server closes an HTTP/1.0 connection");
  tc_close(c);
}

Test(framing, http10_keep_alive_is_honoured, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_not_null(tc_header(&r, "connection"));
  cr_assert_str_eq(tc_header(&r, "connection"), "keep-alive");
  tc_response_free(&r);
  cr_assert_not(tc_readable(c, 200), "the connection stays open");
  cr_assert_eq(tc_send_str(c,
                           "POST /info HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n"
                           "\r\nabc"),
               0);
  expect_body(c, 200, "{\"len\":3,\"minor\":0}", "a second HTTP/1.0 request, with a body");
  /* The last one without keep-alive: answered, then closed. */
  cr_assert_eq(tc_send_str(c, "GET /n/3 HTTP/1.0\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(r.body, "n=3");
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
}

Test(framing, connection_close_on_http11, .init = start_default) {
  tc_conn *c = tc_connect(port);
  /* A pipelined request behind "Connection: close" must not be answered. */
  cr_assert_eq(tc_send_str(c,
                           "GET /n/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                           "GET /n/2 HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "n=1");
  cr_assert_not_null(tc_header(&r, "connection"));
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  char rest[4096];
  cr_assert_eq(tc_read_until_closed(c, rest, sizeof(rest), 3000), 0,
               "closed, and the request after Connection: close is not answered: %s", rest);
  tc_close(c);

  /* "close" among other connection options counts too. */
  c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "GET /n/4 HTTP/1.1\r\nHost: x\r\nConnection: TE, Close\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
}

Test(framing, head_sends_the_get_length_and_no_body, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, true), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(tc_header(&r, "content-length"), "27", "the length the GET body has");
  cr_assert_str_eq(tc_header(&r, "content-type"), "application/json");
  tc_response_free(&r);
  cr_assert_not(tc_readable(c, 200), "no body bytes follow a HEAD response");
  /* The next response on the connection parses right, so no stray body bytes were sent. */
  cr_assert_eq(tc_send_str(c, "GET /n/5 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  expect_body(c, 200, "n=5", "the request after HEAD");

  /* Pipelined: HEAD of a big body then a GET. */
  cr_assert_eq(tc_send_str(c,
                           "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n"
                           "HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /n/6 HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  cr_assert_eq(tc_read(c, &r, true), 0);
  cr_assert_str_eq(tc_header(&r, "content-length"), "8192");
  tc_response_free(&r);
  cr_assert_eq(tc_read(c, &r, true), 0);
  cr_assert_eq(r.status, 404, "HEAD of an unknown path");
  tc_response_free(&r);
  expect_body(c, 200, "n=6", "the GET pipelined after two HEADs");
  tc_close(c);
}

Test(framing, automatic_options_and_405_with_allow, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "OPTIONS /things HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 204);
  const char *allow = tc_header(&r, "allow");
  cr_assert_not_null(allow);
  cr_assert_str_eq(allow, "GET, HEAD, OPTIONS, POST");
  cr_assert_null(tc_header(&r, "content-length"), "a 204 has no Content-Length");
  cr_assert_eq(r.body_len, 0);
  tc_response_free(&r);

  cr_assert_eq(tc_send_str(c, "DELETE /things HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 405);
  cr_assert_str_eq(tc_header(&r, "allow"), "GET, HEAD, OPTIONS, POST");
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "405 has a JSON body: %s", r.body);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "METHOD_NOT_ALLOWED");
  json_decref(j);
  tc_response_free(&r);

  /* The connection is still usable after both. */
  cr_assert_eq(tc_send_str(c, "POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 0);
  expect_body(c, 200, "POST", "after OPTIONS and 405");

  /* OPTIONS on a path nobody serves is a 404, not a 204. */
  cr_assert_eq(tc_send_str(c, "OPTIONS /nothing HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 404);
  tc_response_free(&r);
  tc_close(c);
}

Test(framing, no_body_and_no_length_for_204_and_304, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 204);
  cr_assert_null(tc_header(&r, "content-length"), "RFC 9110 8.6: no Content-Length in a 204");
  tc_response_free(&r);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 304, "the 204 sent no body bytes: %s", r.head);
  tc_response_free(&r);
  expect_body(c, 200, "body", "the response after 204 and 304 parses right");
  tc_close(c);
}

Test(framing, expect_100_continue, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0, "an interim response arrives before the body is sent");
  cr_assert_eq(r.status, 100);
  cr_assert(strcmp(r.head, "HTTP/1.1 100 Continue\r\n\r\n") == 0, "%s", r.head);
  tc_response_free(&r);
  cr_assert_eq(tc_send_str(c, "hello"), 0);
  expect_body(c, 200, "hello", "the final response after 100 Continue");

  /* Chunked, on the same connection. */
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           "Transfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n"),
               0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 100);
  tc_response_free(&r);
  cr_assert_eq(tc_send_str(c, "3\r\nabc\r\n0\r\n\r\n"), 0);
  expect_body(c, 200, "abc", "chunked body after 100 Continue");

  /* A client that does not wait gets no 100 it did not need, just the answer. */
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 2\r\nExpect: 100-continue\r\n\r\nok"),
               0);
  expect_body(c, 200, "ok", "the body came with the head");
  tc_close(c);
}

Test(framing, expect_100_continue_over_the_body_limit_is_413_without_continue,
     .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n"
                           "Expect: 100-continue\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 413, "no 100 Continue for a body that will be refused: %s", r.head);
  cr_assert(strstr(r.body, "\"PAYLOAD_TOO_LARGE\""), "%s", r.body);
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  tc_response_free(&r);
  char rest[4096];
  cr_assert_eq(tc_read_until_closed(c, rest, sizeof(rest), 3000), 0, "nothing else: %s", rest);
  tc_close(c);

  /* An unknown route: the final 404 instead of 100 Continue, then close (the body is unread). */
  c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                           "Expect: 100-continue\r\n\r\n"),
               0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 404, "%s", r.head);
  tc_response_free(&r);
  cr_assert(tc_wait_closed(c, 3000));
  tc_close(c);
}

Test(framing, http10_expect_gets_no_100, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(
      tc_send_str(c,
                  "POST /echo HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                  "Expect: 100-continue\r\n\r\n"),
      0);
  cr_assert_not(tc_readable(c, 300), "RFC 9110 10.1.1: no 100 Continue to an HTTP/1.0 client");
  cr_assert_eq(tc_send_str(c, "hi"), 0);
  expect_body(c, 200, "hi", "HTTP/1.0 body");
  tc_close(c);
}

Test(framing, chunked_extensions_and_trailers, .init = start_default) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"
                           "5;name=value\r\nhello\r\n"
                           "1 ; a ; b = \"quoted; \\\"string\\\"\"\r\n,\r\n"
                           "000A;flag\r\n 0123456Ab\r\n"
                           "0;last=1\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"),
               0);
  expect_body(c, 200, "hello, 0123456Ab", "extensions are skipped and trailers dropped");
  /* Upper-case hex, no extensions, empty trailer, then the connection goes on. */
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"
                           "B\r\nhello world\r\n0\r\n\r\n"
                           "GET /n/9 HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  expect_body(c, 200, "hello world", "upper-case chunk size");
  expect_body(c, 200, "n=9", "the request after a chunked body");
  /* A chunked request with an empty body. */
  cr_assert_eq(tc_send_str(c,
                           "POST /info HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "0\r\n\r\n"),
               0);
  expect_body(c, 200, "{\"len\":0,\"minor\":1}", "empty chunked body");
  tc_close(c);
}

/* A byte pattern that is not periodic in any small power of two. */
static void fill_pattern(unsigned char *p, size_t n) {
  uint32_t x = 0x12345678;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (unsigned char)(x >> 16);
  }
}

Test(framing, one_mebibyte_body_content_length_and_chunked) {
  api_config cfg = tc_config(1);
  cfg.max_body = 2u << 20;
  start(cfg);
  size_t n = 1u << 20;
  unsigned char *body = malloc(n);
  cr_assert_not_null(body);
  fill_pattern(body, n);

  tc_conn *c = tc_connect(port);
  char head[256];
  snprintf(head, sizeof(head),
           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: %zu\r\n\r\n",
           n);
  cr_assert_eq(tc_send_str(c, head), 0);
  cr_assert_eq(tc_send(c, body, n), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.body_len, n);
  cr_assert(memcmp(r.body, body, n) == 0, "the Content-Length body comes back intact");
  tc_response_free(&r);

  /* Chunked, in chunks of awkward sizes, on the same connection. */
  cr_assert_eq(
      tc_send_str(c,
                  "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
                  "\r\nTransfer-Encoding: chunked\r\n\r\n"),
      0);
  static const size_t sizes[] = {1, 2, 4095, 4096, 4097, 65536, 100000, 7};
  size_t off = 0;
  for (unsigned k = 0; off < n; k++) {
    size_t sz = sizes[k % (sizeof(sizes) / sizeof(sizes[0]))];
    if (sz > n - off) sz = n - off;
    char line[32];
    snprintf(line, sizeof(line), "%zx\r\n", sz);
    cr_assert_eq(tc_send_str(c, line), 0);
    cr_assert_eq(tc_send(c, body + off, sz), 0);
    cr_assert_eq(tc_send_str(c, "\r\n"), 0);
    off += sz;
  }
  cr_assert_eq(tc_send_str(c, "0\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.body_len, n);
  cr_assert(memcmp(r.body, body, n) == 0, "the chunked body comes back intact");
  tc_response_free(&r);
  tc_close(c);
  free(body);
}

Test(framing, date_header_is_an_imf_fixdate, .init = start_default) {
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  const char *d = tc_header(&r, "date");
  cr_assert_not_null(d);
  char date[64];
  snprintf(date, sizeof(date), "%s", d);
  tc_response_free(&r);
  /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 bytes. */
  cr_assert_eq(strlen(date), 29, "\"%s\"", date);
  struct tm tm = {0};
  const char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  cr_assert(end && *end == '\0', "\"%s\" parses as an IMF-fixdate", date);
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  time_t t = timegm(&tm);
  struct tm check;
  gmtime_r(&t, &check);
  cr_assert(strncmp(date, days[check.tm_wday], 3) == 0, "the weekday matches the date: %s", date);
  cr_assert(date[3] == ',' && date[4] == ' ' && date[7] == ' ' && date[11] == ' ' &&
                date[16] == ' ' && date[19] == ':' && date[22] == ':',
            "fixed layout: %s", date);
  long skew = (long)(t - time(NULL));
  cr_assert(skew > -10 && skew < 10, "the Date is now (off by %lds)", skew);
}

Test(framing, pipelined_requests_wait_while_the_client_does_not_read) {
  /* 8000 pipelined requests for 8 KiB answers (64 MB in all), already queued in the kernel when
   * the worker gets to them, from a client with a small receive window that reads nothing for a
   * while. The server may buffer some answers (64 KiB high-water mark plus what the kernel takes)
   * but must stop running requests whose answers cannot leave. */
  api_config cfg = tc_config(1);
  cfg.max_body = 1000;
  start(cfg);
  enum { N = 8000 };
  static const char one[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t len = (sizeof(one) - 1) * N;
  char *all = malloc(len);
  cr_assert_not_null(all);
  for (int i = 0; i < N; i++) memcpy(all + i * (sizeof(one) - 1), one, sizeof(one) - 1);
  tc_conn *c = calloc(1, sizeof(*c));
  cr_assert_not_null(c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096, large = 1 << 20;
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &large, sizeof(large));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  tc_set_timeout(c, 5000);
  tc_conn *blocker = tc_connect(port);
  cr_assert_eq(tc_send_str(blocker, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  usleep(50 * 1000); /* the worker is now asleep in /block */
  size_t rss0 = tc_rss_bytes();
  cr_assert_eq(tc_send(c, all, len), 0, "256 KB of requests fit in the kernel's buffers");
  usleep(1000 * 1000);
  int ran = atomic_load(&big_calls);
  size_t rss1 = tc_rss_bytes();
  /* Drain everything and check every answer arrived, in order and whole. */
  for (int i = 0; i < N; i++) {
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0, "response %d", i);
    cr_assert_eq(r.body_len, 8192);
    tc_response_free(&r);
  }
  tc_close(c);
  tc_close(blocker);
  free(all);
  cr_log_info("handlers run before the client read anything: %d; RSS grew %ld KiB", ran,
              ((long)rss1 - (long)rss0) / 1024);
  /* The kernel may take a few MB of answers (tcp_wmem); far from all 64 MB of them. */
  cr_assert_lt(ran, N / 2,
               "%d of %d requests were run while their answers could not be sent (RSS +%ld KiB)",
               ran, N, ((long)rss1 - (long)rss0) / 1024);
}
