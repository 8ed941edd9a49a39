/* The OpenAPI document and the /docs page: an app with varied routes (parameters, query arrays,
 * headers, bodies with $defs, documented responses, groups, tags, hidden and deprecated routes,
 * JWT, API key and session auth) served over loopback; its structure asserted precisely; ETag and
 * 304; the doc routes' 404/405; registration errors; validation against the official OpenAPI 3.1
 * schema (LIBAPI_OPENAPI_SCHEMA, fetched by scripts/fetch-openapi-schema.sh); the page's CSP. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/client.h"
#include "util/alloc.h"

static api_app *app;
static api_server *srv;
static api_schema *schemas[16];
static size_t nschemas;
static api_jwt_keyset *keys;
static api_session_memstore *ms;

static const api_schema *S(const char *text) {
  api_schema *s;
  cr_assert_eq(api_schema_parse(&s, text, strlen(text), NULL), 0, "%s", api_last_error());
  cr_assert_lt(nschemas, sizeof(schemas) / sizeof(schemas[0]));
  return schemas[nschemas++] = s;
}

static void teardown(void) {
  tc_stop(srv, app);
  srv = NULL;
  app = NULL;
  for (size_t i = 0; i < nschemas; i++) api_schema_free(schemas[i]);
  nschemas = 0;
  api_jwt_keyset_free(keys);
  keys = NULL;
  api_session_memstore_free(ms);
  ms = NULL;
}

static int ok(api_req *req, api_res *res, void *ud) {
  (void)req, (void)ud;
  return api_res_text(res, 200, "ok");
}

/* The value at a JSON Pointer ("/paths/~1users/get"), or NULL. */
static json_t *at(json_t *v, const char *ptr) {
  char tok[256];
  while (v && *ptr == '/') {
    ptr++;
    size_t n = 0;
    for (; *ptr && *ptr != '/' && n < sizeof(tok) - 1; ptr++) {
      if (*ptr == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
        tok[n++] = ptr[1] == '0' ? '~' : '/';
        ptr++;
      } else {
        tok[n++] = *ptr;
      }
    }
    tok[n] = '\0';
    if (json_is_array(v)) {
      v = json_array_get(v, strtoul(tok, NULL, 10));
    } else {
      v = json_object_get(v, tok);
    }
  }
  return v;
}

/* Assert that the JSON at ptr equals the JSON text want. */
static void assert_json(json_t *doc, const char *ptr, const char *want) {
  json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
  cr_assert(w, "bad expected JSON %s", want);
  json_t *got = at(doc, ptr);
  char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
  cr_assert(json_equal(got, w), "%s: got %s, want %s", ptr, g ? g : "(nothing)", want);
  free(g);
  json_decref(w);
}

static const char *user_schema =
    "{\"title\":\"User\",\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
    "\"name\":{\"type\":\"string\"}},\"required\":[\"id\",\"name\"]}";
/* A body whose references only resolve inside itself. */
static const char *new_user_schema =
    "{\"type\":\"object\",\"$defs\":{\"name\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":64}},\"properties\":{\"name\":{\"$ref\":\"#/$defs/name\"},\"nick\":{\"$ref\":"
    "\"#/$defs/name\"}},\"required\":[\"name\"],\"additionalProperties\":false}";

