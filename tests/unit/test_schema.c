/* Unit tests for src/schema: compile errors, error details, numbers, formats, coercion, defaults,
 * builders, the text fast path, hostile input and allocation failure. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libapi/schema.h"
#include "util/alloc.h"

static void teardown(void) { api__alloc_fail_after(-1); }
TestSuite(schema, .fini = teardown);

static api_schema *compile(const char *text) {
  api_schema *s = NULL;
  int rc = api_schema_parse(&s, text, strlen(text), NULL);
  cr_assert_eq(rc, 0, "compile %s: %s", text, api_last_error());
  return s;
}

static json_t *doc(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
  cr_assert_not_null(j, "bad test JSON %s: %s", text, e.text);
  return j;
}

/* Validate instance text against schema text; returns the details array (or NULL when valid)
 * and checks that the fast path agrees. */
static json_t *check(const char *schema, const char *instance) {
  api_schema *s = compile(schema);
  json_t *i = doc(instance);
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  int rc = api_schema_validate(s, i, &res);
  int fast = api_schema_validate(s, i, NULL);
  cr_assert_eq(rc == 0, fast == 0, "fast path disagrees for %s on %s", schema, instance);
  json_t *details = rc ? api_schema_result_details(&res) : NULL;
  if (rc) cr_assert_eq(rc, API_EVALIDATION);
  api_schema_result_free(&res);
  json_decref(i);
  api_schema_free(s);
  return details;
}

static bool valid(const char *schema, const char *instance) {
  json_t *d = check(schema, instance);
  json_decref(d);
  return d == NULL;
}

static void expect_compile_error(const char *schema, const char *fragment) {
  api_schema *s = NULL;
  int rc = api_schema_parse(&s, schema, strlen(schema), NULL);
  cr_assert_eq(rc, API_EINVAL, "%s compiled (rc %d)", schema, rc);
  cr_assert_null(s);
  cr_assert(strstr(api_last_error(), fragment), "message \"%s\" lacks \"%s\"", api_last_error(),
            fragment);
}

Test(schema, compile_errors_name_the_pointer) {
  expect_compile_error("{\"properties\":{\"age\":{\"minimum\":\"x\"}}}",
                       "/properties/age/minimum: must be a number");
  expect_compile_error("{\"minLength\":-1}", "/minLength: must be a non-negative integer");
  expect_compile_error("{\"minLength\":1.5}", "/minLength");
  expect_compile_error("{\"items\":{\"pattern\":\"(\"}}", "/items/pattern: invalid regular");
  expect_compile_error("{\"$ref\":\"#/$defs/nope\"}", "/$ref: cannot resolve");
  expect_compile_error("{\"$ref\":\"http://example.com/other.json\"}", "cannot resolve");
  expect_compile_error("{\"type\":\"strin\"}", "/type");
  expect_compile_error("{\"type\":[\"string\",\"string\"]}", "/type");
  expect_compile_error("{\"allOf\":[]}", "/allOf");
  expect_compile_error("{\"type\":[]}", "/type");
  expect_compile_error("{\"allOf\":[{\"not\":3}]}", "/allOf/0/not");
  expect_compile_error("{\"required\":[1]}", "/required");
  expect_compile_error("{\"multipleOf\":0}", "/multipleOf");
  expect_compile_error("{\"properties\":{\"a/b~c\":{\"maxItems\":\"1\"}}}",
                       "/properties/a~1b~0c/maxItems");
  expect_compile_error("{\"patternProperties\":{\"[\":true}}", "patternProperties");
  expect_compile_error("{\"$anchor\":\"1bad\"}", "$anchor");
  expect_compile_error("{\"$id\":\"http://x/y#frag\"}", "$id");
  api_schema *s = (api_schema *)1;
  cr_assert_eq(api_schema_parse(&s, "{", 1, NULL), API_EBADJSON);
  cr_assert_null(s);
  cr_assert_eq(api_schema_parse(&s, "3", 1, NULL), API_EINVAL);
  cr_assert_eq(api_schema_compile(&s, NULL, NULL), API_EINVAL);
  cr_assert_eq(api_schema_compile(NULL, json_true(), NULL), API_EINVAL);
}

Test(schema, details_format) {
  const char *schema =
      "{\"type\":\"object\",\"required\":[\"name\",\"age\"],\"properties\":{"
      "\"age\":{\"type\":\"integer\",\"maximum\":150},"
      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":3}},"
      "\"a/b\":{\"const\":1}},\"additionalProperties\":false}";
  json_t *d = check(schema, "{\"age\":200,\"tags\":[\"ok\",\"toolong\"],\"a/b\":2,\"x\":1}");
  cr_assert_not_null(d);
  char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
  json_t *want = doc(
      "[{\"path\":\"\",\"keyword\":\"required\",\"message\":\"must have required property "
      "'name'\",\"params\":{\"missingProperty\":\"name\"}},"
      "{\"path\":\"/age\",\"keyword\":\"maximum\",\"message\":\"must be <= 150\","
      "\"params\":{\"comparison\":\"<=\",\"limit\":150}},"
      "{\"path\":\"/tags/1\",\"keyword\":\"maxLength\",\"message\":\"must NOT have more than 3 "
      "characters\",\"params\":{\"limit\":3}},"
      "{\"path\":\"/a~1b\",\"keyword\":\"const\",\"message\":\"must be equal to constant\","
      "\"params\":{\"allowedValue\":1}},"
      "{\"path\":\"\",\"keyword\":\"additionalProperties\",\"message\":\"must NOT have additional "
      "properties ('x')\",\"params\":{\"additionalProperty\":\"x\"}}]");
  cr_assert(json_equal(d, want), "got %s", s);
  free(s);
  json_decref(want);
  json_decref(d);
}

