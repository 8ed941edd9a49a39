/*
 * Cookie sessions: the middleware, and the per-request session handlers use.
 *
 * With a store, the cookie carries a random 256-bit id; the store is keyed by SHA-256(id) so that
 * it never holds a usable cookie value. With a key ring, the cookie holds the whole session
 * (created, last seen, id, data) sealed with AES-256-GCM (session_cookie.c); the id then only
 * names the session for CSRF tokens. A request's session lives in request memory (a request
 * local); its data object is released by a request cleanup. Nothing is written until on_send.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libapi/log.h>
#include <libapi/request.h>
#include <libapi/response.h>
#include <libapi/session.h>

#include "auth/session_internal.h"
#include "core/error_internal.h"
#include "http/chars.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"
#include "util/json.h"

typedef struct sess_mw {
  api_session_store store;
  api__sess_ring *ring; /* encrypted-cookie sessions: not NULL, and store is unused */
  char *cookie, *path, *domain;
  long long idle, absolute;
  long long refresh; /* cookie mode: rewrite an unchanged session once last_seen is this old */
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

/* The bytes before the data in a sealed session: created, last_seen (big-endian), the raw id. */
#define PLAIN_HEAD (8 + 8 + 32)

static void put64(unsigned char *p, long long v) {
  for (int i = 7; i >= 0; i--, v = (long long)((unsigned long long)v >> 8))
    p[i] = (unsigned char)(v & 0xff);
}

static long long get64(const unsigned char *p) {
  unsigned long long v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return (long long)v;
}

/* Opens the sealed session v into rec (rec->data NUL-terminated, api__malloc) and id. Returns 0,
 * API_ENOTFOUND (the value does not open: forged, another key's or cookie's, malformed) or
 * API_ENOMEM. */
