/* A strict, single-pass JSON parser that builds jansson values. It accepts what
 * json_loadb(JSON_REJECT_DUPLICATES) accepts (the fuzz target checks the two against each other;
 * see json_strict.h for the one deliberate difference) but parses from memory without jansson's
 * character stream, which makes it several times faster on small documents such as JWT claims. */
#include "util/json_strict.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct {
  const unsigned char *p, *end;
  char *err;
  size_t err_len;
  int depth;
} parser;

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static json_t *fail(parser *ps, const char *what) {
  if (ps->err && !ps->err[0]) snprintf(ps->err, ps->err_len, "%s", what);
  return NULL;
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static json_t *parse_value(parser *ps);

/* The length of the UTF-8 sequence at p (valid, shortest form, no surrogates, <= U+10FFFF), or 0.
 */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if ((size_t)(end - p) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}

static int hex4(const unsigned char *p, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i];
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
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string after its opening quote. On success *out points at the decoded bytes (into the input
 * when there is no escape, else into *heap or buf) and *len is their length. */
static int parse_string(parser *ps, const char **out, size_t *len, char *buf, size_t buf_len,
                        char **heap) {
  const unsigned char *start = ps->p, *p = ps->p;
  bool escaped = false;
  while (p < ps->end && *p != '"') {
    if (*p < 0x20) return fail(ps, "control character in a string"), -1;
    if (*p == '\\') {
      if (ps->end - p < 2) {
        p = ps->end;
        break;
      }
      escaped = true;
      p += 2;
      continue;
    }
    size_t n = utf8_len(p, ps->end);
    if (!n) return fail(ps, "invalid UTF-8 in a string"), -1;
    p += n;
  }
  if (p >= ps->end) return fail(ps, "unterminated string"), -1;
  ps->p = p + 1;
  if (!escaped) {
    *out = (const char *)start;
    *len = (size_t)(p - start);
    return 0;
  }
  /* Decoding never grows the text: "\uXXXX" (6) gives at most 3 bytes, a pair (12) 4. */
  size_t cap = (size_t)(p - start);
  char *o = buf;
  if (cap > buf_len && !(o = *heap = api__malloc(cap))) return fail(ps, "out of memory"), -1;
  size_t n = 0;
  for (const unsigned char *q = start; q < p;) {
    if (*q != '\\') {
      o[n++] = (char)*q++;
      continue;
    }
    q++;
    switch (*q++) {
      case '"':
        o[n++] = '"';
        break;
      case '\\':
        o[n++] = '\\';
        break;
      case '/':
        o[n++] = '/';
        break;
      case 'b':
        o[n++] = '\b';
        break;
      case 'f':
        o[n++] = '\f';
        break;
      case 'n':
        o[n++] = '\n';
        break;
      case 'r':
        o[n++] = '\r';
        break;
      case 't':
        o[n++] = '\t';
        break;
      case 'u': {
        uint32_t cp, lo;
        if (p - q < 4 || hex4(q, &cp)) return fail(ps, "invalid \\u escape"), -1;
        q += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff) return fail(ps, "lone low surrogate"), -1;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          if (p - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) || lo < 0xdc00 ||
              lo > 0xdfff)
            return fail(ps, "invalid surrogate pair"), -1;
          q += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0) return fail(ps, "\\u0000 is not allowed"), -1;
        n += put_utf8(o + n, cp);
        break;
      }
      default:
        return fail(ps, "invalid escape"), -1;
    }
  }
  *out = o;
  *len = n;
  return 0;
}