Test(schema, error_bound_and_truncation) {
  api_schema *s = compile("{\"items\":{\"type\":\"string\"}}");
  json_t *arr = json_array();
  for (int i = 0; i < 1000; i++) json_array_append_new(arr, json_integer(i));
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate(s, arr, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 100);
  cr_assert_eq(res.truncated, 1);
  cr_assert_str_eq(res.errors[99].path, "/99");
  res.max_errors = 5;
  cr_assert_eq(api_schema_validate(s, arr, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 5);
  api_schema_result_free(&res);
  cr_assert_eq(res.count, 0);
  cr_assert_null(res.errors);
  json_decref(arr);
  api_schema_free(s);
}

Test(schema, numbers) {
  cr_assert(valid("{\"multipleOf\":0.0001}", "0.0075"));
  cr_assert(valid("{\"multipleOf\":0.01}", "19.99"));
  cr_assert(valid("{\"multipleOf\":0.1}", "0.3"));
  cr_assert_not(valid("{\"multipleOf\":0.1}", "0.31"));
  cr_assert_not(valid("{\"multipleOf\":3}", "1e20")); /* exactly 10^20, remainder 1 */
  cr_assert(valid("{\"multipleOf\":3}", "9007199254740993"));
  cr_assert_not(valid("{\"multipleOf\":3}", "9007199254740994"));
  cr_assert_not(valid("{\"type\":\"integer\",\"multipleOf\":0.123456789}", "1e308"));
  cr_assert(valid("{\"type\":\"integer\"}", "1.0"));
  cr_assert_not(valid("{\"type\":\"integer\"}", "1.5"));
  /* int64 limits compare exactly, not through doubles */
  cr_assert_not(valid("{\"maximum\":9223372036854775806}", "9223372036854775807"));
  cr_assert(valid("{\"maximum\":9223372036854775807}", "9223372036854775807"));
  cr_assert_not(valid("{\"exclusiveMinimum\":-9223372036854775808}", "-9223372036854775808"));
  cr_assert(valid("{\"minimum\":1e-300}", "1e-299"));
  cr_assert(valid("{\"const\":1}", "1.0"));
  cr_assert(valid("{\"enum\":[{\"a\":[1,2.0],\"b\":null}]}", "{\"b\":null,\"a\":[1.0,2]}"));
  cr_assert_not(valid("{\"enum\":[1,true]}", "\"1\""));
  cr_assert_not(valid("{\"const\":false}", "0"));
}

Test(schema, strings_count_code_points) {
  cr_assert(valid("{\"maxLength\":2}", "\"\\u00e9\\u00e9\""));
  cr_assert(valid("{\"minLength\":2,\"maxLength\":2}", "\"\\ud83d\\ude00x\""));
  cr_assert_not(valid("{\"maxLength\":1}", "\"\\ud83d\\ude00x\""));
  cr_assert(valid("{\"pattern\":\"^\\\\p{L}+$\"}", "\"\\u00e9t\\u00e9\""));
  cr_assert_not(valid("{\"pattern\":\"^\\\\d+$\"}", "\"\\u0661\"")); /* \d is ASCII only */
  cr_assert(valid("{\"pattern\":\"^\\\\s$\"}", "\"\\u00a0\""));      /* ECMA \s */
  cr_assert(valid("{\"pattern\":\"b\"}", "\"abc\""));                /* unanchored */
  cr_assert_not(valid("{\"pattern\":\"^a$\"}", "\"a\\n\""));         /* $ only at the end */
  cr_assert(valid("{\"pattern\":\"^[^]$\"}", "\"\\n\""));
}

Test(schema, catastrophic_regex_hits_the_limit_quickly) {
  api_schema *s = compile("{\"pattern\":\"^(a+)+$\"}");
  char text[64];
  memset(text, 'a', 40);
  strcpy(text + 40, "!");
  json_t *i = json_string(text);
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  cr_assert_eq(api_schema_validate(s, i, &res), API_EVALIDATION);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  cr_assert_lt(dt, 1.0, "took %.3fs", dt);
  cr_assert_eq(res.count, 1);
  cr_assert_str_eq(res.errors[0].keyword, "pattern");
  cr_assert(strstr(res.errors[0].message, "limit"), "%s", res.errors[0].message);
  cr_assert(json_is_true(json_object_get(res.errors[0].params, "limitHit")));
  api_schema_result_free(&res);
  json_decref(i);
  api_schema_free(s);
}

Test(schema, formats_asserted_by_default) {
  static const struct {
    const char *format, *good, *bad;
  } cases[] = {
      {"email", "ada@example.com", "not-an-email"},
      {"email", "\\\"a b\\\"@example.com", "a..b@example.com"},
      {"email", "joe@[127.0.0.1]", "joe@-bad.com"},
      {"uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2eb8aa08-aa98-11ea-b4aa-73b441d1638"},
      {"date-time", "1963-06-19T08:30:06.283185Z", "1990-02-31T15:59:59.123-08:00"},
      {"date-time", "1998-12-31T23:59:60Z", "1998-12-31T23:58:60Z"},
      {"date", "2020-02-29", "2021-02-29"},
      {"time", "08:30:06+01:00", "08:30:06"},
      {"duration", "P4DT12H30M5S", "PT"},
      {"duration", "P2W", "P1Y2W"},
      {"uri", "http://foo.bar/?baz=qux#quux", "//foo.bar/?baz=qux#quux"},
      {"uri", "urn:isbn:0451450523", "http://exa mple.com"},
      {"uri-reference", "../relative#frag", "\\\\\\\\WINDOWS\\\\fileshare"},
      {"hostname", "www.example.com", "-a-host-name-that-starts-with--"},
      {"ipv4", "192.168.0.1", "087.10.0.1"},
      {"ipv6", "::1", "12345::"},
      {"ipv6", "::ffff:192.168.0.1", "1::2::3"},
      {"regex", "([abc])+\\\\s+$", "^(abc]"},
      {"json-pointer", "/foo/bar~0/baz~1/%a", "/foo/bar~"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char schema[128], good[256], bad[256];
    snprintf(schema, sizeof schema, "{\"format\":\"%s\"}", cases[i].format);
    snprintf(good, sizeof good, "\"%s\"", cases[i].good);
    snprintf(bad, sizeof bad, "\"%s\"", cases[i].bad);
    cr_assert(valid(schema, good), "%s should accept %s", cases[i].format, good);
    cr_assert_not(valid(schema, bad), "%s should reject %s", cases[i].format, bad);
  }
  /* annotation-only mode, unknown formats, strict mode */
  api_schema *s = NULL;
  json_t *sj = doc("{\"format\":\"email\"}"), *bad = json_string("nope");
  cr_assert_eq(
      api_schema_compile(&s, sj, API_SCHEMA_OPTIONS(.flags = API_SCHEMA_FORMAT_ANNOTATION)), 0);
  cr_assert_eq(api_schema_validate(s, bad, NULL), 0);
  api_schema_free(s);
  cr_assert(valid("{\"format\":\"no-such-format\"}", "\"x\""));
  json_t *unk = doc("{\"format\":\"no-such-format\"}");
  cr_assert_eq(api_schema_compile(&s, unk, API_SCHEMA_OPTIONS(.flags = API_SCHEMA_FORMAT_STRICT)),
               API_EINVAL);
  json_decref(unk);
  json_decref(sj);
  json_decref(bad);
}

Test(schema, refs_and_pointers) {
  const char *schema =
      "{\"$defs\":{\"a~b\":{\"type\":\"integer\"},\"c%d\":{\"type\":\"string\"},"
      "\"node\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#/$defs/node\"},"
      "\"v\":{\"$ref\":\"#/$defs/a~0b\"}}}},"
      "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a~0b\"},\"y\":{\"$ref\":\"#/$defs/c%25d\"},"
      "\"n\":{\"$ref\":\"#/$defs/node\"}}}";
  cr_assert(valid(schema, "{\"x\":1,\"y\":\"s\",\"n\":{\"v\":1,\"next\":{\"v\":2}}}"));
  json_t *d = check(schema, "{\"x\":\"1\",\"y\":2,\"n\":{\"next\":{\"next\":{\"v\":\"z\"}}}}");
  cr_assert_eq(json_array_size(d), 3);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 2), "path")),
                   "/n/next/next/v");
  json_decref(d);
  /* the bundled meta-schema */
  cr_assert(valid("{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}",
                  "{\"type\":\"string\",\"minLength\":1}"));
  cr_assert_not(
      valid("{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}", "{\"minLength\":-1}"));
  /* $id and relative references */
  cr_assert_not(
      valid("{\"$id\":\"http://example.com/root.json\",\"$defs\":{\"A\":{\"$id\":\"a/b.json\","
            "\"type\":\"integer\"}},\"$ref\":\"a/b.json\"}",
            "\"x\""));
  cr_assert(
      valid("{\"$id\":\"http://example.com/root.json\",\"$defs\":{\"A\":{\"$anchor\":\"foo\","
            "\"type\":\"integer\"}},\"$ref\":\"#foo\"}",
            "3"));
}

