/* Unit tests for src/http/codec.c: percent-decoding, query strings, cookies, Set-Cookie, dates,
 * media types and list headers. Each group tries the inputs an attacker or a sloppy client sends.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/codec.h"
#include "libapi/common.h"
#include "util/alloc.h"
#include "util/arena.h"

static api__arena arena;

static void setup(void) { api__arena_init(&arena, NULL, 0); }
static void teardown(void) {
  api__alloc_fail_after(-1);
  api__arena_reset(&arena);
}

TestSuite(codec, .init = setup, .fini = teardown);

/* ---- percent-decoding ---- */

/* Decodes s (its strlen) out of place and returns the result, or NULL for -1. */
static const char *dec(const char *s, bool plus) {
  static char buf[256];
  memset(buf, 'X', sizeof(buf));
  long n = api__pct_decode(buf, s, strlen(s), plus);
  if (n < 0) return NULL;
  cr_assert_eq(buf[n], '\0', "no NUL after %ld decoded bytes of \"%s\"", n, s);
  cr_assert_leq((size_t)n, strlen(s));
  return buf;
}

Test(codec, pct_plain_and_escapes) {
  cr_assert_str_eq(dec("", false), "");
  cr_assert_str_eq(dec("abc", false), "abc");
  cr_assert_str_eq(dec("a%20b", false), "a b");
  cr_assert_str_eq(dec("%2F", false), "/");
  cr_assert_str_eq(dec("%2f", false), "/");
  cr_assert_str_eq(dec("%aB%Ab", false), "\xab\xab");
  cr_assert_str_eq(dec("%C3%A9t%C3%A9", false), "\xc3\xa9t\xc3\xa9");
  cr_assert_str_eq(dec("%25", false), "%");
  cr_assert_str_eq(dec("%2525", false), "%25", "decoding happens once only");
  cr_assert_str_eq(dec("%FF%80", false), "\xff\x80");
  cr_assert_str_eq(dec("\xc3\xa9", false), "\xc3\xa9", "raw non-ASCII passes through");
}

Test(codec, pct_every_byte_both_cases) {
  static const char hex[] = "0123456789abcdef", HEX[] = "0123456789ABCDEF";
  for (int b = 1; b < 256; b++) {
    char lo[4] = {'%', hex[b >> 4], hex[b & 15], 0}, up[4] = {'%', HEX[b >> 4], HEX[b & 15], 0};
    char out[4];
    cr_assert_eq(api__pct_decode(out, lo, 3, false), 1);
    cr_assert_eq((unsigned char)out[0], b);
    cr_assert_eq(api__pct_decode(out, up, 3, true), 1);
    cr_assert_eq((unsigned char)out[0], b);
  }
}

Test(codec, pct_malformed) {
  static const char *bad[] = {"%",    "%4",   "%zz", "%4g",   "%g4",    "a%",    "a%2",
                              "%%",   "%-1",  "% 1", "%+1",   "%0x1",   "%\xc3", "ab%2",
                              "%%41", "%x41", "%00", "a%00b", "%00%41", "%1%41"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    char out[16];
    cr_assert_eq(api__pct_decode(out, bad[i], strlen(bad[i]), false), -1, "accepted \"%s\"",
                 bad[i]);
    cr_assert_eq(api__pct_decode(out, bad[i], strlen(bad[i]), true), -1, "accepted \"%s\"", bad[i]);
  }
}

Test(codec, pct_raw_nul_is_rejected) {
  char out[8];
  cr_assert_eq(api__pct_decode(out, "a\0b", 3, false), -1);
  cr_assert_eq(api__pct_decode(out, "\0", 1, true), -1);
}

Test(codec, pct_plus) {
  cr_assert_str_eq(dec("a+b", true), "a b");
  cr_assert_str_eq(dec("a+b", false), "a+b");
  cr_assert_str_eq(dec("+++", true), "   ");
  cr_assert_str_eq(dec("%2B", true), "+", "an escaped plus is a plus");
  cr_assert_str_eq(dec("%2b", false), "+");
  cr_assert_str_eq(dec("a+%2B+b", true), "a + b");
}

Test(codec, pct_in_place) {
  char s[] = "a%20b%2Bc+d%2f%41%41%41";
  long n = api__pct_decode(s, s, strlen(s), true);
  cr_assert_eq(n, 11);
  cr_assert_str_eq(s, "a b+c d/AAA");
  char t[] = "%41%42%43";
  cr_assert_eq(api__pct_decode(t, t, strlen(t), false), 3);
  cr_assert_str_eq(t, "ABC");
}

