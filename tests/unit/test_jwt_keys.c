/* Key sets: JWKS parsing (and its refusals), PEM in every common form, raw secrets and their
 * minimum lengths, files, merging, export as a public JWKS, and allocation failures. */
#include <openssl/encoder.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <unistd.h>

#include "support/jwt_vectors.h"

static void teardown(void) { api__alloc_fail_after(-1); }
TestSuite(jwt_keys, .fini = teardown);

static int load(const char *json, api_jwt_keyset **out) {
  *out = NULL;
  return api_jwt_keyset_from_jwks(out, json, strlen(json));
}

#define EC_XY                                              \
  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\""
#define OCT32 "\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\""

Test(jwt_keys, jwks_pins_each_key) {
  api_jwt_keyset *ks = jwks(
      "{\"keys\":["
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\"," EC_XY
      "},"
      "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"hs\"," OCT32
      "},"
      "{\"kty\":\"RSA\",\"alg\":\"PS384\",\"kid\":\"rsa\",\"use\":\"sig\",\"n\":\"" RFC7515_RSA_N
      "\",\"e\":\"AQAB\"},"
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"key_ops\":[\"verify\"],"
      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
      "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"key_ops\":[\"encrypt\"]," EC_XY
      "}"
      "]}");
  cr_assert_eq(api_jwt_keyset_count(ks), 4, "encryption keys are skipped");
  cr_assert_eq(ks->keys[0]->alg, API_JWT_ES256);
  cr_assert_eq(ks->keys[1]->alg, API_JWT_HS256);
  cr_assert_eq(ks->keys[2]->alg, API_JWT_PS384);
  cr_assert_eq(ks->keys[3]->alg, API_JWT_EDDSA);
  cr_assert_str_eq(ks->keys[2]->kid, "rsa");
  cr_assert_null(ks->keys[3]->kid);
  cr_assert_not(ks->keys[0]->can_sign);
  cr_assert(ks->keys[1]->can_sign);
  api_jwt_keyset_free(ks);
  cr_assert_eq(api_jwt_keyset_count(NULL), 0);
  api_jwt_keyset_free(NULL);
}

Test(jwt_keys, jwks_refusals) {
  const char *bad[] = {
      "",
      "[]",
      "{}",
      "{\"keys\":{}}",
      "{\"keys\":[]}",
      "{\"keys\":[1]}",
      "{\"keys\":[{}]}",
      "{\"keys\":[],\"keys\":[]}",
      /* duplicate members inside a key */
      "{\"kty\":\"oct\",\"alg\":\"HS256\"," OCT32 "," OCT32 "}",
      /* mismatched alg and kty */
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"RS256\"," EC_XY "}",
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\"," EC_XY "}",
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"HS256\"," EC_XY "}",
      "{\"kty\":\"RSA\",\"alg\":\"ES256\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\"}",
      "{\"kty\":\"RSA\",\"alg\":\"HS256\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\"}",
      "{\"kty\":\"oct\",\"alg\":\"RS256\"," OCT32 "}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"none\"," EC_XY "}",
      /* RSA and oct need alg */
      "{\"kty\":\"RSA\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\"}",
      "{\"kty\":\"oct\"," OCT32 "}",
      /* unknown types and curves */
      "{\"kty\":\"DSA\",\"alg\":\"HS256\"}",
      "{\"kty\":\"EC\",\"crv\":\"secp256k1\"," EC_XY "}",
      "{\"kty\":\"EC\"," EC_XY "}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"AA\"}",
      "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
      /* bad members */
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}",    /* not on the curve */
      "{\"kty\":\"EC\",\"crv\":\"P-256\"," EC_XY ",\"d\":\"AA\"}", /* short d */
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}",
      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":5," EC_XY "}",
      "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", /* tiny modulus */
      "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"" RFC7515_RSA_N "\"}",
      "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"" RFC7515_RSA_N
      "\",\"e\":\"AQAB\",\"p\":\"AQAB\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}", /* x not the key of d */
      "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"\"}",
      "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":7}",
      /* wrongly typed metadata */
      "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":1," OCT32 "}",
      "{\"kty\":\"oct\",\"alg\":\"HS256\",\"use\":1," OCT32 "}",
      "{\"kty\":\"oct\",\"alg\":\"HS256\",\"key_ops\":\"sign\"," OCT32 "}",
      "{\"kty\":\"oct\",\"alg\":256," OCT32 "}",
      /* all keys skipped */
      "{\"keys\":[{\"kty\":\"oct\",\"use\":\"enc\"," OCT32 "}]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    api_jwt_keyset *ks = (api_jwt_keyset *)1;
    int rc = load(bad[i], &ks);
    cr_assert_eq(rc, API_EINVAL, "accepted #%zu: %s", i, bad[i]);
    cr_assert_null(ks);
    cr_assert_neq(api_last_error()[0], 0);
  }
  /* One bad key fails the whole set, and the message names it. */
  api_jwt_keyset *ks = NULL;
  cr_assert_eq(
      load("{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\"," OCT32 "},"
           "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k2\",\"alg\":\"ES384\"," EC_XY "}]}",
           &ks),
      API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "k2"), "%s", api_last_error());
  cr_assert_eq(api_jwt_keyset_from_jwks(NULL, "{}", 2), API_EINVAL);
  cr_assert_eq(api_jwt_keyset_from_jwks(&ks, NULL, 2), API_EINVAL);
}

