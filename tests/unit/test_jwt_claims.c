/* JWT claims and options: exp/nbf/iat with leeway at the exact boundaries, iss, aud (string and
 * array), sub, required claims, types of registered claims, option validation, and signing. */
#include "support/jwt_vectors.h"

static api_jwt_keyset *hs;

static void setup(void) { hs = hs_keyset("HS256", 32, NULL); }
static void teardown(void) {
  api_jwt_keyset_free(hs);
  api__alloc_fail_after(-1);
}
TestSuite(jwt_claims, .init = setup, .fini = teardown);

/* Verify a token with these claims against options; returns the reason. */
static api_jwt_error claims(const char *payload, const api_jwt_verify_options *o) {
  char *t = make_token(hs, 0, "{\"alg\":\"HS256\"}", payload);
  api_jwt_error e = check(hs, t, o, NULL);
  api_auth_string_free(t);
  return e;
}

#define AT(t, l) API_JWT_VERIFY_OPTIONS(.now = (t), .leeway = (l))

Test(jwt_claims, exp_boundaries) {
  const char *p = "{\"exp\":1000}";
  cr_assert_eq(claims(p, AT(999, 0)), API_JWT_OK);
  cr_assert_eq(claims(p, AT(1000, 0)), API_JWT_EXPIRED, "exp is the first invalid second");
  cr_assert_eq(claims(p, AT(1001, 0)), API_JWT_EXPIRED);
  cr_assert_eq(claims(p, AT(1004, 5)), API_JWT_OK);
  cr_assert_eq(claims(p, AT(1005, 5)), API_JWT_EXPIRED);
  cr_assert_eq(claims("{\"exp\":1000.5}", AT(1000, 0)), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":1000.5}", AT(1001, 0)), API_JWT_EXPIRED);
  cr_assert_eq(claims("{\"exp\":-1}", AT(1, 0)), API_JWT_EXPIRED);
  cr_assert_eq(claims("{\"exp\":1e300}", AT(1, 0)), API_JWT_OK);
  /* The system clock when now is 0. */
  cr_assert_eq(claims("{\"exp\":4102444800}", NULL), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":1600000000}", NULL), API_JWT_EXPIRED);
}

Test(jwt_claims, nbf_and_iat_boundaries) {
  const char *p = "{\"exp\":5000,\"nbf\":1000}";
  cr_assert_eq(claims(p, AT(999, 0)), API_JWT_NOT_YET_VALID);
  cr_assert_eq(claims(p, AT(1000, 0)), API_JWT_OK);
  cr_assert_eq(claims(p, AT(995, 5)), API_JWT_OK);
  cr_assert_eq(claims(p, AT(994, 5)), API_JWT_NOT_YET_VALID);
  const char *i = "{\"exp\":5000,\"iat\":1000}";
  cr_assert_eq(claims(i, AT(999, 0)), API_JWT_NOT_YET_VALID, "issued in the future");
  cr_assert_eq(claims(i, AT(999, 1)), API_JWT_OK);
  cr_assert_eq(claims(i, AT(1000, 0)), API_JWT_OK);
  cr_assert_eq(claims(i, AT(4000, 0)), API_JWT_OK);
}

Test(jwt_claims, exp_required_unless_allowed) {
  cr_assert_eq(claims("{\"sub\":\"x\"}", AT(1, 0)), API_JWT_MISSING_CLAIM);
  cr_assert_eq(claims("{\"sub\":\"x\"}", API_JWT_VERIFY_OPTIONS(.allow_missing_exp = 1)),
               API_JWT_OK);
  cr_assert_eq(claims("{}", API_JWT_VERIFY_OPTIONS(.allow_missing_exp = 1)), API_JWT_OK);
}

Test(jwt_claims, numeric_dates_must_be_numbers) {
  const char *bad[] = {"{\"exp\":\"4102444800\"}",
                       "{\"exp\":true}",
                       "{\"exp\":null}",
                       "{\"exp\":[4102444800]}",
                       "{\"exp\":4102444800,\"nbf\":\"0\"}",
                       "{\"exp\":4102444800,\"iat\":{}}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(claims(bad[i], NULL), API_JWT_BAD_CLAIM, "%s", bad[i]);
  const char *strs[] = {"{\"exp\":4102444800,\"iss\":1}", "{\"exp\":4102444800,\"sub\":[]}",
                        "{\"exp\":4102444800,\"aud\":5}", "{\"exp\":4102444800,\"aud\":[\"a\",1]}",
                        "{\"exp\":4102444800,\"jti\":false}"};
  for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
    cr_assert_eq(claims(strs[i], NULL), API_JWT_BAD_CLAIM, "%s", strs[i]);
}

Test(jwt_claims, issuer) {
  const api_jwt_verify_options *o = API_JWT_VERIFY_OPTIONS(.issuer = "https://id.example");
  cr_assert_eq(claims("{\"exp\":4102444800,\"iss\":\"https://id.example\"}", o), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":4102444800,\"iss\":\"https://id.example/\"}", o),
               API_JWT_BAD_ISSUER);
  cr_assert_eq(claims("{\"exp\":4102444800,\"iss\":\"HTTPS://ID.EXAMPLE\"}", o),
               API_JWT_BAD_ISSUER);
  cr_assert_eq(claims("{\"exp\":4102444800,\"iss\":\"https://id.example\\u0000x\"}", o),
               API_JWT_MALFORMED, "NUL in a JSON string is refused by the parser");
  cr_assert_eq(claims("{\"exp\":4102444800}", o), API_JWT_BAD_ISSUER);
  cr_assert_eq(claims("{\"exp\":4102444800,\"iss\":\"anyone\"}", NULL), API_JWT_OK);
}

