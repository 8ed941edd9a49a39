/* Schemas on routes: coercion of params, query and headers, body validation, the 422 details,
 * bounds on hostile input, registration errors and response validation, through the in-process
 * client. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/client.h"

static api_app *app;
static api_test *t;
static api_schema *schemas[16];
static size_t nschemas;

static const api_schema *S(const char *text) {
  api_schema *s;
  cr_assert_eq(api_schema_parse(&s, text, strlen(text), NULL), 0, "%s", api_last_error());
  cr_assert_lt(nschemas, sizeof(schemas) / sizeof(schemas[0]));
  return schemas[nschemas++] = s;
}

static void teardown(void) {
  api_test_free(t);
  api_app_free(app);
  for (size_t i = 0; i < nschemas; i++) api_schema_free(schemas[i]);
  nschemas = 0;
  t = NULL;
  app = NULL;
}

/* What the pre_handler hook saw: validation ran before it. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int pre_saw_query;

static int pre(api_req *req, api_res *res, void *ud) {
  (void)res, (void)ud;
  pthread_mutex_lock(&seen_lock);
  pre_saw_query = api_req_query_json(req) != NULL;
  pthread_mutex_unlock(&seen_lock);
  return API_NEXT;
}

/* The 422 goes through on_error like every error. */
static int on_error_status;

static int on_error(api_req *req, api_res *res, void *ud) {
  (void)req, (void)ud;
  pthread_mutex_lock(&seen_lock);
  on_error_status = api_res_get_status(res);
  pthread_mutex_unlock(&seen_lock);
  return API_NEXT;
}

/* Echo what the handler sees, with the JSON types as they are. */
static int echo(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (api_req_header(req, "content-type")) api_req_json(req, &body);
  return api_res_json_new(
      res, 200,
      json_pack("{s:O?,s:O?,s:O?,s:O?}", "params", api_req_params_json(req), "query",
                api_req_query_json(req), "headers", api_req_headers_json(req), "body", body));
}

static int ud_json(api_req *req, api_res *res, void *ud) {
  (void)req;
  return api_res_body(res, "application/json", ud, strlen(ud));
}

static void start(void) { cr_assert_eq(api_test_new(&t, app), 0); }

static void setup(void) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  const api_schema *params =
      S("{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\","
        "\"minimum\":1}},\"required\":[\"id\"]}");
  const api_schema *query =
      S("{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\",\"maximum\":100,"
        "\"default\":10},\"active\":{\"type\":\"boolean\"},\"ratio\":{\"type\":\"number\","
        "\"maximum\":1e300},\"tag\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
        "\"maxLength\":3}}},\"additionalProperties\":false}");
  const api_schema *headers =
      S("{\"type\":\"object\",\"properties\":{\"X-Count\":{\"type\":"
        "\"integer\"}},\"required\":[\"X-Count\"]}");
  const api_schema *body =
      S("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1},"
        "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},\"role\":{\"default\":"
        "\"user\"}},\"required\":[\"name\"],\"additionalProperties\":false}");
  api_middleware mw = {.size = sizeof(mw), .pre_handler = pre};
  cr_assert_eq(api_app_use(app, API_MIDDLEWARE(.on_error = on_error)), 0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/items/:id", .handler = echo,
                                            .params_schema = params, .query_schema = query,
                                            .middleware = (const api_middleware *[]){&mw, NULL})),
               0);
  cr_assert_eq(api_app_route(
                   app, API_ROUTE(.method = "GET", .path = "/defaults", .handler = echo,
                                  .query_schema = query, .schema_flags = API_ROUTE_APPLY_DEFAULTS)),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/h", .handler = echo,
                                            .headers_schema = headers)),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "POST", .path = "/users/:id", .handler = echo,
                                            .params_schema = params, .query_schema = query,
                                            .body_schema = body)),
               0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "POST", .path = "/users", .handler = echo,
                                   .body_schema = body, .schema_flags = API_ROUTE_APPLY_DEFAULTS)),
      0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/plain", .handler = echo)),
               0);
  start();
}

static api_test_res *send(const char *method, const char *target, const char *json,
                          const char *const *headers) {
  api_test_res *r;
  cr_assert_eq(
      api_test_request(
          t, API_TEST_REQ(.method = method, .target = target, .json = json, .headers = headers),
          &r),
      0);
  return r;
}

