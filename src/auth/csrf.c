/*
 * CSRF protection for unsafe methods: the browser's own signals (Sec-Fetch-Site, Origin) first,
 * then a token bound to the session — HMAC-SHA256(secret, "csrf:" + session id) — that a
 * cross-site page cannot read and so cannot send back (signed double submit).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <libapi/request.h>
#include <libapi/session.h>

#include "auth/session_internal.h"
#include "core/error_internal.h"
#include "http/chars.h"
#include "util/alloc.h"
#include "util/b64url.h"

#define MAX_TOKEN_FIELD 256

typedef struct csrf_mw {
  unsigned char secret[64];
  size_t secret_len;
  char *header, *field;
  char **origins;
  size_t norigins;
  bool same_site, require_origin;
} csrf_mw;

static const char local_key = 0;

static bool safe_method(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "TRACE");
}

static int token_of(const csrf_mw *c, const char *id, char out[API_CSRF_TOKEN_LEN + 1]) {
  unsigned char mac[32], msg[5 + API_SESSION_ID_LEN];
  unsigned int n = 0;
  memcpy(msg, "csrf:", 5);
  memcpy(msg + 5, id, API_SESSION_ID_LEN);
  if (!HMAC(EVP_sha256(), c->secret, (int)c->secret_len, msg, sizeof(msg), mac, &n) || n != 32)
    return API_EINTERNAL;
  api__b64url_encode(out, mac, sizeof(mac));
  return 0;
}

/* The authority of origin ("https://h:443" -> "h", lower-cased, default port dropped) into out;
 * false when origin is not scheme://authority. */
static bool origin_authority(const char *origin, char *out, size_t cap) {
  const char *sep = strstr(origin, "://");
  if (!sep) return false;
  size_t slen = (size_t)(sep - origin);
  bool https = slen == 5 && !strncasecmp(origin, "https", 5);
  bool http = slen == 4 && !strncasecmp(origin, "http", 4);
  if (!https && !http) return false;
  const char *a = sep + 3;
  size_t n = strlen(a);
  if (!n || n >= cap || strpbrk(a, "/?#@ ")) return false;
  for (size_t i = 0; i <= n; i++) out[i] = (char)((a[i] >= 'A' && a[i] <= 'Z') ? a[i] + 32 : a[i]);
  const char *dflt = https ? ":443" : ":80";
  size_t dl = strlen(dflt);
  if (n > dl && !strcmp(out + n - dl, dflt)) out[n - dl] = 0;
  return true;
}

static bool host_matches(const char *auth, const char *host) {
  char h[300];
  size_t n = strlen(host);
  if (!n || n >= sizeof(h)) return false;
  for (size_t i = 0; i <= n; i++)
    h[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
  if (!strcmp(auth, h)) return true;
  /* Host may carry the default port the Origin dropped */
  size_t al = strlen(auth);
  return !strncmp(h, auth, al) && (!strcmp(h + al, ":443") || !strcmp(h + al, ":80"));
}

static bool origin_ok(const csrf_mw *c, api_req *req, const char *origin) {
  char auth[300];
  if (!origin_authority(origin, auth, sizeof(auth))) return false;
  if (c->norigins) {
    for (size_t i = 0; i < c->norigins; i++)
      if (!strcasecmp(origin, c->origins[i])) return true;
    return false;
  }
  const char *host = api_req_header(req, "host");
  return host && !api_req_header_n(req, "host", 1) && host_matches(auth, host);
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Form-decodes n bytes of s into out (cap bytes); false when malformed or too long. */
static bool form_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 1 >= cap) return false;
    char ch = s[i];
    if (ch == '+') {
      ch = ' ';
    } else if (ch == '%') {
      if (i + 2 >= n) return false;
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
      ch = (char)(hi * 16 + lo);
      i += 2;
    }
    out[o++] = ch;
  }
  out[o] = 0;
  return true;
}

/* The token from an urlencoded body's field into out; 1 found, 0 absent, -1 malformed or
 * repeated. */
static int form_token(const csrf_mw *c, api_req *req, char *out, size_t cap) {
  const char *ct = api_req_header(req, "content-type");
  size_t plen = strlen("application/x-www-form-urlencoded");
  if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", plen) ||
      (ct[plen] && ct[plen] != ';' && ct[plen] != ' '))
    return 0;
  size_t len;
  const char *body = api_req_body(req, &len);
  int found = 0;
  char name[64];
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && body[j] != '&') j++;
    const char *eq = memchr(body + i, '=', j - i);
    size_t klen = eq ? (size_t)(eq - (body + i)) : j - i;
    if (form_decode(body + i, klen, name, sizeof(name)) && !strcmp(name, c->field)) {
      if (found || !eq) return -1;
      if (!form_decode(eq + 1, (size_t)(body + j - eq - 1), out, cap)) return -1;
      found = 1;
    }
    i = j + 1;
  }
  return found;
}

