/* Out of memory at every allocation in turn: the server answers (503 or an error status) or closes
 * the connection, never crashes or leaks, and serves normally once memory is back. */
#include <criterion/criterion.h>
#include <string.h>

#include "support/client.h"
#include "util/alloc.h"

static void *failing_json_malloc(size_t n) { return api__malloc(n); }

static int handler(api_req *req, api_res *res, void *ud) {
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  api_res_header(res, "X-Param", api_req_param(req, "id"));
  api_res_cookie(res, "s", "v", &(api_cookie_opts){.http_only = 1, .path = "/"});
  return api_res_data(res, 201, json_pack("{s:O,s:s?}", "echo", body, "q", api_req_query(req, "q")),
                      NULL);
}

static const char request[] =
    "POST /items/42?q=a%20b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Cookie: a=1; b=2\r\nTransfer-Encoding: chunked\r\n\r\n"
    "7\r\n{\"k\":[1\r\n3\r\n,2]\r\n1\r\n}\r\n0\r\n\r\n";

/* Fail allocations from the n-th on (mode "after") or only the n-th (mode "nth"). Returns the
 * number of answered requests; asserts that the server never crashes and recovers. */
static void run(void (*fail)(long), int *answered, int *closed) {
  api_app *app;
  api_config cfg = tc_config(1);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "POST", .path = "/items/:id", .handler = handler)), 0);
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  int port = api_server_port(srv);
  json_set_alloc_funcs(failing_json_malloc, api__free);
  int ok = 0;
  for (long n = 0; n < 400 && ok < 3; n++) {
    tc_conn *c = tc_connect(port);
    cr_assert_not_null(c, "the server accepts connections after failure %ld", n);
    tc_response warm;
    /* The connection is accepted and its buffers are in place before the failures start. */
    cr_assert_eq(tc_send_str(c, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(tc_read(c, &warm, false), 0);
    tc_response_free(&warm);
    fail(n);
    tc_send_str(c, request);
    tc_response r;
    if (tc_read(c, &r, false) == 0) {
      (*answered)++;
      /* Never 400: the JSON parser reports a failed allocation as such, not as bad input. */
      cr_assert(r.status == 201 || r.status == 503, "status %d after failing allocation %ld: %s",
                r.status, n, r.body);
      if (r.status == 201) {
        ok++;
        cr_assert_str_eq(r.body, "{\"data\":{\"echo\":{\"k\":[1,2]},\"q\":\"a b\"}}");
      }
      tc_response_free(&r);
    } else {
      (*closed)++;
    }
    fail(-1);
    tc_close(c);
  }
  cr_assert_gt(ok, 0, "requests succeed once enough allocations succeed");
  tc_response r;
  cr_assert_eq(tc_exchange(port, request, &r), 0);
  cr_assert_eq(r.status, 201);
  tc_response_free(&r);
  json_set_alloc_funcs(malloc, free);
  tc_stop(srv, app);
}

Test(alloc_fail, from_the_nth_allocation_on, .timeout = 120) {
  int answered = 0, closed = 0;
  run(api__alloc_fail_after, &answered, &closed);
  cr_assert_gt(closed, 5, "exhausted memory closes connections");
}

Test(alloc_fail, only_the_nth_allocation, .timeout = 120) {
  int answered = 0, closed = 0;
  run(api__alloc_fail_nth, &answered, &closed);
  cr_assert_gt(answered, 5,
               "a single failed allocation still gets an answer (503) most of the time");
}