/* The app the structure tests use; started on a loopback port. */
static void build(const api_openapi_options *opts, bool security_headers) {
  cr_assert_eq(api_app_new(&app, API_CONFIG(.port = API_PORT_ANY, .workers = 1)), 0);
  api_middleware sec, jwt, req_write, key, sess, signed_in;
  if (security_headers) {
    cr_assert_eq(api_mw_security_headers(app, NULL, &sec), 0);
    cr_assert_eq(api_app_use(app, &sec), 0);
  }
  static const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
  cr_assert_eq(api_jwt_keyset_from_secret(&keys, secret, sizeof(secret), "HS256", NULL), 0);
  cr_assert_eq(api_mw_jwt(app, API_JWT_AUTH_OPTIONS(.keys = keys), &jwt), 0, "%s",
               api_last_error());
  cr_assert_eq(
      api_mw_require(app, API_REQUIRE(.scopes = (const char *[]){"users:write", NULL}), &req_write),
      0);
  cr_assert_eq(api_mw_api_key(app, API_API_KEY_OPTIONS(.nrecords = 0), &key), 0, "%s",
               api_last_error());
  cr_assert_eq(api_mw_require(app, API_REQUIRE(.any = 0), &signed_in), 0);
  cr_assert_eq(api_session_memstore_new(&ms, 100, 0), 0);
  api_session_store st;
  api_session_memstore_store(ms, &st);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .insecure = 1), &sess), 0,
               "%s", api_last_error());

  const api_schema *user = S(user_schema);
  api_group *v1;
  cr_assert_eq(api_app_group(app, "/api/v1", &v1), 0);
  cr_assert_eq(api_group_use(v1, &jwt), 0);
  const char *const users[] = {"users", NULL};
  cr_assert_eq(
      api_group_route(
          v1,
          API_ROUTE(.method = "GET", .path = "/users/:id", .handler = ok, .summary = "Get a user",
                    .tags = users, .description = "Returns <b>one</b> user.",
                    .params_schema = S("{\"type\":\"object\",\"properties\":{\"id\":{\"type\":"
                                       "\"integer\",\"minimum\":1,\"description\":\"The "
                                       "user's id\"}}}"),
                    .response_schema = user)),
      0, "%s", api_last_error());
  cr_assert_eq(
      api_group_route(
          v1,
          API_ROUTE(.method = "GET", .path = "/users", .handler = ok, .tags = users,
                    .operation_id = "listUsers",
                    .description = "Pages of users.\n\n*Newest* first.",
                    .query_schema =
                        S("{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":"
                          "\"integer\",\"maximum\":100},\"tag\":{\"type\":\"array\","
                          "\"items\":{\"type\":\"string\"}}},\"required\":[\"limit\"]}"),
                    .headers_schema = S("{\"type\":\"object\",\"properties\":{\"X-Trace\":{"
                                        "\"type\":\"string\"}}}"),
                    .response_schema = S("{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/u\"},"
                                         "\"$defs\":{\"u\":{\"type\":\"object\"}}}"))),
      0, "%s", api_last_error());
  cr_assert_eq(
      api_group_route(v1, API_ROUTE(.method = "POST", .path = "/users", .handler = ok,
                                    .tags = users, .body_schema = S(new_user_schema),
                                    .middleware = (const api_middleware *[]){&req_write, NULL},
                                    .responses =
                                        (const api_response_doc[]){
                                            {201, "The new user", user}, {409, NULL, NULL}, {0}})),
      0, "%s", api_last_error());
  cr_assert_eq(api_group_route(v1, API_ROUTE(.method = "DELETE", .path = "/users/:id",
                                             .handler = ok, .tags = users, .deprecated = 1)),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/internal", .handler = ok,
                                            .hidden = 1)),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/files/*rest", .handler = ok,
                                            .middleware = (const api_middleware *[]){&key, NULL},
                                            .tags = (const char *[]){"files", NULL})),
               0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = "/me", .handler = ok,
                                            .middleware = (const api_middleware *[]){&sess, NULL})),
               0);
  cr_assert_eq(
      api_app_route(app,
                    API_ROUTE(.method = "GET", .path = "/me/settings", .handler = ok,
                              .middleware = (const api_middleware *[]){&sess, &signed_in, NULL})),
      0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "PURGE", .path = "/cache", .handler = ok)),
               0);
  cr_assert_eq(api_app_openapi(app, opts), 0, "%s", api_last_error());
  cr_assert(srv = tc_start(app));
}

#define DEFAULT_OPTS                                            \
  API_OPENAPI_OPTIONS(.title = "Users API", .version = "1.2.3", \
                      .description = "Everything about users.", \
                      .servers = (const char *[]){"https://api.example.com", NULL})

/* GET target on the running server. */
static void get(const char *target, const char *extra, tc_response *r) {
  char raw[1024];
  snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", target,
           extra ? extra : "");
  cr_assert_eq(tc_exchange(api_server_port(srv), raw, r), 0);
}