/* The 422 body's details, checked for the standard shape. */
static json_t *details_of(api_test_res *r) {
  cr_assert_eq(api_test_res_status(r), 422, "status %d: %s", api_test_res_status(r),
               api_test_res_body(r, NULL));
  json_t *b = api_test_res_json(r);
  cr_assert(b);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "error"), "code")),
                   "VALIDATION_FAILED");
  cr_assert(json_is_string(json_object_get(b, "request_id")));
  json_t *d = json_object_get(json_object_get(b, "error"), "details");
  cr_assert(json_is_array(d));
  return d;
}

static void expect_detail(json_t *d, size_t i, const char *path, const char *keyword,
                          const char *message, const char *params) {
  json_t *e = json_array_get(d, i);
  cr_assert(e, "no detail %zu", i);
  cr_assert_eq(json_object_size(e), 4);
  cr_assert_str_eq(json_string_value(json_object_get(e, "path")), path);
  cr_assert_str_eq(json_string_value(json_object_get(e, "keyword")), keyword);
  cr_assert_str_eq(json_string_value(json_object_get(e, "message")), message);
  json_t *want = json_loads(params, 0, NULL);
  cr_assert(want);
  char *got = json_dumps(json_object_get(e, "params"), JSON_SORT_KEYS | JSON_COMPACT);
  cr_assert(json_equal(json_object_get(e, "params"), want), "params %s, want %s", got, params);
  free(got);
  json_decref(want);
}

TestSuite(route_schema, .init = setup, .fini = teardown);

Test(route_schema, valid_request_sees_coerced_values) {
  api_test_res *r = send("GET", "/items/42?limit=7&active=true&ratio=0.5&tag=a&tag=bc", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200, "%s", api_test_res_body(r, NULL));
  json_t *b = api_test_res_json(r);
  json_t *id = json_object_get(json_object_get(b, "params"), "id");
  cr_assert(json_is_integer(id));
  cr_assert_eq(json_integer_value(id), 42);
  json_t *q = json_object_get(b, "query");
  cr_assert(json_is_integer(json_object_get(q, "limit")));
  cr_assert_eq(json_integer_value(json_object_get(q, "limit")), 7);
  cr_assert(json_is_true(json_object_get(q, "active")));
  cr_assert(json_is_real(json_object_get(q, "ratio")));
  cr_assert_float_eq(json_real_value(json_object_get(q, "ratio")), 0.5, 1e-12);
  json_t *tags = json_object_get(q, "tag");
  cr_assert_eq(json_array_size(tags), 2);
  cr_assert_str_eq(json_string_value(json_array_get(tags, 1)), "bc");
  cr_assert(json_is_null(json_object_get(b, "headers")));
  cr_assert(!json_object_get(q, "limit_default"));
  pthread_mutex_lock(&seen_lock);
  cr_assert_eq(pre_saw_query, 1);
  pthread_mutex_unlock(&seen_lock);
  api_test_res_free(r);

  /* A single value for an array property is an array of one. */
  r = send("GET", "/items/1?tag=x", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *tag = json_object_get(json_object_get(api_test_res_json(r), "query"), "tag");
  cr_assert_eq(json_array_size(tag), 1);
  api_test_res_free(r);

  /* Without schemas the accessors are NULL. */
  r = send("GET", "/plain?limit=5", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert(json_is_null(json_object_get(api_test_res_json(r), "query")));
  api_test_res_free(r);
}

Test(route_schema, params_violations) {
  api_test_res *r = send("GET", "/items/abc", NULL, NULL);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 1);
  expect_detail(d, 0, "/params/id", "type", "must be integer", "{\"type\":\"integer\"}");
  api_test_res_free(r);
  pthread_mutex_lock(&seen_lock);
  cr_assert_eq(on_error_status, 422);
  pthread_mutex_unlock(&seen_lock);

  r = send("GET", "/items/0", NULL, NULL);
  d = details_of(r);
  cr_assert_eq(json_array_size(d), 1);
  expect_detail(d, 0, "/params/id", "minimum", "must be >= 1",
                "{\"comparison\":\">=\",\"limit\":1}");
  api_test_res_free(r);

  /* Handler never ran: no echo fields. */
  r = send("GET", "/items/1.5", NULL, NULL);
  d = details_of(r);
  cr_assert(!json_object_get(api_test_res_json(r), "params"));
  expect_detail(d, 0, "/params/id", "type", "must be integer", "{\"type\":\"integer\"}");
  api_test_res_free(r);
}

Test(route_schema, query_violations) {
  api_test_res *r = send("GET", "/items/1?limit=500&active=yes&tag=abcd&extra=1", NULL, NULL);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 4, "%s", api_test_res_body(r, NULL));
  /* Order: the validator's, which follows the schema's keywords; check each one is there. */
  int seen = 0;
  for (size_t i = 0; i < 4; i++) {
    const char *p = json_string_value(json_object_get(json_array_get(d, i), "path"));
    const char *k = json_string_value(json_object_get(json_array_get(d, i), "keyword"));
    if (!strcmp(p, "/query/limit")) {
      expect_detail(d, i, "/query/limit", "maximum", "must be <= 100",
                    "{\"comparison\":\"<=\",\"limit\":100}");
      seen |= 1;
    } else if (!strcmp(p, "/query/active")) {
      expect_detail(d, i, "/query/active", "type", "must be boolean", "{\"type\":\"boolean\"}");
      seen |= 2;
    } else if (!strcmp(p, "/query/tag/0")) {
      expect_detail(d, i, "/query/tag/0", "maxLength", "must NOT have more than 3 characters",
                    "{\"limit\":3}");
      seen |= 4;
    } else if (!strcmp(p, "/query") && !strcmp(k, "additionalProperties")) {
      expect_detail(d, i, "/query", "additionalProperties",
                    "must NOT have additional properties ('extra')",
                    "{\"additionalProperty\":\"extra\"}");
      seen |= 8;
    }
  }
  cr_assert_eq(seen, 15, "%s", api_test_res_body(r, NULL));
  api_test_res_free(r);

  /* A repeated key for a scalar: kept as strings, so a type error. */
  r = send("GET", "/items/1?limit=1&limit=2", NULL, NULL);
  d = details_of(r);
  cr_assert_eq(json_array_size(d), 1);
  expect_detail(d, 0, "/query/limit", "type", "must be integer", "{\"type\":\"integer\"}");
  api_test_res_free(r);
}

