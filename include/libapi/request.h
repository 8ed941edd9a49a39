/*
 * libapi/request.h: the request as a handler sees it, and asynchronous completion.
 *
 * Thread: a request belongs to its worker thread; call these from the handler or hook that received
 * it. While a request is suspended (API_ASYNC) the worker does not touch it, so the thread that
 * will complete it may use it, until it calls api_req_resume(). Ownership: every string and pointer
 * returned here is borrowed and valid until the response has been sent (the request's memory is
 * released then), unless said otherwise. Strings are NUL-terminated; names are matched
 * case-insensitively for headers, exactly for everything else.
 */
#ifndef LIBAPI_REQUEST_H
#define LIBAPI_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The method, as sent ("GET"). */
LIBAPI_EXTERN const char *api_req_method(const api_req *req);
/** The path part of the request target, still percent-encoded ("/users/a%20b"). */
LIBAPI_EXTERN const char *api_req_path(const api_req *req);
/** The raw query string without the '?', or "" when there is none. */
LIBAPI_EXTERN const char *api_req_query_string(const api_req *req);
/** The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
LIBAPI_EXTERN int api_req_http_minor(const api_req *req);
/** The route pattern that matched ("/users/:id"), or NULL when none did. */
LIBAPI_EXTERN const char *api_req_route(const api_req *req);

/**
 * The value of the first header field called name, or NULL. Values have surrounding whitespace
 * removed. Fields that appear several times are kept apart: see api_req_header_n().
 */
LIBAPI_EXTERN const char *api_req_header(const api_req *req, const char *name);
/** The idx-th (from 0) field called name, or NULL past the last. */
LIBAPI_EXTERN const char *api_req_header_n(const api_req *req, const char *name, size_t idx);
/** The number of header fields. */
LIBAPI_EXTERN size_t api_req_header_count(const api_req *req);
/** The idx-th header field in arrival order; returns 0, or API_EINVAL past the last. */
LIBAPI_EXTERN int api_req_header_at(const api_req *req, size_t idx, const char **name,
                                    const char **value);

/** The percent-decoded value of path parameter name (":name" in the route), or NULL. */
LIBAPI_EXTERN const char *api_req_param(const api_req *req, const char *name);

/**
 * The first value of query parameter key, decoded ('+' is a space, %XX a byte), or NULL.
 * "?a" and "?a=" both give "". The query string is parsed before the handler runs; a malformed
 * one (a bad %-escape, %00, or more than 1000 pairs) is answered 400 without calling the handler.
 */
LIBAPI_EXTERN const char *api_req_query(const api_req *req, const char *key);
/** The idx-th (from 0) value of a repeated query parameter ("?tag=a&tag=b"), or NULL. */
LIBAPI_EXTERN const char *api_req_query_n(const api_req *req, const char *key, size_t idx);

/** The value of the cookie called name from the Cookie header(s), or NULL. */
LIBAPI_EXTERN const char *api_req_cookie(const api_req *req, const char *name);

/**
 * The client's address as text ("127.0.0.1", "::1"): the TCP peer, or, when the peer is one of
 * api_config.trusted_proxies, the address the proxies forwarded (Forwarded, else X-Forwarded-For,
 * read from the right while the hops are trusted; a malformed entry stops the walk).
 */
LIBAPI_EXTERN const char *api_req_client_addr(const api_req *req);
/** The TCP peer's address, whatever the forwarding headers say. */
LIBAPI_EXTERN const char *api_req_peer_addr(const api_req *req);
/** The client's TCP port. */
LIBAPI_EXTERN int api_req_client_port(const api_req *req);

/**
 * The request body (Content-Length or de-chunked), NUL-terminated for convenience; *len (if not
 * NULL) gets its length without the NUL. An empty body gives "" and 0.
 */
LIBAPI_EXTERN const char *api_req_body(const api_req *req, size_t *len);