static int cookie_load(api_req *req, const sess_mw *m, const char *v, api_session_record *rec,
                       char id[API_SESSION_ID_LEN + 1]) {
  unsigned char *pt;
  size_t len;
  int rc = strlen(m->cookie) + 1 + strlen(v) > API_SESSION_COOKIE_MAX
               ? API_ENOTFOUND
               : api__sess_open(m->ring, m->cookie, v, &pt, &len);
  if (rc == API_ENOMEM) return rc;
  if (!rc && len <= PLAIN_HEAD) {
    OPENSSL_cleanse(pt, len);
    api__free(pt);
    rc = API_ENOTFOUND;
  }
  if (rc) {
    api_log(api_req_log(req), API_LOG_DEBUG, "session cookie ignored: it does not decrypt");
    return API_ENOTFOUND;
  }
  rec->created = get64(pt);
  rec->last_seen = get64(pt + 8);
  api__b64url_encode(id, pt + 16, 32);
  rec->len = len - PLAIN_HEAD;
  memmove(pt, pt + PLAIN_HEAD, rec->len + 1);
  rec->data = (char *)pt;
  return 0;
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
  if (cookie_count(req, m->cookie) != 1) return API_NEXT;
  char key[API_SESSION_ID_LEN + 1], id[API_SESSION_ID_LEN + 1];
  api_session_record rec = {0};
  if (m->ring) {
    rc = cookie_load(req, m, v, &rec, id);
  } else {
    if (!id_ok(v)) return API_NEXT;
    if ((rc = store_key(key, v)) != 0) return rc;
    rc = m->store.load(m->store.user_data, key, s->now, &rec);
    memcpy(id, v, sizeof(id));
  }
  if (rc == API_ENOTFOUND) return API_NEXT;
  if (rc) return rc;
  json_t *data = NULL;
  api__json_error jerr = {0};
  bool live = s->now < rec.created + m->absolute && s->now < rec.last_seen + m->idle &&
              rec.created <= s->now + 60;
  if (live) data = api__json_parse(rec.data, rec.len, 0, &jerr);
  if (m->ring) {
    OPENSSL_cleanse(rec.data, rec.len);
    api__free(rec.data);
  } else {
    free(rec.data);
  }
  /* Out of memory says nothing about the session: keep it, answer 503. */
  if (jerr.enomem) return API_ENOMEM;
  if (!data || !json_is_object(data)) {
    /* expired, or data nobody could have written: forget it */
    json_decref(data);
    if (!m->ring) m->store.remove(m->store.user_data, key);
    return API_NEXT;
  }
  s->data = data;
  if ((rc = ensure_cleanup(req, s)) != 0) {
    json_decref(data);
    s->data = NULL;
    return rc;
  }
  memcpy(s->id, id, API_SESSION_ID_LEN + 1);
  memcpy(s->loaded, id, API_SESSION_ID_LEN + 1);
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

/* Cookie mode: seals the session into the cookie when it changed, or when the last write is
 * m->refresh seconds old (so that the idle timeout moves on without a Set-Cookie per request). */
static int cookie_send(api_req *req, api_res *res, const sess_req *s, long long end) {
  const sess_mw *m = s->mw;
  if (!s->dirty && !strcmp(s->id, s->loaded) && s->now - s->last_seen < m->refresh) return API_NEXT;
  char *text = json_dumps(s->data, JSON_COMPACT);
  if (!text) return API_ENOMEM;
  size_t len = strlen(text), total = strlen(m->cookie) + 1 + api__sess_sealed_len(PLAIN_HEAD + len);
  if (total > API_SESSION_COOKIE_MAX) {
    OPENSSL_cleanse(text, len);
    free(text);
    api_log(api_req_log(req), API_LOG_ERROR,
            "session: the encrypted session cookie is over API_SESSION_COOKIE_MAX bytes; keep "
            "less in the session or use a session store",
            API_LOG_UINT("cookie_bytes", total), API_LOG_UINT("data_bytes", len));
    return api__fail(API_EINTERNAL, "session: encrypted cookie of %zu bytes over %d", total,
                     API_SESSION_COOKIE_MAX);
  }
  unsigned char *pt = api__malloc(PLAIN_HEAD + len);
  char *value = NULL;
  int rc = pt ? 0 : API_ENOMEM;
  if (!rc) {
    put64(pt, s->created);
    put64(pt + 8, s->now);
    if (api__b64url_decode(pt + 16, s->id, API_SESSION_ID_LEN) != 32) rc = API_EINTERNAL;
    memcpy(pt + PLAIN_HEAD, text, len);
    if (!rc) rc = api__sess_seal(m->ring, m->cookie, pt, PLAIN_HEAD + len, &value);
    OPENSSL_cleanse(pt, PLAIN_HEAD + len);
    api__free(pt);
  }
  OPENSSL_cleanse(text, len);
  free(text);
  if (!rc) rc = set_cookie(res, m, value, end - s->now > 0 ? end - s->now : -1);
  api__free(value);
  return rc;
}

static int sess_on_send(api_req *req, api_res *res, void *ud) {
  const sess_mw *m = ud;
  sess_req *s = sreq(req);
  if (!s || s->mw != m) return API_NEXT;
  char key[API_SESSION_ID_LEN + 1];
  int rc;
  if (s->destroyed || !s->data) {
    if (m->ring) return s->had_cookie ? set_cookie(res, m, "", -1) : API_NEXT;
    if (s->stale[0] && store_key(key, s->stale) == 0) m->store.remove(m->store.user_data, key);
    if (s->destroyed && s->loaded[0] && !s->stale[0] && store_key(key, s->loaded) == 0)
      m->store.remove(m->store.user_data, key);
    /* clear a cookie that names no session (destroyed, expired, unknown or malformed) */
    if (s->had_cookie) return set_cookie(res, m, "", -1);
    return API_NEXT;
  }
  long long end = s->created + m->absolute;
  if (s->now + m->idle < end) end = s->now + m->idle;
  if (m->ring) return cookie_send(req, res, s, end);
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
  api__sess_ring_free(m->ring);
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
  /* options built before keys existed (a smaller size) read as keys = NULL */
  if (opts->size < offsetof(api_session_options, keys))
    return api__fail(API_EINVAL, "api_mw_session: options not built with API_SESSION_OPTIONS");
  api_session_options o = {0};
  memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
  opts = &o;
  const api_session_store *st = opts->store;
  if (!st == !opts->keys)
    return api__fail(API_EINVAL, "api_mw_session: give exactly one of store and keys");
  if (st && (st->size < sizeof(*st) || !st->load || !st->save || !st->remove))
    return api__fail(API_EINVAL,
                     "api_mw_session: store: not built with API_SESSION_STORE, or a function "
                     "missing");
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
  if (st) m->store = *st;
  int rc = opts->keys ? api__sess_ring_new(&m->ring, opts->keys, opts->nkeys) : 0;
  if (rc) {
    sess_mw_free(m);
    return rc;
  }
  m->refresh = idle / 10 < 1 ? 1 : idle / 10 > 60 ? 60 : idle / 10;
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
  if ((rc = api_app_on_free(app, sess_mw_free, m)) != 0) return rc;
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