/* RSA moduli over 8192 bits would make each verification a denial of service. */
Test(jwt_keys, rsa_modulus_bounds) {
  static const int bits[] = {2040, 2048, 8192, 8200};
  for (int i = 0; i < 4; i++) {
    size_t n = (size_t)bits[i] / 8;
    unsigned char *mod = malloc(n);
    memset(mod, 0xc5, n);
    mod[n - 1] |= 1;
    char *b64 = malloc(api__b64url_encoded_len(n) + 1), *json = malloc(n * 2 + 100);
    api__b64url_encode(b64, mod, n);
    sprintf(json, "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"AQAB\"}", b64);
    api_jwt_keyset *ks = NULL;
    int want = bits[i] >= 2048 && bits[i] <= 8192 ? 0 : API_EINVAL;
    cr_assert_eq(load(json, &ks), want, "%d bits: %s", bits[i], api_last_error());
    api_jwt_keyset_free(ks);
    free(mod);
    free(b64);
    free(json);
  }
}

Test(jwt_keys, hmac_secret_minimum_lengths) {
  static const struct {
    const char *alg;
    size_t min;
  } cases[] = {{"HS256", 32}, {"HS384", 48}, {"HS512", 64}};
  unsigned char secret[64] = {1};
  for (int i = 0; i < 3; i++) {
    api_jwt_keyset *ks = NULL;
    cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, cases[i].min - 1, cases[i].alg, NULL),
                 API_EINVAL, "%s", cases[i].alg);
    cr_assert_null(ks);
    cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, cases[i].min, cases[i].alg, NULL), 0);
    api_jwt_keyset_free(ks);
    /* The same rule in a JWKS. */
    char b64[100], json[256];
    api__b64url_encode(b64, secret, cases[i].min - 1);
    snprintf(json, sizeof(json), "{\"kty\":\"oct\",\"alg\":\"%s\",\"k\":\"%s\"}", cases[i].alg,
             b64);
    cr_assert_eq(load(json, &ks), API_EINVAL);
    api__b64url_encode(b64, secret, cases[i].min);
    snprintf(json, sizeof(json), "{\"kty\":\"oct\",\"alg\":\"%s\",\"k\":\"%s\"}", cases[i].alg,
             b64);
    cr_assert_eq(load(json, &ks), 0);
    api_jwt_keyset_free(ks);
  }
  api_jwt_keyset *ks = NULL;
  const char *not_hs[] = {"RS256", "ES256", "EdDSA", "none", "hs256", NULL};
  for (int i = 0; not_hs[i]; i++)
    cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, 64, not_hs[i], NULL), API_EINVAL);
  cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, 64, NULL, NULL), API_EINVAL);
}

Test(jwt_keys, pem_forms_and_deduced_algorithms) {
  static const struct {
    const char *type, *group, *alg;
  } keys[] = {{"EC", "P-256", "ES256"},
              {"EC", "P-384", "ES384"},
              {"EC", "P-521", "ES512"},
              {"ED25519", NULL, "EdDSA"}};
  for (int i = 0; i < 4; i++) {
    EVP_PKEY *p = gen_key(keys[i].type, keys[i].group);
    for (int priv = 0; priv < 2; priv++) {
      char *pem = pem_of(p, priv);
      api_jwt_keyset *ks = pem_keyset(pem, NULL, "k");
      cr_assert_str_eq(api_jwt_alg_name(ks->keys[0]->alg), keys[i].alg);
      cr_assert_eq(ks->keys[0]->can_sign, priv);
      api_jwt_keyset_free(ks);
      ks = pem_keyset(pem, keys[i].alg, NULL); /* the right alg given explicitly */
      api_jwt_keyset_free(ks);
      const char *wrong[] = {"RS256", "HS256", "PS256", i == 0 ? "ES384" : "ES256", "none", "x"};
      for (int w = 0; w < 6; w++) {
        ks = NULL;
        cr_assert_eq(api_jwt_keyset_from_pem(&ks, pem, strlen(pem), wrong[w], NULL), API_EINVAL,
                     "%s key accepted as %s", keys[i].alg, wrong[w]);
        cr_assert_null(ks);
      }
      free(pem);
    }
    EVP_PKEY_free(p);
  }
}