static json_t *fetch_doc(void) {
  tc_response r;
  get("/openapi.json", NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(tc_header(&r, "content-type"), "application/json");
  json_error_t e;
  json_t *doc = json_loadb(r.body, r.body_len, 0, &e);
  cr_assert(doc, "not JSON: %s", e.text);
  /* What is served is what api_app_openapi_json() gives. */
  char *text;
  cr_assert_eq(api_app_openapi_json(app, &text), 0);
  cr_assert_eq(strlen(text), r.body_len);
  cr_assert_eq(memcmp(text, r.body, r.body_len), 0);
  free(text);
  tc_response_free(&r);
  return doc;
}

Test(openapi, document_structure, .fini = teardown) {
  build(DEFAULT_OPTS, false);
  json_t *d = fetch_doc();
  assert_json(d, "/openapi", "\"3.1.0\"");
  assert_json(d, "/info",
              "{\"title\":\"Users API\",\"version\":\"1.2.3\",\"description\":\"Everything about "
              "users.\"}");
  assert_json(d, "/servers", "[{\"url\":\"https://api.example.com\"}]");
  assert_json(d, "/tags", "[{\"name\":\"users\"},{\"name\":\"files\"}]");

  /* Exactly the visible routes with OpenAPI methods: not hidden ones, not the doc routes, not
   * PURGE; registration order. */
  json_t *paths = at(d, "/paths");
  cr_assert_eq(json_object_size(paths), 5);
  const char *want[] = {"/api/v1/users/{id}", "/api/v1/users", "/files/{rest}", "/me",
                        "/me/settings"};
  size_t i = 0;
  const char *k;
  json_t *v;
  json_object_foreach(paths, k, v) cr_assert_str_eq(k, want[i++]);
  cr_assert_eq(json_object_size(at(d, "/paths/~1api~1v1~1users~1{id}")), 2); /* get, delete */
  cr_assert_eq(json_object_size(at(d, "/paths/~1api~1v1~1users")), 2);       /* get, post */

  /* GET /api/v1/users/:id */
  json_t *g = at(d, "/paths/~1api~1v1~1users~1{id}/get");
  assert_json(g, "/operationId", "\"getApiV1UsersById\"");
  assert_json(g, "/summary", "\"Get a user\"");
  assert_json(g, "/tags", "[\"users\"]");
  assert_json(g, "/parameters",
              "[{\"name\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":"
              "\"integer\",\"minimum\":1,\"description\":\"The user's id\"},\"description\":\"The "
              "user's id\"}]");
  assert_json(g, "/responses/200",
              "{\"description\":\"OK\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
              "\"#/components/schemas/User\"}}}}");
  assert_json(g, "/responses/400", "{\"$ref\":\"#/components/responses/BadRequest\"}");
  assert_json(g, "/responses/422", "{\"$ref\":\"#/components/responses/ValidationFailed\"}");
  assert_json(g, "/responses/401", "{\"$ref\":\"#/components/responses/Unauthorized\"}");
  assert_json(g, "/responses/403", "{\"$ref\":\"#/components/responses/Forbidden\"}");
  assert_json(g, "/responses/default", "{\"$ref\":\"#/components/responses/Error\"}");
  cr_assert_null(at(g, "/responses/413"), "no body, no 413");
  assert_json(g, "/security", "[{\"bearerAuth\":[]}]");
  cr_assert_null(at(g, "/deprecated"));

  /* GET /api/v1/users: query (required, array with form/explode) and header parameters */
  g = at(d, "/paths/~1api~1v1~1users/get");
  assert_json(g, "/operationId", "\"listUsers\"");
  assert_json(g, "/description", "\"Pages of users.\\n\\n*Newest* first.\"");
  assert_json(g, "/parameters",
              "[{\"name\":\"limit\",\"in\":\"query\",\"required\":true,\"schema\":{\"type\":"
              "\"integer\",\"maximum\":100}},{\"name\":\"tag\",\"in\":\"query\",\"required\":"
              "false,\"schema\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"style\":"
              "\"form\",\"explode\":true},{\"name\":\"X-Trace\",\"in\":\"header\",\"required\":"
              "false,\"schema\":{\"type\":\"string\"}}]");
  assert_json(g, "/responses/200/content/application~1json/schema",
              "{\"$ref\":\"#/components/schemas/listUsersResponse\"}");
  /* Its own "#/$defs" reference keeps resolving: the component became a resource. */
  assert_json(d, "/components/schemas/listUsersResponse",
              "{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/u\"},\"$defs\":{\"u\":{\"type\":"
              "\"object\"}},\"$id\":\"urn:libapi:schema:listUsersResponse\"}");

  /* POST /api/v1/users: body, documented 201 replacing 200, 409, scopes from the guard */
  g = at(d, "/paths/~1api~1v1~1users/post");
  assert_json(g, "/operationId", "\"postApiV1Users\"");
  assert_json(g, "/requestBody",
              "{\"required\":true,\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/"
              "components/schemas/postApiV1UsersBody\"}}}}");
  cr_assert_null(at(g, "/responses/200"));
  assert_json(g, "/responses/201",
              "{\"description\":\"The new user\",\"content\":{\"application/json\":{\"schema\":{"
              "\"$ref\":\"#/components/schemas/User\"}}}}");
  assert_json(g, "/responses/409", "{\"description\":\"Conflict\"}");
  assert_json(g, "/responses/413", "{\"$ref\":\"#/components/responses/PayloadTooLarge\"}");
  assert_json(g, "/responses/415", "{\"$ref\":\"#/components/responses/UnsupportedMediaType\"}");
  assert_json(g, "/responses/422", "{\"$ref\":\"#/components/responses/ValidationFailed\"}");
  assert_json(g, "/security", "[{\"bearerAuth\":[\"users:write\"]}]");
  cr_assert_null(at(g, "/parameters"));

  /* DELETE: deprecated, path parameter without a schema is a string; no schema, no 422 */
  g = at(d, "/paths/~1api~1v1~1users~1{id}/delete");
  assert_json(g, "/deprecated", "true");
  assert_json(g, "/parameters",
              "[{\"name\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":"
              "\"string\"}}]");
  cr_assert_null(at(g, "/responses/422"));
  assert_json(g, "/responses/200", "{\"description\":\"OK\"}");

  /* The wildcard, API key and session routes */
  g = at(d, "/paths/~1files~1{rest}/get");
  assert_json(g, "/parameters/0/name", "\"rest\"");
  assert_json(g, "/parameters/0/required", "true");
  assert_json(g, "/security", "[{\"apiKeyAuth\":[]}]");
  assert_json(g, "/tags", "[\"files\"]");
  /* A session alone lets anonymous requests through: {} and no 401/403; with a guard it does
   * not. */
  assert_json(d, "/paths/~1me/get/security", "[{\"sessionCookie\":[]},{}]");
  assert_json(d, "/paths/~1me/get/responses",
              "{\"200\":{\"description\":\"OK\"},\"default\":{\"$ref\":\"#/components/"
              "responses/Error\"}}");
  assert_json(d, "/paths/~1me~1settings/get/security", "[{\"sessionCookie\":[]}]");
  assert_json(d, "/paths/~1me~1settings/get/responses",
              "{\"200\":{\"description\":\"OK\"},\"401\":{\"$ref\":\"#/components/responses/"
              "Unauthorized\"},\"403\":{\"$ref\":\"#/components/responses/Forbidden\"},"
              "\"default\":{\"$ref\":\"#/components/responses/Error\"}}");

  /* Components: schemes, the shared error body, the responses used, each schema once */
  assert_json(d, "/components/securitySchemes",
              "{\"bearerAuth\":{\"type\":\"http\",\"scheme\":\"bearer\",\"bearerFormat\":\"JWT\"},"
              "\"apiKeyAuth\":{\"type\":\"apiKey\",\"in\":\"header\",\"name\":\"X-API-Key\"},"
              "\"sessionCookie\":{\"type\":\"apiKey\",\"in\":\"cookie\",\"name\":\"sid\"}}");
  json_t *user = json_loads(user_schema, 0, NULL);
  cr_assert(json_equal(at(d, "/components/schemas/User"), user));
  json_decref(user);
  assert_json(d, "/components/schemas/Error/required", "[\"error\"]");
  assert_json(d, "/components/schemas/Error/properties/error/required", "[\"code\",\"message\"]");
  assert_json(d, "/components/schemas/Error/properties/request_id/type", "\"string\"");
  assert_json(d, "/components/schemas/ValidationError/allOf",
              "[{\"$ref\":\"#/components/schemas/Error\"}]");
  assert_json(d,
              "/components/schemas/ValidationError/properties/error/properties/details/items/"
              "required",
              "[\"path\",\"keyword\",\"message\",\"params\"]");
  assert_json(d, "/components/responses/ValidationFailed/content/application~1json/schema",
              "{\"$ref\":\"#/components/schemas/ValidationError\"}");
  assert_json(d, "/components/responses/Unauthorized/content/application~1json/schema",
              "{\"$ref\":\"#/components/schemas/Error\"}");
  cr_assert_eq(json_object_size(at(d, "/components/schemas")), 5,
               "Error, ValidationError, User, listUsersResponse, postApiV1UsersBody");
  json_decref(d);
}

/* A component carrying "#/$defs" references validates on its own: they resolve inside it. */
Test(openapi, embedded_refs_resolve, .fini = teardown) {
  build(NULL, false);
  json_t *d = fetch_doc();
  json_t *body = at(d, "/components/schemas/postApiV1UsersBody");
  assert_json(body, "/$id", "\"urn:libapi:schema:postApiV1UsersBody\"");
  api_schema *s;
  cr_assert_eq(api_schema_compile(&s, body, NULL), 0, "%s", api_last_error());
  const char *good = "{\"name\":\"ann\",\"nick\":\"a\"}", *bad = "{\"name\":\"\",\"nick\":7}";
  api_schema_result res = {.size = sizeof(res)};
  cr_assert_eq(api_schema_validate_text(s, good, strlen(good), &res), 0);
  cr_assert_eq(api_schema_validate_text(s, bad, strlen(bad), &res), API_EVALIDATION);
  cr_assert_eq(res.count, 2);
  api_schema_result_free(&res);
  api_schema_free(s);
  assert_json(d, "/info", "{\"title\":\"API\",\"version\":\"0.0.0\"}");
  cr_assert_null(at(d, "/servers"));
  json_decref(d);
}

Test(openapi, etag_and_304, .fini = teardown) {
  build(NULL, false);
  tc_response r;
  get("/openapi.json", NULL, &r);
  cr_assert_eq(r.status, 200);
  char etag[128];
  cr_assert(tc_header(&r, "etag"));
  snprintf(etag, sizeof(etag), "%s", tc_header(&r, "etag"));
  cr_assert_eq(strlen(etag), 34, "a quoted 128-bit hex tag: %s", etag);
  cr_assert_str_eq(tc_header(&r, "cache-control"), "no-cache");
  tc_response_free(&r);
  char hdr[200];
  snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
  get("/openapi.json", hdr, &r);
  cr_assert_eq(r.status, 304);
  cr_assert_eq(r.body_len, 0);
  cr_assert_str_eq(tc_header(&r, "etag"), etag);
  tc_response_free(&r);
  get("/openapi.json", "If-None-Match: \"other\"\r\n", &r);
  cr_assert_eq(r.status, 200);
  cr_assert_gt(r.body_len, 100);
  tc_response_free(&r);
  /* HEAD: the headers without the body */
  tc_conn *c = tc_connect(api_server_port(srv));
  cr_assert(c);
  cr_assert_eq(tc_send_str(c, "HEAD /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(c, &r, true), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(tc_header(&r, "etag"), etag);
  tc_response_free(&r);
  tc_close(c);
}

Test(openapi, doc_routes_404_405, .fini = teardown) {
  build(API_OPENAPI_OPTIONS(.path = "/spec.json", .docs_path = ""), false);
  tc_response r;
  cr_assert_eq(tc_exchange(api_server_port(srv),
                           "POST /spec.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r),
               0);
  cr_assert_eq(r.status, 405);
  cr_assert_str_eq(tc_header(&r, "allow"), "GET, HEAD, OPTIONS");
  cr_assert(strstr(r.body, "\"METHOD_NOT_ALLOWED\""));
  tc_response_free(&r);
  get("/openapi.json", NULL, &r); /* moved to /spec.json */
  cr_assert_eq(r.status, 404);
  cr_assert(strstr(r.body, "\"NOT_FOUND\""));
  tc_response_free(&r);
  get("/docs", NULL, &r); /* "" turns the page off */
  cr_assert_eq(r.status, 404);
  tc_response_free(&r);
  get("/spec.json/x", NULL, &r);
  cr_assert_eq(r.status, 404);
  tc_response_free(&r);
  get("/spec.json", NULL, &r);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
}

Test(openapi, bad_options_and_state) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, API_CONFIG(.port = API_PORT_ANY, .workers = 1)), 0);
  cr_assert_eq(api_app_openapi(NULL, NULL), API_EINVAL);
  cr_assert_eq(api_app_openapi(a, &(api_openapi_options){0}), API_EINVAL);
  cr_assert_eq(api_app_openapi(a, API_OPENAPI_OPTIONS(.path = "openapi.json")), API_EINVAL);
  cr_assert_eq(api_app_openapi(a, API_OPENAPI_OPTIONS(.path = "/spec/:v")), API_EINVAL);
  cr_assert_eq(api_app_openapi(a, API_OPENAPI_OPTIONS(.docs_path = "/x/*rest")), API_EINVAL);
  cr_assert_eq(api_app_openapi(a, API_OPENAPI_OPTIONS(.path = "/d", .docs_path = "/d")),
               API_EINVAL);
  cr_assert_eq(api_app_openapi(a, API_OPENAPI_OPTIONS(.title = "")), API_EINVAL);
  cr_assert_eq(api_app_openapi(a, API_OPENAPI_OPTIONS(.servers = (const char *[]){"", NULL})),
               API_EINVAL);
  /* A path a route already has: API_EEXIST, and the app refuses to start. */
  cr_assert_eq(api_app_get(a, "/docs", ok, NULL), 0);
  cr_assert_eq(api_app_openapi(a, NULL), API_EEXIST);
  cr_assert(strstr(api_last_error(), "/docs"), "%s", api_last_error());
  cr_assert_eq(api_app_openapi(a, NULL), API_EINVAL, "a second call");
  api_server *s;
  cr_assert_eq(api_server_start(&s, a), API_ESTATE);
  api_app_free(a);

  cr_assert_eq(api_app_new(&a, API_CONFIG(.port = API_PORT_ANY, .workers = 1)), 0);
  cr_assert_eq(api_app_openapi(a, NULL), 0);
  cr_assert(s = tc_start(a));
  cr_assert_eq(api_app_openapi(a, NULL), API_ESTATE);
  cr_assert_eq(api_app_security_scheme(a, "x", "{\"type\":\"http\",\"scheme\":\"basic\"}"),
               API_ESTATE);
  tc_stop(s, a);
}

Test(openapi, route_doc_errors) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, API_CONFIG(.port = API_PORT_ANY, .workers = 1)), 0);
  cr_assert_eq(
      api_app_route(a, API_ROUTE(.method = "GET", .path = "/a", .handler = ok,
                                 .responses = (const api_response_doc[]){{99, NULL, NULL}, {0}})),
      API_EINVAL);
  cr_assert(strstr(api_last_error(), "GET /a: responses[0]"), "%s", api_last_error());
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/b", .handler = ok,
                                          .tags = (const char *[]){"t", "", NULL})),
               API_EINVAL);
  cr_assert_eq(
      api_app_route(a, API_ROUTE(.method = "GET", .path = "/c", .handler = ok, .operation_id = "")),
      API_EINVAL);
  api_app_free(a);

  /* Two routes with one operation_id: generation fails, and so does starting. */
  cr_assert_eq(api_app_new(&a, API_CONFIG(.port = API_PORT_ANY, .workers = 1)), 0);
  cr_assert_eq(api_app_route(
                   a, API_ROUTE(.method = "GET", .path = "/a", .handler = ok, .operation_id = "x")),
               0);
  cr_assert_eq(api_app_route(
                   a, API_ROUTE(.method = "GET", .path = "/b", .handler = ok, .operation_id = "x")),
               0);
  char *text = NULL;
  cr_assert_eq(api_app_openapi_json(a, &text), API_EINVAL);
  cr_assert_null(text);
  cr_assert(strstr(api_last_error(), "\"x\""), "%s", api_last_error());
  cr_assert_eq(api_app_openapi(a, NULL), 0);
  api_server *s;
  cr_assert_eq(api_server_start(&s, a), API_EINVAL);
  api_app_free(a);

  /* One path, two parameter names (the router allows it across methods; OpenAPI does not). */
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_get(a, "/users/:id/files/:f", ok, NULL), 0);
  cr_assert_eq(api_app_get(a, "/users/:id", ok, NULL), 0);
  cr_assert_eq(api_app_delete(a, "/users/:id/files/:f", ok, NULL), 0);
  cr_assert_eq(api_app_openapi_json(a, &text), 0, "the same names twice are one path");
  free(text);
  text = NULL;
  cr_assert_eq(api_app_delete(a, "/users/:name", ok, NULL), 0);
  cr_assert_eq(api_app_openapi_json(a, &text), API_EINVAL);
  cr_assert_null(text);
  cr_assert(strstr(api_last_error(), "/users/{id} and /users/{name}"), "%s", api_last_error());
  api_app_free(a);
}