Test(schema, unevaluated_through_applicators) {
  const char *schema =
      "{\"allOf\":[{\"properties\":{\"a\":true}}],\"if\":{\"required\":[\"b\"]},"
      "\"then\":{\"properties\":{\"b\":true}},\"dependentSchemas\":{\"c\":{"
      "\"properties\":{\"d\":true}}},\"unevaluatedProperties\":false}";
  cr_assert(valid(schema, "{\"a\":1,\"b\":2}"));
  cr_assert(valid(schema, "{\"c\":1,\"d\":2}") == false); /* c itself is not evaluated */
  cr_assert_not(valid(schema, "{\"a\":1,\"x\":2}"));
  cr_assert(
      valid("{\"prefixItems\":[true],\"contains\":{\"type\":\"string\"},"
            "\"unevaluatedItems\":false}",
            "[1,\"a\",\"b\"]"));
  cr_assert_not(valid("{\"prefixItems\":[true],\"unevaluatedItems\":false}", "[1,2]"));
  /* large objects use heap bit sets */
  json_t *o = json_object();
  for (int i = 0; i < 1000; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    json_object_set_new(o, k, json_integer(i));
  }
  api_schema *s = compile(
      "{\"patternProperties\":{\"^k[0-9]*$\":{\"type\":\"integer\"}},"
      "\"unevaluatedProperties\":false}");
  cr_assert_eq(api_schema_validate(s, o, NULL), 0);
  json_object_set_new(o, "zz", json_true());
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate(s, o, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 1);
  cr_assert_str_eq(res.errors[0].keyword, "unevaluatedProperties");
  api_schema_result_free(&res);
  api_schema_free(s);
  json_decref(o);
}

