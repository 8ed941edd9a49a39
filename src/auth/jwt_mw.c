/*
 * JWT bearer authentication (RFC 6750). The Authorization field is parsed strictly: one field,
 * the scheme, spaces, one b64token and nothing else, so that a proxy, a WAF and this server all
 * read the same token. The client only ever sees the fixed descriptions of api_jwt_error; the
 * verifier's detailed message goes to the request's log.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/authmw_internal.h"
#include "core/error_internal.h"
#include "libapi/log.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"

typedef struct jwt_mw {
  const api_jwt_keyset *keys;
  api_jwt_verify_options verify;
  char *issuer, *subject, *typ;
  char **audiences, **required;
  char *realm;
  char *challenge; /* Bearer realm="..." */
  char *cookie;
  char *roles_claim;
  int optional;
} jwt_mw;

static void jwt_mw_free(void *p) {
  jwt_mw *s = p;
  if (!s) return;
  api__free(s->issuer);
  api__free(s->subject);
  api__free(s->typ);
  api__free(s->audiences);
  api__free(s->required);
  api__free(s->realm);
  api__free(s->challenge);
  api__free(s->cookie);
  api__free(s->roles_claim);
  api__free(s);
}

/* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool b64token(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    char c = s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '+' || c == '/')
      i++;
    else
      break;
  }
  if (i == 0) return false;
  while (i < n && s[i] == '=') i++;
  return i == n;
}

static int refuse(api_req *req, const jwt_mw *s, int err, const char *error, const char *desc) {
  char buf[512];
  snprintf(buf, sizeof(buf), "Bearer realm=\"%s\", error=\"%s\", error_description=\"%s\"",
           s->realm, error, desc);
  return api__auth_refuse(req, err, buf);
}

/* "a b c" or ["a", "b"] appended to v (request memory); *n counts. */
static int collect(api_req *req, const json_t *j, const char ***v, size_t *n, size_t *cap) {
  const char *words[64];
  size_t nw = 0;
  const char *buf = NULL;
  if (json_is_string(j)) {
    buf = api_req_strdup(req, json_string_value(j));
    if (!buf) return API_ENOMEM;
    if (strlen(buf) != json_string_length(j)) return 0; /* embedded NUL: ignore the claim */
    char *p = (char *)buf;
    while (*p) {
      while (*p == ' ') *p++ = '\0';
      if (!*p) break;
      if (nw < 64) words[nw++] = p;
      while (*p && *p != ' ') p++;
    }
  } else if (json_is_array(j)) {
    size_t i;
    const json_t *e;
    json_array_foreach(j, i, e) {
      if (json_is_string(e) && json_string_length(e) > 0 &&
          strlen(json_string_value(e)) == json_string_length(e) && nw < 64)
        words[nw++] = json_string_value(e);
    }
  }
  for (size_t i = 0; i < nw; i++) {
    if (*n + 2 > *cap) {
      size_t nc = *cap ? *cap * 2 : 8;
      const char **nv = api_req_alloc(req, nc * sizeof(*nv));
      if (!nv) return API_ENOMEM;
      if (*n) memcpy(nv, *v, *n * sizeof(*nv));
      *v = nv;
      *cap = nc;
    }
    (*v)[(*n)++] = words[i];
    (*v)[*n] = NULL;
  }
  return 0;
}

static int authenticate(api_req *req, const jwt_mw *s, const json_t *claims) {
  const json_t *sub = json_object_get(claims, "sub");
  if (!sub)
    return refuse(req, s, API_EUNAUTHORIZED, "invalid_token",
                  api_jwt_error_description(API_JWT_MISSING_CLAIM));
  if (!json_is_string(sub) || json_string_length(sub) == 0 ||
      strlen(json_string_value(sub)) != json_string_length(sub))
    return refuse(req, s, API_EUNAUTHORIZED, "invalid_token",
                  api_jwt_error_description(API_JWT_BAD_CLAIM));
  const char **roles = NULL, **scopes = NULL;
  size_t nr = 0, cr = 0, ns = 0, cs = 0;
  int rc = collect(req, json_object_get(claims, s->roles_claim), &roles, &nr, &cr);
  const json_t *scope = json_object_get(claims, "scope");
  if (!rc) rc = collect(req, scope ? scope : json_object_get(claims, "scp"), &scopes, &ns, &cs);
  if (rc) return rc;
  return api_req_set_principal(req, &(api_principal){.size = sizeof(api_principal),
                                                     .method = API_AUTH_BEARER,
                                                     .subject = json_string_value(sub),
                                                     .roles = roles,
                                                     .scopes = scopes,
                                                     .claims = (json_t *)claims});
}