Test(codec, pct_stops_at_len) {
  char out[16];
  /* The bytes after len would complete the escape: they must not be read. */
  cr_assert_eq(api__pct_decode(out, "abc%41", 3, false), 3);
  cr_assert_str_eq(out, "abc");
  cr_assert_eq(api__pct_decode(out, "%41", 2, false), -1);
  cr_assert_eq(api__pct_decode(out, "%41", 1, false), -1);
  cr_assert_eq(api__pct_decode(out, "xyz", 0, false), 0);
  cr_assert_str_eq(out, "");
}

/* ---- query strings ---- */

static void expect_pairs(const api__kv *kv, size_t n, const char *const *want, size_t nwant) {
  cr_assert_eq(n, nwant / 2, "got %zu pairs, want %zu", n, nwant / 2);
  for (size_t i = 0; i < n; i++) {
    cr_assert_str_eq(kv[i].key, want[2 * i], "key %zu", i);
    cr_assert_str_eq(kv[i].value, want[2 * i + 1], "value %zu", i);
  }
}

#define QUERY_IS(qs, ...)                                                                     \
  do {                                                                                        \
    static const char *const want_[] = {__VA_ARGS__};                                         \
    api__kv *kv_;                                                                             \
    size_t n_;                                                                                \
    cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), SIZE_MAX, &kv_, &n_), 0, "%s", qs); \
    cr_assert_not_null(kv_);                                                                  \
    expect_pairs(kv_, n_, want_, sizeof(want_) / sizeof(*want_));                             \
  } while (0)

#define QUERY_EMPTY(qs)                                                                       \
  do {                                                                                        \
    api__kv *kv_;                                                                             \
    size_t n_ = 99;                                                                           \
    cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), SIZE_MAX, &kv_, &n_), 0, "%s", qs); \
    cr_assert_not_null(kv_, "empty results still point somewhere (memcpy-safe)");             \
    cr_assert_eq(n_, 0);                                                                      \
  } while (0)

#define QUERY_BAD(qs)                                                                        \
  do {                                                                                       \
    api__kv *kv_ = (api__kv *)1;                                                             \
    size_t n_ = 99;                                                                          \
    cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), SIZE_MAX, &kv_, &n_), API_EBADREQ, \
                 "accepted \"%s\"", qs);                                                     \
    cr_assert_null(kv_);                                                                     \
    cr_assert_eq(n_, 0);                                                                     \
  } while (0)

Test(codec, query_basic) {
  QUERY_IS("a=1&b=2", "a", "1", "b", "2");
  QUERY_IS("a=1", "a", "1");
  QUERY_IS("name=J%C3%A9r%C3%B4me+Doe", "name", "J\xc3\xa9r\xc3\xb4me Doe");
  QUERY_IS("path=%2Fa%2Fb", "path", "/a/b");
}

Test(codec, query_repeats_keep_order) {
  QUERY_IS("tag=a&x=1&tag=b&tag=c", "tag", "a", "x", "1", "tag", "b", "tag", "c");
  QUERY_IS("a=1&a=1", "a", "1", "a", "1");
}

Test(codec, query_empty_pieces) {
  QUERY_EMPTY("");
  QUERY_EMPTY("&");
  QUERY_EMPTY("&&&");
  QUERY_IS("&&a=1&", "a", "1");
  QUERY_IS("a=1&&b=2", "a", "1", "b", "2");
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__query_parse(&arena, NULL, 0, 10, &kv, &n), 0);
  cr_assert_eq(n, 0);
}

Test(codec, query_missing_value_and_key) {
  QUERY_IS("a", "a", "");
  QUERY_IS("a=", "a", "");
  QUERY_IS("a&b=", "a", "", "b", "");
  /* WHATWG URLSearchParams keeps an empty name: "=x" is ("", "x"). */
  QUERY_IS("=x", "", "x");
  QUERY_IS("=", "", "");
  QUERY_IS("==", "", "=");
}

Test(codec, query_splits_at_first_equals) {
  QUERY_IS("a=b=c", "a", "b=c");
  QUERY_IS("a==", "a", "=");
  QUERY_IS("a%3Db=c", "a=b", "c");
  QUERY_IS("a%26b=c%26d", "a&b", "c&d");
}

Test(codec, query_plus_is_space) {
  QUERY_IS("a+b=c+d", "a b", "c d");
  QUERY_IS("q=1%2B1", "q", "1+1");
  QUERY_IS("q=+", "q", " ");
}