Test(schema, deep_nesting_is_bounded) {
  /* jansson's parser refuses deep documents by itself */
  char *deep = malloc(20001);
  memset(deep, '[', 10000);
  memset(deep + 10000, ']', 10000);
  deep[20000] = 0;
  json_error_t e;
  cr_assert_null(json_loads(deep, 0, &e));
  api_schema *any = compile("{\"items\":{\"$ref\":\"#\"}}");
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate_text(any, deep, strlen(deep), &res), API_EBADJSON);
  free(deep);
  /* a document built in memory is not limited by the parser: the validator bounds itself */
  json_t *root = json_array(), *cur = root;
  for (int i = 0; i < 10000; i++) {
    json_t *next = json_array();
    json_array_append_new(cur, next);
    cur = next;
  }
  cr_assert_eq(api_schema_validate(any, root, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 1);
  cr_assert_str_eq(res.errors[0].keyword, "$depth");
  cr_assert_eq(api_schema_validate(any, root, NULL), API_EVALIDATION);
  /* the largest allowed bound still fits the stack, also under sanitizers */
  api_schema *deepest = NULL;
  json_t *items_ref = doc("{\"items\":{\"$ref\":\"#\"}}");
  cr_assert_eq(api_schema_compile(&deepest, items_ref, API_SCHEMA_OPTIONS(.max_depth = 1000000)),
               0);
  cr_assert_eq(api_schema_validate(deepest, root, &res), API_EVALIDATION);
  cr_assert_str_eq(res.errors[0].keyword, "$depth");
  cr_assert_eq(json_integer_value(json_object_get(res.errors[0].params, "limit")), 4096);
  api_schema_free(deepest);
  json_decref(items_ref);
  api_schema *flat = compile("{\"type\":\"array\"}");
  cr_assert_eq(api_schema_validate(flat, root, NULL), 0);
  /* an infinite $ref loop ends with the same error, never a stack overflow */
  api_schema *loop = compile(
      "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
      "\"$ref\":\"#/$defs/a\"}");
  cr_assert_eq(api_schema_validate(loop, root, &res), API_EVALIDATION);
  cr_assert_str_eq(res.errors[0].keyword, "$depth");
  /* exponential branching is stopped by the step budget */
  api_schema *bomb = compile(
      "{\"$defs\":{\"a\":{\"anyOf\":[{\"items\":{\"$ref\":\"#/$defs/a\"},\"minItems\":2},"
      "{\"items\":{\"$ref\":\"#/$defs/a\"},\"minItems\":3}]}},\"$ref\":\"#/$defs/a\"}");
  json_t *d200 = json_array();
  cur = d200;
  for (int i = 0; i < 200; i++) {
    json_t *next = json_array();
    json_array_append_new(cur, next);
    json_array_append_new(cur, json_integer(1));
    cur = next;
  }
  cr_assert_eq(api_schema_validate(bomb, d200, &res), API_EVALIDATION);
  api_schema_result_free(&res);
  json_decref(d200);
  api_schema_free(bomb);
  api_schema_free(loop);
  api_schema_free(flat);
  api_schema_free(any);
  json_decref(root);
}

