/* Hostile tokens: every one must be refused, for the right reason. The key sets are generated or
 * come from the RFC vectors; tokens are built part by part so each attack is exactly one change
 * from a valid token. */
#include "support/jwt_vectors.h"

#define CLAIMS "{\"sub\":\"42\",\"exp\":4102444800}"
#define H_HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static api_jwt_keyset *hs;

static void setup(void) { hs = hs_keyset("HS256", 32, NULL); }
static void teardown(void) {
  api_jwt_keyset_free(hs);
  api__alloc_fail_after(-1);
}
TestSuite(jwt_attacks, .init = setup, .fini = teardown);

Test(jwt_attacks, baseline_is_valid) {
  char *t = make_token(hs, 0, H_HS256, CLAIMS);
  cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_OK);
  api_auth_string_free(t);
}

/* ---- alg "none" ---- */

Test(jwt_attacks, alg_none_in_any_case_with_and_without_signature) {
  const char *names[] = {"none", "None", "NONE", "nOnE", "NoNe"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char header[64];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", names[i]);
    const char *sigs[] = {"", "AAAA", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"};
    for (size_t j = 0; j < 3; j++) {
      char *t = raw_token(header, CLAIMS, sigs[j]);
      cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_ALG_NOT_ALLOWED, "%s", t);
      /* Even when the caller lists every algorithm. */
      cr_assert_eq(check(hs, t, API_JWT_VERIFY_OPTIONS(.algorithms = 0x3ffe), NULL),
                   API_JWT_ALG_NOT_ALLOWED);
      free(t);
    }
  }
  /* RFC 7515 A.5, the unsecured JWS. */
  api_jwt_keyset *ks = jwks(RFC7515_A1_JWK);
  const char *a5 = "eyJhbGciOiJub25lIn0." RFC7515_PAYLOAD_B64 ".";
  cr_assert_eq(check(ks, a5, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL),
               API_JWT_ALG_NOT_ALLOWED);
  api_jwt_keyset_free(ks);
}

Test(jwt_attacks, alg_unknown_or_not_a_string) {
  const char *headers[] = {"{\"alg\":\"HS257\"}", "{\"alg\":\"hs256\"}", "{\"alg\":\"\"}",
                           "{\"alg\":\"ES256K\"}"};
  for (size_t i = 0; i < 4; i++) {
    char *t = make_token(hs, 0, headers[i], CLAIMS); /* signed with the HS256 key anyway */
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_ALG_NOT_ALLOWED, "%s", headers[i]);
    api_auth_string_free(t);
  }
  const char *malformed[] = {"{\"alg\":256}", "{\"alg\":null}", "{\"typ\":\"JWT\"}",
                             "{\"alg\":[\"HS256\"]}"};
  for (size_t i = 0; i < 4; i++) {
    char *t = make_token(hs, 0, malformed[i], CLAIMS);
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED, "%s", malformed[i]);
    api_auth_string_free(t);
  }
}

/* ---- algorithm confusion ---- */

