/* jwt_auth: log in with a bcrypt-checked password, get an HS256 token, call a protected route. */
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 *   JWT_SECRET=$(openssl rand -base64 48) DEMO_PASSWORD=... ./jwt_auth
 *   curl -s -XPOST localhost:8080/login -H 'content-type: application/json' \
 *        -d '{"user":"ada","password":"..."}'
 *   curl -s localhost:8080/me -H "authorization: Bearer $TOKEN"
 * and http://localhost:8080/docs documents both routes (/me with its bearer scheme).
 * Secrets come from the environment, never from the source.
 */

#define ISSUER "jwt_auth example"
static api_jwt_keyset *keys;
static char *ada_hash; /* bcrypt hash of DEMO_PASSWORD for the user "ada" */

/* POST /login: the password check blocks (~250 ms), so api_req_password_verify runs it on the
 * offload pool and calls login_done back on the request's worker. */
static int login_done(api_req *req, api_res *res, int rc, const char *hash, void *user_data) {
  (void)req;
  (void)hash;
  const char *user = user_data;
  if (rc != 0) return api_res_error(res, 401, "UNAUTHORIZED", "wrong user or password", NULL);
  json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", user, "iss", ISSUER, "aud", "api",
                             "iat", (json_int_t)time(NULL), "exp", (json_int_t)time(NULL) + 900);
  char *token;
  rc = api_jwt_sign(&token, keys, "HS256", NULL, claims, NULL);
  json_decref(claims);
  if (rc) return rc;
  rc = api_res_data(res, 200, json_pack("{s:s}", "token", token), NULL);
  api_auth_string_free(token);
  return rc;
}

/* The body is validated against login_schema before the handler runs (422 with details if not). */
static int login_handler(api_req *req, api_res *res, void *user_data) {
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  const char *user = json_string_value(json_object_get(body, "user"));
  const char *password = json_string_value(json_object_get(body, "password"));
  char *name = api_req_strdup(req, user);
  if (!name) return API_ENOMEM;
  /* An unknown user gets a NULL hash: checked against a dummy, same time, always refused, so
   * timing does not reveal which users exist. The password is copied and wiped after use. */
  return api_req_password_verify(req, password, strcmp(user, "ada") ? NULL : ada_hash, login_done,
                                 name);
}

/* GET /me: only reached with a valid bearer token (api_mw_jwt answers 401 with RFC 6750 details
 * otherwise); the verified claims are the request's principal. */
static int me_handler(api_req *req, api_res *res, void *user_data) {
  return api_res_data(res, 200, json_incref(api_req_principal(req)->claims), NULL);
}

static const char login_schema_text[] =
    "{\"type\":\"object\",\"required\":[\"user\",\"password\"],\"additionalProperties\":false,"
    "\"properties\":{\"user\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
    "\"password\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":72}}}";

int main(void) {
  const char *secret = getenv("JWT_SECRET"), *password = getenv("DEMO_PASSWORD");
  if (!secret || !password) {
    fprintf(stderr, "jwt_auth: set JWT_SECRET (32+ bytes) and DEMO_PASSWORD\n");
    return 1;
  }
  if (api_jwt_keyset_from_secret(&keys, secret, strlen(secret), "HS256", NULL) ||
      api_password_hash(&ada_hash, password, 0)) {
    fprintf(stderr, "jwt_auth: %s\n", api_last_error());
    api_jwt_keyset_free(keys);
    return 1;
  }
  api_app *app = NULL;
  api_schema *login_schema = NULL;
  api_middleware jwt;
  static const char *const audiences[] = {"api", NULL};
  int rc = 1;
  if (api_app_new(&app, NULL) ||
      api_schema_parse(&login_schema, login_schema_text, strlen(login_schema_text), NULL) ||
      api_mw_jwt(app,
                 API_JWT_AUTH_OPTIONS(.keys = keys,
                                      .verify = API_JWT_VERIFY_OPTIONS(.issuer = ISSUER,
                                                                       .audiences = audiences,
                                                                       .leeway = 30)),
                 &jwt) ||
      api_app_route(app, API_ROUTE(.method = "POST", .path = "/login", .handler = login_handler,
                                   .summary = "Trade a user name and password for a token",
                                   .body_schema = login_schema)) ||
      api_app_route(app, API_ROUTE(.method = "GET", .path = "/me", .handler = me_handler,
                                   .summary = "The claims of the caller's token",
                                   .middleware = (const api_middleware *[]){&jwt, NULL})) ||
      /* /openapi.json and /docs, with /me marked as needing the bearer token */
      api_app_openapi(app, API_OPENAPI_OPTIONS(.title = "jwt_auth example", .version = "1.0.0")))
    fprintf(stderr, "jwt_auth: %s\n", api_last_error());
  else
    rc = api_app_run(app) ? 1 : 0;
  api_app_free(app);
  api_schema_free(login_schema);
  api_auth_string_free(ada_hash);
  api_jwt_keyset_free(keys);
  return rc;
}
