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
 *   [params are decoded and the query parsed: a malformed one is a 400; then the route's schemas
 *    are applied (api_route.params_schema ...): an invalid request is a 422]
 *   pre_handler  just before the handler (authentication guards run here).
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

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

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
  /** The OpenAPI security scheme this middleware authenticates with (a name registered with
   * api_app_security_scheme()): routes it applies to list it in their "security". The
   * authentication built-ins set it. NULL: none. Copied with the struct, so it must outlive the
   * app (a literal, or a name owned by the app). */
  const char *security;
  /** For a guard that refuses unauthenticated requests (api_mw_require() sets it): the
   * NULL-terminated scopes it requires, listed with each security scheme of the routes it applies
   * to; an empty list when it requires none. NULL: not a guard. Borrowed like security. */
  const char *const *security_scopes;
  /** Non-zero: the middleware lets requests without credentials through (api_mw_jwt() and
   * api_mw_api_key() with .optional, api_mw_session()). A route whose every scheme is optional
   * and that runs no guard also lists anonymous access ({}) in its "security", without 401/403. */
  int security_optional;
  /** A second security scheme the middleware accepts instead of the first (api_mw_jwt() with a
   * .cookie, api_mw_api_key() with a .query_param): routes list the two as alternatives.
   * NULL: none. Borrowed like security. */
  const char *security_also;
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

/* ---- Response caching helpers ---------------------------------------------------------------- */

/** Who may store a response (Cache-Control public / private). */
typedef enum api_cache_scope {
  API_CACHE_SCOPE_DEFAULT = 0, /**< neither directive is sent */
  API_CACHE_PUBLIC,            /**< "public": shared caches may store it, even with authorization */
  API_CACHE_PRIVATE,           /**< "private": only the user's own cache may store it */
} api_cache_scope;

/** max_age / s_maxage value that sends "max-age=0" (0 itself means "not sent"). */
#define API_CACHE_AGE_ZERO (-1LL)

/**
 * Cache-Control directives; build with API_CACHE_OPTIONS(.scope = API_CACHE_PUBLIC,
 * .max_age = 3600). Zero means "not sent" for every member.
 */
typedef struct api_cache_options {
  size_t size;           /**< sizeof(api_cache_options), set by API_CACHE_OPTIONS */
  api_cache_scope scope; /**< public / private */
  long long max_age;     /**< seconds; API_CACHE_AGE_ZERO sends max-age=0 */
  long long s_maxage;    /**< seconds, for shared caches; API_CACHE_AGE_ZERO sends s-maxage=0 */
  bool no_store;         /**< "no-store": nothing may be stored */
  bool no_cache;         /**< "no-cache": stored copies must be revalidated before each use */
  bool must_revalidate;  /**< "must-revalidate": stale copies must be revalidated */
  bool immutable;        /**< "immutable" (RFC 8246): never revalidate while fresh */
  bool no_transform;     /**< "no-transform": intermediaries must not change the body (the
                              compression middleware honours it too) */
} api_cache_options;

#define API_CACHE_OPTIONS(...) \
  (&(const api_cache_options){.size = sizeof(api_cache_options), __VA_ARGS__})

/**
 * Set the Cache-Control header from opts, replacing an earlier one, e.g.
 * "public, max-age=3600, immutable". Options that set nothing remove the header.
 * Returns 0; API_EINVAL for NULL, a bad size, a negative age other than API_CACHE_AGE_ZERO, or
 * no_store together with max_age, s_maxage or immutable (contradictory); API_ENOMEM.
 * Thread: as the response (its worker).
 */
LIBAPI_EXTERN int api_res_cache_control(api_res *res, const api_cache_options *opts);

/**
 * Set the Last-Modified header to t formatted as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
 * The conditional-request middleware answers If-Modified-Since with it. Returns 0; API_EINVAL
 * for t before 1970 or after the year 9999; API_ENOMEM.
 */
LIBAPI_EXTERN int api_res_last_modified(api_res *res, time_t t);

/**
 * Set the ETag header to "tag" (strong) or W/"tag" (weak). tag is the opaque part without
 * quotes: printable ASCII except '"' and space (RFC 9110 etagc), at most 256 bytes; it is copied.
 * Returns 0; API_EINVAL for a NULL or invalid tag; API_ENOMEM.
 */
LIBAPI_EXTERN int api_res_etag(api_res *res, const char *tag, bool weak);