/* The classic: an HS256 token whose HMAC key is the server's RSA public key PEM. */
Test(jwt_attacks, hs256_signed_with_rsa_public_pem) {
  api_jwt_keyset *rsa = jwks(RFC7515_A2_JWK_PUBLIC);
  char *pem_jwks = NULL;
  cr_assert_eq(api_jwt_keyset_to_jwks(&pem_jwks, rsa), 0);
  /* The attacker's "secret": the PEM text of the public key. */
  EVP_PKEY *pub = rsa->keys[0]->pkey;
  char *pem = pem_of(pub, 0);
  api_jwt_keyset *evil = NULL;
  cr_assert_eq(api_jwt_keyset_from_secret(&evil, pem, strlen(pem), "HS256", NULL), 0);
  char *t = make_token(evil, 0, H_HS256, CLAIMS);
  cr_assert_eq(check(evil, t, NULL, NULL), API_JWT_OK, "the forgery is a valid HS256 token...");
  /* ...but not for a key set that holds the RSA key: pinned to RS256, from JWKS or PEM. */
  cr_assert_eq(check(rsa, t, NULL, NULL), API_JWT_ALG_NOT_ALLOWED);
  cr_assert_eq(check(rsa, t,
                     API_JWT_VERIFY_OPTIONS(.algorithms = API_JWT_ALG_BIT(API_JWT_HS256) |
                                                          API_JWT_ALG_BIT(API_JWT_RS256)),
                     NULL),
               API_JWT_ALG_NOT_ALLOWED);
  api_jwt_keyset *from_pem = pem_keyset(pem, "RS256", NULL);
  cr_assert_eq(check(from_pem, t, NULL, NULL), API_JWT_ALG_NOT_ALLOWED);
  /* A PEM cannot be loaded as an HMAC key, whatever alg is asked for. */
  api_jwt_keyset *ks = NULL;
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, pem, strlen(pem), "HS256", NULL), API_EINVAL);
  cr_assert_null(ks);
  /* With an HS key in the same set, the RSA-kid token is checked against the real secret only. */
  api_jwt_keyset *both = NULL, *rsa_kid = pem_keyset(pem, "RS256", "rsa1");
  cr_assert_eq(api_jwt_keyset_merge(&both, hs, rsa_kid), 0);
  char *t2 = make_token(evil, 0, "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", CLAIMS);
  api_jwt_error e = check(both, t2, NULL, NULL);
  cr_assert(e == API_JWT_BAD_SIGNATURE, "got %s", api_jwt_error_name(e));
  api_jwt_keyset *rsa_only_kid = pem_keyset(pem, "RS256", "rsa1");
  cr_assert_eq(check(rsa_only_kid, t2, API_JWT_VERIFY_OPTIONS(.algorithms = 0x3ffe), NULL),
               API_JWT_ALG_NOT_ALLOWED);
  api_auth_string_free(t);
  api_auth_string_free(t2);
  api_auth_string_free(pem_jwks);
  free(pem);
  api_jwt_keyset_free(rsa);
  api_jwt_keyset_free(evil);
  api_jwt_keyset_free(from_pem);
  api_jwt_keyset_free(both);
  api_jwt_keyset_free(rsa_kid);
  api_jwt_keyset_free(rsa_only_kid);
}

Test(jwt_attacks, same_secret_other_hash_is_refused) {
  unsigned char secret[64] = {7};
  api_jwt_keyset *k256 = NULL, *k512 = NULL;
  cr_assert_eq(api_jwt_keyset_from_secret(&k256, secret, 64, "HS256", NULL), 0);
  cr_assert_eq(api_jwt_keyset_from_secret(&k512, secret, 64, "HS512", NULL), 0);
  char *t = make_token(k512, 0, "{\"alg\":\"HS512\"}", CLAIMS);
  cr_assert_eq(check(k256, t, NULL, NULL), API_JWT_ALG_NOT_ALLOWED);
  cr_assert_eq(check(k512, t, NULL, NULL), API_JWT_OK);
  cr_assert_eq(
      check(k512, t, API_JWT_VERIFY_OPTIONS(.algorithms = API_JWT_ALG_BIT(API_JWT_HS256)), NULL),
      API_JWT_ALG_NOT_ALLOWED);
  api_auth_string_free(t);
  api_jwt_keyset_free(k256);
  api_jwt_keyset_free(k512);
}

/* A token carrying its own key ("jwk" header) is checked with the server's keys only. */
Test(jwt_attacks, embedded_jwk_header_is_ignored) {
  EVP_PKEY *mine = gen_key("EC", "P-256"), *theirs = gen_key("EC", "P-256");
  char *mine_pem = pem_of(mine, 0), *theirs_pem = pem_of(theirs, 1);
  api_jwt_keyset *server = pem_keyset(mine_pem, NULL, NULL);
  api_jwt_keyset *attacker = pem_keyset(theirs_pem, "ES256", NULL);
  char *attacker_jwks = NULL;
  cr_assert_eq(api_jwt_keyset_to_jwks(&attacker_jwks, attacker), 0);
  json_t *jwkset = json_loads(attacker_jwks, 0, NULL);
  char *jwk = json_dumps(json_array_get(json_object_get(jwkset, "keys"), 0), JSON_COMPACT);
  char header[1024];
  snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"jwk\":%s,\"jku\":\"https://evil\"}", jwk);
  char *t = make_token(attacker, 0, header, CLAIMS);
  cr_assert_eq(check(server, t, NULL, NULL), API_JWT_BAD_SIGNATURE);
  cr_assert_eq(check(attacker, t, NULL, NULL), API_JWT_OK);
  free(jwk);
  json_decref(jwkset);
  api_auth_string_free(attacker_jwks);
  api_auth_string_free(t);
  free(mine_pem);
  free(theirs_pem);
  EVP_PKEY_free(mine);
  EVP_PKEY_free(theirs);
  api_jwt_keyset_free(server);
  api_jwt_keyset_free(attacker);
}

/* ---- signatures ---- */

