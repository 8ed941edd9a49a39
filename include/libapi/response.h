/*
 * libapi/response.h: building the response.
 *
 * A handler sets a status, headers and a body on its api_res; the framework adds Date,
 * Content-Length and Connection and writes it all in one go. Bodies are copied into request memory
 * unless said otherwise. Thread and lifetime rules are those of the request (libapi/request.h).
 *
 * JSON bodies follow one shape: success is {"data": ..., "meta": ...} (api_res_data()), errors are
 * {"error": {"code", "message", "details"}, "request_id"} (api_res_error()).
 */
#ifndef LIBAPI_RESPONSE_H
#define LIBAPI_RESPONSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Set the status code: 200..599 (1xx are not final responses); the default is 200. Returns
 * API_EINVAL for anything else. */
LIBAPI_EXTERN int api_res_status(api_res *res, int status);

/**
 * Set a header, replacing every earlier field of that name. Name and value are copied. Returns
 * API_EINVAL for a name that is not an HTTP token or a value with CR, LF or NUL (no header
 * injection), or for a header the framework owns (Content-Length, Transfer-Encoding, Connection,
 * Date).
 */
LIBAPI_EXTERN int api_res_header(api_res *res, const char *name, const char *value);
/** Add a header field, keeping earlier ones of the same name. Same rules as api_res_header(). */
LIBAPI_EXTERN int api_res_header_add(api_res *res, const char *name, const char *value);

/** SameSite attribute of a cookie. */
typedef enum api_samesite {
  API_SAMESITE_DEFAULT = 0, /**< not sent */
  API_SAMESITE_LAX,
  API_SAMESITE_STRICT,
  API_SAMESITE_NONE, /**< requires secure */
} api_samesite;

/** Set-Cookie attributes; zero means "not sent". */
typedef struct api_cookie_opts {
  const char *path;
  const char *domain;
  long long max_age; /**< seconds; sent when non-zero; negative sends Max-Age=0 (delete) */
  long long expires; /**< Unix time; sent when non-zero */
  int http_only;
  int secure;
  api_samesite same_site;
} api_cookie_opts;

/**
 * Add a Set-Cookie field. opts may be NULL. Returns API_EINVAL for a name that is not a token, a
 * value with characters RFC 6265 forbids (use base64url or percent-encoding for arbitrary data),
 * a path or domain with ';', controls or non-ASCII bytes, SameSite=None without secure, or a
 * "__Secure-" / "__Host-" name whose attributes break the rules browsers enforce for them.
 */
LIBAPI_EXTERN int api_res_cookie(api_res *res, const char *name, const char *value,
                                 const api_cookie_opts *opts);

/** Set the body to a copy of data, and the Content-Type unless content_type is NULL (then the one
 * set before, if any, stays). */
LIBAPI_EXTERN int api_res_body(api_res *res, const char *content_type, const void *data,
                               size_t len);
/**
 * Set the body without copying: data must stay valid and unchanged until the response is sent
 * (static data, or request memory).
 */
LIBAPI_EXTERN int api_res_body_ref(api_res *res, const char *content_type, const void *data,
                                   size_t len);
/** Status and a text/plain; charset=utf-8 body. */
LIBAPI_EXTERN int api_res_text(api_res *res, int status, const char *text);

/** Status and value serialized as compact JSON (application/json). value is borrowed. */
LIBAPI_EXTERN int api_res_json(api_res *res, int status, const json_t *value);
/**
 * As api_res_json(), but steals the reference to value. A NULL value is taken for a constructor
 * that ran out of memory (`api_res_json_new(res, 200, json_pack(...))`): returns API_ENOMEM, which
 * answers 503 when the handler returns it.
 */
LIBAPI_EXTERN int api_res_json_new(api_res *res, int status, json_t *value);

/**
 * The success envelope {"data": data, "meta": meta}; meta may be NULL (then omitted). Steals both
 * references; a NULL data is taken for a failed constructor and returns API_ENOMEM.
 */
LIBAPI_EXTERN int api_res_data(api_res *res, int status, json_t *data, json_t *meta);

/**
 * The error body {"error": {"code", "message", "details"}, "request_id"}. code NULL takes the
 * standard code for status; details (stolen, may be NULL) is omitted when NULL.
 */
LIBAPI_EXTERN int api_res_error(api_res *res, int status, const char *code, const char *message,
                                json_t *details);

struct api_schema_result;
/**
 * Answer 422 VALIDATION_FAILED with result's violations as details, in the shape the pipeline
 * uses for route schemas: each path prefixed by where ("/body/items/0"; NULL means ""). For a
 * handler that validates something itself with api_schema_validate(). The message says when the
 * result was truncated. Returns 0 (return API_NEXT from the handler), API_EINVAL (NULL result),
 * API_ENOMEM. Ownership: result is only read.
 */
LIBAPI_EXTERN int api_res_validation_error(api_res *res, const struct api_schema_result *result,
                                           const char *where);

/** The status set so far (200 if none). */
LIBAPI_EXTERN int api_res_get_status(const api_res *res);
/** The first value set for header name, or NULL. */
LIBAPI_EXTERN const char *api_res_get_header(const api_res *res, const char *name);
/** The body set so far; *len gets its length. */
LIBAPI_EXTERN const void *api_res_get_body(const api_res *res, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