Test(openapi, names_and_schemes) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, API_CONFIG(.port = API_PORT_ANY, .workers = 1)), 0);
  /* Security schemes: checked, idempotent when equal, EEXIST when not */
  cr_assert_eq(api_app_security_scheme(a, "bad name", "{\"type\":\"http\"}"), API_EINVAL);
  cr_assert_eq(api_app_security_scheme(a, "b", "{\"type\":\"password\"}"), API_EINVAL);
  cr_assert_eq(api_app_security_scheme(a, "b", "[1]"), API_EINVAL);
  cr_assert_eq(api_app_security_scheme(a, "b", "{\"type\":"), API_EINVAL);
  cr_assert_str_eq(api_last_error(),
                   "api_app_security_scheme: b: invalid JSON at column 9: unexpected end of input");
  cr_assert_eq(api_app_security_scheme(a, "b", "{\"type\":\"http\",\"type\":\"apiKey\"}"),
               API_EINVAL);
  const char *basic = "{\"type\":\"http\",\"scheme\":\"basic\"}";
  cr_assert_eq(api_app_security_scheme(a, "basicAuth", basic), 0);
  cr_assert_eq(api_app_security_scheme(a, "basicAuth", basic), 0);
  cr_assert_eq(api_app_security_scheme(a, "basicAuth", "{\"type\":\"http\",\"scheme\":\"digest\"}"),
               API_EEXIST);
  /* Two API key middlewares with different headers: two schemes */
  api_middleware k1, k2, k3, custom;
  cr_assert_eq(api_mw_api_key(a, API_API_KEY_OPTIONS(.nrecords = 0), &k1), 0);
  cr_assert_eq(api_mw_api_key(a, API_API_KEY_OPTIONS(.header = "X-Other-Key"), &k2), 0);
  cr_assert_eq(api_mw_api_key(a, API_API_KEY_OPTIONS(.nrecords = 0), &k3), 0);
  cr_assert_str_eq(k1.security, "apiKeyAuth");
  cr_assert_str_eq(k2.security, "apiKeyAuth2");
  cr_assert_str_eq(k3.security, "apiKeyAuth");
  custom = *API_MIDDLEWARE(.pre_handler = ok, .security = "basicAuth");
  cr_assert(!k1.security_optional);
  api_middleware opt;
  cr_assert_eq(api_mw_api_key(a, API_API_KEY_OPTIONS(.optional = 1), &opt), 0);
  cr_assert(opt.security_optional);
  cr_assert_str_eq(opt.security, "apiKeyAuth");
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/opt", .handler = ok,
                                          .middleware = (const api_middleware *[]){&opt, NULL})),
               0);
  /* A key also accepted in the query, a token also read from a cookie: a second scheme each,
   * listed as an alternative */
  api_middleware kq, jc;
  cr_assert_eq(api_mw_api_key(a, API_API_KEY_OPTIONS(.query_param = "api_key"), &kq), 0);
  cr_assert_str_eq(kq.security, "apiKeyAuth");
  cr_assert_str_eq(kq.security_also, "apiKeyQuery");
  static const char secret[] = "0123456789abcdef0123456789abcdef";
  api_jwt_keyset *ks;
  cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, sizeof(secret) - 1, "HS256", NULL), 0);
  cr_assert_eq(api_mw_jwt(a, API_JWT_AUTH_OPTIONS(.keys = ks, .cookie = "at"), &jc), 0);
  cr_assert_str_eq(jc.security_also, "bearerCookie");
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/kq", .handler = ok,
                                          .middleware = (const api_middleware *[]){&kq, NULL})),
               0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/jc", .handler = ok,
                                          .middleware = (const api_middleware *[]){&jc, NULL})),
               0);
  /* Both schemes on one route are alternatives */
  cr_assert_eq(
      api_app_route(a, API_ROUTE(.method = "GET", .path = "/a-b", .handler = ok,
                                 .middleware = (const api_middleware *[]){&k2, &custom, NULL})),
      0);
  /* Generated operation ids that collide get a suffix; titles name components, uniquely */
  const char *t1 = "{\"title\":\"Thing\",\"type\":\"object\"}";
  const char *t2 = "{\"title\":\"Thing\",\"type\":\"array\"}";
  const char *t3 = "{\"title\":\"not a name\",\"type\":\"string\"}";
  api_schema *s1, *s2, *s3, *s1again;
  cr_assert_eq(api_schema_parse(&s1, t1, strlen(t1), NULL), 0);
  cr_assert_eq(api_schema_parse(&s2, t2, strlen(t2), NULL), 0);
  cr_assert_eq(api_schema_parse(&s3, t3, strlen(t3), NULL), 0);
  cr_assert_eq(api_schema_parse(&s1again, t1, strlen(t1), NULL), 0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/a_b", .handler = ok,
                                          .response_schema = s1)),
               0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "PUT", .path = "/a_b", .handler = ok,
                                          .body_schema = s2, .response_schema = s1again)),
               0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "POST", .path = "/a_b", .handler = ok,
                                          .body_schema = s3)),
               0);
  /* A query property whose reference only resolves in the whole query schema */
  const char *tq =
      "{\"type\":\"object\",\"properties\":{\"sort\":{\"$ref\":\"#/$defs/s\"},"
      "\"n\":{\"type\":\"integer\"}},\"$defs\":{\"s\":{\"enum\":[\"asc\",\"desc\"]}}}";
  api_schema *sq;
  cr_assert_eq(api_schema_parse(&sq, tq, strlen(tq), NULL), 0);
  cr_assert_eq(
      api_app_route(a, API_ROUTE(.method = "GET", .path = "/q", .handler = ok, .query_schema = sq)),
      0);
  /* A given id wins over a generated one, even from a later route */
  cr_assert_eq(api_app_get(a, "/users", ok, NULL), 0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "POST", .path = "/x", .handler = ok,
                                          .operation_id = "getUsers")),
               0);
  char *text;
  cr_assert_eq(api_app_openapi_json(a, &text), 0, "%s", api_last_error());
  json_t *d = json_loads(text, 0, NULL);
  assert_json(d, "/paths/~1users/get/operationId", "\"getUsers_2\"");
  assert_json(d, "/paths/~1x/post/operationId", "\"getUsers\"");
  assert_json(d, "/paths/~1q/get/parameters",
              "[{\"name\":\"sort\",\"in\":\"query\",\"required\":false,\"schema\":{\"$ref\":"
              "\"urn:libapi:schema:getQQuery#/properties/sort\"}},{\"name\":\"n\",\"in\":\"query\","
              "\"required\":false,\"schema\":{\"type\":\"integer\"}}]");
  assert_json(d, "/components/schemas/getQQuery/$id", "\"urn:libapi:schema:getQQuery\"");
  free(text);
  cr_assert(d);
  assert_json(d, "/paths/~1a-b/get/operationId", "\"getAB\"");
  assert_json(d, "/paths/~1a_b/get/operationId", "\"getAB_2\"");
  assert_json(d, "/paths/~1a-b/get/security", "[{\"apiKeyAuth2\":[]},{\"basicAuth\":[]}]");
  assert_json(d, "/paths/~1opt/get/security", "[{\"apiKeyAuth\":[]},{}]");
  assert_json(d, "/paths/~1kq/get/security", "[{\"apiKeyAuth\":[]},{\"apiKeyQuery\":[]}]");
  assert_json(d, "/components/securitySchemes/apiKeyQuery",
              "{\"type\":\"apiKey\",\"in\":\"query\",\"name\":\"api_key\"}");
  assert_json(d, "/paths/~1jc/get/security", "[{\"bearerAuth\":[]},{\"bearerCookie\":[]}]");
  assert_json(d, "/components/securitySchemes/bearerCookie",
              "{\"type\":\"apiKey\",\"in\":\"cookie\",\"name\":\"at\"}");
  cr_assert_null(at(d, "/paths/~1opt/get/responses/401"));
  assert_json(d, "/paths/~1a-b/get/responses/401/$ref", "\"#/components/responses/Unauthorized\"");
  assert_json(d, "/components/securitySchemes/apiKeyAuth2",
              "{\"type\":\"apiKey\",\"in\":\"header\",\"name\":\"X-Other-Key\"}");
  assert_json(d, "/components/securitySchemes/basicAuth", basic);
  assert_json(d, "/paths/~1a_b/get/responses/200/content/application~1json/schema/$ref",
              "\"#/components/schemas/Thing\"");
  assert_json(d, "/paths/~1a_b/put/responses/200/content/application~1json/schema/$ref",
              "\"#/components/schemas/Thing\"");
  assert_json(d, "/paths/~1a_b/put/requestBody/content/application~1json/schema/$ref",
              "\"#/components/schemas/Thing2\"");
  assert_json(d, "/paths/~1a_b/post/requestBody/content/application~1json/schema/$ref",
              "\"#/components/schemas/postABBody\"");
  json_decref(d);
  api_app_free(a);
  api_schema_free(s1);
  api_schema_free(s2);
  api_schema_free(s3);
  api_schema_free(s1again);
  api_schema_free(sq);
  api_jwt_keyset_free(ks);
}

