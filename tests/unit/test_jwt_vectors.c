/* JWT/JWS against published vectors: RFC 7515 appendix A (A.1 HS256, A.2 RS256, A.3 ES256,
 * A.4 ES512), RFC 7519 section 3.1 (the same token as A.1), RFC 7520 section 4.4 and RFC 8037
 * (Ed25519). Deterministic algorithms must also reproduce the published signature byte for byte.
 * Also: strict base64url. */
#include "support/jwt_vectors.h"

static void teardown(void) { api__alloc_fail_after(-1); }
TestSuite(jwt_vectors, .fini = teardown);

/* ---- base64url ---- */

static long dec(const char *s, unsigned char *out) { return api__b64url_decode(out, s, strlen(s)); }

Test(jwt_vectors, b64url_round_trip_every_length) {
  unsigned char in[64] = {0}, out[64];
  char enc[100];
  for (size_t n = 0; n <= sizeof(in); n++) {
    for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(i * 37 + n * 11 + 200);
    size_t m = api__b64url_encode(enc, in, n);
    cr_assert_eq(m, api__b64url_encoded_len(n));
    cr_assert_eq(strlen(enc), m);
    cr_assert_null(strpbrk(enc, "=+/"), "no padding and no standard alphabet in %s", enc);
    cr_assert_eq(dec(enc, out), (long)n);
    cr_assert_eq(memcmp(in, out, n), 0);
  }
}

Test(jwt_vectors, b64url_known_values) {
  unsigned char out[16];
  cr_assert_eq(dec("", out), 0);
  cr_assert_eq(dec("Zg", out), 1);
  cr_assert_eq(out[0], 'f');
  cr_assert_eq(dec("Zm9vYg", out), 4);
  cr_assert_eq(memcmp(out, "foob", 4), 0);
  cr_assert_eq(dec("-_-_", out), 3);
  cr_assert_eq(out[0], 0xfb);
  cr_assert_eq(out[1], 0xff);
  cr_assert_eq(out[2], 0xbf);
}

Test(jwt_vectors, b64url_refuses_non_canonical) {
  unsigned char out[16];
  const char *bad[] = {"Zg==",   "Zg=",   "Z",    "Zm9vY", "Zh",   "Zm9=",    "Zm9w=", "Zm 9v",
                       "Zm9v\n", " Zm9v", "+/+/", "ab/c",  "ab+c", "Zm9\x80", "Zm9v\0"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(api__b64url_decode(out, bad[i], strlen(bad[i]) + (i == 14)), -1, "accepted %s",
                 bad[i]);
  /* Non-zero unused bits: "Zh" and "Zg" would both decode to "f". */
  cr_assert_eq(dec("Zh", out), -1);
  cr_assert_eq(dec("Zm8", out), 2); /* "fo" */
  cr_assert_eq(dec("Zm9", out), -1);
  cr_assert_eq(dec("Zm-", out), -1);
  for (int c = 0; c < 256; c++) {
    char s[5] = {'A', 'A', 'A', (char)c, 0};
    bool valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
    cr_assert_eq(api__b64url_decode(out, s, 4) == 3, valid, "byte %d", c);
  }
}

/* ---- RFC 7515 A.1 / RFC 7519 3.1: HS256 ---- */

#define AT_RFC_TIME API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 100, .issuer = "joe")

Test(jwt_vectors, rfc7515_a1_hs256_verifies) {
  api_jwt_keyset *ks = jwks(RFC7515_A1_JWK);
  api_jwt_result r;
  /* Twice: the second run goes through the cached per-thread HMAC context. */
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(check(ks, RFC7515_A1_TOKEN, AT_RFC_TIME, &r), API_JWT_OK, "%s", r.message);
    cr_assert_eq(r.alg, API_JWT_HS256);
    cr_assert_str_eq(json_string_value(json_object_get(r.claims, "iss")), "joe");
    cr_assert_eq(json_integer_value(json_object_get(r.claims, "exp")), RFC7515_EXP);
    cr_assert(json_is_true(json_object_get(r.claims, "http://example.com/is_root")));
    cr_assert_str_eq(json_string_value(json_object_get(r.header, "typ")), "JWT");
    cr_assert_null(r.kid);
    api_jwt_result_free(&r);
    cr_assert_null(r.claims);
  }
  /* At the RFC's exp it is expired: the vector is old. */
  cr_assert_eq(check(ks, RFC7515_A1_TOKEN, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP), NULL),
               API_JWT_EXPIRED);
  cr_assert_eq(check(ks, RFC7515_A1_TOKEN, NULL, NULL), API_JWT_EXPIRED);
  api_jwt_keyset_free(ks);
}

