/* A strict JSON (RFC 8259) parser that builds jansson values, for api_schema_validate_text().
 *
 * jansson's own parser reads its input one byte at a time through a callback; this one scans the
 * buffer directly and is about twice as fast, which matters when parsing dominates validation.
 * It accepts what json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES) accepts:
 * UTF-8 is checked, lone surrogates are refused, integers outside int64 and reals that overflow
 * are errors, nesting is limited to 2048 levels, duplicate keys are refused. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/json_parse.h"
#include "util/alloc.h"

#define MAX_DEPTH 2048

typedef struct parser {
  const char *p, *end, *start;
  const char *error;
  char *buf; /* scratch for strings with escapes */
  size_t cap;
} parser;

static json_t *value(parser *ps, unsigned depth);

static void ws(parser *ps) {
  const char *p = ps->p;
  while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  ps->p = p;
}

static json_t *err(parser *ps, const char *msg) {
  if (!ps->error) ps->error = msg;
  return NULL;
}

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  unsigned min;
  unsigned cp;
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

static bool buf_reserve(parser *ps, size_t need) {
  if (need <= ps->cap) return true;
  size_t cap = ps->cap ? ps->cap : 256;
  while (cap < need) cap *= 2;
  char *b = api__realloc(ps->buf, cap);
  if (!b) return false;
  ps->buf = b;
  ps->cap = cap;
  return true;
}

/* Parse a string at ps->p (just after the opening quote). On success *out points at the bytes
 * (into the input when there was no escape, else into ps->buf) and *len is their length. */
static bool string_raw(parser *ps, const char **out, size_t *len) {
  const unsigned char *p = (const unsigned char *)ps->p, *end = (const unsigned char *)ps->end;
  const unsigned char *s = p;
  /* fast scan: plain ASCII without escapes */
  while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) p++;
  if (p < end && *p == '"') {
    *out = (const char *)s;
    *len = (size_t)(p - s);
    ps->p = (const char *)p + 1;
    return true;
  }
  size_t n = 0;
  if (!buf_reserve(ps, (size_t)(p - s) + 64)) return err(ps, "out of memory"), false;
  memcpy(ps->buf, s, (size_t)(p - s));
  n = (size_t)(p - s);
  while (p < end && *p != '"') {
    if (!buf_reserve(ps, n + 8)) return err(ps, "out of memory"), false;
    unsigned c = *p;
    if (c < 0x20) return err(ps, "control character in a string"), false;
    if (c == '\\') {
      if (end - p < 2) return err(ps, "unterminated string"), false;
      char e = (char)p[1];
      p += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          ps->buf[n++] = e;
          break;
        case 'b':
          ps->buf[n++] = '\b';
          break;
        case 'f':
          ps->buf[n++] = '\f';
          break;
        case 'n':
          ps->buf[n++] = '\n';
          break;
        case 'r':
          ps->buf[n++] = '\r';
          break;
        case 't':
          ps->buf[n++] = '\t';
          break;
        case 'u': {
          if (end - p < 4) return err(ps, "invalid \\u escape"), false;
          int cp = hex4((const char *)p);
          if (cp < 0) return err(ps, "invalid \\u escape"), false;
          p += 4;
          if (cp >= 0xdc00 && cp <= 0xdfff) return err(ps, "invalid Unicode escape"), false;
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
              return err(ps, "invalid Unicode escape"), false;
            int lo = hex4((const char *)p + 2);
            if (lo < 0xdc00 || lo > 0xdfff) return err(ps, "invalid Unicode escape"), false;
            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          if (cp < 0x80) {
            ps->buf[n++] = (char)cp;
          } else if (cp < 0x800) {
            ps->buf[n++] = (char)(0xc0 | (cp >> 6));
            ps->buf[n++] = (char)(0x80 | (cp & 0x3f));
          } else if (cp < 0x10000) {
            ps->buf[n++] = (char)(0xe0 | (cp >> 12));
            ps->buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            ps->buf[n++] = (char)(0x80 | (cp & 0x3f));
          } else {
            ps->buf[n++] = (char)(0xf0 | (cp >> 18));
            ps->buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            ps->buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            ps->buf[n++] = (char)(0x80 | (cp & 0x3f));
          }
          break;
        }
        default:
          return err(ps, "invalid escape"), false;
      }
    } else if (c < 0x80) {
      ps->buf[n++] = (char)c;
      p++;
    } else {
      size_t k = utf8_seq(p, end);
      if (!k) return err(ps, "invalid UTF-8"), false;
      memcpy(ps->buf + n, p, k);
      n += k;
      p += k;
    }
  }
  if (p >= end) return err(ps, "unterminated string"), false;
  ps->p = (const char *)p + 1;
  *out = ps->buf;
  *len = n;
  return true;
}

