/*
 * CORS (Fetch standard, "CORS protocol"). Origins are matched as browsers serialise them, and
 * nothing looser: an allow-list compared by substring or suffix is how "https://a.example.com.evil"
 * gets in. Preflights for routed paths are answered in on_request; everything else, the router's
 * own OPTIONS answer included, gets its fields in on_send, where error responses pass too.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "http/chars.h"
#include "mw/cache_internal.h"
#include "util/alloc.h"

/* Longer Origin fields are refused: a host name is at most 253 bytes. */
#define MAX_ORIGIN 512

typedef struct pattern {
  char *prefix; /* "https://" */
  char *suffix; /* ".example.com" */
  char *port;   /* ":8443" or "" */
} pattern;

typedef struct cors {
  bool any;         /* "*" */
  bool allow_null;  /* "null" */
  bool credentials; /* Access-Control-Allow-Credentials: true */
  bool any_header;  /* allow_headers {"*"} */
  char **exact;     /* normalised origins */
  size_t n_exact;
  pattern *patterns;
  size_t n_patterns;
  char **methods;
  size_t n_methods;
  char **headers; /* lower case */
  size_t n_headers;
  char *methods_list; /* "GET, HEAD" */
  char *expose_list;  /* NULL: none */
  char max_age[24];   /* "" : not sent */
} cors;

static void cors_free(void *p) {
  cors *c = p;
  if (!c) return;
  for (size_t i = 0; i < c->n_exact; i++) api__free(c->exact[i]);
  for (size_t i = 0; i < c->n_patterns; i++) {
    api__free(c->patterns[i].prefix);
    api__free(c->patterns[i].suffix);
    api__free(c->patterns[i].port);
  }
  for (size_t i = 0; i < c->n_methods; i++) api__free(c->methods[i]);
  for (size_t i = 0; i < c->n_headers; i++) api__free(c->headers[i]);
  api__free(c->exact);
  api__free(c->patterns);
  api__free(c->methods);
  api__free(c->headers);
  api__free(c->methods_list);
  api__free(c->expose_list);
  api__free(c);
}

static char *dup_n(const char *s, size_t n) {
  char *p = api__malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* ---- origins ---- */

typedef struct origin_parts {
  size_t scheme_len; /* "https" */
  const char *host;  /* after "://" */
  size_t host_len;
  const char *port; /* after ':' or NULL */
  size_t port_len;
} origin_parts;

static bool lower_alpha(char c) { return c >= 'a' && c <= 'z'; }
static bool digit(char c) { return c >= '0' && c <= '9'; }

/* A host: "[v6]" or dot-separated labels of [a-z0-9_-], none empty. */
static bool host_ok(const char *h, size_t n) {
  if (n == 0) return false;
  if (h[0] == '[') {
    if (n < 3 || h[n - 1] != ']') return false;
    for (size_t i = 1; i + 1 < n; i++)
      if (!(digit(h[i]) || (h[i] >= 'a' && h[i] <= 'f') || h[i] == ':' || h[i] == '.'))
        return false;
    return true;
  }
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (lower_alpha(c) || digit(c) || c == '-' || c == '_') {
      label++;
    } else {
      return false;
    }
  }
  return label > 0;
}

/* scheme "://" host [":" port], all lower case; nothing before or after. */
static bool parse_origin(const char *s, size_t n, origin_parts *o) {
  size_t i = 0;
  if (n == 0 || !lower_alpha(s[0])) return false;
  while (i < n && (lower_alpha(s[i]) || digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
    i++;
  if (n - i < 3 || memcmp(s + i, "://", 3) != 0) return false;
  o->scheme_len = i;
  o->host = s + i + 3;
  const char *end = s + n, *h = o->host;
  const char *colon = NULL;
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(end - h));
    if (!close) return false;
    if (close + 1 < end) {
      if (close[1] != ':') return false;
      colon = close + 1;
    }
  } else {
    colon = memchr(h, ':', (size_t)(end - h));
  }
  o->host_len = (size_t)((colon ? colon : end) - h);
  o->port = NULL;
  o->port_len = 0;
  if (!host_ok(h, o->host_len)) return false;
  if (colon) {
    o->port = colon + 1;
    o->port_len = (size_t)(end - o->port);
    if (o->port_len == 0 || o->port_len > 5 || o->port[0] == '0') return false;
    long v = 0;
    for (size_t k = 0; k < o->port_len; k++) {
      if (!digit(o->port[k])) return false;
      v = v * 10 + (o->port[k] - '0');
    }
    if (v > 65535) return false;
  }
  return true;
}