Test(jwt_vectors, rfc7515_a1_signing_is_byte_exact) {
  api_jwt_keyset *ks = jwks(RFC7515_A1_JWK);
  char *tok = make_token(ks, 0, RFC7515_A1_HEADER, RFC7515_PAYLOAD);
  cr_assert_str_eq(tok, RFC7515_A1_TOKEN);
  api_auth_string_free(tok);
  api_jwt_keyset_free(ks);
}

/* ---- RFC 7515 A.2: RS256 ---- */

Test(jwt_vectors, rfc7515_a2_rs256_verifies_and_signs) {
  api_jwt_keyset *pub = jwks(RFC7515_A2_JWK_PUBLIC), *priv = jwks(RFC7515_A2_JWK_PRIVATE);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(check(pub, RFC7515_A2_TOKEN, AT_RFC_TIME, NULL), API_JWT_OK);
    cr_assert_eq(check(priv, RFC7515_A2_TOKEN, AT_RFC_TIME, NULL), API_JWT_OK);
  }
  /* PKCS#1 v1.5 is deterministic: the private key reproduces the RFC's signature. */
  char *tok = make_token(priv, 0, "{\"alg\":\"RS256\"}", RFC7515_PAYLOAD);
  cr_assert_str_eq(tok, RFC7515_A2_TOKEN);
  api_auth_string_free(tok);
  cr_assert_eq(api_jwt_keyset_count(pub), 1);
  api_jwt_keyset_free(pub);
  api_jwt_keyset_free(priv);
}

/* ---- RFC 7515 A.3 and A.4: ECDSA (randomized: verify the given tokens) ---- */

Test(jwt_vectors, rfc7515_a3_es256_verifies) {
  api_jwt_keyset *ks = jwks(RFC7515_A3_JWK_PUBLIC);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(check(ks, RFC7515_A3_TOKEN, AT_RFC_TIME, NULL), API_JWT_OK);
  api_jwt_keyset_free(ks);
}

Test(jwt_vectors, rfc7515_a4_es512_verifies_jws) {
  api_jwt_keyset *ks = jwks(RFC7515_A4_JWK_PUBLIC);
  const char *t = RFC7515_A4_TOKEN;
  unsigned char buf[512], *payload;
  size_t pn;
  api_jwt_result r = {0};
  cr_assert_eq(api__jws_verify(ks, t, strlen(t), ks->algs, NULL, &r, buf, &payload, &pn), 0, "%s",
               r.message);
  cr_assert_eq(pn, 7);
  cr_assert_eq(memcmp(payload, "Payload", 7), 0);
  cr_assert_eq(r.alg, API_JWT_ES512);
  api_jwt_result_free(&r);
  /* As a JWT it is malformed: "Payload" is not a JSON object. */
  cr_assert_eq(check(ks, t, NULL, NULL), API_JWT_MALFORMED);
  api_jwt_keyset_free(ks);
}

/* ---- RFC 8037: Ed25519 ---- */