Test(jwt_claims, audience) {
  const char *auds[] = {"api", "admin", NULL};
  const api_jwt_verify_options *o = API_JWT_VERIFY_OPTIONS(.audiences = auds);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":\"api\"}", o), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":\"admin\"}", o), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":[\"x\",\"admin\"]}", o), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":\"API\"}", o), API_JWT_BAD_AUDIENCE);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":\"apis\"}", o), API_JWT_BAD_AUDIENCE);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":[\"x\",\"y\"]}", o), API_JWT_BAD_AUDIENCE);
  cr_assert_eq(claims("{\"exp\":4102444800,\"aud\":[]}", o), API_JWT_BAD_AUDIENCE);
  cr_assert_eq(claims("{\"exp\":4102444800}", o), API_JWT_BAD_AUDIENCE);
  const char *none[] = {NULL};
  cr_assert_eq(
      claims("{\"exp\":4102444800,\"aud\":\"api\"}", API_JWT_VERIFY_OPTIONS(.audiences = none)),
      API_JWT_BAD_AUDIENCE, "an empty list accepts nothing");
}

Test(jwt_claims, subject_and_required_claims) {
  cr_assert_eq(
      claims("{\"exp\":4102444800,\"sub\":\"42\"}", API_JWT_VERIFY_OPTIONS(.subject = "42")),
      API_JWT_OK);
  cr_assert_eq(
      claims("{\"exp\":4102444800,\"sub\":\"420\"}", API_JWT_VERIFY_OPTIONS(.subject = "42")),
      API_JWT_BAD_SUBJECT);
  cr_assert_eq(claims("{\"exp\":4102444800}", API_JWT_VERIFY_OPTIONS(.subject = "42")),
               API_JWT_BAD_SUBJECT);
  const char *req[] = {"sub", "roles", NULL};
  const api_jwt_verify_options *o = API_JWT_VERIFY_OPTIONS(.required_claims = req);
  cr_assert_eq(claims("{\"exp\":4102444800,\"sub\":\"1\",\"roles\":null}", o), API_JWT_OK);
  cr_assert_eq(claims("{\"exp\":4102444800,\"sub\":\"1\"}", o), API_JWT_MISSING_CLAIM);
  cr_assert_eq(claims("{\"exp\":4102444800,\"roles\":[]}", o), API_JWT_MISSING_CLAIM);
}

/* Reasons come in a fixed order: the signature before any claim, exp before iss. */
Test(jwt_claims, order_of_checks) {
  const char *auds[] = {"api", NULL};
  const api_jwt_verify_options *o =
      API_JWT_VERIFY_OPTIONS(.now = 2000, .issuer = "me", .audiences = auds);
  cr_assert_eq(claims("{\"exp\":1000,\"iss\":\"you\",\"aud\":\"x\"}", o), API_JWT_EXPIRED);
  cr_assert_eq(claims("{\"exp\":3000,\"iss\":\"you\",\"aud\":\"x\"}", o), API_JWT_BAD_ISSUER);
  cr_assert_eq(claims("{\"exp\":3000,\"iss\":\"me\",\"aud\":\"x\"}", o), API_JWT_BAD_AUDIENCE);
  unsigned char other[32] = {1};
  api_jwt_keyset *ks = NULL;
  cr_assert_eq(api_jwt_keyset_from_secret(&ks, other, 32, "HS256", NULL), 0);
  char *t = make_token(ks, 0, "{\"alg\":\"HS256\"}", "{\"exp\":1000,\"iss\":\"you\"}");
  cr_assert_eq(check(hs, t, o, NULL), API_JWT_BAD_SIGNATURE);
  api_auth_string_free(t);
  api_jwt_keyset_free(ks);
}