Test(route_schema, header_violations_and_coercion) {
  api_test_res *r = send("GET", "/h", NULL, NULL);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 1);
  expect_detail(d, 0, "/headers", "required", "must have required property 'X-Count'",
                "{\"missingProperty\":\"X-Count\"}");
  api_test_res_free(r);

  r = send("GET", "/h", NULL, (const char *const[]){"x-count: ten", NULL});
  d = details_of(r);
  expect_detail(d, 0, "/headers/X-Count", "type", "must be integer", "{\"type\":\"integer\"}");
  api_test_res_free(r);

  r = send("GET", "/h", NULL, (const char *const[]){"X-COUNT: -12", "X-Other: 5", NULL});
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *h = json_object_get(api_test_res_json(r), "headers");
  cr_assert_eq(json_object_size(h), 1);
  cr_assert_eq(json_integer_value(json_object_get(h, "X-Count")), -12);
  api_test_res_free(r);
}

Test(route_schema, body_violations_and_media_errors) {
  api_test_res *r = send("POST", "/users/5", "{\"age\":200,\"x\":true}", NULL);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 3, "%s", api_test_res_body(r, NULL));
  int seen = 0;
  for (size_t i = 0; i < 3; i++) {
    const char *k = json_string_value(json_object_get(json_array_get(d, i), "keyword"));
    if (!strcmp(k, "maximum")) {
      expect_detail(d, i, "/body/age", "maximum", "must be <= 150",
                    "{\"comparison\":\"<=\",\"limit\":150}");
      seen |= 1;
    } else if (!strcmp(k, "required")) {
      expect_detail(d, i, "/body", "required", "must have required property 'name'",
                    "{\"missingProperty\":\"name\"}");
      seen |= 2;
    } else if (!strcmp(k, "additionalProperties")) {
      expect_detail(d, i, "/body", "additionalProperties",
                    "must NOT have additional properties ('x')", "{\"additionalProperty\":\"x\"}");
      seen |= 4;
    }
  }
  cr_assert_eq(seen, 7);
  api_test_res_free(r);

  /* Every part at once, in the order params, query, body. */
  r = send("POST", "/users/0?limit=x", "{\"name\":\"\"}", NULL);
  d = details_of(r);
  cr_assert_eq(json_array_size(d), 3, "%s", api_test_res_body(r, NULL));
  expect_detail(d, 0, "/params/id", "minimum", "must be >= 1",
                "{\"comparison\":\">=\",\"limit\":1}");
  expect_detail(d, 1, "/query/limit", "type", "must be integer", "{\"type\":\"integer\"}");
  expect_detail(d, 2, "/body/name", "minLength", "must NOT have fewer than 1 characters",
                "{\"limit\":1}");
  api_test_res_free(r);

  /* Not JSON: 415; malformed: 400 with the parser's position. */
  api_test_res *r2;
  cr_assert_eq(api_test_request(
                   t, API_TEST_REQ(.method = "POST", .target = "/users/5", .body = "name=x"), &r2),
               0);
  cr_assert_eq(api_test_res_status(r2), 415);
  api_test_res_free(r2);
  r = send("POST", "/users/5", "{\"name\":", NULL);
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert(strstr(api_test_res_body(r, NULL), "malformed JSON"));
  api_test_res_free(r);

  r = send("POST", "/users/5", "{\"name\":\"ada\",\"age\":36}", NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *b = json_object_get(api_test_res_json(r), "body");
  cr_assert_eq(json_integer_value(json_object_get(b, "age")), 36);
  cr_assert(!json_object_get(b, "role")); /* no defaults without the flag */
  api_test_res_free(r);
}