static int csrf_pre_handler(api_req *req, api_res *res, void *ud) {
  (void)res;
  const csrf_mw *c = ud;
  int rc = api_req_set_local(req, &local_key, (void *)c);
  if (rc) return rc;
  if (safe_method(api_req_method(req))) return API_NEXT;
  const char *sfs = api_req_header(req, "sec-fetch-site");
  if (sfs) {
    bool ok = !api_req_header_n(req, "sec-fetch-site", 1) &&
              (!strcmp(sfs, "same-origin") || !strcmp(sfs, "none") ||
               (c->same_site && !strcmp(sfs, "same-site")));
    if (!ok) return api__fail(API_EFORBIDDEN, "csrf: Sec-Fetch-Site %.40s", sfs);
  }
  const char *origin = api_req_header(req, "origin");
  if (origin && (api_req_header_n(req, "origin", 1) || !origin_ok(c, req, origin)))
    return api__fail(API_EFORBIDDEN, "csrf: cross-origin request from %.100s", origin);
  if (c->require_origin && !sfs && !origin)
    return api__fail(API_EFORBIDDEN, "csrf: neither Sec-Fetch-Site nor Origin");
  const char *id = api__session_loaded_id(req);
  if (!id) return API_NEXT; /* no session cookie in force: nothing to ride on */
  char sent[MAX_TOKEN_FIELD];
  const char *h = api_req_header(req, c->header);
  if (h) {
    if (api_req_header_n(req, c->header, 1) || strlen(h) >= sizeof(sent))
      return api__fail(API_EFORBIDDEN, "csrf: malformed token header");
    strcpy(sent, h);
  } else if (form_token(c, req, sent, sizeof(sent)) != 1) {
    return api__fail(API_EFORBIDDEN, "csrf: token missing");
  }
  char want[API_CSRF_TOKEN_LEN + 1];
  if ((rc = token_of(c, id, want)) != 0) return rc;
  if (strlen(sent) != API_CSRF_TOKEN_LEN || CRYPTO_memcmp(sent, want, API_CSRF_TOKEN_LEN))
    return api__fail(API_EFORBIDDEN, "csrf: token invalid");
  return API_NEXT;
}

const char *api_csrf_token(api_req *req) {
  const csrf_mw *c = req ? api_req_local(req, &local_key) : NULL;
  if (!c) return NULL;
  const char *id = api__session_id(req);
  if (!id) return NULL;
  char *out = api_req_alloc(req, API_CSRF_TOKEN_LEN + 1);
  if (!out || token_of(c, id, out)) return NULL;
  return out;
}

static void csrf_free(void *p) {
  csrf_mw *c = p;
  if (!c) return;
  OPENSSL_cleanse(c->secret, sizeof(c->secret));
  for (size_t i = 0; i < c->norigins; i++) api__free(c->origins[i]);
  api__free(c->origins);
  api__free(c->header);
  api__free(c->field);
  api__free(c);
}

/* An HTTP token (RFC 9110 5.6.2) of at most 64 characters. */
static bool token_char_ok(const char *s) {
  size_t n = strlen(s);
  return n <= 64 && api__is_token(s, n);
}

int api_mw_csrf(api_app *app, const api_csrf_options *opts, api_middleware *out) {
  if (!app || !opts || !out) return api__fail(API_EINVAL, "api_mw_csrf: NULL argument");
  if (opts->size < sizeof(*opts))
    return api__fail(API_EINVAL, "api_mw_csrf: options not built with API_CSRF_OPTIONS");
  if (opts->secret && (opts->secret_len < 32 || opts->secret_len > 64))
    return api__fail(API_EINVAL, "api_mw_csrf: secret: 32 to 64 bytes");
  const char *header = opts->header ? opts->header : "X-CSRF-Token";
  const char *field = opts->form_field ? opts->form_field : "_csrf";
  if (!token_char_ok(header))
    return api__fail(API_EINVAL, "api_mw_csrf: header: not a header name");
  if (!*field || strlen(field) >= 64)
    return api__fail(API_EINVAL, "api_mw_csrf: form_field: empty or too long");
  size_t no = 0;
  char auth[300];
  for (; opts->origins && opts->origins[no]; no++)
    if (!origin_authority(opts->origins[no], auth, sizeof(auth)))
      return api__fail(API_EINVAL, "api_mw_csrf: origins[%zu]: not scheme://host[:port]", no);
  if (opts->origins && !no) return api__fail(API_EINVAL, "api_mw_csrf: origins: empty list");
  csrf_mw *c = api__calloc(1, sizeof(*c));
  if (!c) return API_ENOMEM;
  int rc = 0;
  if (!(c->header = api__strdup(header)) || !(c->field = api__strdup(field)) ||
      (no && !(c->origins = api__calloc(no, sizeof(*c->origins)))))
    rc = API_ENOMEM;
  for (; !rc && c->norigins < no; c->norigins++)
    if (!(c->origins[c->norigins] = api__strdup(opts->origins[c->norigins]))) rc = API_ENOMEM;
  if (!rc && opts->secret) {
    memcpy(c->secret, opts->secret, opts->secret_len);
    c->secret_len = opts->secret_len;
  } else if (!rc) {
    c->secret_len = 32;
    if (RAND_bytes(c->secret, 32) != 1) rc = api__fail(API_ESYS, "api_mw_csrf: RAND_bytes failed");
  }
  c->same_site = opts->allow_same_site;
  c->require_origin = opts->require_origin;
  if (rc) {
    csrf_free(c);
    return rc;
  }
  if ((rc = api_app_on_free(app, csrf_free, c)) != 0) return rc;
  *out = (api_middleware){
      .size = sizeof(*out), .name = "csrf", .pre_handler = csrf_pre_handler, .user_data = c};
  return 0;
}
