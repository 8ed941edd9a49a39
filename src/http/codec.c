#include "http/codec.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "http/chars.h"
#include "libapi/common.h"

/* What a successful parse with no pairs points *out at, so that callers may pass it to memcpy
 * with a count of 0 (memcpy's pointers must not be NULL even then). Never written: n is 0. */
static api__kv no_pairs[1];

static inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }

/* ASCII only, on purpose: tolower() and strncasecmp() follow the locale. */
static inline unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* s[0..n) equals lit[0..n) ignoring ASCII case; lit is lower case. */
static bool ci_eq(const char *s, const char *lit, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)s[i]) != (unsigned char)lit[i]) return false;
  return true;
}

/* s starts with lit ignoring ASCII case; stops at s's NUL, so it never reads past a short s. */
static bool ci_prefix(const char *s, const char *lit) {
  for (; *lit; s++, lit++)
    if (lower((unsigned char)*s) != lower((unsigned char)*lit)) return false;
  return true;
}

static inline int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

long api__pct_decode(char *dst, const char *src, size_t len, bool plus_is_space) {
  if (len > LONG_MAX) return -1;
  size_t o = 0;
  /* o <= i throughout, and src[i..i+2] is read before dst[o] is written: in place is safe. */
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)src[i];
    if (c == '%') {
      if (len - i < 3) return -1;
      int hi = hex_digit((unsigned char)src[i + 1]);
      int lo = hex_digit((unsigned char)src[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (unsigned char)(hi << 4 | lo);
      i += 3;
    } else {
      if (c == '+' && plus_is_space) c = ' ';
      i++;
    }
    if (c == '\0') return -1;
    dst[o++] = (char)c;
  }
  dst[o] = '\0';
  return (long)o;
}

int api__query_parse(api__arena *a, const char *qs, size_t len, size_t max_pairs, api__kv **out,
                     size_t *n) {
  *out = NULL;
  *n = 0;
  /* qs may be NULL when len is 0, and NULL + 0 is undefined. */
  if (len == 0) {
    *out = no_pairs;
    return 0;
  }
  const char *end = qs + len;

  /* First pass: count, so that one allocation holds the array and every string, and a flood of
   * pairs is refused before anything is decoded. */
  size_t count = 0;
  for (const char *p = qs;;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    if (!amp) amp = end;
    if (amp > p) {
      if (count == max_pairs) return API_EBADREQ;
      count++;
    }
    if (amp == end) break;
    p = amp + 1;
  }
  if (count == 0) {
    *out = no_pairs;
    return 0;
  }

  /* A piece "k=v" needs at most len(k)+1 + len(v)+1 = its length + 1 bytes once decoded, "k"
   * needs its length + 2 (the value "" gets its own NUL): len + 2 * count covers all. Pieces are
   * separated, so count <= (len + 1) / 2 and the total stays near 10 * len; refuse sizes where
   * it could overflow. */
  if (len > SIZE_MAX / 32) return API_ENOMEM;
  api__kv *kv = api__arena_alloc(a, count * sizeof(*kv) + len + 2 * count);
  if (!kv) return API_ENOMEM;
  char *s = (char *)(kv + count);

  size_t i = 0;
  for (const char *p = qs;;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    if (!amp) amp = end;
    if (amp > p) {
      const char *eq = memchr(p, '=', (size_t)(amp - p));
      const char *kend = eq ? eq : amp;
      const char *vstart = eq ? eq + 1 : amp;
      long dk = api__pct_decode(s, p, (size_t)(kend - p), true);
      if (dk < 0) return API_EBADREQ;
      kv[i].key = s;
      s += dk + 1;
      long dv = api__pct_decode(s, vstart, (size_t)(amp - vstart), true);
      if (dv < 0) return API_EBADREQ;
      kv[i].value = s;
      s += dv + 1;
      i++;
    }
    if (amp == end) break;
    p = amp + 1;
  }
  *out = kv;
  *n = count;
  return 0;
}

typedef struct cookie_pair {
  const char *name, *value;
  size_t name_len, value_len;
} cookie_pair;

/* The next acceptable pair from *pos on, skipping the ones RFC 6265 section 5.2 tells user agents
 * to ignore; false when there are no more. */
