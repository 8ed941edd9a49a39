/* JWT bearer middleware and guards, through the in-process client: hostile Authorization fields,
 * expired and unsigned tokens, the WWW-Authenticate challenges on every refusal (they must survive
 * the error path), optional mode, the principal, 401 versus 403, insufficient_scope and RBAC. */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "support/client.h"
#include "util/alloc.h"
#include "util/b64url.h"

static api_app *app;
static api_test *t;
static api_jwt_keyset *keys, *other_keys;

static api_jwt_keyset *random_keys(void) {
  unsigned char secret[32];
  cr_assert_eq(RAND_bytes(secret, sizeof(secret)), 1);
  api_jwt_keyset *ks;
  cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, sizeof(secret), "HS256", NULL), 0);
  return ks;
}

/* A token signed by ks with claims given as JSON text; the caller frees it. */
static char *token_of(api_jwt_keyset *ks, const char *claims_json) {
  json_t *c = json_loads(claims_json, 0, NULL);
  cr_assert_not_null(c, "%s", claims_json);
  char *tok;
  cr_assert_eq(api_jwt_sign(&tok, ks, "HS256", NULL, c, NULL), 0);
  json_decref(c);
  return tok;
}

static char *token_for(const char *extra) {
  char buf[1024];
  snprintf(buf, sizeof(buf), "{\"sub\":\"user-7\",\"exp\":%lld%s%s}", (long long)time(NULL) + 600,
           extra && *extra ? "," : "", extra ? extra : "");
  return token_of(keys, buf);
}

static int h_me(api_req *req, api_res *res, void *ud) {
  (void)ud;
  const api_principal *p = api_req_principal(req);
  json_t *roles = json_array(), *scopes = json_array();
  for (size_t i = 0; p && p->roles[i]; i++) json_array_append_new(roles, json_string(p->roles[i]));
  for (size_t i = 0; p && p->scopes[i]; i++)
    json_array_append_new(scopes, json_string(p->scopes[i]));
  return api_res_json_new(res, 200,
                          json_pack("{s:s?, s:o, s:o, s:s?, s:b, s:i, s:s?, s:s?}", "sub",
                                    p ? p->subject : NULL, "roles", roles, "scopes", scopes, "user",
                                    api_req_user(req), "claims", p && p->claims != NULL, "method",
                                    p ? (int)p->method : -1, "rl", p ? p->rate_limit_key : NULL,
                                    "admin", api_req_has_role(req, "admin") ? "yes" : "no"));
}

static int h_unauth(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)res;
  (void)ud;
  return API_EUNAUTHORIZED;
}

static api_rbac *rbac;

static void start_with(const api_jwt_auth_options *o) {
  keys = random_keys();
  other_keys = random_keys();
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_jwt_auth_options opts = *o;
  opts.keys = keys;
  api_middleware jwt, admin, read_scope, edit_perm, any_of, authed;
  cr_assert_eq(api_mw_jwt(app, &opts, &jwt), 0, "%s", api_last_error());
  cr_assert_eq(api_app_use(app, &jwt), 0);
  cr_assert_eq(api_rbac_new(app,
                            (const api_role_permissions[]){
                                {"editor", (const char *[]){"posts:edit", "posts:read", NULL}},
                                {"viewer", (const char *[]){"posts:read", NULL}},
                                {NULL, NULL}},
                            &rbac),
               0);
  cr_assert_eq(api_mw_require(app, API_REQUIRE(.roles = (const char *[]){"admin", NULL}), &admin),
               0);
  cr_assert_eq(
      api_mw_require(app, API_REQUIRE(.scopes = (const char *[]){"items:read", "items:list", NULL}),
                     &read_scope),
      0);
  cr_assert_eq(
      api_mw_require(app,
                     API_REQUIRE(.permissions = (const char *[]){"posts:edit", NULL}, .rbac = rbac),
                     &edit_perm),
      0);
  cr_assert_eq(api_mw_require(app,
                              API_REQUIRE(.roles = (const char *[]){"admin", NULL},
                                          .scopes = (const char *[]){"sudo", NULL}, .any = 1),
                              &any_of),
               0);
  cr_assert_eq(api_mw_require(app, API_REQUIRE(0), &authed), 0);
  cr_assert_eq(api_app_get(app, "/me", h_me, NULL), 0);
  cr_assert_eq(api_app_get(app, "/unauth", h_unauth, NULL), 0);
#define GUARDED(p_, mw)                                                                           \
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "GET", .path = p_, .handler = h_me,         \
                                            .middleware = (const api_middleware *[]){mw, NULL})), \
               0)
  GUARDED("/admin", &admin);
  GUARDED("/items", &read_scope);
  GUARDED("/posts/edit", &edit_perm);
  GUARDED("/any", &any_of);
  GUARDED("/authed", &authed);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void start(void) { start_with(API_JWT_AUTH_OPTIONS(.realm = "example")); }