Test(codec, query_malformed) {
  QUERY_BAD("a=%");
  QUERY_BAD("a=%zz");
  QUERY_BAD("%zz=1");
  QUERY_BAD("a=1&b=%4");
  QUERY_BAD("a=%00");
  QUERY_BAD("%00=1");
  QUERY_BAD("a=1&b=2&c=%g0");
  QUERY_BAD("%");
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__query_parse(&arena, "a=\0", 3, SIZE_MAX, &kv, &n), API_EBADREQ);
}

Test(codec, query_not_nul_terminated) {
  const char qs[] = {'a', '=', '1', '&', 'b', '=', '2', '%', '4'}; /* no NUL after */
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__query_parse(&arena, qs, 7, SIZE_MAX, &kv, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(kv[1].value, "2");
  cr_assert_eq(api__query_parse(&arena, qs, sizeof(qs), SIZE_MAX, &kv, &n), API_EBADREQ);
}

Test(codec, query_max_pairs_boundary) {
  api__kv *kv;
  size_t n;
  const char *qs = "a=1&b=2&c=3";
  cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), 3, &kv, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), 2, &kv, &n), API_EBADREQ);
  cr_assert_null(kv);
  /* Empty pieces are not pairs. */
  cr_assert_eq(api__query_parse(&arena, "a&&&b&", 6, 2, &kv, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(api__query_parse(&arena, "", 0, 0, &kv, &n), 0);
  cr_assert_eq(api__query_parse(&arena, "&&", 2, 0, &kv, &n), 0);
  cr_assert_eq(api__query_parse(&arena, "a", 1, 0, &kv, &n), API_EBADREQ);
  /* The limit is checked before decoding: a flood with a bad escape at the end is "too many". */
  cr_assert_eq(api__query_parse(&arena, "a&b&c=%", 7, 2, &kv, &n), API_EBADREQ);
}

static char *repeat(const char *unit, size_t times, const char *tail) {
  size_t u = strlen(unit), t = strlen(tail);
  char *s = malloc(u * times + t + 1);
  cr_assert_not_null(s);
  for (size_t i = 0; i < times; i++) memcpy(s + i * u, unit, u);
  memcpy(s + u * times, tail, t + 1);
  return s;
}

Test(codec, query_100k_value) {
  char *qs = repeat("%41", 34000, ""); /* 102 KB of escapes in one key */
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), 1000, &kv, &n), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(strlen(kv[0].key), 34000);
  cr_assert_str_eq(kv[0].value, "");
  for (size_t i = 0; i < 34000; i++) cr_assert_eq(kv[0].key[i], 'A');
  free(qs);

  qs = repeat("x", 100000, "=%4"); /* the bad escape is at the very end */
  cr_assert_eq(api__query_parse(&arena, qs, strlen(qs), 1000, &kv, &n), API_EBADREQ);
  free(qs);
}

Test(codec, query_100k_pairs) {
  char *qs = repeat("k=v+%2B&", 12500, "last=1"); /* 100 KB, 12501 pairs */
  size_t len = strlen(qs);
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__query_parse(&arena, qs, len, 1000, &kv, &n), API_EBADREQ);
  cr_assert_eq(api__query_parse(&arena, qs, len, 12500, &kv, &n), API_EBADREQ);
  cr_assert_eq(api__query_parse(&arena, qs, len, 12501, &kv, &n), 0);
  cr_assert_eq(n, 12501);
  for (size_t i = 0; i < 12500; i++) {
    cr_assert_str_eq(kv[i].key, "k");
    cr_assert_str_eq(kv[i].value, "v +");
  }
  cr_assert_str_eq(kv[12500].key, "last");
  cr_assert_str_eq(kv[12500].value, "1");
  free(qs);

  qs = repeat("&", 100000, ""); /* only separators: nothing, and no allocation */
  size_t before = arena.total;
  cr_assert_eq(api__query_parse(&arena, qs, 100000, 0, &kv, &n), 0);
  cr_assert_eq(n, 0);
  cr_assert_eq(arena.total, before);
  free(qs);
}

/* Every string returned lies in the caller's first block when it is big enough: one allocation,
 * no malloc. */
Test(codec, query_one_allocation_in_arena) {
  static _Alignas(max_align_t) char block[8192];
  api__arena a;
  api__arena_init(&a, block, sizeof(block));
  const char *qs = "a=1&b&=c&d=%41%42&&e=f+g";
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__query_parse(&a, qs, strlen(qs), 100, &kv, &n), 0);
  cr_assert_eq(n, 5);
  cr_assert_eq(a.total, 0, "the arena had to malloc");
  for (size_t i = 0; i < n; i++) {
    cr_assert((const char *)kv[i].key >= block && kv[i].key < block + sizeof(block));
    cr_assert((const char *)kv[i].value >= block && kv[i].value < block + sizeof(block));
  }
  api__arena_reset(&a);
}