/* The scheme's default port, which a serialised origin never shows. */
static bool default_port(const char *s, const origin_parts *o) {
  if (!o->port) return false;
  bool tls = (o->scheme_len == 5 && memcmp(s, "https", 5) == 0) ||
             (o->scheme_len == 3 && memcmp(s, "wss", 3) == 0);
  bool plain = (o->scheme_len == 4 && memcmp(s, "http", 4) == 0) ||
               (o->scheme_len == 2 && memcmp(s, "ws", 2) == 0);
  return (tls && o->port_len == 3 && memcmp(o->port, "443", 3) == 0) ||
         (plain && o->port_len == 2 && memcmp(o->port, "80", 2) == 0);
}

/* Add one configured origin (already lower-cased in buf). */
static int add_origin(cors *c, char *buf, size_t n, const char *given) {
  if (strcmp(buf, "*") == 0) {
    c->any = true;
    return 0;
  }
  if (strcmp(buf, "null") == 0) {
    c->allow_null = true;
    return 0;
  }
  const char *star = strstr(buf, "://*.");
  bool is_pattern = star != NULL;
  char *tmp = NULL;
  if (is_pattern) { /* check it as the origin it would be with "x" for the wildcard */
    size_t at = (size_t)(star - buf) + 3;
    tmp = api__malloc(n + 1);
    if (!tmp) return API_ENOMEM;
    memcpy(tmp, buf, n + 1);
    tmp[at] = 'x';
  }
  origin_parts o = {0};
  const char *base = tmp ? tmp : buf;
  bool ok = parse_origin(base, n, &o) && !(is_pattern && o.host[0] == '[');
  size_t host_off = ok ? (size_t)(o.host - base) : 0;
  size_t port_off = ok && o.port ? (size_t)(o.port - base) : 0;
  bool dflt = ok && default_port(base, &o);
  api__free(tmp);
  if (!ok)
    return api__fail(API_EINVAL,
                     "api_mw_cors: origins: \"%.200s\" is not scheme://host[:port] (no path, no "
                     "trailing slash), \"*\", \"null\" or a pattern scheme://*.domain[:port]",
                     given);
  size_t keep = dflt ? port_off - 1 : n;
  if (is_pattern) {
    size_t scheme_end = o.scheme_len + 3, host_end = host_off + o.host_len;
    pattern *p = api__realloc(c->patterns, (c->n_patterns + 1) * sizeof(*p));
    if (!p) return API_ENOMEM;
    c->patterns = p;
    p = &c->patterns[c->n_patterns];
    *p = (pattern){dup_n(buf, scheme_end), dup_n(buf + scheme_end + 1, host_end - scheme_end - 1),
                   dup_n(buf + host_end, keep - host_end)};
    c->n_patterns++;
    if (!p->prefix || !p->suffix || !p->port) return API_ENOMEM;
    return 0;
  }
  char **e = api__realloc(c->exact, (c->n_exact + 1) * sizeof(*e));
  if (!e) return API_ENOMEM;
  c->exact = e;
  if (!(c->exact[c->n_exact] = dup_n(buf, keep))) return API_ENOMEM;
  c->n_exact++;
  return 0;
}

/* ---- lists of names ---- */

static int add_names(char ***arr, size_t *n, const char *const *names, bool lower,
                     const char *what) {
  for (size_t i = 0; names[i]; i++) {
    size_t len = strlen(names[i]);
    if (!api__is_token(names[i], len))
      return api__fail(API_EINVAL, "api_mw_cors: %s: \"%.200s\" is not a token", what, names[i]);
    char **a = api__realloc(*arr, (*n + 1) * sizeof(*a));
    if (!a) return API_ENOMEM;
    *arr = a;
    char *s = dup_n(names[i], len);
    if (!s) return API_ENOMEM;
    if (lower)
      for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    a[(*n)++] = s;
  }
  return 0;
}

/* "a, b, c" in malloc'd memory, or NULL with *rc set. */
static char *join(char *const *names, size_t n, int *rc) {
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += strlen(names[i]) + 2;
  char *s = api__malloc(len), *p = s;
  if (!s) {
    *rc = API_ENOMEM;
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (i) {
      *p++ = ',';
      *p++ = ' ';
    }
    size_t k = strlen(names[i]);
    memcpy(p, names[i], k);
    p += k;
  }
  *p = '\0';
  return s;
}

/* ---- the hooks ---- */