static void stop(void) {
  api_test_free(t);
  api_app_free(app);
  api_jwt_keyset_free(keys);
  api_jwt_keyset_free(other_keys);
  t = NULL;
  app = NULL;
  keys = other_keys = NULL;
}

TestSuite(auth_jwt, .fini = stop, .timeout = 60);

static api_test_res *get_h(const char *target, const char *const *headers) {
  api_test_res *r = NULL;
  cr_assert_eq(api_test_request(t, API_TEST_REQ(.target = target, .headers = headers), &r), 0);
  return r;
}

static api_test_res *get_auth(const char *target, const char *authorization) {
  static char h[70000];
  snprintf(h, sizeof(h), "Authorization: %s", authorization);
  return get_h(target, (const char *[]){h, NULL});
}

static api_test_res *get_bearer(const char *target, const char *token) {
  static char h[20000];
  snprintf(h, sizeof(h), "Bearer %s", token);
  return get_auth(target, h);
}

static void expect(api_test_res *r, int status, const char *www) {
  cr_assert_eq(api_test_res_status(r), status, "status %d, expected %d: %s", api_test_res_status(r),
               status, api_test_res_body(r, NULL));
  const char *got = api_test_res_header(r, "WWW-Authenticate");
  if (!www) {
    cr_assert_null(got, "no challenge expected, got %s", got);
  } else {
    cr_assert_not_null(got, "a WWW-Authenticate is expected");
    cr_assert_str_eq(got, www);
  }
  api_test_res_free(r);
}

#define INVALID(desc) \
  "Bearer realm=\"example\", error=\"invalid_token\", error_description=\"" desc "\""

Test(auth_jwt, valid_token_sets_principal_and_user) {
  start();
  char *tok = token_for("\"roles\":[\"admin\",\"ops\"],\"scope\":\"items:read  items:list\"");
  api_test_res *r = get_bearer("/me", tok);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(j, "sub")), "user-7");
  cr_assert_str_eq(json_string_value(json_object_get(j, "user")), "user-7");
  cr_assert_str_eq(json_string_value(json_object_get(j, "rl")), "sub:user-7");
  cr_assert_str_eq(json_string_value(json_object_get(j, "admin")), "yes");
  cr_assert(json_is_true(json_object_get(j, "claims")));
  cr_assert_eq(json_integer_value(json_object_get(j, "method")), API_AUTH_BEARER);
  cr_assert_eq(json_array_size(json_object_get(j, "roles")), 2);
  json_t *sc = json_object_get(j, "scopes");
  cr_assert_eq(json_array_size(sc), 2, "double spaces do not make empty scopes");
  cr_assert_str_eq(json_string_value(json_array_get(sc, 1)), "items:list");
  api_test_res_free(r);
  /* lower-case scheme, several spaces (RFC 6750: 1*SP) */
  char h[4096];
  snprintf(h, sizeof(h), "bearer   %s", tok);
  expect(get_auth("/me", h), 200, NULL);
  snprintf(h, sizeof(h), "BEARER %s", tok);
  expect(get_auth("/me", h), 200, NULL);
  api_auth_string_free(tok);
}

