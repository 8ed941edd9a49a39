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
#include "log.h"

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

/*
 * ---- Built-in middleware ----
 *
 * Each built-in is made by a constructor api_mw_<name>(app, options, &mw) that validates and copies
 * its options into state owned by the app (freed by api_app_free()) and fills mw; register mw where
 * it should apply: api_app_use(app, &mw), api_group_use(group, &mw), or a route's .middleware.
 * Options structs are built with their API_..._OPTIONS() macro; zero members take the defaults.
 * Constructors return 0, API_EINVAL (a bad option, named in api_last_error()) or API_ENOMEM.
 */

/* ---- Request id and W3C trace context ---- */

/** Options of api_mw_request_id(). */
typedef struct api_request_id_options {
  size_t size;            /**< set by API_REQUEST_ID_OPTIONS */
  const char *header;     /**< request and response header; default "X-Request-ID" */
  size_t max_len;         /**< longest incoming id kept (1..256); default 128 */
  int ignore_incoming;    /**< always generate, never keep the client's id */
  int ignore_traceparent; /**< do not read or start a W3C trace context */
} api_request_id_options;

#define API_REQUEST_ID_OPTIONS(...) \
  (&(const api_request_id_options){.size = sizeof(api_request_id_options), __VA_ARGS__})

/**
 * Request ids and trace context. on_request: an incoming id (the header) is kept when it is 1 to
 * max_len characters of [A-Za-z0-9._:-]; anything else (too long, control characters, spaces,
 * quotes) is replaced by a generated id. A valid W3C traceparent header (version 00, non-zero
 * ids, lower-case hex) continues that trace; otherwise a new trace id is generated. Each request
 * gets a new span id. on_send: the id is echoed in the response header, on every response.
 * opts may be NULL.
 */
LIBAPI_EXTERN int api_mw_request_id(api_app *app, const api_request_id_options *opts,
                                    api_middleware *out);

/** The request's trace id (32 lower-case hex digits), or NULL without api_mw_request_id(). */
LIBAPI_EXTERN const char *api_req_trace_id(const api_req *req);
/** The request's own span id (16 hex digits), or NULL. */
LIBAPI_EXTERN const char *api_req_span_id(const api_req *req);
/**
 * The traceparent header value for calls this request makes downstream:
 * "00-<trace id>-<span id>-<flags>", or NULL without a trace. Borrowed, as long as the request.
 */
LIBAPI_EXTERN const char *api_req_traceparent(const api_req *req);

/* ---- Security headers ---- */

/** Options of api_mw_security_headers(); strings replace the defaults, "" turns a header off. */
typedef struct api_security_options {
  size_t size;                         /**< set by API_SECURITY_OPTIONS */
  const char *frame_options;           /**< X-Frame-Options; default "DENY" */
  const char *referrer_policy;         /**< Referrer-Policy; default "no-referrer" */
  const char *content_security_policy; /**< default "default-src 'none'; frame-ancestors 'none'" */
  const char *cross_origin_opener_policy;   /**< default "same-origin" */
  const char *cross_origin_resource_policy; /**< default "same-origin" */
  unsigned long hsts_max_age;  /**< Strict-Transport-Security max-age, seconds; 0: not sent */
  int hsts_include_subdomains; /**< add includeSubDomains */
  int hsts_preload;            /**< add preload (needs include_subdomains and a year or more) */
  int no_sniff_off;            /**< do not send X-Content-Type-Options: nosniff */
} api_security_options;

#define API_SECURITY_OPTIONS(...) \
  (&(const api_security_options){.size = sizeof(api_security_options), __VA_ARGS__})

/**
 * Security headers on every response (on_send), unless the handler set that header itself:
 * X-Content-Type-Options: nosniff, X-Frame-Options, Referrer-Policy, Content-Security-Policy,
 * Cross-Origin-Opener-Policy, Cross-Origin-Resource-Policy, and Strict-Transport-Security when
 * hsts_max_age is set (only send it when clients reach the app over HTTPS, e.g. behind a TLS
 * proxy). The defaults suit a JSON API; a route serving HTML (like /docs) relaxes the CSP itself.
 * opts may be NULL.
 */
LIBAPI_EXTERN int api_mw_security_headers(api_app *app, const api_security_options *opts,
                                          api_middleware *out);

/* ---- Access log ---- */

/** Options of api_mw_access_log(). */
typedef struct api_access_log_options {
  size_t size;         /**< set by API_ACCESS_LOG_OPTIONS */
  api_logger *logger;  /**< where lines go (borrowed, must outlive the app); default: the
                                   app's logger (api_app_logger()) */
  const char *message; /**< the msg of each line; default "request completed" */
  api_log_level level; /**< one level for every line; default 0: info below 400,
                            warn for 4xx, error for 5xx */
} api_access_log_options;

#define API_ACCESS_LOG_OPTIONS(...) \
  (&(const api_access_log_options){.size = sizeof(api_access_log_options), __VA_ARGS__})

/**
 * One line per response (on_response): request_id, trace_id, method, route (the pattern, or null
 * when none matched), path, status, bytes (as written), duration_ms (from the request's first
 * byte), client (api_req_client_addr()), user_agent and user. Every value is escaped by the logger,
 * so a hostile path or User-Agent cannot forge lines; Authorization and Cookie are never logged.
 * opts may be NULL.
 */
LIBAPI_EXTERN int api_mw_access_log(api_app *app, const api_access_log_options *opts,
                                    api_middleware *out);

/* ---- Request metrics ---- */

/** Options of api_mw_metrics(). */
typedef struct api_metrics_options {
  size_t size;            /**< set by API_METRICS_OPTIONS */
  const char *path;       /**< where GET serves the Prometheus text; default "/metrics"; "" none */
  const double *buckets;  /**< latency histogram bounds in seconds; NULL: the default set */
  size_t nbuckets;        /**< entries in buckets */
  int no_process_metrics; /**< leave out process_* (CPU, memory, descriptors) */
} api_metrics_options;

#define API_METRICS_OPTIONS(...) \
  (&(const api_metrics_options){.size = sizeof(api_metrics_options), __VA_ARGS__})

/**
 * Record every request in the app's registry (api_app_metrics()) and serve it at opts->path:
 *   http_requests_total{method,route,status}        counter
 *   http_request_duration_seconds{method,route}     histogram, from the first byte to the write
 *   http_requests_in_flight                          gauge
 *   http_connections_open                            gauge
 *   http_received_bytes_total, http_sent_bytes_total counters (bytes on the wire)
 *   libapi_log_dropped_total                         counter (the app logger's dropped lines)
 * plus the process metrics. Labels stay bounded: route is the pattern ("/users/:id"), or
 * "unmatched" when no route matched; method is one of the standard methods or "OTHER"; status is
 * the three-digit code. Register it on the app so every response, errors included, is counted.
 * Returns 0, API_EINVAL, API_EEXIST (the metric names or the path are taken) or API_ENOMEM.
 */
LIBAPI_EXTERN int api_mw_metrics(api_app *app, const api_metrics_options *opts,
                                 api_middleware *out);

#ifdef __cplusplus
}
#endif
#endif
