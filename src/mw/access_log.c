/* The access log: one line per response, written from on_response. */
#include <string.h>

#include "core/error_internal.h"
#include "libapi/api.h"
#include "util/alloc.h"

typedef struct access {
  api_app *app;
  api_logger *logger; /* NULL: the app's, looked up at the first line */
  char *message;
  api_log_level level;
} access;

static int on_response(api_req *req, api_res *res, void *ud) {
  access *a = ud;
  api_logger *log = a->logger ? a->logger : api_app_logger(a->app);
  int status = api_res_get_status(res);
  api_log_level level = a->level        ? a->level
                        : status >= 500 ? API_LOG_ERROR
                        : status >= 400 ? API_LOG_WARN
                                        : API_LOG_INFO;
  if (!api_log_enabled(log, level)) return API_NEXT;
  const char *trace = api_req_trace_id(req), *user = api_req_user(req);
  const char *route = api_req_route(req);
  const api_log_field f[] = {
      API_LOG_STR("request_id", api_req_id(req)),
      API_LOG_STR(trace ? "trace_id" : NULL, trace),
      API_LOG_STR("method", api_req_method(req)),
      route ? API_LOG_STR("route", route) : API_LOG_NULL("route"),
      API_LOG_STR("path", api_req_path(req)),
      API_LOG_INT("status", status),
      API_LOG_UINT("bytes", api_res_wire_bytes(res)),
      API_LOG_DOUBLE("duration_ms", (double)api_req_elapsed_ns(req) / 1e6),
      API_LOG_STR("client", api_req_client_addr(req)),
      API_LOG_STR("user_agent", api_req_header(req, "user-agent")),
      API_LOG_STR(user ? "user" : NULL, user),
  };
  api_log_fields(log, level, a->message, f, sizeof(f) / sizeof(f[0]));
  return API_NEXT;
}

static void access_free(void *p) {
  access *a = p;
  api__free(a->message);
  api__free(a);
}

int api_mw_access_log(api_app *app, const api_access_log_options *opts, api_middleware *out) {
  api_access_log_options o = {0};
  if (opts) memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
  if (o.level && (o.level < API_LOG_TRACE || o.level > API_LOG_FATAL))
    return api__fail(API_EINVAL, "access log: level %d is not a log level", (int)o.level);
  access *a = api__calloc(1, sizeof(*a));
  if (!a || !(a->message = api__strdup(o.message ? o.message : "request completed"))) {
    api__free(a);
    return API_ENOMEM;
  }
  a->app = app;
  a->logger = o.logger;
  a->level = o.level;
  int rc = api_app_on_free(app, access_free, a);
  if (rc) return rc;
  *out = (api_middleware){
      .size = sizeof(*out), .name = "access_log", .on_response = on_response, .user_data = a};
  return 0;
}