Test(auth_jwt, scp_array_and_string_roles) {
  start();
  char *tok = token_for("\"roles\":\"admin\",\"scp\":[\"items:read\",7,\"items:list\",\"\"]");
  api_test_res *r = get_bearer("/me", tok);
  json_t *j = api_test_res_json(r);
  cr_assert_eq(json_array_size(json_object_get(j, "roles")), 1);
  cr_assert_eq(json_array_size(json_object_get(j, "scopes")), 2, "non-strings and \"\" dropped");
  api_test_res_free(r);
  expect(get_bearer("/items", tok), 200, NULL);
  api_auth_string_free(tok);
}

Test(auth_jwt, missing_token_is_401_with_plain_challenge) {
  start();
  expect(get_h("/me", NULL), 401, "Bearer realm=\"example\"");
  /* another scheme is not ours: same as no token */
  expect(get_auth("/me", "Basic dXNlcjpwYXNz"), 401, "Bearer realm=\"example\"");
  /* unknown path: the app-level middleware still demands a token */
  expect(get_h("/nowhere", NULL), 401, "Bearer realm=\"example\"");
}

Test(auth_jwt, hostile_authorization_fields) {
  start();
  char *tok = token_for(NULL);
  const char *bad_request =
      "Bearer realm=\"example\", error=\"invalid_request\", error_description=\"";
  const char *cases[] = {"Bearer",      "Bearer ",     "bearer\t",    "Bearer a b", "Bearer a,b",
                         "Bearer a\"b", "Bearer ab=c", "Bearer =abc", "Bearer a;b", "Bearer ä"};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    api_test_res *r = get_auth("/me", cases[i]);
    int st = api_test_res_status(r);
    const char *w = api_test_res_header(r, "WWW-Authenticate");
    cr_assert(st == 400 || st == 401, "%s -> %d", cases[i], st);
    cr_assert_not_null(w, "%s", cases[i]);
    if (st == 400) cr_assert_eq(strncmp(w, bad_request, strlen(bad_request)), 0, "%s", w);
    api_test_res_free(r);
  }
  /* no scheme at all: the token alone */
  expect(get_auth("/me", tok), 401, "Bearer realm=\"example\"");
  /* Bearer and token with a tab: not "Bearer SP", so not a bearer credential */
  char h[4096];
  snprintf(h, sizeof(h), "Bearer\t%s", tok);
  expect(get_auth("/me", h), 401, "Bearer realm=\"example\"");
  /* two tokens */
  snprintf(h, sizeof(h), "Bearer %s %s", tok, tok);
  api_test_res *r = get_auth("/me", h);
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
  /* two Authorization fields, even both valid */
  char h1[4096], h2[4096];
  snprintf(h1, sizeof(h1), "Authorization: Bearer %s", tok);
  snprintf(h2, sizeof(h2), "Authorization: Bearer %s", tok);
  r = get_h("/me", (const char *[]){h1, h2, NULL});
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert_not_null(strstr(api_test_res_header(r, "WWW-Authenticate"), "invalid_request"));
  api_test_res_free(r);
  api_auth_string_free(tok);
}

Test(auth_jwt, huge_tokens) {
  start();
  /* 9000 token characters: over the verifier's 8 KiB limit */
  static char big[9100];
  memset(big, 'a', 9000);
  big[9000] = '\0';
  expect(get_bearer("/me", big), 401, INVALID("The access token is too large"));
  /* 65 KiB header: the HTTP parser refuses it (431), nothing crashes */
  static char huge[66000];
  memcpy(huge, "Bearer ", 7);
  memset(huge + 7, 'b', 65000);
  huge[65007] = '\0';
  api_test_res *r = get_auth("/me", huge);
  cr_assert_geq(api_test_res_status(r), 400);
  api_test_res_free(r);
}

