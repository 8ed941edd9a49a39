/* The app: configuration (defaults < code < environment) and route registration. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "core/proxy.h"
#include "libapi/metrics.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"

static const api_config defaults = {
    .size = sizeof(api_config),
    .host = "127.0.0.1",
    .port = 8080,
    .offload_threads = 4,
    .max_uri = 8192,
    .max_header_bytes = 16384,
    .max_headers = 100,
    .max_body = 1024 * 1024,
    .header_timeout_ms = 30000,
    .body_timeout_ms = 60000,
    .idle_timeout_ms = 5000,
    .write_timeout_ms = 30000,
    .max_connections = 65536,
    .shutdown_timeout_ms = 10000,
};

/* Read an unsigned environment override into *v (unchanged when unset). */
static int env_u64(const char *name, unsigned long long max, unsigned long long *v) {
  const char *s = getenv(name);
  if (!s || !*s) return 0;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || *end || s[0] == '-' || x > max)
    return api__fail(API_EINVAL, "environment variable %s=\"%s\" is not a number in 0..%llu", name,
                     s, max);
  *v = x;
  return 0;
}

#define ENV_FIELD(name, field, max)                         \
  do {                                                      \
    unsigned long long v_ = (unsigned long long)cfg->field; \
    int rc_ = env_u64(name, max, &v_);                      \
    if (rc_) return rc_;                                    \
    cfg->field = (__typeof__(cfg->field))v_;                \
  } while (0)

#define DEFAULT(field) \
  if (!cfg->field) cfg->field = defaults.field

int api__config_resolve(api_config *cfg) {
  /* The environment first, then defaults: 0 means "default" wherever it comes from. */
  const char *host = getenv("API_HOST");
  if (host && *host) cfg->host = host;
  const char *proxies = getenv("API_TRUSTED_PROXIES");
  if (proxies) cfg->trusted_proxies = proxies;
  if (cfg->port != API_PORT_ANY) ENV_FIELD("API_PORT", port, 65535);
  ENV_FIELD("API_WORKERS", workers, 1024);
  ENV_FIELD("API_OFFLOAD_THREADS", offload_threads, 1024);
  ENV_FIELD("API_MAX_URI", max_uri, 1u << 20);
  ENV_FIELD("API_MAX_HEADER_BYTES", max_header_bytes, 1u << 20);
  ENV_FIELD("API_MAX_HEADERS", max_headers, 10000);
  ENV_FIELD("API_MAX_BODY", max_body, 1ull << 40);
  ENV_FIELD("API_HEADER_TIMEOUT_MS", header_timeout_ms, UINT32_MAX);
  ENV_FIELD("API_BODY_TIMEOUT_MS", body_timeout_ms, UINT32_MAX);
  ENV_FIELD("API_IDLE_TIMEOUT_MS", idle_timeout_ms, UINT32_MAX);
  ENV_FIELD("API_WRITE_TIMEOUT_MS", write_timeout_ms, UINT32_MAX);
  ENV_FIELD("API_MAX_CONNECTIONS", max_connections, 1u << 24);
  ENV_FIELD("API_SHUTDOWN_TIMEOUT_MS", shutdown_timeout_ms, UINT32_MAX);
  ENV_FIELD("API_VALIDATE_RESPONSES", validate_responses, 1);
  ENV_FIELD("API_SHARE_PORT", share_port, 1);
  DEFAULT(host);
  DEFAULT(port);
  DEFAULT(offload_threads);
  DEFAULT(max_uri);
  DEFAULT(max_header_bytes);
  DEFAULT(max_headers);
  DEFAULT(max_body);
  DEFAULT(header_timeout_ms);
  DEFAULT(body_timeout_ms);
  DEFAULT(idle_timeout_ms);
  DEFAULT(write_timeout_ms);
  DEFAULT(max_connections);
  DEFAULT(shutdown_timeout_ms);
  if (!cfg->workers) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = n > 0 ? (int)n : 1;
  }
  if (cfg->workers < 1 || cfg->offload_threads < 1 || cfg->port < API_PORT_ANY || cfg->port > 65535)
    return api__fail(API_EINVAL, "invalid configuration: workers, offload_threads or port");
  return 0;
}

int api_app_new(api_app **out, const api_config *cfg) {
  *out = NULL;
  api_app *app = api__calloc(1, sizeof(*app));
  if (!app) return API_ENOMEM;
  if (cfg) memcpy(&app->cfg, cfg, cfg->size < sizeof(app->cfg) ? cfg->size : sizeof(app->cfg));
  app->cfg.size = sizeof(app->cfg);
  int rc = api__config_resolve(&app->cfg);
  if (!rc && !(app->host = api__strdup(app->cfg.host))) rc = API_ENOMEM;
  if (!rc && app->cfg.trusted_proxies &&
      !(app->trusted_proxies = api__strdup(app->cfg.trusted_proxies)))
    rc = API_ENOMEM;
  if (!rc) rc = api__proxies_parse(app->trusted_proxies, &app->proxies, &app->nproxies);
  if (!rc) rc = api__router_new(&app->router);
  app->mws_tail = &app->mws;
  if (rc) {
    api_app_free(app);
    return rc;
  }
  app->cfg.host = app->host;
  app->cfg.trusted_proxies = app->trusted_proxies;
  *out = app;
  return 0;
}

