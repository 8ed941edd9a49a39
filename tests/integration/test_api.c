/* The request and response API as a handler uses it, checked through real requests: accessors
 * (query, path params, headers, cookies, peer, JSON bodies), response builders (headers, cookies,
 * envelopes, errors), what handler return codes become on the wire, registration errors, and a
 * real client (curl). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

static api_app *app;
static api_server *srv;
static int port;
static atomic_int query_calls;

/* ---- handlers ---- */

static int query(api_req *req, api_res *res, void *ud) {
  atomic_fetch_add(&query_calls, 1);
  return api_res_json_new(
      res, 200,
      json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s}", "a",
                api_req_query(req, "a"), "b", api_req_query(req, "b"), "c", api_req_query(req, "c"),
                "tag0", api_req_query_n(req, "tag", 0), "tag1", api_req_query_n(req, "tag", 1),
                "tag2", api_req_query_n(req, "tag", 2), "empty", api_req_query(req, "empty"),
                "flag", api_req_query(req, "flag"), "missing", api_req_query(req, "missing"),
                "sp ace", api_req_query(req, "sp ace"), "amp", api_req_query(req, "amp"), "raw",
                api_req_query_string(req)));
}

static int user(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200,
                          json_pack("{s:s?,s:s,s:s?}", "id", api_req_param(req, "id"), "path",
                                    api_req_path(req), "route", api_req_route(req)));
}

static int file(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200, json_pack("{s:s?}", "path", api_req_param(req, "path")));
}

static int headers(api_req *req, api_res *res, void *ud) {
  const char *n0 = NULL, *v0 = NULL;
  api_req_header_at(req, 0, &n0, &v0);
  const char *nx = NULL, *vx = NULL;
  int past = api_req_header_at(req, api_req_header_count(req), &nx, &vx);
  return api_res_json_new(
      res, 200,
      json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:s?,s:s?,s:i}", "first",
                api_req_header(req, "x-tag"), "n0", api_req_header_n(req, "X-TAG", 0), "n1",
                api_req_header_n(req, "X-Tag", 1), "n2", api_req_header_n(req, "x-tag", 2), "n3",
                api_req_header_n(req, "x-tag", 3), "spaced", api_req_header(req, "x-spaced"),
                "absent", api_req_header(req, "x-absent"), "count",
                (json_int_t)api_req_header_count(req), "name0", n0, "value0", v0, "past", past));
}

static int cookies(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(
      res, 200,
      json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "a", api_req_cookie(req, "a"), "b",
                api_req_cookie(req, "b"), "c", api_req_cookie(req, "c"), "d",
                api_req_cookie(req, "d"), "missing", api_req_cookie(req, "missing"), "A",
                api_req_cookie(req, "A")));
}

static int peer(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200,
                          json_pack("{s:s,s:i,s:s,s:i}", "addr", api_req_client_addr(req), "port",
                                    api_req_client_port(req), "method", api_req_method(req),
                                    "minor", api_req_http_minor(req)));
}

static int json_body(api_req *req, api_res *res, void *ud) {
  json_t *j;
  int rc = api_req_json(req, &j);
  if (rc) return rc;
  json_t *again;
  if (api_req_json(req, &again) != 0 || again != j) return API_EINTERNAL; /* parsed once */
  return api_res_json_new(res, 200, json_pack("{s:O}", "got", j));
}

static int inject(api_req *req, api_res *res, void *ud) {
  json_t *rcs = json_object();
#define TRY(key, call) json_object_set_new(rcs, key, json_integer(call))
  TRY("crlf_value", api_res_header(res, "X-Bad", "a\r\nInjected: 1"));
  TRY("lf_value", api_res_header(res, "X-Bad", "a\nInjected: 2"));
  TRY("cr_value", api_res_header(res, "X-Bad", "a\rInjected: 3"));
  TRY("crlf_name", api_res_header(res, "X-Bad\r\nInjected", "4"));
  TRY("colon_name", api_res_header(res, "X-Bad: Injected", "5"));
  TRY("space_name", api_res_header(res, "X Bad", "6"));
  TRY("empty_name", api_res_header(res, "", "7"));
  TRY("null_value", api_res_header(res, "X-Bad", NULL));
  TRY("content_length", api_res_header(res, "Content-Length", "1"));
  TRY("transfer_encoding", api_res_header(res, "transfer-encoding", "chunked"));
  TRY("connection", api_res_header(res, "Connection", "keep-alive"));
  TRY("date", api_res_header(res, "DATE", "Thu, 01 Jan 1970 00:00:00 GMT"));
  TRY("add_crlf", api_res_header_add(res, "X-Bad", "x\r\nInjected: 8"));
  TRY("add_content_length", api_res_header_add(res, "content-length", "2"));
  TRY("ok", api_res_header(res, "X-Ok", "v"));
  TRY("replace", api_res_header(res, "x-ok", "w"));
  TRY("add1", api_res_header_add(res, "X-Multi", "1"));
  TRY("add2", api_res_header_add(res, "X-Multi", "2"));
  TRY("status_100", api_res_status(res, 100));
  TRY("status_600", api_res_status(res, 600));
#undef TRY
  return api_res_json_new(res, 200, rcs);
}