/**
 * Add field (a header name such as "Accept-Encoding") to the response's Vary header unless it is
 * already there (case-insensitive) or Vary is "*". Earlier Vary fields are merged into one.
 * Returns 0; API_EINVAL when field is not a header name or "*"; API_ENOMEM.
 */
LIBAPI_EXTERN int api_res_vary(api_res *res, const char *field);

/* ---- Built-in middleware: CORS ------------------------------------------------------------- */

/**
 * Cross-origin resource sharing (Fetch standard, "CORS protocol"). Build with
 * API_CORS_OPTIONS(.origins = (const char *[]){"https://app.example.com", NULL}).
 *
 * Origins are compared as browsers serialise them: scheme "://" host [":" port], lowercase, no
 * default port, no path, no trailing slash, no userinfo. A request whose Origin is not exactly
 * that (an upper-case "HTTPS://A.EXAMPLE", a trailing "/", "user@", ":443" on https, more than
 * one Origin field, more than 512 bytes) is not allowed. Entries of origins may be:
 *   - an exact origin, "https://app.example.com" or "http://localhost:8080" (given in any case; a
 *     default port is dropped);
 *   - a pattern scheme "://" "*." domain [":" port], written "https://" "*.example.com" here (a
 *     C comment cannot hold the slash and star together): one or more whole DNS labels, then
 * exactly
 *     ".example.com", same scheme and port. It matches "https://a.b.example.com" but neither
 *     "https://example.com" (list it too if wanted) nor "https://evilexample.com" nor
 *     "https://example.com.evil.net". '*' is allowed only as the whole first label;
 *   - "null", which allows the opaque origin "null" (sandboxed frames, file: pages) — it is never
 *     allowed otherwise, not even by "*";
 *   - "*": any origin; answered "Access-Control-Allow-Origin: *". Not allowed with credentials.
 */
typedef struct api_cors_options {
  size_t size;                       /**< sizeof(api_cors_options), set by API_CORS_OPTIONS */
  const char *const *origins;        /**< NULL-terminated; required (at least one entry) */
  const char *const *methods;        /**< NULL-terminated method names allowed cross-origin;
                                          NULL: GET, HEAD, POST, PUT, PATCH, DELETE */
  const char *const *allow_headers;  /**< NULL-terminated request header names a preflight may
                                          ask for; {"*", NULL} allows any; NULL: Content-Type */
  const char *const *expose_headers; /**< NULL-terminated response header names scripts may read
                                          besides the safelisted ones; NULL: none */
  bool credentials;                  /**< send Access-Control-Allow-Credentials: true (cookies,
                                          HTTP auth); refused together with the origin "*" */
  long max_age;                      /**< preflight cache lifetime in seconds: 0 is 600, a
                                          negative value does not send Access-Control-Max-Age */
} api_cors_options;

#define API_CORS_OPTIONS(...) \
  (&(const api_cors_options){.size = sizeof(api_cors_options), __VA_ARGS__})

/**
 * Build the CORS middleware into *out; register it with api_app_use() (preflights for paths
 * without an OPTIONS route are only seen by app-level middleware, so use the app).
 *
 * Preflights (OPTIONS with Origin and Access-Control-Request-Method): for a path with a route,
 * the middleware answers 204 in on_request without running the route's handler; for a path
 * without an OPTIONS route the router's own 204 (with Allow) gets the CORS fields in on_send; a
 * path that does not exist stays 404 with no preflight fields. An allowed preflight gets
 * Access-Control-Allow-Origin, -Allow-Credentials, -Allow-Methods (the configured list),
 * -Allow-Headers (the requested names, echoed when every one is allowed), -Max-Age. A preflight
 * from an origin that is not allowed, or asking for a method or a header that is not allowed, is
 * still answered 204 but without any Access-Control-* field, so the browser refuses the request.
 * Every preflight answer says Vary: Origin, Access-Control-Request-Method,
 * Access-Control-Request-Headers.
 *
 * Other requests: in on_send (so error responses carry them too), an allowed origin gets
 * Access-Control-Allow-Origin (the origin echoed, or "*"), -Allow-Credentials and
 * -Expose-Headers; an origin that is not allowed gets no Access-Control-* field. Vary: Origin is
 * added to every response, requests without Origin included (the answer depends on it).
 *
 * Returns 0; API_EINVAL (message in api_last_error() naming the option) for NULL arguments, a bad
 * size, no origins, a malformed origin or pattern, "*" with credentials, a method or header that is
 * not a token; API_ENOMEM.
 * Ownership: the options and their strings are copied; the state is freed by api_app_free().
 * Thread: configuration thread, before the server starts; the state is read-only afterwards.
 */