Test(route_schema, defaults_applied_with_the_flag) {
  api_test_res *r = send("POST", "/users", "{\"name\":\"ada\"}", NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(
      json_string_value(json_object_get(json_object_get(api_test_res_json(r), "body"), "role")),
      "user");
  api_test_res_free(r);
  r = send("GET", "/defaults", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *q = json_object_get(api_test_res_json(r), "query");
  cr_assert_eq(json_integer_value(json_object_get(q, "limit")), 10);
  api_test_res_free(r);
  r = send("GET", "/defaults?limit=3", NULL, NULL);
  q = json_object_get(api_test_res_json(r), "query");
  cr_assert_eq(json_integer_value(json_object_get(q, "limit")), 3);
  api_test_res_free(r);
}

Test(route_schema, many_violations_are_bounded) {
  /* 5000 unknown properties: at most 100 details, and the message says so. */
  size_t cap = 5000 * 16 + 64, len = 0;
  char *doc = malloc(cap);
  len += (size_t)snprintf(doc + len, cap - len, "{\"name\":\"a\"");
  for (int i = 0; i < 5000; i++) len += (size_t)snprintf(doc + len, cap - len, ",\"k%d\":1", i);
  snprintf(doc + len, cap - len, "}");
  api_test_res *r = send("POST", "/users/1?extra=1", doc, NULL);
  free(doc);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 100);
  expect_detail(d, 0, "/query", "additionalProperties",
                "must NOT have additional properties ('extra')",
                "{\"additionalProperty\":\"extra\"}");
  expect_detail(d, 1, "/body", "additionalProperties", "must NOT have additional properties ('k0')",
                "{\"additionalProperty\":\"k0\"}");
  const char *msg =
      json_string_value(json_object_get(json_object_get(api_test_res_json(r), "error"), "message"));
  cr_assert(strstr(msg, "first 100"), "%s", msg);
  api_test_res_free(r);

  /* 800 repeated tags, each too long: bounded too. */
  char target[16384] = "/items/1?";
  for (int i = 0; i < 800; i++) strcat(target, "tag=abcd&");
  r = send("GET", target, NULL, NULL);
  d = details_of(r);
  cr_assert_eq(json_array_size(d), 100);
  expect_detail(d, 99, "/query/tag/99", "maxLength", "must NOT have more than 3 characters",
                "{\"limit\":3}");
  api_test_res_free(r);
}

Test(route_schema, a_thousand_unknown_query_keys) {
  char target[8192] = "/items/1?";
  for (int i = 0; i < 1000; i++) sprintf(target + strlen(target), "%d&", i);
  api_test_res *r = send("GET", target, NULL, NULL);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 100);
  expect_detail(d, 0, "/query", "additionalProperties", "must NOT have additional properties ('0')",
                "{\"additionalProperty\":\"0\"}");
  api_test_res_free(r);
}

