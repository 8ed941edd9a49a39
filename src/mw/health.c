/* Liveness and readiness endpoints over the app's health registry. */
#include <string.h>

#include "core/app_internal.h"
#include "libapi/api.h"

api_health *api_app_health(api_app *app) {
  if (!app->health && api_health_new(&app->health) != 0) app->health = NULL;
  return app->health;
}

static int live(api_req *req, api_res *res, void *ud) {
  static const char body[] = "{\"status\":\"ok\"}";
  api_res_header(res, "Cache-Control", "no-store");
  return api_res_body_ref(res, "application/json", body, sizeof(body) - 1);
}

typedef struct ready_job {
  api_health *health;
  int rc, status;
  char *body;
  size_t len;
} ready_job;

static void ready_work(void *ud) {
  ready_job *j = ud;
  j->rc = api_health_run(j->health, &j->status, &j->body, &j->len);
}

static void free_body(void *ud) { api_metrics_text_free(ud); }

static int ready_done(api_req *req, api_res *res, void *ud) {
  ready_job *j = ud;
  if (j->rc) return j->rc;
  int rc = api_req_on_free(req, free_body, j->body);
  if (rc) {
    api_metrics_text_free(j->body);
    return rc;
  }
  api_res_header(res, "Cache-Control", "no-store");
  api_res_status(res, j->status);
  return api_res_body_ref(res, "application/json", j->body, j->len);
}

static int ready(api_req *req, api_res *res, void *ud) {
  api_app *app = ud;
  if (atomic_load(&app->draining)) {
    static const char body[] = "{\"status\":\"fail\",\"draining\":true,\"checks\":{}}";
    api_res_header(res, "Cache-Control", "no-store");
    api_res_status(res, 503);
    return api_res_body_ref(res, "application/json", body, sizeof(body) - 1);
  }
  ready_job *j = api_req_alloc(req, sizeof(*j));
  if (!j) return API_ENOMEM;
  *j = (ready_job){.health = app->health};
  return api_offload(req, ready_work, ready_done, j);
}

int api_app_health_routes(api_app *app, const api_health_options *opts) {
  api_health_options o = {0};
  if (opts) memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
  if (!api_app_health(app)) return API_ENOMEM;
  int rc =
      api_app_route(app, API_ROUTE(.method = "GET", .path = o.live_path ? o.live_path : "/healthz",
                                   .handler = live, .summary = "Liveness"));
  if (!rc)
    rc = api_app_route(app,
                       API_ROUTE(.method = "GET", .path = o.ready_path ? o.ready_path : "/readyz",
                                 .handler = ready, .user_data = app, .summary = "Readiness"));
  return rc;
}