Test(jwt_keys, pem_rsa_needs_its_algorithm) {
  api_jwt_keyset *jwk = jwks(RFC7515_A2_JWK_PRIVATE);
  EVP_PKEY *p = jwk->keys[0]->pkey;
  char *priv = pem_of(p, 1), *pub = pem_of(p, 0);
  api_jwt_keyset *ks = NULL;
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, pub, strlen(pub), NULL, NULL), API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "RS256"), "%s", api_last_error());
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, pub, strlen(pub), "ES256", NULL), API_EINVAL);
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, pub, strlen(pub), "EdDSA", NULL), API_EINVAL);
  /* The private PEM signs what the public PEM verifies, with the RFC's bytes. */
  api_jwt_keyset *s = pem_keyset(priv, "RS256", NULL), *v = pem_keyset(pub, "RS256", NULL);
  char *t = make_token(s, 0, "{\"alg\":\"RS256\"}", RFC7515_PAYLOAD);
  cr_assert_str_eq(t, RFC7515_A2_TOKEN);
  cr_assert_eq(check(v, t, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL), API_JWT_OK);
  api_auth_string_free(t);
  /* PKCS#1 "RSA PUBLIC KEY" and an X.509 certificate. */
  BIO *b = BIO_new(BIO_s_mem());
  OSSL_ENCODER_CTX *ectx =
      OSSL_ENCODER_CTX_new_for_pkey(p, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
  cr_assert(ectx && OSSL_ENCODER_to_bio(ectx, b));
  OSSL_ENCODER_CTX_free(ectx);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  cr_assert_not_null(memmem(data, (size_t)n, "BEGIN RSA PUBLIC KEY", 20));
  api_jwt_keyset *pkcs1 = NULL;
  cr_assert_eq(api_jwt_keyset_from_pem(&pkcs1, data, (size_t)n, "PS256", NULL), 0, "%s",
               api_last_error());
  BIO_free(b);
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, p);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"test", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  cr_assert(X509_sign(x, p, EVP_sha256()));
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  n = BIO_get_mem_data(b, &data);
  api_jwt_keyset *cert = NULL;
  cr_assert_eq(api_jwt_keyset_from_pem(&cert, data, (size_t)n, "RS256", "c"), 0, "%s",
               api_last_error());
  cr_assert_not(cert->keys[0]->can_sign);
  cr_assert_eq(check(cert, RFC7515_A2_TOKEN, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL),
               API_JWT_OK);
  BIO_free(b);
  X509_free(x);
  api_jwt_keyset_free(pkcs1);
  api_jwt_keyset_free(cert);
  api_jwt_keyset_free(s);
  api_jwt_keyset_free(v);
  api_jwt_keyset_free(jwk);
  free(priv);
  free(pub);
}

Test(jwt_keys, pem_refusals) {
  EVP_PKEY *p = gen_key("EC", "P-256");
  BIO *b = BIO_new(BIO_s_mem());
  cr_assert(PEM_write_bio_PKCS8PrivateKey(b, p, EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"pw"));
  char *data;
  long n = BIO_get_mem_data(b, &data);
  api_jwt_keyset *ks = NULL;
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, data, (size_t)n, NULL, NULL), API_EINVAL,
               "encrypted keys: refused, never a passphrase prompt");
  BIO_free(b);
  char *pem = pem_of(p, 0);
  const char *bad[] = {"", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
                       "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                       "not a pem at all"};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(api_jwt_keyset_from_pem(&ks, bad[i], strlen(bad[i]), NULL, NULL), API_EINVAL);
  /* Truncated in the middle. */
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, pem, strlen(pem) / 2, NULL, NULL), API_EINVAL);
  /* secp256k1 is not a JOSE ES curve. */
  EVP_PKEY *k1 = gen_key("EC", "secp256k1");
  char *k1pem = pem_of(k1, 0);
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, k1pem, strlen(k1pem), NULL, NULL), API_EINVAL);
  cr_assert_eq(api_jwt_keyset_from_pem(&ks, k1pem, strlen(k1pem), "ES256", NULL), API_EINVAL);
  cr_assert_null(ks);
  free(k1pem);
  EVP_PKEY_free(k1);
  free(pem);
  EVP_PKEY_free(p);
}

