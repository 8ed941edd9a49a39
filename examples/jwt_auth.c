/* jwt_auth: log in with a bcrypt-checked password, get an HS256 token, call a protected route. */
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 *   JWT_SECRET=$(openssl rand -base64 48) DEMO_PASSWORD=... ./jwt_auth
 *   curl -s -XPOST localhost:8080/login -H 'content-type: application/json' \
 *        -d '{"user":"ada","password":"..."}'
 *   curl -s localhost:8080/me -H "authorization: Bearer $TOKEN"
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

static int login_handler(api_req *req, api_res *res, void *user_data) {
  json_t *body;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  const char *user = json_string_value(json_object_get(body, "user"));
  const char *password = json_string_value(json_object_get(body, "password"));
  if (!user || !password || strlen(user) >= 64 || strlen(password) > API_PASSWORD_MAX_LEN)
    return api_res_error(res, 400, "BAD_REQUEST", "user and password (at most 72 bytes) needed",
                         NULL);
  char *name = api_req_strdup(req, user);
  if (!name) return API_ENOMEM;
  /* An unknown user gets a NULL hash: checked against a dummy, same time, always refused, so
   * timing does not reveal which users exist. The password is copied and wiped after use. */
  return api_req_password_verify(req, password, strcmp(user, "ada") ? NULL : ada_hash, login_done,
                                 name);
}

/* GET /me: a bearer token, verified; RFC 6750 error details when it is refused. */
static int me_handler(api_req *req, api_res *res, void *user_data) {
  const char *auth = api_req_header(req, "authorization");
  if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
    api_res_header(res, "WWW-Authenticate", "Bearer realm=\"api\"");
    return api_res_error(res, 401, "UNAUTHORIZED", "bearer token required", NULL);
  }
  static const char *const audiences[] = {"api", NULL};
  api_jwt_result r = {0};
  int rc = api_jwt_verify(
      keys, auth + 7, strlen(auth + 7),
      API_JWT_VERIFY_OPTIONS(.issuer = ISSUER, .audiences = audiences, .leeway = 30), &r);
  if (rc == API_EUNAUTHORIZED) {
    char challenge[256];
    snprintf(challenge, sizeof(challenge),
             "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"%s\"",
             api_jwt_error_description(r.error));
    api_res_header(res, "WWW-Authenticate", challenge);
    rc = api_res_error(res, 401, "UNAUTHORIZED", api_jwt_error_description(r.error), NULL);
  } else if (rc == 0) {
    rc = api_res_data(res, 200, json_incref(r.claims), NULL);
  }
  api_jwt_result_free(&r);
  return rc;
}

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
  api_app *app;
  int rc = 1;
  if (api_app_new(&app, NULL) == 0) {
    if (api_app_route(app,
                      API_ROUTE(.method = "POST", .path = "/login", .handler = login_handler)) ||
        api_app_get(app, "/me", me_handler, NULL))
      fprintf(stderr, "jwt_auth: %s\n", api_last_error());
    else
      rc = api_app_run(app) ? 1 : 0;
    api_app_free(app);
  }
  api_auth_string_free(ada_hash);
  api_jwt_keyset_free(keys);
  return rc;
}