Test(jwt_vectors, rfc8037_ed25519_verifies_and_signs) {
  api_jwt_keyset *pub = jwks(RFC8037_JWK_PUBLIC), *priv = jwks(RFC8037_JWK_PRIVATE);
  const char *t = RFC8037_TOKEN;
  unsigned char buf[512], *payload;
  size_t pn;
  api_jwt_result r = {0};
  cr_assert_eq(api__jws_verify(pub, t, strlen(t), pub->algs, NULL, &r, buf, &payload, &pn), 0, "%s",
               r.message);
  cr_assert_eq(pn, strlen(RFC8037_PAYLOAD));
  cr_assert_eq(memcmp(payload, RFC8037_PAYLOAD, pn), 0);
  cr_assert_eq(r.alg, API_JWT_EDDSA);
  api_jwt_result_free(&r);
  /* Ed25519 is deterministic. */
  char *tok = make_token(priv, 0, "{\"alg\":\"EdDSA\"}", RFC8037_PAYLOAD);
  cr_assert_str_eq(tok, RFC8037_TOKEN);
  api_auth_string_free(tok);
  api_jwt_keyset_free(pub);
  api_jwt_keyset_free(priv);
}

/* ---- RFC 7520 4.4: HS256 with a kid ---- */

Test(jwt_vectors, rfc7520_hs256_with_kid) {
  api_jwt_keyset *ks = jwks(RFC7520_JWK);
  const char *t = RFC7520_TOKEN;
  unsigned char buf[512], *payload;
  size_t pn;
  api_jwt_result r = {0};
  cr_assert_eq(api__jws_verify(ks, t, strlen(t), ks->algs, NULL, &r, buf, &payload, &pn), 0, "%s",
               r.message);
  cr_assert_str_eq(r.kid, RFC7520_KID);
  cr_assert_eq(pn, strlen(RFC7520_PAYLOAD));
  cr_assert_eq(memcmp(payload, RFC7520_PAYLOAD, pn), 0);
  api_jwt_result_free(&r);
  char *tok = make_token(ks, 0, RFC7520_HEADER, RFC7520_PAYLOAD);
  cr_assert_str_eq(tok, RFC7520_TOKEN);
  api_auth_string_free(tok);
  api_jwt_keyset_free(ks);
}

/* ---- every algorithm through the public API ---- */

static void round_trip(api_jwt_keyset *ks, const char *alg) {
  json_t *claims = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:I, s:I}", "sub", "42", "name", "Ada",
                             "roles", "admin", "iss", "https://auth.example.com", "aud", "api",
                             "iat", (json_int_t)1700000000, "exp", (json_int_t)1700007200);
  char *tok = NULL;
  cr_assert_eq(api_jwt_sign(&tok, ks, alg, NULL, claims, NULL), 0, "%s: %s", alg, api_last_error());
  const char *auds[] = {"other", "api", NULL};
  api_jwt_result r;
  cr_assert_eq(check(ks, tok,
                     API_JWT_VERIFY_OPTIONS(.now = 1700000100, .issuer = "https://auth.example.com",
                                            .audiences = auds, .typ = "JWT"),
                     &r),
               API_JWT_OK, "%s: %s", alg, r.message);
  cr_assert_str_eq(api_jwt_alg_name(r.alg), alg);
  cr_assert(json_equal(r.claims, claims));
  api_jwt_result_free(&r);
  /* One flipped signature bit fails. */
  size_t n = strlen(tok);
  tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
  cr_assert_eq(check(ks, tok, API_JWT_VERIFY_OPTIONS(.now = 1700000100), NULL),
               API_JWT_BAD_SIGNATURE, "%s", alg);
  api_auth_string_free(tok);
  json_decref(claims);
}