Test(route_schema, deep_nesting_is_400_not_a_crash) {
  size_t depth = 10000;
  char *doc = malloc(2 * depth + 32);
  size_t n = 0;
  for (size_t i = 0; i < depth; i++) doc[n++] = '[';
  for (size_t i = 0; i < depth; i++) doc[n++] = ']';
  doc[n] = '\0';
  api_test_res *r = send("POST", "/users/1", doc, NULL);
  cr_assert_eq(api_test_res_status(r), 400, "%s", api_test_res_body(r, NULL));
  api_test_res_free(r);
  /* As the value of a property too. */
  n = (size_t)sprintf(doc, "{\"name\":\"a\",\"age\":");
  for (size_t i = 0; i < depth - 20; i++) doc[n++] = '[';
  doc[n] = '\0';
  r = send("POST", "/users/1", doc, NULL);
  cr_assert_eq(api_test_res_status(r), 400, "%s", api_test_res_body(r, NULL));
  api_test_res_free(r);
  free(doc);
  /* Shallow enough for the parser (200 levels), deep for the schema: a 422, not a crash. */
  char nested[1024];
  n = (size_t)sprintf(nested, "{\"name\":\"a\",\"age\":");
  for (int i = 0; i < 200; i++) nested[n++] = '[';
  for (int i = 0; i < 200; i++) nested[n++] = ']';
  strcpy(nested + n, "}");
  r = send("POST", "/users/1", nested, NULL);
  json_t *d = details_of(r);
  expect_detail(d, 0, "/body/age", "type", "must be integer", "{\"type\":\"integer\"}");
  api_test_res_free(r);
}

Test(route_schema, huge_numbers) {
  /* Beyond int64 in the query: not an integer. */
  api_test_res *r = send("GET", "/items/99999999999999999999999", NULL, NULL);
  json_t *d = details_of(r);
  expect_detail(d, 0, "/params/id", "type", "must be integer", "{\"type\":\"integer\"}");
  api_test_res_free(r);
  r = send("GET", "/items/9223372036854775807?limit=-9223372036854775808", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200, "%s", api_test_res_body(r, NULL));
  json_t *b = api_test_res_json(r);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(b, "params"), "id")), INT64_MAX);
  api_test_res_free(r);
  r = send("GET", "/items/1?ratio=1e301", NULL, NULL);
  d = details_of(r);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "keyword")), "maximum");
  api_test_res_free(r);
  r = send("GET", "/items/1?ratio=1e400", NULL, NULL); /* not finite: not a number */
  d = details_of(r);
  expect_detail(d, 0, "/query/ratio", "type", "must be number", "{\"type\":\"number\"}");
  api_test_res_free(r);
  /* In a body: the JSON parser refuses them (400). */
  r = send("POST", "/users/1", "{\"name\":\"a\",\"age\":123456789012345678901234567890}", NULL);
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
  r = send("POST", "/users/1", "{\"name\":\"a\",\"age\":1e400}", NULL);
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
}

