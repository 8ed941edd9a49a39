/*
 * libapi/middleware.h: hooks — the middleware chain.
 *
 * A middleware is a set of optional hook functions plus their user data, registered on the app
 * (every request), on a route group (its routes) or on one route (api_route.middleware). Each
 * request runs through these phases; each phase runs its hooks in registration order: the app's,
 * then the groups' from the outermost in, then the route's.
 *
 *   on_request   the request has been received and routed (its body read, not parsed). Runs for
 *                every request that got this far, 404 and 405 included (with the app's hooks only).
 *   [params are decoded and the query parsed: a malformed one is a 400]
 *   pre_handler  just before the handler (authentication guards, validation run here).
 *   handler      the route's handler; for 404/405/automatic OPTIONS, the built-in answer.
 *   on_error     a hook, the handler or the framework produced an error: the standard JSON error
 *                body is already on the response; a hook may rewrite it.
 *   on_send      the response is final but not yet written: a hook may still change it
 *                (compression, ETag). Every response passes here exactly once — errors found by the
 *                HTTP parser (400, 413, 414, 431, 408) included, with the app's hooks only.
 *   on_response  after the response has been handed to the connection: it cannot be changed any
 *                more (access logs, metrics). Runs exactly once for every request that got a
 *                response. Return values are ignored; it must not suspend.
 *
 * Return codes: API_NEXT goes on to the next hook; API_DONE says the hook answered the request and
 * skips to on_send (from on_error: ends on_error; from on_send: ends on_send); API_ASYNC suspends
 * the request — resume it with api_req_resume() (as API_NEXT), api_req_resume_with() (any code), or
 * by returning api_offload() whose after callback returns the hook's code; a negative api_err
 * replaces the response with that error and continues at on_error (an error from on_error or
 * on_send replaces the response and ends that phase, so errors cannot loop).
 *
 * Thread: hooks run on the request's worker thread, like handlers, and must not block. The
 * middleware's user data is shared by every worker: make it read-only after the server starts, or
 * synchronise it. Registration happens before the server starts (API_ESTATE afterwards).
 */
#ifndef LIBAPI_MIDDLEWARE_H
#define LIBAPI_MIDDLEWARE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A hook. See the phases above for what it may do and what it returns. */
typedef int (*api_hook_fn)(api_req *req, api_res *res, void *user_data);

/**
 * A middleware: build it with API_MIDDLEWARE(.name = "auth", .pre_handler = check, .user_data = k).
 * Members left NULL are skipped. The struct is copied at registration; user_data is borrowed and
 * must outlive the app (built-in middleware keeps its state in the app, see api_app_on_free()).
 */
typedef struct api_middleware {
  size_t size;             /**< sizeof(api_middleware), set by API_MIDDLEWARE */
  const char *name;        /**< for messages (optional) */
  api_hook_fn on_request;  /**< the request is routed and its body received */
  api_hook_fn pre_handler; /**< just before the handler */
  api_hook_fn on_error;    /**< the response is an error response */
  api_hook_fn on_send;     /**< the response is final and may still be rewritten */
  api_hook_fn on_response; /**< the response has left: observe only */
  void *user_data;         /**< passed to every hook */
} api_middleware;

#define API_MIDDLEWARE(...) (&(const api_middleware){.size = sizeof(api_middleware), __VA_ARGS__})

/**
 * Register middleware for every request of the app. Returns 0, API_EINVAL (NULL or no hook at all),
 * API_ESTATE once a server has started for the app, or API_ENOMEM.
 */
LIBAPI_EXTERN int api_app_use(api_app *app, const api_middleware *mw);

/** Register middleware for every route of a group, nested groups included. As api_app_use(). */
LIBAPI_EXTERN int api_group_use(api_group *group, const api_middleware *mw);

/** Something the app calls when it is freed (with its server gone). */
typedef void (*api_free_fn)(void *user_data);
/**
 * Have fn(user_data) called by api_app_free(), in reverse order of registration: the place for
 * state that middleware shares across requests. Returns 0 or API_ENOMEM (then fn is called now, so
 * nothing leaks, and the error should be returned).
 */
LIBAPI_EXTERN int api_app_on_free(api_app *app, api_free_fn fn, void *user_data);

/**
 * Resume a suspended request as if the hook (or handler) that suspended it had returned rc:
 * API_NEXT, API_DONE or a negative api_err. api_req_resume(req) is api_req_resume_with(req,
 * API_NEXT). Thread: any thread, once per API_ASYNC. Returns 0.
 */
LIBAPI_EXTERN int api_req_resume_with(api_req *req, int rc);

/** Nanoseconds since the first byte of the request arrived (monotonic clock). */
LIBAPI_EXTERN unsigned long long api_req_elapsed_ns(const api_req *req);

/**
 * The size in bytes of the response as written (status line, headers and body); 0 before the
 * response has been written, so meaningful in on_response hooks.
 */
LIBAPI_EXTERN size_t api_res_wire_bytes(const api_res *res);

/**
 * Remove every header field called name from the response (case-insensitive). Returns 0 (also
 * when there was none).
 */
LIBAPI_EXTERN int api_res_header_remove(api_res *res, const char *name);

#ifdef __cplusplus
}
#endif
#endif
