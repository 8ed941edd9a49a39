/*
 * libapi/openapi.h: the OpenAPI 3.1 document generated from the app's routes, and a /docs page
 * that renders it in a browser (docs/openapi.md).
 *
 * The document is built from the route descriptors (api_route: method, path, summary,
 * description, operation_id, tags, deprecated, hidden, responses and the schemas), from the
 * middleware each route runs (security schemes and scopes, api_middleware.security) and from the
 * security schemes registered on the app. With api_app_openapi() it is generated once, when the
 * server starts, and served as a pre-built body: routes cannot change afterwards, so neither can
 * the document.
 */
#ifndef LIBAPI_OPENAPI_H
#define LIBAPI_OPENAPI_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of api_app_openapi(); build with API_OPENAPI_OPTIONS(.title = "Todo API"). */
typedef struct api_openapi_options {
  size_t size;                /**< sizeof(api_openapi_options), set by API_OPENAPI_OPTIONS */
  const char *title;          /**< info.title; default "API" */
  const char *version;        /**< info.version (the API's, not OpenAPI's); default "0.0.0" */
  const char *description;    /**< info.description (CommonMark); NULL: none */
  const char *const *servers; /**< NULL-terminated server URLs ("https://api.example.com/v1");
                                   NULL: none (clients use the document's own origin) */
  const char *path;           /**< where the JSON document is served; default "/openapi.json" */
  const char *docs_path;      /**< where the HTML page is served; default "/docs"; "" for no page */
} api_openapi_options;

#define API_OPENAPI_OPTIONS(...) \
  (&(const api_openapi_options){.size = sizeof(api_openapi_options), __VA_ARGS__})

/**
 * Serve the app's OpenAPI 3.1 document at opts->path and, unless docs_path is "", an HTML page
 * at docs_path that renders it (self-contained: no script, style or font from elsewhere; its
 * Content-Security-Policy allows only its own inline script and style, by hash, and fetches to the
 * same origin). Both are GET routes (HEAD too) left out of the document. The document is
 * generated when the server starts, from the routes registered by then, and answered with an
 * ETag (If-None-Match gives 304) and Cache-Control: no-cache. opts may be NULL (all defaults).
 * Returns 0; API_EINVAL (bad size, a path that is not a route pattern without parameters, an
 * empty title or version, a second call); API_EEXIST (a route already uses one of the paths);
 * API_ESTATE once a server has started for the app; API_ENOMEM. An error found while generating
 * (two routes with one operation_id, two paths that differ only in parameter names, such as
 * "/users/:id" and "/users/:name") makes api_server_start() fail with API_EINVAL.
 * Ownership: options are copied. Thread: configuration thread, before the server starts.
 */
LIBAPI_EXTERN int api_app_openapi(api_app *app, const api_openapi_options *opts);

/**
 * Generate the document now, from the routes registered so far, as compact JSON text (the body
 * api_app_openapi() serves, once the app is frozen). Works with or without api_app_openapi()
 * (then with the default options). Returns 0; API_EINVAL (see api_app_openapi(), named in
 * api_last_error()); API_ENOMEM.
 * Ownership: *out is the caller's, free it with free(). Thread: not while routes are being added.
 */
LIBAPI_EXTERN int api_app_openapi_json(api_app *app, char **out);

/**
 * Register a security scheme under components.securitySchemes. name: [A-Za-z0-9._-]+.
 * scheme_json: an OpenAPI Security Scheme Object as JSON text whose "type" is "apiKey", "http",
 * "mutualTLS", "oauth2" or "openIdConnect", e.g. {"type":"http","scheme":"basic"}. Routes list it
 * when their middleware names it (api_middleware.security). The authentication built-ins register
 * their own (api_mw_jwt(): "bearerAuth"; api_mw_api_key(): "apiKeyAuth"; api_mw_session():
 * "sessionCookie"; a second, different one of a kind gets "2", "3", ... appended).
 * Returns 0 (also when the same name is registered again with an equal scheme); API_EEXIST (that
 * name with a different scheme); API_EINVAL (bad name, JSON or type); API_ESTATE once a server
 * has started for the app; API_ENOMEM.
 * Ownership: both strings are copied. Thread: configuration thread, before the server starts.
 */
LIBAPI_EXTERN int api_app_security_scheme(api_app *app, const char *name, const char *scheme_json);

#ifdef __cplusplus
}
#endif
#endif
