/* hello: the smallest useful libapi server — routes, path and query parameters, JSON in and out. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <libapi/api.h>
#include <stdio.h>
#include <time.h>

/* GET / -> {"data":{"message":"Hello, World!"}} */
static int index_handler(api_req *req, api_res *res, void *user_data) {
  return api_res_data(res, 200, json_pack("{s:s}", "message", "Hello, World!"), NULL);
}

/* GET /hello/:name?greeting=Hi -> {"data":{"message":"Hi, Ada!"}} */
static int hello_handler(api_req *req, api_res *res, void *user_data) {
  const char *greeting = api_req_query(req, "greeting");
  char msg[256];
  snprintf(msg, sizeof(msg), "%s, %s!", greeting ? greeting : "Hello", api_req_param(req, "name"));
  return api_res_data(res, 200, json_pack("{s:s}", "message", msg), NULL);
}

/* POST /echo with a JSON body -> {"data": <the body>}; 415 or 400 for anything else. */
static int echo_handler(api_req *req, api_res *res, void *user_data) {
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  return api_res_data(res, 200, json_incref(body), NULL);
}

/* GET /slow: blocking work (here a sleep) runs on the offload pool, not on the event loop. */
static void slow_work(void *user_data) {
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
}
static int slow_done(api_req *req, api_res *res, void *user_data) {
  return api_res_data(res, 200, json_pack("{s:s}", "message", "done"), NULL);
}
static int slow_handler(api_req *req, api_res *res, void *user_data) {
  return api_offload(req, slow_work, slow_done, NULL);
}

int main(void) {
  api_app *app;
  if (api_app_new(&app, NULL)) return 1; /* API_HOST / API_PORT / API_WORKERS apply */
  api_group *v1;
  if (api_app_get(app, "/", index_handler, NULL) ||
      api_app_get(app, "/hello/:name", hello_handler, NULL) || api_app_group(app, "/api/v1", &v1) ||
      api_group_route(v1, API_ROUTE(.method = "POST", .path = "/echo", .handler = echo_handler)) ||
      api_app_get(app, "/slow", slow_handler, NULL) ||
      /* The OpenAPI 3.1 document at /openapi.json and a page rendering it at /docs. */
      api_app_openapi(app, API_OPENAPI_OPTIONS(.title = "Hello API", .version = "1.0.0"))) {
    fprintf(stderr, "hello: %s\n", api_last_error());
    api_app_free(app);
    return 1;
  }
  int rc = api_app_run(app); /* until SIGINT or SIGTERM */
  api_app_free(app);
  return rc ? 1 : 0;
}