static json_t *parse_number(parser *ps) {
  const unsigned char *s = ps->p, *p = s;
  bool real = false;
  if (p < ps->end && *p == '-') p++;
  if (p >= ps->end) return fail(ps, "invalid number");
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  } else {
    return fail(ps, "invalid number");
  }
  if (p < ps->end && *p == '.') {
    real = true;
    p++;
    if (p >= ps->end || *p < '0' || *p > '9') return fail(ps, "invalid number");
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < ps->end && (*p == 'e' || *p == 'E')) {
    real = true;
    p++;
    if (p < ps->end && (*p == '+' || *p == '-')) p++;
    if (p >= ps->end || *p < '0' || *p > '9') return fail(ps, "invalid number");
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  /* A digit right after the number ("01") is another token: invalid. */
  if (p < ps->end && *p >= '0' && *p <= '9') return fail(ps, "invalid number");
  char tmp[64], *text = tmp;
  size_t n = (size_t)(p - s);
  if (n >= sizeof(tmp) && !(text = api__malloc(n + 1))) return fail(ps, "out of memory");
  memcpy(text, s, n);
  text[n] = 0;
  ps->p = p;
  json_t *v = NULL;
  errno = 0;
  if (!real) {
    long long i = strtoll(text, NULL, 10);
    if (errno == ERANGE)
      fail(ps, "integer out of range");
    else
      v = json_integer(i);
  } else {
    pthread_once(&c_locale_once, make_c_locale);
    double d = c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
      fail(ps, "real number overflow");
    else
      v = json_real(d);
  }
  if (text != tmp) api__free(text);
  if (!v) fail(ps, "out of memory");
  return v;
}

static json_t *parse_object(parser *ps) {
  json_t *obj = json_object();
  if (!obj) return fail(ps, "out of memory");
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return obj;
  }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') goto bad;
    ps->p++;
    const char *key;
    size_t klen;
    char buf[128], *heap = NULL;
    if (parse_string(ps, &key, &klen, buf, sizeof(buf), &heap)) {
      api__free(heap);
      goto bad;
    }
    if (json_object_getn(obj, key, klen)) {
      api__free(heap);
      fail(ps, "duplicate object key");
      goto bad;
    }
    skip_ws(ps);
    json_t *v = NULL;
    if (ps->p < ps->end && *ps->p == ':') {
      ps->p++;
      skip_ws(ps);
      v = parse_value(ps);
    } else {
      fail(ps, "expected ':'");
    }
    int rc = v ? json_object_setn_new_nocheck(obj, key, klen, v) : -1;
    api__free(heap);
    if (rc) goto bad;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      return obj;
    }
    goto bad;
  }
bad:
  fail(ps, "invalid object");
  json_decref(obj);
  return NULL;
}

static json_t *parse_array(parser *ps) {
  json_t *arr = json_array();
  if (!arr) return fail(ps, "out of memory");
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return arr;
  }
  for (;;) {
    skip_ws(ps);
    json_t *v = parse_value(ps);
    if (!v || json_array_append_new(arr, v)) break;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      return arr;
    }
    break;
  }
  fail(ps, "invalid array");
  json_decref(arr);
  return NULL;
}

static bool literal(parser *ps, const char *word, size_t n) {
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
  ps->p += n;
  return true;
}

static json_t *parse_value(parser *ps) {
  if (ps->p >= ps->end) return fail(ps, "unexpected end of input");
  json_t *v;
  switch (*ps->p) {
    case '{':
    case '[':
      if (++ps->depth > MAX_DEPTH) return fail(ps, "too deeply nested");
      ps->p++;
      v = ps->p[-1] == '{' ? parse_object(ps) : parse_array(ps);
      ps->depth--;
      return v;
    case '"': {
      ps->p++;
      const char *s;
      size_t n;
      char buf[256], *heap = NULL;
      if (parse_string(ps, &s, &n, buf, sizeof(buf), &heap)) {
        api__free(heap);
        return NULL;
      }
      v = json_stringn_nocheck(s, n);
      api__free(heap);
      return v ? v : fail(ps, "out of memory");
    }
    case 't':
      return literal(ps, "true", 4) ? json_true() : fail(ps, "invalid token");
    case 'f':
      return literal(ps, "false", 5) ? json_false() : fail(ps, "invalid token");
    case 'n':
      return literal(ps, "null", 4) ? json_null() : fail(ps, "invalid token");
    default:
      return parse_number(ps);
  }
}

json_t *api__json_parse_strict(const char *text, size_t len, char *err, size_t err_len) {
  parser ps = {(const unsigned char *)text, (const unsigned char *)text + len, err, err_len, 0};
  if (err && err_len) err[0] = 0;
  skip_ws(&ps);
  json_t *v = parse_value(&ps);
  if (!v) return NULL;
  skip_ws(&ps);
  if (ps.p != ps.end) {
    json_decref(v);
    return fail(&ps, "end of file expected");
  }
  return v;
}
