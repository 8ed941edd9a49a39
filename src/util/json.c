/* The library's strict JSON parser (what it accepts: json.h).
 *
 * jansson's json_loadb() reads its input one byte at a time through a stream callback, and its
 * lexer reports some allocation failures as syntax errors. This parser scans the buffer directly
 * (about a third of jansson's instructions per document; the figures are in docs/validation.md),
 * and keeps "out of memory" apart from "bad input" so that a server answers 503, not 400.
 * Strings without escapes are used in place; decoded strings go into one scratch buffer reused for
 * the whole document; numbers take Clinger's exact fast path when they can. */
#include "util/json.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

typedef struct parser {
  const unsigned char *p, *end, *start;
  unsigned flags;
  const char *err_msg; /* the first error wins */
  const unsigned char *err_at;
  bool enomem;
  char *buf;   /* scratch for decoded strings: object keys wait here, below used */
  size_t used; /* bytes of buf held by keys of the open objects */
  size_t cap;
} parser;

static json_t *value(parser *ps, unsigned depth);

static json_t *fail_at(parser *ps, const unsigned char *at, const char *msg) {
  if (!ps->err_msg) {
    ps->err_msg = msg;
    ps->err_at = at;
  }
  return NULL;
}

static json_t *oom(parser *ps) {
  if (!ps->err_msg) ps->enomem = true;
  return fail_at(ps, ps->p, "out of memory");
}

/* At ps->p something else was expected (or the input ended). */
static json_t *expected(parser *ps, const char *what) {
  return fail_at(ps, ps->p, ps->p < ps->end ? what : "unexpected end of input");
}