static char *write_tmp(const void *data, size_t n) {
  char *path = strdup("/tmp/libapi-jwt-XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, data, n), (ssize_t)n);
  close(fd);
  return path;
}

Test(jwt_keys, files) {
  api_jwt_keyset *ks = NULL;
  /* JWKS file (alg and kid arguments ignored). */
  char *path = write_tmp("\n  " RFC7515_A1_JWK, strlen(RFC7515_A1_JWK) + 3);
  cr_assert_eq(api_jwt_keyset_from_file(&ks, path, "RS256", "x"), 0, "%s", api_last_error());
  cr_assert_eq(check(ks, RFC7515_A1_TOKEN, API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1), NULL),
               API_JWT_OK);
  api_jwt_keyset_free(ks);
  unlink(path);
  free(path);
  /* PEM file. */
  EVP_PKEY *p = gen_key("EC", "P-384");
  char *pem = pem_of(p, 1);
  path = write_tmp(pem, strlen(pem));
  cr_assert_eq(api_jwt_keyset_from_file(&ks, path, NULL, "kid1"), 0, "%s", api_last_error());
  cr_assert_eq(ks->keys[0]->alg, API_JWT_ES384);
  cr_assert_str_eq(ks->keys[0]->kid, "kid1");
  api_jwt_keyset_free(ks);
  unlink(path);
  free(path);
  free(pem);
  EVP_PKEY_free(p);
  /* Secret files: one trailing newline (LF or CRLF) is not part of the secret. */
  const char *secret = "0123456789abcdef0123456789abcdef";
  const char *variants[] = {"%s", "%s\n", "%s\r\n"};
  for (int i = 0; i < 3; i++) {
    char buf[64];
    snprintf(buf, sizeof(buf), variants[i], secret);
    path = write_tmp(buf, strlen(buf));
    cr_assert_eq(api_jwt_keyset_from_file(&ks, path, "HS256", NULL), 0, "%s", api_last_error());
    cr_assert_eq(ks->keys[0]->secret_len, 32);
    cr_assert_eq(memcmp(ks->keys[0]->secret, secret, 32), 0);
    api_jwt_keyset_free(ks);
    cr_assert_eq(api_jwt_keyset_from_file(&ks, path, NULL, NULL), API_EINVAL, "alg required");
    unlink(path);
    free(path);
  }
  path = write_tmp("short\n", 6);
  cr_assert_eq(api_jwt_keyset_from_file(&ks, path, "HS256", NULL), API_EINVAL);
  unlink(path);
  free(path);
  cr_assert_eq(api_jwt_keyset_from_file(&ks, "/nonexistent/key", "HS256", NULL), API_ESYS);
  cr_assert_eq(api_jwt_keyset_from_file(&ks, NULL, "HS256", NULL), API_EINVAL);
  /* Over 1 MiB. */
  size_t big = 1024 * 1024 + 1;
  char *data = malloc(big);
  memset(data, 'a', big);
  path = write_tmp(data, big);
  cr_assert_eq(api_jwt_keyset_from_file(&ks, path, "HS256", NULL), API_EINVAL);
  unlink(path);
  free(path);
  free(data);
}

Test(jwt_keys, merge_shares_keys) {
  api_jwt_keyset *a = jwks(RFC7515_A1_JWK), *b = jwks(RFC7515_A3_JWK_PUBLIC), *ab = NULL;
  cr_assert_eq(api_jwt_keyset_merge(&ab, a, b), 0);
  cr_assert_eq(api_jwt_keyset_count(ab), 2);
  api_jwt_keyset_free(a);
  api_jwt_keyset_free(b);
  /* The merged set outlives its sources. */
  const api_jwt_verify_options *o = API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1);
  cr_assert_eq(check(ab, RFC7515_A1_TOKEN, o, NULL), API_JWT_OK);
  cr_assert_eq(check(ab, RFC7515_A3_TOKEN, o, NULL), API_JWT_OK);
  api_jwt_keyset *abab = NULL;
  cr_assert_eq(api_jwt_keyset_merge(&abab, ab, ab), 0);
  cr_assert_eq(api_jwt_keyset_count(abab), 4);
  cr_assert_eq(api_jwt_keyset_merge(&abab, ab, NULL), API_EINVAL);
  api_jwt_keyset_free(ab);
  cr_assert_eq(check(abab, RFC7515_A3_TOKEN, o, NULL), API_JWT_OK);
  api_jwt_keyset_free(abab);
}

