/* The app's logger and the per-request child loggers built on it. */
#include <string.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "http/message.h"
#include "log/log_internal.h"
#include "net/net.h"

api_logger *api_app_logger(api_app *app) {
  if (!app->logger && api_logger_new(&app->logger, NULL) != 0) app->logger = NULL;
  return app->logger;
}

int api_app_set_logger(api_app *app, api_logger *logger) {
  if (app->frozen) return api__fail(API_ESTATE, "the logger cannot change once a server started");
  if (app->logger != logger) api_logger_free(app->logger);
  app->logger = logger;
  return 0;
}

/* The request's bound fields and its child logger, in request memory. */
typedef struct req_log {
  api__logger_child_storage child;
  api_log_field fields[5];
} req_log;

api_logger *api_req_log(api_req *req) {
  api_logger *root = req->worker->app->logger;
  if (!root) return NULL;
  req_log *rl = req->log;
  if (!rl && !(rl = req->log = api_req_alloc(req, sizeof(*rl)))) return root;
  /* Rebuilt on every call: the user or the trace may have been set since the last one. */
  rl->fields[0] = API_LOG_STR("request_id", api_req_id(req));
  rl->fields[1] = API_LOG_STR(req->trace_id ? "trace_id" : NULL, req->trace_id);
  rl->fields[2] = API_LOG_STR("method", api_req_method(req));
  rl->fields[3] = API_LOG_STR(req->route_rc == 0 ? "route" : NULL, api_req_route(req));
  rl->fields[4] = API_LOG_STR(req->user ? "user" : NULL, req->user);
  return api__logger_child_init(&rl->child, root, rl->fields, 5);
}
