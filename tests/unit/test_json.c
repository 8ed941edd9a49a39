/* The library's JSON parser (src/util/json.c) must accept exactly what jansson's json_loadb
 * accepts with JSON_DECODE_ANY | JSON_REJECT_DUPLICATES (and JSON_ALLOW_NUL for
 * API__JSON_ALLOW_NUL) and build equal values: most cases are checked against jansson itself rather
 * than against a hand-written expectation. Then what jansson cannot tell us: where an error is,
 * NUL bytes, and out of memory reported as such. */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json.h"

static void *failing_json_malloc(size_t n) { return api__malloc(n); }

static void teardown(void) {
  api__alloc_fail_after(-1);
  json_set_alloc_funcs(malloc, free);
}
TestSuite(json, .fini = teardown);

static const unsigned MODES[] = {0, API__JSON_ALLOW_NUL};

static size_t jansson_flags(unsigned flags) {
  return JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
         (flags & API__JSON_ALLOW_NUL ? JSON_ALLOW_NUL : 0);
}

/* Parse with both in one mode; they must agree. Returns whether the input was accepted. */
static bool same_in(const char *text, size_t len, unsigned flags) {
  json_error_t jerr;
  json_t *ref = json_loadb(text, len, jansson_flags(flags), &jerr);
  api__json_error err;
  memset(&err, 0x55, sizeof(err));
  json_t *got = api__json_parse(text, len, flags, &err);
  cr_assert_eq(got != NULL, ref != NULL, "\"%.*s\" (flags %u): jansson %s (%s), ours %s (%s)",
               len > 80 ? 80 : (int)len, text, flags, ref ? "accepts" : "refuses",
               ref ? "" : jerr.text, got ? "accepts" : "refuses", got ? "" : err.message);
  if (got)
    cr_assert(json_equal(got, ref), "\"%.*s\" parsed differently", len > 80 ? 80 : (int)len, text);
  if (!got) {
    cr_assert_neq(err.message[0], 0, "a refusal has a reason");
    cr_assert_not(err.enomem);
    cr_assert_leq(err.offset, len);
  }
  bool ok = got != NULL;
  json_decref(got);
  json_decref(ref);
  return ok;
}

/* Both modes must agree with jansson, and with each other unless the text has "\u0000". */
static bool same(const char *text, size_t len) {
  bool a = same_in(text, len, 0), b = same_in(text, len, API__JSON_ALLOW_NUL);
  if (!strstr(text, "\\u0000")) cr_assert_eq(a, b, "%s", text);
  return a;
}

static bool same_s(const char *text) { return same(text, strlen(text)); }