Test(auth_jwt, invalid_tokens_say_why_without_details) {
  start();
  char buf[256];
  snprintf(buf, sizeof(buf), "{\"sub\":\"u\",\"exp\":%lld}", (long long)time(NULL) - 100);
  char *expired = token_of(keys, buf);
  api_test_res *r = get_bearer("/me", expired);
  cr_assert_eq(api_test_res_status(r), 401);
  char want[512];
  snprintf(want, sizeof(want), INVALID("%s"), api_jwt_error_description(API_JWT_EXPIRED));
  cr_assert_str_eq(api_test_res_header(r, "WWW-Authenticate"), want);
  const char *body = api_test_res_body(r, NULL);
  cr_assert_null(strstr(body, "exp"), "no internal detail in the body: %s", body);
  api_test_res_free(r);

  /* signed by another key */
  char *forged = token_for(NULL);
  api_auth_string_free(forged);
  snprintf(buf, sizeof(buf), "{\"sub\":\"u\",\"exp\":%lld}", (long long)time(NULL) + 100);
  forged = token_of(other_keys, buf);
  snprintf(want, sizeof(want), INVALID("%s"), api_jwt_error_description(API_JWT_BAD_SIGNATURE));
  expect(get_bearer("/me", forged), 401, want);

  /* alg none, unsigned: header {"alg":"none","typ":"JWT"} */
  char hdr[64], pl[256], none[512];
  api__b64url_encode(hdr, "{\"alg\":\"none\",\"typ\":\"JWT\"}", 27);
  api__b64url_encode(pl, buf, strlen(buf));
  snprintf(none, sizeof(none), "%s.%s.", hdr, pl);
  r = get_bearer("/me", none);
  cr_assert_eq(api_test_res_status(r), 401);
  cr_assert_not_null(strstr(api_test_res_header(r, "WWW-Authenticate"), "invalid_token"));
  api_test_res_free(r);
  snprintf(none, sizeof(none), "%s.%s", hdr, pl);
  r = get_bearer("/me", none);
  cr_assert_eq(api_test_res_status(r), 401);
  api_test_res_free(r);

  /* no sub, sub not a string, sub with a NUL */
  snprintf(buf, sizeof(buf), "{\"exp\":%lld}", (long long)time(NULL) + 100);
  char *nosub = token_of(keys, buf);
  snprintf(want, sizeof(want), INVALID("%s"), api_jwt_error_description(API_JWT_MISSING_CLAIM));
  expect(get_bearer("/me", nosub), 401, want);
  snprintf(buf, sizeof(buf), "{\"sub\":42,\"exp\":%lld}", (long long)time(NULL) + 100);
  char *numsub = token_of(keys, buf);
  snprintf(want, sizeof(want), INVALID("%s"), api_jwt_error_description(API_JWT_BAD_CLAIM));
  expect(get_bearer("/me", numsub), 401, want);
  json_t *c =
      json_pack("{s:s%, s:I}", "sub", "admin\0x", (size_t)7, "exp", (json_int_t)time(NULL) + 100);
  char *nulsub;
  cr_assert_eq(api_jwt_sign(&nulsub, keys, "HS256", NULL, c, NULL), 0);
  json_decref(c);
  /* refused as malformed (the strict parser refuses \u0000) or as a bad claim */
  r = get_bearer("/me", nulsub);
  cr_assert_eq(api_test_res_status(r), 401);
  cr_assert_not_null(strstr(api_test_res_header(r, "WWW-Authenticate"), "invalid_token"));
  api_test_res_free(r);
  api_auth_string_free(expired);
  api_auth_string_free(forged);
  api_auth_string_free(nosub);
  api_auth_string_free(numsub);
  api_auth_string_free(nulsub);
}

Test(auth_jwt, challenge_on_handler_401) {
  start();
  char *tok = token_for(NULL);
  /* the handler's own 401 gets the challenge too, authenticated or not */
  expect(get_bearer("/unauth", tok), 401, "Bearer realm=\"example\"");
  api_auth_string_free(tok);
}

Test(auth_jwt, guards_401_403_and_insufficient_scope) {
  start();
  char *user = token_for("\"roles\":[\"ops\"],\"scope\":\"items:read\"");
  char *admin = token_for("\"roles\":[\"admin\"],\"scope\":\"items:read items:list\"");
  expect(get_bearer("/admin", user), 403, "Bearer realm=\"example\", error=\"insufficient_scope\"");
  expect(get_bearer("/admin", admin), 200, NULL);
  expect(get_bearer("/items", user), 403,
         "Bearer realm=\"example\", error=\"insufficient_scope\", scope=\"items:read items:list\"");
  expect(get_bearer("/items", admin), 200, NULL);
  expect(get_bearer("/authed", user), 200, NULL);
  /* any: admin role or sudo scope */
  char *sudo = token_for("\"scope\":\"sudo\"");
  expect(get_bearer("/any", sudo), 200, NULL);
  expect(get_bearer("/any", admin), 200, NULL);
  expect(get_bearer("/any", user), 403,
         "Bearer realm=\"example\", error=\"insufficient_scope\", "
         "scope=\"sudo\"");
  api_auth_string_free(user);
  api_auth_string_free(admin);
  api_auth_string_free(sudo);
}

