/* bench_server: the benchmark target — GET /json, GET /users/:id and POST /echo through the router
 * and the public response API, with the library's default limits and timeouts. */
#include <libapi/api.h>
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

static void usage(void) {
  fprintf(stderr, "usage: bench_server [--host H] [--port N] [--workers N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  api_config cfg = {.size = sizeof(cfg)};
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--port") == 0) {
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
  int rc = api_app_run(app);
  api_app_free(app);
  return rc ? 1 : 0;
}