LIBAPI_EXTERN int api_mw_cors(api_app *app, const api_cors_options *opts, api_middleware *out);

/* ---- Built-in middleware: compression -------------------------------------------------------- */

/** Compression options; build with API_COMPRESS_OPTIONS(.level = 5). Zero means default. */
typedef struct api_compress_options {
  size_t size;              /**< sizeof(api_compress_options), set by API_COMPRESS_OPTIONS */
  size_t min_size;          /**< smaller bodies are sent as they are; 0: 1024 bytes */
  int level;                /**< zlib level 1 (fast) .. 9 (small); 0: 6 */
  const char *const *types; /**< NULL-terminated media types that are compressed, replacing the
                                 default list: "text/html" (exact), "text/ *" (a whole type, written
                                 without the space), "+json" (a structured-syntax suffix). NULL:
                                 text/ *, application/json, application/javascript,
                                 application/xml, application/x-ndjson, image/svg+xml, +json,
                                 +xml. Types not listed (images, audio, video, archives,
                                 application/octet-stream) are never compressed. */
  bool no_deflate;          /**< offer gzip only */
} api_compress_options;

#define API_COMPRESS_OPTIONS(...) \
  (&(const api_compress_options){.size = sizeof(api_compress_options), __VA_ARGS__})

/**
 * Build the response compression middleware into *out (an on_send hook): gzip or deflate (the
 * zlib format, RFC 9110 8.4.1) chosen from Accept-Encoding by q-value (gzip wins ties; x-gzip
 * counts as gzip; "*" covers unlisted codings; "identity" with a higher q than the coding keeps
 * the body as it is; a malformed q-value counts as 0). Without Accept-Encoding nothing is
 * compressed.
 *
 * A response is compressed when its status is 200..599 other than 204, 206 and 304, the
 * method is not HEAD, it has no Content-Encoding and no Cache-Control: no-transform, its
 * Content-Type is in the list, its body is at least min_size bytes, and the result is smaller.
 * Then it gets Content-Encoding, and a strong ETag "x" becomes "x-gzip" / "x-deflate" (weak ones
 * stay: the representation is equivalent). Vary: Accept-Encoding is added whenever the answer
 * depended on Accept-Encoding: every compressible response, compressed or not, HEAD and 304
 * included.
 *
 * With the conditional-request middleware (api_mw_etag()), register api_mw_etag() first: a 304
 * then costs no compression, and it accepts the "-gzip" / "-deflate" tags clients send back.
 * The body is compressed into request memory. Returns 0; API_EINVAL for NULL arguments, a bad
 * size, a level outside 0..9, an empty or malformed type; API_ENOMEM.
 * Ownership: options are copied; the state is freed by api_app_free(). Thread: as api_mw_cors().
 */
LIBAPI_EXTERN int api_mw_compress(api_app *app, const api_compress_options *opts,
                                  api_middleware *out);

/* ---- Built-in middleware: conditional requests ---------------------------------------------- */

/** Conditional-request options; build with API_CONDITIONAL_OPTIONS(.weak = true). */
typedef struct api_conditional_options {
  size_t size;  /**< sizeof(api_conditional_options), set by API_CONDITIONAL_OPTIONS */
  bool weak;    /**< generate weak ETags (W/"...") instead of strong ones */
  bool no_etag; /**< do not generate ETags; only answer conditions on those handlers set */
} api_conditional_options;

#define API_CONDITIONAL_OPTIONS(...) \
  (&(const api_conditional_options){.size = sizeof(api_conditional_options), __VA_ARGS__})

/**
 * Build the conditional-request middleware into *out (an on_send hook), for GET and HEAD
 * responses with status 200:
 *   - ETag: unless the handler set one, a 200 with a body gets "<length>-<hash>" where hash is
 *     the 64-bit FNV-1a of the body in hex (fast, not collision-resistant: a handler that serves
 *     attacker-chosen bytes and cares should set its own tag, e.g. from a version number);
 *   - If-None-Match (all fields, a list of tags or "*"; weak comparison, RFC 9110 13.1.2; a
 *     malformed element never matches; a tag carrying the "-gzip"/"-deflate" suffix of
 *     api_mw_compress() matches the tag it was made from): a match turns the response into 304
 *     Not Modified without body, Content-Type or Content-Encoding, keeping ETag (the matched one),
 *     Cache-Control, Vary, Last-Modified, Set-Cookie and the other fields;
 *   - If-Modified-Since, only without If-None-Match: when the handler set Last-Modified
 *     (api_res_last_modified()) and it is not later than the date given, 304. A date that is not
 *     a valid HTTP-date (any of the three RFC 9110 formats) is ignored.
 * Other methods and statuses pass untouched; for unsafe methods use api_req_preconditions() in
 * the handler. Returns 0; API_EINVAL for NULL arguments or a bad size; API_ENOMEM.
 * Ownership: options are copied; the state is freed by api_app_free(). Thread: as api_mw_cors().
 */