Test(jwt_claims, options_are_validated) {
  char *t = make_token(hs, 0, "{\"alg\":\"HS256\"}", "{\"exp\":4102444800}");
  api_jwt_result r = {0};
  size_t n = strlen(t);
  api_jwt_verify_options o = {0};
  cr_assert_eq(api_jwt_verify(hs, t, n, &o, &r), API_EINVAL, "size 0: not built with the macro");
  api_jwt_result_free(&r);
  o.size = sizeof(o) + 8;
  cr_assert_eq(api_jwt_verify(hs, t, n, &o, &r), API_EINVAL, "from a newer header");
  api_jwt_result_free(&r);
  /* An older, shorter struct is fine. */
  o.size = offsetof(api_jwt_verify_options, issuer);
  cr_assert_eq(api_jwt_verify(hs, t, n, &o, &r), 0);
  api_jwt_result_free(&r);
  cr_assert_eq(api_jwt_verify(hs, t, n, API_JWT_VERIFY_OPTIONS(.leeway = -1), &r), API_EINVAL);
  api_jwt_result_free(&r);
  cr_assert_eq(api_jwt_verify(hs, t, n, API_JWT_VERIFY_OPTIONS(.algorithms = 1u << 20), &r),
               API_EINVAL);
  api_jwt_result_free(&r);
  cr_assert_eq(api_jwt_verify(NULL, t, n, NULL, &r), API_EINVAL);
  api_jwt_result_free(&r);
  cr_assert_eq(api_jwt_verify(hs, NULL, 5, NULL, &r), API_EINVAL);
  api_jwt_result_free(&r);
  cr_assert_eq(api_jwt_verify(hs, t, n, NULL, NULL), API_EINVAL);
  api_jwt_result_free(NULL);
  api_auth_string_free(t);
}

Test(jwt_claims, result_holds_header_and_claims) {
  char *t = make_token(hs, 0, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"x-extra\":[1]}",
                       "{\"exp\":4102444800,\"roles\":[\"a\",\"b\"]}");
  api_jwt_result r;
  cr_assert_eq(check(hs, t, NULL, &r), API_JWT_OK);
  json_t *keep = json_incref(r.claims);
  cr_assert_str_eq(r.kid, "k1");
  cr_assert_eq(json_array_size(json_object_get(r.header, "x-extra")), 1);
  api_jwt_result_free(&r);
  cr_assert_null(r.header);
  cr_assert_eq(json_array_size(json_object_get(keep, "roles")), 2, "a reference outlives res");
  json_decref(keep);
  api_auth_string_free(t);
}

/* ---- signing ---- */

Test(jwt_claims, sign_header_and_key_choice) {
  api_jwt_keyset *a = hs_keyset("HS256", 32, "a"), *b = hs_keyset("HS512", 64, "b"), *ab = NULL;
  cr_assert_eq(api_jwt_keyset_merge(&ab, a, b), 0);
  json_t *claims = json_pack("{s:s,s:I}", "sub", "1", "exp", (json_int_t)4102444800);
  char *t = NULL;
  cr_assert_eq(api_jwt_sign(&t, ab, NULL, NULL, claims, NULL), API_EINVAL, "two keys: ambiguous");
  cr_assert_null(t);
  cr_assert_eq(api_jwt_sign(&t, ab, "HS384", NULL, claims, NULL), API_EINVAL);
  cr_assert_eq(api_jwt_sign(&t, ab, "none", NULL, claims, NULL), API_EINVAL);
  cr_assert_eq(api_jwt_sign(&t, ab, "HS256", "b", claims, NULL), API_EINVAL,
               "alg and kid disagree");
  cr_assert_eq(api_jwt_sign(&t, ab, NULL, "c", claims, NULL), API_EINVAL);
  cr_assert_eq(api_jwt_sign(&t, ab, NULL, "b", claims, NULL), 0);
  api_jwt_result r;
  cr_assert_eq(check(ab, t, NULL, &r), API_JWT_OK);
  cr_assert_eq(r.alg, API_JWT_HS512);
  cr_assert_str_eq(r.kid, "b");
  cr_assert_str_eq(json_string_value(json_object_get(r.header, "typ")), "JWT");
  cr_assert_eq(json_object_size(r.header), 3);
  api_jwt_result_free(&r);
  api_auth_string_free(t);
  /* Extras: typ replaced, other members added; alg, kid and crit cannot be set. */
  json_t *extras = json_pack("{s:s,s:s}", "typ", "at+jwt", "cty", "x");
  cr_assert_eq(api_jwt_sign(&t, ab, "HS256", NULL, claims, extras), 0);
  cr_assert_eq(check(ab, t, API_JWT_VERIFY_OPTIONS(.typ = "at+jwt"), &r), API_JWT_OK);
  cr_assert_str_eq(json_string_value(json_object_get(r.header, "cty")), "x");
  api_jwt_result_free(&r);
  api_auth_string_free(t);
  const char *forbidden[] = {"alg", "kid", "crit"};
  for (int i = 0; i < 3; i++) {
    json_t *x = json_pack("{s:s}", forbidden[i], "none");
    t = NULL;
    cr_assert_eq(api_jwt_sign(&t, ab, "HS256", NULL, claims, x), API_EINVAL, "%s", forbidden[i]);
    cr_assert_null(t);
    json_decref(x);
  }
  /* Claims must be an object; public keys cannot sign. */
  json_t *arr = json_array();
  cr_assert_eq(api_jwt_sign(&t, ab, "HS256", NULL, arr, NULL), API_EINVAL);
  cr_assert_eq(api_jwt_sign(&t, ab, "HS256", NULL, NULL, NULL), API_EINVAL);
  api_jwt_keyset *pub = jwks(RFC7515_A3_JWK_PUBLIC);
  cr_assert_eq(api_jwt_sign(&t, pub, NULL, NULL, claims, NULL), API_EINVAL);
  api_jwt_keyset_free(pub);
  json_decref(arr);
  json_decref(extras);
  json_decref(claims);
  api_jwt_keyset_free(a);
  api_jwt_keyset_free(b);
  api_jwt_keyset_free(ab);
}

