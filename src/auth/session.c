/*
 * Cookie sessions: the middleware, and the per-request session handlers use.
 *
 * The cookie carries a random 256-bit id; the store is keyed by SHA-256(id) so that it never
 * holds a usable cookie value. A request's session lives in request memory (a request local);
 * its data object is released by a request cleanup. Nothing reaches the store until on_send.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libapi/request.h>
#include <libapi/response.h>
#include <libapi/session.h>

#include "auth/session_internal.h"
#include "core/error_internal.h"
#include "http/chars.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"

typedef struct sess_mw {
  api_session_store store;
  char *cookie, *path, *domain;
  long long idle, absolute;
  bool insecure;
  long long (*clock)(void *);
  void *clock_data;
} sess_mw;

typedef struct sess_req {
  const sess_mw *mw;
  json_t *data;                        /* NULL: no session */
  char id[API_SESSION_ID_LEN + 1];     /* the current id */
  char loaded[API_SESSION_ID_LEN + 1]; /* the id loaded from the cookie, "" if none */
  char stale[API_SESSION_ID_LEN + 1];  /* a loaded id to forget (regenerated), "" if none */
  long long now, created, last_seen;
  bool dirty, destroyed, had_cookie, cleanup;
} sess_req;

static const char local_key = 0;

static long long now_of(const sess_mw *m) {
  return m->clock ? m->clock(m->clock_data) : (long long)time(NULL);
}

static sess_req *sreq(api_req *req) { return req ? api_req_local(req, &local_key) : NULL; }

static bool id_ok(const char *s) {
  size_t n = 0;
  for (; s[n] && n <= API_SESSION_ID_LEN; n++) {
    char c = s[n];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  }
  return n == API_SESSION_ID_LEN;
}

/* The store key of id: base64url(SHA-256(id)). */
static int store_key(char out[API_SESSION_ID_LEN + 1], const char *id) {
  unsigned char h[32];
  if (EVP_Digest(id, API_SESSION_ID_LEN, h, NULL, EVP_sha256(), NULL) != 1) return API_EINTERNAL;
  api__b64url_encode(out, h, sizeof(h));
  return 0;
}

static int new_id(char out[API_SESSION_ID_LEN + 1]) {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof(b)) != 1) return api__fail(API_ESYS, "session: RAND_bytes failed");
  api__b64url_encode(out, b, sizeof(b));
  OPENSSL_cleanse(b, sizeof(b));
  return 0;
}

static void sess_cleanup(void *p) {
  sess_req *s = p;
  json_decref(s->data);
  s->data = NULL;
}

static int ensure_cleanup(api_req *req, sess_req *s) {
  if (s->cleanup) return 0;
  int rc = api_req_on_free(req, sess_cleanup, s);
  if (rc == 0) s->cleanup = true;
  return rc;
}

/* Counts the cookies called name in every Cookie field: a repeated session cookie (one planted by
 * a sibling domain or a narrower path: "cookie tossing") makes the request sessionless. */
static size_t cookie_count(const api_req *req, const char *name) {
  size_t count = 0, nlen = strlen(name);
  const char *v;
  for (size_t i = 0; (v = api_req_header_n(req, "cookie", i)); i++) {
    const char *p = v;
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == ';') p++;
      const char *end = strchr(p, ';');
      if (!end) end = p + strlen(p);
      const char *eq = memchr(p, '=', (size_t)(end - p));
      const char *ne = eq ? eq : end;
      while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t')) ne--;
      if ((size_t)(ne - p) == nlen && !memcmp(p, name, nlen)) count++;
      p = end;
    }
  }
  return count;
}

static int sess_on_request(api_req *req, api_res *res, void *ud) {
  (void)res;
  const sess_mw *m = ud;
  sess_req *s = api_req_alloc(req, sizeof(*s));
  if (!s) return API_ENOMEM;
  memset(s, 0, sizeof(*s));
  s->mw = m;
  s->now = now_of(m);
  int rc = api_req_set_local(req, &local_key, s);
  if (rc) return rc;
  const char *v = api_req_cookie(req, m->cookie);
  if (!v) return API_NEXT;
  s->had_cookie = true;
  if (!id_ok(v) || cookie_count(req, m->cookie) != 1) return API_NEXT;
  char key[API_SESSION_ID_LEN + 1];
  if ((rc = store_key(key, v)) != 0) return rc;
  api_session_record rec = {0};
  rc = m->store.load(m->store.user_data, key, s->now, &rec);
  if (rc == API_ENOTFOUND) return API_NEXT;
  if (rc) return rc;
  json_t *data = NULL;
  bool live = s->now < rec.created + m->absolute && s->now < rec.last_seen + m->idle &&
              rec.created <= s->now + 60;
  if (live) data = json_loadb(rec.data, rec.len, JSON_REJECT_DUPLICATES, NULL);
  free(rec.data);
  if (!data || !json_is_object(data)) {
    /* expired, or data nobody could have written: forget it */
    json_decref(data);
    m->store.remove(m->store.user_data, key);
    return API_NEXT;
  }
  s->data = data;
  if ((rc = ensure_cleanup(req, s)) != 0) {
    json_decref(data);
    s->data = NULL;
    return rc;
  }
  memcpy(s->id, v, API_SESSION_ID_LEN + 1);
  memcpy(s->loaded, v, API_SESSION_ID_LEN + 1);
  s->created = rec.created;
  s->last_seen = rec.last_seen;
  return API_NEXT;
}