Test(schema, huge_numbers) {
  json_error_t e;
  cr_assert_null(json_loads("1e400", JSON_DECODE_ANY, &e)); /* jansson: real overflow */
  cr_assert_null(json_loads("123456789012345678901234567890", JSON_DECODE_ANY, &e));
  json_t *big =
      json_loads("123456789012345678901234567890", JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
  cr_assert_not_null(big);
  /* whole doubles compare exactly in binary: 2^97 is a multiple of 8, and not of 10 */
  cr_assert(
      valid("{\"type\":\"integer\",\"minimum\":1e29,\"multipleOf\":8}", "1.5845632502852868e29"));
  cr_assert_not(valid("{\"multipleOf\":10}", "1.5845632502852868e29"));
  api_schema *s = compile("{\"type\":\"integer\",\"maximum\":9223372036854775807}");
  cr_assert_eq(api_schema_validate(s, big, NULL), API_EVALIDATION);
  api_schema_free(s);
  json_decref(big);
  api_schema *b = compile("{}");
  cr_assert_eq(api_schema_validate_text(b, "1e400", 5, NULL), API_EBADJSON);
  api_schema_free(b);
}

Test(schema, invalid_utf8_strings) {
  /* jansson rejects it on parse; values made with json_stringn_nocheck can still carry it */
  json_error_t e;
  cr_assert_null(json_loads("\"\xff\xfe\"", JSON_DECODE_ANY, &e));
  json_t *bad = json_stringn_nocheck("a\xff\xfe", 3);
  api_schema *s = compile("{\"pattern\":\"a\",\"maxLength\":10,\"format\":\"email\"}");
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate(s, bad, &res), API_EVALIDATION);
  cr_assert_str_eq(res.errors[0].keyword, "pattern");
  cr_assert(strstr(res.errors[0].message, "UTF-8"));
  api_schema_result_free(&res);
  api_schema_free(s);
  json_t *o = json_object();
  json_object_setn_new_nocheck(o, "\xc3", 1, json_true());
  api_schema *p =
      compile("{\"patternProperties\":{\"x\":true},\"propertyNames\":{\"maxLength\":3}}");
  cr_assert_eq(api_schema_validate(p, o, NULL), API_EVALIDATION);
  api_schema_free(p);
  json_decref(o);
  json_decref(bad);
}

Test(schema, huge_enum_and_unique_items) {
  json_t *arr = json_array(), *sch = json_object(), *en = json_array();
  for (int i = 0; i < 200000; i++) {
    json_array_append_new(arr, json_integer(i));
    json_array_append_new(en, json_integer(i * 2));
  }
  json_object_set_new(sch, "uniqueItems", json_true());
  json_object_set_new(sch, "items", json_pack("{so}", "enum", en));
  api_schema *s = NULL;
  cr_assert_eq(api_schema_compile(&s, sch, NULL), 0);
  api_schema *u = compile("{\"uniqueItems\":true}");
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  cr_assert_eq(api_schema_validate(u, arr, NULL), 0);
  json_array_append_new(arr, json_real(199999.0)); /* equal to the integer 199999 */
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate(u, arr, &res), API_EVALIDATION);
  cr_assert_eq(json_integer_value(json_object_get(res.errors[0].params, "i")), 199999);
  cr_assert_eq(json_integer_value(json_object_get(res.errors[0].params, "j")), 200000);
  res.max_errors = 1000000;
  cr_assert_eq(api_schema_validate(s, arr, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 100000 + 1 /* odd numbers, the real 199999.0 */ + 1 /* duplicate */);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  cr_assert_lt(dt, 5.0, "took %.2fs", dt);
  api_schema_result_free(&res);
  api_schema_free(s);
  api_schema_free(u);
  json_decref(sch);
  json_decref(arr);
}

Test(schema, coercion) {
  api_schema *s = compile(
      "{\"type\":\"object\",\"required\":[\"id\",\"q\"],\"properties\":{"
      "\"id\":{\"type\":\"integer\"},\"q\":{\"type\":\"string\"},"
      "\"f\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
      "\"n\":{\"type\":[\"integer\",\"null\"]},"
      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
      "\"r\":{\"$ref\":\"#/$defs/int\"}},"
      "\"$defs\":{\"int\":{\"type\":\"integer\"}}}");
  const char *const *names;
  cr_assert_eq(api_schema_required(s, &names), 2);
  cr_assert_str_eq(names[1], "q");
  cr_assert_null(api_schema_property(s, "nope"));
  json_t *v;
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  const char *one[] = {"42"};
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "id"), "/id", one, 1, &v, &res), 0);
  cr_assert(json_is_integer(v) && json_integer_value(v) == 42);
  json_decref(v);
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "q"), "/q", one, 1, &v, &res), 0);
  cr_assert_str_eq(json_string_value(v), "42");
  json_decref(v);
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "r"), "/r", one, 1, &v, &res), 0);
  cr_assert(json_is_integer(v));
  json_decref(v);
  const char *num[] = {"1.5e3"};
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "f"), "/f", num, 1, &v, &res), 0);
  cr_assert(json_is_real(v) && json_real_value(v) == 1500.0);
  json_decref(v);
  static const char *const bad_ints[] = {"4.2", "+4", " 4", "0x10", "", "99999999999999999999",
                                         "1e3", "-",  "007"};
  for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++) {
    cr_assert_eq(api_schema_coerce(api_schema_property(s, "id"), "/id", &bad_ints[i], 1, &v, &res),
                 API_EVALIDATION, "%s", bad_ints[i]);
    cr_assert_null(v);
    cr_assert_str_eq(res.errors[0].keyword, "type");
    cr_assert_str_eq(res.errors[0].path, "/id");
  }
  static const char *const bad_nums[] = {"nan", "inf", "1e999", ".5", "1.", "0x1p3"};
  for (size_t i = 0; i < sizeof bad_nums / sizeof bad_nums[0]; i++)
    cr_assert_eq(api_schema_coerce(api_schema_property(s, "f"), "/f", &bad_nums[i], 1, &v, &res),
                 API_EVALIDATION, "%s", bad_nums[i]);
  const char *t[] = {"true"}, *yes[] = {"yes"}, *nul[] = {"null"};
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "b"), "/b", t, 1, &v, &res), 0);
  cr_assert(json_is_true(v));
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "b"), "/b", yes, 1, &v, &res),
               API_EVALIDATION);
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "n"), "/n", nul, 1, &v, &res), 0);
  cr_assert(json_is_null(v));
  const char *tags[] = {"1", "2", "x"};
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "tags"), "/tags", tags, 2, &v, &res), 0);
  cr_assert_eq(json_array_size(v), 2);
  json_decref(v);
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "tags"), "/tags", tags, 3, &v, &res),
               API_EVALIDATION);
  cr_assert_str_eq(res.errors[0].path, "/tags/2");
  /* repeated values for a scalar */
  cr_assert_eq(api_schema_coerce(api_schema_property(s, "id"), "/id", tags, 2, &v, &res),
               API_EVALIDATION);
  cr_assert_eq(api_schema_coerce(s, "", tags, 0, &v, NULL), 0);
  cr_assert_null(v);
  api_schema_result_free(&res);
  api_schema_free((api_schema *)api_schema_property(s, "id")); /* ignored: a borrowed view */
  api_schema_free(s);
}

