/* The strict JSON parser used for JWT headers and claims must accept exactly what jansson's
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, and build equal values. Each case
 * is checked against jansson itself rather than against a hand-written expectation. */
#include <criterion/criterion.h>
#include <locale.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json_strict.h"

static void teardown(void) { api__alloc_fail_after(-1); }
TestSuite(json_strict, .fini = teardown);

/* Parse with both; they must agree. Returns whether the input was accepted. */
static bool same(const char *text, size_t len) {
  json_error_t jerr;
  json_t *ref = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  char err[96];
  json_t *got = api__json_parse_strict(text, len, err, sizeof(err));
  cr_assert_eq(got != NULL, ref != NULL, "\"%.*s\": jansson %s (%s), strict %s (%s)", (int)len,
               text, ref ? "accepts" : "refuses", ref ? "" : jerr.text, got ? "accepts" : "refuses",
               got ? "" : err);
  if (got) cr_assert(json_equal(got, ref), "\"%.*s\" parsed differently", (int)len, text);
  if (!got) cr_assert_neq(err[0], 0, "a refusal has a reason");
  bool ok = got != NULL;
  json_decref(got);
  json_decref(ref);
  return ok;
}

static bool same_s(const char *text) { return same(text, strlen(text)); }

Test(json_strict, values) {
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
                      "123456789012345678",
                      "-9223372036854775808",
                      "9223372036854775807",
                      "1e-400",
                      "true",
                      "false",
                      "null",
                      "\"\"",
                      "\"a\"",
                      " \t\r\n{ \"a\" : [ 1 , 2 , { } ] } \n",
                      "{\"a\":{\"a\":{\"a\":1}},\"b\":[[],[[]]]}",
                      "[1,\"x\",true,null,1.0]",
                      "{\"\":1}",
                      "{\"a\":1,\"A\":2}"};
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
                       "{'a':1}",
                       "01",
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
                       "1e400",
                       "-1e400",
                       "NaN",
                       "Infinity",
                       "[1] [2]",
                       "{\"a\":1,\"a\":1}",
                       "{\"a\":{\"b\":1,\"b\":2}}",
                       "{\"a\\u0000\":1}",
                       "\"\\u0000\""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_not(same_s(bad[i]), "accepted %s", bad[i]);
}

Test(json_strict, strings_and_escapes) {
  const char *ok[] = {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
                      "\"\\u0041\\u00e9\\u20AC\"",
                      "\"\\ud83d\\ude00\"",
                      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
                      "{\"k\\u00e9y\":\"v\\n\"}",
                      "{\"a\\u0062\":1,\"ab\\u0063\":2}",
                      "\"\x7f\"",
                      "\"\xef\xbf\xbf\"",
                      "\"\xf4\x8f\xbf\xbf\""};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) cr_assert(same_s(ok[i]), "%s", ok[i]);
  const char *bad[] = {"\"abc",
                       "\"\\\"",
                       "\"\\",
                       "\"\\x41\"",
                       "\"\\u12\"",
                       "\"\\u12G4\"",
                       "\"\\ud83d\"",
                       "\"\\ude00\"",
                       "\"\\ud83d\\u0041\"",
                       "\"\\ud83dx\"",
                       "\"\x01\"",
                       "\"\t\"",
                       "\"\n\"",
                       "\"\x80\"",
                       "\"\xc0\xaf\"",
                       "\"\xc3\"",
                       "\"\xe0\x80\xaf\"",
                       "\"\xed\xa0\x80\"",
                       "\"\xf4\x90\x80\x80\"",
                       "\"\xf5\"",
                       "\"\xff\"",
                       "{\"ab\":1,\"a\\u0062\":2}",
                       "\"\\U0041\""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_not(same_s(bad[i]), "accepted %s", bad[i]);
  /* A NUL byte inside and after the text. */
  cr_assert_not(same("{\"a\":\"x\0y\"}", 11));
  cr_assert_not(same("{}\0", 3));
  /* jansson skips a NUL right after a number or literal; the strict parser refuses it. */
  const struct {
    const char *s;
    size_t n;
  } nul[] = {{"8\0", 2}, {"[8\0]", 4}, {"{\"a\":8\0}", 8}, {"true\0", 5}, {"[1.5\0]", 6}};
  for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++)
    cr_assert_null(api__json_parse_strict(nul[i].s, nul[i].n, NULL, 0), "case %zu", i);
  /* Long escaped strings go to the heap. */
  char big[3000] = "\"";
  for (int i = 0; i < 400; i++) strcat(big, "\\u00e9");
  strcat(big, "\"");
  cr_assert(same_s(big));
}

Test(json_strict, depth_limit) {
  static char deep[2 * 2100 + 1];
  for (int depth = 2040; depth <= 2060; depth += 4) {
    memset(deep, '[', (size_t)depth);
    memset(deep + depth, ']', (size_t)depth);
    deep[2 * depth] = 0;
    same_s(deep); /* jansson's limit and ours must agree around 2048 */
  }
}

Test(json_strict, locale_does_not_change_numbers) {
  if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
    cr_skip_test("no locale with a decimal comma installed");
  }
  json_t *v = api__json_parse_strict("[1.5]", 5, NULL, 0);
  cr_assert_not_null(v);
  cr_assert_float_eq(json_real_value(json_array_get(v, 0)), 1.5, 1e-12);
  json_decref(v);
  setlocale(LC_NUMERIC, "C");
}

Test(json_strict, allocation_failures) {
  char big[400] = "[\"";
  for (int i = 0; i < 60; i++) strcat(big, "\\n\\t");
  strcat(big, "\",123456789012345678901234567890123456789012345678901234567890123456.5]");
  for (long i = 0; i < 4; i++) {
    api__alloc_fail_nth(i);
    json_t *v = api__json_parse_strict(big, strlen(big), NULL, 0);
    api__alloc_fail_nth(-1);
    json_decref(v);
  }
  cr_assert(same_s(big));
}
