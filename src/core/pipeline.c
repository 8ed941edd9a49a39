/*
 * The request's way from routing to a written response, as a small state machine: each phase runs
 * its hooks from the request's chain, and any step may suspend (API_ASYNC) and be resumed later
 * where it stopped. No C stack waits across a suspension: the phase and hook index live in the
 * request. See libapi/middleware.h for the phases and return codes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/app_internal.h"
#include "net/net.h"

enum { P_ON_REQUEST, P_PREPARE, P_PRE_HANDLER, P_HANDLER, P_ON_ERROR, P_ON_SEND, P_READY };

static const int phase_hooks[] = {
    [P_ON_REQUEST] = API__H_ON_REQUEST,
    [P_PRE_HANDLER] = API__H_PRE_HANDLER,
    [P_ON_ERROR] = API__H_ON_ERROR,
    [P_ON_SEND] = API__H_ON_SEND,
};

static void enter(api_req *req, int phase) {
  req->phase = (uint8_t)phase;
  req->hook_i = 0;
}

/* Replace the response with the error and go on to on_error. */
static void to_error(api_req *req, int err, const char *message) {
  if (err == API_ASYNC || err >= 0) err = API_EINTERNAL;
  if (!message && err == req->json_rc) message = req->json_error;
  if (api__res_std_error(req, err, message) != 0) req->oom = true;
  if (err == API_EMETHOD && req->match.allow) api_res_header(&req->res, "Allow", req->match.allow);
  enter(req, P_ON_ERROR);
}

/* A step that claims to have answered without setting anything is a bug in that step. */
static void check_answered(api_req *req, const char *what) {
  if (req->res.touched) return;
  api_log(req->worker->app->logger, API_LOG_ERROR, "returned without setting a response",
          API_LOG_STR("what", what), API_LOG_STR("method", api_req_method(req)),
          API_LOG_STR("route", req->route ? req->route->pattern : api_req_path(req)));
  to_error(req, API_EINTERNAL, NULL);
}

/* What a hook (or handler) returned, in the phase the request is in. Returns true to go on
 * running the machine, false when the request is suspended. */
static bool outcome(api_req *req, int rc) {
  if (rc == API_ASYNC) {
    req->suspended = true;
    return false;
  }
  switch (req->phase) {
    case P_ON_REQUEST:
    case P_PRE_HANDLER:
      if (rc < 0) {
        to_error(req, rc, NULL);
      } else if (rc == API_DONE) {
        enter(req, P_ON_SEND);
        check_answered(req, "a hook that returned API_DONE");
      }
      return true;
    case P_HANDLER:
      if (rc < 0) {
        to_error(req, rc, NULL);
      } else {
        enter(req, P_ON_SEND);
        check_answered(req, "the handler");
        if (req->phase == P_ON_SEND && (rc = api__route_validate_response(req)))
          to_error(req, rc, NULL);
      }
      return true;
    case P_ON_ERROR:
      if (rc < 0) {
        to_error(req, rc, NULL);
        enter(req, P_ON_SEND);
      } else if (rc == API_DONE) {
        enter(req, P_ON_SEND);
      }
      return true;
    case P_ON_SEND:
      if (rc < 0) {
        to_error(req, rc, NULL);
        enter(req, P_READY);
      } else if (rc == API_DONE) {
        enter(req, P_READY);
      }
      return true;
    default:
      return true;
  }
}

/* Decode what the handler will read; a malformed path or query is the client's error. */
static void prepare(api_req *req) {
  enter(req, P_PRE_HANDLER);
  if (req->route_rc != 0) return;
  int rc = api__req_decode_params(req);
  if (rc) {
    to_error(req, rc, rc == API_EBADREQ ? "malformed percent-encoding in the path" : NULL);
    return;
  }
  if (req->head.query_len && (rc = api__req_parse_query(req))) {
    to_error(req, rc, rc == API_EBADREQ ? "malformed query string" : NULL);
    return;
  }
  rc = api__route_validate_request(req);
  if (rc == API__VALIDATE_ANSWERED)
    enter(req, P_ON_ERROR);
  else if (rc)
    to_error(req, rc, NULL);
}

