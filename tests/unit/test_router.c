/* The route table: matching, precedence, 405/OPTIONS, malformed patterns, memory failures. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/common.h"
#include "router/router.h"
#include "util/alloc.h"

/* Routes are registered with the "METHOD /pattern" string itself as the route pointer. */
static int add(api__router *r, const char *spec, char *err, size_t errlen) {
  char method[64];
  const char *sp = strchr(spec, ' ');
  cr_assert(sp && (size_t)(sp - spec) < sizeof(method), "bad spec %s", spec);
  memcpy(method, spec, (size_t)(sp - spec));
  method[sp - spec] = '\0';
  return api__router_add(r, method, sp + 1, (void *)spec, err, errlen);
}

static api__router *build_n(const char *const *specs, size_t n) {
  api__router *r;
  cr_assert_eq(api__router_new(&r), 0);
  char err[256];
  for (size_t i = 0; i < n; i++) {
    int rc = add(r, specs[i], err, sizeof(err));
    cr_assert_eq(rc, 0, "adding %s: %d %s", specs[i], rc, err);
  }
  cr_assert_eq(api__router_freeze(r), 0);
  return r;
}
#define BUILD(...)                            \
  build_n((const char *const[]){__VA_ARGS__}, \
          sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static int find(const api__router *r, const char *method, const char *path, api__match *m) {
  memset(m, 0xAB, sizeof(*m)); /* nothing stale may look valid */
  return api__router_find(r, method, strlen(method), path, strlen(path), m);
}

/* method path must hit the route registered as spec ("GET /users/:id"). */
static void hit(const api__router *r, const char *method, const char *path, const char *spec,
                api__match *m) {
  int rc = find(r, method, path, m);
  cr_assert_eq(rc, 0, "%s %s: rc %d, wanted %s", method, path, rc, spec);
  cr_assert_str_eq((const char *)m->route, spec, "%s %s: got %s, wanted %s", method, path,
                   (const char *)m->route, spec);
  cr_assert_str_eq(m->pattern, strchr(spec, ' ') + 1);
  cr_assert_null(m->allow);
}

static void miss(const api__router *r, const char *method, const char *path) {
  api__match m;
  int rc = find(r, method, path, &m);
  cr_assert_eq(rc, API_ENOTFOUND, "%s %s: rc %d (%s), wanted 404", method, path, rc,
               rc == 0 ? m.pattern : "");
  cr_assert_null(m.route);
  cr_assert_null(m.allow);
}

static void not_allowed(const api__router *r, const char *method, const char *path,
                        const char *allow) {
  api__match m;
  int rc = find(r, method, path, &m);
  cr_assert_eq(rc, API_EMETHOD, "%s %s: rc %d, wanted 405", method, path, rc);
  cr_assert_str_eq(m.allow, allow, "%s %s", method, path);
  cr_assert_null(m.route);
}

static void auto_options(const api__router *r, const char *path, const char *allow) {
  api__match m;
  int rc = find(r, "OPTIONS", path, &m);
  cr_assert_eq(rc, API__ROUTE_OPTIONS, "OPTIONS %s: rc %d", path, rc);
  cr_assert_str_eq(m.allow, allow, "OPTIONS %s", path);
  cr_assert_null(m.route);
}

static void param(const api__match *m, unsigned i, const char *name, const char *value) {
  cr_assert_lt(i, m->nparams, "param %u of %u", i, m->nparams);
  const api__param *p = &m->params[i];
  cr_assert_eq(p->name_len, strlen(name), "param %u name length", i);
  cr_assert_eq(memcmp(p->name, name, p->name_len), 0, "param %u: %.*s, wanted %s", i,
               (int)p->name_len, p->name, name);
  cr_assert_eq(p->value_len, strlen(value), "param %s: length %zu, wanted \"%s\"", name,
               p->value_len, value);
  cr_assert_eq(memcmp(p->value, value, p->value_len), 0, "param %s: \"%.*s\", wanted \"%s\"", name,
               (int)p->value_len, p->value, value);
}

Test(router, static_routes_and_root) {
  api__router *r = BUILD("GET /", "GET /health", "GET /api/v1/status");
  api__match m;
  hit(r, "GET", "/", "GET /", &m);
  cr_assert_eq(m.nparams, 0);
  hit(r, "GET", "/health", "GET /health", &m);
  hit(r, "GET", "/api/v1/status", "GET /api/v1/status", &m);
  miss(r, "GET", "");
  miss(r, "GET", "//");
  miss(r, "GET", "/healthz");
  miss(r, "GET", "/healt");
  miss(r, "GET", "/api/v1");
  miss(r, "GET", "/api/v1/status/x");
  miss(r, "GET", "health");
  miss(r, "GET", "*");
  miss(r, "GET", "http://x/health");
  api__router_free(r);
}

Test(router, prefix_sharing_static_routes) {
  /* Registered longest first, so that every later add splits an edge. */
  api__router *r = BUILD("GET /users/all", "GET /users", "GET /user", "GET /u", "GET /usx",
                         "GET /users/allx", "GET /users/a");
  api__match m;
  const char *paths[] = {"/users/all", "/users", "/user", "/u", "/usx", "/users/allx", "/users/a"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
    char spec[64];
    snprintf(spec, sizeof(spec), "GET %s", paths[i]);
    hit(r, "GET", paths[i], (const char *)(find(r, "GET", paths[i], &m), m.route), &m);
    cr_assert_str_eq((const char *)m.route, spec);
  }
  const char *misses[] = {"/us",         "/use",         "/usersx", "/users/al",
                          "/users/alll", "/user/",       "/users/", "/users/all/",
                          "/usy",        "/users/allxx", "/v",      "/"};
  for (size_t i = 0; i < sizeof(misses) / sizeof(*misses); i++) miss(r, "GET", misses[i]);
  api__router_free(r);
}

Test(router, params_basic) {
  api__router *r = BUILD("GET /users/:id", "GET /users/:id/posts/:postId", "GET /:a/:b/:c");
  api__match m;
  hit(r, "GET", "/users/42", "GET /users/:id", &m);
  cr_assert_eq(m.nparams, 1);
  param(&m, 0, "id", "42");
  hit(r, "GET", "/users/42/posts/7", "GET /users/:id/posts/:postId", &m);
  cr_assert_eq(m.nparams, 2);
  param(&m, 0, "id", "42");
  param(&m, 1, "postId", "7");
  hit(r, "GET", "/x/y/z", "GET /:a/:b/:c", &m);
  param(&m, 0, "a", "x");
  param(&m, 1, "b", "y");
  param(&m, 2, "c", "z");
  /* A parameter is one non-empty segment. */
  miss(r, "GET", "/users/");
  miss(r, "GET", "/users");
  miss(r, "GET", "/users/42/");
  miss(r, "GET", "/users/42/posts/");
  miss(r, "GET", "/users/42/posts/7/");
  miss(r, "GET", "/x//z");
  miss(r, "GET", "//y/z");
  api__router_free(r);
}

Test(router, param_values_are_raw_spans_into_the_path) {
  api__router *r = BUILD("GET /users/:id", "GET /caf%C3%A9", "GET /a%2Fb");
  api__match m;
  const char *path = "/users/a%2Fb";
  cr_assert_eq(find(r, "GET", path, &m), 0);
  param(&m, 0, "id", "a%2Fb");
  cr_assert_eq(m.params[0].value, path + 7, "the value points into the request path");
  hit(r, "GET", "/users/%E2%9C%93", "GET /users/:id", &m);
  param(&m, 0, "id", "%E2%9C%93");
  /* No decoding and no case folding: byte for byte. */
  hit(r, "GET", "/caf%C3%A9", "GET /caf%C3%A9", &m);
  miss(r, "GET", "/caf%c3%a9");
  miss(r, "GET", "/café");
  hit(r, "GET", "/a%2Fb", "GET /a%2Fb", &m);
  miss(r, "GET", "/a/b");
  api__router_free(r);
}

Test(router, inputs_need_no_nul_and_method_len_is_respected) {
  api__router *r = BUILD("GET /users/:id", "GET /users/:id/x");
  api__match m;
  const char *buf = "/users/42/xGARBAGE";
  cr_assert_eq(api__router_find(r, "GETX", 3, buf, 9, &m), 0);
  cr_assert_str_eq(m.pattern, "/users/:id");
  param(&m, 0, "id", "42");
  cr_assert_eq(api__router_find(r, "GET", 3, buf, 11, &m), 0);
  cr_assert_str_eq(m.pattern, "/users/:id/x");
  cr_assert_eq(api__router_find(r, "GET", 2, buf, 9, &m), API_EMETHOD);
  cr_assert_eq(api__router_find(r, "GET", 3, buf, 0, &m), API_ENOTFOUND);
  cr_assert_eq(api__router_find(r, "GET", 3, NULL, 0, &m), API_ENOTFOUND);
  cr_assert_eq(api__router_find(r, NULL, 0, buf, 9, &m), API_EMETHOD);
  cr_assert_eq(api__router_find(r, "", 0, buf, 9, &m), API_EMETHOD);
  api__router_free(r);
}

Test(router, trailing_slash_is_significant) {
  api__router *r = BUILD("GET /users", "GET /items/", "GET /users/:id/", "GET /a/:x");
  api__match m;
  hit(r, "GET", "/users", "GET /users", &m);
  miss(r, "GET", "/users/");
  hit(r, "GET", "/items/", "GET /items/", &m);
  miss(r, "GET", "/items");
  hit(r, "GET", "/users/5/", "GET /users/:id/", &m);
  param(&m, 0, "id", "5");
  miss(r, "GET", "/users/5");
  miss(r, "GET", "/users/5//");
  hit(r, "GET", "/a/b", "GET /a/:x", &m);
  miss(r, "GET", "/a/b/");
  api__router_free(r);

  r = BUILD("GET /users/", "GET /users", "POST /users/");
  hit(r, "GET", "/users", "GET /users", &m);
  hit(r, "GET", "/users/", "GET /users/", &m);
  hit(r, "POST", "/users/", "POST /users/", &m);
  not_allowed(r, "POST", "/users", "GET, HEAD, OPTIONS");
  api__router_free(r);
}

Test(router, wildcards) {
  api__router *r = BUILD("GET /files/*path", "GET /static/:name", "GET /static/*rest");
  api__match m;
  hit(r, "GET", "/files/", "GET /files/*path", &m);
  cr_assert_eq(m.nparams, 1);
  param(&m, 0, "path", "");
  hit(r, "GET", "/files/a", "GET /files/*path", &m);
  param(&m, 0, "path", "a");
  hit(r, "GET", "/files/a/b/c.txt", "GET /files/*path", &m);
  param(&m, 0, "path", "a/b/c.txt");
  hit(r, "GET", "/files//a//", "GET /files/*path", &m);
  param(&m, 0, "path", "/a//");
  hit(r, "GET", "/files/%2F..%2F", "GET /files/*path", &m);
  param(&m, 0, "path", "%2F..%2F");
  miss(r, "GET", "/files");
  miss(r, "GET", "/filesx/a");
  /* param beats wildcard for one segment; the wildcard takes what the param cannot. */
  hit(r, "GET", "/static/x.css", "GET /static/:name", &m);
  param(&m, 0, "name", "x.css");
  hit(r, "GET", "/static/x/y.css", "GET /static/*rest", &m);
  param(&m, 0, "rest", "x/y.css");
  hit(r, "GET", "/static/", "GET /static/*rest", &m);
  param(&m, 0, "rest", "");
  hit(r, "GET", "/static/x/", "GET /static/*rest", &m);
  param(&m, 0, "rest", "x/");
  api__router_free(r);

  r = BUILD("GET /*all", "GET /", "GET /a/:x/*rest");
  hit(r, "GET", "/", "GET /", &m);
  hit(r, "GET", "/anything/at/all", "GET /*all", &m);
  param(&m, 0, "all", "anything/at/all");
  hit(r, "GET", "//", "GET /*all", &m);
  param(&m, 0, "all", "/");
  hit(r, "GET", "/a/1/", "GET /a/:x/*rest", &m);
  param(&m, 0, "x", "1");
  param(&m, 1, "rest", "");
  hit(r, "GET", "/a/1/2/3", "GET /a/:x/*rest", &m);
  param(&m, 1, "rest", "2/3");
  hit(r, "GET", "/a/1", "GET /*all", &m);
  param(&m, 0, "all", "a/1");
  miss(r, "GET", "");
  api__router_free(r);
}

Test(router, static_beats_param_beats_wildcard) {
  api__router *r = BUILD("GET /users/*rest", "GET /users/:id", "GET /users/new", "GET /users/n");
  api__match m;
  hit(r, "GET", "/users/new", "GET /users/new", &m);
  cr_assert_eq(m.nparams, 0);
  hit(r, "GET", "/users/n", "GET /users/n", &m);
  hit(r, "GET", "/users/ne", "GET /users/:id", &m);
  param(&m, 0, "id", "ne");
  hit(r, "GET", "/users/newer", "GET /users/:id", &m);
  param(&m, 0, "id", "newer");
  hit(r, "GET", "/users/new/", "GET /users/*rest", &m);
  param(&m, 0, "rest", "new/");
  hit(r, "GET", "/users/", "GET /users/*rest", &m);
  param(&m, 0, "rest", "");
  api__router_free(r);
}

Test(router, backtracking_at_several_depths) {
  api__router *r = BUILD("GET /users/new/edit", "GET /users/:id/delete");
  api__match m;
  hit(r, "GET", "/users/new/delete", "GET /users/:id/delete", &m);
  param(&m, 0, "id", "new");
  hit(r, "GET", "/users/new/edit", "GET /users/new/edit", &m);
  miss(r, "GET", "/users/new/other");
  api__router_free(r);

  r = BUILD("GET /a/b/c/d", "GET /a/b/:x/e", "GET /a/:y/c/f", "GET /:z/b/c/g", "GET /*w",
            "GET /a/b/c/:v/h", "GET /a/:p/c/:q/i");
  hit(r, "GET", "/a/b/c/d", "GET /a/b/c/d", &m);
  hit(r, "GET", "/a/b/c/e", "GET /a/b/:x/e", &m);
  param(&m, 0, "x", "c");
  hit(r, "GET", "/a/b/c/f", "GET /a/:y/c/f", &m);
  param(&m, 0, "y", "b");
  hit(r, "GET", "/a/b/c/g", "GET /:z/b/c/g", &m);
  param(&m, 0, "z", "a");
  hit(r, "GET", "/a/b/c/zz", "GET /*w", &m);
  param(&m, 0, "w", "a/b/c/zz");
  hit(r, "GET", "/a/b/c/d/h", "GET /a/b/c/:v/h", &m);
  param(&m, 0, "v", "d");
  /* Dead ends three levels down; the earlier capture of the same depth is overwritten. */
  hit(r, "GET", "/a/b/c/d/i", "GET /a/:p/c/:q/i", &m);
  cr_assert_eq(m.nparams, 2);
  param(&m, 0, "p", "b");
  param(&m, 1, "q", "d");
  hit(r, "GET", "/a/b/c/d/j", "GET /*w", &m);
  api__router_free(r);

  r = BUILD("GET /:x/b/:y/d", "GET /a/:z/c/e");
  hit(r, "GET", "/a/b/c/d", "GET /:x/b/:y/d", &m);
  cr_assert_eq(m.nparams, 2);
  param(&m, 0, "x", "a");
  param(&m, 1, "y", "c");
  hit(r, "GET", "/a/b/c/e", "GET /a/:z/c/e", &m);
  cr_assert_eq(m.nparams, 1);
  param(&m, 0, "z", "b");
  api__router_free(r);
}

Test(router, different_param_names_at_the_same_position) {
  api__router *r = BUILD("GET /users/:id", "GET /users/:userId/posts", "GET /users/:uid/posts/:pid",
                         "DELETE /users/:who");
  api__match m;
  hit(r, "GET", "/users/1", "GET /users/:id", &m);
  param(&m, 0, "id", "1");
  hit(r, "GET", "/users/1/posts", "GET /users/:userId/posts", &m);
  param(&m, 0, "userId", "1");
  hit(r, "GET", "/users/1/posts/2", "GET /users/:uid/posts/:pid", &m);
  param(&m, 0, "uid", "1");
  param(&m, 1, "pid", "2");
  hit(r, "DELETE", "/users/1", "DELETE /users/:who", &m);
  param(&m, 0, "who", "1");
  api__router_free(r);
}

Test(router, matching_is_per_method) {
  api__router *r = BUILD("POST /users/new", "GET /users/:id", "GET /files/*p", "PUT /files/a");
  api__match m;
  hit(r, "GET", "/users/new", "GET /users/:id", &m);
  param(&m, 0, "id", "new");
  hit(r, "POST", "/users/new", "POST /users/new", &m);
  not_allowed(r, "POST", "/users/5", "GET, HEAD, OPTIONS");
  not_allowed(r, "PUT", "/users/new", "GET, HEAD, OPTIONS, POST");
  hit(r, "GET", "/files/a", "GET /files/*p", &m);
  hit(r, "PUT", "/files/a", "PUT /files/a", &m);
  not_allowed(r, "PUT", "/files/b", "GET, HEAD, OPTIONS");
  api__router_free(r);
}

Test(router, method_not_allowed_lists) {
  api__router *r = BUILD("GET /users/:id", "POST /users/new", "PUT /users/:id", "DELETE /users/:id",
                         "PURGE /users/:id", "POST /login", "GET /files/*p", "POST /files/:name",
                         "M-SEARCH /", "PATCH /x", "HEAD /x", "OPTIONS /x");
  not_allowed(r, "PATCH", "/users/5", "DELETE, GET, HEAD, OPTIONS, PURGE, PUT");
  not_allowed(r, "PATCH", "/users/new", "DELETE, GET, HEAD, OPTIONS, POST, PURGE, PUT");
  not_allowed(r, "GET", "/login", "OPTIONS, POST");
  not_allowed(r, "HEAD", "/login", "OPTIONS, POST");
  not_allowed(r, "BREW", "/users/5", "DELETE, GET, HEAD, OPTIONS, PURGE, PUT");
  not_allowed(r, "get", "/users/5", "DELETE, GET, HEAD, OPTIONS, PURGE, PUT");
  not_allowed(r, "PUT", "/files/x", "GET, HEAD, OPTIONS, POST");
  not_allowed(r, "PUT", "/files/x/y", "GET, HEAD, OPTIONS");
  not_allowed(r, "GET", "/", "M-SEARCH, OPTIONS");
  /* Explicit HEAD and OPTIONS routes appear once. */
  not_allowed(r, "GET", "/x", "HEAD, OPTIONS, PATCH");
  miss(r, "PATCH", "/nothing");
  miss(r, "BREW", "/nothing");
  api__router_free(r);
}

Test(router, auto_head) {
  api__router *r = BUILD("GET /a", "GET /b", "HEAD /b", "GET /users/new", "HEAD /users/:id",
                         "HEAD /ping", "GET /g/:x", "HEAD /g/*rest");
  api__match m;
  hit(r, "HEAD", "/a", "GET /a", &m);
  hit(r, "HEAD", "/b", "HEAD /b", &m);
  hit(r, "GET", "/b", "GET /b", &m);
  /* The most specific pattern wins, whichever of GET or HEAD it was registered for. */
  hit(r, "HEAD", "/users/new", "GET /users/new", &m);
  hit(r, "HEAD", "/users/5", "HEAD /users/:id", &m);
  param(&m, 0, "id", "5");
  not_allowed(r, "GET", "/users/5", "HEAD, OPTIONS");
  hit(r, "HEAD", "/ping", "HEAD /ping", &m);
  not_allowed(r, "GET", "/ping", "HEAD, OPTIONS");
  hit(r, "HEAD", "/g/1", "GET /g/:x", &m);
  hit(r, "HEAD", "/g/1/2", "HEAD /g/*rest", &m);
  not_allowed(r, "POST", "/a", "GET, HEAD, OPTIONS");
  miss(r, "HEAD", "/c");
  api__router_free(r);
}

Test(router, auto_options) {
  api__router *r = BUILD("GET /users/:id", "DELETE /users/:id", "OPTIONS /custom", "GET /custom",
                         "POST /users/new");
  api__match m;
  auto_options(r, "/users/5", "DELETE, GET, HEAD, OPTIONS");
  auto_options(r, "/users/new", "DELETE, GET, HEAD, OPTIONS, POST");
  hit(r, "OPTIONS", "/custom", "OPTIONS /custom", &m);
  miss(r, "OPTIONS", "/nothing");
  /* "OPTIONS *" is about the whole server: every method of every route. */
  auto_options(r, "*", "DELETE, GET, HEAD, OPTIONS, POST");
  miss(r, "GET", "*");
  api__router_free(r);

  /* A CORS-style catch-all answers every OPTIONS request, even for paths with no other route. */
  r = BUILD("OPTIONS /*any", "GET /users/:id");
  hit(r, "OPTIONS", "/users/5", "OPTIONS /*any", &m);
  hit(r, "OPTIONS", "/nothing/here", "OPTIONS /*any", &m);
  param(&m, 0, "any", "nothing/here");
  not_allowed(r, "GET", "/nothing", "OPTIONS");
  not_allowed(r, "POST", "/users/5", "GET, HEAD, OPTIONS");
  api__router_free(r);
}

Test(router, empty_router) {
  api__router *r = BUILD("GET /x");
  api__router_free(r);
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(api__router_freeze(r), 0);
  miss(r, "GET", "/");
  miss(r, "OPTIONS", "/");
  auto_options(r, "*", "OPTIONS");
  api__router_free(r);
  api__router_free(NULL);
}

Test(router, state_rules) {
  api__router *r;
  char err[256];
  api__match m;
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(add(r, "GET /a", err, sizeof(err)), 0);
  cr_assert_eq(api__router_find(r, "GET", 3, "/a", 2, &m), API_ESTATE);
  cr_assert_eq(api__router_freeze(r), 0);
  cr_assert_eq(api__router_freeze(r), 0);
  cr_assert_eq(add(r, "GET /b", err, sizeof(err)), API_ESTATE);
  cr_assert(strstr(err, "/b"), "%s", err);
  hit(r, "GET", "/a", "GET /a", &m);
  miss(r, "GET", "/b");
  api__router_free(r);
}

static bool printable(const char *s) {
  if (!s || !*s || strlen(s) > 80) return false;
  for (; *s; s++)
    if (*s < 0x20 || *s > 0x7e) return false;
  return true;
}

static void bad(const char *method, const char *pattern, const char *why) {
  api__router *r;
  char err[256] = "";
  cr_assert_eq(api__router_new(&r), 0);
  int rc = api__router_add(r, method, pattern, NULL, err, sizeof(err));
  cr_assert_eq(rc, API_EINVAL, "%s %s: rc %d", method, pattern, rc);
  if (printable(method) && printable(pattern)) {
    cr_assert(strstr(err, method), "message should name the method: %s", err);
    cr_assert(strstr(err, pattern), "message should name the pattern: %s", err);
  }
  cr_assert(strstr(err, why), "message for %s %s should say \"%s\": %s", method, pattern, why, err);
  /* The router is still usable. */
  cr_assert_eq(api__router_add(r, "GET", "/ok", NULL, err, sizeof(err)), 0);
  api__router_free(r);
}

Test(router, malformed_patterns) {
  bad("GET", "", "start with '/'");
  bad("GET", "users", "start with '/'");
  bad("GET", "users/:id", "start with '/'");
  bad("GET", "//", "empty segment");
  bad("GET", "/a//b", "empty segment");
  bad("GET", "/users//", "empty segment");
  bad("GET", "//users", "empty segment");
  bad("GET", "/:", "without a name");
  bad("GET", "/:/x", "without a name");
  bad("GET", "/*", "without a name");
  bad("GET", "/a/*/", "without a name");
  bad("GET", "/:a-b", "bad parameter name");
  bad("GET", "/:a:b", "bad parameter name");
  bad("GET", "/:a.json", "bad parameter name");
  bad("GET", "/:a*", "bad parameter name");
  bad("GET", "/*a.b", "bad wildcard name");
  bad("GET", "/:é", "bad parameter name: byte 0xc3");
  bad("GET", "/:a-b", "character '-'");
  bad("GET", "/*a/b", "must be the last");
  bad("GET", "/*a/", "must be the last");
  bad("GET", "/a/*b/:c", "must be the last");
  bad("GET", "/:id/:id", "used twice");
  bad("GET", "/:id/x/*id", "used twice");
  bad("GET", "/a*b", "'*' inside a segment");
  bad("GET", "/a/b*", "'*' inside a segment");
  bad("GET", "/a b", "0x20");
  bad("GET", "/a?b", "'?'");
  bad("GET", "/a#b", "'#'");
  bad("GET", "/a[b]", "'['");
  bad("GET", "/a\"b", "'\"'");
  bad("GET", "/a\\b", "'\\'");
  bad("GET", "/a\x01", "0x01");
  bad("GET", "/a\x7f", "0x7f");
  bad("GET", "/caf\xc3\xa9", "0xc3");
  bad("GET", "/a\n", "0x0a");
  /* Raw bytes of a bad route are escaped, never copied into the message. */
  char err[256];
  api__router *r;
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(api__router_add(r, "GET\r\n", "/a\x1b[31m", NULL, err, sizeof(err)), API_EINVAL);
  cr_assert(strstr(err, "GET\\x0d\\x0a /a\\x1b[31m"), "%s", err);
  cr_assert_eq(api__router_add(r, "GET", "/a\x1b[31m", NULL, err, sizeof(err)), API_EINVAL);
  cr_assert(strstr(err, "/a\\x1b[31m: byte 0x1b"), "%s", err);
  for (const char *e = err; *e; e++) cr_assert(*e >= 0x20 && *e < 0x7f, "%s", err);
  api__router_free(r);
  bad("GET", "/a%", "percent-encoding");
  bad("GET", "/a%2", "percent-encoding");
  bad("GET", "/a%2/b", "percent-encoding");
  bad("GET", "/a%zz", "percent-encoding");
  bad("GET", "/a%%41", "percent-encoding");
  bad("", "/a", "method");
  bad("GE T", "/a", "method");
  bad("GET\r\n", "/a", "method");
  bad("G:T", "/a", "method");
  bad("GET/", "/a", "method");
  bad(NULL, "/a", "method");
  bad("GET", NULL, "pattern");

  char p[512];
  strcpy(p, "");
  for (int i = 0; i < API__MAX_PARAMS + 1; i++) snprintf(p + strlen(p), 16, "/:p%d", i);
  bad("GET", p, "more than 16 parameters");
  strcpy(p, "");
  for (int i = 0; i < API__MAX_PARAMS; i++) snprintf(p + strlen(p), 16, "/:p%d", i);
  strcat(p, "/*rest");
  bad("GET", p, "more than 16 parameters");
}

Test(router, unusual_but_valid_patterns) {
  api__router *r = BUILD("POST /v1/users:batch", "GET /a:b", "GET /@me", "GET /~x/-/_/.",
                         "GET /a/!$&'()+,;=", "GET /:id/x:y", "GET /%41", "GET /..", "GET /a/.");
  api__match m;
  hit(r, "POST", "/v1/users:batch", "POST /v1/users:batch", &m);
  hit(r, "GET", "/a:b", "GET /a:b", &m);
  hit(r, "GET", "/@me", "GET /@me", &m);
  hit(r, "GET", "/~x/-/_/.", "GET /~x/-/_/.", &m);
  hit(r, "GET", "/a/!$&'()+,;=", "GET /a/!$&'()+,;=", &m);
  hit(r, "GET", "/7/x:y", "GET /:id/x:y", &m);
  hit(r, "GET", "/%41", "GET /%41", &m);
  miss(r, "GET", "/A");
  hit(r, "GET", "/..", "GET /..", &m);
  api__router_free(r);
  /* ":id:cancel" as a segment is a parameter named "id:cancel": rejected above ("/:a:b"), but a
     colon later in a static segment is fine. */
  bad("GET", "/v1/users/:id:cancel", "bad parameter name");
}

Test(router, duplicates) {
  api__router *r;
  char err[256];
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(add(r, "GET /users/:id", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /users/:name", err, sizeof(err)), API_EEXIST);
  cr_assert(strstr(err, "/users/:id") && strstr(err, "/users/:name") && strstr(err, "GET"), "%s",
            err);
  cr_assert_eq(add(r, "GET /users/:id", err, sizeof(err)), API_EEXIST);
  cr_assert_eq(add(r, "POST /users/:id", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /users/:id/", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /users", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /users/", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /users/", err, sizeof(err)), API_EEXIST);
  cr_assert_eq(add(r, "GET /files/*a", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /files/*b", err, sizeof(err)), API_EEXIST);
  cr_assert(strstr(err, "/files/*a") && strstr(err, "/files/*b"), "%s", err);
  cr_assert_eq(add(r, "GET /files/:b", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "PURGE /files/*b", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "PURGE /files/*c", err, sizeof(err)), API_EEXIST);
  cr_assert_eq(add(r, "HEAD /users/:x", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /", err, sizeof(err)), 0);
  cr_assert_eq(add(r, "GET /", err, sizeof(err)), API_EEXIST);
  /* Long patterns are shortened in the message, which still fits a small buffer. */
  char longp[400] = "/";
  memset(longp + 1, 'x', 300);
  cr_assert_eq(api__router_add(r, "GET", longp, NULL, err, sizeof(err)), 0);
  cr_assert_eq(api__router_add(r, "GET", longp, NULL, err, sizeof(err)), API_EEXIST);
  cr_assert(strstr(err, "..."), "%s", err);
  char tiny[8];
  cr_assert_eq(api__router_add(r, "GET", longp, NULL, tiny, sizeof(tiny)), API_EEXIST);
  cr_assert_eq(strlen(tiny), 7);
  cr_assert_eq(api__router_add(r, "GET", longp, NULL, NULL, 0), API_EEXIST);
  cr_assert_eq(api__router_freeze(r), 0);
  api__match m;
  hit(r, "GET", "/users/1", "GET /users/:id", &m);
  api__router_free(r);
}

Test(router, max_params) {
  char pat[512] = "", path[512] = "", name[16];
  for (int i = 0; i < API__MAX_PARAMS - 1; i++) {
    snprintf(pat + strlen(pat), 16, "/s/:p%d", i);
    snprintf(path + strlen(path), 16, "/s/v%d", i);
  }
  strcat(pat, "/*rest");
  strcat(path, "/x/y");
  api__router *r;
  char err[256];
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(api__router_add(r, "GET", pat, pat, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(api__router_freeze(r), 0);
  api__match m;
  cr_assert_eq(find(r, "GET", path, &m), 0);
  cr_assert_eq(m.nparams, API__MAX_PARAMS);
  for (int i = 0; i < API__MAX_PARAMS - 1; i++) {
    char val[16];
    snprintf(name, sizeof(name), "p%d", i);
    snprintf(val, sizeof(val), "v%d", i);
    param(&m, (unsigned)i, name, val);
  }
  param(&m, API__MAX_PARAMS - 1, "rest", "x/y");
  api__router_free(r);
}

Test(router, too_many_methods) {
  api__router *r;
  char err[256], method[16];
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(api__router_add(r, "GET", "/x", NULL, err, sizeof(err)), 0);
  /* 7 well-known methods plus 57 others make 64. */
  for (int i = 0; i < 57; i++) {
    snprintf(method, sizeof(method), "X%02d", i);
    cr_assert_eq(api__router_add(r, method, "/x", NULL, err, sizeof(err)), 0, "%s", err);
  }
  cr_assert_eq(api__router_add(r, "Y", "/x", NULL, err, sizeof(err)), API_EINVAL);
  cr_assert(strstr(err, "methods"), "%s", err);
  cr_assert_eq(api__router_add(r, "X00", "/y", NULL, err, sizeof(err)), 0);
  cr_assert_eq(api__router_freeze(r), 0);
  api__match m;
  cr_assert_eq(find(r, "PATCH", "/x", &m), API_EMETHOD);
  cr_assert(strncmp(m.allow, "GET, HEAD, OPTIONS, X00, X01, ", 30) == 0, "%s", m.allow);
  cr_assert(strstr(m.allow, ", X56") && strlen(strstr(m.allow, ", X56")) == 5, "%s", m.allow);
  cr_assert_eq(find(r, "X56", "/x", &m), 0);
  api__router_free(r);
}

Test(router, very_long_paths) {
  size_t n = 64 * 1024;
  char *path = malloc(n + 1);
  cr_assert(path);
  memcpy(path, "/files/", 7);
  for (size_t i = 7; i < n; i++) path[i] = (i % 17 == 0) ? '/' : (char)('a' + i % 26);
  path[n] = '\0';
  api__router *r = BUILD("GET /files/*path", "GET /one/:seg", "GET /files/a/b");
  api__match m;
  hit(r, "GET", path, "GET /files/*path", &m);
  cr_assert_eq(m.params[0].value, path + 7);
  cr_assert_eq(m.params[0].value_len, n - 7);

  memcpy(path, "/one/", 5);
  for (size_t i = 5; i < n; i++) path[i] = 'x';
  hit(r, "GET", path, "GET /one/:seg", &m);
  cr_assert_eq(m.params[0].value_len, n - 5);
  path[n - 1] = '/';
  miss(r, "GET", path);
  for (size_t i = 0; i < n; i++) path[i] = '/';
  miss(r, "GET", path);
  api__router_free(r);

  /* A 64 KiB static pattern. */
  path[0] = '/';
  for (size_t i = 1; i < n; i++) path[i] = (i % 100 == 0) ? '/' : 'p';
  api__router *r2;
  char err[256];
  cr_assert_eq(api__router_new(&r2), 0);
  cr_assert_eq(api__router_add(r2, "GET", path, path, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(api__router_freeze(r2), 0);
  cr_assert_eq(api__router_find(r2, "GET", 3, path, n, &m), 0);
  cr_assert_eq(api__router_find(r2, "GET", 3, path, n - 1, &m), API_ENOTFOUND);
  path[n - 1] = 'q';
  cr_assert_eq(api__router_find(r2, "GET", 3, path, n, &m), API_ENOTFOUND);
  api__router_free(r2);
  free(path);
}

Test(router, deep_patterns) {
  /* 200 segments, static; then the same depth with 16 parameters spread through it. */
  char pat[4096] = "", path[4096] = "";
  for (int i = 0; i < 200; i++) snprintf(pat + strlen(pat), 16, "/s%d", i);
  api__router *r;
  char err[256];
  cr_assert_eq(api__router_new(&r), 0);
  cr_assert_eq(api__router_add(r, "GET", pat, "static", err, sizeof(err)), 0, "%s", err);
  char pat2[4096] = "";
  int np = 0;
  for (int i = 0; i < 200; i++) {
    if (i % 12 == 5 && np < API__MAX_PARAMS) {
      snprintf(pat2 + strlen(pat2), 16, "/:p%d", np++);
    } else {
      snprintf(pat2 + strlen(pat2), 16, "/s%d", i);
    }
  }
  cr_assert_eq(np, API__MAX_PARAMS);
  cr_assert_eq(api__router_add(r, "GET", pat2, "params", err, sizeof(err)), 0, "%s", err);
  /* Every prefix is a route too, so the tree is 200 nodes deep. */
  char prefix[4096] = "";
  for (int i = 0; i < 199; i++) {
    snprintf(prefix + strlen(prefix), 16, "/s%d", i);
    cr_assert_eq(api__router_add(r, "POST", prefix, NULL, err, sizeof(err)), 0, "%s", err);
  }
  cr_assert_eq(api__router_freeze(r), 0);
  api__match m;
  cr_assert_eq(find(r, "GET", pat, &m), 0);
  cr_assert_str_eq((const char *)m.route, "static");
  cr_assert_eq(m.nparams, 0);
  for (int i = 0; i < 200; i++) {
    if (i % 12 == 5 && i / 12 < API__MAX_PARAMS)
      snprintf(path + strlen(path), 16, "/v%d", i);
    else
      snprintf(path + strlen(path), 16, "/s%d", i);
  }
  cr_assert_eq(find(r, "GET", path, &m), 0);
  cr_assert_str_eq((const char *)m.route, "params");
  cr_assert_eq(m.nparams, API__MAX_PARAMS);
  param(&m, 0, "p0", "v5");
  param(&m, 15, "p15", "v185");
  cr_assert_eq(find(r, "GET", prefix, &m), API_EMETHOD);
  cr_assert_str_eq(m.allow, "OPTIONS, POST");
  path[strlen(path) - 1] = 'x';
  miss(r, "GET", path);
  api__router_free(r);
}

/* ---- memory failures ---- */

static const char *const seq[] = {
    "GET /users/all",
    "GET /users",
    "GET /user",
    "GET /u",
    "GET /users/:id",
    "POST /users/new",
    "GET /users/:id/x/:y",
    "DELETE /users/:id",
    "PURGE /cache/*path",
    "GET /files/*path",
    "OPTIONS /*any",
    "HEAD /users/:id",
    "GET /v1/users:batch",
    "BREW /users/new/pot",
    "GET /",
    "GET /users/new/edit",
};
#define NSEQ (sizeof(seq) / sizeof(*seq))

static void check_seq(const api__router *r) {
  api__match m;
  hit(r, "GET", "/users/all", "GET /users/all", &m);
  hit(r, "GET", "/users", "GET /users", &m);
  hit(r, "GET", "/user", "GET /user", &m);
  hit(r, "GET", "/u", "GET /u", &m);
  hit(r, "GET", "/users/new", "GET /users/:id", &m);
  hit(r, "GET", "/users/new/edit", "GET /users/new/edit", &m);
  hit(r, "GET", "/users/new/x/1", "GET /users/:id/x/:y", &m);
  param(&m, 1, "y", "1");
  hit(r, "HEAD", "/users/2", "HEAD /users/:id", &m);
  hit(r, "HEAD", "/users/all", "GET /users/all", &m);
  hit(r, "OPTIONS", "/whatever", "OPTIONS /*any", &m);
  hit(r, "BREW", "/users/new/pot", "BREW /users/new/pot", &m);
  hit(r, "GET", "/", "GET /", &m);
  not_allowed(r, "PUT", "/users/new", "DELETE, GET, HEAD, OPTIONS, POST");
  not_allowed(r, "GET", "/cache/a", "OPTIONS, PURGE");
  /* The OPTIONS catch-all makes every path exist. */
  not_allowed(r, "GET", "/nothing", "OPTIONS");
}

Test(router, allocation_failures) {
  bool done = false;
  for (long n = 0; !done; n++) {
    cr_assert_lt(n, 10000, "never succeeded");
    bool failed[NSEQ] = {false}, any = false;
    api__alloc_fail_after(n);
    api__router *r = NULL;
    int rc = api__router_new(&r);
    if (rc) {
      cr_assert_eq(rc, API_ENOMEM);
      cr_assert_null(r);
      api__alloc_fail_after(-1);
      continue;
    }
    char err[256];
    /* Keep going after a failure: later adds run against whatever a failed one left behind. */
    for (size_t i = 0; i < NSEQ; i++) {
      rc = add(r, seq[i], err, sizeof(err));
      cr_assert(rc == 0 || rc == API_ENOMEM, "%s: %d", seq[i], rc);
      if (rc) failed[i] = any = true;
    }
    rc = api__router_freeze(r);
    cr_assert(rc == 0 || rc == API_ENOMEM);
    bool frozen = rc == 0;
    api__alloc_fail_after(-1);
    if (!any && frozen) {
      done = true;
    } else if (!frozen) {
      /* A failed add left nothing registered: adding it again works, and so does the rest. */
      for (size_t i = 0; i < NSEQ; i++)
        if (failed[i]) cr_assert_eq(add(r, seq[i], err, sizeof(err)), 0, "%s: %s", seq[i], err);
      for (size_t i = 0; i < NSEQ; i++)
        cr_assert_eq(add(r, seq[i], err, sizeof(err)), API_EEXIST, "%s", seq[i]);
      cr_assert_eq(api__router_freeze(r), 0);
    }
    if (!any) check_seq(r);
    api__router_free(r);
  }
}

Test(router, allocation_failures_in_freeze_and_partial_adds) {
  /* Fail each allocation of one add into a populated router, then check nothing else moved. */
  for (long n = 0;; n++) {
    api__router *r;
    char err[256];
    cr_assert_eq(api__router_new(&r), 0);
    for (size_t i = 0; i < NSEQ; i++) {
      if (strcmp(seq[i], "GET /users/:id/x/:y") == 0) continue;
      cr_assert_eq(add(r, seq[i], err, sizeof(err)), 0);
    }
    api__alloc_fail_after(n);
    int rc = add(r, "GET /users/:id/x/:y", err, sizeof(err));
    api__alloc_fail_after(-1);
    if (rc) {
      cr_assert_eq(rc, API_ENOMEM);
      cr_assert(strstr(err, "out of memory"), "%s", err);
      cr_assert_eq(add(r, "GET /users/:id/x/:y", err, sizeof(err)), 0, "%s", err);
    }
    api__alloc_fail_after(n);
    rc = api__router_freeze(r);
    api__alloc_fail_after(-1);
    if (rc) {
      cr_assert_eq(rc, API_ENOMEM);
      api__match m;
      cr_assert_eq(find(r, "GET", "/u", &m), API_ESTATE);
      cr_assert_eq(api__router_freeze(r), 0);
    }
    check_seq(r);
    api__router_free(r);
    if (n > 40) break;
  }
}

/* ---- a differential test against a naive matcher ---- */

/* Patterns and paths are built from a few segments so that routes overlap a lot. */
typedef struct ref_route {
  char method[8];
  char pattern[64];
  bool ok;
} ref_route;

static unsigned long rng_state;
static unsigned rnd(unsigned n) {
  rng_state = rng_state * 6364136223846793005ul + 1442695040888963407ul;
  return (unsigned)((rng_state >> 33) % n);
}

/* Split s after its leading '/' into segments; returns the count. */
static int segs(const char *s, const char *seg[], size_t len[], int max) {
  int n = 0;
  const char *p = s + 1;
  for (;;) {
    const char *e = strchr(p, '/');
    if (n == max) return -1;
    seg[n] = p;
    len[n] = e ? (size_t)(e - p) : strlen(p);
    n++;
    if (!e) break;
    p = e + 1;
  }
  return n;
}

/* Whether pattern matches path; rank[] gets the kind of each pattern segment (0 static, 1 param,
 * 2 wildcard), the order in which the router must prefer them. */
static bool ref_match(const char *pattern, const char *path, int rank[16], int *nrank,
                      const char *val[16], size_t vlen[16], unsigned *nval) {
  const char *ps[16], *qs[16];
  size_t pl[16], ql[16];
  int np = segs(pattern, ps, pl, 16), nq = segs(path, qs, ql, 16);
  cr_assert(np > 0 && nq > 0);
  *nval = 0;
  *nrank = np;
  for (int i = 0; i < np; i++) {
    if (pl[i] && ps[i][0] == '*') {
      rank[i] = 2;
      if (i >= nq) return false;
      val[*nval] = qs[i];
      vlen[(*nval)++] = strlen(qs[i]);
      return true;
    }
    if (i >= nq) return false;
    if (pl[i] && ps[i][0] == ':') {
      rank[i] = 1;
      if (!ql[i]) return false;
      val[*nval] = qs[i];
      vlen[(*nval)++] = ql[i];
    } else {
      rank[i] = 0;
      if (pl[i] != ql[i] || memcmp(ps[i], qs[i], pl[i])) return false;
    }
  }
  return np == nq;
}

static int rank_cmp(const int *a, int na, const int *b, int nb) {
  for (int i = 0; i < na && i < nb; i++)
    if (a[i] != b[i]) return a[i] - b[i];
  return 0; /* two matching patterns of one shape are the same route */
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void ref_check(const api__router *r, ref_route *routes, int nroutes, const char *method,
                      const char *path) {
  int best = -1, best_rank[16], best_n = 0;
  const char *names[16];
  int nnames = 0;
  bool is_head = strcmp(method, "HEAD") == 0;
  for (int i = 0; i < nroutes; i++) {
    if (!routes[i].ok) continue;
    int rank[16], nrank;
    const char *val[16];
    size_t vlen[16];
    unsigned nval;
    if (!ref_match(routes[i].pattern, path, rank, &nrank, val, vlen, &nval)) continue;
    bool seen = false;
    for (int k = 0; k < nnames; k++) seen |= strcmp(names[k], routes[i].method) == 0;
    if (!seen) names[nnames++] = routes[i].method;
    bool eligible =
        strcmp(routes[i].method, method) == 0 || (is_head && strcmp(routes[i].method, "GET") == 0);
    if (!eligible) continue;
    int c = best < 0 ? -1 : rank_cmp(rank, nrank, best_rank, best_n);
    /* Same shape: HEAD's own route beats GET's. */
    if (c < 0 || (c == 0 && strcmp(routes[i].method, method) == 0)) {
      best = i;
      memcpy(best_rank, rank, sizeof(rank));
      best_n = nrank;
    }
  }
  api__match m;
  int rc = find(r, method, path, &m);
  if (best >= 0) {
    cr_assert_eq(rc, 0, "%s %s: rc %d, wanted %s %s", method, path, rc, routes[best].method,
                 routes[best].pattern);
    cr_assert_eq(m.route, &routes[best], "%s %s: got %s, wanted %s %s", method, path, m.pattern,
                 routes[best].method, routes[best].pattern);
    int rank[16], nrank;
    const char *val[16];
    size_t vlen[16];
    unsigned nval;
    ref_match(routes[best].pattern, path, rank, &nrank, val, vlen, &nval);
    cr_assert_eq(m.nparams, nval);
    for (unsigned i = 0; i < nval; i++) {
      cr_assert_eq(m.params[i].value, val[i], "%s %s param %u", method, path, i);
      cr_assert_eq(m.params[i].value_len, vlen[i], "%s %s param %u", method, path, i);
    }
    return;
  }
  if (!nnames) {
    cr_assert_eq(rc, API_ENOTFOUND, "%s %s: rc %d", method, path, rc);
    return;
  }
  bool has_get = false, has_head = false, has_options = false;
  for (int k = 0; k < nnames; k++) {
    has_get |= strcmp(names[k], "GET") == 0;
    has_head |= strcmp(names[k], "HEAD") == 0;
    has_options |= strcmp(names[k], "OPTIONS") == 0;
  }
  if (has_get && !has_head) names[nnames++] = "HEAD";
  if (!has_options) names[nnames++] = "OPTIONS";
  qsort(names, (size_t)nnames, sizeof(*names), cmp_str);
  char allow[256] = "";
  for (int k = 0; k < nnames; k++) {
    if (k) strcat(allow, ", ");
    strcat(allow, names[k]);
  }
  cr_assert_eq(rc, strcmp(method, "OPTIONS") == 0 ? API__ROUTE_OPTIONS : API_EMETHOD,
               "%s %s: rc %d", method, path, rc);
  cr_assert_str_eq(m.allow, allow, "%s %s", method, path);
}

Test(router, differential_against_naive_matcher) {
  static const char *const methods[] = {"GET", "POST", "HEAD", "OPTIONS", "PURGE"};
  static const char *const pseg[] = {"a", "b", "ab", "a%2F", ":", ":", "*", ""};
  static const char *const qseg[] = {"a", "b", "ab", "a%2F", "c", "", "abc"};
  rng_state = 12345;
  for (int round = 0; round < 300; round++) {
    ref_route routes[40];
    int nroutes = 1 + (int)rnd(40);
    api__router *r;
    cr_assert_eq(api__router_new(&r), 0);
    for (int i = 0; i < nroutes; i++) {
      ref_route *rt = &routes[i];
      snprintf(rt->method, sizeof(rt->method), "%s", methods[rnd(5)]);
      int n = 1 + (int)rnd(4);
      rt->pattern[0] = '\0';
      for (int k = 0; k < n; k++) {
        const char *s = pseg[rnd(8)];
        size_t len = strlen(rt->pattern);
        if (s[0] == ':')
          snprintf(rt->pattern + len, sizeof(rt->pattern) - len, "/:p%d%d", k, (int)rnd(3));
        else if (s[0] == '*')
          snprintf(rt->pattern + len, sizeof(rt->pattern) - len, "/*w%d", (int)rnd(3));
        else
          snprintf(rt->pattern + len, sizeof(rt->pattern) - len, "/%s", s);
      }
      /* What the router must say: malformed, duplicate, or fine. */
      bool malformed = strstr(rt->pattern, "//") != NULL;
      const char *w = strchr(rt->pattern, '*');
      if (w && strchr(w, '/')) malformed = true;
      bool dup = false;
      for (int j = 0; j < i && !malformed; j++) {
        if (!routes[j].ok || strcmp(routes[j].method, rt->method)) continue;
        /* Same shape: segment for segment the same kind, and the same text where static. */
        const char *as[16], *bs[16];
        size_t al[16], bl[16];
        int sa = segs(rt->pattern, as, al, 16), sb = segs(routes[j].pattern, bs, bl, 16);
        if (sa != sb) continue;
        bool same = true;
        for (int k = 0; k < sa && same; k++) {
          char ka = al[k] && (as[k][0] == ':' || as[k][0] == '*') ? as[k][0] : 0;
          char kb = bl[k] && (bs[k][0] == ':' || bs[k][0] == '*') ? bs[k][0] : 0;
          same = ka == kb && (ka || (al[k] == bl[k] && memcmp(as[k], bs[k], al[k]) == 0));
        }
        dup |= same;
      }
      char err[256];
      int rc = api__router_add(r, rt->method, rt->pattern, rt, err, sizeof(err));
      int want = malformed ? API_EINVAL : dup ? API_EEXIST : 0;
      /* A repeated name is malformed too; let the router tell, and check it said why. */
      if (rc == API_EINVAL && !malformed) {
        cr_assert(strstr(err, "used twice"), "%s %s: %s", rt->method, rt->pattern, err);
        want = API_EINVAL;
      }
      cr_assert_eq(rc, want, "%s %s: rc %d, wanted %d (%s)", rt->method, rt->pattern, rc, want,
                   err);
      rt->ok = rc == 0;
    }
    cr_assert_eq(api__router_freeze(r), 0);
    for (int q = 0; q < 60; q++) {
      char path[64] = "";
      int n = 1 + (int)rnd(5);
      for (int k = 0; k < n; k++) {
        size_t len = strlen(path);
        snprintf(path + len, sizeof(path) - len, "/%s", qseg[rnd(7)]);
      }
      static const char *const qmethods[] = {"GET", "POST", "HEAD", "OPTIONS", "PURGE", "PUT"};
      ref_check(r, routes, nroutes, qmethods[rnd(6)], path);
    }
    api__router_free(r);
  }
}

Test(router, allow_unions_past_the_precomputed_cap) {
  /* 12 single-method routes give 4095 possible unions, more than freeze precomputes; a path that
     co-matches several then gets either its exact list or the router's full list, never junk. */
  api__router *r;
  char err[256], method[8], pat[16];
  cr_assert_eq(api__router_new(&r), 0);
  for (int i = 0; i < 12; i++) {
    snprintf(method, sizeof(method), "X%02d", i);
    snprintf(pat, sizeof(pat), "/n%d", i);
    cr_assert_eq(api__router_add(r, method, pat, NULL, err, sizeof(err)), 0);
  }
  cr_assert_eq(api__router_add(r, "GET", "/*w", NULL, err, sizeof(err)), 0);
  cr_assert_eq(api__router_add(r, "POST", "/:p", NULL, err, sizeof(err)), 0);
  cr_assert_eq(api__router_freeze(r), 0);
  api__match m;
  cr_assert_eq(find(r, "PUT", "/n3/x", &m), API_EMETHOD);
  cr_assert_str_eq(m.allow, "GET, HEAD, OPTIONS");
  cr_assert_eq(find(r, "PUT", "/n3", &m), API_EMETHOD);
  const char *full =
      "GET, HEAD, OPTIONS, POST, X00, X01, X02, X03, X04, X05, X06, X07, X08, X09, X10, X11";
  cr_assert(strcmp(m.allow, "GET, HEAD, OPTIONS, POST, X03") == 0 || strcmp(m.allow, full) == 0,
            "%s", m.allow);
  cr_assert_eq(find(r, "X11", "/n11", &m), 0);
  api__router_free(r);
}