static bool cookie_next(const char **pos, const char *end, cookie_pair *cp) {
  const char *p = *pos;
  while (p < end) {
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *s = p, *e = semi ? semi : end;
    p = semi ? semi + 1 : end;
    while (s < e && is_wsp(*s)) s++;
    while (e > s && is_wsp(e[-1])) e--;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) continue;
    const char *ne = eq;
    while (ne > s && is_wsp(ne[-1])) ne--;
    if (!api__is_token(s, (size_t)(ne - s))) continue;
    const char *vs = eq + 1, *ve = e;
    while (vs < ve && is_wsp(*vs)) vs++;
    if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') vs++, ve--;
    /* The parser keeps NUL out of field values; this keeps C strings whole for other callers. */
    if (memchr(vs, '\0', (size_t)(ve - vs))) continue;
    cp->name = s;
    cp->name_len = (size_t)(ne - s);
    cp->value = vs;
    cp->value_len = (size_t)(ve - vs);
    *pos = p;
    return true;
  }
  *pos = p;
  return false;
}

int api__cookie_parse(api__arena *a, const char *header, size_t len, size_t max_pairs,
                      api__kv **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (len == 0) {
    *out = no_pairs;
    return 0;
  }
  const char *end = header + len;
  cookie_pair cp;

  /* Two passes, so that one exact allocation holds the array and the strings. */
  size_t count = 0, bytes = 0;
  for (const char *p = header; cookie_next(&p, end, &cp);) {
    if (count == max_pairs) return API_EBADREQ;
    count++;
    bytes += cp.name_len + cp.value_len + 2;
  }
  if (count == 0) {
    *out = no_pairs;
    return 0;
  }
  /* bytes <= len + count and count <= len / 2 + 1: no overflow for any len an arena can hold. */
  if (len > SIZE_MAX / 32) return API_ENOMEM;
  api__kv *kv = api__arena_alloc(a, count * sizeof(*kv) + bytes);
  if (!kv) return API_ENOMEM;
  char *s = (char *)(kv + count);
  size_t i = 0;
  for (const char *p = header; cookie_next(&p, end, &cp); i++) {
    memcpy(s, cp.name, cp.name_len);
    s[cp.name_len] = '\0';
    kv[i].key = s;
    s += cp.name_len + 1;
    memcpy(s, cp.value, cp.value_len);
    s[cp.value_len] = '\0';
    kv[i].value = s;
    s += cp.value_len + 1;
  }
  *out = kv;
  *n = count;
  return 0;
}

/* cookie-octet of RFC 6265 section 4.1.1. */
static inline bool is_cookie_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static bool valid_cookie_value(const char *v, size_t n) {
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
  for (size_t i = 0; i < n; i++)
    if (!is_cookie_octet((unsigned char)v[i])) return false;
  return true;
}

/* path-value and Domain: CHAR except CTLs and ';' (RFC 6265 section 4.1.1). */
static bool valid_attr_value(const char *v) {
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if (c < 0x20 || c >= 0x7F || c == ';') return false;
  }
  return true;
}

/* Counts every byte, copies only while they fit: one routine both measures and writes. */
typedef struct sink {
  char *buf;
  size_t cap, len;
} sink;

static void put(sink *s, const char *p, size_t n) {
  if (s->buf && s->len <= s->cap && n <= s->cap - s->len) memcpy(s->buf + s->len, p, n);
  s->len += n;
}

static void puts_(sink *s, const char *str) { put(s, str, strlen(str)); }

static void put_ull(sink *s, unsigned long long v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do tmp[--i] = (char)('0' + v % 10);
  while (v /= 10);
  put(s, tmp + i, sizeof(tmp) - i);
}

static void build_set_cookie(sink *s, const char *name, const char *value, const api_cookie_opts *o,
                             const char *date) {
  puts_(s, name);
  put(s, "=", 1);
  puts_(s, value);
  if (!o) return;
  if (o->path && *o->path) {
    puts_(s, "; Path=");
    puts_(s, o->path);
  }
  if (o->domain && *o->domain) {
    puts_(s, "; Domain=");
    puts_(s, o->domain);
  }
  if (o->max_age) {
    puts_(s, "; Max-Age=");
    put_ull(s, o->max_age < 0 ? 0 : (unsigned long long)o->max_age);
  }
  if (o->expires) {
    puts_(s, "; Expires=");
    puts_(s, date);
  }
  if (o->http_only) puts_(s, "; HttpOnly");
  if (o->secure) puts_(s, "; Secure");
  switch (o->same_site) {
    case API_SAMESITE_LAX:
      puts_(s, "; SameSite=Lax");
      break;
    case API_SAMESITE_STRICT:
      puts_(s, "; SameSite=Strict");
      break;
    case API_SAMESITE_NONE:
      puts_(s, "; SameSite=None");
      break;
    default:
      break;
  }
}