LIBAPI_EXTERN int api_mw_etag(api_app *app, const api_conditional_options *opts,
                              api_middleware *out);

/**
 * Evaluate the request's preconditions (RFC 9110 13.2.2) against the current state of the
 * resource, before a handler changes or reads it: etag is the current entity tag as sent in ETag
 * ("\"v7\"" or "W/\"v7\""), or NULL when it has none; last_modified is its modification time,
 * or 0 when unknown. Both NULL and 0 mean the resource does not exist ("*" does not match it). In
 * order: If-Match (strong comparison; "*" needs an existing resource), else If-Unmodified-Since;
 * then If-None-Match (weak comparison), else If-Modified-Since for GET and HEAD. Returns API_NEXT
 * (0) when the handler should go on, or API_DONE when res now holds the answer: 412 Precondition
 * Failed (a JSON error body), or 304 Not Modified for GET/HEAD (with the ETag and Last-Modified
 * given). A handler does `if (api_req_preconditions(...) == API_DONE) return API_NEXT;`. Returns
 * API_EINVAL for NULL req/res or a malformed etag; API_ENOMEM. Thread: as the request.
 */
LIBAPI_EXTERN int api_req_preconditions(api_req *req, api_res *res, const char *etag,
                                        time_t last_modified);

/*
 * ---- Rate limiting (src/mw/ratelimit.c, src/mw/ratelimit_mem.c) ----
 *
 * api_mw_rate_limit() builds a middleware that counts requests per key (the client address, an
 * API key header, the authenticated user, the route, or a combination) in a store and answers
 * 429 with the standard JSON error body and Retry-After once a key is over its limit. Every
 * response that went through the limiter carries RateLimit-Limit, RateLimit-Remaining,
 * RateLimit-Reset and RateLimit-Policy, the fields of draft-ietf-httpapi-ratelimit-headers-06
 * (later revisions merge them into one structured RateLimit field).
 *
 * The store is an interface (api_rate_store) so that a shared one (Redis) can replace the
 * in-memory default, which is sharded, locked per shard and bounded in memory.
 */

/** The counting algorithm of a limiter. */
typedef enum api_rate_algo {
  /** Token bucket: a bucket of `burst` tokens refilled at `limit` tokens per `window_ms`. */
  API_RATE_TOKEN_BUCKET = 0,
  /**
   * Sliding window: at most `limit` per `window_ms`, counted as the current fixed window plus
   * the previous one weighted by how much of it still overlaps the sliding window (two counters
   * per key; exact at window boundaries, an approximation in between).
   */
  API_RATE_SLIDING_WINDOW = 1,
} api_rate_algo;

/**
 * What a store counts against. Filled by the limiter from its options: limit, window_ms and burst
 * are 1..1e9 (the in-memory store answers API_EINVAL to others).
 */
typedef struct api_rate_params {
  api_rate_algo algorithm;
  unsigned long long limit;     /**< tokens refilled (bucket) or requests allowed (window) ... */
  unsigned long long window_ms; /**< ... per this many milliseconds */
  unsigned long long burst;     /**< token bucket capacity (>= 1); ignored by the window */
} api_rate_params;

/** A store's answer for one key. */
typedef struct api_rate_result {
  int allowed;                       /**< 1: counted and allowed; 0: over the limit, not counted */
  unsigned long long limit;          /**< the quota reported as RateLimit-Limit */
  unsigned long long remaining;      /**< what is left after this request */
  unsigned long long reset_ms;       /**< bucket: until it is full; window: until it ends */
  unsigned long long retry_after_ms; /**< when not allowed: until this cost would be allowed */
} api_rate_result;

/**
 * How an asynchronous store reports: rc is 0 with *result filled, or a negative api_err.
 * Thread: any thread, exactly once per take that returned API_ASYNC (possibly before take
 * returned). result is borrowed for the call.
 */
