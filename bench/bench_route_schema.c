/* bench_route_schema: what route schemas cost per request through the in-process client (parser,
 * pipeline, writer): the same POST with path params, a query and a JSON body, on a route without
 * schemas and on one with params, query and body schemas (valid and invalid requests), and with
 * response validation. Prints microseconds per request; the differences are the validation.
 * Wall-clock figures move with the machine's load; for instruction counts run one setup under
 * `valgrind --tool=callgrind` and compare the totals of two request counts.
 * usage: bench_route_schema [requests [setup 0..3]] */
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int handler(api_req *req, api_res *res, void *user_data) {
  (void)user_data;
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  static const char out[] = "{\"id\":42,\"name\":\"ada\"}";
  return api_res_body_ref(res, "application/json", out, sizeof(out) - 1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static api_schema *compile(const char *text) {
  api_schema *s;
  if (api_schema_parse(&s, text, strlen(text), NULL)) {
    fprintf(stderr, "schema: %s\n", api_last_error());
    exit(1);
  }
  return s;
}

static double run(const char *name, int requests, int schemas, int validate_responses,
                  const char *target, const char *json, int want) {
  api_schema *ps = compile(
      "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\","
      "\"minimum\":1}},\"required\":[\"id\"]}");
  api_schema *qs = compile(
      "{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\","
      "\"maximum\":100},\"active\":{\"type\":\"boolean\"},\"tag\":{\"type\":"
      "\"array\",\"items\":{\"type\":\"string\"}}}}");
  api_schema *bs = compile(
      "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1},"
      "\"email\":{\"type\":\"string\",\"format\":\"email\"},\"age\":{\"type\":\"integer\","
      "\"minimum\":0,\"maximum\":150}},\"required\":[\"name\",\"email\"]}");
  api_schema *rs = compile(
      "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
      "\"name\":{\"type\":\"string\"}},\"required\":[\"id\",\"name\"]}");
  api_app *app;
  if (api_app_new(&app, API_CONFIG(.validate_responses = validate_responses))) exit(1);
  api_app_route(app,
                API_ROUTE(.method = "POST", .path = "/users/:id", .handler = handler,
                          .params_schema = schemas ? ps : NULL, .query_schema = schemas ? qs : NULL,
                          .body_schema = schemas ? bs : NULL, .response_schema = rs));
  api_test *t;
  if (api_test_new(&t, app)) exit(1);
  double best = 1e9;
  for (int round = 0; round < 3; round++) {
    double t0 = now();
    for (int i = 0; i < requests; i++) {
      api_test_res *r = NULL;
      if (api_test_request(t, API_TEST_REQ(.method = "POST", .target = target, .json = json), &r) ||
          api_test_res_status(r) != want) {
        fprintf(stderr, "%s: unexpected answer %d\n", name, r ? api_test_res_status(r) : 0);
        exit(1);
      }
      api_test_res_free(r);
    }
    double us = (now() - t0) / requests * 1e6;
    if (us < best) best = us;
  }
  printf("%-28s %8.2f us/request\n", name, best);
  api_test_free(t);
  api_app_free(app);
  api_schema_free(ps);
  api_schema_free(qs);
  api_schema_free(bs);
  api_schema_free(rs);
  return best;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  const char *ok = "/users/42?limit=10&active=true&tag=a&tag=b";
  const char *body = "{\"name\":\"ada\",\"email\":\"ada@example.com\",\"age\":36}";
  const char *bad = "{\"name\":\"\",\"email\":\"nope\",\"age\":200}";
  int only = argc > 2 ? atoi(argv[2]) : -1;
  if (only < 0 || only == 0) run("no schemas", n, 0, 0, ok, body, 200);
  if (only < 0 || only == 1) run("params+query+body, valid", n, 1, 0, ok, body, 200);
  if (only < 0 || only == 2)
    run("params+query+body, invalid", n, 1, 0, "/users/0?limit=1000&active=maybe", bad, 422);
  if (only < 0 || only == 3) run("valid + response validation", n, 1, 1, ok, body, 200);
  return 0;
}