/* Every allocation of sign and verify failing in turn: an error or success, never a crash or a
 * leak (the sanitizer build checks the leaks). */
Test(jwt_claims, allocation_failures) {
  json_t *claims = json_pack("{s:s,s:I}", "sub", "1", "exp", (json_int_t)4102444800);
  api_jwt_keyset *ec = jwks(RFC7515_A3_JWK_PRIVATE);
  const api_jwt_keyset *sets[] = {hs, ec};
  for (int s = 0; s < 2; s++) {
    int ok = 0;
    for (long i = 0; i < 50; i++) {
      char *t = NULL;
      api__alloc_fail_nth(i);
      int rc = api_jwt_sign(&t, sets[s], NULL, NULL, claims, NULL);
      api_jwt_result r = {0};
      int vrc = rc == 0 ? api_jwt_verify(sets[s], t, strlen(t), NULL, &r) : -1;
      api__alloc_fail_nth(-1);
      cr_assert(rc == 0 || rc == API_ENOMEM || rc == API_EINTERNAL, "rc %d", rc);
      if (rc == 0) {
        cr_assert(vrc == 0 || vrc == API_ENOMEM, "verify rc %d", vrc);
        if (vrc == API_ENOMEM) cr_assert_eq(r.error, API_JWT_INTERNAL);
        ok += vrc == 0;
      }
      api_jwt_result_free(&r);
      api_auth_string_free(t);
    }
    cr_assert_gt(ok, 0);
  }
  api_jwt_keyset_free(ec);
  json_decref(claims);
}

static void *failing_json_malloc(size_t n) { return api__malloc(n); }

/* jansson's own allocations (the parsed header and claims) fail in turn as well: the token is
 * then not checked (API_ENOMEM, API_JWT_INTERNAL), never called malformed. Two header texts
 * alternate so that the per-thread header cache does not skip the header's parse. */
Test(jwt_claims, json_allocation_failures_are_not_malformed_tokens) {
  char *toks[2] = {make_token(hs, 0, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                              "{\"sub\":\"1\",\"exp\":4102444800,\"roles\":[\"a\",\"b\"]}"),
                   make_token(hs, 0, "{\"alg\":\"HS256\"}",
                              "{\"sub\":\"1\",\"exp\":4102444800,\"n\":{\"a\\u00e9\":[1,2.5]}}")};
  json_set_alloc_funcs(failing_json_malloc, api__free);
  int ok = 0, oom = 0;
  for (long i = 0; i < 80; i++) {
    api_jwt_result r = {0};
    const char *t = toks[i % 2];
    api__alloc_fail_nth(i / 2);
    int rc = api_jwt_verify(hs, t, strlen(t), NULL, &r);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM, "allocation %ld: rc %d (%s)", i / 2, rc, r.message);
    if (rc) cr_assert_eq(r.error, API_JWT_INTERNAL, "allocation %ld: %s", i / 2, r.message);
    ok += rc == 0;
    oom += rc != 0;
    api_jwt_result_free(&r);
  }
  json_set_alloc_funcs(malloc, free);
  cr_assert_gt(ok, 0, "verification succeeds once allocations do");
  cr_assert_gt(oom, 10, "the parser's allocations were made to fail");
  api_auth_string_free(toks[0]);
  api_auth_string_free(toks[1]);
}