/* The official OpenAPI 3.1 schema (fetched by scripts/fetch-openapi-schema.sh) accepts the
 * document: checked with libapi's own 2020-12 validator. */
Test(openapi, valid_against_openapi_3_1_schema, .fini = teardown) {
  const char *path = getenv("LIBAPI_OPENAPI_SCHEMA");
  FILE *f = path && *path ? fopen(path, "rb") : NULL;
  if (!f) {
    cr_skip_test("LIBAPI_OPENAPI_SCHEMA (%s) is not readable: run scripts/fetch-openapi-schema.sh",
                 path ? path : "unset");
  }
  json_error_t e;
  json_t *meta = json_loadf(f, 0, &e);
  fclose(f);
  cr_assert(meta, "%s: %s", path, e.text);
  api_schema *oas;
  /* Formats asserted (libapi's default, stricter than the 2020-12 annotation default): every
   * "$ref" must be a uri-reference, every URL a uri. */
  cr_assert_eq(api_schema_compile(&oas, meta, NULL), 0, "%s", api_last_error());
  json_decref(meta);
  build(DEFAULT_OPTS, true);
  json_t *d = fetch_doc();
  api_schema_result res = {.size = sizeof(res)};
  int rc = api_schema_validate(oas, d, &res);
  if (rc) {
    json_t *details = api_schema_result_details(&res);
    char *why = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    cr_assert_fail("the document does not match the OpenAPI 3.1 schema: %s", why ? why : "");
  }
  /* The validator does reject a broken document: a parameter "in" the body (OpenAPI 2). */
  json_object_set_new(at(d, "/paths/~1api~1v1~1users/get/parameters/0"), "in", json_string("body"));
  cr_assert_eq(api_schema_validate(oas, d, &res), API_EVALIDATION);
  api_schema_result_free(&res);
  api_schema_free(oas);
  json_decref(d);
}