static int set_cookie(api_res *res, const sess_mw *m, const char *value, long long max_age) {
  return api_res_cookie(res, m->cookie, value,
                        &(api_cookie_opts){.path = m->path,
                                           .domain = m->domain,
                                           .max_age = max_age,
                                           .http_only = 1,
                                           .secure = !m->insecure,
                                           .same_site = API_SAMESITE_LAX});
}

static int sess_on_send(api_req *req, api_res *res, void *ud) {
  const sess_mw *m = ud;
  sess_req *s = sreq(req);
  if (!s || s->mw != m) return API_NEXT;
  char key[API_SESSION_ID_LEN + 1];
  int rc;
  if (s->destroyed || !s->data) {
    if (s->stale[0] && store_key(key, s->stale) == 0) m->store.remove(m->store.user_data, key);
    if (s->destroyed && s->loaded[0] && !s->stale[0] && store_key(key, s->loaded) == 0)
      m->store.remove(m->store.user_data, key);
    /* clear a cookie that names no session (destroyed, expired, unknown or malformed) */
    if (s->had_cookie) return set_cookie(res, m, "", -1);
    return API_NEXT;
  }
  long long end = s->created + m->absolute;
  if (s->now + m->idle < end) end = s->now + m->idle;
  if (s->dirty || s->now != s->last_seen || strcmp(s->id, s->loaded)) {
    char *text = json_dumps(s->data, JSON_COMPACT);
    if (!text) return API_ENOMEM;
    size_t len = strlen(text);
    if (len > API_SESSION_MAX_DATA) {
      free(text);
      return api__fail(API_EINTERNAL, "session: data of %zu bytes over API_SESSION_MAX_DATA", len);
    }
    rc = store_key(key, s->id);
    if (!rc)
      rc = m->store.save(m->store.user_data, key,
                         &(api_session_record){.data = text,
                                               .len = len,
                                               .created = s->created,
                                               .last_seen = s->now,
                                               .expires = end});
    OPENSSL_cleanse(text, len);
    free(text);
    if (rc) return rc;
  }
  /* the old id of a regenerated session goes once the new one is saved */
  if (s->stale[0] && store_key(key, s->stale) == 0) m->store.remove(m->store.user_data, key);
  return set_cookie(res, m, s->id, end - s->now > 0 ? end - s->now : -1);
}

static void sess_mw_free(void *p) {
  sess_mw *m = p;
  if (!m) return;
  api__free(m->cookie);
  api__free(m->path);
  api__free(m->domain);
  api__free(m);
}

/* An HTTP token (RFC 9110 5.6.2) of at most 64 characters. */
static bool cookie_name_ok(const char *s) {
  size_t n = strlen(s);
  return n <= 64 && api__is_token(s, n);
}

static bool attr_ok(const char *s) {
  if (strlen(s) > 256) return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == ';' || *s == ',')
      return false;
  return true;
}