Test(route_schema, strings_that_are_not_utf8_are_400) {
  api_test_res *r = send("GET", "/items/1?tag=%FF", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert(strstr(api_test_res_body(r, NULL), "UTF-8"));
  api_test_res_free(r);
  r = send("GET", "/items/%C0%AF", NULL, NULL); /* overlong '/' */
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
  r = send("GET", "/items/1?%ED%A0%80=1", NULL, NULL); /* a surrogate as a key */
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
  r = send("GET", "/h", NULL, (const char *const[]){"X-Count: \xc3\x28", NULL});
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert(strstr(api_test_res_body(r, NULL), "header: names and values must be valid UTF-8"),
            "%s", api_test_res_body(r, NULL));
  api_test_res_free(r);
  r = send("GET", "/items/1?tag=%C3%A9", NULL, NULL); /* "é" is fine */
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
}

/* A handler validating a part of the body itself answers in the same shape. */
static int own_check(api_req *req, api_res *res, void *ud) {
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  api_schema_result r = API_SCHEMA_RESULT_INIT;
  r.max_errors = 2;
  rc = api_schema_validate(ud, json_object_get(body, "item"), &r);
  if (rc == API_EVALIDATION)
    rc = api_res_validation_error(res, &r, "/body/item");
  else if (rc == 0)
    rc = api_res_text(res, 200, "ok");
  api_schema_result_free(&r);
  return rc;
}

Test(route_schema, handler_answers_422_in_the_same_shape) {
  api_test_free(t);
  t = NULL;
  api_app_free(app);
  cr_assert_eq(api_app_new(&app, NULL), 0);
  const api_schema *item =
      S("{\"type\":\"object\",\"required\":[\"a\",\"b\",\"c\"],\"properties\":{\"a\":{\"type\":"
        "\"integer\"}}}");
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "POST", .path = "/own", .handler = own_check,
                                            .user_data = (void *)item)),
               0);
  start();
  api_test_res *r = send("POST", "/own", "{\"item\":{\"a\":\"x\"}}", NULL);
  json_t *d = details_of(r);
  cr_assert_eq(json_array_size(d), 2); /* bounded by the handler's max_errors */
  /* Which two of the three violations come first is the validator's business; each is under
   * /body/item, and the type error, when present, is exact. */
  for (size_t i = 0; i < 2; i++) {
    const char *p = json_string_value(json_object_get(json_array_get(d, i), "path"));
    cr_assert(!strncmp(p, "/body/item", 10), "%s", p);
    if (!strcmp(p, "/body/item/a"))
      expect_detail(d, i, "/body/item/a", "type", "must be integer", "{\"type\":\"integer\"}");
    else
      cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, i), "keyword")),
                       "required");
  }
  const char *msg =
      json_string_value(json_object_get(json_object_get(api_test_res_json(r), "error"), "message"));
  cr_assert(strstr(msg, "more violations"), "%s", msg);
  api_test_res_free(r);
  r = send("POST", "/own", "{\"item\":{\"a\":1,\"b\":2,\"c\":3}}", NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  cr_assert_eq(api_res_validation_error(NULL, NULL, NULL), API_EINVAL);
}

/* ---- registration ---- */

static int noop(api_req *req, api_res *res, void *ud) {
  (void)req, (void)ud;
  return api_res_text(res, 200, "ok");
}

Test(route_schema_reg, invalid_schemas_fail_naming_route_and_pointer) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  api_schema *str, *req, *ok;
  const char *st = "{\"type\":[\"string\",\"null\"]}", *ob = "{\"type\":[\"object\"]}";
  cr_assert_eq(api_schema_parse(&str, st, strlen(st), NULL), 0);
  const char *rq = "{\"properties\":{\"id\":{}},\"required\":[\"id\",\"nope\"]}";
  cr_assert_eq(api_schema_parse(&req, rq, strlen(rq), NULL), 0);
  cr_assert_eq(api_schema_parse(&ok, ob, strlen(ob), NULL), 0);

  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/q", .handler = noop,
                                          .query_schema = str)),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "GET /q"), "%s", api_last_error());
  cr_assert(strstr(api_last_error(), "query_schema /type"), "%s", api_last_error());
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/h", .handler = noop,
                                          .headers_schema = str)),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "headers_schema /type"), "%s", api_last_error());
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "PUT", .path = "/u/:id", .handler = noop,
                                          .params_schema = req)),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "PUT /u/:id"), "%s", api_last_error());
  cr_assert(strstr(api_last_error(), "params_schema /required/1"), "%s", api_last_error());
  cr_assert(strstr(api_last_error(), "nope"), "%s", api_last_error());
  /* Good ones: a type list with "object"; a wildcard parameter counts. */
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/ok", .handler = noop,
                                          .query_schema = ok, .headers_schema = ok)),
               0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/f/:id/*nope", .handler = noop,
                                          .params_schema = req)),
               0);
  /* The app remembers the first error and will not start. */
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), API_ESTATE);
  api_app_free(a);
  api_schema_free(str);
  api_schema_free(req);
  api_schema_free(ok);
}