Test(jwt_attacks, stripped_or_truncated_signature) {
  char *t = make_token(hs, 0, H_HS256, CLAIMS);
  char *dot = strrchr(t, '.');
  char saved = dot[1];
  dot[1] = 0; /* "h.p." */
  cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_BAD_SIGNATURE);
  dot[0] = 0; /* "h.p" */
  cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED);
  dot[0] = '.';
  dot[1] = saved;
  /* Truncated HMACs (16 and 31 bytes), one byte too many, and a 64-byte one. */
  unsigned char mac[64] = {0};
  cr_assert_eq(api__b64url_decode(mac, dot + 1, strlen(dot + 1)), 32);
  size_t lens[] = {16, 31, 33, 64};
  for (int i = 0; i < 4; i++) {
    char b64[100], *forged;
    api__b64url_encode(b64, mac, lens[i]);
    *dot = 0;
    size_t hn = strlen(t);
    forged = malloc(hn + strlen(b64) + 2);
    sprintf(forged, "%s.%s", t, b64);
    *dot = '.';
    cr_assert_eq(check(hs, forged, NULL, NULL), API_JWT_BAD_SIGNATURE, "%zu bytes", lens[i]);
    free(forged);
  }
  api_auth_string_free(t);
}

Test(jwt_attacks, tampered_payload_and_header) {
  char *t = make_token(hs, 0, H_HS256, CLAIMS);
  char *sig = strrchr(t, '.');
  /* The same signature on other claims. */
  char *forged = raw_token(H_HS256, "{\"sub\":\"1\",\"exp\":4102444800}", sig + 1);
  cr_assert_eq(check(hs, forged, NULL, NULL), API_JWT_BAD_SIGNATURE);
  free(forged);
  forged = raw_token("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", CLAIMS, sig + 1);
  cr_assert_eq(check(hs, forged, NULL, NULL), API_JWT_BAD_SIGNATURE);
  free(forged);
  /* Every single-character change anywhere in the token is refused. */
  size_t n = strlen(t);
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    t[i] = c == 'A' ? 'Q' : c == '.' ? 'x' : 'A';
    cr_assert_neq(check(hs, t, NULL, NULL), API_JWT_OK, "changed byte %zu", i);
    t[i] = c;
  }
  cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_OK);
  api_auth_string_free(t);
}

/* CVE-2022-21449: ECDSA with r = s = 0 verified in Java 15-18. */
Test(jwt_attacks, ecdsa_zero_and_out_of_range_signatures) {
  api_jwt_keyset *ks = jwks(RFC7515_A3_JWK_PUBLIC);
  unsigned char sig[64] = {0};
  char b64[100];
  api__b64url_encode(b64, sig, 64);
  char *t = raw_token("{\"alg\":\"ES256\"}", CLAIMS, b64);
  cr_assert_eq(check(ks, t, NULL, NULL), API_JWT_BAD_SIGNATURE);
  free(t);
  /* r = 0 only, s = 0 only. */
  for (int half = 0; half < 2; half++) {
    memset(sig, 0, 64);
    memset(sig + (half ? 0 : 32), 0x11, 32);
    api__b64url_encode(b64, sig, 64);
    t = raw_token("{\"alg\":\"ES256\"}", CLAIMS, b64);
    cr_assert_eq(check(ks, t, NULL, NULL), API_JWT_BAD_SIGNATURE);
    free(t);
  }
  /* r = s = n (the group order), which OpenSSL must refuse on its own. */
  static const unsigned char order[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
                                          0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                          0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84,
                                          0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
  memcpy(sig, order, 32);
  memcpy(sig + 32, order, 32);
  api__b64url_encode(b64, sig, 64);
  t = raw_token("{\"alg\":\"ES256\"}", CLAIMS, b64);
  cr_assert_eq(check(ks, t, NULL, NULL), API_JWT_BAD_SIGNATURE);
  free(t);
  /* The RFC token with its signature in DER form instead of r||s, and with one byte cut. */
  const char *rfc = RFC7515_A3_TOKEN;
  const char *s = strrchr(rfc, '.') + 1;
  unsigned char raw[64];
  cr_assert_eq(api__b64url_decode(raw, s, strlen(s)), 64);
  unsigned char der[80] = {0x30, 68, 0x02, 32};
  memcpy(der + 4, raw, 32);
  der[36] = 0x02;
  der[37] = 32;
  memcpy(der + 38, raw + 32, 32);
  char derb64[120];
  api__b64url_encode(derb64, der, 70);
  t = raw_token("{\"alg\":\"ES256\"}", RFC7515_PAYLOAD, derb64);
  cr_assert_eq(check(ks, t, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL),
               API_JWT_BAD_SIGNATURE);
  free(t);
  api__b64url_encode(b64, raw, 63);
  t = raw_token("{\"alg\":\"ES256\"}", RFC7515_PAYLOAD, b64);
  cr_assert_eq(check(ks, t, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL),
               API_JWT_BAD_SIGNATURE);
  free(t);
  /* The genuine one still verifies after all of this (cached contexts are not poisoned). */
  cr_assert_eq(check(ks, rfc, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL), API_JWT_OK);
  api_jwt_keyset_free(ks);
}

/* ---- structure and encoding ---- */

Test(jwt_attacks, structure) {
  char *t = make_token(hs, 0, H_HS256, CLAIMS);
  char buf[1024];
  const char *fmts[] = {"%s.", ".%s", "%s.e30", "%s..", " %s", "%s ", "%s\n", "%s\r\n"};
  for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
    snprintf(buf, sizeof(buf), fmts[i], t);
    api_jwt_error e = check(hs, buf, NULL, NULL);
    cr_assert(e == API_JWT_MALFORMED, "%s: %s", fmts[i], api_jwt_error_name(e));
  }
  const char *bad[] = {"", ".", "..", "...", "a", "a.b", "a.b.c", "e30.e30.", ".e30.AAAA"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    api_jwt_error e = check(hs, bad[i], NULL, NULL);
    cr_assert(e == API_JWT_MALFORMED || e == API_JWT_BAD_SIGNATURE, "\"%s\": %s", bad[i],
              api_jwt_error_name(e));
  }
  /* A NUL inside the token (len covers it). */
  api_jwt_result r = {0};
  size_t n = strlen(t);
  memcpy(buf, t, n + 1);
  buf[5] = 0;
  cr_assert_eq(api_jwt_verify(hs, buf, n, NULL, &r), API_EUNAUTHORIZED);
  cr_assert_eq(r.error, API_JWT_MALFORMED);
  api_jwt_result_free(&r);
  api_auth_string_free(t);
}