Test(jwt_vectors, every_algorithm_round_trips) {
  static const char *hs[] = {"HS256", "HS384", "HS512"};
  for (int i = 0; i < 3; i++) {
    api_jwt_keyset *ks = hs_keyset(hs[i], 64, NULL);
    round_trip(ks, hs[i]);
    api_jwt_keyset_free(ks);
  }
  static const char *rsa[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
  for (int i = 0; i < 6; i++) {
    char json[4096];
    snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"alg\":\"%s\",\"n\":\"%s\",\"e\":\"AQAB\",%s}",
             rsa[i], RFC7515_RSA_N, RFC7515_RSA_PRIVATE);
    api_jwt_keyset *ks = jwks(json);
    round_trip(ks, rsa[i]);
    api_jwt_keyset_free(ks);
  }
  static const char *ec[][2] = {{"ES256", "P-256"}, {"ES384", "P-384"}, {"ES512", "P-521"}};
  for (int i = 0; i < 3; i++) {
    EVP_PKEY *p = gen_key("EC", ec[i][1]);
    char *pem = pem_of(p, 1);
    api_jwt_keyset *ks = pem_keyset(pem, NULL, "ec");
    round_trip(ks, ec[i][0]);
    api_jwt_keyset_free(ks);
    free(pem);
    EVP_PKEY_free(p);
  }
  api_jwt_keyset *ed = jwks(RFC8037_JWK_PRIVATE);
  round_trip(ed, "EdDSA");
  api_jwt_keyset_free(ed);
}

/* PS signatures are randomized; two signatures differ, both verify. */
Test(jwt_vectors, pss_is_randomized_and_verifies) {
  char json[4096];
  snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"alg\":\"PS256\",\"n\":\"%s\",\"e\":\"AQAB\",%s}",
           RFC7515_RSA_N, RFC7515_RSA_PRIVATE);
  api_jwt_keyset *ks = jwks(json);
  char *a = make_token(ks, 0, "{\"alg\":\"PS256\"}", "{\"exp\":2000000000}");
  char *b = make_token(ks, 0, "{\"alg\":\"PS256\"}", "{\"exp\":2000000000}");
  cr_assert_str_neq(a, b);
  cr_assert_eq(check(ks, a, NULL, NULL), API_JWT_OK);
  cr_assert_eq(check(ks, b, NULL, NULL), API_JWT_OK);
  /* The same key pinned to RS256 does not accept the PS256 token. */
  snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"AQAB\"}",
           RFC7515_RSA_N);
  api_jwt_keyset *rs = jwks(json);
  cr_assert_eq(check(rs, a, NULL, NULL), API_JWT_ALG_NOT_ALLOWED);
  api_auth_string_free(a);
  api_auth_string_free(b);
  api_jwt_keyset_free(ks);
  api_jwt_keyset_free(rs);
}

Test(jwt_vectors, alg_names) {
  for (int a = API_JWT_HS256; a <= API_JWT_EDDSA; a++)
    cr_assert_eq(api_jwt_alg_from_name(api_jwt_alg_name((api_jwt_alg)a)), a);
  cr_assert_null(api_jwt_alg_name(API_JWT_ALG_UNKNOWN));
  cr_assert_null(api_jwt_alg_name((api_jwt_alg)99));
  const char *unknown[] = {"none",  "None",   "NONE", "nOnE",  "hs256",
                           "EDDSA", "ES256K", "",     "HS256 "};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
    cr_assert_eq(api_jwt_alg_from_name(unknown[i]), API_JWT_ALG_UNKNOWN, "%s", unknown[i]);
  cr_assert_eq(api_jwt_alg_from_name(NULL), API_JWT_ALG_UNKNOWN);
  cr_assert_str_eq(api_jwt_error_name(API_JWT_EXPIRED), "expired");
  cr_assert_str_eq(api_jwt_error_name((api_jwt_error)1000), "unknown");
  for (int e = API_JWT_OK; e <= API_JWT_INTERNAL; e++) {
    cr_assert_not_null(api_jwt_error_name((api_jwt_error)e));
    cr_assert_not_null(api_jwt_error_description((api_jwt_error)e));
    cr_assert_null(strchr(api_jwt_error_description((api_jwt_error)e), '"'),
                   "descriptions go inside a quoted-string");
  }
}