Test(auth_jwt, rbac_permissions) {
  start();
  char *editor = token_for("\"roles\":[\"viewer\",\"editor\"]");
  char *viewer = token_for("\"roles\":[\"viewer\"]");
  char *lookalike = token_for("\"roles\":[\"Editor\",\"editor \",\"posts:edit\"]");
  expect(get_bearer("/posts/edit", editor), 200, NULL);
  expect(get_bearer("/posts/edit", viewer), 403,
         "Bearer realm=\"example\", error=\"insufficient_scope\"");
  expect(get_bearer("/posts/edit", lookalike), 403,
         "Bearer realm=\"example\", error=\"insufficient_scope\"");
  api_auth_string_free(editor);
  api_auth_string_free(viewer);
  api_auth_string_free(lookalike);
}

Test(auth_jwt, optional_mode) {
  start_with(API_JWT_AUTH_OPTIONS(.optional = 1, .realm = "example"));
  api_test_res *r = get_h("/me", NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert(json_is_null(json_object_get(api_test_res_json(r), "sub")) ||
            !json_object_get(api_test_res_json(r), "sub"));
  api_test_res_free(r);
  /* guards still refuse the anonymous request, with the plain challenge */
  expect(get_h("/authed", NULL), 401, "Bearer realm=\"example\"");
  expect(get_h("/admin", NULL), 401, "Bearer realm=\"example\"");
  /* a bad token is refused even in optional mode */
  expect(get_bearer("/me", "abc.def.ghi"), 401,
         "Bearer realm=\"example\", error=\"invalid_token\", error_description=\"The access token "
         "is malformed\"");
}

Test(auth_jwt, cookie_token) {
  start_with(API_JWT_AUTH_OPTIONS(.cookie = "at", .realm = "example"));
  char *tok = token_for(NULL);
  char h[4096];
  snprintf(h, sizeof(h), "Cookie: theme=dark; at=%s", tok);
  expect(get_h("/me", (const char *[]){h, NULL}), 200, NULL);
  expect(get_h("/me", (const char *[]){"Cookie: at=a\"b", NULL}), 401,
         INVALID("The access token is malformed"));
  api_auth_string_free(tok);
}

Test(auth_jwt, verify_options_are_copied_and_enforced) {
  char iss[] = "https://id.example";
  char aud0[] = "https://api.example";
  const char *auds[] = {aud0, NULL};
  keys = random_keys();
  other_keys = random_keys();
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware jwt;
  cr_assert_eq(api_mw_jwt(app,
                          API_JWT_AUTH_OPTIONS(.keys = keys,
                                               .verify = API_JWT_VERIFY_OPTIONS(.issuer = iss,
                                                                                .audiences = auds)),
                          &jwt),
               0);
  memset(iss, 'x', sizeof(iss) - 1); /* the middleware kept its own copies */
  memset(aud0, 'x', sizeof(aud0) - 1);
  auds[0] = NULL;
  cr_assert_eq(api_app_use(app, &jwt), 0);
  cr_assert_eq(api_app_get(app, "/me", h_me, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
  char *good = token_for("\"iss\":\"https://id.example\",\"aud\":\"https://api.example\"");
  char *wrong_aud = token_for("\"iss\":\"https://id.example\",\"aud\":\"https://other\"");
  expect(get_bearer("/me", good), 200, NULL);
  api_test_res *r = get_bearer("/me", wrong_aud);
  cr_assert_eq(api_test_res_status(r), 401);
  cr_assert_not_null(strstr(api_test_res_header(r, "WWW-Authenticate"), "realm=\"api\""));
  api_test_res_free(r);
  api_auth_string_free(good);
  api_auth_string_free(wrong_aud);
}

Test(auth_jwt, bad_options) {
  keys = random_keys();
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_jwt(app, NULL, &mw), API_EINVAL);
  cr_assert_eq(api_mw_jwt(app, API_JWT_AUTH_OPTIONS(0), &mw), API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "keys"));
  cr_assert_eq(api_mw_jwt(app, API_JWT_AUTH_OPTIONS(.keys = keys, .realm = "a\"b"), &mw),
               API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "realm"));
  cr_assert_eq(api_mw_jwt(app, API_JWT_AUTH_OPTIONS(.keys = keys, .realm = "a\nb"), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_jwt(app, API_JWT_AUTH_OPTIONS(.keys = keys, .cookie = "a b"), &mw),
               API_EINVAL);
  cr_assert_eq(
      api_mw_jwt(app,
                 API_JWT_AUTH_OPTIONS(.keys = keys, .verify = API_JWT_VERIFY_OPTIONS(.leeway = -1)),
                 &mw),
      API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "verify"));
  cr_assert_eq(api_mw_require(app, API_REQUIRE(.permissions = (const char *[]){"x", NULL}), &mw),
               API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "rbac"));
  cr_assert_eq(api_mw_require(app, API_REQUIRE(.scopes = (const char *[]){"a b", NULL}), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_require(app, API_REQUIRE(.roles = (const char *[]){"", NULL}), &mw),
               API_EINVAL);
  api_rbac *r;
  cr_assert_eq(api_rbac_new(app, (const api_role_permissions[]){{"", NULL}, {NULL, NULL}}, &r),
               API_EINVAL);
  cr_assert_eq(api_mw_jwt(app, API_JWT_AUTH_OPTIONS(.keys = keys), &mw), 0);
}