Test(jwt_attacks, bad_base64url_in_each_part) {
  char *t = make_token(hs, 0, H_HS256, CLAIMS);
  char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
  size_t parts[3] = {0, (size_t)(d1 - t) + 1, (size_t)(d2 - t) + 1};
  const char *inserts[] = {"=", "==", " ", "\t", "\n", "+", "/", "%3D", "\xc3\xa9"};
  char buf[1024];
  for (int p = 0; p < 3; p++) {
    for (size_t i = 0; i < sizeof(inserts) / sizeof(inserts[0]); i++) {
      /* At the part's start and at its end. */
      for (int at_end = 0; at_end < 2; at_end++) {
        size_t pos = at_end ? (p == 0   ? (size_t)(d1 - t)
                               : p == 1 ? (size_t)(d2 - t)
                                        : strlen(t))
                            : parts[p];
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)pos, t, inserts[i], t + pos);
        cr_assert_eq(check(hs, buf, NULL, NULL), API_JWT_MALFORMED, "part %d, \"%s\"", p,
                     inserts[i]);
      }
    }
    /* '+' and '/' in place of '-' and '_' (the standard alphabet). */
    snprintf(buf, sizeof(buf), "%s", t);
    buf[parts[p] + 1] = '+';
    cr_assert_eq(check(hs, buf, NULL, NULL), API_JWT_MALFORMED);
    buf[parts[p] + 1] = '/';
    cr_assert_eq(check(hs, buf, NULL, NULL), API_JWT_MALFORMED);
  }
  api_auth_string_free(t);
  /* Non-canonical trailing bits in the signature: the same bytes, another string. */
  t = make_token(hs, 0, H_HS256, CLAIMS);
  size_t n = strlen(t);
  const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int v = (int)(strchr(alpha, t[n - 1]) - alpha);
  t[n - 1] = alpha[v | 1]; /* 32 bytes = 43 chars: the last one has 2 unused bits */
  if (v & 1) t[n - 1] = alpha[v | 2];
  cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED);
  api_auth_string_free(t);
}

