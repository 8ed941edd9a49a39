/* The HTTP engine over real loopback sockets: framing, keep-alive, pipelining, errors, limits. */
#include <criterion/criterion.h>
#include <string.h>

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

static void setup(void) {
  api_config cfg = tc_config(1);
  cfg.max_body = 1000;
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/json", hello, NULL), 0);
  cr_assert_eq(api_app_get(app, "/users/:id", user, NULL), 0);
  cr_assert_eq(api_app_post(app, "/echo", echo, NULL), 0);
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
