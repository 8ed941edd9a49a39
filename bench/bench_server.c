/* bench_server: the benchmark target — GET /json, GET /users/:id and POST /echo through the router
 * and the public response API, with the library's default limits and timeouts. With --stack it
 * also runs what a production app registers: request ids, an access log written to a file
 * (bench_access.log in the current directory, or --access-log PATH), Prometheus metrics served at
 * /metrics, and security headers. */
#include <libapi/api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int json_handler(api_req *req, api_res *res, void *user_data) {
  return api_res_json_new(res, 200, json_pack("{s:s}", "message", "Hello, World!"));
}

static int user_handler(api_req *req, api_res *res, void *user_data) {
  return api_res_json_new(res, 200,
                          json_pack("{s:s,s:s}", "id", api_req_param(req, "id"), "name", "Ada"));
}

static int echo_handler(api_req *req, api_res *res, void *user_data) {
  size_t len;
  const char *body = api_req_body(req, &len);
  const char *type = api_req_header(req, "content-type");
  return api_res_body_ref(res, type ? type : "application/octet-stream", body, len);
}

static void free_logger(void *logger) { api_logger_free(logger); }

/* The production stack: request id, access log to a file, metrics, security headers. */
static int add_stack(api_app *app, const char *access_path) {
  api_logger *access;
  int rc =
      api_logger_new(&access, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .file_path = access_path));
  if (rc) return rc;
  api_middleware rid, log, metrics, sec;
  if ((rc = api_app_on_free(app, free_logger, access)) ||
      (rc = api_mw_request_id(app, NULL, &rid)) || (rc = api_app_use(app, &rid)) ||
      (rc = api_mw_access_log(app, API_ACCESS_LOG_OPTIONS(.logger = access), &log)) ||
      (rc = api_app_use(app, &log)) || (rc = api_mw_metrics(app, NULL, &metrics)) ||
      (rc = api_app_use(app, &metrics)) || (rc = api_mw_security_headers(app, NULL, &sec)))
    return rc;
  return api_app_use(app, &sec);
}

static void usage(void) {
  fprintf(
      stderr,
      "usage: bench_server [--host H] [--port N] [--workers N] [--stack [--access-log PATH]]\n");
  exit(2);
}

int main(int argc, char **argv) {
  api_config cfg = {.size = sizeof(cfg)};
  bool stack = false;
  const char *access_path = "bench_access.log";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--stack") == 0) {
      stack = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--access-log") == 0) {
      access_path = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0) {
      cfg.port = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--workers") == 0) {
      cfg.workers = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--host") == 0) {
      cfg.host = argv[++i];
    } else {
      usage();
    }
  }
  api_app *app;
  if (api_app_new(&app, &cfg) || api_app_get(app, "/json", json_handler, NULL) ||
      api_app_get(app, "/users/:id", user_handler, NULL) ||
      api_app_post(app, "/echo", echo_handler, NULL)) {
    fprintf(stderr, "bench_server: %s\n", api_last_error());
    return 1;
  }
  if (stack && add_stack(app, access_path)) {
    fprintf(stderr, "bench_server: %s\n", api_last_error());
    return 1;
  }
  int rc = api_app_run(app);
  api_app_free(app);
  return rc ? 1 : 0;
}