int api_mw_session(api_app *app, const api_session_options *opts, api_middleware *out) {
  if (!app || !opts || !out) return api__fail(API_EINVAL, "api_mw_session: NULL argument");
  if (opts->size < sizeof(*opts))
    return api__fail(API_EINVAL, "api_mw_session: options not built with API_SESSION_OPTIONS");
  const api_session_store *st = opts->store;
  if (!st || st->size < sizeof(*st) || !st->load || !st->save || !st->remove)
    return api__fail(API_EINVAL,
                     "api_mw_session: store: missing, or not built with API_SESSION_STORE");
  const char *path = opts->path ? opts->path : "/";
  if (path[0] != '/' || !attr_ok(path))
    return api__fail(API_EINVAL, "api_mw_session: path: must start with '/', no ';' or controls");
  if (opts->domain && (!*opts->domain || !attr_ok(opts->domain)))
    return api__fail(API_EINVAL, "api_mw_session: domain: empty or not a cookie attribute");
  const char *name = opts->cookie_name;
  if (!name) name = !opts->insecure && !strcmp(path, "/") && !opts->domain ? "__Host-sid" : "sid";
  if (!cookie_name_ok(name))
    return api__fail(API_EINVAL, "api_mw_session: cookie_name: not a cookie name");
  if (!strncmp(name, "__Host-", 7) && (opts->insecure || opts->domain || strcmp(path, "/")))
    return api__fail(API_EINVAL,
                     "api_mw_session: cookie_name: a __Host- cookie needs Secure, Path=/ and no "
                     "Domain");
  if (!strncmp(name, "__Secure-", 9) && opts->insecure)
    return api__fail(API_EINVAL, "api_mw_session: cookie_name: a __Secure- cookie needs Secure");
  long long idle = opts->idle_timeout ? opts->idle_timeout : API_SESSION_DEFAULT_IDLE;
  long long absolute =
      opts->absolute_timeout ? opts->absolute_timeout : API_SESSION_DEFAULT_ABSOLUTE;
  if (idle < 1 || idle > 400LL * 86400)
    return api__fail(API_EINVAL, "api_mw_session: idle_timeout: 1 second to 400 days");
  if (absolute < 1 || absolute > 400LL * 86400)
    return api__fail(API_EINVAL, "api_mw_session: absolute_timeout: 1 second to 400 days");
  sess_mw *m = api__calloc(1, sizeof(*m));
  if (!m) return API_ENOMEM;
  m->store = *st;
  m->idle = idle;
  m->absolute = absolute;
  m->insecure = opts->insecure;
  m->clock = opts->clock;
  m->clock_data = opts->clock_data;
  if (!(m->cookie = api__strdup(name)) || !(m->path = api__strdup(path)) ||
      (opts->domain && !(m->domain = api__strdup(opts->domain)))) {
    sess_mw_free(m);
    return API_ENOMEM;
  }
  int rc = api_app_on_free(app, sess_mw_free, m);
  if (rc) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "session",
                          .on_request = sess_on_request,
                          .on_send = sess_on_send,
                          .user_data = m};
  out->security = api__security_scheme_auto(
      app, "sessionCookie",
      json_pack("{s:s,s:s,s:s}", "type", "apiKey", "in", "cookie", "name", name));
  out->security_optional = 1; /* a request without a session goes on */
  return out->security ? 0 : API_ENOMEM;
}

/* Gives the request a fresh, empty session. */
static int create(api_req *req, sess_req *s) {
  json_t *data = json_object();
  if (!data) return API_ENOMEM;
  int rc = ensure_cleanup(req, s);
  if (!rc) rc = new_id(s->id);
  if (rc) {
    json_decref(data);
    return rc;
  }
  s->data = data;
  s->created = s->last_seen = s->now;
  s->dirty = true;
  return 0;
}

json_t *api_session_get(api_req *req, const char *key) {
  sess_req *s = sreq(req);
  if (!s || !s->data || !key) return NULL;
  return json_object_get(s->data, key);
}

int api_session_set(api_req *req, const char *key, json_t *value) {
  sess_req *s = sreq(req);
  int rc = 0;
  if (!req || !key)
    rc = api__fail(API_EINVAL, "api_session_set: NULL argument");
  else if (!s || s->destroyed)
    rc = api__fail(API_ESTATE, "api_session_set: no session middleware, or session destroyed");
  else if (!s->data)
    rc = value ? create(req, s) : 0;
  if (rc || !s->data) {
    json_decref(value);
    return rc;
  }
  if (value)
    rc = json_object_set_new(s->data, key, value) ? API_ENOMEM : 0;
  else
    json_object_del(s->data, key);
  s->dirty = true;
  return rc;
}

int api_session_exists(api_req *req) {
  sess_req *s = sreq(req);
  return s && s->data && !s->destroyed;
}

int api_session_regenerate(api_req *req) {
  sess_req *s = sreq(req);
  if (!s || s->destroyed)
    return api__fail(API_ESTATE,
                     "api_session_regenerate: no session middleware, or session destroyed");
  if (!s->data) return create(req, s);
  char id[API_SESSION_ID_LEN + 1];
  int rc = new_id(id);
  if (rc) return rc;
  if (s->loaded[0]) memcpy(s->stale, s->loaded, sizeof(s->stale));
  memcpy(s->id, id, sizeof(s->id));
  s->created = s->now;
  s->dirty = true;
  return 0;
}

int api_session_destroy(api_req *req) {
  sess_req *s = sreq(req);
  if (!s) return api__fail(API_ESTATE, "api_session_destroy: no session middleware");
  s->destroyed = true;
  if (s->data) json_object_clear(s->data);
  return 0;
}

const char *api__session_id(api_req *req) {
  sess_req *s = sreq(req);
  if (!s || s->destroyed) return NULL;
  if (!s->data && create(req, s)) return NULL;
  return s->id;
}

const char *api__session_loaded_id(api_req *req) {
  sess_req *s = sreq(req);
  return s && s->data && !s->destroyed && s->loaded[0] ? s->loaded : NULL;
}