static void ws(parser *ps) {
  const unsigned char *p = ps->p;
  while (p < ps->end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  ps->p = p;
}

/* 1 for the bytes that stand for themselves in a string: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static int hex4(const unsigned char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (int)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (int)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (int)(c - 'A' + 10);
    else
      return -1;
  }
  return v;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80): shortest form, no surrogate,
 * at most U+10FFFF. 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0], min, cp;
  size_t n;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2, min = 0x80, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, min = 0x800, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, min = 0x10000, cp = c & 0x07;
  else
    return 0;
  if ((size_t)(end - p) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Room for need bytes at ps->buf + at. */
static bool reserve(parser *ps, size_t at, size_t need) {
  if (need > ps->cap - at) {
    size_t cap = ps->cap ? ps->cap : 256;
    while (cap - at < need) cap *= 2;
    char *b = api__realloc(ps->buf, cap);
    if (!b) return false;
    ps->buf = b;
    ps->cap = cap;
  }
  return true;
}

/* Decode the escape at p (a backslash) into o (room for 4 bytes). Returns the bytes written and
 * advances *pp, or -1 after recording the error. */
static int escape(parser *ps, const unsigned char **pp, char *o) {
  const unsigned char *p = *pp, *end = ps->end;
  if (end - p < 2) return -1; /* the caller reports the unterminated string */
  *pp = p + 2;
  switch (p[1]) {
    case '"':
    case '\\':
    case '/':
      *o = (char)p[1];
      return 1;
    case 'b':
      *o = '\b';
      return 1;
    case 'f':
      *o = '\f';
      return 1;
    case 'n':
      *o = '\n';
      return 1;
    case 'r':
      *o = '\r';
      return 1;
    case 't':
      *o = '\t';
      return 1;
    case 'u':
      break;
    default:
      fail_at(ps, p, "invalid escape");
      return -1;
  }
  int cp = end - p >= 6 ? hex4(p + 2) : -1;
  if (cp < 0) return fail_at(ps, p, "invalid \\u escape"), -1;
  if (cp >= 0xdc00 && cp <= 0xdfff) return fail_at(ps, p, "lone surrogate in a \\u escape"), -1;
  if (cp >= 0xd800 && cp <= 0xdbff) {
    int lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
    if (lo < 0xdc00 || lo > 0xdfff) return fail_at(ps, p, "lone surrogate in a \\u escape"), -1;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    *pp = p + 12;
  } else {
    *pp = p + 6;
  }
  if (cp == 0 && !(ps->flags & API__JSON_ALLOW_NUL))
    return fail_at(ps, p, "\\u0000 is not allowed"), -1;
  return (int)put_utf8(o, (unsigned)cp);
}

/* A string; ps->p is just after its opening quote. On success *out and *len give its bytes and the
 * return value says where they are: 0 in the input, 1 in ps->buf + ps->used (valid until the next
 * string). -1 on error. */
static int string(parser *ps, const char **out, size_t *len) {
  const unsigned char *s = ps->p, *p = s, *end = ps->end;
  for (;;) {
    while (p < end && plain[*p]) p++;
    if (p >= end) return fail_at(ps, s - 1, "unterminated string"), -1;
    if (*p == '"') {
      *out = (const char *)s;
      *len = (size_t)(p - s);
      ps->p = p + 1;
      return 0;
    }
    if (*p == '\\') break;
    if (*p < 0x20) return fail_at(ps, p, "control character in a string"), -1;
    size_t k = utf8_seq(p, end);
    if (!k) return fail_at(ps, p, "invalid UTF-8"), -1;
    p += k;
  }
  /* An escape: decode from here on into the scratch buffer. */
  size_t at = ps->used, n = (size_t)(p - s);
  if (!reserve(ps, at, n + 64)) return oom(ps), -1;
  memcpy(ps->buf + at, s, n);
  for (;;) {
    const unsigned char *run = p;
    while (p < end && plain[*p]) p++;
    if (p >= end) return fail_at(ps, s - 1, "unterminated string"), -1;
    size_t k = (size_t)(p - run);
    if (!reserve(ps, at, n + k + 4)) return oom(ps), -1;
    memcpy(ps->buf + at + n, run, k);
    n += k;
    if (*p == '"') break;
    if (*p == '\\') {
      int w = escape(ps, &p, ps->buf + at + n);
      if (w < 0) return ps->err_msg ? -1 : (fail_at(ps, s - 1, "unterminated string"), -1);
      n += (size_t)w;
    } else if (*p < 0x20) {
      return fail_at(ps, p, "control character in a string"), -1;
    } else {
      k = utf8_seq(p, end);
      if (!k) return fail_at(ps, p, "invalid UTF-8"), -1;
      memcpy(ps->buf + at + n, p, k);
      n += k;
      p += k;
    }
  }
  ps->p = p + 1;
  *out = ps->buf + at;
  *len = n;
  return 1;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define EXP_CAP 1000000 /* beyond it every double is 0 or infinite: strtod decides */

static json_t *number(parser *ps) {
  const unsigned char *s = ps->p, *p = s, *end = ps->end;
  bool neg = false, real = false, dropped = false; /* dropped: digits beyond the 19th */
  uint64_t mant = 0;
  int sig = 0, exp10 = 0;
  if (*p == '-') neg = true, p++;
  if (p >= end || !DIGIT(*p)) return fail_at(ps, s, "invalid number");
  if (*p == '0') {
    p++;
    if (p < end && DIGIT(*p)) return fail_at(ps, s, "invalid number (leading zero)");
  } else {
    for (; p < end && DIGIT(*p); p++) {
      if (sig < 19) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        sig++;
      } else {
        dropped = true;
        if (exp10 < EXP_CAP) exp10++;
      }
    }
  }
  if (p < end && *p == '.') {
    real = true;
    p++;
    if (p >= end || !DIGIT(*p)) return fail_at(ps, s, "invalid number");
    for (; p < end && DIGIT(*p); p++) {
      if (sig == 0 && *p == '0') { /* leading zeros of 0.000x */
        if (exp10 > -EXP_CAP) exp10--;
      } else if (sig < 19) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        sig++;
        exp10--;
      } else {
        dropped = true;
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    real = true;
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || !DIGIT(*p)) return fail_at(ps, s, "invalid number");
    int e = 0;
    for (; p < end && DIGIT(*p); p++)
      if (e < EXP_CAP) e = e * 10 + (*p - '0');
    exp10 += eneg ? -e : e;
  }
  ps->p = p;
  json_t *v;
  if (!real) {
    if (dropped || (sig == 19 && mant > (uint64_t)INT64_MAX + neg))
      return fail_at(ps, s, "integer out of range");
    if (neg)
      v = json_integer(mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)mant);
    else
      v = json_integer((json_int_t)mant);
    return v ? v : oom(ps);
  }
  double d;
  if (!dropped && mant < (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
    /* exact: the mantissa and the power of ten are exact doubles, so one rounding (Clinger) */
    d = (double)mant;
    d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
    if (neg) d = -d;
  } else {
    char tmp[128];
    size_t n = (size_t)(p - s);
    char *t = n < sizeof tmp ? tmp : api__malloc(n + 1);
    if (!t) return oom(ps);
    memcpy(t, s, n);
    t[n] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    d = c_locale ? strtod_l(t, NULL, c_locale) : strtod(t, NULL);
    if (t != tmp) api__free(t);
    if (isinf(d)) return fail_at(ps, s, "real number overflow");
  }
  v = json_real(d);
  return v ? v : oom(ps);
}

/* An object at nesting level depth; ps->p is just after its '{'. */
static json_t *object(parser *ps, unsigned depth) {
  json_t *o = json_object();
  if (!o) return oom(ps);
  ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return o;
  }
  for (;;) {
    if (ps->p >= ps->end || *ps->p != '"') {
      expected(ps, "string key expected");
      break;
    }
    const unsigned char *key_at = ps->p++;
    const char *k;
    size_t klen;
    int where = string(ps, &k, &klen);
    if (where < 0) break;
    /* A decoded key stays in the scratch buffer (which may move) while its value is parsed. */
    size_t koff = ps->used;
    if (where == 1) {
      if (memchr(k, 0, klen)) {
        fail_at(ps, key_at, "NUL byte in an object key");
        break;
      }
      ps->used += klen;
    }
    ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      expected(ps, "':' expected");
      break;
    }
    ps->p++;
    json_t *v = value(ps, depth + 1);
    if (!v) break;
    if (where == 1) {
      ps->used = koff;
      k = ps->buf + koff;
    }
    size_t before = json_object_size(o);
    if (json_object_setn_new_nocheck(o, k, klen, v)) { /* v is released */
      oom(ps);
      break;
    }
    if (json_object_size(o) == before) {
      fail_at(ps, key_at, "duplicate object key");
      break;
    }
    ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      ws(ps);
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      return o;
    }
    expected(ps, "',' or '}' expected");
    break;
  }
  json_decref(o);
  return NULL;
}