/* The value to send in Access-Control-Allow-Origin for this request, or NULL. */
static const char *allowed_origin(const cors *c, const api_req *req) {
  const char *origin = api_req_header(req, "Origin");
  if (!origin || api_req_header_n(req, "Origin", 1)) return NULL; /* several: refused */
  size_t n = strlen(origin);
  if (n > MAX_ORIGIN) return NULL;
  if (strcmp(origin, "null") == 0) return c->allow_null ? origin : NULL;
  if (c->any) return "*";
  origin_parts o;
  if (!parse_origin(origin, n, &o) || default_port(origin, &o)) return NULL;
  for (size_t i = 0; i < c->n_exact; i++)
    if (strcmp(c->exact[i], origin) == 0) return origin;
  size_t host_end = (size_t)(o.host - origin) + o.host_len;
  for (size_t i = 0; i < c->n_patterns; i++) {
    const pattern *p = &c->patterns[i];
    size_t pl = strlen(p->prefix), sl = strlen(p->suffix);
    /* one or more whole labels, then the suffix (which starts with '.') */
    if (o.host[0] != '[' && pl == (size_t)(o.host - origin) && memcmp(origin, p->prefix, pl) == 0 &&
        o.host_len > sl && memcmp(origin + host_end - sl, p->suffix, sl) == 0 &&
        strcmp(origin + host_end, p->port) == 0)
      return origin;
  }
  return NULL;
}

static bool is_preflight(const api_req *req) {
  return strcmp(api_req_method(req), "OPTIONS") == 0 && api_req_header(req, "Origin") &&
         api_req_header(req, "Access-Control-Request-Method");
}

static int cors_on_request(api_req *req, api_res *res, void *ud) {
  (void)ud;
  /* Unrouted paths pass: the router answers 404, or its own 204 that on_send completes. */
  if (is_preflight(req) && api_req_route(req)) {
    int rc = api_res_status(res, 204);
    return rc ? rc : API_DONE;
  }
  return API_NEXT;
}

static bool method_allowed(const cors *c, const char *m) {
  for (size_t i = 0; i < c->n_methods; i++)
    if (strcmp(c->methods[i], m) == 0) return true;
  return false;
}

static bool header_allowed(const cors *c, const char *h, size_t n) {
  if (c->any_header) return true;
  for (size_t i = 0; i < c->n_headers; i++)
    if (strlen(c->headers[i]) == n && strncasecmp(c->headers[i], h, n) == 0) return true;
  return false;
}

/* Check every name the preflight asks for; *echo gets them joined (request memory), or NULL
 * when none was asked for. False when one is malformed or not allowed. */
static bool requested_headers_ok(const cors *c, api_req *req, const char **echo, int *rc) {
  size_t total = 0;
  const char *v;
  *echo = NULL;
  for (size_t f = 0; (v = api_req_header_n(req, "Access-Control-Request-Headers", f)); f++) {
    const char *p = v;
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == ',') p++;
      const char *s = p;
      while (*p && *p != ',') p++;
      const char *e = p;
      while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
      if (e == s) continue;
      if (!api__is_token(s, (size_t)(e - s)) || !header_allowed(c, s, (size_t)(e - s)))
        return false;
      total += (size_t)(e - s) + 2;
    }
  }
  if (total == 0) return true;
  char *out = api_req_alloc(req, total + 1), *o = out;
  if (!out) {
    *rc = API_ENOMEM;
    return false;
  }
  for (size_t f = 0; (v = api_req_header_n(req, "Access-Control-Request-Headers", f)); f++) {
    const char *p = v;
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == ',') p++;
      const char *s = p;
      while (*p && *p != ',') p++;
      const char *e = p;
      while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
      if (e == s) continue;
      if (o != out) {
        *o++ = ',';
        *o++ = ' ';
      }
      memcpy(o, s, (size_t)(e - s));
      o += e - s;
    }
  }
  *o = '\0';
  *echo = out;
  return true;
}

static int preflight_fields(const cors *c, api_req *req, api_res *res) {
  int rc = 0;
  if ((rc = api_res_vary(res, "Access-Control-Request-Method")) ||
      (rc = api_res_vary(res, "Access-Control-Request-Headers")))
    return rc;
  int status = api_res_get_status(res);
  if (status < 200 || status > 299) return 0; /* 404 stays a plain 404 */
  const char *origin = allowed_origin(c, req);
  const char *method = api_req_header(req, "Access-Control-Request-Method");
  const char *echo = NULL;
  if (!origin || api_req_header_n(req, "Access-Control-Request-Method", 1) ||
      !method_allowed(c, method) || !requested_headers_ok(c, req, &echo, &rc))
    return rc;
  if ((rc = api_res_header(res, "Access-Control-Allow-Origin", origin)) ||
      (c->credentials && (rc = api_res_header(res, "Access-Control-Allow-Credentials", "true"))) ||
      (rc = api_res_header(res, "Access-Control-Allow-Methods", c->methods_list)) ||
      (echo && (rc = api_res_header(res, "Access-Control-Allow-Headers", echo))) ||
      (c->max_age[0] && (rc = api_res_header(res, "Access-Control-Max-Age", c->max_age))))
    return rc;
  return 0;
}

