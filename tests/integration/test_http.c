/* The HTTP engine over real loopback sockets: framing, keep-alive, pipelining, errors, limits. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "support/client.h"

static api_app *app;
static api_server *srv;
static int port;

static int hello(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200, json_pack("{s:s}", "message", "Hello, World!"));
}

static int user(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200,
                          json_pack("{s:s,s:s}", "id", api_req_param(req, "id"), "name", "Ada"));
}

static int echo(api_req *req, api_res *res, void *ud) {
  size_t len;
  const char *body = api_req_body(req, &len);
  return api_res_body(res, api_req_header(req, "content-type"), body, len);
}

static int inspect(api_req *req, api_res *res, void *ud) {
  json_t *o = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:i}", "param",
                        api_req_param(req, "name"), "q", api_req_query(req, "q"), "tag1",
                        api_req_query_n(req, "tag", 1), "ua", api_req_header(req, "USER-AGENT"),
                        "x2", api_req_header_n(req, "x-multi", 1), "c1", api_req_cookie(req, "a"),
                        "c2", api_req_cookie(req, "b"), "addr", api_req_client_addr(req), "port",
                        api_req_client_port(req));
  api_res_cookie(res, "sid", "abc",
                 &(api_cookie_opts){
                     .path = "/", .http_only = 1, .max_age = 60, .same_site = API_SAMESITE_LAX});
  return api_res_data(res, 200, o, NULL);
}

static int fails(api_req *req, api_res *res, void *ud) {
  const char *how = api_req_param(req, "how");
  if (strcmp(how, "forbidden") == 0) return API_EFORBIDDEN;
  if (strcmp(how, "internal") == 0) return api_res_text(res, 200, "half") ? 0 : API_ESYS;
  if (strcmp(how, "nothing") == 0) return 0;
  if (strcmp(how, "header") == 0) {
    cr_assert_eq(api_res_header(res, "X-Evil", "a\r\nSet-Cookie: x=1"), API_EINVAL);
    cr_assert_eq(api_res_header(res, "Content-Length", "5"), API_EINVAL);
    cr_assert_eq(api_res_header(res, "Bad Name", "v"), API_EINVAL);
    return api_res_text(res, 200, "safe");
  }
  return api_res_error(res, 409, NULL, "taken", json_pack("[{s:s}]", "field", "email"));
}

static int parse_json(api_req *req, api_res *res, void *ud) {
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  return api_res_data(res, 200, json_incref(body), json_pack("{s:i}", "n", 1));
}

static void setup(void) {
  api_config cfg = tc_config(1);
  cfg.max_body = 1000;
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/json", hello, NULL), 0);
  cr_assert_eq(api_app_get(app, "/users/:id", user, NULL), 0);
  cr_assert_eq(api_app_post(app, "/echo", echo, NULL), 0);
  cr_assert_eq(api_app_get(app, "/inspect/:name", inspect, NULL), 0);
  cr_assert_eq(api_app_get(app, "/fail/:how", fails, NULL), 0);
  cr_assert_eq(api_app_post(app, "/json", parse_json, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void teardown(void) { tc_stop(srv, app); }

TestSuite(http, .init = setup, .fini = teardown, .timeout = 30);

Test(http, get_json) {
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"message\":\"Hello, World!\"}");
  cr_assert_str_eq(tc_header(&r, "content-type"), "application/json");
  cr_assert_str_eq(tc_header(&r, "content-length"), "27");
  cr_assert_not_null(tc_header(&r, "date"));
  tc_response_free(&r);
}

Test(http, keep_alive_and_pipelining_answer_in_order) {
  tc_conn *c = tc_connect(port);
  cr_assert_not_null(c);
  cr_assert_eq(tc_send_str(c,
                           "GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\n"
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                           "GET /users/3 HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  const char *want[] = {"{\"id\":\"1\",\"name\":\"Ada\"}", "{\"id\":\"2\",\"name\":\"Ada\"}", "abc",
                        "{\"id\":\"3\",\"name\":\"Ada\"}"};
  for (int i = 0; i < 4; i++) {
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0, "response %d", i);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, want[i]);
    tc_response_free(&r);
  }
  tc_close(c);
}

Test(http, chunked_body) {
  tc_response r;
  cr_assert_eq(tc_exchange(port,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                           "Content-Type: text/plain\r\n\r\n"
                           "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
                           &r),
               0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "hello world");
  cr_assert_str_eq(tc_header(&r, "content-type"), "text/plain");
  tc_response_free(&r);
}

Test(http, not_found_is_json) {
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 404);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "NOT_FOUND");
  cr_assert(json_string_length(json_object_get(j, "request_id")) > 0);
  json_decref(j);
  tc_response_free(&r);
}

Test(http, smuggling_cl_te_is_400_and_closes) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /json HTTP/1.1\r\n"
                           "Host: x\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 400);
  cr_assert_str_eq(tc_header(&r, "connection"), "close");
  cr_assert(tc_wait_closed(c, 3000), "the connection is closed after a framing error");
  tc_response_free(&r);
  tc_close(c);
}

Test(http, body_too_large_is_413_before_the_body) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 413);
  tc_response_free(&r);
  tc_close(c);
}

Test(http, head_answers_with_the_get_length_and_no_body) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(
      tc_send_str(c, "HEAD /json HTTP/1.1\r\nHost: x\r\n\r\nGET /json HTTP/1.1\r\nHost: x\r\n\r\n"),
      0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, true), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(tc_header(&r, "content-length"), "27");
  tc_response_free(&r);
  cr_assert_eq(tc_read(c, &r, false), 0, "the next response follows at once: no body was sent");
  cr_assert_str_eq(r.body, "{\"message\":\"Hello, World!\"}");
  tc_response_free(&r);
  tc_close(c);
}

Test(http, options_and_405_list_the_allowed_methods) {
  tc_response r;
  cr_assert_eq(tc_exchange(port, "OPTIONS /json HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 204);
  cr_assert_str_eq(tc_header(&r, "allow"), "GET, HEAD, OPTIONS, POST");
  tc_response_free(&r);
  cr_assert_eq(tc_exchange(port, "DELETE /users/1 HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 405);
  cr_assert_str_eq(tc_header(&r, "allow"), "GET, HEAD, OPTIONS");
  cr_assert(strstr(r.body, "\"METHOD_NOT_ALLOWED\""));
  tc_response_free(&r);
  /* The asterisk form asks about the server as a whole; any other method with it is malformed. */
  cr_assert_eq(tc_exchange(port, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 204);
  cr_assert_str_eq(tc_header(&r, "allow"), "GET, HEAD, OPTIONS, POST");
  tc_response_free(&r);
  cr_assert_eq(tc_exchange(port, "GET * HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 400);
  tc_response_free(&r);
}

Test(http, expect_100_continue) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           "Expect: 100-continue\r\n\r\n"),
               0);
  char buf[64] = {0};
  ssize_t n = recv(c->fd, buf, 25, MSG_WAITALL);
  cr_assert_eq(n, 25);
  cr_assert_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
  cr_assert_eq(tc_send_str(c, "hello"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "hello");
  tc_response_free(&r);
  tc_close(c);
}