/* ---- cookies ---- */

#define COOKIES_ARE(h, ...)                                                                 \
  do {                                                                                      \
    static const char *const want_[] = {__VA_ARGS__};                                       \
    api__kv *kv_;                                                                           \
    size_t n_;                                                                              \
    cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), SIZE_MAX, &kv_, &n_), 0, "%s", h); \
    expect_pairs(kv_, n_, want_, sizeof(want_) / sizeof(*want_));                           \
  } while (0)

#define COOKIES_NONE(h)                                                                     \
  do {                                                                                      \
    api__kv *kv_;                                                                           \
    size_t n_ = 99;                                                                         \
    cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), SIZE_MAX, &kv_, &n_), 0, "%s", h); \
    cr_assert_not_null(kv_);                                                                \
    cr_assert_eq(n_, 0, "\"%s\" gave %zu cookies", h, n_);                                  \
  } while (0)

Test(codec, cookie_basic) {
  COOKIES_ARE("a=1; b=2", "a", "1", "b", "2");
  COOKIES_ARE("a=1;b=2", "a", "1", "b", "2");
  COOKIES_ARE("sid=abc", "sid", "abc");
  COOKIES_ARE("a=1;\tb=2", "a", "1", "b", "2");
}

Test(codec, cookie_whitespace) {
  COOKIES_ARE("  a = 1 ;  b=2  ", "a", "1", "b", "2");
  COOKIES_ARE("a=x y", "a", "x y");
  COOKIES_ARE("a=  x y  ", "a", "x y");
}

Test(codec, cookie_quotes) {
  COOKIES_ARE("a=\"x y\"", "a", "x y");
  COOKIES_ARE("a=\"\"", "a", "");
  COOKIES_ARE("a=\"", "a", "\"");
  COOKIES_ARE("a=\"x", "a", "\"x");
  COOKIES_ARE("a=x\"", "a", "x\"");
  COOKIES_ARE("a=\"\"x\"\"", "a", "\"x\"");
  COOKIES_ARE("a=\" x \"; b=2", "a", " x ", "b", "2");
}

Test(codec, cookie_skipped_pairs) {
  COOKIES_ARE("a; b=2; c", "b", "2");
  COOKIES_ARE("=x; b=2", "b", "2");
  COOKIES_ARE(" =x; b=2", "b", "2");
  COOKIES_ARE("a b=1; b=2", "b", "2");
  COOKIES_ARE("(a)=1; a,b=1; a\"=1; b=2", "b", "2");
  COOKIES_ARE("\xc3\xa9=1; b=2", "b", "2");
  api__kv *kv;
  size_t n;
  const char h[] = "a=1\0x; b=2; c\0=3";
  cr_assert_eq(api__cookie_parse(&arena, h, sizeof(h) - 1, SIZE_MAX, &kv, &n), 0);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(kv[0].key, "b");
}

Test(codec, cookie_values_are_raw) {
  COOKIES_ARE("a=", "a", "");
  COOKIES_ARE("a=b=c", "a", "b=c");
  COOKIES_ARE("a=%20", "a", "%20");
  COOKIES_ARE("a=x+y", "a", "x+y");
  COOKIES_ARE("a=%zz", "a", "%zz");
}

Test(codec, cookie_duplicates_kept_in_order) {
  /* Lookups take the first: the user agent sends the most specific path first. */
  COOKIES_ARE("a=1; a=2; b=3; a=4", "a", "1", "a", "2", "b", "3", "a", "4");
}

Test(codec, cookie_empty) {
  COOKIES_NONE("");
  COOKIES_NONE(";");
  COOKIES_NONE(";;;");
  COOKIES_NONE(" ; ; ");
  COOKIES_NONE("   ");
  COOKIES_NONE("novalue");
  COOKIES_NONE("=");
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__cookie_parse(&arena, NULL, 0, 10, &kv, &n), 0);
  cr_assert_eq(n, 0);
}

Test(codec, cookie_max_pairs_boundary) {
  api__kv *kv;
  size_t n;
  const char *h = "a=1;b=2;c=3";
  cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), 3, &kv, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), 2, &kv, &n), API_EBADREQ);
  cr_assert_null(kv);
  cr_assert_eq(n, 0);
  h = "a=1; x; ; =y; b=2";
  cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), 2, &kv, &n), 0, "skipped pieces count");
  cr_assert_eq(n, 2);
  cr_assert_eq(api__cookie_parse(&arena, ";;", 2, 0, &kv, &n), 0);
}

