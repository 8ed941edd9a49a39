/*
 * Response compression in on_send: gzip or deflate (zlib format) with zlib, into request memory.
 * The window and hash sizes follow the body: a 2 KiB body does not need deflate's 256 KiB of state,
 * and clearing that state would cost more than compressing the body.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/error_internal.h"
#include "http/chars.h"
#include "http/codec.h"
#include "mw/cache_internal.h"
#include "mw/compress_internal.h"
#include "util/alloc.h"

/* ---- Accept-Encoding ---- */

static bool ows(char c) { return c == ' ' || c == '\t'; }

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if not. */
static int qvalue(const char *s, size_t n) {
  if (n == 0 || (s[0] != '0' && s[0] != '1')) return -1;
  if (n > 1 && (s[1] != '.' || n > 5)) return -1;
  int v = (s[0] - '0') * 1000, scale = 100;
  for (size_t i = 2; i < n; i++, scale /= 10) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v += (s[i] - '0') * scale;
  }
  return v > 1000 ? -1 : v;
}

void api__accept_enc_scan(api__accept_enc *ae, const char *value) {
  const char *p = value;
  while (*p) {
    while (ows(*p) || *p == ',') p++;
    if (!*p) break;
    const char *tok = p;
    while (*p && api__is_tchar((unsigned char)*p)) p++;
    size_t tl = (size_t)(p - tok);
    int q = 1000;
    bool ok = tl > 0;
    while (ok) { /* *( OWS ";" OWS name OWS "=" OWS value ) */
      while (ows(*p)) p++;
      if (*p != ';') break;
      p++;
      while (ows(*p)) p++;
      const char *name = p;
      while (*p && api__is_tchar((unsigned char)*p)) p++;
      size_t nl = (size_t)(p - name);
      while (ows(*p)) p++;
      if (nl == 0 || *p != '=') {
        ok = false;
        break;
      }
      p++;
      while (ows(*p)) p++;
      const char *val = p;
      while (*p && *p != ',' && *p != ';' && !ows(*p)) p++;
      if (nl == 1 && (name[0] == 'q' || name[0] == 'Q')) {
        int v = qvalue(val, (size_t)(p - val));
        q = v < 0 ? 0 : v; /* a q we cannot read must not turn a refusal into a preference */
      }
    }
    if (ok && *p && *p != ',') ok = false;
    if (!ok) { /* skip the malformed element */
      while (*p && *p != ',') p++;
      continue;
    }
    int *slot = NULL;
    if ((tl == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
        (tl == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
      slot = &ae->gzip;
    else if (tl == 7 && strncasecmp(tok, "deflate", 7) == 0)
      slot = &ae->deflate;
    else if (tl == 8 && strncasecmp(tok, "identity", 8) == 0)
      slot = &ae->identity;
    else if (tl == 1 && tok[0] == '*')
      slot = &ae->star;
    if (slot && *slot < 0) *slot = q;
  }
}

int api__accept_enc_choose(const api__accept_enc *ae, bool allow_deflate) {
  int qg = ae->gzip >= 0 ? ae->gzip : ae->star >= 0 ? ae->star : 0;
  int qd = !allow_deflate ? 0 : ae->deflate >= 0 ? ae->deflate : ae->star >= 0 ? ae->star : 0;
  int best = qg >= qd ? API__ENC_GZIP : API__ENC_DEFLATE, bq = qg >= qd ? qg : qd;
  if (bq <= 0) return API__ENC_NONE;
  if (ae->identity > bq) return API__ENC_NONE;
  return best;
}

/* ---- media types ---- */

enum { T_EXACT, T_TYPE, T_SUFFIX };

typedef struct type_rule {
  int kind;
  char *s; /* "text/html", "text/", "+json" */
  size_t n;
} type_rule;

typedef struct gz_state {
  size_t min_size;
  int level;
  bool deflate;
  type_rule *types;
  size_t n_types;
} gz_state;

static void compress_free(void *p) {
  gz_state *c = p;
  if (!c) return;
  for (size_t i = 0; i < c->n_types; i++) api__free(c->types[i].s);
  api__free(c->types);
  api__free(c);
}

/* Does the Content-Type's media type (parameters ignored) match a rule? */
static bool type_compressible(const gz_state *c, const char *ct) {
  const char *end = ct;
  while (*end && *end != ';' && !ows(*end)) end++;
  size_t n = (size_t)(end - ct);
  const char *slash = memchr(ct, '/', n);
  if (!slash || slash == ct || slash + 1 == end) return false;
  for (size_t i = 0; i < c->n_types; i++) {
    const type_rule *r = &c->types[i];
    switch (r->kind) {
      case T_EXACT:
        if (r->n == n && strncasecmp(ct, r->s, n) == 0) return true;
        break;
      case T_TYPE:
        if ((size_t)(slash + 1 - ct) == r->n && strncasecmp(ct, r->s, r->n) == 0) return true;
        break;
      default: /* a suffix of the subtype, after at least one character */
        if ((size_t)(end - slash - 1) > r->n && strncasecmp(end - r->n, r->s, r->n) == 0)
          return true;
    }
  }
  return false;
}

static int add_type(gz_state *c, const char *t) {
  size_t n = strlen(t);
  int kind;
  const char *slash = memchr(t, '/', n);
  /* a wildcard type would take images and archives too; '*' is a token character */
  const char *star = memchr(t, '*', n);
  if (star && !(slash && star == slash + 1 && n == (size_t)(star - t) + 1)) slash = NULL;
  if (n > 1 && t[0] == '+' && api__is_token(t + 1, n - 1) && !slash) {
    kind = T_SUFFIX;
  } else if (slash && slash > t && api__is_token(t, (size_t)(slash - t)) &&
             n - (size_t)(slash - t) == 2 && slash[1] == '*') {
    kind = T_TYPE;
    n--; /* keep "text/" */
  } else if (slash && slash > t && api__is_token(t, (size_t)(slash - t)) &&
             api__is_token(slash + 1, n - (size_t)(slash - t) - 1) &&
             !memchr(slash + 1, '/', n - (size_t)(slash - t) - 1)) {
    kind = T_EXACT;
  } else {
    return api__fail(
        API_EINVAL, "api_mw_compress: types: \"%.200s\" is not type/subtype, type/* or +suffix", t);
  }
  type_rule *r = api__realloc(c->types, (c->n_types + 1) * sizeof(*r));
  if (!r) return API_ENOMEM;
  c->types = r;
  char *s = api__malloc(n + 1);
  if (!s) return API_ENOMEM;
  memcpy(s, t, n);
  s[n] = '\0';
  c->types[c->n_types++] = (type_rule){kind, s, n};
  return 0;
}

/* ---- deflate ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return (size_t)items * size / size == items ? api__malloc((size_t)items * size) : NULL;
}
static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  api__free(p);
}

/* Compress body into request memory; returns its length, or 0 when it did not work or did not
 * make the body smaller. */
static size_t squeeze(api_req *req, const gz_state *c, int enc, const void *body, size_t len,
                      void **out) {
  if (len > UINT_MAX / 2) return 0;
  int wbits = 9; /* the smallest window zlib's deflate supports */
  while (wbits < 15 && ((size_t)1 << wbits) < len) wbits++;
  int mem_level = wbits - 7 < 1 ? 1 : wbits - 7;
  z_stream zs = {.zalloc = z_alloc, .zfree = z_free};
  if (deflateInit2(&zs, c->level, Z_DEFLATED, enc == API__ENC_GZIP ? wbits + 16 : wbits, mem_level,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return 0;
  size_t cap = deflateBound(&zs, (uLong)len), got = 0;
  unsigned char *buf = cap < len ? api_req_alloc(req, cap) : api_req_alloc(req, len);
  if (buf) {
    /* Room for no more than the original: a result that does not fit is not worth sending. */
    zs.next_in = (Bytef *)(uintptr_t)body;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)(cap < len ? cap : len);
    if (deflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out < len) got = zs.total_out;
  }
  deflateEnd(&zs);
  *out = buf;
  return got;
}

/* A strong ETag names one representation; the compressed body is another. */
static int recode_etag(api_res *res, int enc) {
  api__etag t;
  if (!api__etag_parse(api_res_get_header(res, "ETag"), &t) || t.weak) return 0;
  char buf[API__ETAG_MAX + 16];
  const char *suffix = enc == API__ENC_GZIP ? "-gzip" : "-deflate";
  size_t sl = strlen(suffix);
  buf[0] = '"';
  memcpy(buf + 1, t.opaque, t.len);
  memcpy(buf + 1 + t.len, suffix, sl);
  buf[1 + t.len + sl] = '"';
  buf[2 + t.len + sl] = '\0';
  return api_res_header(res, "ETag", buf);
}

static bool no_transform(const api_res *res) {
  return api__header_has_token(api_res_get_header(res, "Cache-Control"), "no-transform");
}

static int compress_on_send(api_req *req, api_res *res, void *ud) {
  const gz_state *c = ud;
  int status = api_res_get_status(res);
  if (status == 304) { /* the 200 it stands for would have varied */
    api_res_vary(res, "Accept-Encoding");
    return API_NEXT;
  }
  if (status < 200 || status == 204 || status == 206) return API_NEXT;
  const char *ct = api_res_get_header(res, "Content-Type");
  size_t len;
  const void *body = api_res_get_body(res, &len);
  if (!ct || len < c->min_size || api_res_get_header(res, "Content-Encoding") ||
      no_transform(res) || !type_compressible(c, ct))
    return API_NEXT;
  /* From here the answer depends on Accept-Encoding. Without Vary a cache could hand a
   * compressed body to a client that cannot read it, so no Vary, no compression. */
  if (api_res_vary(res, "Accept-Encoding") != 0) return API_NEXT;
  if (strcmp(api_req_method(req), "HEAD") == 0) return API_NEXT;
  api__accept_enc ae = API__ACCEPT_ENC_INIT;
  const char *v;
  for (size_t i = 0; (v = api_req_header_n(req, "Accept-Encoding", i)); i++)
    api__accept_enc_scan(&ae, v);
  int enc = api__accept_enc_choose(&ae, c->deflate);
  if (enc == API__ENC_NONE) return API_NEXT;
  void *out;
  size_t n = squeeze(req, c, enc, body, len, &out);
  if (n == 0) return API_NEXT; /* out of memory or no gain: the body goes as it is */
  if (api_res_header(res, "Content-Encoding", enc == API__ENC_GZIP ? "gzip" : "deflate") != 0 ||
      recode_etag(res, enc) != 0) {
    api_res_header_remove(res, "Content-Encoding");
    return API_NEXT;
  }
  api_res_body_ref(res, NULL, out, n);
  return API_NEXT;
}

int api_mw_compress(api_app *app, const api_compress_options *opts, api_middleware *out) {
  static const char *const default_types[] = {"text/*",
                                              "application/json",
                                              "application/javascript",
                                              "application/xml",
                                              "application/x-ndjson",
                                              "image/svg+xml",
                                              "+json",
                                              "+xml",
                                              NULL};
  api_compress_options o;
  if (!app || !out || !API__COPY_OPTIONS(&o, opts))
    return api__fail(API_EINVAL,
                     "api_mw_compress: app, options (API_COMPRESS_OPTIONS) and out "
                     "are required");
  if (o.level < 0 || o.level > 9)
    return api__fail(API_EINVAL, "api_mw_compress: level: %d is not 0 (default) .. 9", o.level);
  if (o.types && !o.types[0])
    return api__fail(API_EINVAL, "api_mw_compress: types: empty list (NULL means the default)");
  gz_state *c = api__calloc(1, sizeof(*c));
  if (!c) return API_ENOMEM;
  c->min_size = o.min_size ? o.min_size : 1024;
  c->level = o.level ? o.level : 6;
  c->deflate = !o.no_deflate;
  const char *const *types = o.types ? o.types : default_types;
  for (size_t i = 0; types[i]; i++) {
    int rc = add_type(c, types[i]);
    if (rc) {
      compress_free(c);
      return rc;
    }
  }
  int rc = api_app_on_free(app, compress_free, c);
  if (rc) return rc;
  *out = (api_middleware){
      .size = sizeof(*out), .name = "compress", .on_send = compress_on_send, .user_data = c};
  return 0;
}
