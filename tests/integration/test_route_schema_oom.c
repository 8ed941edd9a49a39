/* Schemas on routes under allocation failure: each allocation of a validated request (coercion,
 * the objects, the validator's results, the 422 details) fails in turn; the server answers with
 * the right status or 503, or closes the connection, never crashes or leaks, and recovers. */
#include <criterion/criterion.h>
#include <string.h>

#include "support/client.h"
#include "util/alloc.h"

static void *failing_json_malloc(size_t n) { return api__malloc(n); }

static int handler(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  return api_res_json_new(res, 200,
                          json_pack("{s:O,s:O,s:O}", "p", api_req_params_json(req), "q",
                                    api_req_query_json(req), "b", body));
}

static const char valid[] =
    "POST /items/42?limit=5&tag=a&tag=b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: 22\r\n\r\n{\"name\":\"ada\",\"n\":[1]}";
static const char invalid[] =
    "POST /items/0?limit=x&tag=abcd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: 13\r\n\r\n{\"n\":[1,\"a\"]}";

static const char params_text[] =
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":1}}}";
static const char query_text[] =
    "{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\"},\"tag\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\",\"maxLength\":3}}}}";
static const char body_text[] =
    "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"n\":{\"type\":\"array\","
    "\"items\":{\"type\":\"integer\"}}}}";

static void run(const char *request, int good_status) {
  api_schema *ps, *qs, *bs;
  cr_assert_eq(api_schema_parse(&ps, params_text, strlen(params_text), NULL), 0);
  cr_assert_eq(api_schema_parse(&qs, query_text, strlen(query_text), NULL), 0);
  cr_assert_eq(api_schema_parse(&bs, body_text, strlen(body_text), NULL), 0);
  api_app *app;
  api_config cfg = tc_config(1);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "POST", .path = "/items/:id", .handler = handler,
                                   .params_schema = ps, .query_schema = qs, .body_schema = bs)),
      0);
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  int port = api_server_port(srv);
  json_set_alloc_funcs(failing_json_malloc, api__free);
  int ok = 0, answered = 0, failed = 0;
  long n = 0;
  for (; n < 600 && ok < 3; n++) {
    tc_conn *c = tc_connect(port);
    cr_assert_not_null(c, "the server accepts connections after failure %ld", n);
    tc_response warm;
    cr_assert_eq(tc_send_str(c, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(tc_read(c, &warm, false), 0);
    tc_response_free(&warm);
    api__alloc_fail_nth(n);
    tc_send_str(c, request);
    tc_response r;
    if (tc_read(c, &r, false) == 0) {
      answered++;
      /* Never 400: the JSON parser reports a failed allocation as such, not as bad input. */
      cr_assert(r.status == good_status || r.status == 503,
                "status %d after failing allocation %ld: %s", r.status, n, r.body);
      if (r.status == good_status) ok++;
      if (r.status == 503) failed++;
      if (r.status == 422) cr_assert(strstr(r.body, "\"path\":\"/params/id\""), "%s", r.body);
      tc_response_free(&r);
    }
    api__alloc_fail_nth(-1);
    tc_close(c);
  }
  cr_assert_gt(ok, 0, "requests succeed once enough allocations succeed");
  cr_assert_gt(answered, 5);
  /* Each of the request's allocations failed once: most of them must have been answered 503. */
  cr_assert_gt(failed, n / 2, "%d of %ld failed allocations answered 503", failed, n);
  cr_log_info("%ld allocations failed in turn, %d answered 503", n, failed);
  tc_response r;
  cr_assert_eq(tc_exchange(port, request, &r), 0);
  cr_assert_eq(r.status, good_status, "%s", r.body);
  tc_response_free(&r);
  json_set_alloc_funcs(malloc, free);
  tc_stop(srv, app);
  api_schema_free(ps);
  api_schema_free(qs);
  api_schema_free(bs);
}

Test(route_schema_oom, valid_request, .timeout = 120) { run(valid, 200); }

Test(route_schema_oom, invalid_request, .timeout = 120) { run(invalid, 422); }
