/*
 * Router fuzzer: the input is looked up as a request path in a fixed router (static, param and
 * wildcard routes with overlapping prefixes), then registered as a pattern in a fresh router,
 * which must either accept it, and then match it, or refuse it cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/common.h"
#include "router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed[] = {
    "GET /",
    "GET /users",
    "GET /users/",
    "GET /user",
    "GET /u",
    "GET /users/all",
    "GET /users/:id",
    "POST /users/new",
    "DELETE /users/:id",
    "GET /users/:id/posts/:postId",
    "GET /users/new/edit",
    "GET /users/:uid/delete",
    "GET /files/*path",
    "GET /files/:name",
    "PURGE /cache/*rest",
    "OPTIONS /api/*any",
    "HEAD /h/:x",
    "GET /v1/users:batch",
    "GET /a%2Fb/:x/c",
    "GET /:a/:b/:c/:d",
    "GET /*all",
};
#define NFIXED (sizeof(fixed) / sizeof(*fixed))

static int add_spec(api__router *r, const char *spec) {
  char method[16];
  const char *sp = strchr(spec, ' ');
  memcpy(method, spec, (size_t)(sp - spec));
  method[sp - spec] = '\0';
  char err[256];
  return api__router_add(r, method, sp + 1, (void *)spec, err, sizeof(err));
}

static api__router *build(void) {
  api__router *r;
  if (api__router_new(&r)) abort();
  for (size_t i = 0; i < NFIXED; i++)
    if (add_spec(r, fixed[i])) abort();
  if (api__router_freeze(r)) abort();
  return r;
}

static void check(const api__router *r, const char *method, const char *path, size_t len) {
  api__match m;
  int rc = api__router_find(r, method, strlen(method), path, len, &m);
  switch (rc) {
    case 0:
      if (!m.route || !m.pattern || m.nparams > API__MAX_PARAMS) abort();
      for (unsigned i = 0; i < m.nparams; i++) {
        const api__param *p = &m.params[i];
        if (!p->name_len || p->value < path || p->value + p->value_len > path + len) abort();
        /* A parameter is one non-empty segment; only a wildcard may be empty or hold '/'. */
        if (p->name[-1] == ':' && (!p->value_len || memchr(p->value, '/', p->value_len))) abort();
      }
      break;
    case API__ROUTE_OPTIONS:
    case API_EMETHOD:
      if (!m.allow || !strstr(m.allow, "OPTIONS") || m.route) abort();
      break;
    case API_ENOTFOUND:
      if (m.route || m.allow) abort();
      break;
    default:
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static api__router *r;
  if (!r) r = build();
  /* An exact-size copy, so that reading past the path is an ASan error. */
  char *path = malloc(size ? size : 1);
  if (!path) return 0;
  memcpy(path, data, size);
  static const char *const methods[] = {"GET",    "HEAD",  "POST", "OPTIONS",
                                        "DELETE", "PURGE", "BREW"};
  for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++) check(r, methods[i], path, size);
  free(path);

  char *pattern = malloc(size + 1);
  if (!pattern) return 0;
  memcpy(pattern, data, size);
  pattern[size] = '\0';
  api__router *fresh;
  if (api__router_new(&fresh)) abort();
  /* A few neighbours, so that the pattern splits and shares nodes. */
  add_spec(fresh, "GET /users/:id");
  add_spec(fresh, "GET /users/new");
  add_spec(fresh, "GET /files/*path");
  char err[256];
  int rc = api__router_add(fresh, "GET", pattern, pattern, err, sizeof(err));
  if (rc != 0 && rc != API_EINVAL && rc != API_EEXIST) abort();
  if (rc && !err[0]) abort();
  if (rc == 0) {
    if (api__router_add(fresh, "GET", pattern, NULL, err, sizeof(err)) != API_EEXIST) abort();
    if (api__router_freeze(fresh)) abort();
    size_t plen = strlen(pattern);
    api__match m;
    rc = api__router_find(fresh, "GET", 3, pattern, plen, &m);
    /* Read as a path, a pattern matches itself: its static bytes literally, and each ":name" or
       "*name" segment as a parameter value (a static sibling may take precedence). */
    if (rc != 0) abort();
    if (!strchr(pattern, ':') && !strchr(pattern, '*') && m.route != pattern) abort();
    check(fresh, "GET", pattern, plen);
    check(fresh, "PUT", pattern, plen);
  }
  api__router_free(fresh);
  free(pattern);
  return 0;
}