Test(codec, cookie_large_header) {
  char *h = repeat("name=valuevaluevaluevaluevaluevalue; ", 2800, "last=1"); /* ~100 KB */
  api__kv *kv;
  size_t n;
  cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), 300, &kv, &n), API_EBADREQ);
  cr_assert_eq(api__cookie_parse(&arena, h, strlen(h), SIZE_MAX, &kv, &n), 0);
  cr_assert_eq(n, 2801);
  cr_assert_str_eq(kv[2799].value, "valuevaluevaluevaluevaluevalue");
  cr_assert_str_eq(kv[2800].key, "last");
  free(h);
}

/* ---- allocation failures ---- */

typedef int (*parse_fn)(api__arena *, const char *, size_t, size_t, api__kv **, size_t *);

/* Fail the n-th allocation for n = 0, 1, ... until the parse succeeds; with a fresh arena and with
 * one whose chunk is nearly full (so the parse needs a second chunk). */
static void chaos(parse_fn parse, const char *input, size_t want_n) {
  for (int prefill = 0; prefill < 2; prefill++) {
    bool ok = false;
    for (long n = 0; n < 50 && !ok; n++) {
      api__arena a;
      api__arena_init(&a, NULL, 0);
      api__alloc_fail_after(-1);
      if (prefill) cr_assert_not_null(api__arena_alloc(&a, 4048)); /* leaves < 32 bytes */
      api__alloc_fail_after(n);
      api__kv *kv;
      size_t cnt;
      int rc = parse(&a, input, strlen(input), SIZE_MAX, &kv, &cnt);
      api__alloc_fail_after(-1);
      if (rc == API_ENOMEM) {
        cr_assert_null(kv);
        cr_assert_eq(cnt, 0);
      } else {
        cr_assert_eq(rc, 0, "n=%ld: rc %d", n, rc);
        cr_assert_eq(cnt, want_n);
        cr_assert_geq(n, 1, "an allocation was expected");
        ok = true;
      }
      api__arena_reset(&a); /* LeakSanitizer checks that nothing else is left */
    }
    cr_assert(ok, "never succeeded");
  }
}

Test(codec, query_alloc_failures) {
  chaos(api__query_parse, "a=1&b=%41&c&&=d&e=f+g", 5);
  char *big = repeat("key=value&", 1000, "");
  chaos(api__query_parse, big, 1000);
  free(big);
}

Test(codec, cookie_alloc_failures) {
  chaos(api__cookie_parse, "a=1; b=\"2\"; c; d=4", 3);
  char *big = repeat("key=value; ", 1000, "");
  chaos(api__cookie_parse, big, 1000);
  free(big);
}

/* ---- Set-Cookie ---- */

static char sc_buf[1024];

static int sc(const char *name, const char *value, const api_cookie_opts *o) {
  size_t len = 12345;
  int rc = api__set_cookie_format(sc_buf, sizeof(sc_buf), name, value, o, &len);
  if (rc == 0) cr_assert_eq(len, strlen(sc_buf));
  return rc;
}

#define SC_IS(want, name, value, ...)              \
  do {                                             \
    cr_assert_eq(sc(name, value, __VA_ARGS__), 0); \
    cr_assert_str_eq(sc_buf, want);                \
  } while (0)

Test(codec, set_cookie_minimal) {
  SC_IS("sid=abc", "sid", "abc", NULL);
  SC_IS("sid=", "sid", "", NULL);
  SC_IS("sid=", "sid", NULL, NULL);
  SC_IS("sid=\"abc\"", "sid", "\"abc\"", NULL);
  SC_IS("sid=\"\"", "sid", "\"\"", NULL);
  SC_IS("sid=abc", "sid", "abc", &(api_cookie_opts){0});
}

Test(codec, set_cookie_all_attributes) {
  api_cookie_opts o = {.path = "/",
                       .domain = "example.com",
                       .max_age = 60,
                       .expires = 1445412480,
                       .http_only = 1,
                       .secure = 1,
                       .same_site = API_SAMESITE_LAX};
  SC_IS(
      "sid=abc; Path=/; Domain=example.com; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT; "
      "HttpOnly; Secure; SameSite=Lax",
      "sid", "abc", &o);
}