static int cors_on_send(api_req *req, api_res *res, void *ud) {
  const cors *c = ud;
  int rc = api_res_vary(res, "Origin");
  if (rc) return rc;
  if (is_preflight(req)) return preflight_fields(c, req, res);
  const char *origin = allowed_origin(c, req);
  if (!origin) return API_NEXT;
  if ((rc = api_res_header(res, "Access-Control-Allow-Origin", origin)) ||
      (c->credentials && (rc = api_res_header(res, "Access-Control-Allow-Credentials", "true"))) ||
      (c->expose_list &&
       (rc = api_res_header(res, "Access-Control-Expose-Headers", c->expose_list))))
    return rc;
  return API_NEXT;
}

/* ---- construction ---- */

static int build(cors *c, const api_cors_options *o) {
  static const char *const default_methods[] = {"GET",   "HEAD",   "POST", "PUT",
                                                "PATCH", "DELETE", NULL};
  static const char *const default_headers[] = {"Content-Type", NULL};
  int rc;
  if (!o->origins || !o->origins[0])
    return api__fail(API_EINVAL, "api_mw_cors: origins: at least one origin is required");
  for (size_t i = 0; o->origins[i]; i++) {
    size_t n = strlen(o->origins[i]);
    if (n == 0 || n > MAX_ORIGIN)
      return api__fail(API_EINVAL, "api_mw_cors: origins: entry %zu is empty or too long", i);
    char *buf = dup_n(o->origins[i], n);
    if (!buf) return API_ENOMEM;
    for (char *p = buf; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    rc = add_origin(c, buf, n, o->origins[i]);
    api__free(buf);
    if (rc) return rc;
  }
  c->credentials = o->credentials;
  if (c->any && c->credentials)
    return api__fail(API_EINVAL,
                     "api_mw_cors: credentials: not allowed with the origin \"*\" (list the "
                     "origins instead)");
  if ((rc = add_names(&c->methods, &c->n_methods, o->methods ? o->methods : default_methods, false,
                      "methods")))
    return rc;
  if (c->n_methods == 0) return api__fail(API_EINVAL, "api_mw_cors: methods: empty list");
  const char *const *hdrs = o->allow_headers ? o->allow_headers : default_headers;
  if (hdrs[0] && strcmp(hdrs[0], "*") == 0 && !hdrs[1]) {
    c->any_header = true;
  } else if ((rc = add_names(&c->headers, &c->n_headers, hdrs, true, "allow_headers"))) {
    return rc;
  }
  if (!(c->methods_list = join(c->methods, c->n_methods, &rc))) return rc;
  if (o->expose_headers && o->expose_headers[0]) {
    char **names = NULL;
    size_t n = 0;
    rc = add_names(&names, &n, o->expose_headers, false, "expose_headers");
    if (!rc && !(c->expose_list = join(names, n, &rc))) c->expose_list = NULL;
    for (size_t i = 0; i < n; i++) api__free(names[i]);
    api__free(names);
    if (rc) return rc;
  }
  long max_age = o->max_age == 0 ? 600 : o->max_age;
  if (max_age > 0) snprintf(c->max_age, sizeof(c->max_age), "%ld", max_age);
  return 0;
}

int api_mw_cors(api_app *app, const api_cors_options *opts, api_middleware *out) {
  api_cors_options o;
  if (!app || !out || !API__COPY_OPTIONS(&o, opts))
    return api__fail(API_EINVAL,
                     "api_mw_cors: app, options (API_CORS_OPTIONS) and out are "
                     "required");
  cors *c = api__calloc(1, sizeof(*c));
  if (!c) return API_ENOMEM;
  int rc = build(c, &o);
  if (rc) {
    cors_free(c);
    return rc;
  }
  if ((rc = api_app_on_free(app, cors_free, c))) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "cors",
                          .on_request = cors_on_request,
                          .on_send = cors_on_send,
                          .user_data = c};
  return 0;
}