int api__set_cookie_format(char *buf, size_t cap, const char *name, const char *value,
                           const api_cookie_opts *opts, size_t *len_out) {
  *len_out = 0;
  if (!name || !api__is_token(name, strlen(name))) return API_EINVAL;
  if (!value) value = "";
  if (!valid_cookie_value(value, strlen(value))) return API_EINVAL;

  char date[API__HTTP_DATE_LEN + 1] = "";
  if (opts) {
    bool has_domain = opts->domain && *opts->domain;
    bool has_path = opts->path && *opts->path;
    if (has_path && !valid_attr_value(opts->path)) return API_EINVAL;
    if (has_domain && !valid_attr_value(opts->domain)) return API_EINVAL;
    if (opts->expires) {
      time_t t = (time_t)opts->expires;
      if ((long long)t != opts->expires || !api__http_date(t, date)) return API_EINVAL;
    }
    switch (opts->same_site) {
      case API_SAMESITE_DEFAULT:
      case API_SAMESITE_LAX:
      case API_SAMESITE_STRICT:
        break;
      case API_SAMESITE_NONE:
        if (!opts->secure) return API_EINVAL;
        break;
      default:
        return API_EINVAL;
    }
    if (ci_prefix(name, "__Secure-") && !opts->secure) return API_EINVAL;
    if (ci_prefix(name, "__Host-") &&
        (!opts->secure || has_domain || !has_path || strcmp(opts->path, "/") != 0))
      return API_EINVAL;
  } else if (ci_prefix(name, "__Secure-") || ci_prefix(name, "__Host-")) {
    return API_EINVAL;
  }

  sink measure = {NULL, 0, 0};
  build_set_cookie(&measure, name, value, opts, date);
  *len_out = measure.len;
  if (!buf || cap <= measure.len) return API_ENOMEM;
  sink out = {buf, cap, 0};
  build_set_cookie(&out, name, value, opts, date);
  buf[out.len] = '\0';
  return 0;
}

static void put2(char *p, int v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
}

size_t api__http_date(time_t t, char out[API__HTTP_DATE_LEN + 1]) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  /* tm_year is compared before adding 1900, which could overflow an int. */
  if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
    out[0] = '\0';
    return 0;
  }
  int year = tm.tm_year + 1900;
  memcpy(out, days[tm.tm_wday], 3);
  memcpy(out + 3, ", ", 2);
  put2(out + 5, tm.tm_mday);
  out[7] = ' ';
  memcpy(out + 8, months[tm.tm_mon], 3);
  out[11] = ' ';
  put2(out + 12, year / 100);
  put2(out + 14, year % 100);
  out[16] = ' ';
  put2(out + 17, tm.tm_hour);
  out[19] = ':';
  put2(out + 20, tm.tm_min);
  out[22] = ':';
  put2(out + 23, tm.tm_sec);
  memcpy(out + 25, " GMT", 5); /* with the NUL */
  return API__HTTP_DATE_LEN;
}

bool api__is_json_media_type(const char *ct) {
  if (!ct) return false;
  while (is_wsp(*ct)) ct++;
  if (!ci_prefix(ct, "application/")) return false;
  const char *sub = ct + sizeof("application/") - 1, *p = sub;
  while (api__is_tchar((unsigned char)*p)) p++;
  size_t n = (size_t)(p - sub);
  /* "+json" alone is not a suffix: the structured syntax needs a name before it. */
  if (!((n == 4 && ci_eq(sub, "json", 4)) || (n > 5 && ci_eq(p - 5, "+json", 5)))) return false;
  while (is_wsp(*p)) p++;
  return *p == '\0' || *p == ';';
}

bool api__header_has_token(const char *value, const char *token) {
  if (!value || !token || !*token) return false;
  size_t tlen = strlen(token);
  for (const char *p = value;;) {
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *s = p, *t = e;
    while (s < t && is_wsp(*s)) s++;
    while (t > s && is_wsp(t[-1])) t--;
    if ((size_t)(t - s) == tlen) {
      size_t i = 0;
      while (i < tlen && lower((unsigned char)s[i]) == lower((unsigned char)token[i])) i++;
      if (i == tlen) return true;
    }
    if (!*e) return false;
    p = e + 1;
  }
}