Test(codec, set_cookie_each_attribute) {
  SC_IS("a=b; Path=/api", "a", "b", &(api_cookie_opts){.path = "/api"});
  SC_IS("a=b", "a", "b", &(api_cookie_opts){.path = "", .domain = ""});
  SC_IS("a=b; Domain=.example.com", "a", "b", &(api_cookie_opts){.domain = ".example.com"});
  SC_IS("a=b; Max-Age=1", "a", "b", &(api_cookie_opts){.max_age = 1});
  SC_IS("a=b; Max-Age=0", "a", "b", &(api_cookie_opts){.max_age = -1});
  SC_IS("a=b; Max-Age=0", "a", "b", &(api_cookie_opts){.max_age = LLONG_MIN});
  SC_IS("a=b; Max-Age=9223372036854775807", "a", "b", &(api_cookie_opts){.max_age = LLONG_MAX});
  SC_IS("a=b; Expires=Thu, 01 Jan 1970 00:00:01 GMT", "a", "b", &(api_cookie_opts){.expires = 1});
  SC_IS("a=b; Expires=Wed, 31 Dec 1969 23:59:59 GMT", "a", "b", &(api_cookie_opts){.expires = -1});
  SC_IS("a=b; HttpOnly", "a", "b", &(api_cookie_opts){.http_only = 1});
  SC_IS("a=b; Secure", "a", "b", &(api_cookie_opts){.secure = 1});
  SC_IS("a=b; SameSite=Lax", "a", "b", &(api_cookie_opts){.same_site = API_SAMESITE_LAX});
  SC_IS("a=b; SameSite=Strict", "a", "b", &(api_cookie_opts){.same_site = API_SAMESITE_STRICT});
  SC_IS("a=b; Secure; SameSite=None", "a", "b",
        &(api_cookie_opts){.secure = 1, .same_site = API_SAMESITE_NONE});
  SC_IS("a=b; Path=/a b", "a", "b", &(api_cookie_opts){.path = "/a b"}); /* SP is a CHAR */
}

Test(codec, set_cookie_rejects) {
  cr_assert_eq(sc("a", "b", &(api_cookie_opts){.same_site = API_SAMESITE_NONE}), API_EINVAL);
  cr_assert_eq(sc("a", "b", &(api_cookie_opts){.same_site = (api_samesite)42}), API_EINVAL);
  cr_assert_eq(sc("a", "b", &(api_cookie_opts){.same_site = (api_samesite)-1}), API_EINVAL);
  /* Year 10000 has no IMF-fixdate. */
  cr_assert_eq(sc("a", "b", &(api_cookie_opts){.expires = 253402300800LL}), API_EINVAL);
  cr_assert_eq(sc("a", "b", &(api_cookie_opts){.expires = LLONG_MAX}), API_EINVAL);
  cr_assert_eq(sc("a", "b", &(api_cookie_opts){.expires = LLONG_MIN}), API_EINVAL);
}

Test(codec, set_cookie_bad_names) {
  static const char *bad[] = {"",     "a b", "a=b",  "a;b",  "a\r\nb", "\xc3\xa9", "a\x7f",
                              "(a)",  "a,b", "a\"b", "a\tb", "a/b",    "a:b",      "[a]",
                              "a\\b", "{a}", "a?b",  "a@b",  "\n",     " a",       "a "};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    cr_assert_eq(sc(bad[i], "v", NULL), API_EINVAL, "accepted name \"%s\"", bad[i]);
  cr_assert_eq(sc(NULL, "v", NULL), API_EINVAL);
  SC_IS("!#$%&'*+-.^_`|~09AZaz=v", "!#$%&'*+-.^_`|~09AZaz", "v", NULL);
}