Test(schema, defaults_inserted_on_request) {
  api_schema *s = compile(
      "{\"properties\":{\"page\":{\"type\":\"integer\",\"default\":1},"
      "\"opts\":{\"default\":{\"a\":[1]},\"properties\":{\"deep\":{\"default\":true}}},"
      "\"name\":{\"type\":\"string\"}},\"allOf\":[{\"properties\":{\"lim\":{\"default\":10}}}]}");
  json_t *i = doc("{\"name\":\"x\",\"page\":5}");
  cr_assert_eq(api_schema_apply_defaults(s, i), 0);
  json_t *want = doc("{\"name\":\"x\",\"page\":5,\"opts\":{\"a\":[1],\"deep\":true},\"lim\":10}");
  cr_assert(json_equal(i, want));
  json_decref(want);
  json_decref(i);
  api_schema_free(s);
}

Test(schema, builders) {
  json_t *o = api_schema_object(0);
  cr_assert_eq(api_schema_prop(o, "name", api_schema_string(1, 100, NULL, NULL), 1), 0);
  cr_assert_eq(api_schema_prop(o, "age", api_schema_integer(0, 150), 1), 0);
  cr_assert_eq(
      api_schema_prop(o, "email", api_schema_string(0, API_SCHEMA_NO_LIMIT, NULL, "email"), 0), 0);
  cr_assert_eq(
      api_schema_prop(o, "zip", api_schema_string(0, API_SCHEMA_NO_LIMIT, "^[0-9]{5}$", NULL), 0),
      0);
  cr_assert_eq(api_schema_prop(o, "w", api_schema_number(0.5, 2.5), 0), 0);
  cr_assert_eq(
      api_schema_prop(o, "tags", api_schema_array(api_schema_string(1, 8, NULL, NULL), 0, 3), 0),
      0);
  cr_assert_eq(api_schema_prop(NULL, "x", json_true(), 0), API_EINVAL);
  api_schema *s = NULL;
  cr_assert_eq(api_schema_compile(&s, o, NULL), 0);
  cr_assert_eq(api_schema_json(s), o);
  json_t *good = doc("{\"name\":\"a\",\"age\":3,\"zip\":\"12345\",\"w\":1,\"tags\":[\"x\"]}");
  json_t *bad =
      doc("{\"name\":\"\",\"age\":300,\"zip\":\"1\",\"w\":3,\"tags\":[\"x\",\"y\",\"z\",\"w\"],"
          "\"q\":1}");
  cr_assert_eq(api_schema_validate(s, good, NULL), 0);
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate(s, bad, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 6);
  api_schema_result_free(&res);
  api_schema_free(s);
  json_decref(o);
  json_decref(good);
  json_decref(bad);
}

Test(schema, validate_text_uses_the_arena) {
  api_schema *s = compile(
      "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\","
      "\"items\":{\"type\":\"string\",\"maxLength\":2}}}}");
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  for (int round = 0; round < 3; round++) {
    cr_assert_eq(api_schema_validate_text(s, "{\"a\":[\"x\",\"y\"]}", 15, &res), 0);
    cr_assert_eq(api_schema_validate_text(s, "{\"a\":[\"x\",\"long\"]}", 18, &res),
                 API_EVALIDATION);
    cr_assert_str_eq(res.errors[0].path, "/a/1");
  }
  /* a document bigger than the first arena chunk */
  size_t n = 200000;
  char *big = malloc(n * 6 + 16);
  size_t at = (size_t)sprintf(big, "{\"a\":[");
  for (size_t i = 0; i < n; i++) at += (size_t)sprintf(big + at, "%s\"ab\"", i ? "," : "");
  at += (size_t)sprintf(big + at, "]}");
  cr_assert_eq(api_schema_validate_text(s, big, at, &res), 0);
  cr_assert_eq(api_schema_validate_text(s, big, at - 1, &res), API_EBADJSON);
  cr_assert_eq(api_schema_validate_text(s, "{\"a\":1,\"a\":2}", 13, &res), API_EBADJSON);
  cr_assert_str_eq(api_last_error(),
                   "invalid JSON at line 1, column 8 (byte 7): duplicate object key");
  free(big);
  /* the parser's own scratch memory fails: out of memory, not bad JSON */
  api__alloc_fail_after(0);
  const char *esc = "{\"a\":[\"\\n\"]}";
  int rc = api_schema_validate_text(s, esc, strlen(esc), &res);
  api__alloc_fail_after(-1);
  cr_assert_eq(rc, API_ENOMEM, "%d: %s", rc, api_last_error());
  cr_assert_eq(api_schema_validate_text(s, esc, strlen(esc), &res), 0);
  /* heap values made outside the window are unaffected */
  json_t *outside = json_pack("{s[s]}", "a", "xyz");
  cr_assert_eq(api_schema_validate(s, outside, &res), API_EVALIDATION);
  json_decref(outside);
  api_schema_result_free(&res);
  api_schema_free(s);
}

