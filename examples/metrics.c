/* metrics: request metrics at /metrics, a business metric of the app's own, and /healthz and
 * /readyz with a readiness check — the observability a production service starts with. */
#include <libapi/api.h>
#include <stdatomic.h>
#include <stdio.h>

static api_counter *signups; /* the app's own metric, in the same registry */
static atomic_long jobs_queued;

/* POST /signups -> 201 {"data":{"queued":N}} */
static int signup(api_req *req, api_res *res, void *user_data) {
  api_counter_inc(signups, (const char *[]){"web"});
  long n = atomic_fetch_add(&jobs_queued, 1) + 1;
  return api_res_data(res, 201, json_pack("{s:I}", "queued", (json_int_t)n), NULL);
}

/* Readiness fails while more than 1000 jobs wait (runs on a thread of its own, may block). */
static int queue_check(char *msg, size_t size, void *user_data) {
  long n = atomic_load(&jobs_queued);
  if (n <= 1000) return 0;
  snprintf(msg, size, "%ld jobs queued", n);
  return -1;
}

int main(void) {
  api_app *app;
  if (api_app_new(&app, NULL)) {
    fprintf(stderr, "metrics: %s\n", api_last_error());
    return 1;
  }
  api_middleware metrics, rid, access;
  int rc = api_mw_request_id(app, NULL, &rid);
  if (!rc) rc = api_app_use(app, &rid);
  if (!rc) rc = api_mw_metrics(app, NULL, &metrics); /* serves GET /metrics */
  if (!rc) rc = api_app_use(app, &metrics);
  if (!rc) rc = api_mw_access_log(app, NULL, &access);
  if (!rc) rc = api_app_use(app, &access);
  if (!rc)
    rc = api_counter_new(api_app_metrics(app),
                         API_METRIC(.name = "signups_total", .help = "Signups received.",
                                    .labels = (const char *[]){"channel", NULL}),
                         &signups);
  if (!rc)
    rc = api_health_add(api_app_health(app),
                        API_HEALTH_CHECK(.name = "queue", .fn = queue_check, .timeout_ms = 200));
  if (!rc) rc = api_app_health_routes(app, NULL); /* GET /healthz, GET /readyz */
  if (!rc) rc = api_app_post(app, "/signups", signup, NULL);
  if (!rc) rc = api_app_run(app); /* until SIGINT or SIGTERM */
  if (rc) fprintf(stderr, "metrics: %s\n", api_last_error());
  api_app_free(app);
  return rc ? 1 : 0;
}