/**
 * The body parsed as JSON, parsed once on first call.
 * Returns 0 and *out (borrowed; valid until the response is sent); API_EMEDIATYPE (415) when the
 * Content-Type is not application/json or application/<x>+json; API_EBADJSON (400) when the body
 * is not valid JSON (including duplicate object keys; the rules are in docs/validation.md).
 * Returning that error from the handler gives the client a message naming the line and column.
 * API_ENOMEM (503) when memory ran out while parsing.
 */
LIBAPI_EXTERN int api_req_json(api_req *req, json_t **out);

/**
 * The path parameters coerced and validated against the route's params_schema: a JSON object
 * such as {"id": 42}. NULL when the route has no params_schema.
 * Ownership: borrowed; valid until the response is sent. Do not modify it.
 */
LIBAPI_EXTERN json_t *api_req_params_json(const api_req *req);
/** The query coerced and validated against the route's query_schema ({"limit": 10, "tags":
 * ["a","b"]}), or NULL without one. As api_req_params_json(). */
LIBAPI_EXTERN json_t *api_req_query_json(const api_req *req);
/** The headers named by the route's headers_schema, coerced and validated, keyed by the schema's
 * property names, or NULL without one. As api_req_params_json(). */
LIBAPI_EXTERN json_t *api_req_headers_json(const api_req *req);

/**
 * The request id: generated when first asked for, and used in error bodies.
 */
LIBAPI_EXTERN const char *api_req_id(api_req *req);

/**
 * Name the authenticated user of this request (copied), for logs, the access log and per-user rate
 * limits; authentication middleware calls it. Returns 0 or API_ENOMEM.
 */
LIBAPI_EXTERN int api_req_set_user(api_req *req, const char *user);
/** The user named by api_req_set_user(), or NULL. */
LIBAPI_EXTERN const char *api_req_user(const api_req *req);

/**
 * Attach value to the request under key — the address of something of the caller's, e.g. a static
 * variable, so keys of different modules never collide. Setting a key again replaces its value.
 * For state a middleware passes from one hook to a later one, or to the handler.
 * Returns 0 or API_ENOMEM. Thread: the request's.
 */
LIBAPI_EXTERN int api_req_set_local(api_req *req, const void *key, void *value);
/** The value attached under key, or NULL. */
LIBAPI_EXTERN void *api_req_local(const api_req *req, const void *key);

/**
 * Allocate size bytes that live as long as the request (aligned for any type). NULL if out of
 * memory. Thread: the worker, or the thread holding a suspended request.
 */
LIBAPI_EXTERN void *api_req_alloc(api_req *req, size_t size);
/** Copy a string into request memory. */
LIBAPI_EXTERN char *api_req_strdup(api_req *req, const char *s);

/** A cleanup, called with user_data when the request is released. */
typedef void (*api_cleanup_fn)(void *user_data);
/** Register a cleanup; they run in reverse order of registration. Returns 0 or API_ENOMEM. */
LIBAPI_EXTERN int api_req_on_free(api_req *req, api_cleanup_fn fn, void *user_data);

/**
 * Complete a suspended request: the response built on its api_res is sent by its worker.
 * Thread: any thread; call exactly once per API_ASYNC, after which the caller must not touch the
 * request again. Returns 0.
 */
LIBAPI_EXTERN int api_req_resume(api_req *req);

/** Blocking work for the offload pool. Thread: an offload pool thread. */
typedef void (*api_work_fn)(void *user_data);
/**
 * What runs on the request's worker after the work: it builds the response and returns like a
 * handler (API_NEXT, API_ASYNC to suspend again, or an error).
 */
typedef int (*api_after_work_fn)(api_req *req, api_res *res, void *user_data);

/**
 * Run work(user_data) on the offload thread pool, then after(req, res, user_data) on the request's
 * worker. Meant to be returned from a handler: `return api_offload(req, work, after, ctx);`.
 * Returns API_ASYNC when queued; API_EINVAL when work or after is NULL, API_EUNAVAILABLE when the
 * server is stopping (then neither callback is called).
 */
LIBAPI_EXTERN int api_offload(api_req *req, api_work_fn work, api_after_work_fn after,
                              void *user_data);

#ifdef __cplusplus
}
#endif
#endif
