/*
 * libapi/router.h: routes and route groups.
 *
 * Routes live in a radix tree built at registration and frozen when the server starts; lookups
 * are lock-free. A request that matches no route gets 404; one whose path matches but not its
 * method gets 405 with an Allow header. GET routes answer HEAD too (the body is not sent), and
 * every path answers OPTIONS with 204 and Allow, unless a route registers those methods itself.
 * "OPTIONS *" answers 204 with every method the app routes.
 */
#ifndef LIBAPI_ROUTER_H
#define LIBAPI_ROUTER_H

#include "common.h"
#include "middleware.h"
#include "schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A route handler. It builds the response on res and returns API_NEXT (0), or returns API_ASYNC
 * after arranging for the request to be completed later (api_offload(), api_req_resume()), or a
 * negative api_err, which becomes that error's status with the JSON error body (500-class errors
 * never show their internals).
 * Thread: runs on the request's worker thread; must not block.
 */
typedef int (*api_handler_fn)(api_req *req, api_res *res, void *user_data);

/**
 * One documented response of a route (api_route.responses), for the OpenAPI document only: it
 * does not change what the route answers.
 */
typedef struct api_response_doc {
  int status;               /**< 100..599; 0 ends the array */
  const char *description;  /**< NULL: the status's reason phrase */
  const api_schema *schema; /**< its JSON body (borrowed, must outlive the app); NULL: none */
} api_response_doc;

/**
 * A route descriptor. Build it with API_ROUTE(.method = "GET", .path = "/users/:id", .handler = h);
 * members left zero take their defaults, and members are only ever added at the end.
 *
 * Path patterns: segments are separated by '/'; a segment ":name" matches one non-empty segment
 * and captures it (percent-decoded) as a path parameter; a final segment "*name" matches the rest
 * of the path, possibly empty. A static segment beats a parameter, which beats a wildcard.
 * Trailing slashes are significant: "/users" and "/users/" are different routes.
 */
typedef struct api_route {
  size_t size;            /**< sizeof(api_route), set by API_ROUTE */
  const char *method;     /**< "GET", "POST", ... (a token; upper case by convention) */
  const char *path;       /**< the pattern, starting with '/' */
  api_handler_fn handler; /**< required */
  void *user_data;        /**< passed to the handler */
  const char *summary;    /**< one line for the OpenAPI document (optional) */
  /** Middleware for this route only, after the app's and the groups': a NULL-terminated array,
   * e.g. `.middleware = (const api_middleware *[]){&auth, NULL}` (the structs are copied). */
  const api_middleware *const *middleware;
  /** Largest request body for this route, bytes (a larger one is a 413 before it is read);
   * 0: the app's max_body. May be larger than the app's. */
  unsigned long long max_body;
  /**
   * How long the request may stay suspended (API_ASYNC) in its hooks and handler, from the end of
   * its body, in milliseconds; 0: no limit. When it runs out the client gets 504 with the JSON
   * error body and the connection closes; the suspended work still completes (its after callback
   * runs, its response is dropped). A handler that does not suspend cannot be interrupted.
   */
  unsigned timeout_ms;
  /**
   * Schemas (see libapi/schema.h and docs/validation.md, "Schemas on routes"). Compiled schemas,
   * borrowed: they must outlive the app (one schema may serve many routes). NULL: that part is not
   * validated. Before the pre_handler hooks (so before auth guards) the path parameters, the query
   * and the headers are coerced from strings to what each property's subschema asks for
   * (api_schema_coerce()), gathered into one JSON object per part and validated; the body is
   * parsed with api_req_json() (415/400 as there) and validated. Every violation, up to 100, is
   * reported at once: 422 with details whose paths start with "/params", "/query", "/headers" or
   * "/body". params_schema, query_schema and headers_schema must describe objects (their "type",
   * when present, allows "object"); params_schema may only require the route's own parameters.
   * A schema that breaks these rules fails at registration (API_EINVAL naming the route and the
   * JSON Pointer of the keyword).
   */
  const api_schema *params_schema;
  const api_schema *query_schema;   /**< repeated keys give arrays ("?tag=a&tag=b") */
  const api_schema *headers_schema; /**< property names match header names case-insensitively */
  const api_schema *body_schema;    /**< the JSON body */
  /** The 2xx responses' JSON body, checked only when api_config.validate_responses (or
   * API_VALIDATE_RESPONSES=1) is on: a violation becomes a 500 and is logged. */
  const api_schema *response_schema;
  unsigned schema_flags; /**< API_ROUTE_* flags below */
  /* ---- The OpenAPI document (libapi/openapi.h, docs/openapi.md); all optional, all copied. ----
   */
  const char *description;  /**< longer text (CommonMark) for the operation */
  const char *operation_id; /**< unique among the app's routes; default: made from the method and
                                 the path ("getUsersById" for GET /users/:id) */
  const char *const *tags;  /**< NULL-terminated tag names, e.g. (const char *[]){"users", NULL} */
  int deprecated;           /**< non-zero: marked deprecated (the route still works) */
  int hidden;               /**< non-zero: left out of the document (the route still works) */
  /** Documented responses, ended by an entry with status 0. The first 2xx entry replaces the
   * default success response (200); its schema defaults to response_schema. */
  const api_response_doc *responses;
} api_route;

/** api_route.schema_flags: insert the "default" of missing properties (api_schema_apply_defaults())
 * into the body, and into the params, query and headers objects, before validating them. */
#define API_ROUTE_APPLY_DEFAULTS 1u

#define API_ROUTE(...) (&(const api_route){.size = sizeof(api_route), __VA_ARGS__})

/**
 * Register a route. The descriptor and its strings are copied.
 * Returns 0; API_EINVAL for a malformed pattern, method or missing handler; API_EEXIST for a route
 * with the same method and the same shape as an earlier one ("/users/:id" and "/users/:name" have
 * the same shape); API_ESTATE once a server has been started for the app (even after it stopped).
 * api_last_error() names the route.
 */
LIBAPI_EXTERN int api_app_route(api_app *app, const api_route *route);

/** Shorthands for api_app_route() with only a method, path, handler and user data. */
LIBAPI_EXTERN int api_app_get(api_app *app, const char *path, api_handler_fn h, void *user_data);
LIBAPI_EXTERN int api_app_post(api_app *app, const char *path, api_handler_fn h, void *user_data);
LIBAPI_EXTERN int api_app_put(api_app *app, const char *path, api_handler_fn h, void *user_data);
LIBAPI_EXTERN int api_app_patch(api_app *app, const char *path, api_handler_fn h, void *user_data);
LIBAPI_EXTERN int api_app_delete(api_app *app, const char *path, api_handler_fn h, void *user_data);

/**
 * Create a route group: every route registered on it gets prefix in front of its path (the prefix
 * starts with '/' and does not end with one, e.g. "/api/v1"). Middleware registered on a group
 * applies to its routes only.
 * Ownership: *out is owned by the app and freed with it.
 */
LIBAPI_EXTERN int api_app_group(api_app *app, const char *prefix, api_group **out);
/** A group nested in another; its prefix is appended to the parent's. */
LIBAPI_EXTERN int api_group_group(api_group *parent, const char *prefix, api_group **out);
/** Register a route in a group (see api_app_route()). */
LIBAPI_EXTERN int api_group_route(api_group *group, const api_route *route);

#ifdef __cplusplus
}
#endif
#endif