Test(json, values) {
  const char *ok[] = {"{}",
                      "[]",
                      "0",
                      "-0",
                      "1",
                      "-1",
                      "1.5",
                      "-1.5e-3",
                      "1E4",
                      "1e2",
                      "1E+2",
                      "0.0",
                      "-0.0",
                      "0e0",
                      "0.000001",
                      "123456789012345678",
                      "-9223372036854775808",
                      "9223372036854775807",
                      "1e-400",
                      "0.1e-400",
                      "1e-99999999999999999999",
                      "0e99999999999999999999",
                      "-0.0e-5",
                      "1e308",
                      "true",
                      "false",
                      "null",
                      "\"\"",
                      "\"a\"",
                      " 1 ",
                      " \t\r\n{ \"a\" : [ 1 , 2 , { } ] } \n",
                      "{\"a\":{\"a\":{\"a\":1}},\"b\":[[],[[]]]}",
                      "[1,\"x\",true,null,1.0]",
                      "{\"\":1}",
                      "{\"a\":1,\"A\":2}",
                      "123456789012345678901234567890.5",
                      "3.141592653589793238462643383279"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) cr_assert(same_s(ok[i]), "%s", ok[i]);
  const char *bad[] = {"",
                       " ",
                       "{",
                       "}",
                       "[",
                       "]",
                       "{]",
                       "[}",
                       "{,}",
                       "[,]",
                       "[1,]",
                       "{\"a\":1,}",
                       "{\"a\"}",
                       "{\"a\" 1}",
                       "{a:1}",
                       "{1:2}",
                       "{'a':1}",
                       "01",
                       "-01",
                       "-",
                       "+1",
                       ".5",
                       "1.",
                       "1.e5",
                       "1e",
                       "1e+",
                       "0x10",
                       "--1",
                       "1 2",
                       "{}{}",
                       "{} x",
                       "tru",
                       "truex",
                       "nul",
                       "NULL",
                       "True",
                       "9223372036854775808",
                       "-9223372036854775809",
                       "123456789012345678901234567890",
                       "1e309",
                       "1e400",
                       "-1e400",
                       "1e99999999999999999999",
                       "NaN",
                       "Infinity",
                       "[1] [2]",
                       "{\"a\":1,\"a\":1}",
                       "{\"a\":{\"b\":1,\"b\":2}}",
                       "{\"a\\u0000\":1}",
                       "[1,{\"\\u0000\":\"\\u0000\"}]"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_not(same_s(bad[i]), "accepted %s", bad[i]);
}

Test(json, strings_and_escapes) {
  const char *ok[] = {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
                      "\"\\u0041\\u00e9\\u20AC\"",
                      "\"\\ud83d\\ude00\"",
                      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
                      "\"\xc3\xa9 then \\n then \xf0\x9f\x98\x80\"",
                      "{\"k\\u00e9y\":\"v\\n\"}",
                      "{\"a\\u0062\":1,\"ab\\u0063\":2}",
                      "\"\x7f\"",
                      "\"\xef\xbf\xbf\"",
                      "\"\xf4\x8f\xbf\xbf\""};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) cr_assert(same_s(ok[i]), "%s", ok[i]);
  const char *bad[] = {"\"abc",
                       "\"\\\"",
                       "\"\\",
                       "\"a\\n",
                       "\"\\x41\"",
                       "\"\\u12\"",
                       "\"\\u12G4\"",
                       "\"\\ud83d\"",
                       "\"\\ude00\"",
                       "\"\\ud83d\\u0041\"",
                       "\"\\ud83d\\ud83d\"",
                       "\"\\ud83dx\"",
                       "\"\x01\"",
                       "\"\t\"",
                       "\"\n\"",
                       "\"\\n\n\"",
                       "\"\x80\"",
                       "\"\xc0\xaf\"",
                       "\"\xc1\xbf\"",
                       "\"\xc3\"",
                       "\"\\n\xc3\"",
                       "\"\xe0\x80\xaf\"",
                       "\"\xf0\x80\x80\xaf\"",
                       "\"\xed\xa0\x80\"",
                       "\"\xed\xbf\xbf\"",
                       "\"\xf4\x90\x80\x80\"",
                       "\"\xf5\"",
                       "\"\xff\"",
                       "{\"ab\":1,\"a\\u0062\":2}",
                       "\"\\U0041\""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_not(same_s(bad[i]), "accepted %s", bad[i]);
  /* Long escaped strings outgrow the scratch buffer. */
  char big[3000] = "\"";
  for (int i = 0; i < 400; i++) strcat(big, "\\u00e9");
  strcat(big, "\"");
  cr_assert(same_s(big));
}

/* Decoded keys wait in the scratch buffer while their values, decoded strings and nested objects
 * with decoded keys of their own, are parsed; the buffer grows (and moves) meanwhile. */
Test(json, escaped_keys_survive_their_values) {
  cr_assert(
      same_s("{\"k\\u00e9y\":{\"a\\u0062\":\"v\\u00e9\",\"x\\n\":[\"\\u0041\",{\"\\u0042\":"
             "\"c\\u0043\"}]},\"k\\u00e9y2\":1,\"k\\u00e9\":{\"k\\u00e9\":\"k\\u00e9\"}}"));
  size_t cap = 40000, n = 0;
  char *t = malloc(cap);
  cr_assert_not_null(t);
  n += (size_t)snprintf(t + n, cap - n, "{\"");
  for (int i = 0; i < 300; i++) n += (size_t)snprintf(t + n, cap - n, "\\u00e%d", i % 10);
  n += (size_t)snprintf(t + n, cap - n, "\":{\"");
  for (int i = 0; i < 500; i++) n += (size_t)snprintf(t + n, cap - n, "\\t");
  n += (size_t)snprintf(t + n, cap - n, "\":\"");
  for (int i = 0; i < 5000; i++) n += (size_t)snprintf(t + n, cap - n, "\\n");
  n += (size_t)snprintf(t + n, cap - n, "\"},\"\\u00e0\":0}");
  cr_assert(same(t, n));
  free(t);
}

Test(json, nul) {
  /* "\u0000": a string may hold it with API__JSON_ALLOW_NUL; a key never. */
  api__json_error err;
  json_t *v = api__json_parse("[\"a\\u0000b\"]", 12, API__JSON_ALLOW_NUL, &err);
  cr_assert_not_null(v);
  cr_assert_eq(json_string_length(json_array_get(v, 0)), 3);
  cr_assert_eq(memcmp(json_string_value(json_array_get(v, 0)), "a\0b", 3), 0);
  json_decref(v);
  cr_assert_null(api__json_parse("[\"a\\u0000b\"]", 12, 0, &err));
  cr_assert_str_eq(err.message, "\\u0000 is not allowed");
  cr_assert_eq(err.offset, 3);
  cr_assert_null(api__json_parse("{\"a\\u0000\":1}", 13, API__JSON_ALLOW_NUL, &err));
  cr_assert_str_eq(err.message, "NUL byte in an object key");
  cr_assert_eq(err.offset, 1);
  /* A raw NUL byte, inside a string, after the text or right after a token, is refused in both
   * modes (jansson skips one right after a number or a literal: "[8\0]" is [8]). */
  const struct {
    const char *s;
    size_t n;
  } raw[] = {{"{\"a\":\"x\0y\"}", 11}, {"{}\0", 3},   {"8\0", 2},     {"[8\0]", 4},
             {"{\"a\":8\0}", 8},       {"true\0", 5}, {"[1.5\0]", 6}, {"\0", 1}};
  for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
    for (size_t m = 0; m < 2; m++) {
      cr_assert_null(api__json_parse(raw[i].s, raw[i].n, MODES[m], &err), "case %zu", i);
      cr_assert_not(err.enomem);
    }
}

Test(json, numbers_are_exact) {
  /* The fast path and strtod must give the same double, bit for bit. */
  const char *nums[] = {"0.1",
                        "0.3",
                        "-0.0",
                        "1.5e-7",
                        "-1e-4",
                        "3.141592653589793",
                        "9007199254740991.0",
                        "9007199254740993.0",
                        "1e22",
                        "1e23",
                        "123456789e-22",
                        "1.7976931348623157e308",
                        "2.2250738585072014e-308",
                        "4.9e-324",
                        "0.000000000000000000000000000001",
                        "100000000000000000000000000000000000000e-38",
                        "1.00000000000000000000000000000000000001"};
  for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
    json_t *v = api__json_parse(nums[i], strlen(nums[i]), 0, NULL);
    cr_assert(json_is_real(v), "%s", nums[i]);
    double want = strtod(nums[i], NULL), got = json_real_value(v);
    cr_assert_eq(memcmp(&want, &got, sizeof(double)), 0, "%s: %.17g, not %.17g", nums[i], got,
                 want);
    json_decref(v);
  }
  json_t *v = api__json_parse("[-9223372036854775808,9223372036854775807,-0,7]", 47, 0, NULL);
  cr_assert_not_null(v);
  cr_assert_eq(json_integer_value(json_array_get(v, 0)), INT64_MIN);
  cr_assert_eq(json_integer_value(json_array_get(v, 1)), INT64_MAX);
  cr_assert(json_is_integer(json_array_get(v, 2)));
  cr_assert_eq(json_integer_value(json_array_get(v, 2)), 0);
  json_decref(v);
}