Test(http, request_accessors) {
  tc_response r;
  cr_assert_eq(tc_exchange(port,
                           "GET /inspect/Ada%20L%2F?q=a+b%21&tag=x&tag=y HTTP/1.1\r\nHost: x\r\n"
                           "User-Agent: t/1\r\nX-Multi: one\r\nX-Multi: two\r\n"
                           "Cookie: a=1; b=\"two\"\r\n\r\n",
                           &r),
               0);
  cr_assert_eq(r.status, 200);
  json_t *j = json_loads(r.body, 0, NULL), *d = json_object_get(j, "data");
  cr_assert_str_eq(json_string_value(json_object_get(d, "param")), "Ada L/");
  cr_assert_str_eq(json_string_value(json_object_get(d, "q")), "a b!");
  cr_assert_str_eq(json_string_value(json_object_get(d, "tag1")), "y");
  cr_assert_str_eq(json_string_value(json_object_get(d, "ua")), "t/1");
  cr_assert_str_eq(json_string_value(json_object_get(d, "x2")), "two");
  cr_assert_str_eq(json_string_value(json_object_get(d, "c1")), "1");
  cr_assert_str_eq(json_string_value(json_object_get(d, "c2")), "two");
  cr_assert_str_eq(json_string_value(json_object_get(d, "addr")), "127.0.0.1");
  cr_assert_gt(json_integer_value(json_object_get(d, "port")), 0);
  cr_assert_str_eq(tc_header(&r, "set-cookie"),
                   "sid=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
  json_decref(j);
  tc_response_free(&r);
  cr_assert_eq(tc_exchange(port, "GET /inspect/x?q=%zz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 400, "a malformed query string is refused");
  tc_response_free(&r);
  cr_assert_eq(tc_exchange(port, "GET /inspect/%zz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 400, "a malformed path parameter is refused");
  tc_response_free(&r);
}

static void expect_error(const char *raw, int status, const char *code, const char *message) {
  tc_response r;
  cr_assert_eq(tc_exchange(port, raw, &r), 0);
  cr_assert_eq(r.status, status, "%s", raw);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "JSON error body: %s", r.body);
  json_t *e = json_object_get(j, "error");
  cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
  if (message) cr_assert_str_eq(json_string_value(json_object_get(e, "message")), message);
  json_decref(j);
  tc_response_free(&r);
}

Test(http, handler_errors_become_json_errors_without_internals) {
  expect_error("GET /fail/forbidden HTTP/1.1\r\nHost: x\r\n\r\n", 403, "FORBIDDEN", "forbidden");
  expect_error("GET /fail/internal HTTP/1.1\r\nHost: x\r\n\r\n", 500, "INTERNAL",
               "internal server error");
  expect_error("GET /fail/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 500, "INTERNAL",
               "internal server error");
  expect_error("GET /fail/other HTTP/1.1\r\nHost: x\r\n\r\n", 409, "CONFLICT", "taken");
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /fail/header HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_null(tc_header(&r, "x-evil"));
  cr_assert_null(tc_header(&r, "set-cookie"));
  cr_assert_str_eq(r.body, "safe");
  tc_response_free(&r);
}

Test(http, json_bodies) {
  tc_response r;
  cr_assert_eq(tc_exchange(port,
                           "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; "
                           "charset=utf-8\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
                           &r),
               0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"data\":{\"a\":1},\"meta\":{\"n\":1}}");
  tc_response_free(&r);
  expect_error(
      "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
      415, "UNSUPPORTED_MEDIA_TYPE", NULL);
  cr_assert_eq(tc_exchange(port,
                           "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 8\r\n\r\n{\"a\":1,}",
                           &r),
               0);
  cr_assert_eq(r.status, 400);
  cr_assert(strstr(r.body, "line 1, column"), "%s", r.body);
  tc_response_free(&r);
  expect_error(
      "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\n\r\n{\"a\":1,\"a\":2}",
      400, "BAD_REQUEST", NULL);
}

Test(http, deeply_nested_json_is_refused_not_a_crash) {
  api_app *a;
  api_config cfg = tc_config(1);
  cfg.max_body = 100000;
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_post(a, "/json", parse_json, NULL), 0);
  api_server *s = tc_start(a);
  char *body = malloc(20001), *req = malloc(20200);
  memset(body, '[', 10000);
  memset(body + 10000, ']', 10000);
  body[20000] = '\0';
  snprintf(req, 20200,
           "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: 20000\r\n\r\n%s",
           body);
  tc_response r;
  cr_assert_eq(tc_exchange(api_server_port(s), req, &r), 0);
  cr_assert_eq(r.status, 400);
  tc_response_free(&r);
  free(body);
  free(req);
  tc_stop(s, a);
}

Test(http, conflicting_routes_fail_at_registration_and_block_the_start) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_get(a, "/users/:id", hello, NULL), 0);
  cr_assert_eq(api_app_get(a, "/users/:name", hello, NULL), API_EEXIST);
  cr_assert(strstr(api_last_error(), "/users/:name") && strstr(api_last_error(), "/users/:id"),
            "the message names both routes: %s", api_last_error());
  cr_assert_eq(api_app_get(a, "/bad//path", hello, NULL), API_EINVAL);
  api_server *s = NULL;
  cr_assert_eq(api_server_start(&s, a), API_ESTATE);
  cr_assert_null(s);
  api_app_free(a);
}