static void *thread_main(void *arg) {
  api_schema *s = arg;
  long bad = 0;
  for (int i = 0; i < 2000; i++) {
    api_schema_result res = API_SCHEMA_RESULT_INIT;
    const char *good = "{\"zip\":\"12345\",\"n\":[1,2,3]}",
               *wrong = "{\"zip\":\"1234x\",\"n\":[1,1]}";
    if (api_schema_validate_text(s, good, strlen(good), &res) != 0) bad++;
    if (api_schema_validate_text(s, wrong, strlen(wrong), &res) != API_EVALIDATION ||
        res.count != 2)
      bad++;
    api_schema_result_free(&res);
  }
  return (void *)bad;
}

Test(schema, shared_between_threads) {
  api_schema *s = compile(
      "{\"properties\":{\"zip\":{\"pattern\":\"^[0-9]{5}$\"},"
      "\"n\":{\"uniqueItems\":true}}}");
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_main, s);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    cr_assert_eq((long)r, 0);
  }
  api_schema_free(s);
}

Test(schema, allocation_failure_never_crashes) {
  const char *text =
      "{\"$id\":\"http://e.com/r\",\"type\":\"object\",\"required\":[\"a\"],"
      "\"properties\":{\"a\":{\"pattern\":\"^x\"},\"b\":{\"$ref\":\"#/$defs/b\"}},"
      "\"$defs\":{\"b\":{\"enum\":[1,2,3],\"$anchor\":\"bb\"}},"
      "\"unevaluatedProperties\":false,"
      "\"allOf\":[{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}]}";
  json_t *root = doc(text);
  json_t *inst = doc("{\"a\":\"y\",\"b\":4,\"c\":1}");
  int compiled = 0;
  for (long n = 0; n < 4000 && compiled < 3; n++) {
    api_schema *s = NULL;
    api__alloc_fail_nth(n);
    int rc = api_schema_compile(&s, root, NULL);
    api__alloc_fail_nth(-1);
    if (rc) {
      cr_assert_eq(rc, API_ENOMEM, "n=%ld rc=%d %s", n, rc, api_last_error());
      cr_assert_null(s);
      continue;
    }
    compiled++;
    for (long m = 0; m < 20; m++) {
      api_schema_result res = API_SCHEMA_RESULT_INIT;
      api__alloc_fail_nth(m);
      int v = api_schema_validate(s, inst, &res);
      api__alloc_fail_nth(-1);
      cr_assert(v == API_EVALIDATION || v == API_ENOMEM, "m=%ld rc=%d", m, v);
      api_schema_result_free(&res);
    }
    api_schema_free(s);
  }
  cr_assert_gt(compiled, 0);
  json_decref(root);
  json_decref(inst);
}

/* The built-in parser behind api_schema_validate_text() agrees with jansson's strict mode. */
Test(schema, text_parser_agrees_with_jansson) {
  static const char *const inputs[] = {"\"a::\\",
                                       "\"abc",
                                       "[1,2",
                                       "{\"a\":1,}",
                                       "[01]",
                                       "[1.]",
                                       "[.5]",
                                       "[-]",
                                       "[1e]",
                                       "[1e+]",
                                       "\"\\ud800\"",
                                       "\"\\udc00x\"",
                                       "\"\\ud83d\\ude00\"",
                                       "\"\\u00e9\"",
                                       "\"\xc3\xa9\"",
                                       "\"\xc3\"",
                                       "\"\xed\xa0\x80\"",
                                       "\"\xf4\x90\x80\x80\"",
                                       "\"\xc0\x80\"",
                                       "\"a\tb\"",
                                       "\"\\x\"",
                                       "[true,false,null]",
                                       "tru",
                                       "nul",
                                       "[1] x",
                                       " 1 ",
                                       "",
                                       "   ",
                                       "{\"a\" 1}",
                                       "{1:2}",
                                       "9223372036854775807",
                                       "9223372036854775808",
                                       "-9223372036854775808",
                                       "-9223372036854775809",
                                       "1e308",
                                       "1e309",
                                       "-0",
                                       "0.1e-400",
                                       "[1,{\"\\u0000\":\"\\u0000\"}]",
                                       "123456789012345678901234567890.5",
                                       "3.141592653589793238462643383279"};
  api_schema *s = compile("true");
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    json_error_t e;
    json_t *j = json_loadb(inputs[i], strlen(inputs[i]),
                           JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    int rc = api_schema_validate_text(s, inputs[i], strlen(inputs[i]), NULL);
    cr_assert_eq(rc == 0, j != NULL, "%s: jansson %s, built-in %d", inputs[i],
                 j ? "accepts" : e.text, rc);
    json_decref(j);
  }
  /* values come out the same */
  api_schema *c = compile(
      "{\"const\":[1.5e-7,-0.0001,12345678901234567,\"\\u00e9\\ud83d\\ude00\","
      "{\"k\":[null,true]},3.141592653589793]}");
  const char *same =
      "[1.5e-7,-1e-4,12345678901234567,\"\xc3\xa9\xf0\x9f\x98\x80\",{\"k\":[null,"
      "true]},3.141592653589793]";
  cr_assert_eq(api_schema_validate_text(c, same, strlen(same), NULL), 0);
  api_schema_free(c);
  api_schema_free(s);
}