static int set_cookies(api_req *req, api_res *res, void *ud) {
  json_t *rcs = json_object();
#define TRY(key, call) json_object_set_new(rcs, key, json_integer(call))
  TRY("full", api_res_cookie(res, "sid", "abc123",
                             &(api_cookie_opts){.path = "/",
                                                .domain = "example.com",
                                                .max_age = 3600,
                                                .expires = 1700000000,
                                                .http_only = 1,
                                                .secure = 1,
                                                .same_site = API_SAMESITE_LAX}));
  TRY("plain", api_res_cookie(res, "theme", "dark", NULL));
  TRY("delete", api_res_cookie(res, "old", "", &(api_cookie_opts){.max_age = -1}));
  TRY("strict", api_res_cookie(res, "__Host-s", "1",
                               &(api_cookie_opts){
                                   .path = "/", .secure = 1, .same_site = API_SAMESITE_STRICT}));
  TRY("none_without_secure",
      api_res_cookie(res, "x", "1", &(api_cookie_opts){.same_site = API_SAMESITE_NONE}));
  TRY("semicolon_value", api_res_cookie(res, "x", "a;b", NULL));
  TRY("space_value", api_res_cookie(res, "x", "a b", NULL));
  TRY("crlf_value", api_res_cookie(res, "x", "a\r\nInjected: 1", NULL));
  TRY("bad_name", api_res_cookie(res, "x y", "1", NULL));
  TRY("path_semicolon", api_res_cookie(res, "x", "1", &(api_cookie_opts){.path = "/;x"}));
  TRY("host_with_domain",
      api_res_cookie(res, "__Host-x", "1",
                     &(api_cookie_opts){.path = "/", .domain = "example.com", .secure = 1}));
  TRY("secure_prefix_insecure", api_res_cookie(res, "__Secure-x", "1", NULL));
  char *longv = api_req_alloc(req, 1001);
  memset(longv, 'L', 1000);
  longv[1000] = '\0';
  TRY("long", api_res_cookie(res, "long", longv, &(api_cookie_opts){.path = "/"}));
#undef TRY
  return api_res_json_new(res, 200, rcs);
}

/* "/err/:code" returns that api_err. */
static int fail_with(api_req *req, api_res *res, void *ud) {
  return atoi(api_req_param(req, "code"));
}

static int untouched(api_req *req, api_res *res, void *ud) { return API_NEXT; }

static int partial_then_error(api_req *req, api_res *res, void *ud) {
  api_res_status(res, 201);
  api_res_header(res, "X-Partial", "1");
  api_res_text(res, 201, "partial");
  return API_ENOTFOUND;
}

static int enomem(api_req *req, api_res *res, void *ud) {
  return api_res_json_new(res, 200, NULL); /* a constructor that "failed" */
}

static int data(api_req *req, api_res *res, void *ud) {
  if (strcmp(api_req_query(req, "meta") ? api_req_query(req, "meta") : "", "1") == 0)
    return api_res_data(res, 201, json_pack("{s:i}", "id", 7), json_pack("{s:i}", "total", 1));
  return api_res_data(res, 200, json_pack("[i,i]", 1, 2), NULL);
}

static int error_details(api_req *req, api_res *res, void *ud) {
  api_res_error(res, 422, "INVALID_THING", "the thing is invalid",
                json_pack("[{s:s,s:s}]", "field", "name", "problem", "too short"));
  return 0;
}

static int error_default_code(api_req *req, api_res *res, void *ud) {
  api_res_error(res, 409, NULL, "already there", NULL);
  return 0;
}

static int request_id(api_req *req, api_res *res, void *ud) {
  const char *a = api_req_id(req), *b = api_req_id(req);
  return api_res_json_new(res, 200, json_pack("{s:s,s:b}", "id", a, "stable", strcmp(a, b) == 0));
}