Test(auth_jwt, set_principal_by_hand) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_req_principal(NULL), NULL);
  cr_assert_eq(api_req_has_role(NULL, "x"), 0);
  cr_assert_eq(api_req_has_scope(NULL, "x"), 0);
  cr_assert_eq(api_req_has_permission(NULL, NULL, "x"), 0);
}

/* Every allocation of each constructor may fail: API_ENOMEM, nothing leaks (ASan checks), and a
 * later attempt succeeds. */
Test(auth_jwt, constructors_under_allocation_failure) {
  keys = random_keys();
  cr_assert_eq(api_app_new(&app, NULL), 0);
  static const char *const auds[] = {"a", "b", NULL};
  api_api_key_record rec = {.id = "r",
                            .prefix = "p",
                            .hash =
                                "00000000000000000000000000000000000000000000000000000000"
                                "00000000",
                            .roles = (const char *[]){"x", NULL}};
  for (int which = 0; which < 4; which++) {
    int ok = 0;
    for (long n = 0; n < 40 && !ok; n++) {
      api_middleware mw;
      api_rbac *rb = NULL;
      api__alloc_fail_nth(n);
      int rc;
      switch (which) {
        case 0:
          rc = api_mw_jwt(
              app,
              API_JWT_AUTH_OPTIONS(.keys = keys, .cookie = "c",
                                   .verify =
                                       API_JWT_VERIFY_OPTIONS(.issuer = "i", .audiences = auds,
                                                              .required_claims = auds,
                                                              .typ = "JWT")),
              &mw);
          break;
        case 1:
          rc = api_mw_require(app,
                              API_REQUIRE(.roles = auds, .scopes = auds, .permissions = auds,
                                          .rbac = (const api_rbac *)app),
                              &mw);
          break;
        case 2:
          rc = api_rbac_new(
              app, (const api_role_permissions[]){{"r", auds}, {"s", auds}, {NULL, NULL}}, &rb);
          break;
        default:
          rc = api_mw_api_key(app, API_API_KEY_OPTIONS(.records = &rec, .nrecords = 1), &mw);
      }
      api__alloc_fail_nth(-1);
      cr_assert(rc == 0 || rc == API_ENOMEM, "constructor %d, allocation %ld: %d", which, n, rc);
      ok = rc == 0;
    }
    cr_assert(ok, "constructor %d eventually succeeds", which);
  }
}
