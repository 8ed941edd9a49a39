/* Line formatting: JSON and pretty lines, string escaping, numbers, time, redaction. This is the
 * hot path of every log call: no allocation, no jansson for scalar fields, no stdio for numbers
 * (except doubles that have no short exact decimal form). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log_internal.h"

/* ---- the output buffer ---- */

static inline char *reserve(api__lbuf *b, size_t n) {
  if (b->cap - b->len < n) {
    b->over = true;
    return NULL;
  }
  char *p = b->p + b->len;
  b->len += n;
  return p;
}

static inline void put(api__lbuf *b, const void *p, size_t n) {
  char *d = reserve(b, n);
  if (d) memcpy(d, p, n);
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

static inline void put1(api__lbuf *b, char c) {
  if (b->len < b->cap)
    b->p[b->len++] = c;
  else
    b->over = true;
}

void api__lbuf_put(api__lbuf *b, const void *p, size_t n) { put(b, p, n); }

/* ---- time ---- */

int64_t api__log_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* "YYYY-MM-DDTHH:MM:SS." for the last second this thread rendered. */
static _Thread_local struct {
  int64_t sec;
  bool valid;
  char text[24];
} tcache;

static void put2(char *d, unsigned v) { memcpy(d, digits2 + 2 * v, 2); }

void api__log_time(api__lbuf *b, int64_t ms) {
  int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  unsigned msec = (unsigned)(ms - sec * 1000);
  if (!tcache.valid || tcache.sec != sec) {
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
      memset(&tm, 0, sizeof(tm));
      tm.tm_year = 70;
      tm.tm_mday = 1;
    }
    char *d = tcache.text;
    unsigned y = (unsigned)(tm.tm_year + 1900);
    put2(d, y / 100);
    put2(d + 2, y % 100);
    d[4] = '-';
    put2(d + 5, (unsigned)tm.tm_mon + 1);
    d[7] = '-';
    put2(d + 8, (unsigned)tm.tm_mday);
    d[10] = 'T';
    put2(d + 11, (unsigned)tm.tm_hour);
    d[13] = ':';
    put2(d + 14, (unsigned)tm.tm_min);
    d[16] = ':';
    put2(d + 17, (unsigned)tm.tm_sec);
    d[19] = '.';
    tcache.sec = sec;
    tcache.valid = true;
  }
  char *d = reserve(b, 24);
  if (!d) return;
  memcpy(d, tcache.text, 20);
  d[20] = (char)('0' + msec / 100);
  put2(d + 21, msec % 100);
  d[23] = 'Z';
}

/* ---- numbers ---- */

void api__log_uint(api__lbuf *b, unsigned long long v) {
  char tmp[24];
  char *e = tmp + sizeof(tmp), *p = e;
  while (v >= 100) {
    p -= 2;
    memcpy(p, digits2 + 2 * (v % 100), 2);
    v /= 100;
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, digits2 + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
  put(b, p, (size_t)(e - p));
}

void api__log_int(api__lbuf *b, long long v) {
  if (v < 0) {
    put1(b, '-');
    api__log_uint(b, 0ULL - (unsigned long long)v);
  } else {
    api__log_uint(b, (unsigned long long)v);
  }
}

static const double pow10tab[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Doubles: the shortest decimal that reads back as the same double. Fast path: a value that is
 * r / 10^k exactly-rounded for an integer r < 2^53 and k <= 9 (0.412, 12.5, 200) is printed as
 * that fixed-point decimal; the first k that round-trips gives the fewest digits. Division by an
 * exact power of ten is correctly rounded, so r / 10^k == d proves that strtod("r e-k") == d.
 * Everything else: the shortest %.{15,16,17}g that round-trips. NaN and infinities: null. */
void api__log_double(api__lbuf *b, double d) {
  if (!isfinite(d)) {
    PUTS(b, "null");
    return;
  }
  double a = signbit(d) ? -d : d;
  if (a < 9.0e15 && (a >= 1e-6 || a == 0)) {
    for (int k = 0; k <= 9; k++) {
      double m = a * pow10tab[k];
      if (m >= 9.0e15) break;
      double r = (double)(unsigned long long)(m + 0.5);
      if (r / pow10tab[k] != a) continue;
      unsigned long long ir = (unsigned long long)r;
      if (signbit(d)) put1(b, '-');
      if (k == 0) {
        api__log_uint(b, ir);
        return;
      }
      unsigned long long ip = ir / (unsigned long long)pow10tab[k];
      unsigned long long fp = ir % (unsigned long long)pow10tab[k];
      api__log_uint(b, ip);
      char *p = reserve(b, (size_t)k + 1);
      if (!p) return;
      p[0] = '.';
      for (int i = k; i >= 1; i--) {
        p[i] = (char)('0' + fp % 10);
        fp /= 10;
      }
      return;
    }
  }
  char tmp[40];
  int n = 0;
  /* 15 digits always round-trip a decimal of at most 15 digits (DBL_DIG) to the same decimal,
   * so for normal numbers no shorter precision needs trying; subnormals have fewer digits. */
  for (int prec = a < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
    if (prec == 17 || strtod(tmp, NULL) == d) break;
  }
  put(b, tmp, (size_t)n);
}

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available) and its code point, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp) {
  unsigned c = s[0];
  if (c >= 0xC2 && c <= 0xDF) {
    if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3) return 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
    if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x0F) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3F);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4) return 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x07) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3F);
    return 4;
  }
  return 0;
}