static void start(void) {
  api_config cfg = tc_config(1);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/q", query, NULL), 0);
  cr_assert_eq(api_app_get(app, "/users/:id", user, NULL), 0);
  cr_assert_eq(api_app_post(app, "/users/:id", user, NULL), 0);
  cr_assert_eq(api_app_get(app, "/files/*path", file, NULL), 0);
  cr_assert_eq(api_app_get(app, "/headers", headers, NULL), 0);
  cr_assert_eq(api_app_get(app, "/cookies", cookies, NULL), 0);
  cr_assert_eq(api_app_get(app, "/peer", peer, NULL), 0);
  cr_assert_eq(api_app_post(app, "/json", json_body, NULL), 0);
  cr_assert_eq(api_app_get(app, "/inject", inject, NULL), 0);
  cr_assert_eq(api_app_get(app, "/set-cookies", set_cookies, NULL), 0);
  cr_assert_eq(api_app_get(app, "/err/:code", fail_with, NULL), 0);
  cr_assert_eq(api_app_get(app, "/untouched", untouched, NULL), 0);
  cr_assert_eq(api_app_get(app, "/partial", partial_then_error, NULL), 0);
  cr_assert_eq(api_app_get(app, "/enomem", enomem, NULL), 0);
  cr_assert_eq(api_app_get(app, "/data", data, NULL), 0);
  cr_assert_eq(api_app_get(app, "/error-details", error_details, NULL), 0);
  cr_assert_eq(api_app_get(app, "/error-default", error_default_code, NULL), 0);
  cr_assert_eq(api_app_get(app, "/id", request_id, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void stop(void) { tc_stop(srv, app); }

TestSuite(api, .init = start, .fini = stop, .timeout = 30);

/* ---- helpers ---- */

/* GET (or the raw request when it starts with a method and ends with a blank line); returns the
 * parsed JSON body (caller json_decref's it) and the status in *status. */
static json_t *fetch_json(const char *raw, int *status, tc_response *keep) {
  char get[4096];
  const char *req = raw;
  if (raw[0] == '/') {
    snprintf(get, sizeof(get), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", raw);
    req = get;
  }
  tc_response r;
  cr_assert_eq(tc_exchange(port, req, &r), 0, "an answer to %.200s", raw);
  *status = r.status;
  json_error_t err;
  json_t *j = json_loads(r.body, JSON_REJECT_DUPLICATES, &err);
  cr_assert_not_null(j, "a JSON body for %s: %s", raw, r.body);
  if (keep)
    *keep = r;
  else
    tc_response_free(&r);
  return j;
}

static const char *str(json_t *j, const char *key) {
  return json_string_value(json_object_get(j, key));
}

/* The handlers send a NULL accessor result as JSON null. */
static bool is_null(json_t *j, const char *key) { return json_is_null(json_object_get(j, key)); }

static void expect_error_body(json_t *j, const char *code, const char *message_part) {
  json_t *e = json_object_get(j, "error");
  cr_assert(json_is_object(e), "an error object");
  cr_assert_str_eq(str(e, "code"), code);
  const char *msg = str(e, "message");
  cr_assert_not_null(msg);
  if (message_part)
    cr_assert(strstr(msg, message_part), "message \"%s\" contains \"%s\"", msg, message_part);
  cr_assert(json_string_length(json_object_get(j, "request_id")) > 0);
}

/* ---- query strings ---- */

Test(api, query_parameters_are_decoded) {
  int st;
  json_t *j = fetch_json(
      "/q?a=1&b=hello+world&c=%41%42%2b%26&tag=x&tag=y&empty=&flag&sp+ace=%20s%20&amp=a%26b=c", &st,
      NULL);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(str(j, "a"), "1");
  cr_assert_str_eq(str(j, "b"), "hello world", "'+' is a space");
  cr_assert_str_eq(str(j, "c"), "AB+&", "%XX is a byte, %2b a literal '+'");
  cr_assert_str_eq(str(j, "tag0"), "x");
  cr_assert_str_eq(str(j, "tag1"), "y");
  cr_assert(is_null(j, "tag2"), "past the last repeat: NULL");
  cr_assert_str_eq(str(j, "empty"), "", "\"?empty=\" gives \"\"");
  cr_assert_str_eq(str(j, "flag"), "", "\"?flag\" gives \"\"");
  cr_assert(is_null(j, "missing"), "a missing key gives NULL");
  cr_assert_str_eq(str(j, "sp ace"), " s ", "keys are decoded too");
  cr_assert_str_eq(str(j, "amp"), "a&b=c", "only the first '=' splits");
  cr_assert_str_eq(str(j, "raw"),
                   "a=1&b=hello+world&c=%41%42%2b%26&tag=x&tag=y&empty=&flag&sp+ace=%20s%20&amp="
                   "a%26b=c");
  json_decref(j);

  j = fetch_json("/q", &st, NULL);
  cr_assert(is_null(j, "a"));
  cr_assert_str_eq(str(j, "raw"), "", "no query: \"\"");
  json_decref(j);
  j = fetch_json("/q?&&a=2&&", &st, NULL);
  cr_assert_str_eq(str(j, "a"), "2", "empty pieces are skipped");
  json_decref(j);
}

Test(api, malformed_query_is_400_without_calling_the_handler) {
  static const char *const bad[] = {"/q?a=%zz", "/q?a=%4", "/q?a=%", "/q?a=%00", "/q?%zz=1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int st;
    json_t *j = fetch_json(bad[i], &st, NULL);
    cr_assert_eq(st, 400, "%s", bad[i]);
    expect_error_body(j, "BAD_REQUEST", "query");
    json_decref(j);
  }
  cr_assert_eq(atomic_load(&query_calls), 0, "the handler never saw a malformed query");
}

Test(api, query_pair_limit) {
  /* 1000 pairs are parsed; 1001 are refused before the handler runs. */
  char path[4096] = "/q?a=1";
  for (int i = 1; i < 1000; i++) strcat(path, "&t");
  int st;
  json_t *j = fetch_json(path, &st, NULL);
  cr_assert_eq(st, 200, "1000 pairs");
  cr_assert_str_eq(str(j, "a"), "1");
  json_decref(j);
  strcat(path, "&t");
  j = fetch_json(path, &st, NULL);
  cr_assert_eq(st, 400, "1001 pairs");
  expect_error_body(j, "BAD_REQUEST", "query");
  json_decref(j);
}

/* ---- path parameters ---- */

Test(api, path_parameters_are_percent_decoded) {
  int st;
  json_t *j = fetch_json("/users/a%20b", &st, NULL);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(str(j, "id"), "a b");
  cr_assert_str_eq(str(j, "path"), "/users/a%20b", "api_req_path stays encoded");
  cr_assert_str_eq(str(j, "route"), "/users/:id");
  json_decref(j);
  j = fetch_json("/users/a%2Fb", &st, NULL);
  cr_assert_eq(st, 200, "an encoded slash stays inside the segment");
  cr_assert_str_eq(str(j, "id"), "a/b");
  json_decref(j);
  j = fetch_json("/users/a+b", &st, NULL);
  cr_assert_str_eq(str(j, "id"), "a+b", "'+' is only a space in query strings");
  json_decref(j);
  j = fetch_json("/users/%C3%A9t%C3%A9", &st, NULL);
  cr_assert_str_eq(str(j, "id"), "\xc3\xa9t\xc3\xa9");
  json_decref(j);
  j = fetch_json("/files/a%20b/c/d.txt", &st, NULL);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(str(j, "path"), "a b/c/d.txt", "a wildcard captures the rest, decoded");
  json_decref(j);
  j = fetch_json("/files/", &st, NULL);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(str(j, "path"), "", "a wildcard may be empty");
  json_decref(j);
}

/* A chunked request's head is copied out of the read buffer before the buffer is reused for the
 * body; its path parameters must move with it (they once kept pointing at the buffer and came
 * back as bytes of the body). */
Test(api, path_parameters_of_a_chunked_request_survive_its_body) {
  /* The head comes first, the chunked body in a later packet that lands where the head was. */
  tc_conn *c = tc_connect_nodelay(port);
  cr_assert_eq(tc_send_str(c,
                           "POST /users/a%20bcdef HTTP/1.1\r\nHost: x\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
               0);
  usleep(100 * 1000);
  cr_assert_eq(tc_send_str(c,
                           "40\r\n"
                           "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
                           "\r\n0\r\n\r\n"),
               0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  cr_assert_str_eq(str(j, "id"), "a bcdef", "the parameter is the one in the path: %s", r.body);
  cr_assert_str_eq(str(j, "path"), "/users/a%20bcdef");
  json_decref(j);
  tc_response_free(&r);
  tc_close(c);
}

Test(api, malformed_escape_in_a_path_parameter_is_400) {
  static const char *const bad[] = {"/users/%zz", "/users/a%2", "/users/%00", "/files/x/%g0"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int st;
    json_t *j = fetch_json(bad[i], &st, NULL);
    cr_assert_eq(st, 400, "%s", bad[i]);
    expect_error_body(j, "BAD_REQUEST", "percent-encoding");
    json_decref(j);
  }
}

/* ---- headers, cookies, peer ---- */

Test(api, headers_are_case_insensitive_and_repeats_are_kept_apart) {
  int st;
  json_t *j = fetch_json(
      "GET /headers HTTP/1.1\r\nHost: x\r\nX-Tag: a\r\nx-tag: b\r\n"
      "X-Spaced: \t v  v \t\r\nX-TAG: c\r\n\r\n",
      &st, NULL);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(str(j, "first"), "a");
  cr_assert_str_eq(str(j, "n0"), "a");
  cr_assert_str_eq(str(j, "n1"), "b");
  cr_assert_str_eq(str(j, "n2"), "c");
  cr_assert(is_null(j, "n3"));
  cr_assert_str_eq(str(j, "spaced"), "v  v", "surrounding whitespace is removed, inner kept");
  cr_assert(is_null(j, "absent"));
  cr_assert_eq(json_integer_value(json_object_get(j, "count")), 5);
  cr_assert_str_eq(str(j, "name0"), "Host", "names keep their case");
  cr_assert_str_eq(str(j, "value0"), "x");
  cr_assert_eq(json_integer_value(json_object_get(j, "past")), API_EINVAL);
  json_decref(j);
}

Test(api, cookies_from_one_and_several_headers) {
  int st;
  json_t *j = fetch_json(
      "GET /cookies HTTP/1.1\r\nHost: x\r\nCookie: a=1; b=2\r\n"
      "Cookie: c=3;d=\"quoted\"\r\n\r\n",
      &st, NULL);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(str(j, "a"), "1");
  cr_assert_str_eq(str(j, "b"), "2");
  cr_assert_str_eq(str(j, "c"), "3", "a second Cookie field counts");
  cr_assert_str_eq(str(j, "d"), "quoted", "the quotes are not part of the value");
  cr_assert(is_null(j, "missing"));
  cr_assert(is_null(j, "A"), "cookie names are case-sensitive");
  json_decref(j);
  j = fetch_json("/cookies", &st, NULL);
  cr_assert(is_null(j, "a"), "no Cookie header: NULL");
  json_decref(j);
}

Test(api, client_address_and_port) {
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c, "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  tc_response r;
  cr_assert_eq(tc_read(c, &r, false), 0);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j);
  cr_assert_str_eq(str(j, "addr"), "127.0.0.1");
  cr_assert_eq(json_integer_value(json_object_get(j, "port")), tc_local_port(c),
               "the client's own port");
  cr_assert_str_eq(str(j, "method"), "GET");
  cr_assert_eq(json_integer_value(json_object_get(j, "minor")), 1);
  json_decref(j);
  tc_response_free(&r);
  tc_close(c);
}

Test(api_registration, ipv6_client_address) {
  api_app *a;
  api_config cfg = tc_config(1);
  cfg.host = "::1";
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_get(a, "/peer", peer, NULL), 0);
  api_server *s = NULL;
  if (api_server_start(&s, a) != 0) {
    api_app_free(a);
    cr_skip_test("no IPv6 loopback here: %s", api_last_error());
  }
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "curl -sS 'http://[::1]:%d/peer'", api_server_port(s));
  int rc;
  char *out = tc_run(cmd, &rc);
  json_t *j = json_loads(out ? out : "", 0, NULL);
  cr_assert_not_null(j, "%s", out ? out : "");
  cr_assert_str_eq(str(j, "addr"), "::1");
  cr_assert_gt(json_integer_value(json_object_get(j, "port")), 0);
  json_decref(j);
  free(out);
  tc_stop(s, a);
}

/* A fixed port another server listens on is refused at start, unless sharing is asked for; a port
 * whose server stopped (its connections in TIME_WAIT) can be taken again at once. */
Test(api_registration, a_port_in_use_is_refused_unless_shared) {
  api_app *a, *b;
  api_config cfg = tc_config(2);
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_get(a, "/peer", peer, NULL), 0);
  api_server *sa = tc_start(a);
  cr_assert_not_null(sa);
  cfg.port = api_server_port(sa);
  tc_response r;
  cr_assert_eq(tc_exchange(cfg.port, "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);

  cr_assert_eq(api_app_new(&b, &cfg), 0);
  cr_assert_eq(api_app_get(b, "/peer", peer, NULL), 0);
  api_server *sb = NULL;
  cr_assert_eq(api_server_start(&sb, b), API_ESYS);
  cr_assert_null(sb);
  cr_assert(strstr(api_last_error(), "address already in use"), "%s", api_last_error());
  api_app_free(b);

  cfg.share_port = 1;
  cr_assert_eq(api_app_new(&b, &cfg), 0);
  cr_assert_eq(api_app_get(b, "/peer", peer, NULL), 0);
  cr_assert_eq(api_server_start(&sb, b), 0, "%s", api_last_error());
  for (int i = 0; i < 8; i++) { /* whichever server the kernel picks answers */
    cr_assert_eq(tc_exchange(cfg.port, "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    cr_assert_eq(r.status, 200);
    tc_response_free(&r);
  }
  tc_stop(sb, b);
  tc_stop(sa, a);

  cfg.share_port = 0;
  cr_assert_eq(api_app_new(&b, &cfg), 0);
  cr_assert_eq(api_app_get(b, "/peer", peer, NULL), 0);
  cr_assert_eq(api_server_start(&sb, b), 0, "a stopped server's port is free: %s",
               api_last_error());
  cr_assert_eq(tc_exchange(cfg.port, "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
  tc_stop(sb, b);
}

/* ---- JSON bodies ---- */

static json_t *post_json(const char *content_type, const char *body, int *status) {
  char req[65536];
  snprintf(req, sizeof(req),
           "POST /json HTTP/1.1\r\nHost: x\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
           content_type ? "Content-Type: " : "", content_type ? content_type : "",
           content_type ? "\r\n" : "", strlen(body), body);
  return fetch_json(req, status, NULL);
}

Test(api, json_bodies) {
  int st;
  json_t *j = post_json("application/json", "{\"a\":[1,2,{\"b\":null}]}", &st);
  cr_assert_eq(st, 200);
  json_t *want = json_pack("{s:{s:[i,i,{s:n}]}}", "got", "a", 1, 2, "b");
  cr_assert(json_equal(j, want), "the parsed body round-trips");
  json_decref(want);
  json_decref(j);
  j = post_json("application/json; charset=utf-8", "42", &st);
  cr_assert_eq(st, 200, "a parameter on the media type is fine, and any JSON value");
  cr_assert_eq(json_integer_value(json_object_get(j, "got")), 42);
  json_decref(j);
  j = post_json("Application/Problem+JSON", "{}", &st);
  cr_assert_eq(st, 200, "application/<x>+json, any case");
  json_decref(j);
}

Test(api, json_body_with_the_wrong_content_type_is_415) {
  static const char *const types[] = {"text/plain", NULL, "application/jsonx", "application/+json",
                                      "json"};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    int st;
    json_t *j = post_json(types[i], "{}", &st);
    cr_assert_eq(st, 415, "Content-Type %s", types[i] ? types[i] : "(none)");
    expect_error_body(j, "UNSUPPORTED_MEDIA_TYPE", "application/json");
    json_decref(j);
  }
}

Test(api, malformed_json_is_400_naming_line_and_column) {
  int st;
  json_t *j = post_json("application/json", "{\"a\": }", &st);
  cr_assert_eq(st, 400);
  expect_error_body(j, "BAD_REQUEST", "line 1, column");
  json_decref(j);
  j = post_json("application/json", "{\"a\":1,\"a\":2}", &st);
  cr_assert_eq(st, 400, "duplicate keys are rejected");
  expect_error_body(j, "BAD_REQUEST", "line 1, column");
  json_decref(j);
  j = post_json("application/json", "", &st);
  cr_assert_eq(st, 400, "an empty body is not JSON");
  json_decref(j);
  j = post_json("application/json", "{}\n{}", &st);
  cr_assert_eq(st, 400, "trailing data");
  expect_error_body(j, "BAD_REQUEST", "line 2");
  json_decref(j);
}

/* Hostile bodies: each a 400 whose message names the place (column in characters) and the
 * reason, as docs/getting-started.md shows. */
Test(api, malformed_json_messages_name_the_place_and_reason) {
  static const struct {
    const char *body, *message;
  } cases[] = {
      {"{\"a\":1,\"a\":2}", "malformed JSON at line 1, column 8: duplicate object key"},
      {"{\"ab\":1,\"a\\u0062\":2}", "malformed JSON at line 1, column 9: duplicate object key"},
      {"[\"\xc3\xa9\",\n \"\xc0\xaf\"]", "malformed JSON at line 2, column 3: invalid UTF-8"},
      {"[\"\xed\xa0\x80\"]", "malformed JSON at line 1, column 3: invalid UTF-8"},
      {"[\"\\ud800\"]", "malformed JSON at line 1, column 3: lone surrogate in a \\u escape"},
      {"[\"a\\u0000\"]", "malformed JSON at line 1, column 4: \\u0000 is not allowed"},
      {"[1e999999999]", "malformed JSON at line 1, column 2: real number overflow"},
      {"{\"n\":-9223372036854775809}", "malformed JSON at line 1, column 6: integer out of range"},
      {"[1,2", "malformed JSON at line 1, column 5: unexpected end of input"},
      {"\"\t\"", "malformed JSON at line 1, column 2: control character in a string"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int st;
    json_t *j = post_json("application/json", cases[i].body, &st);
    cr_assert_eq(st, 400, "case %zu", i);
    expect_error_body(j, "BAD_REQUEST", NULL);
    cr_assert_str_eq(str(json_object_get(j, "error"), "message"), cases[i].message, "case %zu", i);
    json_decref(j);
  }
}

Test(api, deeply_nested_json_is_400_not_a_crash) {
  size_t depth = 10000;
  char *body = malloc(2 * depth + 1);
  cr_assert_not_null(body);
  memset(body, '[', depth);
  memset(body + depth, ']', depth);
  body[2 * depth] = '\0';
  int st;
  json_t *j = post_json("application/json", body, &st);
  cr_assert_eq(st, 400);
  expect_error_body(j, "BAD_REQUEST", "line 1, column");
  json_decref(j);
  free(body);
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /q HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200, "the server is still up");
  tc_response_free(&r);
}

/* ---- response headers and cookies ---- */

Test(api, response_headers_refuse_injection_and_framework_headers) {
  int st;
  tc_response r;
  json_t *j = fetch_json("/inject", &st, &r);
  cr_assert_eq(st, 200);
  static const char *const refused[] = {
      "crlf_value",     "lf_value",           "cr_value",   "crlf_name",
      "colon_name",     "space_name",         "empty_name", "null_value",
      "content_length", "transfer_encoding",  "connection", "date",
      "add_crlf",       "add_content_length", "status_100", "status_600"};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    cr_assert_eq(json_integer_value(json_object_get(j, refused[i])), API_EINVAL, "%s is refused",
                 refused[i]);
  static const char *const accepted[] = {"ok", "replace", "add1", "add2"};
  for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
    cr_assert_eq(json_integer_value(json_object_get(j, accepted[i])), 0, "%s", accepted[i]);
  json_decref(j);
  /* On the wire: nothing injected, the framework's headers once each and right. */
  cr_assert_null(strstr(r.head, "Injected"), "%s", r.head);
  cr_assert_null(tc_header(&r, "x-bad"));
  cr_assert_str_eq(tc_header(&r, "x-ok"), "w", "api_res_header replaces");
  cr_assert_null(tc_header_n(&r, "x-ok", 1));
  cr_assert_str_eq(tc_header_n(&r, "x-multi", 0), "1", "api_res_header_add keeps both");
  cr_assert_str_eq(tc_header_n(&r, "x-multi", 1), "2");
  cr_assert_null(tc_header_n(&r, "content-length", 1));
  cr_assert_null(tc_header(&r, "transfer-encoding"));
  cr_assert_null(tc_header(&r, "connection"));
  cr_assert_null(tc_header_n(&r, "date", 1));
  cr_assert_neq(strncmp(tc_header(&r, "date"), "Thu, 01 Jan 1970", 16), 0);
  cr_assert_eq(strtoul(tc_header(&r, "content-length"), NULL, 10), r.body_len);
  tc_response_free(&r);
}

Test(api, set_cookie_on_the_wire) {
  int st;
  tc_response r;
  json_t *j = fetch_json("/set-cookies", &st, &r);
  cr_assert_eq(st, 200);
  static const char *const ok[] = {"full", "plain", "delete", "strict", "long"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    cr_assert_eq(json_integer_value(json_object_get(j, ok[i])), 0, "%s", ok[i]);
  static const char *const refused[] = {
      "none_without_secure", "semicolon_value",  "space_value",           "crlf_value", "bad_name",
      "path_semicolon",      "host_with_domain", "secure_prefix_insecure"};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    cr_assert_eq(json_integer_value(json_object_get(j, refused[i])), API_EINVAL, "%s is refused",
                 refused[i]);
  json_decref(j);
  cr_assert_str_eq(tc_header_n(&r, "set-cookie", 0),
                   "sid=abc123; Path=/; Domain=example.com; Max-Age=3600; "
                   "Expires=Tue, 14 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=Lax");
  cr_assert_str_eq(tc_header_n(&r, "set-cookie", 1), "theme=dark");
  cr_assert_str_eq(tc_header_n(&r, "set-cookie", 2), "old=; Max-Age=0");
  cr_assert_str_eq(tc_header_n(&r, "set-cookie", 3), "__Host-s=1; Path=/; Secure; SameSite=Strict");
  const char *longc = tc_header_n(&r, "set-cookie", 4);
  cr_assert(longc && strlen(longc) == 5 + 1000 + 8 && strncmp(longc, "long=LLL", 8) == 0 &&
                strcmp(longc + 1005, "; Path=/") == 0,
            "a cookie longer than the formatting buffer: %s", longc ? longc : "(none)");
  cr_assert_null(tc_header_n(&r, "set-cookie", 5), "refused cookies are not sent");
  cr_assert_null(strstr(r.head, "Injected"));
  tc_response_free(&r);
}

/* ---- what handlers return ---- */

typedef struct err_row {
  int err, status;
  const char *code;
} err_row;

Test(api, every_error_code_becomes_its_status_and_json_body) {
  static const err_row rows[] = {
#define ROW(name, value, status, code, msg) {value, status, code},
      API_ERR_MAP(ROW)
#undef ROW
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    char path[64];
    snprintf(path, sizeof(path), "/err/%d", rows[i].err);
    int st;
    tc_response r;
    json_t *j = fetch_json(path, &st, &r);
    cr_assert_eq(st, rows[i].status, "%s answers %d", api_err_name(rows[i].err), st);
    const char *msg = str(json_object_get(j, "error"), "message");
    expect_error_body(j, rows[i].code, NULL);
    if (rows[i].status >= 500) {
      /* Nothing internal: the status's own generic message, never the error's. */
      cr_assert(strcmp(msg, "internal server error") == 0 ||
                    strcmp(msg, "service unavailable") == 0 ||
                    strcmp(msg, "not implemented") == 0 || strcmp(msg, "handler timed out") == 0 ||
                    strcmp(msg, "HTTP version not supported") == 0,
                "%s: \"%s\"", api_err_name(rows[i].err), msg);
      if (rows[i].status == 500) cr_assert_str_eq(msg, "internal server error");
    } else {
      cr_assert_str_eq(msg, api_strerror(rows[i].err));
    }
    cr_assert_eq(strtoul(tc_header(&r, "content-length"), NULL, 10), r.body_len);
    tc_response_free(&r);
    json_decref(j);
  }
}

Test(api, forbidden_internal_and_sys_errors) {
  int st;
  char path[64];
  snprintf(path, sizeof(path), "/err/%d", API_EFORBIDDEN);
  json_t *j = fetch_json(path, &st, NULL);
  cr_assert_eq(st, 403);
  expect_error_body(j, "FORBIDDEN", NULL);
  json_decref(j);
  int internal[] = {API_EINTERNAL, API_ESYS, API_EINVAL, API_EEXIST, API_ESTATE, -9999};
  for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++) {
    snprintf(path, sizeof(path), "/err/%d", internal[i]);
    j = fetch_json(path, &st, NULL);
    cr_assert_eq(st, 500, "%d", internal[i]);
    expect_error_body(j, "INTERNAL", NULL);
    cr_assert_str_eq(str(json_object_get(j, "error"), "message"), "internal server error");
    cr_assert_null(json_object_get(json_object_get(j, "error"), "details"));
    json_decref(j);
  }
}

Test(api, a_handler_that_sets_nothing_is_a_500) {
  int st;
  json_t *j = fetch_json("/untouched", &st, NULL);
  cr_assert_eq(st, 500);
  expect_error_body(j, "INTERNAL", "internal server error");
  json_decref(j);
}

Test(api, an_error_replaces_a_half_built_response) {
  int st;
  tc_response r;
  json_t *j = fetch_json("/partial", &st, &r);
  cr_assert_eq(st, 404);
  expect_error_body(j, "NOT_FOUND", NULL);
  cr_assert_null(tc_header(&r, "x-partial"), "headers set before the error are dropped");
  cr_assert_str_eq(tc_header(&r, "content-type"), "application/json");
  json_decref(j);
  tc_response_free(&r);
}

Test(api, a_failed_json_constructor_is_503) {
  int st;
  json_t *j = fetch_json("/enomem", &st, NULL);
  cr_assert_eq(st, 503);
  expect_error_body(j, "UNAVAILABLE", "service unavailable");
  json_decref(j);
}

Test(api, success_envelope) {
  int st;
  tc_response r;
  json_t *j = fetch_json("/data?meta=1", &st, &r);
  cr_assert_eq(st, 201);
  cr_assert_str_eq(r.body, "{\"data\":{\"id\":7},\"meta\":{\"total\":1}}");
  cr_assert_str_eq(tc_header(&r, "content-type"), "application/json");
  json_decref(j);
  tc_response_free(&r);
  j = fetch_json("/data", &st, &r);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(r.body, "{\"data\":[1,2]}", "a NULL meta is omitted");
  json_decref(j);
  tc_response_free(&r);
}

Test(api, error_with_details_and_default_code) {
  int st;
  json_t *j = fetch_json("/error-details", &st, NULL);
  cr_assert_eq(st, 422);
  expect_error_body(j, "INVALID_THING", "the thing is invalid");
  json_t *details = json_object_get(json_object_get(j, "error"), "details");
  json_t *want = json_pack("[{s:s,s:s}]", "field", "name", "problem", "too short");
  cr_assert(json_equal(details, want), "details are sent as given");
  json_decref(want);
  json_decref(j);
  j = fetch_json("/error-default", &st, NULL);
  cr_assert_eq(st, 409);
  expect_error_body(j, "CONFLICT", "already there");
  cr_assert_null(json_object_get(json_object_get(j, "error"), "details"), "NULL details: omitted");
  json_decref(j);
}

Test(api, request_ids_differ_between_requests) {
  int st;
  json_t *a = fetch_json("/nowhere", &st, NULL);
  json_t *b = fetch_json("/nowhere", &st, NULL);
  tc_conn *c = tc_connect(port);
  cr_assert_eq(tc_send_str(c,
                           "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"),
               0);
  tc_response r1, r2;
  cr_assert_eq(tc_read(c, &r1, false), 0);
  cr_assert_eq(tc_read(c, &r2, false), 0);
  tc_close(c);
  json_t *c1 = json_loads(r1.body, 0, NULL), *c2 = json_loads(r2.body, 0, NULL);
  const char *ids[] = {str(a, "request_id"), str(b, "request_id"), str(c1, "request_id"),
                       str(c2, "request_id")};
  for (int i = 0; i < 4; i++) {
    cr_assert(ids[i] && strlen(ids[i]) >= 8, "a request id: %s", ids[i] ? ids[i] : "(null)");
    for (int k = 0; k < i; k++) cr_assert_str_neq(ids[i], ids[k], "ids %d and %d differ", k, i);
  }
  json_decref(a);
  json_decref(b);
  json_decref(c1);
  json_decref(c2);
  tc_response_free(&r1);
  tc_response_free(&r2);
  json_t *j = fetch_json("/id", &st, NULL);
  cr_assert(json_is_true(json_object_get(j, "stable")), "api_req_id is stable within a request");
  json_decref(j);
}

/* ---- registration ---- */

static int noop(api_req *req, api_res *res, void *ud) { return api_res_text(res, 200, "x"); }

Test(api_registration, conflicting_routes_fail_at_registration_and_block_start) {
  api_app *a;
  api_config cfg = tc_config(1);
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_get(a, "/users/:id", noop, NULL), 0);
  cr_assert_eq(api_app_post(a, "/users/:name", noop, NULL), 0, "another method is no conflict");
  cr_assert_eq(api_app_get(a, "/users/new", noop, NULL), 0, "a static segment is no conflict");
  cr_assert_eq(api_app_get(a, "/users/:name", noop, NULL), API_EEXIST);
  const char *msg = api_last_error();
  cr_assert(strstr(msg, "/users/:name"), "the message names the new route: %s", msg);
  cr_assert(strstr(msg, "/users/:id"), "and the one it conflicts with: %s", msg);
  api_server *s = NULL;
  cr_assert_eq(api_server_start(&s, a), API_ESTATE, "an app with a registration error won't run");
  cr_assert_null(s);
  cr_assert(strstr(api_last_error(), "/users/:name"), "and says why: %s", api_last_error());
  api_app_free(a);
}

Test(api_registration, malformed_routes_and_late_routes) {
  api_app *a;
  api_config cfg = tc_config(1);
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_get(a, "no-slash", noop, NULL), API_EINVAL);
  cr_assert(strstr(api_last_error(), "no-slash"), "%s", api_last_error());
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/x")), API_EINVAL,
               "a handler is required");
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "BAD METHOD", .path = "/x", .handler = noop)),
               API_EINVAL);
  api_app_free(a);

  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_get(a, "/x", noop, NULL), 0);
  api_server *s = tc_start(a);
  cr_assert_not_null(s);
  cr_assert_eq(api_app_get(a, "/y", noop, NULL), API_ESTATE, "routes are frozen once running");
  api_server *s2 = NULL;
  cr_assert_eq(api_server_start(&s2, a), API_ESTATE, "an app runs once at a time");
  tc_stop(s, a);
}