Test(jwt_attacks, duplicate_json_keys) {
  const char *headers[] = {"{\"alg\":\"HS256\",\"alg\":\"none\"}",
                           "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
                           "{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}"};
  for (int i = 0; i < 3; i++) {
    char *t = make_token(hs, 0, headers[i], CLAIMS);
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED, "%s", headers[i]);
    api_auth_string_free(t);
  }
  const char *payloads[] = {"{\"sub\":\"a\",\"sub\":\"admin\",\"exp\":4102444800}",
                            "{\"exp\":1,\"exp\":4102444800}",
                            "{\"exp\":4102444800,\"r\":{\"x\":1,\"x\":2}}"};
  for (int i = 0; i < 3; i++) {
    char *t = make_token(hs, 0, H_HS256, payloads[i]);
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED, "%s", payloads[i]);
    api_auth_string_free(t);
  }
}

Test(jwt_attacks, header_and_payload_shapes) {
  const char *headers[] = {"[\"HS256\"]",
                           "\"HS256\"",
                           "{\"alg\":\"HS256\"",
                           "{\"alg\":\"HS256\"}x",
                           "{\"alg\":\"HS256\",\"kid\":7}",
                           "{\"alg\":\"HS256\",\"typ\":1}",
                           "{\"alg\":\"HS\\u0000256\"}",
                           "{\"alg\":\"HS256\",\"x\":\"\xff\"}",
                           ""};
  for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
    char *t = make_token(hs, 0, headers[i], CLAIMS);
    api_jwt_error e = check(hs, t, NULL, NULL);
    cr_assert(e == API_JWT_MALFORMED, "%s: %s", headers[i], api_jwt_error_name(e));
    api_auth_string_free(t);
  }
  const char *payloads[] = {"[]", "42", "\"x\"", "null", "", "{\"exp\":4102444800", "{}{}"};
  for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
    char *t = make_token(hs, 0, H_HS256, payloads[i]);
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED, "%s", payloads[i]);
    api_auth_string_free(t);
  }
}

Test(jwt_attacks, crit_is_refused) {
  const char *headers[] = {"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1363284000}",
                           "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
                           "{\"alg\":\"HS256\",\"crit\":[\"http://example.invalid/UNDEFINED\"]}"};
  for (int i = 0; i < 3; i++) {
    char *t = make_token(hs, 0, headers[i], CLAIMS);
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_UNKNOWN_CRIT, "%s", headers[i]);
    api_auth_string_free(t);
  }
  const char *bad[] = {"{\"alg\":\"HS256\",\"crit\":[]}", "{\"alg\":\"HS256\",\"crit\":\"exp\"}",
                       "{\"alg\":\"HS256\",\"crit\":[1]}"};
  for (int i = 0; i < 3; i++) {
    char *t = make_token(hs, 0, bad[i], CLAIMS);
    cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_MALFORMED, "%s", bad[i]);
    api_auth_string_free(t);
  }
}