/* base64(SHA-256(text)) */
static void sha256_b64(const char *text, size_t len, char out[45]) {
  unsigned char md[32];
  unsigned n;
  cr_assert(EVP_Digest(text, len, md, &n, EVP_sha256(), NULL));
  EVP_EncodeBlock((unsigned char *)out, md, 32);
}

/* The text between open and close in body, hashed. */
static void hash_between(const char *body, const char *open, const char *close, char out[45]) {
  const char *a = strstr(body, open);
  cr_assert(a, "no %s", open);
  a += strlen(open);
  const char *b = strstr(a, close);
  cr_assert(b);
  cr_assert_null(strstr(b + 1, open), "one %s only", open);
  sha256_b64(a, (size_t)(b - a), out);
}

Test(openapi, docs_page_and_csp, .fini = teardown) {
  build(API_OPENAPI_OPTIONS(.title = "<Tom & \"Jerry\">"), true);
  tc_response r;
  get("/docs", NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(tc_header(&r, "content-type"), "text/html; charset=utf-8");
  char csp[1024];
  snprintf(csp, sizeof(csp), "%s", tc_header(&r, "content-security-policy"));
  cr_assert_null(tc_header_n(&r, "content-security-policy", 1),
                 "the security headers middleware must not add its own CSP");
  cr_assert_str_eq(tc_header(&r, "x-frame-options"), "DENY");
  cr_assert_str_eq(tc_header(&r, "x-content-type-options"), "nosniff");
  cr_assert(strstr(csp, "default-src 'none'"), "%s", csp);
  cr_assert(strstr(csp, "connect-src 'self'"), "%s", csp);
  cr_assert(strstr(csp, "frame-ancestors 'none'"), "%s", csp);
  cr_assert_null(strstr(csp, "unsafe"), "%s", csp);
  char h[45], want[80];
  hash_between(r.body, "<script>", "</script>", h);
  snprintf(want, sizeof(want), "script-src 'sha256-%s'", h);
  cr_assert(strstr(csp, want), "%s not in %s", want, csp);
  hash_between(r.body, "<style>", "</style>", h);
  snprintf(want, sizeof(want), "style-src 'sha256-%s'", h);
  cr_assert(strstr(csp, want), "%s not in %s", want, csp);
  /* Strings from the options are escaped; the page knows where the document is. */
  cr_assert(strstr(r.body, "<title>&lt;Tom &amp; &quot;Jerry&quot;&gt;</title>"), "%s", r.body);
  cr_assert(strstr(r.body, "data-openapi=\"/openapi.json\""));
  cr_assert_null(strstr(r.body, "innerHTML"), "the renderer never parses document text as HTML");
  cr_assert_null(strstr(r.body, "http://"), "nothing loaded from elsewhere");
  cr_assert_null(strstr(r.body, "https://"), "nothing loaded from elsewhere");
  tc_response_free(&r);
  /* The document itself keeps the JSON API's strict CSP from the middleware. */
  get("/openapi.json", NULL, &r);
  cr_assert_str_eq(tc_header(&r, "content-security-policy"),
                   "default-src 'none'; frame-ancestors 'none'");
  tc_response_free(&r);
}

/* Each allocation of the registration copies and of the generator failing in turn: ENOMEM, never
 * a crash or a leak (the ASan build checks the leaks). */
Test(openapi, out_of_memory) {
  api_schema *s1, *s2;
  const char *t2 =
      "{\"type\":\"object\",\"properties\":{\"q\":{\"$ref\":\"#/$defs/q\"}},"
      "\"$defs\":{\"q\":{\"type\":\"string\"}}}";
  cr_assert_eq(api_schema_parse(&s1, user_schema, strlen(user_schema), NULL), 0);
  cr_assert_eq(api_schema_parse(&s2, t2, strlen(t2), NULL), 0);
  bool registered = false, generated = false;
  for (long n = 0; n < 10000 && !(registered && generated); n++) {
    api_app *a;
    cr_assert_eq(api_app_new(&a, NULL), 0);
    api_middleware key;
    cr_assert_eq(api_mw_api_key(a, API_API_KEY_OPTIONS(.nrecords = 0), &key), 0);
    api__alloc_fail_nth(n);
    int rc = api_app_route(
        a, API_ROUTE(.method = "GET", .path = "/a/:id", .handler = ok, .description = "d",
                     .operation_id = "getA", .tags = (const char *[]){"x", "y", NULL},
                     .query_schema = s2, .response_schema = s1,
                     .middleware = (const api_middleware *[]){&key, NULL},
                     .responses =
                         (const api_response_doc[]){{201, "made", s1}, {404, NULL, NULL}, {0}}));
    if (rc == 0)
      rc = api_app_route(a, API_ROUTE(.method = "POST", .path = "/a", .handler = ok,
                                      .body_schema = s2, .response_schema = s1));
    char *text = NULL;
    int grc = rc == 0 ? api_app_openapi_json(a, &text) : -1;
    api__alloc_fail_nth(-1);
    if (rc) {
      cr_assert_eq(rc, API_ENOMEM, "allocation %ld: %d", n, rc);
    } else if (grc) {
      registered = true;
      cr_assert_eq(grc, API_ENOMEM, "allocation %ld: %d", n, grc);
      cr_assert_null(text);
    } else {
      registered = generated = true;
      cr_assert(strstr(text, "\"getA\""));
      free(text);
    }
    api_app_free(a);
  }
  cr_assert(generated);
  api_schema_free(s1);
  api_schema_free(s2);
}

/* The page in a real browser, its CSP enforced: Debian's chromium, headless (scripts/deps.sh
 * --test installs it). Skipped, saying so, where there is none. */
Test(openapi, docs_render_in_headless_chromium, .fini = teardown, .timeout = 120) {
  int st;
  char *where = tc_run("command -v chromium", &st);
  bool have = where && st == 0 && *where;
  free(where);
  if (!have) cr_skip_test("no chromium in PATH: the /docs page was not rendered in a browser");
  build(DEFAULT_OPTS, true);
  char profile[] = "/tmp/libapi-chromium-XXXXXX";
  cr_assert(mkdtemp(profile));
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=%s "
           "--virtual-time-budget=10000 --dump-dom http://127.0.0.1:%d/docs 2>/dev/null",
           profile, api_server_port(srv));
  char *dom = tc_run(cmd, &st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", profile);
  free(tc_run(cmd, NULL));
  cr_assert(dom);
  cr_assert_eq(st, 0, "chromium exited with %d", st);
  /* The script ran (the CSP allowed it) and fetched and rendered the document. */
  cr_assert_null(strstr(dom, "Loading the API"), "not rendered:\n%.2000s", dom);
  cr_assert_null(strstr(dom, "<p class=\"error\">"), "%.2000s", dom);
  static const char *const want[] = {
      "<h1>Users API</h1>",
      "<h2>users</h2>",
      "<h2>files</h2>",
      "<h2>default</h2>",
      "<span class=\"path mono\">/api/v1/users/{id}</span>",
      "<span class=\"summary\">Get a user</span>",
      "getApiV1UsersById",
      "listUsers",
      "<details class=\"op delete deprecated\">",
      "<li class=\"mono\">bearerAuth: users:write</li>",
      "<li class=\"mono\">apiKeyAuth</li>",
      "<td class=\"mono\">array of string</td>",
      "<div class=\"schema-name\">User</div>",
      "<span class=\"status mono\">422</span>",
      "https://api.example.com",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    cr_assert(strstr(dom, want[i]), "missing %s in\n%.3000s", want[i], dom);
  /* Text from the document stays text. */
  cr_assert(strstr(dom, "Returns &lt;b&gt;one&lt;/b&gt; user."), "%.3000s", dom);
  cr_assert_null(strstr(dom, "<b>one</b>"));
  free(dom);
}