Test(schema, details_with_invalid_utf8_keys) {
  json_t *o = json_object();
  json_object_setn_new_nocheck(o, "\xff", 1, json_true());
  api_schema *s = compile("{\"additionalProperties\":false}");
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  cr_assert_eq(api_schema_validate(s, o, &res), API_EVALIDATION);
  json_t *d = api_schema_result_details(&res);
  cr_assert_not_null(d);
  cr_assert_eq(json_array_size(d), 1);
  char *text = json_dumps(d, 0);
  cr_assert_not_null(text);
  free(text);
  json_decref(d);
  api_schema_result_free(&res);
  api_schema_free(s);
  json_decref(o);
}

Test(schema, dynamic_params) {
  json_t *d = check(
      "{\"dependentRequired\":{\"a\":[\"b\"]},\"uniqueItems\":true,"
      "\"propertyNames\":{\"maxLength\":2},\"oneOf\":[true,true]}",
      "{\"a\":1,\"abc\":2}");
  char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
  cr_assert_str_eq(
      text,
      "[{\"keyword\":\"dependentRequired\",\"message\":\"must have property 'b' when property "
      "'a' is present\",\"params\":{\"missingProperty\":\"b\",\"property\":\"a\"},\"path\":"
      "\"\"},{\"keyword\":\"propertyNames\",\"message\":\"property name 'abc' is invalid\","
      "\"params\":{\"propertyName\":\"abc\"},\"path\":\"\"},{\"keyword\":\"oneOf\",\"message\":"
      "\"must match exactly one schema in oneOf\",\"params\":{\"passingSchemas\":[0,1]},"
      "\"path\":\"\"}]");
  free(text);
  json_decref(d);
  d = check("{\"uniqueItems\":true}", "[1,[2],{\"a\":1},[2.0]]");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "message")),
                   "must NOT have duplicate items (items ## 1 and 3 are identical)");
  json_decref(d);
}

/* A reused result recycles per-instance params, but never ones the caller still holds. */
Test(schema, reused_result_keeps_held_params) {
  api_schema *s = compile(
      "{\"additionalProperties\":false,\"uniqueItems\":true,"
      "\"items\":{\"uniqueItems\":true}}");
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  json_t *a = doc("{\"x\":1}"), *b = doc("{\"yy\":1}"), *u1 = doc("[[1,1],[2,3,2]]");
  cr_assert_eq(api_schema_validate(s, a, &res), API_EVALIDATION);
  json_t *held = json_incref(res.errors[0].params);
  cr_assert_eq(api_schema_validate(s, b, &res), API_EVALIDATION);
  cr_assert_str_eq(json_string_value(json_object_get(held, "additionalProperty")), "x");
  cr_assert_str_eq(json_string_value(json_object_get(res.errors[0].params, "additionalProperty")),
                   "yy");
  cr_assert_str_eq(res.errors[0].message, "must NOT have additional properties ('yy')");
  for (int round = 0; round < 3; round++) {
    cr_assert_eq(api_schema_validate(s, round == 1 ? b : a, &res), API_EVALIDATION);
    cr_assert_str_eq(json_string_value(json_object_get(res.errors[0].params, "additionalProperty")),
                     round == 1 ? "yy" : "x");
  }
  cr_assert_eq(api_schema_validate(s, u1, &res), API_EVALIDATION);
  cr_assert_eq(res.count, 2);
  cr_assert_eq(json_integer_value(json_object_get(res.errors[1].params, "j")), 2);
  cr_assert_eq(api_schema_validate(s, u1, &res), API_EVALIDATION);
  cr_assert_eq(json_integer_value(json_object_get(res.errors[0].params, "j")), 1);
  cr_assert_eq(json_integer_value(json_object_get(res.errors[1].params, "j")), 2);
  cr_assert_str_eq(res.errors[1].message,
                   "must NOT have duplicate items (items ## 0 and 2 are identical)");
  cr_assert_str_eq(res.errors[1].path, "/1");
  json_decref(held);
  api_schema_result_free(&res);
  json_decref(a);
  json_decref(b);
  json_decref(u1);
  api_schema_free(s);
}