typedef void (*api_rate_done_fn)(void *done_data, int rc, const api_rate_result *result);

/** One request to a store. */
typedef struct api_rate_take {
  size_t size;                   /**< sizeof(api_rate_take) */
  const void *key;               /**< the key bytes (any bytes; borrowed for the call) */
  size_t key_len;                /**< its length */
  unsigned cost;                 /**< units to take (>= 1) */
  unsigned long long now_ms;     /**< the time, in the limiter's clock (milliseconds) */
  const api_rate_params *params; /**< the policy (borrowed for the call) */
  api_rate_done_fn done;         /**< for stores that answer later; NULL: answer now */
  void *done_data;               /**< passed to done */
} api_rate_take;

typedef struct api_rate_store api_rate_store;

/**
 * A store: a table of function pointers that an implementation embeds as its first member.
 *
 * take counts t->cost against t->key under t->params and returns 0 with *result filled (a
 * synchronous answer); or, only when t->done is not NULL, API_ASYNC after copying what it needs
 * from t, and later calls t->done exactly once (from any thread); or a negative api_err. A key
 * over its limit is an answer (allowed = 0), not an error.
 * free releases the store (called by api_rate_store_free()).
 * Thread: take is called concurrently from every worker thread and must be thread-safe.
 */
struct api_rate_store {
  size_t size; /**< sizeof(api_rate_store) */
  int (*take)(api_rate_store *store, const api_rate_take *t, api_rate_result *result);
  void (*free)(api_rate_store *store);
};

/** Options of the in-memory store. Zero members take the defaults. */
typedef struct api_rate_mem_options {
  size_t size;        /**< sizeof(api_rate_mem_options), set by API_RATE_MEM_OPTIONS */
  size_t max_keys;    /**< keys kept at most (default 100000); see api_rate_store_mem_new() */
  unsigned shards;    /**< lock shards, rounded up to a power of two (default 16, at most 1024) */
  size_t max_key_len; /**< longer keys are kept as their SHA-256 digest (default 64, 32..255) */
} api_rate_mem_options;

#define API_RATE_MEM_OPTIONS(...) \
  (&(const api_rate_mem_options){.size = sizeof(api_rate_mem_options), __VA_ARGS__})

/**
 * Create an in-memory store: shards, each a hash table under its own mutex, keyed by SipHash-2-4
 * with a random key so that chosen keys cannot pile into one chain. Memory is bounded: each shard
 * keeps at most max_keys / shards keys (so at most max_keys in all); when a shard is full, its
 * least recently used key is dropped (expired keys are also dropped a few at a time on every
 * take). A dropped key starts afresh, so a flood of distinct keys costs quota accuracy, never
 * memory. Keys longer than max_key_len are kept as a 32-byte digest.
 * opts may be NULL. Returns 0, API_EINVAL (an option out of range, see api_last_error()) or
 * API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_rate_store_free() after every app using it.
 * Thread: the store may be used from any number of threads.
 */
LIBAPI_EXTERN int api_rate_store_mem_new(api_rate_store **out, const api_rate_mem_options *opts);

/** The number of keys an in-memory store holds now (others: 0). Thread: any. */
LIBAPI_EXTERN size_t api_rate_store_mem_count(api_rate_store *store);

/** Free a store through its free function. NULL-safe. */
LIBAPI_EXTERN void api_rate_store_free(api_rate_store *store);

/** A key callback's answer meaning "do not limit this request" (no headers are added either). */
#define API_RATE_SKIP 1

/**
 * A key callback: write a NUL-terminated key (a user id, a tenant) of at most len - 1 bytes into
 * buf and return 0; return API_RATE_SKIP to leave the request unlimited, or a negative api_err to
 * fail the request with it. A key without its NUL within len bytes fails the request (500).
 * Thread: the request's worker.
 */
typedef int (*api_rate_key_fn)(api_req *req, char *buf, size_t len, void *user_data);

/** A predicate: return nonzero to let the request through without counting it. */
typedef int (*api_rate_skip_fn)(api_req *req, void *user_data);

/** The cost of one request (0: not counted). */
typedef unsigned (*api_rate_cost_fn)(api_req *req, void *user_data);

/** A clock in milliseconds, for tests (any origin; it must not go backwards). */
typedef unsigned long long (*api_rate_clock_fn)(void *user_data);