/* The route's handler, or the built-in answer for requests that matched none. */
static int handle(api_req *req) {
  switch (req->route_rc) {
    case 0: {
      const api_route *route = &req->route->desc;
      return route->handler(req, &req->res, route->user_data);
    }
    case API__ROUTE_OPTIONS:
      api_res_status(&req->res, 204);
      api_res_header(&req->res, "Allow", req->match.allow);
      return API_NEXT;
    case API_EMETHOD: {
      char msg[160];
      snprintf(msg, sizeof(msg), "method %s is not allowed here (allowed: %s)", req->head.method,
               req->match.allow);
      to_error(req, API_EMETHOD, msg);
      return API_NEXT;
    }
    default:
      to_error(req, API_ENOTFOUND, "no route matches this path");
      return API_NEXT;
  }
}

/* Run until the response is ready (0), the request suspends (API_ASYNC) or memory runs out. */
static int advance(api_req *req) {
  while (req->phase != P_READY) {
    if (req->oom) return API_ENOMEM;
    int phase = req->phase;
    if (phase == P_PREPARE) {
      prepare(req);
      continue;
    }
    if (phase == P_HANDLER) {
      int before = req->phase;
      int rc = handle(req);
      if (req->phase != before) continue; /* the built-in answer was an error */
      if (!outcome(req, rc)) return API_ASYNC;
      continue;
    }
    const api__chain *chain = req->chain;
    int h = phase_hooks[phase];
    if (req->hook_i >= chain->n[h]) {
      enter(req, phase == P_ON_REQUEST    ? P_PREPARE
                 : phase == P_PRE_HANDLER ? P_HANDLER
                 : phase == P_ON_ERROR    ? P_ON_SEND
                                          : P_READY);
      continue;
    }
    const api__hook *hook = &chain->hooks[h][req->hook_i++];
    if (!outcome(req, hook->fn(req, &req->res, hook->user_data))) return API_ASYNC;
  }
  return req->oom ? API_ENOMEM : 0;
}

static const api__chain *chain_of(api_req *req) {
  return req->route_rc == 0 && req->route ? &req->route->chain : &req->worker->app->chain;
}

int api__pipeline_run(api_req *req) {
  req->chain = chain_of(req);
  enter(req, P_ON_REQUEST);
  return advance(req);
}

int api__pipeline_error(api_req *req, int err, const char *message, bool head_complete) {
  req->chain = head_complete ? chain_of(req) : &req->worker->app->chain;
  if (api__res_std_error(req, err, message) != 0) return API_ENOMEM;
  enter(req, P_ON_SEND);
  return advance(req);
}

int api__pipeline_resume(api_req *req) {
  req->suspended = false;
  int rc = req->resume_rc;
  req->resume_rc = API_NEXT;
  if (req->after) {
    api_after_work_fn after = req->after;
    req->after = NULL;
    rc = after(req, &req->res, req->after_data);
  }
  if (!outcome(req, rc)) return API_ASYNC;
  return advance(req);
}

void api__pipeline_abandon(api_req *req) {
  req->suspended = false;
  if (req->after) {
    api_after_work_fn after = req->after;
    req->after = NULL;
    if (after(req, &req->res, req->after_data) == API_ASYNC)
      api_log(req->worker->app->logger, API_LOG_ERROR,
              "a timed-out request suspended again; it is dropped",
              API_LOG_STR("method", api_req_method(req)));
  }
}

void api__pipeline_responded(api_req *req, size_t wire_bytes) {
  req->wire_bytes = wire_bytes;
  const api__chain *chain = req->chain ? req->chain : &req->worker->app->chain;
  for (unsigned i = 0; i < chain->n[API__H_ON_RESPONSE]; i++) {
    const api__hook *hook = &chain->hooks[API__H_ON_RESPONSE][i];
    hook->fn(req, &req->res, hook->user_data);
  }
}

int api_req_resume(api_req *req) { return api_req_resume_with(req, API_NEXT); }

int api_req_resume_with(api_req *req, int rc) {
  req->resume_rc = rc;
  api__worker_post(req->worker, req);
  return 0;
}

unsigned long long api_req_elapsed_ns(const api_req *req) { return api__now_ns() - req->start_ns; }

size_t api_res_wire_bytes(const api_res *res) {
  const api_req *req = (const api_req *)((const char *)res - offsetof(api_req, res));
  return req->wire_bytes;
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