Test(jwt_attacks, typ_when_required) {
  char *jwt = make_token(hs, 0, H_HS256, CLAIMS);
  char *at = make_token(hs, 0, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", CLAIMS);
  char *app = make_token(hs, 0, "{\"alg\":\"HS256\",\"typ\":\"application/AT+JWT\"}", CLAIMS);
  char *none = make_token(hs, 0, "{\"alg\":\"HS256\"}", CLAIMS);
  const api_jwt_verify_options *want_at = API_JWT_VERIFY_OPTIONS(.typ = "at+jwt");
  cr_assert_eq(check(hs, at, want_at, NULL), API_JWT_OK);
  cr_assert_eq(check(hs, app, want_at, NULL), API_JWT_OK);
  cr_assert_eq(check(hs, jwt, want_at, NULL), API_JWT_BAD_TYP);
  cr_assert_eq(check(hs, none, want_at, NULL), API_JWT_BAD_TYP);
  cr_assert_eq(check(hs, jwt, API_JWT_VERIFY_OPTIONS(.typ = "JWT"), NULL), API_JWT_OK);
  cr_assert_eq(check(hs, at, API_JWT_VERIFY_OPTIONS(.typ = "JWT"), NULL), API_JWT_BAD_TYP);
  cr_assert_eq(check(hs, none, NULL, NULL), API_JWT_OK, "typ not checked unless asked");
  api_auth_string_free(jwt);
  api_auth_string_free(at);
  api_auth_string_free(app);
  api_auth_string_free(none);
}

/* ---- size ---- */

Test(jwt_attacks, oversized_tokens) {
  size_t big = 20000;
  char *payload = malloc(big + 64);
  int n = snprintf(payload, big + 64, "{\"exp\":4102444800,\"pad\":\"");
  memset(payload + n, 'x', big);
  strcpy(payload + n + big, "\"}");
  char *t = make_token(hs, 0, H_HS256, payload);
  size_t len = strlen(t);
  cr_assert_gt(len, API_JWT_DEFAULT_MAX_TOKEN_SIZE);
  cr_assert_eq(check(hs, t, NULL, NULL), API_JWT_TOO_LARGE);
  cr_assert_eq(check(hs, t, API_JWT_VERIFY_OPTIONS(.max_token_size = len - 1), NULL),
               API_JWT_TOO_LARGE);
  /* Allowed when configured: decoded on the heap. */
  cr_assert_eq(check(hs, t, API_JWT_VERIFY_OPTIONS(.max_token_size = len), NULL), API_JWT_OK);
  /* Out of memory for that buffer: an internal error, not a refusal. */
  api_jwt_result r = {0};
  api__alloc_fail_nth(0);
  int rc = api_jwt_verify(hs, t, len, API_JWT_VERIFY_OPTIONS(.max_token_size = len), &r);
  api__alloc_fail_nth(-1);
  cr_assert_eq(rc, API_ENOMEM);
  cr_assert_eq(r.error, API_JWT_INTERNAL);
  api_jwt_result_free(&r);
  /* A small limit applies to small tokens too; the hard limit cannot be exceeded. */
  char *small = make_token(hs, 0, H_HS256, CLAIMS);
  cr_assert_eq(check(hs, small, API_JWT_VERIFY_OPTIONS(.max_token_size = 50), NULL),
               API_JWT_TOO_LARGE);
  cr_assert_eq(api_jwt_verify(hs, small, strlen(small),
                              API_JWT_VERIFY_OPTIONS(.max_token_size = 2 * 1024 * 1024), &r),
               API_EINVAL);
  api_jwt_result_free(&r);
  api_auth_string_free(small);
  api_auth_string_free(t);
  free(payload);
}

/* ---- keys ---- */

Test(jwt_attacks, kid_selection) {
  api_jwt_keyset *a = hs_keyset("HS256", 32, "a"), *b = NULL, *ab = NULL;
  unsigned char other[32] = {9};
  cr_assert_eq(api_jwt_keyset_from_secret(&b, other, 32, "HS256", "b"), 0);
  cr_assert_eq(api_jwt_keyset_merge(&ab, a, b), 0);
  char *ta = make_token(a, 0, "{\"alg\":\"HS256\",\"kid\":\"a\"}", CLAIMS);
  char *tb = make_token(b, 0, "{\"alg\":\"HS256\",\"kid\":\"b\"}", CLAIMS);
  char *tc = make_token(a, 0, "{\"alg\":\"HS256\",\"kid\":\"c\"}", CLAIMS);
  char *swapped = make_token(a, 0, "{\"alg\":\"HS256\",\"kid\":\"b\"}", CLAIMS);
  char *nokid = make_token(b, 0, "{\"alg\":\"HS256\"}", CLAIMS);
  api_jwt_result r;
  cr_assert_eq(check(ab, ta, NULL, &r), API_JWT_OK);
  cr_assert_str_eq(r.kid, "a");
  api_jwt_result_free(&r);
  cr_assert_eq(check(ab, tb, NULL, NULL), API_JWT_OK);
  cr_assert_eq(check(ab, tc, NULL, NULL), API_JWT_UNKNOWN_KID);
  cr_assert_eq(check(ab, swapped, NULL, NULL), API_JWT_BAD_SIGNATURE);
  cr_assert_eq(check(ab, nokid, NULL, NULL), API_JWT_OK, "no kid: every key of the alg is tried");
  cr_assert_eq(check(a, tb, NULL, NULL), API_JWT_UNKNOWN_KID);
  /* A key without a kid is a candidate for any kid. */
  cr_assert_eq(check(hs, tc, NULL, NULL), API_JWT_OK);
  /* kid points at a key of another algorithm. */
  api_jwt_keyset *ec = jwks(
      "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\","
      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}");
  api_jwt_keyset *mixed = NULL;
  cr_assert_eq(api_jwt_keyset_merge(&mixed, ec, b), 0);
  cr_assert_eq(check(mixed, ta, NULL, NULL), API_JWT_NO_KEY);
  api_jwt_keyset_free(ec);
  api_jwt_keyset_free(mixed);
  api_auth_string_free(ta);
  api_auth_string_free(tb);
  api_auth_string_free(tc);
  api_auth_string_free(swapped);
  api_auth_string_free(nokid);
  api_jwt_keyset_free(a);
  api_jwt_keyset_free(b);
  api_jwt_keyset_free(ab);
}