typedef struct {
  const char *text;
  unsigned flags;
  size_t offset;
  int line, column;
  const char *message;
} error_case;

Test(json, error_positions_and_reasons) {
  static const error_case cases[] = {
      {"{\"a\": }", 0, 6, 1, 7, "invalid token"},
      {"{\"a\":1,\"a\":2}", 0, 7, 1, 8, "duplicate object key"},
      {"{\"ab\":1,\n \"a\\u0062\":2}", 0, 10, 2, 2, "duplicate object key"},
      {"{}\n{}", 0, 3, 2, 1, "trailing data after the value"},
      {"[1,\n  \"\xc3\xa9\xc3\xa9\", x]", 0, 14, 2, 9, "invalid token"},
      {"[\"\xc3\xa9\xc3\xa9\",\r\n\t\"\\q\"]", 0, 12, 2, 3, "invalid escape"},
      {"\"abc", 0, 0, 1, 1, "unterminated string"},
      {"[\"a\\", 0, 1, 1, 2, "unterminated string"},
      {"[1,2", 0, 4, 1, 5, "unexpected end of input"},
      {"", 0, 0, 1, 1, "unexpected end of input"},
      {"\n\n  ", 0, 4, 3, 3, "unexpected end of input"},
      {"\"a\x01\"", 0, 2, 1, 3, "control character in a string"},
      {"[\"\\ud800\"]", 0, 2, 1, 3, "lone surrogate in a \\u escape"},
      {"[\"\\udc00\"]", 0, 2, 1, 3, "lone surrogate in a \\u escape"},
      {"[\"\\u12x4\"]", 0, 2, 1, 3, "invalid \\u escape"},
      {"\"\\u0000\"", 0, 1, 1, 2, "\\u0000 is not allowed"},
      {"{\"\\u0000\":1}", API__JSON_ALLOW_NUL, 1, 1, 2, "NUL byte in an object key"},
      {"\"\xc0\xaf\"", 0, 1, 1, 2, "invalid UTF-8"},
      {"\"ok \xed\xa0\x80\"", 0, 4, 1, 5, "invalid UTF-8"},
      {"9223372036854775808", 0, 0, 1, 1, "integer out of range"},
      {"[1, -9223372036854775809]", 0, 4, 1, 5, "integer out of range"},
      {"[1e400]", 0, 1, 1, 2, "real number overflow"},
      {"01", 0, 0, 1, 1, "invalid number (leading zero)"},
      {"[1.]", 0, 1, 1, 2, "invalid number"},
      {"{\"a\" 1}", 0, 5, 1, 6, "':' expected"},
      {"{\"a\":1 \"b\":2}", 0, 7, 1, 8, "',' or '}' expected"},
      {"[1 2]", 0, 3, 1, 4, "',' or ']' expected"},
      {"{1:2}", 0, 1, 1, 2, "string key expected"},
      {"{\"a\":1,}", 0, 7, 1, 8, "string key expected"},
      {"nul", 0, 0, 1, 1, "invalid token"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const error_case *c = &cases[i];
    api__json_error err;
    cr_assert_null(api__json_parse(c->text, strlen(c->text), c->flags, &err), "case %zu", i);
    cr_assert_str_eq(err.message, c->message, "case %zu", i);
    cr_assert_eq(err.offset, c->offset, "case %zu: offset %zu", i, err.offset);
    cr_assert_eq(err.line, c->line, "case %zu: line %d", i, err.line);
    cr_assert_eq(err.column, c->column, "case %zu: column %d", i, err.column);
    cr_assert_not(err.enomem, "case %zu", i);
  }
  /* err may be NULL */
  cr_assert_null(api__json_parse("[", 1, 0, NULL));
}

static char *nested(size_t depth, const char *open, const char *inner, const char *close) {
  size_t o = strlen(open), c = strlen(close), in = strlen(inner);
  char *t = malloc(depth * (o + c) + in + 1);
  cr_assert_not_null(t);
  char *p = t;
  for (size_t i = 0; i < depth; i++, p += o) memcpy(p, open, o);
  memcpy(p, inner, in);
  p += in;
  for (size_t i = 0; i < depth; i++, p += c) memcpy(p, close, c);
  *p = 0;
  return t;
}

Test(json, depth_limit) {
  /* jansson's limit and ours agree around 2048, for arrays and objects, empty or not: every value
   * counts, so 2048 empty arrays parse and 2048 arrays around a 1 do not. */
  for (size_t depth = 2043; depth <= 2053; depth++) {
    char *a = nested(depth, "[", "", "]"), *b = nested(depth, "[", "1", "]"),
         *o = nested(depth, "{\"k\":", "[]", "}");
    cr_assert_eq(same_s(a), depth <= API__JSON_MAX_DEPTH, "%zu", depth);
    cr_assert_eq(same_s(b), depth < API__JSON_MAX_DEPTH, "%zu", depth);
    cr_assert_eq(same_s(o), depth < API__JSON_MAX_DEPTH, "%zu", depth);
    free(a);
    free(b);
    free(o);
  }
  /* A hostile depth is an error at the bracket that goes too deep, not a deep recursion. */
  char *deep = nested(1000000, "[", "", "]");
  api__json_error err;
  cr_assert_null(api__json_parse(deep, strlen(deep), 0, &err));
  cr_assert_str_eq(err.message, "nested deeper than 2048 levels");
  cr_assert_eq(err.offset, API__JSON_MAX_DEPTH);
  free(deep);
}

Test(json, locale_does_not_change_numbers) {
  if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
    cr_skip_test("no locale with a decimal comma installed");
  }
  json_t *v = api__json_parse("[1.5, 1.25e-300]", 16, 0, NULL);
  setlocale(LC_NUMERIC, "C");
  cr_assert_not_null(v);
  cr_assert_eq(json_real_value(json_array_get(v, 0)), 1.5);
  cr_assert_eq(json_real_value(json_array_get(v, 1)), 1.25e-300);
  json_decref(v);
}

