/*
 * The request's way from routing to a response. Phases run in order and each may end the
 * request early; errors all become the one JSON error body. Issue-3 hooks slot in here.
 */
#include <stdio.h>
#include <string.h>

#include "core/app_internal.h"
#include "net/net.h"

/* Turn what a handler (or an after-offload callback) returned into a finished response. */
static int settle(api_req *req, int rc) {
  if (rc == API_ASYNC) {
    req->suspended = true;
    return API_ASYNC;
  }
  if (rc < 0) {
    const char *detail = rc == req->json_rc ? req->json_error : NULL;
    if (api__res_std_error(req, rc, detail) != 0) return API_ENOMEM;
    return 0;
  }
  if (!req->res.touched) {
    fprintf(stderr, "libapi: handler for %s %s returned without setting a response\n",
            req->head.method, req->route ? req->route->pattern : req->head.path);
    api__res_std_error(req, API_EINTERNAL, NULL);
  }
  return 0;
}

int api__pipeline_run(api_req *req) {
  switch (req->route_rc) {
    case 0:
      break;
    case API__ROUTE_OPTIONS:
      api_res_status(&req->res, 204);
      api_res_header(&req->res, "Allow", req->match.allow);
      return 0;
    case API_EMETHOD: {
      char msg[160];
      snprintf(msg, sizeof(msg), "method %s is not allowed here (allowed: %s)", req->head.method,
               req->match.allow);
      api__res_std_error(req, API_EMETHOD, msg);
      api_res_header(&req->res, "Allow", req->match.allow);
      return 0;
    }
    default:
      api__res_std_error(req, API_ENOTFOUND, "no route matches this path");
      return 0;
  }
  int rc = api__req_decode_params(req);
  if (rc) {
    api__res_std_error(req, rc,
                       rc == API_EBADREQ ? "malformed percent-encoding in the path" : NULL);
    return 0;
  }
  if (req->head.query_len && (rc = api__req_parse_query(req))) {
    api__res_std_error(req, rc, rc == API_EBADREQ ? "malformed query string" : NULL);
    return 0;
  }
  const api_route *route = &req->route->desc;
  return settle(req, route->handler(req, &req->res, route->user_data));
}

int api__pipeline_resume(api_req *req) {
  req->suspended = false;
  if (req->after) {
    api_after_work_fn after = req->after;
    req->after = NULL;
    return settle(req, after(req, &req->res, req->after_data));
  }
  return settle(req, 0);
}

int api_req_resume(api_req *req) {
  api__worker_post(req->worker, req);
  return 0;
}

int api_offload(api_req *req, api_work_fn work, api_after_work_fn after, void *user_data) {
  if (!work || !after) return API_EINVAL;
  req->work = work;
  req->after = after;
  req->after_data = user_data;
  int rc = api__offload_submit(req->worker->srv->offload, req);
  if (rc) {
    req->work = NULL;
    req->after = NULL;
    return rc;
  }
  return API_ASYNC;
}