/* ---- a real client ---- */

Test(api, curl) {
  int rc = -1;
  char *v = tc_run("curl --version 2>/dev/null", &rc);
  free(v);
  if (rc != 0) cr_skip_test("curl is not installed");
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "curl -sS -w ' %%{http_code}' http://127.0.0.1:%d/users/a%%20b", port);
  char *out = tc_run(cmd, &rc);
  cr_assert_eq(rc, 0);
  cr_assert_str_eq(out, "{\"id\":\"a b\",\"path\":\"/users/a%20b\",\"route\":\"/users/:id\"} 200");
  free(out);

  snprintf(cmd, sizeof(cmd),
           "curl -sS -w ' %%{http_code}' -H 'Content-Type: application/json' "
           "--data '{\"name\":\"Ada\",\"n\":[1,2]}' http://127.0.0.1:%d/json",
           port);
  out = tc_run(cmd, &rc);
  cr_assert_eq(rc, 0);
  cr_assert_str_eq(out, "{\"got\":{\"name\":\"Ada\",\"n\":[1,2]}} 200");
  free(out);

  /* curl's default form content type is refused by api_req_json. */
  snprintf(cmd, sizeof(cmd), "curl -sS -w ' %%{http_code}' --data 'a=1' http://127.0.0.1:%d/json",
           port);
  out = tc_run(cmd, &rc);
  cr_assert(strstr(out, "UNSUPPORTED_MEDIA_TYPE") && strstr(out, " 415"), "%s", out);
  free(out);

  snprintf(cmd, sizeof(cmd), "curl -sS -i --http1.0 http://127.0.0.1:%d/peer | tr -d '\\r'", port);
  out = tc_run(cmd, &rc);
  cr_assert(strncmp(out, "HTTP/1.1 200 OK\n", 16) == 0, "%s", out);
  cr_assert(strstr(out, "\nConnection: close\n"), "%s", out);
  cr_assert(strstr(out, "\"minor\":0"), "the handler saw HTTP/1.0: %s", out);
  free(out);

  /* Cookies and query from curl's own encoding. */
  snprintf(cmd, sizeof(cmd),
           "curl -sS -G -b 'a=1; b=2' --data-urlencode 'a=x y&z' "
           "http://127.0.0.1:%d/q",
           port);
  out = tc_run(cmd, &rc);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_not_null(j, "%s", out);
  cr_assert_str_eq(str(j, "a"), "x y&z");
  json_decref(j);
  free(out);
}