/* ---- response validation ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void sink(api_log_level level, const char *line, size_t len, void *ud) {
  (void)level, (void)ud;
  pthread_mutex_lock(&log_lock);
  size_t have = strlen(log_text);
  if (have + len + 1 < sizeof(log_text)) {
    memcpy(log_text + have, line, len);
    log_text[have + len] = '\0';
  }
  pthread_mutex_unlock(&log_lock);
}

static void no_work(void *ud) { (void)ud; }

static int after_bad(api_req *req, api_res *res, void *ud) {
  (void)req, (void)ud;
  return api_res_body(res, "application/json", "{\"id\":[]}", 9);
}

/* The response is built after offloaded work: validated on the way out all the same. */
static int offloaded(api_req *req, api_res *res, void *ud) {
  (void)res, (void)ud;
  return api_offload(req, no_work, after_bad, NULL);
}

static void response_app(int validate) {
  api_logger *log;
  log_text[0] = '\0';
  cr_assert_eq(api_logger_new(&log, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = sink,
                                                   .sync = true, .ignore_env = true)),
               0);
  cr_assert_eq(api_app_new(&app, API_CONFIG(.validate_responses = validate)), 0);
  cr_assert_eq(api_app_set_logger(app, log), 0);
  const api_schema *rs =
      S("{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},"
        "\"required\":[\"id\"]}");
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/good", .handler = ud_json,
                                            .user_data = "{\"id\":1}", .response_schema = rs)),
               0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "GET", .path = "/bad", .handler = ud_json,
                                   .user_data = "{\"id\":\"secret-x\"}", .response_schema = rs)),
      0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/async", .handler = offloaded,
                                            .response_schema = rs)),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/notjson", .handler = noop,
                                            .response_schema = rs)),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/nul", .handler = ud_json,
                                            .user_data = "{\"id\":1,\"s\":\"a\\u0000b\"}",
                                            .response_schema = rs)),
               0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "GET", .path = "/dup", .handler = ud_json,
                                   .user_data = "{\"id\":1,\"id\":2}", .response_schema = rs)),
      0);
  start();
}

Test(route_schema_resp, violations_become_500_and_are_logged, .fini = teardown) {
  response_app(1);
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/good", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  pthread_mutex_lock(&log_lock);
  cr_assert(!strstr(log_text, "response_schema"), "%s", log_text);
  pthread_mutex_unlock(&log_lock);

  cr_assert_eq(api_test_get(t, "/bad", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  cr_assert(!strstr(api_test_res_body(r, NULL), "secret"), "%s", api_test_res_body(r, NULL));
  cr_assert(!strstr(api_test_res_body(r, NULL), "/id"));
  api_test_res_free(r);
  pthread_mutex_lock(&log_lock);
  cr_assert(strstr(log_text, "response violates the route's response_schema"), "%s", log_text);
  cr_assert(strstr(log_text, "\"path\":\"/id\""), "%s", log_text);
  cr_assert(strstr(log_text, "\"keyword\":\"type\""), "%s", log_text);
  log_text[0] = '\0';
  pthread_mutex_unlock(&log_lock);

  cr_assert_eq(api_test_get(t, "/async", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  api_test_res_free(r);
  pthread_mutex_lock(&log_lock);
  cr_assert(strstr(log_text, "\"path\":\"/id\""), "%s", log_text);
  log_text[0] = '\0';
  pthread_mutex_unlock(&log_lock);

  cr_assert_eq(api_test_get(t, "/notjson", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  api_test_res_free(r);
  pthread_mutex_lock(&log_lock);
  cr_assert(strstr(log_text, "the response is not JSON"), "%s", log_text);
  log_text[0] = '\0';
  pthread_mutex_unlock(&log_lock);

  /* "\u0000" is valid JSON (jansson writes it for a NUL in a string); duplicate keys are not. */
  cr_assert_eq(api_test_get(t, "/nul", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  cr_assert_eq(api_test_get(t, "/dup", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  api_test_res_free(r);
  pthread_mutex_lock(&log_lock);
  cr_assert(strstr(log_text,
                   "the response body is not valid JSON: line 1, column 9: duplicate object key"),
            "%s", log_text);
  pthread_mutex_unlock(&log_lock);
}

Test(route_schema_resp, off_by_default, .fini = teardown) {
  response_app(0);
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/bad", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
}

Test(route_schema_resp, environment_turns_it_on, .fini = teardown) {
  setenv("API_VALIDATE_RESPONSES", "1", 1);
  response_app(0);
  unsetenv("API_VALIDATE_RESPONSES");
  cr_assert_eq(api_app_config(app)->validate_responses, 1);
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/bad", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  api_test_res_free(r);
}