static locale_t c_locale;
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;
static void locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static json_t *number(parser *ps) {
  const char *p = ps->p, *end = ps->end, *start = p;
  bool neg = false, is_real = false;
  if (p < end && *p == '-') neg = true, p++;
  if (p >= end) return err(ps, "invalid number");
  uint64_t mant = 0;
  int digits = 0, exp10 = 0;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9') {
      if (digits < 19)
        mant = mant * 10 + (uint64_t)(*p - '0');
      else
        exp10++;
      digits++;
      p++;
    }
  } else {
    return err(ps, "invalid number");
  }
  if (p < end && *p == '.') {
    is_real = true;
    p++;
    if (p >= end || *p < '0' || *p > '9') return err(ps, "invalid number");
    while (p < end && *p >= '0' && *p <= '9') {
      if (digits < 19) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        exp10--;
      }
      if (mant) digits++;
      p++;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    is_real = true;
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p == '-', p++;
    if (p >= end || *p < '0' || *p > '9') return err(ps, "invalid number");
    int e = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (e < 100000) e = e * 10 + (*p - '0');
      p++;
    }
    exp10 += eneg ? -e : e;
  }
  ps->p = p;
  if (!is_real) {
    if (digits > 19 || (digits == 19 && mant > (uint64_t)INT64_MAX + neg))
      return err(ps, "too big integer");
    if (neg) return json_integer(mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant);
    return json_integer((json_int_t)mant);
  }
  double d;
  if (digits <= 15 && mant < (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
    /* exact: both the mantissa and the power of ten are exact doubles (Clinger's fast path) */
    d = (double)mant;
    d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
    if (neg) d = -d;
  } else {
    char tmp[128];
    size_t n = (size_t)(p - start);
    char *s = n < sizeof tmp ? tmp : api__malloc(n + 1);
    if (!s) return err(ps, "out of memory");
    memcpy(s, start, n);
    s[n] = 0;
    pthread_once(&locale_once, locale_init);
    errno = 0;
    d = c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
    if (s != tmp) api__free(s);
    if (isinf(d)) return err(ps, "real number overflow");
  }
  return json_real(d);
}

static bool lit(parser *ps, const char *word, size_t n) {
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) return false;
  ps->p += n;
  return true;
}

static json_t *object(parser *ps, unsigned depth) {
  json_t *o = json_object();
  if (!o) return err(ps, "out of memory");
  ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return o;
  }
  for (;;) {
    ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') goto fail_msg;
    ps->p++;
    const char *k;
    size_t klen;
    if (!string_raw(ps, &k, &klen)) goto fail;
    if (memchr(k, 0, klen)) {
      err(ps, "NUL byte in object key not supported"); /* as jansson */
      goto fail;
    }
    /* the key may live in the scratch buffer, which the value may reuse: copy small keys */
    char kbuf[128];
    char *kheap = NULL;
    if (k == ps->buf) {
      if (klen < sizeof kbuf) {
        memcpy(kbuf, k, klen);
        k = kbuf;
      } else {
        kheap = api__malloc(klen);
        if (!kheap) {
          err(ps, "out of memory");
          goto fail;
        }
        memcpy(kheap, k, klen);
        k = kheap;
      }
    }
    ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      api__free(kheap);
      goto fail_msg;
    }
    ps->p++;
    json_t *v = value(ps, depth + 1);
    if (!v) {
      api__free(kheap);
      goto fail;
    }
    size_t before = json_object_size(o);
    int rc = json_object_setn_new_nocheck(o, k, klen, v);
    api__free(kheap);
    if (rc) {
      err(ps, "out of memory");
      goto fail;
    }
    if (json_object_size(o) == before) {
      err(ps, "duplicate object key");
      goto fail;
    }
    ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      return o;
    }
    goto fail_msg;
  }
fail_msg:
  err(ps, "'}' or ',' or a string key expected");
fail:
  json_decref(o);
  return NULL;
}

static json_t *array(parser *ps, unsigned depth) {
  json_t *a = json_array();
  if (!a) return err(ps, "out of memory");
  ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return a;
  }
  for (;;) {
    json_t *v = value(ps, depth + 1);
    if (!v || json_array_append_new(a, v)) {
      if (v) err(ps, "out of memory");
      json_decref(a);
      return NULL;
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
    json_decref(a);
    return err(ps, "']' or ',' expected");
  }
}

static json_t *value(parser *ps, unsigned depth) {
  if (depth > MAX_DEPTH) return err(ps, "maximum parsing depth reached");
  ws(ps);
  if (ps->p >= ps->end) return err(ps, "unexpected end of input");
  switch (*ps->p) {
    case '{':
      ps->p++;
      return object(ps, depth);
    case '[':
      ps->p++;
      return array(ps, depth);
    case '"': {
      ps->p++;
      const char *s;
      size_t len;
      if (!string_raw(ps, &s, &len)) return NULL;
      json_t *v = json_stringn_nocheck(s, len);
      return v ? v : err(ps, "out of memory");
    }
    case 't':
      if (lit(ps, "true", 4)) return json_true();
      break;
    case 'f':
      if (lit(ps, "false", 5)) return json_false();
      break;
    case 'n':
      if (lit(ps, "null", 4)) return json_null();
      break;
    default:
      if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
        json_t *v = number(ps);
        if (!v && !ps->error) err(ps, "out of memory");
        return v;
      }
  }
  return err(ps, "invalid token");
}

json_t *api__json_parse(const char *text, size_t len, size_t *err_offset, const char **err_msg) {
  parser ps = {.p = text, .end = text + len, .start = text};
  json_t *v = value(&ps, 1);
  if (v) {
    ws(&ps);
    if (ps.p != ps.end) {
      json_decref(v);
      v = NULL;
      err(&ps, "end of input expected");
    }
  }
  api__free(ps.buf);
  if (!v) {
    if (err_offset) *err_offset = (size_t)(ps.p - ps.start);
    if (err_msg) *err_msg = ps.error ? ps.error : "invalid JSON";
  }
  return v;
}
