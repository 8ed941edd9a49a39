/*
 * Schema fuzzer. The first input byte picks the mode: even, the rest is a JSON document validated
 * (all errors, fast path, and through the arena text path) against each of a fixed set of
 * schemas, then coerced; odd, the rest is schema text compiled and, when it compiles, used to
 * validate a few fixed documents and itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const schemas[] = {
    "{\"type\":\"object\",\"required\":[\"name\",\"email\",\"age\"],\"additionalProperties\":false,"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
    "\"email\":{\"type\":\"string\",\"format\":\"email\"},\"age\":{\"type\":\"integer\","
    "\"minimum\":0,\"maximum\":150,\"multipleOf\":0.5},\"roles\":{\"type\":\"array\",\"items\":{"
    "\"enum\":[\"admin\",\"dev\",\"viewer\",1,{\"a\":[null]}]},\"uniqueItems\":true,\"maxItems\":3}"
    ","
    "\"address\":{\"type\":\"object\",\"required\":[\"zip\"],\"properties\":{\"zip\":{\"type\":"
    "\"string\",\"pattern\":\"^[0-9]{5}$\"}}}}}",
    "{\"$defs\":{\"node\":{\"$dynamicAnchor\":\"n\",\"type\":[\"object\",\"array\",\"string\","
    "\"number\"],\"items\":{\"$dynamicRef\":\"#n\"},\"additionalProperties\":{\"$ref\":\"#/$defs/"
    "node\"},\"propertyNames\":{\"pattern\":\"^[a-z]*$\",\"maxLength\":8}}},\"$ref\":\"#/$defs/"
    "node\","
    "\"unevaluatedProperties\":false,\"unevaluatedItems\":{\"type\":\"number\"},"
    "\"dependentSchemas\":{\"a\":{\"properties\":{\"b\":{\"const\":[1,2.0]}}}}}",
    "{\"anyOf\":[{\"format\":\"date-time\"},{\"format\":\"ipv6\"},{\"format\":\"uri\"},"
    "{\"format\":\"duration\"},{\"format\":\"hostname\"}],\"oneOf\":[{\"type\":\"string\"},"
    "{\"prefixItems\":[{\"type\":\"integer\"}],\"contains\":{\"maximum\":3},\"minContains\":1,"
    "\"maxContains\":2}],\"if\":{\"type\":\"string\"},\"then\":{\"not\":{\"pattern\":\"(a+)+$\"}},"
    "\"else\":{\"minItems\":1}}",
    "{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}",
};
#define NSCHEMAS (sizeof schemas / sizeof schemas[0])

static api_schema *compiled[NSCHEMAS];

static void init(void) {
  for (size_t i = 0; i < NSCHEMAS; i++)
    if (api_schema_parse(&compiled[i], schemas[i], strlen(schemas[i]), NULL)) abort();
}

/* A result reused across inputs, so that its recycled storage and params are exercised too. */
static api_schema_result reused = {.size = sizeof(api_schema_result), .max_errors = 20};

static void check(const api_schema *s, const json_t *doc) {
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  res.max_errors = 20;
  int full = api_schema_validate(s, doc, &res);
  int fast = api_schema_validate(s, doc, NULL);
  if ((full == 0) != (fast == 0)) abort();
  if (full == API_EVALIDATION && res.count == 0) abort();
  if (api_schema_validate(s, doc, &reused) != full || reused.count != res.count) abort();
  for (size_t i = 0; i < res.count; i++)
    if (strcmp(res.errors[i].path, reused.errors[i].path) ||
        strcmp(res.errors[i].message, reused.errors[i].message) ||
        !json_equal(res.errors[i].params, reused.errors[i].params))
      abort();
  json_t *d = api_schema_result_details(&res);
  json_decref(d);
  api_schema_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    init();
    ready = 1;
  }
  if (size < 1) return 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  json_error_t jerr;
  if ((data[0] & 1) == 0) {
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    /* differential check of the built-in parser (validate_text) against jansson's */
    json_t *strict =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    int text_rc = api_schema_validate_text(compiled[3], text, len, NULL);
    /* (jansson stops reading at a NUL byte, where the built-in parser sees trailing garbage) */
    if (!memchr(text, 0, len) && (strict != NULL) != (text_rc != API_EBADJSON)) abort();
    json_decref(strict);
    for (size_t i = 0; i < NSCHEMAS; i++) {
      api_schema_result res = API_SCHEMA_RESULT_INIT;
      int rc = api_schema_validate_text(compiled[i], text, len, &res);
      api_schema_result_free(&res);
      if (!doc) continue;
      if (rc == API_EBADJSON) continue; /* e.g. duplicate keys are refused there */
      check(compiled[i], doc);
      if (rc != api_schema_validate(compiled[i], doc, NULL)) abort();
    }
    if (doc) {
      json_t *copy = json_deep_copy(doc);
      if (copy && api_schema_apply_defaults(compiled[0], copy) == 0) check(compiled[0], copy);
      json_decref(copy);
      json_decref(doc);
    }
    /* the raw text as a URL value */
    char *val = strndup(text, len);
    if (val) {
      const char *vals[2] = {val, val};
      json_t *out;
      const api_schema *p = api_schema_property(compiled[0], "age");
      if (api_schema_coerce(p, "/age", vals, 1, &out, NULL) == 0) json_decref(out);
      p = api_schema_property(compiled[0], "roles");
      if (api_schema_coerce(p, "/roles", vals, 2, &out, NULL) == 0) json_decref(out);
      free(val);
    }
    return 0;
  }
  api_schema *s = NULL;
  if (api_schema_parse(&s, text, len, API_SCHEMA_OPTIONS(.max_depth = 64)) == 0) {
    static const char *const docs[] = {"null", "[1,\"a\",{\"b\":[]}]", "{\"a\":1,\"b\":\"x\"}",
                                       "\"2020-01-01\"", "-1.5e3"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
      json_t *d = json_loads(docs[i], JSON_DECODE_ANY, &jerr);
      check(s, d);
      json_decref(d);
    }
    check(s, api_schema_json(s));
    api_schema_free(s);
  }
  return 0;
}