Test(jwt_keys, export_public_jwks) {
  api_jwt_keyset *rsa = jwks(RFC7515_A2_JWK_PRIVATE), *ec = jwks(RFC7515_A3_JWK_PRIVATE),
                 *ed = jwks(RFC8037_JWK_PRIVATE), *hs = jwks(RFC7515_A1_JWK), *t1 = NULL,
                 *t2 = NULL, *all = NULL;
  EVP_PKEY *p521 = gen_key("EC", "P-521");
  char *pem = pem_of(p521, 0);
  api_jwt_keyset *e5 = pem_keyset(pem, NULL, "p521");
  cr_assert_eq(api_jwt_keyset_merge(&t1, rsa, ec), 0);
  cr_assert_eq(api_jwt_keyset_merge(&t2, ed, hs), 0);
  api_jwt_keyset *t3 = NULL;
  cr_assert_eq(api_jwt_keyset_merge(&t3, t1, t2), 0);
  cr_assert_eq(api_jwt_keyset_merge(&all, t3, e5), 0);
  char *out = NULL;
  cr_assert_eq(api_jwt_keyset_to_jwks(&out, all), 0);
  cr_assert_null(strstr(out, "\"d\""), "no private member in %s", out);
  cr_assert_null(strstr(out, "\"k\""), "no secret in %s", out);
  cr_assert_null(strstr(out, "oct"));
  json_t *doc = json_loads(out, 0, NULL);
  cr_assert_eq(json_array_size(json_object_get(doc, "keys")), 4);
  json_t *rsa_jwk = json_array_get(json_object_get(doc, "keys"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(rsa_jwk, "n")), RFC7515_RSA_N);
  json_decref(doc);
  /* Loading it back verifies the vectors. */
  api_jwt_keyset *back = jwks(out);
  const api_jwt_verify_options *o = API_JWT_VERIFY_OPTIONS(.now = RFC7515_EXP - 1);
  cr_assert_eq(check(back, RFC7515_A2_TOKEN, o, NULL), API_JWT_OK);
  cr_assert_eq(check(back, RFC7515_A3_TOKEN, o, NULL), API_JWT_OK);
  cr_assert_eq(check(back, RFC7515_A1_TOKEN, o, NULL), API_JWT_ALG_NOT_ALLOWED);
  cr_assert_str_eq(back->keys[3]->kid, "p521");
  cr_assert_eq(back->keys[3]->alg, API_JWT_ES512);
  api_auth_string_free(out);
  api_jwt_keyset_free(back);
  api_jwt_keyset *only_hs = jwks(RFC7515_A1_JWK);
  cr_assert_eq(api_jwt_keyset_to_jwks(&out, only_hs), 0);
  cr_assert_str_eq(out, "{\"keys\":[]}");
  api_auth_string_free(out);
  api_jwt_keyset_free(only_hs);
  free(pem);
  EVP_PKEY_free(p521);
  api_jwt_keyset *sets[] = {rsa, ec, ed, hs, t1, t2, t3, all, e5};
  for (int i = 0; i < 9; i++) api_jwt_keyset_free(sets[i]);
}

/* Every allocation of loading a JWKS with all key types, failing in turn. */
Test(jwt_keys, allocation_failures_while_loading) {
  char json[8192];
  snprintf(json, sizeof(json), "{\"keys\":[%s,%s,%s,%s]}", RFC7515_A1_JWK, RFC7515_A2_JWK_PRIVATE,
           RFC7515_A3_JWK_PRIVATE, RFC8037_JWK_PRIVATE);
  int successes = 0;
  for (long i = 0; i < 80; i++) {
    api_jwt_keyset *ks = NULL;
    api__alloc_fail_nth(i);
    int rc = load(json, &ks);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM, "allocation %ld: rc %d (%s)", i, rc, api_last_error());
    if (rc == 0) {
      successes++;
      cr_assert_eq(api_jwt_keyset_count(ks), 4);
    } else {
      cr_assert_null(ks);
    }
    api_jwt_keyset_free(ks);
  }
  cr_assert_gt(successes, 0);
  for (long i = 0; i < 4; i++) {
    api_jwt_keyset *ks = NULL, *m = NULL, *s = hs_keyset("HS256", 32, "x");
    api__alloc_fail_nth(i);
    int rc1 = api_jwt_keyset_from_secret(&ks, "0123456789abcdef0123456789abcdef", 32, "HS256", "k");
    int rc2 = api_jwt_keyset_merge(&m, s, s);
    api__alloc_fail_nth(-1);
    cr_assert(rc1 == 0 || rc1 == API_ENOMEM);
    cr_assert(rc2 == 0 || rc2 == API_ENOMEM);
    api_jwt_keyset_free(ks);
    api_jwt_keyset_free(m);
    api_jwt_keyset_free(s);
  }
}