static json_t *array(parser *ps, unsigned depth) {
  json_t *a = json_array();
  if (!a) return oom(ps);
  ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return a;
  }
  for (;;) {
    json_t *v = value(ps, depth + 1);
    if (!v) break;
    if (json_array_append_new(a, v)) { /* v is released */
      oom(ps);
      break;
    }
    ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      return a;
    }
    expected(ps, "',' or ']' expected");
    break;
  }
  json_decref(a);
  return NULL;
}

static bool literal(parser *ps, const char *word, size_t n) {
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
  ps->p += n;
  return true;
}

/* A value at nesting level depth (the top value is at 1). */
static json_t *value(parser *ps, unsigned depth) {
  ws(ps);
  if (ps->p >= ps->end) return fail_at(ps, ps->p, "unexpected end of input");
  if (depth > API__JSON_MAX_DEPTH) return fail_at(ps, ps->p, "nested deeper than 2048 levels");
  switch (*ps->p) {
    case '{':
    case '[':
      return *ps->p++ == '{' ? object(ps, depth) : array(ps, depth);
    case '"': {
      ps->p++;
      const char *s;
      size_t n;
      if (string(ps, &s, &n) < 0) return NULL;
      json_t *v = json_stringn_nocheck(s, n);
      return v ? v : oom(ps);
    }
    case 't':
      if (literal(ps, "true", 4)) return json_true();
      break;
    case 'f':
      if (literal(ps, "false", 5)) return json_false();
      break;
    case 'n':
      if (literal(ps, "null", 4)) return json_null();
      break;
    default:
      if (*ps->p == '-' || DIGIT(*ps->p)) return number(ps);
  }
  return fail_at(ps, ps->p, "invalid token");
}

static void report(const parser *ps, api__json_error *err) {
  const unsigned char *at = ps->err_at ? ps->err_at : ps->p;
  size_t line = 1, column = 1;
  for (const unsigned char *q = ps->start; q < at; q++) {
    if (*q == '\n')
      line++, column = 1;
    else if ((*q & 0xc0) != 0x80)
      column++;
  }
  err->offset = (size_t)(at - ps->start);
  err->line = line > INT_MAX ? INT_MAX : (int)line;
  err->column = column > INT_MAX ? INT_MAX : (int)column;
  err->enomem = ps->enomem;
  const char *msg = ps->err_msg ? ps->err_msg : "invalid JSON";
  size_t n = strlen(msg);
  if (n >= sizeof err->message) n = sizeof err->message - 1;
  memcpy(err->message, msg, n);
  err->message[n] = 0;
}

json_t *api__json_parse(const char *text, size_t len, unsigned flags, api__json_error *err) {
  if (!text) text = "", len = 0;
  const unsigned char *t = (const unsigned char *)text;
  parser ps = {.p = t, .end = t + len, .start = t, .flags = flags};
  json_t *v = value(&ps, 1);
  if (v) {
    ws(&ps);
    if (ps.p != ps.end) {
      json_decref(v);
      v = fail_at(&ps, ps.p, "trailing data after the value");
    }
  }
  api__free(ps.buf);
  if (!v && err) report(&ps, err);
  return v;
}