static const char hexd[] = "0123456789abcdef";

static void put_u(api__lbuf *b, unsigned cp) {
  char *p = reserve(b, 6);
  if (!p) return;
  p[0] = '\\';
  p[1] = 'u';
  p[2] = hexd[(cp >> 12) & 15];
  p[3] = hexd[(cp >> 8) & 15];
  p[4] = hexd[(cp >> 4) & 15];
  p[5] = hexd[cp & 15];
}

/* Whether byte c can be copied as is: printable ASCII other than '"' and '\\'. */
static inline bool plain(unsigned char c) {
  return (unsigned char)(c - 0x20) < 0x5F && c != '"' && c != '\\';
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t has_zero(uint64_t v) { return (v - ONES) & ~v & HIGHS; }

/* Whether any of the 8 bytes at s is not plain (a SWAR test: no false negatives). */
static inline bool special8(const unsigned char *s) {
  uint64_t w;
  memcpy(&w, s, 8);
  return ((w & HIGHS) | has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) |
          has_zero(w ^ (ONES * 0x7F)) | ((w - ONES * 0x20) & ~w & HIGHS)) != 0;
}

/* The body of a JSON string (no quotes). Control characters (C0, DEL, C1) become escapes, so no
 * value can end a line or drive a terminal; invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are
 * escaped for JavaScript readers. */
static void esc_body(api__lbuf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, start = 0;
  while (i < n) {
    if (i + 8 <= n && !special8(s + i)) {
      i += 8;
      continue;
    }
    unsigned char c = s[i];
    if (plain(c)) {
      i++;
      continue;
    }
    put(b, s + start, i - start);
    if (c < 0x80) {
      switch (c) {
        case '"':
          PUTS(b, "\\\"");
          break;
        case '\\':
          PUTS(b, "\\\\");
          break;
        case '\n':
          PUTS(b, "\\n");
          break;
        case '\r':
          PUTS(b, "\\r");
          break;
        case '\t':
          PUTS(b, "\\t");
          break;
        case '\b':
          PUTS(b, "\\b");
          break;
        case '\f':
          PUTS(b, "\\f");
          break;
        default:
          put_u(b, c);
      }
      i++;
    } else {
      unsigned cp = 0;
      size_t len = utf8_seq(s + i, n - i, &cp);
      if (len == 0) {
        PUTS(b, "\xEF\xBF\xBD");
        i++;
      } else {
        if (cp < 0xA0 || cp == 0x2028 || cp == 0x2029)
          put_u(b, cp);
        else
          put(b, s + i, len);
        i += len;
      }
    }
    start = i;
  }
  put(b, s + start, i - start);
}

void api__log_json_str(api__lbuf *b, const char *s, size_t n) {
  put1(b, '"');
  esc_body(b, s, n);
  put1(b, '"');
}