/** What a limiter keys on: a bit set; parts are combined. 0 means API_RATE_KEY_ADDR. */
enum {
  API_RATE_KEY_ADDR = 1 << 0,   /**< api_req_client_addr(), grouped by ipv4_prefix/ipv6_prefix */
  API_RATE_KEY_HEADER = 1 << 1, /**< the SHA-256 of key_header's value (addr when absent) */
  API_RATE_KEY_USER = 1 << 2,   /**< what key_fn writes */
  API_RATE_KEY_ROUTE = 1 << 3,  /**< api_req_route() (the method too), per route, not per path */
};

/** When a limiter counts. */
typedef enum api_rate_phase {
  API_RATE_ON_REQUEST = 0,  /**< on_request: before anything else is spent on the request */
  API_RATE_PRE_HANDLER = 1, /**< pre_handler: after authentication, for per-user keys */
} api_rate_phase;

/** Options of api_mw_rate_limit(). Zero members take the defaults. */
typedef struct api_rate_limit_options {
  size_t size;              /**< sizeof(api_rate_limit_options), set by API_RATE_LIMIT_OPTIONS */
  api_rate_algo algorithm;  /**< default API_RATE_TOKEN_BUCKET */
  unsigned long long limit; /**< per window: default 100, at most 1e9 */
  unsigned long long window_ms; /**< default 60000, at most 1e9 (11.5 days) */
  unsigned long long burst;     /**< token bucket capacity: default limit, at most 1e9 */
  unsigned key_by;              /**< API_RATE_KEY_* bits; 0: API_RATE_KEY_ADDR */
  const char *key_header;       /**< for API_RATE_KEY_HEADER, e.g. "X-API-Key" (copied) */
  api_rate_key_fn key_fn;       /**< for API_RATE_KEY_USER (required with it) */
  void *key_user_data;          /**< passed to key_fn */
  unsigned ipv4_prefix;     /**< IPv4 clients grouped by this prefix length: 1..32, default 32 */
  unsigned ipv6_prefix;     /**< IPv6 clients grouped by this prefix length: 1..128, default 128
                                 (64 groups a typical customer's whole /64) */
  const char *const *allow; /**< NULL-terminated addresses or CIDR ranges never limited
                                 ("10.0.0.0/8", "::1"); copied */
  api_rate_skip_fn skip;    /**< nonzero: the request is not limited */
  void *skip_user_data;     /**< passed to skip */
  unsigned cost;            /**< units per request: default 1 */
  api_rate_cost_fn cost_fn; /**< the cost per request instead of cost */
  void *cost_user_data;     /**< passed to cost_fn */
  api_rate_store *store;    /**< borrowed (must outlive the app); NULL: an in-memory store of
                                 the limiter's own, sized by max_keys */
  size_t max_keys;          /**< for the limiter's own store: default 100000 */
  const char *name;         /**< prefix of every key, to share one store between limiters */
  api_rate_phase phase;     /**< default API_RATE_ON_REQUEST */
  int fail_closed;          /**< a store error answers 503 instead of letting the request in */
  api_rate_clock_fn now_ms; /**< the clock; default CLOCK_MONOTONIC */
  void *clock_user_data;    /**< passed to now_ms */
} api_rate_limit_options;

#define API_RATE_LIMIT_OPTIONS(...) \
  (&(const api_rate_limit_options){.size = sizeof(api_rate_limit_options), __VA_ARGS__})

/**
 * Build a rate-limiting middleware. Register *out with api_app_use(), api_group_use() or a
 * route's .middleware; one limiter registered in several places shares its counters.
 *
 * A request over its limit is answered 429 (API_ERATELIMIT) with the standard error body and
 * Retry-After (whole seconds, at least 1); the handler is not run. Responses of requests the
 * limiter counted carry RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (whole seconds)
 * and RateLimit-Policy ("100;w=60"), errors included; with several limiters, the fields of the
 * one with the least remaining win. Requests that were skipped carry none.
 *
 * app: the app whose lifetime the state follows. opts: may be NULL (100 per minute per client
 * address, token bucket). Returns 0; API_EINVAL naming the bad option in api_last_error(); or
 * API_ENOMEM.
 * Ownership: strings and lists in opts are copied; opts->store is borrowed; the state is freed
 * by api_app_free().
 * Thread: configuration thread. The state is read-only once the server starts; the counters live
 * in the store, which synchronises itself (the in-memory store: a mutex per shard).
 */
LIBAPI_EXTERN int api_mw_rate_limit(api_app *app, const api_rate_limit_options *opts,
                                    api_middleware *out);

#ifdef __cplusplus
}
#endif
#endif
