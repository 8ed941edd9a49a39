/*
 * libapi/test.h: the in-process test client — send requests to an app and inspect the responses,
 * without a network port (like Fastify's inject).
 *
 * Requests go through the whole server: the HTTP parser and its limits, routing, every hook, the
 * handler, async completion and the response writer. api_test_new() starts the app on one worker
 * thread that listens on nothing; each request travels over a private socket pair, so handlers,
 * hooks and the test run on different threads (record what a hook saw, assert in the test).
 *
 *   api_test *t;
 *   api_test_new(&t, app);
 *   api_test_res *r;
 *   api_test_get(t, "/users/42", &r);
 *   cr_assert_eq(api_test_res_status(r), 200);
 *   json_t *body = api_test_res_json(r);
 *   api_test_res_free(r);
 *   api_test_free(t);
 *
 * Thread: one api_test is used by one thread at a time.
 */
#ifndef LIBAPI_TEST_H
#define LIBAPI_TEST_H

#include <jansson.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct api_test api_test;         /**< A running app under test. */
typedef struct api_test_res api_test_res; /**< One received response. */

/**
 * Start app for testing (it is frozen, as with api_server_start()).
 * Ownership: *out is the caller's, free it with api_test_free() before api_app_free(app).
 * Returns 0, or the error api_server_start() would give (API_ESTATE for an app with a route
 * conflict or one that is already running).
 */
LIBAPI_EXTERN int api_test_new(api_test **out, api_app *app);
/** Stop the app (gracefully: suspended requests are waited for) and free t. NULL-safe. */
LIBAPI_EXTERN void api_test_free(api_test *t);

/** A request. Build it with API_TEST_REQ(.method = "POST", .target = "/users", .json = "{}"). */
typedef struct api_test_req {
  size_t size;                /**< sizeof(api_test_req), set by API_TEST_REQ */
  const char *method;         /**< default "GET" */
  const char *target;         /**< path and query, "/users?limit=5"; default "/" */
  const char *const *headers; /**< "Name: value" strings, NULL-terminated; Host is added */
  const void *body;           /**< sent with a Content-Length */
  size_t body_len;            /**< 0 with a body: strlen(body) */
  const char *json;           /**< a body sent with Content-Type: application/json */
  const char *client_addr;    /**< the peer address the server sees; default "127.0.0.1" */
  const char *raw;            /**< send exactly these bytes instead (malformed requests) */
  size_t raw_len;             /**< 0 with raw: strlen(raw) */
  unsigned timeout_ms;        /**< how long to wait for the response; default 10000 */
} api_test_req;

#define API_TEST_REQ(...) (&(const api_test_req){.size = sizeof(api_test_req), __VA_ARGS__})

/**
 * Send a request and wait for its response.
 * Ownership: *out is the caller's; free it with api_test_res_free().
 * Returns 0; API_ETIMEOUT when no complete response came in time; API_ESYS when the server closed
 * the connection without answering; API_EBADREQ when the response is not valid HTTP/1.1;
 * API_ENOMEM.
 */
LIBAPI_EXTERN int api_test_request(api_test *t, const api_test_req *req, api_test_res **out);
/** api_test_request() for a GET of target. */
LIBAPI_EXTERN int api_test_get(api_test *t, const char *target, api_test_res **out);

/** The response's status code. */
LIBAPI_EXTERN int api_test_res_status(const api_test_res *res);
/** The first value of header name (case-insensitive), or NULL. Borrowed, as long as res. */
LIBAPI_EXTERN const char *api_test_res_header(const api_test_res *res, const char *name);
/** The idx-th (from 0) value of header name, or NULL. */
LIBAPI_EXTERN const char *api_test_res_header_n(const api_test_res *res, const char *name,
                                                size_t idx);
/** The body (NUL-terminated; binary bodies may contain NULs), *len (if not NULL) its length. */
LIBAPI_EXTERN const char *api_test_res_body(const api_test_res *res, size_t *len);
/** The body parsed as JSON, or NULL when it is not JSON. Borrowed, as long as res. */
LIBAPI_EXTERN json_t *api_test_res_json(api_test_res *res);
/** The status line, headers and body exactly as received. */
LIBAPI_EXTERN const char *api_test_res_raw(const api_test_res *res, size_t *len);
/** Free a response. NULL-safe. */
LIBAPI_EXTERN void api_test_res_free(api_test_res *res);

#ifdef __cplusplus
}
#endif
#endif
