/*
 * Guards: roles, scopes and permissions demanded by a route or a group, for any authentication
 * method. 401 says "who are you?", 403 "not you": a guard never turns one into the other.
 */
#include <stdio.h>
#include <string.h>

#include "auth/authmw_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"

/* ---- the role -> permissions map ---- */

typedef struct rbac_role {
  char *role;
  char **perms; /* NULL-terminated, one block */
} rbac_role;

struct api_rbac {
  rbac_role *roles;
  size_t n;
};

static void rbac_free(void *p) {
  api_rbac *r = p;
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    api__free(r->roles[i].role);
    api__free(r->roles[i].perms);
  }
  api__free(r->roles);
  api__free(r);
}

int api_rbac_new(api_app *app, const api_role_permissions *map, api_rbac **out) {
  if (!app || !map || !out) return api__fail(API_EINVAL, "api_rbac_new: NULL argument");
  size_t n = 0;
  for (; map[n].role; n++) {
    if (!*map[n].role) return api__fail(API_EINVAL, "api_rbac_new: entry %zu: empty role", n);
    for (size_t k = 0; map[n].permissions && map[n].permissions[k]; k++)
      if (!*map[n].permissions[k])
        return api__fail(API_EINVAL, "api_rbac_new: role \"%.100s\": empty permission",
                         map[n].role);
  }
  api_rbac *r = api__calloc(1, sizeof(*r));
  if (!r || (n && !(r->roles = api__calloc(n, sizeof(*r->roles))))) {
    api__free(r);
    return API_ENOMEM;
  }
  for (; r->n < n; r->n++) {
    rbac_role *e = &r->roles[r->n];
    if (!(e->role = api__strdup(map[r->n].role)) ||
        !(e->perms = api__auth_strv_dup(map[r->n].permissions))) {
      r->n++;
      rbac_free(r);
      return API_ENOMEM;
    }
  }
  int rc = api_app_on_free(app, rbac_free, r);
  if (rc) return rc;
  *out = r;
  return 0;
}

static int principal_has_permission(const api_principal *p, const api_rbac *rbac,
                                    const char *perm) {
  if (!p || !rbac || !perm) return 0;
  for (size_t i = 0; p->roles[i]; i++)
    for (size_t k = 0; k < rbac->n; k++) {
      if (strcmp(rbac->roles[k].role, p->roles[i]) != 0) continue;
      for (char **q = rbac->roles[k].perms; *q; q++)
        if (strcmp(*q, perm) == 0) return 1;
    }
  return 0;
}

int api_req_has_permission(const api_req *req, const api_rbac *rbac, const char *permission) {
  return principal_has_permission(api_req_principal(req), rbac, permission);
}

/* ---- the guard ---- */

typedef struct guard {
  char **roles, **scopes, **perms;
  const api_rbac *rbac;
  int any;
  char *scope_list; /* "a b" or NULL */
} guard;

static void guard_free(void *p) {
  guard *g = p;
  if (!g) return;
  api__free(g->roles);
  api__free(g->scopes);
  api__free(g->perms);
  api__free(g->scope_list);
  api__free(g);
}

static int in(const char *const *list, const char *s) {
  for (size_t i = 0; list[i]; i++)
    if (strcmp(list[i], s) == 0) return 1;
  return 0;
}

/* Counts what is required and what of it is held. */
static bool allowed(const guard *g, const api_principal *p) {
  size_t need = 0, have = 0;
  for (char **r = g->roles; *r; r++, need++) have += (size_t)in(p->roles, *r);
  for (char **s = g->scopes; *s; s++, need++) have += (size_t)in(p->scopes, *s);
  for (char **q = g->perms; *q; q++, need++)
    have += (size_t)principal_has_permission(p, g->rbac, *q);
  if (need == 0) return true;
  return g->any ? have > 0 : have == need;
}

static int guard_pre_handler(api_req *req, api_res *res, void *user_data) {
  (void)res;
  const guard *g = user_data;
  const api_principal *p = api_req_principal(req);
  if (!p) return API_EUNAUTHORIZED;
  if (allowed(g, p)) return API_NEXT;
  if (p->method != API_AUTH_BEARER) return API_EFORBIDDEN;
  const api__auth_ctx *ctx = api__auth_ctx_get(req);
  if (!ctx) return API_ENOMEM;
  const char *realm = ctx->bearer_realm ? ctx->bearer_realm : "api";
  size_t n = strlen(realm) + (g->scope_list ? strlen(g->scope_list) : 0) + 64;
  char *buf = api_req_alloc(req, n);
  if (!buf) return API_ENOMEM;
  int k = snprintf(buf, n, "Bearer realm=\"%s\", error=\"insufficient_scope\"", realm);
  if (g->scope_list) snprintf(buf + k, n - (size_t)k, ", scope=\"%s\"", g->scope_list);
  return api__auth_refuse(req, API_EFORBIDDEN, buf);
}

static int check_names(const char *const *list, const char *what) {
  for (size_t i = 0; list && list[i]; i++)
    if (!api__auth_quotable(list[i]) || strlen(list[i]) > 256 || strchr(list[i], ' ') != NULL)
      return api__fail(API_EINVAL,
                       "api_mw_require: %s: \"%.100s\" is empty, over 256 bytes, or has a space, "
                       "'\"', '\\' or a control character",
                       what, list[i]);
  return 0;
}

int api_mw_require(api_app *app, const api_require_options *opts, api_middleware *out) {
  if (!app || !opts || !out) return api__fail(API_EINVAL, "api_mw_require: NULL argument");
  if (opts->size < sizeof(*opts))
    return api__fail(API_EINVAL, "api_mw_require: options not built with API_REQUIRE");
  if (opts->permissions && opts->permissions[0] && !opts->rbac)
    return api__fail(API_EINVAL, "api_mw_require: permissions: needs rbac (api_rbac_new)");
  int rc;
  if ((rc = check_names(opts->roles, "roles")) || (rc = check_names(opts->scopes, "scopes")) ||
      (rc = check_names(opts->permissions, "permissions")))
    return rc;
  guard *g = api__calloc(1, sizeof(*g));
  if (!g) return API_ENOMEM;
  g->rbac = opts->rbac;
  g->any = opts->any;
  if (!(g->roles = api__auth_strv_dup(opts->roles)) ||
      !(g->scopes = api__auth_strv_dup(opts->scopes)) ||
      !(g->perms = api__auth_strv_dup(opts->permissions))) {
    guard_free(g);
    return API_ENOMEM;
  }
  if (g->scopes[0]) {
    size_t n = 1;
    for (char **s = g->scopes; *s; s++) n += strlen(*s) + 1;
    if (!(g->scope_list = api__malloc(n))) {
      guard_free(g);
      return API_ENOMEM;
    }
    char *p = g->scope_list;
    for (char **s = g->scopes; *s; s++) {
      if (p != g->scope_list) *p++ = ' ';
      size_t k = strlen(*s);
      memcpy(p, *s, k);
      p += k;
    }
    *p = '\0';
  }
  if ((rc = api_app_on_free(app, guard_free, g)) != 0) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "require",
                          .pre_handler = guard_pre_handler,
                          .on_send = api__auth_on_send,
                          .user_data = g,
                          .security_scopes = (const char *const *)g->scopes};
  return 0;
}
