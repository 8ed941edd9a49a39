/*
 * The principal: who the request is from, whatever method authenticated it. It lives in request
 * memory under a request local whose key is this file's own static address.
 */
#include <string.h>

#include "auth/authmw_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"

static const char principal_key;
static const char ctx_key;

const api_principal *api_req_principal(const api_req *req) {
  return req ? api_req_local(req, &principal_key) : NULL;
}

/* A NULL-terminated copy of list in request memory. */
static const char *const *req_strv(api_req *req, const char *const *list) {
  size_t n = 0;
  while (list && list[n]) n++;
  const char **v = api_req_alloc(req, (n + 1) * sizeof(*v));
  if (!v) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!(v[i] = api_req_strdup(req, list[i]))) return NULL;
  v[n] = NULL;
  return v;
}

static void claims_decref(void *p) { json_decref(p); }

int api_req_set_principal(api_req *req, const api_principal *p) {
  if (!req || !p || p->size < sizeof(api_principal) || !p->subject)
    return api__fail(API_EINVAL, "api_req_set_principal: NULL, bad size or no subject");
  api_principal *c = api_req_alloc(req, sizeof(*c));
  if (!c) return API_ENOMEM;
  *c = (api_principal){.size = sizeof(*c), .method = p->method};
  if (!(c->subject = api_req_strdup(req, p->subject))) return API_ENOMEM;
  if (!(c->roles = req_strv(req, p->roles)) || !(c->scopes = req_strv(req, p->scopes)))
    return API_ENOMEM;
  if (p->key_id && !(c->key_id = api_req_strdup(req, p->key_id))) return API_ENOMEM;
  if (p->rate_limit_key) {
    c->rate_limit_key = api_req_strdup(req, p->rate_limit_key);
  } else {
    size_t n = strlen(p->subject);
    char *k = api_req_alloc(req, n + 5);
    if (k) {
      memcpy(k, "sub:", 4);
      memcpy(k + 4, p->subject, n + 1);
    }
    c->rate_limit_key = k;
  }
  if (!c->rate_limit_key) return API_ENOMEM;
  if (p->claims) {
    if (api_req_on_free(req, claims_decref, p->claims) != 0) return API_ENOMEM;
    c->claims = json_incref(p->claims);
  }
  int rc = api_req_set_user(req, c->subject);
  if (rc) return rc;
  return api_req_set_local(req, &principal_key, c);
}

static int in_list(const char *const *list, const char *s) {
  if (!list || !s) return 0;
  for (size_t i = 0; list[i]; i++)
    if (strcmp(list[i], s) == 0) return 1;
  return 0;
}

int api_req_has_role(const api_req *req, const char *role) {
  const api_principal *p = api_req_principal(req);
  return p ? in_list(p->roles, role) : 0;
}

int api_req_has_scope(const api_req *req, const char *scope) {
  const api_principal *p = api_req_principal(req);
  return p ? in_list(p->scopes, scope) : 0;
}

/* ---- challenges ---- */

api__auth_ctx *api__auth_ctx_get(api_req *req) {
  api__auth_ctx *c = api_req_local(req, &ctx_key);
  if (c) return c;
  if (!(c = api_req_alloc(req, sizeof(*c)))) return NULL;
  memset(c, 0, sizeof(*c));
  if (api_req_set_local(req, &ctx_key, c) != 0) return NULL;
  return c;
}

int api__auth_offer(api_req *req, const char *challenge) {
  api__auth_ctx *c = api__auth_ctx_get(req);
  if (!c) return API_ENOMEM;
  for (size_t i = 0; i < c->n; i++)
    if (c->challenges[i] == challenge) return 0;
  if (c->n < API__AUTH_MAX_CHALLENGES) c->challenges[c->n++] = challenge;
  return 0;
}

int api__auth_refuse(api_req *req, int err, const char *challenge) {
  api__auth_ctx *c = api__auth_ctx_get(req);
  if (!c) return API_ENOMEM;
  if (!(c->error_challenge = api_req_strdup(req, challenge))) return API_ENOMEM;
  c->error_status = api_err_status(err);
  return err;
}

int api__auth_on_send(api_req *req, api_res *res, void *user_data) {
  (void)user_data;
  const api__auth_ctx *c = api_req_local(req, &ctx_key);
  if (!c) return API_NEXT;
  int status = api_res_get_status(res);
  if (c->error_challenge && status == c->error_status) {
    api_res_header_remove(res, "WWW-Authenticate");
    return api_res_header(res, "WWW-Authenticate", c->error_challenge);
  }
  if (status != 401 || api_res_get_header(res, "WWW-Authenticate")) return API_NEXT;
  for (size_t i = 0; i < c->n; i++) {
    int rc = api_res_header_add(res, "WWW-Authenticate", c->challenges[i]);
    if (rc) return rc;
  }
  return API_NEXT;
}

/* ---- helpers ---- */

bool api__auth_quotable(const char *s) {
  if (!s || !*s) return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
      return false;
  return true;
}

char **api__auth_strv_dup(const char *const *list) {
  size_t n = 0, bytes = 0;
  while (list && list[n]) bytes += strlen(list[n++]) + 1;
  char **v = api__malloc((n + 1) * sizeof(*v) + bytes);
  if (!v) return NULL;
  char *p = (char *)(v + n + 1);
  for (size_t i = 0; i < n; i++) {
    size_t k = strlen(list[i]) + 1;
    memcpy(p, list[i], k);
    v[i] = p;
    p += k;
  }
  v[n] = NULL;
  return v;
}

void api__auth_hex(char *out, const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}
