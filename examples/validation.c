/* validation: route schemas — typed path and query parameters, a validated JSON body, 422 details,
 * and the OpenAPI document and /docs page generated from them. */
#include <libapi/api.h>
#include <stdio.h>
#include <string.h>

static const char params_json[] =
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":1}},"
    "\"required\":[\"id\"]}";
static const char query_json[] =
    "{\"type\":\"object\",\"properties\":{\"notify\":{\"type\":\"boolean\",\"default\":false}},"
    "\"additionalProperties\":false}";
static const char body_json[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":100},\"email\":{\"type\":\"string\",\"format\":\"email\"},\"age\":{\"type\":"
    "\"integer\",\"minimum\":0,\"maximum\":150}},\"required\":[\"name\",\"email\"],"
    "\"additionalProperties\":false}";

/*
 * PUT /users/42?notify=true {"name":"Ada","email":"ada@example.com"}
 *   -> {"data":{"id":42,"notify":true,"user":{...}}}
 * PUT /users/0?notify=maybe {"name":""}
 *   -> 422 {"error":{"code":"VALIDATION_FAILED","details":[{"path":"/params/id",...},
 *           {"path":"/query/notify",...},{"path":"/body","keyword":"required",...},...]}}
 * The handler runs only for valid requests and reads typed values.
 */
static int put_user(api_req *req, api_res *res, void *user_data) {
  (void)user_data;
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  json_int_t id = json_integer_value(json_object_get(api_req_params_json(req), "id"));
  json_t *notify = json_object_get(api_req_query_json(req), "notify"); /* default applied */
  return api_res_data(res, 200,
                      json_pack("{s:I,s:O,s:O}", "id", id, "notify", notify, "user", body), NULL);
}

static api_schema *compile(const char *text) {
  api_schema *s = NULL;
  if (api_schema_parse(&s, text, strlen(text), NULL) != 0)
    fprintf(stderr, "bad schema: %s\n", api_last_error());
  return s;
}

int main(void) {
  api_schema *params = compile(params_json), *query = compile(query_json),
             *body = compile(body_json);
  api_app *app = NULL;
  int rc = params && query && body ? api_app_new(&app, NULL) : API_EINVAL;
  /* The schemas are borrowed by the route: they outlive the app. */
  if (!rc)
    rc = api_app_route(
        app, API_ROUTE(.method = "PUT", .path = "/users/:id", .handler = put_user,
                       .params_schema = params, .query_schema = query, .body_schema = body,
                       .schema_flags = API_ROUTE_APPLY_DEFAULTS, .summary = "Replace a user",
                       .tags = (const char *[]){"users", NULL}));
  /* GET /openapi.json describes PUT /users/{id} from the schemas above; /docs renders it. */
  if (!rc) rc = api_app_openapi(app, API_OPENAPI_OPTIONS(.title = "Users", .version = "1.0.0"));
  if (!rc) rc = api_app_run(app);
  if (rc) fprintf(stderr, "validation: %s\n", api_last_error());
  api_app_free(app);
  api_schema_free(params);
  api_schema_free(query);
  api_schema_free(body);
  return rc ? 1 : 0;
}