/* Every allocation (jansson's values and hash tables, the scratch buffer, long number text) fails
 * in turn, alone and with all those after it: the parser returns NULL with enomem, never a syntax
 * error, never a crash or a leak (ASan), and parses normally afterwards. */
Test(json, out_of_memory_is_reported_as_such) {
  json_set_alloc_funcs(failing_json_malloc, api__free);
  char doc[2000] = "{\"list\":[\"";
  for (int i = 0; i < 60; i++) strcat(doc, "\\n\\t");
  strcat(doc, "\",123456789012345678901234567890123456789012345678901234567890123456.5,");
  for (int i = 0; i < 20; i++) strcat(doc, "{\"k\\u00e9\":[1,2.5,true,\"x\"],\"b\":null},");
  strcat(doc, "0],\"k\\u00e9y\":{\"a\":\"b\",\"c\":\"d\",\"e\":\"f\",\"g\":\"h\",\"i\":\"j\"}}");
  json_t *ref = json_loadb(doc, strlen(doc), 0, NULL);
  cr_assert_not_null(ref);
  for (int mode = 0; mode < 2; mode++) {
    long failures = 0, n;
    for (n = 0; n < 5000; n++) {
      if (mode == 0)
        api__alloc_fail_nth(n);
      else
        api__alloc_fail_after(n);
      api__json_error err;
      json_t *v = api__json_parse(doc, strlen(doc), API__JSON_ALLOW_NUL, &err);
      api__alloc_fail_after(-1);
      if (v) {
        cr_assert(json_equal(v, ref));
        json_decref(v);
        break; /* no allocation was left to fail */
      }
      failures++;
      cr_assert(err.enomem, "allocation %ld: \"%s\" at %zu", n, err.message, err.offset);
      cr_assert_str_eq(err.message, "out of memory");
    }
    cr_assert_gt(failures, 100, "every allocation was made to fail (%ld)", failures);
    cr_assert_lt(n, 5000, "the parse succeeds once allocations do");
  }
  json_decref(ref);
}