/* Pretty values: bare when made only of printable ASCII without space, '=', '"' or '\\';
 * otherwise a quoted JSON string, so that key=value pairs stay unambiguous. */
static void pretty_str(api__lbuf *b, const char *s, size_t n) {
  bool bare = n > 0;
  for (size_t i = 0; i < n && bare; i++) {
    unsigned char c = (unsigned char)s[i];
    bare = plain(c) && c != ' ' && c != '=';
  }
  if (bare)
    put(b, s, n);
  else
    api__log_json_str(b, s, n);
}

/* ---- redaction ---- */

static inline unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Whether s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static bool ieq(const char *s, size_t n, const char *lit, size_t ln) {
  if (n != ln) return false;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)s[i]) != (unsigned char)lit[i]) return false;
  return true;
}

/* Whether the lower-case literal lit starts at s[i] (n bytes in s), ignoring ASCII case. */
static bool iat(const char *s, size_t n, size_t i, const char *lit, size_t ln) {
  return n - i >= ln && ieq(s + i, ln, lit, ln);
}

#define IAT(s, n, i, lit) iat((s), (n), (i), (lit), sizeof(lit) - 1)
#define IEQ(s, n, lit) ieq((s), (n), (lit), sizeof(lit) - 1)

/* The built-in list: authorization, proxy-authorization, cookie, set-cookie exactly; anything
 * containing password, passwd, secret, token, api_key, apikey or api-key. One pass over the key,
 * branching on the first letter of each pattern. */
static bool builtin_redacted(const char *k, size_t n) {
  if (IEQ(k, n, "cookie") || IEQ(k, n, "set-cookie") || IEQ(k, n, "authorization") ||
      IEQ(k, n, "proxy-authorization"))
    return true;
  for (size_t i = 0; i + 5 <= n; i++) {
    switch (lower((unsigned char)k[i])) {
      case 'p':
        if (IAT(k, n, i, "password") || IAT(k, n, i, "passwd")) return true;
        break;
      case 's':
        if (IAT(k, n, i, "secret")) return true;
        break;
      case 't':
        if (IAT(k, n, i, "token")) return true;
        break;
      case 'a':
        if (IAT(k, n, i, "api_key") || IAT(k, n, i, "apikey") || IAT(k, n, i, "api-key"))
          return true;
        break;
      default:
        break;
    }
  }
  return false;
}

bool api__log_redacted(const api__redact *r, const char *key, size_t n) {
  if (!r) return false;
  if (r->builtin && builtin_redacted(key, n)) return true;
  for (size_t j = 0; j < r->n; j++) {
    const char *rk = r->keys[j];
    if (rk[0] == '*') {
      size_t ln = strlen(rk + 1);
      for (size_t i = 0; i + ln <= n; i++)
        if (iat(key, n, i, rk + 1, ln)) return true;
    } else if (ieq(key, n, rk, strlen(rk))) {
      return true;
    }
  }
  return false;
}

/* ---- JSON values (jansson), with nested redaction ---- */

#define JSON_MAX_DEPTH 64

static void put_json(api__lbuf *b, const api__fmt *f, const json_t *j, int depth) {
  if (!j) {
    PUTS(b, "null");
    return;
  }
  if (depth > JSON_MAX_DEPTH) {
    PUTS(b, "\"[TOO DEEP]\"");
    return;
  }
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      put1(b, '{');
      const char *key;
      json_t *val;
      bool first = true;
      json_object_foreach((json_t *)j, key, val) {
        if (!first) put1(b, ',');
        first = false;
        size_t kn = strlen(key);
        api__log_json_str(b, key, kn);
        put1(b, ':');
        if (api__log_redacted(f->redact, key, kn))
          PUTS(b, "\"[REDACTED]\"");
        else
          put_json(b, f, val, depth + 1);
      }
      put1(b, '}');
      break;
    }
    case JSON_ARRAY: {
      put1(b, '[');
      size_t n = json_array_size(j);
      for (size_t i = 0; i < n; i++) {
        if (i) put1(b, ',');
        put_json(b, f, json_array_get(j, i), depth + 1);
      }
      put1(b, ']');
      break;
    }
    case JSON_STRING:
      api__log_json_str(b, json_string_value(j), json_string_length(j));
      break;
    case JSON_INTEGER:
      api__log_int(b, (long long)json_integer_value(j));
      break;
    case JSON_REAL:
      api__log_double(b, json_real_value(j));
      break;
    case JSON_TRUE:
      PUTS(b, "true");
      break;
    case JSON_FALSE:
      PUTS(b, "false");
      break;
    default:
      PUTS(b, "null");
      break;
  }
}

