/*
 * The route table: a radix tree keyed by path, each node holding a handler per method.
 * Built on one thread, then frozen (api__router_freeze) and read by every worker without locks.
 */
#ifndef API_ROUTER_ROUTER_H
#define API_ROUTER_ROUTER_H

#include <stddef.h>

#define API__MAX_PARAMS 16

typedef struct api__router api__router;

typedef struct api__param {
  const char *name;  /* from the pattern (borrowed from the router) */
  const char *value; /* raw, still percent-encoded; points into the looked-up path */
  size_t name_len;
  size_t value_len;
} api__param;

typedef struct api__match {
  void *route;         /* what was registered for the matched method */
  const char *pattern; /* the matched route's full pattern (borrowed from the router) */
  const char *allow;   /* the methods the path answers, "GET, HEAD, OPTIONS, POST": set for
                          API_EMETHOD and API__ROUTE_OPTIONS (borrowed from the router) */
  api__param params[API__MAX_PARAMS];
  unsigned nparams;
} api__match;

/* api__router_find's answer for an OPTIONS request to a path that has no OPTIONS route. */
#define API__ROUTE_OPTIONS 1

int api__router_new(api__router **out);
void api__router_free(api__router *r);

/*
 * Register route for method and pattern (both copied). Returns 0; API_EINVAL for a malformed
 * pattern or method, API_EEXIST for a duplicate, API_ESTATE after freezing, API_ENOMEM. On
 * error, err (errlen bytes) gets a message naming the method and pattern and saying what is wrong.
 */
int api__router_add(api__router *r, const char *method, const char *pattern, void *route, char *err,
                    size_t errlen);

/* Compute what lookups need (Allow lists); no api__router_add afterwards. Returns 0 (also when
 * already frozen) or API_ENOMEM, after which the router is unchanged and freeze may be retried. */
int api__router_freeze(api__router *r);

/*
 * Look up method and path (path is the raw, percent-encoded path of the request, without the
 * query; neither needs a NUL). Returns 0 with m filled; API__ROUTE_OPTIONS (m->allow set);
 * API_EMETHOD when the path exists for other methods only (m->allow set); API_ENOTFOUND;
 * API_ESTATE before api__router_freeze. A HEAD request matches routes registered for HEAD or
 * GET, most specific pattern first; where one pattern has both, the HEAD route wins. "OPTIONS *"
 * (path "*") gets API__ROUTE_OPTIONS with every method the router has. Method names
 * are case-sensitive. Never allocates.
 */
int api__router_find(const api__router *r, const char *method, size_t method_len, const char *path,
                     size_t path_len, api__match *m);

#endif