static int jwt_pre_handler(api_req *req, api_res *res, void *user_data) {
  (void)res;
  const jwt_mw *s = user_data;
  api__auth_ctx *ctx = api__auth_ctx_get(req);
  if (!ctx) return API_ENOMEM;
  ctx->bearer_realm = s->realm;
  int rc = api__auth_offer(req, s->challenge);
  if (rc) return rc;

  const char *token = NULL;
  size_t len = 0;
  const char *h = api_req_header(req, "Authorization");
  if (h && api_req_header_n(req, "Authorization", 1))
    return refuse(req, s, API_EBADREQ, "invalid_request", "More than one Authorization field");
  if (h) {
    size_t scheme = strcspn(h, " ");
    if (scheme == 6 && strncasecmp(h, "Bearer", 6) == 0) {
      const char *t = h + 6;
      while (*t == ' ') t++;
      len = strlen(t);
      if (t == h + 6 || len == 0)
        return refuse(req, s, API_EBADREQ, "invalid_request", "The bearer token is missing");
      if (!b64token(t, len))
        return refuse(req, s, API_EBADREQ, "invalid_request",
                      "The Authorization field is not Bearer followed by one token");
      token = t;
    }
  }
  if (!token && s->cookie) {
    const char *c = api_req_cookie(req, s->cookie);
    if (c && *c) {
      len = strlen(c);
      if (!b64token(c, len))
        return refuse(req, s, API_EUNAUTHORIZED, "invalid_token",
                      api_jwt_error_description(API_JWT_MALFORMED));
      token = c;
    }
  }
  if (!token) {
    if (s->optional || api_req_principal(req)) return API_NEXT;
    return API_EUNAUTHORIZED; /* the plain challenge, added in on_send */
  }

  api_jwt_result r = {0};
  rc = api_jwt_verify(s->keys, token, len, &s->verify, &r);
  if (rc == 0) {
    rc = authenticate(req, s, r.claims);
  } else if (rc == API_EUNAUTHORIZED) {
    api_log(api_req_log(req), API_LOG_DEBUG, "bearer token refused",
            API_LOG_STR("reason", api_jwt_error_name(r.error)), API_LOG_STR("detail", r.message));
    rc = refuse(req, s, API_EUNAUTHORIZED, "invalid_token", api_jwt_error_description(r.error));
  } else if (rc != API_ENOMEM) {
    rc = API_EINTERNAL;
  }
  api_jwt_result_free(&r);
  return rc;
}

static bool name_ok(const char *s) {
  return s && *s && strlen(s) <= 256 && api__auth_quotable(s) && !strpbrk(s, " ;,=");
}

int api_mw_jwt(api_app *app, const api_jwt_auth_options *opts, api_middleware *out) {
  if (!app || !opts || !out) return api__fail(API_EINVAL, "api_mw_jwt: NULL argument");
  if (opts->size < sizeof(*opts))
    return api__fail(API_EINVAL, "api_mw_jwt: options not built with API_JWT_AUTH_OPTIONS");
  if (!opts->keys) return api__fail(API_EINVAL, "api_mw_jwt: keys: a key set is required");
  const char *realm = opts->realm ? opts->realm : "api";
  if (!api__auth_quotable(realm) || strlen(realm) > 256)
    return api__fail(API_EINVAL,
                     "api_mw_jwt: realm: empty, over 256 bytes, or with '\"', '\\' "
                     "or control characters");
  if (opts->cookie && !name_ok(opts->cookie))
    return api__fail(API_EINVAL, "api_mw_jwt: cookie: \"%.200s\" is not a cookie name",
                     opts->cookie);
  const char *roles_claim = opts->roles_claim ? opts->roles_claim : "roles";
  if (!*roles_claim) return api__fail(API_EINVAL, "api_mw_jwt: roles_claim: empty");
  const api_jwt_verify_options *v = opts->verify;
  if (v && v->size < sizeof(*v))
    return api__fail(API_EINVAL,
                     "api_mw_jwt: verify: options not built with API_JWT_VERIFY_OPTIONS");

  jwt_mw *s = api__calloc(1, sizeof(*s));
  if (!s) return API_ENOMEM;
  s->keys = opts->keys;
  s->optional = opts->optional;
  if (v) s->verify = *v;
  s->verify.size = sizeof(s->verify);
  s->verify.now = 0;
  size_t clen = strlen(realm) + 16;
  bool oom = !(s->realm = api__strdup(realm)) || !(s->roles_claim = api__strdup(roles_claim)) ||
             (opts->cookie && !(s->cookie = api__strdup(opts->cookie))) ||
             !(s->challenge = api__malloc(clen)) ||
             (v && v->issuer && !(s->issuer = api__strdup(v->issuer))) ||
             (v && v->subject && !(s->subject = api__strdup(v->subject))) ||
             (v && v->typ && !(s->typ = api__strdup(v->typ))) ||
             (v && v->audiences && !(s->audiences = api__auth_strv_dup(v->audiences))) ||
             (v && v->required_claims && !(s->required = api__auth_strv_dup(v->required_claims)));
  if (oom) {
    jwt_mw_free(s);
    return API_ENOMEM;
  }
  snprintf(s->challenge, clen, "Bearer realm=\"%s\"", realm);
  s->verify.issuer = s->issuer;
  s->verify.subject = s->subject;
  s->verify.typ = s->typ;
  s->verify.audiences = (const char *const *)s->audiences;
  s->verify.required_claims = (const char *const *)s->required;

  /* Let the verifier judge the options now rather than on every request. */
  api_jwt_result r = {0};
  int rc = api_jwt_verify(s->keys, "x", 1, &s->verify, &r);
  api_jwt_result_free(&r);
  if (rc == API_EINVAL) {
    jwt_mw_free(s);
    return api__fail(API_EINVAL, "api_mw_jwt: verify: bad options (leeway, size or algorithms)");
  }
  if ((rc = api_app_on_free(app, jwt_mw_free, s)) != 0) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "jwt",
                          .pre_handler = jwt_pre_handler,
                          .on_send = api__auth_on_send,
                          .user_data = s};
  out->security = api__security_scheme_auto(
      app, "bearerAuth",
      json_pack("{s:s,s:s,s:s}", "type", "http", "scheme", "bearer", "bearerFormat", "JWT"));
  if (out->security && opts->cookie)
    out->security_also = api__security_scheme_auto(
        app, "bearerCookie",
        json_pack("{s:s,s:s,s:s}", "type", "apiKey", "in", "cookie", "name", opts->cookie));
  out->security_optional = opts->optional != 0;
  return out->security && (!opts->cookie || out->security_also) ? 0 : API_ENOMEM;
}