void api_app_free(api_app *app) {
  if (!app) return;
  for (api__on_free *f = app->on_free, *next; f; f = next) {
    next = f->next;
    f->fn(f->user_data);
    api__free(f);
  }
  api__router_free(app->router);
  api_logger_free(app->logger);
  api_metrics_free(app->metrics);
  api_health_free(app->health);
  api__mw_free_list(app->mws);
  api__chain_free(&app->chain);
  for (api__route *r = app->routes, *next; r; r = next) {
    next = r->next;
    api__mw_free_list(r->mws);
    api__chain_free(&r->chain);
    api__free(r->pattern);
    api__free(r->method);
    api__free(r->summary);
    api__route_doc_free(r);
    api__free(r);
  }
  for (api_group *g = app->groups, *next; g; g = next) {
    next = g->next;
    api__mw_free_list(g->mws);
    api__free(g->prefix);
    api__free(g);
  }
  api__openapi_free(app);
  api__free(app->host);
  api__free(app->trusted_proxies);
  api__free(app->proxies);
  api__free(app);
}

const api_config *api_app_config(const api_app *app) { return &app->cfg; }

/* Remember the first configuration error so that the server refuses to start with it. */
static int config_error(api_app *app, int rc) {
  if (!app->config_err) {
    app->config_err = rc;
    snprintf(app->config_msg, sizeof(app->config_msg), "%s", api_last_error());
  }
  return rc;
}

static int add_route(api_app *app, api_group *group, const api_route *route) {
  const char *prefix = group ? group->prefix : "";
  if (app->frozen)
    return api__fail(API_ESTATE, "routes cannot be added once a server has started for the app");
  if (!route || !route->path || !route->method || !route->handler)
    return config_error(app,
                        api__fail(API_EINVAL, "route %s %s: method, path and handler are required",
                                  route && route->method ? route->method : "(null)",
                                  route && route->path ? route->path : "(null)"));
  api__route *r = api__calloc(1, sizeof(*r));
  if (!r) return API_ENOMEM;
  memcpy(&r->desc, route, route->size < sizeof(r->desc) ? route->size : sizeof(r->desc));
  size_t plen = strlen(prefix), len = strlen(route->path);
  r->pattern = api__malloc(plen + len + 1);
  r->method = api__strdup(route->method);
  r->summary = route->summary ? api__strdup(route->summary) : NULL;
  if (!r->pattern || !r->method || (route->summary && !r->summary)) {
    api__free(r->pattern);
    api__free(r->method);
    api__free(r->summary);
    api__free(r);
    return API_ENOMEM;
  }
  memcpy(r->pattern, prefix, plen);
  memcpy(r->pattern + plen, route->path, len + 1);
  r->desc.path = r->pattern;
  r->desc.method = r->method;
  r->desc.summary = r->summary;
  r->desc.middleware = NULL;
  r->group = group;
  r->mws_tail = &r->mws;
  r->next = app->routes;
  app->routes = r;
  char msg[256];
  int drc = api__route_doc_copy(r, msg, sizeof(msg));
  if (drc == API_EINVAL)
    return config_error(app, api__fail(API_EINVAL, "route %s %s: %s", r->method, r->pattern, msg));
  if (drc) return drc;
  const api_middleware *const *mw =
      route->size > offsetof(api_route, middleware) ? route->middleware : NULL;
  for (size_t i = 0; mw && mw[i]; i++) {
    if (!mw[i]->size)
      return config_error(
          app,
          api__fail(API_EINVAL, "route %s %s: middleware %zu was not built with API_MIDDLEWARE",
                    r->method, r->pattern, i));
    if (api__mw_append(&r->mws_tail, mw[i])) return API_ENOMEM;
  }
  if (api__route_check_schemas(&r->desc, msg, sizeof(msg)))
    return config_error(app, api__fail(API_EINVAL, "route %s %s: %s", r->method, r->pattern, msg));
  int rc = api__router_add(app->router, r->method, r->pattern, r, msg, sizeof(msg));
  if (rc) return config_error(app, api__fail(rc, "%s", msg));
  return 0;
}

int api_app_route(api_app *app, const api_route *route) { return add_route(app, NULL, route); }

int api_group_route(api_group *group, const api_route *route) {
  return add_route(group->app, group, route);
}

#define SHORTHAND(fn, verb)                                                                  \
  int fn(api_app *app, const char *path, api_handler_fn h, void *user_data) {                \
    return api_app_route(                                                                    \
        app, API_ROUTE(.method = verb, .path = path, .handler = h, .user_data = user_data)); \
  }
SHORTHAND(api_app_get, "GET")
SHORTHAND(api_app_post, "POST")
SHORTHAND(api_app_put, "PUT")
SHORTHAND(api_app_patch, "PATCH")
SHORTHAND(api_app_delete, "DELETE")

static int new_group(api_app *app, api_group *parent_group, const char *prefix, api_group **out) {
  const char *parent = parent_group ? parent_group->prefix : "";
  *out = NULL;
  size_t n = prefix ? strlen(prefix) : 0;
  if (n < 2 || prefix[0] != '/' || prefix[n - 1] == '/')
    return config_error(
        app, api__fail(API_EINVAL, "group prefix \"%s\": must start with '/' and not end with one",
                       prefix ? prefix : "(null)"));
  api_group *g = api__calloc(1, sizeof(*g));
  size_t pn = strlen(parent);
  char *p = api__malloc(pn + n + 1);
  if (!g || !p) {
    api__free(g);
    api__free(p);
    return API_ENOMEM;
  }
  memcpy(p, parent, pn);
  memcpy(p + pn, prefix, n + 1);
  g->app = app;
  g->parent = parent_group;
  g->prefix = p;
  g->mws_tail = &g->mws;
  g->next = app->groups;
  app->groups = g;
  *out = g;
  return 0;
}

int api_app_group(api_app *app, const char *prefix, api_group **out) {
  return new_group(app, NULL, prefix, out);
}

int api_group_group(api_group *parent, const char *prefix, api_group **out) {
  return new_group(parent->app, parent, prefix, out);
}