Test(codec, set_cookie_injection_in_value) {
  static const char *bad[] = {"a;b",
                              "a; Domain=evil.com",
                              "a\r\nSet-Cookie: x=y",
                              "a\nb",
                              "a\rb",
                              "a b",
                              " a",
                              "a,b",
                              "a\\b",
                              "a\x7f",
                              "\xc3\xa9",
                              "a\"b",
                              "\"",
                              "\"abc",
                              "abc\"",
                              "\"a\"b\"",
                              "\"a b\"",
                              "\"a;b\"",
                              "\t"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    cr_assert_eq(sc("a", bad[i], NULL), API_EINVAL, "accepted value \"%s\"", bad[i]);
  /* A C string ends at its NUL: whatever follows cannot reach the header. */
  SC_IS("a=abc", "a", "abc\0; Domain=evil.com", NULL);
}

Test(codec, set_cookie_every_value_byte) {
  char ok[128];
  size_t k = 0;
  for (int c = 1; c < 256; c++) {
    char v[2] = {(char)c, 0};
    bool octet = c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
                 (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
    cr_assert_eq(sc("a", v, NULL), octet ? 0 : API_EINVAL, "byte 0x%02x", c);
    if (octet) ok[k++] = (char)c;
  }
  ok[k] = 0;
  cr_assert_eq(k, 90);
  cr_assert_eq(sc("a", ok, NULL), 0);
}

Test(codec, set_cookie_injection_in_attributes) {
  static const char *bad[] = {"/;Domain=evil", "/\r\nX-Evil: 1", "/\n", "/\x7f", "/\x01",
                              "/\t",           "/\xc3\xa9",      ";"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    cr_assert_eq(sc("a", "b", &(api_cookie_opts){.path = bad[i]}), API_EINVAL, "path %zu", i);
    cr_assert_eq(sc("a", "b", &(api_cookie_opts){.domain = bad[i]}), API_EINVAL, "domain %zu", i);
  }
}

Test(codec, set_cookie_prefixes) {
  cr_assert_eq(sc("__Secure-id", "1", NULL), API_EINVAL);
  cr_assert_eq(sc("__Secure-id", "1", &(api_cookie_opts){.http_only = 1}), API_EINVAL);
  SC_IS("__Secure-id=1; Secure", "__Secure-id", "1", &(api_cookie_opts){.secure = 1});
  cr_assert_eq(sc("__secure-id", "1", NULL), API_EINVAL);
  cr_assert_eq(sc("__Host-id", "1", NULL), API_EINVAL);
  cr_assert_eq(sc("__Host-id", "1", &(api_cookie_opts){.secure = 1}), API_EINVAL);
  cr_assert_eq(sc("__Host-id", "1", &(api_cookie_opts){.secure = 1, .path = "/x"}), API_EINVAL);
  cr_assert_eq(
      sc("__Host-id", "1", &(api_cookie_opts){.secure = 1, .path = "/", .domain = "e.com"}),
      API_EINVAL);
  cr_assert_eq(sc("__Host-id", "1", &(api_cookie_opts){.path = "/"}), API_EINVAL);
  cr_assert_eq(sc("__HOST-id", "1", &(api_cookie_opts){.path = "/"}), API_EINVAL);
  SC_IS("__Host-id=1; Path=/; Secure", "__Host-id", "1",
        &(api_cookie_opts){.secure = 1, .path = "/"});
  SC_IS("__Hostile=1", "__Hostile", "1", NULL);
}

Test(codec, set_cookie_buffer_sizes) {
  const char *want = "sid=abc; Path=/; HttpOnly";
  size_t need = strlen(want);
  api_cookie_opts o = {.path = "/", .http_only = 1};
  size_t len = 0;
  cr_assert_eq(api__set_cookie_format(NULL, 0, "sid", "abc", &o, &len), API_ENOMEM);
  cr_assert_eq(len, need);
  char buf[64];
  for (size_t cap = 0; cap <= need; cap++) {
    memset(buf, '#', sizeof(buf));
    len = 0;
    cr_assert_eq(api__set_cookie_format(buf, cap, "sid", "abc", &o, &len), API_ENOMEM, "cap %zu",
                 cap);
    cr_assert_eq(len, need);
    for (size_t i = 0; i < sizeof(buf); i++) cr_assert_eq(buf[i], '#', "wrote with cap %zu", cap);
  }
  cr_assert_eq(api__set_cookie_format(buf, need + 1, "sid", "abc", &o, &len), 0);
  cr_assert_eq(len, need);
  cr_assert_str_eq(buf, want);
  /* Validation comes first: a bad cookie is EINVAL even when measuring. */
  cr_assert_eq(api__set_cookie_format(NULL, 0, "s d", "abc", &o, &len), API_EINVAL);
}

/* ---- dates ---- */

static const char *date(long long t) {
  static char out[API__HTTP_DATE_LEN + 1];
  memset(out, 'X', sizeof(out));
  size_t n = api__http_date((time_t)t, out);
  cr_assert(n == API__HTTP_DATE_LEN || (n == 0 && out[0] == '\0'));
  if (n) cr_assert_eq(strlen(out), API__HTTP_DATE_LEN);
  return n ? out : NULL;
}

Test(codec, http_date_known) {
  cr_assert_str_eq(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  cr_assert_str_eq(date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  cr_assert_str_eq(date(1445412480), "Wed, 21 Oct 2015 07:28:00 GMT");
  cr_assert_str_eq(date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  cr_assert_str_eq(date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
}

Test(codec, http_date_2038_and_beyond) {
  cr_assert_str_eq(date(2147483647LL), "Tue, 19 Jan 2038 03:14:07 GMT");
  cr_assert_str_eq(date(2147483648LL), "Tue, 19 Jan 2038 03:14:08 GMT");
  cr_assert_str_eq(date(4102444800LL), "Fri, 01 Jan 2100 00:00:00 GMT");
  cr_assert_str_eq(date(253402300799LL), "Fri, 31 Dec 9999 23:59:59 GMT");
  cr_assert_null(date(253402300800LL), "year 10000 does not fit");
  cr_assert_str_eq(date(-62167219200LL), "Sat, 01 Jan 0000 00:00:00 GMT");
  cr_assert_null(date(-62167219201LL));
  cr_assert_null(date(LLONG_MAX));
  cr_assert_null(date(LLONG_MIN));
}

/* Cross-check against strftime in the C locale over many random instants. */
Test(codec, http_date_matches_strftime) {
  srand(42);
  for (int i = 0; i < 20000; i++) {
    time_t t = (time_t)(((unsigned long long)rand() << 31 | (unsigned)rand()) % 253402300800ULL);
    struct tm tm;
    char want[64];
    gmtime_r(&t, &tm);
    strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cr_assert_str_eq(date(t), want, "t=%lld", (long long)t);
  }
}

Test(codec, http_date_ignores_locale) {
  /* Whatever locale is installed: names must stay English. */
  if (!setlocale(LC_ALL, "de_DE.UTF-8") && !setlocale(LC_ALL, "fr_FR.UTF-8") &&
      !setlocale(LC_ALL, "C.UTF-8"))
    cr_skip_test("no locale to switch to");
  cr_assert_str_eq(date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  setlocale(LC_ALL, "C");
}

/* ---- media types ---- */

Test(codec, json_media_types) {
  static const char *yes[] = {"application/json",
                              "application/json; charset=utf-8",
                              "application/json;charset=utf-8",
                              "application/json ; charset=utf-8",
                              "Application/JSON",
                              "APPLICATION/JSON",
                              "application/problem+json",
                              "application/vnd.api+json",
                              "application/merge-patch+json; charset=utf-8",
                              "application/x+JSON",
                              " application/json ",
                              "application/json;"};
  static const char *no[] = {"",
                             "text/json",
                             "application/jsonx",
                             "application/json-patch",
                             "application/json-seq",
                             "application/+json",
                             "application/json+",
                             "application/json5",
                             "application/jso",
                             "application/x-json",
                             "application/json, text/plain",
                             "application/json charset=utf-8",
                             "application /json",
                             "application/ json",
                             "application",
                             "application/",
                             "applicationx/json",
                             "xapplication/json",
                             "json",
                             "multipart/form-data",
                             "application/x-www-form-urlencoded",
                             "application/problem+jsonx",
                             "application/json\x01",
                             "text/plain; x=application/json"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
    cr_assert(api__is_json_media_type(yes[i]), "rejected \"%s\"", yes[i]);
  for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
    cr_assert_not(api__is_json_media_type(no[i]), "accepted \"%s\"", no[i]);
  cr_assert_not(api__is_json_media_type(NULL));
}

/* ---- list headers ---- */

Test(codec, header_tokens) {
  cr_assert(api__header_has_token("keep-alive, Upgrade", "upgrade"));
  cr_assert(api__header_has_token("keep-alive, Upgrade", "Keep-Alive"));
  cr_assert(api__header_has_token("close", "close"));
  cr_assert(api__header_has_token("CLOSE", "close"));
  cr_assert(api__header_has_token("  close  ", "close"));
  cr_assert(api__header_has_token("a,close", "close"));
  cr_assert(api__header_has_token(",,\t close\t,,", "close"));
  cr_assert(api__header_has_token("gzip, chunked", "chunked"));
  cr_assert_not(api__header_has_token("keep-alive", "alive"));
  cr_assert_not(api__header_has_token("keep-alive", "keep"));
  cr_assert_not(api__header_has_token("closed", "close"));
  cr_assert_not(api__header_has_token("xclose", "close"));
  cr_assert_not(api__header_has_token("close;x", "close"));
  cr_assert_not(api__header_has_token("cl ose", "close"));
  cr_assert_not(api__header_has_token("", "close"));
  cr_assert_not(api__header_has_token(",", "close"));
  cr_assert_not(api__header_has_token("a, b", ""));
  cr_assert_not(api__header_has_token("a, , b", ""));
  cr_assert_not(api__header_has_token(NULL, "close"));
  cr_assert_not(api__header_has_token("close", NULL));
  cr_assert_not(api__header_has_token("chunked, gzip", "chunke"));
}