/* ---- lines ---- */

static const char *const json_level[] = {"", "trace", "debug", "info", "warn", "error", "fatal"};
static const char *const pretty_level[] = {"",      "TRACE", "DEBUG", "INFO ",
                                           "WARN ", "ERROR", "FATAL"};
static const char *const level_color[] = {"",         "\x1b[90m", "\x1b[34m",  "\x1b[32m",
                                          "\x1b[33m", "\x1b[31m", "\x1b[1;31m"};

#define RESET "\x1b[0m"

void api__log_begin(api__lbuf *b, const api__fmt *f, int64_t ms, api_log_level level,
                    const char *msg) {
  if (level < API_LOG_TRACE || level > API_LOG_FATAL) level = API_LOG_FATAL;
  if (f->format == API_LOG_FORMAT_PRETTY) {
    if (f->color) PUTS(b, "\x1b[2m");
    api__log_time(b, ms);
    if (f->color) PUTS(b, RESET);
    put1(b, ' ');
    if (f->color) put(b, level_color[level], strlen(level_color[level]));
    put(b, pretty_level[level], 5);
    if (f->color) PUTS(b, RESET);
    put1(b, ' ');
    esc_body(b, msg, strlen(msg));
    return;
  }
  PUTS(b, "{\"time\":\"");
  api__log_time(b, ms);
  PUTS(b, "\",\"level\":\"");
  put(b, json_level[level], strlen(json_level[level]));
  PUTS(b, "\",\"msg\":");
  api__log_json_str(b, msg, strlen(msg));
}

static void put_value(api__lbuf *b, const api__fmt *f, const api_log_field *fl) {
  switch (fl->type) {
    case API_LOG_T_STR: {
      if (!fl->v.s.p) {
        PUTS(b, "null");
        break;
      }
      size_t n = fl->v.s.n == (size_t)-1 ? strlen(fl->v.s.p) : fl->v.s.n;
      if (f->format == API_LOG_FORMAT_PRETTY)
        pretty_str(b, fl->v.s.p, n);
      else
        api__log_json_str(b, fl->v.s.p, n);
      break;
    }
    case API_LOG_T_INT:
      api__log_int(b, fl->v.i);
      break;
    case API_LOG_T_UINT:
      api__log_uint(b, fl->v.u);
      break;
    case API_LOG_T_DOUBLE:
      api__log_double(b, fl->v.d);
      break;
    case API_LOG_T_BOOL:
      if (fl->v.b)
        PUTS(b, "true");
      else
        PUTS(b, "false");
      break;
    case API_LOG_T_JSON:
      put_json(b, f, fl->v.json, 0);
      break;
    case API_LOG_T_NULL:
    default:
      PUTS(b, "null");
      break;
  }
}

void api__log_put_fields(api__lbuf *b, const api__fmt *f, const api_log_field *fl, size_t n) {
  bool pretty = f->format == API_LOG_FORMAT_PRETTY;
  for (size_t i = 0; i < n; i++) {
    const char *key = fl[i].key;
    if (!key) continue;
    size_t kn = strlen(key);
    if (pretty) {
      put1(b, ' ');
      if (f->color) PUTS(b, "\x1b[36m");
      esc_body(b, key, kn);
      if (f->color) PUTS(b, RESET);
      put1(b, '=');
    } else {
      put1(b, ',');
      api__log_json_str(b, key, kn);
      put1(b, ':');
    }
    if (api__log_redacted(f->redact, key, kn))
      PUTS(b, "\"[REDACTED]\"");
    else
      put_value(b, f, &fl[i]);
  }
}

void api__log_end(api__lbuf *b, const api__fmt *f) {
  if (f->format == API_LOG_FORMAT_PRETTY)
    put1(b, '\n');
  else
    PUTS(b, "}\n");
}
