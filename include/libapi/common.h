/*
 * libapi/common.h: what every libapi header shares — the export macro, version checks, the error
 * codes and the opaque handle types.
 *
 * Errors: every function that can fail returns an int, 0 on success and a negative api_err on
 * failure. Each error carries the HTTP status and the wire code ("NOT_FOUND") it becomes when a
 * handler returns it, so `return API_EFORBIDDEN;` from a handler answers 403 with the JSON error
 * body. A failing call may leave a longer message for the calling thread in api_last_error().
 */
#ifndef LIBAPI_COMMON_H
#define LIBAPI_COMMON_H

#include <stddef.h>

#include <libapi/version.h>

#if defined(LIBAPI_BUILDING) && defined(__GNUC__)
#define LIBAPI_EXTERN __attribute__((visibility("default")))
#else
#define LIBAPI_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The error table: X(NAME, value, HTTP status, wire code, message). Values are stable ABI.
 */
#define API_ERR_MAP(X)                                                              \
  X(ENOMEM, -1, 503, "UNAVAILABLE", "out of memory")                                \
  X(EINVAL, -2, 500, "INTERNAL", "invalid argument")                                \
  X(EEXIST, -3, 500, "INTERNAL", "already exists")                                  \
  X(ESTATE, -4, 500, "INTERNAL", "not allowed in this state")                       \
  X(ESYS, -5, 500, "INTERNAL", "system call failed")                                \
  X(EINTERNAL, -6, 500, "INTERNAL", "internal server error")                        \
  X(EBADREQ, -7, 400, "BAD_REQUEST", "malformed request")                           \
  X(EBADJSON, -8, 400, "BAD_REQUEST", "malformed JSON")                             \
  X(EUNAUTHORIZED, -9, 401, "UNAUTHORIZED", "authentication required")              \
  X(EFORBIDDEN, -10, 403, "FORBIDDEN", "forbidden")                                 \
  X(ENOTFOUND, -11, 404, "NOT_FOUND", "not found")                                  \
  X(EMETHOD, -12, 405, "METHOD_NOT_ALLOWED", "method not allowed")                  \
  X(ETIMEOUT, -13, 408, "REQUEST_TIMEOUT", "request timed out")                     \
  X(ECONFLICT, -14, 409, "CONFLICT", "conflict")                                    \
  X(EBODYTOOLARGE, -15, 413, "PAYLOAD_TOO_LARGE", "request body too large")         \
  X(EURITOOLONG, -16, 414, "URI_TOO_LONG", "request URI too long")                  \
  X(EMEDIATYPE, -17, 415, "UNSUPPORTED_MEDIA_TYPE", "unsupported media type")       \
  X(EVALIDATION, -18, 422, "VALIDATION_FAILED", "validation failed")                \
  X(ERATELIMIT, -19, 429, "RATE_LIMITED", "too many requests")                      \
  X(EHDRTOOLARGE, -20, 431, "HEADERS_TOO_LARGE", "request header fields too large") \
  X(ENOTIMPL, -21, 501, "NOT_IMPLEMENTED", "not implemented")                       \
  X(EUNAVAILABLE, -22, 503, "UNAVAILABLE", "service unavailable")                   \
  X(EVERSION, -23, 505, "HTTP_VERSION_NOT_SUPPORTED", "HTTP version not supported") \
  X(EGATEWAYTIMEOUT, -24, 504, "TIMEOUT", "handler timed out")

/** Error codes: 0 is success, each error is negative. */
typedef enum api_err {
  API_OK = 0,
#define API__ERR_ENUM(name, value, status, code, msg) API_##name = value,
  API_ERR_MAP(API__ERR_ENUM)
#undef API__ERR_ENUM
} api_err;

/** A static English message for err ("unknown error" for values outside the table). */
LIBAPI_EXTERN const char *api_strerror(int err);
/** The enum's name without the prefix, e.g. "ENOTFOUND"; "UNKNOWN" for values outside the table. */
LIBAPI_EXTERN const char *api_err_name(int err);
/** The wire code used in JSON error bodies, e.g. "NOT_FOUND"; "INTERNAL" outside the table. */
LIBAPI_EXTERN const char *api_err_code(int err);
/** The HTTP status an error becomes when a handler returns it; 500 outside the table. */
LIBAPI_EXTERN int api_err_status(int err);

/**
 * The message left by the last failing libapi call on this thread, or "" if none.
 * Ownership: borrowed; valid until the next libapi call on this thread. Thread: per thread.
 */
LIBAPI_EXTERN const char *api_last_error(void);

/** The version of the library actually linked, e.g. "0.1.0" (compare with LIBAPI_VERSION_STRING).
 */
LIBAPI_EXTERN const char *api_version(void);
/** The linked library's LIBAPI_VERSION_HEX. */
LIBAPI_EXTERN unsigned api_version_hex(void);

/** What a handler or a hook tells the pipeline. Negative values are api_err errors. */
enum {
  API_NEXT = 0,  /**< hooks: go on; handlers: the response on res is complete, send it */
  API_DONE = 1,  /**< hooks: the hook answered the request, skip to sending */
  API_ASYNC = 2, /**< the request is suspended; api_req_resume() or an offload job ends it */
};

/* Opaque handles, shared by the module headers. */
typedef struct api_app api_app;       /**< An application: routes, middleware and configuration. */
typedef struct api_group api_group;   /**< A route group with a common prefix; owned by its app. */
typedef struct api_req api_req;       /**< One request; belongs to its worker thread. */
typedef struct api_res api_res;       /**< The response being built for one request. */
typedef struct api_server api_server; /**< A running server for an app. */

#ifdef __cplusplus
}
#endif
#endif
