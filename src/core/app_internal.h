/* The app as the rest of the library sees it. Frozen (read-only) once its server starts. */
#ifndef API_CORE_APP_INTERNAL_H
#define API_CORE_APP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "libapi/app.h"
#include "libapi/middleware.h"
#include "libapi/router.h"
#include "router/router.h"

/* The hook phases, in the order a request meets them. */
enum {
  API__H_ON_REQUEST,
  API__H_PRE_HANDLER,
  API__H_ON_ERROR,
  API__H_ON_SEND,
  API__H_ON_RESPONSE,
  API__H_COUNT
};

typedef struct api__hook {
  api_hook_fn fn;
  void *user_data;
} api__hook;

/* The hooks a request runs, per phase, flattened at freeze time (app, groups, route). */
typedef struct api__chain {
  api__hook *hooks[API__H_COUNT];
  unsigned n[API__H_COUNT];
} api__chain;

/* A registration list of middleware, in order. */
typedef struct api__mw {
  api_middleware desc;
  struct api__mw *next;
} api__mw;

struct api_group {
  api_app *app;
  struct api_group *parent;
  char *prefix;
  api__mw *mws, **mws_tail;
  struct api_group *next;
};

/* A registered route: the copied descriptor and its full pattern (group prefix included). */
typedef struct api__route {
  api_route desc; /* strings point into this struct's own copies; desc.middleware is NULL */
  char *pattern;
  char *method;
  char *summary;
  char *description, *operation_id; /* documentation copies (openapi/) */
  char **tags;
  api_response_doc *responses;
  api_group *group; /* NULL for the app */
  api__mw *mws, **mws_tail;
  api__chain chain; /* built by api__app_freeze */
  struct api__route *next;
} api__route;

typedef struct api__on_free {
  api_free_fn fn;
  void *user_data;
  struct api__on_free *next;
} api__on_free;

struct api_app {
  api_config cfg;
  char *host;
  char *trusted_proxies;
  struct api__cidr *proxies;
  size_t nproxies;
  api__router *router;
  api__route *routes; /* newest first, for freeing (and later the OpenAPI document) */
  api_group *groups;
  api__mw *mws, **mws_tail;
  api__chain chain; /* the app's hooks alone: unrouted requests and parser errors */
  api__on_free *on_free;
  api_logger *logger;           /* api_app_logger() */
  struct api_metrics *metrics;  /* api_app_metrics() */
  struct api_health *health;    /* api_app_health() */
  struct api_server *server;    /* while one runs it */
  struct api__openapi *openapi; /* api_app_openapi() */
  struct api__scheme *schemes;  /* api_app_security_scheme() */
  int config_err;               /* first registration error, refused by api_server_start */
  char config_msg[256];
  atomic_bool running;
  atomic_bool draining; /* its server is shutting down: readiness fails */
  bool frozen;          /* a server has started for it: routes are read-only from then on */
};

int api__mw_append(api__mw ***tail, const api_middleware *mw);
void api__mw_free_list(api__mw *m);
void api__chain_free(api__chain *chain);

/* Freeze the app for a server: router lookups and hook chains. Returns 0 or API_ENOMEM. */
int api__app_freeze(api_app *app);

/* Check a route's schemas against what the pipeline can do with them (core/route_schema.c):
 * params/query/headers schemas describe objects, params_schema requires only the route's own
 * parameters. Returns 0, or API_EINVAL with msg naming the schema and the JSON Pointer. */
int api__route_check_schemas(const api_route *route, char *msg, size_t cap);

/* Validation of a routed request against its route's schemas, run before pre_handler (after the
 * params are decoded and the query parsed). Returns 0 (valid, or no schemas);
 * API__VALIDATE_ANSWERED when the response has been replaced by an error (422 with details, 400 for
 * text that is not UTF-8): go on to on_error; or a negative api_err for the standard error (the
 * body's 415/400, API_ENOMEM). */
#define API__VALIDATE_ANSWERED 1
struct api_req;
int api__route_validate_request(struct api_req *req);
/* Check a handler's 2xx JSON response against response_schema, when the app validates responses.
 * Returns 0, or API_EINTERNAL after logging the violations (the caller answers 500). */
int api__route_validate_response(struct api_req *req);

/* Apply defaults and the API_* environment to cfg (a full-size struct). */
int api__config_resolve(api_config *cfg);

#endif
