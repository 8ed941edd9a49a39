/* Test vectors and helpers shared by the JWT tests: keys and tokens from RFC 7515 appendix A,
 * RFC 7520 section 4.4 and RFC 8037 appendix A, and small builders for hostile tokens. */
#ifndef TESTS_SUPPORT_JWT_VECTORS_H
#define TESTS_SUPPORT_JWT_VECTORS_H

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_internal.h"
#include "libapi/auth.h"
#include "util/alloc.h"
#include "util/b64url.h"

/* RFC 7515 A.1: the payload shared by A.1 to A.3, and the HS256 key and token. RFC 7519 section
 * 3.1 uses the very same example. */
#define RFC7515_PAYLOAD \
  "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
#define RFC7515_PAYLOAD_B64                                          \
  "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
  "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC7515_EXP 1300819380
#define RFC7515_A1_HEADER "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"
/* The RFC's JWK has no "alg": libapi pins every oct key, so the tests add it. */
#define RFC7515_A1_JWK                                                                       \
  "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-" \
  "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}"
#define RFC7515_A1_TOKEN                                          \
  "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC7515_PAYLOAD_B64 \
  ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

#define RFC7515_RSA_N                                                                            \
  "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm"  \
  "4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5r" \
  "exMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyx" \
  "XFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define RFC7515_RSA_PRIVATE                                                                        \
  "\"d\":\"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-"     \
  "7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn"   \
  "439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bG"   \
  "Ul_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ\","                \
  "\"p\":\"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0H" \
  "w_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc\","       \
  "\"q\":\"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7T" \
  "jeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc\","       \
  "\"dp\":\"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-" \
  "FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0\","      \
  "\"dq\":\"h_96-mK1R_"                                                                            \
  "7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do"                   \
  "9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU\","       \
  "\"qi\":\"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3y" \
  "dy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U\""
/* RFC 7515 A.2 (RS256): the public JWK, the private one, and the token. */
#define RFC7515_A2_JWK_PUBLIC \
  "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\"}"
#define RFC7515_A2_JWK_PRIVATE                                \
  "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"" RFC7515_RSA_N \
  "\",\"e\":\"AQAB\"," RFC7515_RSA_PRIVATE "}"
#define RFC7515_A2_TOKEN                                              \
  "eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD_B64                         \
  ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7" \
  "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"  \
  "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"  \
  "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"  \
  "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"  \
  "p0igcN_IoypGlUPQGe77Rw"

/* RFC 7515 A.3 (ES256). */
#define RFC7515_A3_JWK                                                                       \
  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\""
#define RFC7515_A3_JWK_PUBLIC RFC7515_A3_JWK "}"
#define RFC7515_A3_JWK_PRIVATE \
  RFC7515_A3_JWK ",\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}"
#define RFC7515_A3_TOKEN                                              \
  "eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD_B64                         \
  ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA" \
  "pmWQxfKTUJqPP3-Kg6NU1Q"

/* RFC 7515 A.4 (ES512 over the payload "Payload"). */
#define RFC7515_A4_JWK_PUBLIC                                                                 \
  "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":"                                                  \
  "\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_"                                \
  "NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk\",\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-" \
  "x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\"}"
#define RFC7515_A4_TOKEN                                             \
  "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."                                 \
  "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq" \
  "wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp" \
  "EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn"

/* RFC 8037 A.1 to A.4 (Ed25519). */
#define RFC8037_JWK_PRIVATE                                                                     \
  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"," \
  "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
#define RFC8037_JWK_PUBLIC \
  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
#define RFC8037_PAYLOAD "Example of Ed25519 signing"
#define RFC8037_TOKEN                                                               \
  "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."                       \
  "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_" \
  "MuM0KAg"

/* RFC 7520 section 4.4 (HS256 with a kid, over a text payload). */
#define RFC7520_KID "018c0ae5-4d9b-471b-bfd6-eef314bc7037"
#define RFC7520_JWK                               \
  "{\"kty\":\"oct\",\"kid\":\"" RFC7520_KID       \
  "\",\"use\":\"sig\",\"alg\":\"HS256\",\"k\":\"" \
  "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}"
#define RFC7520_HEADER "{\"alg\":\"HS256\",\"kid\":\"" RFC7520_KID "\"}"
#define RFC7520_PAYLOAD                                                                          \
  "It\xe2\x80\x99s a dangerous business, Frodo, going out your door. You step onto the road, "   \
  "and if you don't keep your feet, there\xe2\x80\x99s no knowing where you might be swept off " \
  "to."
#define RFC7520_TOKEN                                                                  \
  "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9."  \
  "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IH" \
  "N0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlz" \
  "IG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4."                       \
  "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"

/* A key set from JSON text, asserting success. */
static inline api_jwt_keyset *jwks(const char *json) {
  api_jwt_keyset *ks = NULL;
  int rc = api_jwt_keyset_from_jwks(&ks, json, strlen(json));
  cr_assert_eq(rc, 0, "JWKS refused: %s", api_last_error());
  return ks;
}

/* A key set of one HMAC secret of len bytes (bytes 1, 2, 3, ...). */
static inline api_jwt_keyset *hs_keyset(const char *alg, size_t len, const char *kid) {
  unsigned char secret[128];
  for (size_t i = 0; i < len; i++) secret[i] = (unsigned char)(i + 1);
  api_jwt_keyset *ks = NULL;
  cr_assert_eq(api_jwt_keyset_from_secret(&ks, secret, len, alg, kid), 0, "%s", api_last_error());
  return ks;
}

/* A token over exact header and payload text, signed with key i of ks. */
__attribute__((noinline, unused)) static char *make_token(const api_jwt_keyset *ks, size_t i,
                                                          const char *header, const char *payload) {
  char *tok = NULL;
  int rc = api__jws_sign(&tok, ks->keys[i], header, strlen(header), payload, strlen(payload));
  if (rc != 0) cr_assert_fail("signing failed: %s", api_last_error());
  return tok;
}

/* A token from base64url-encoded parts given as raw text (no signing): "h.p.s". */
static inline char *raw_token(const char *header, const char *payload, const char *sig_b64) {
  size_t hn = strlen(header), pn = strlen(payload);
  char *t = malloc(api__b64url_encoded_len(hn) + api__b64url_encoded_len(pn) + strlen(sig_b64) + 3);
  size_t n = api__b64url_encode(t, header, hn);
  t[n++] = '.';
  n += api__b64url_encode(t + n, payload, pn);
  t[n++] = '.';
  strcpy(t + n, sig_b64);
  return t;
}

/* A fresh EC or Ed25519 key: type "EC" with group, or "ED25519". */
static inline EVP_PKEY *gen_key(const char *type, const char *group) {
  EVP_PKEY *p =
      group ? EVP_PKEY_Q_keygen(NULL, NULL, type, group) : EVP_PKEY_Q_keygen(NULL, NULL, type);
  cr_assert_not_null(p);
  return p;
}

/* The PEM text of pkey: its private key (PKCS#8) or its public key. Free with free(). */
static inline char *pem_of(EVP_PKEY *pkey, int private_part) {
  BIO *b = BIO_new(BIO_s_mem());
  int ok = private_part ? PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL)
                        : PEM_write_bio_PUBKEY(b, pkey);
  cr_assert(ok);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)n + 1);
  memcpy(s, data, (size_t)n);
  s[n] = 0;
  BIO_free(b);
  return s;
}

static inline api_jwt_keyset *pem_keyset(const char *pem, const char *alg, const char *kid) {
  api_jwt_keyset *ks = NULL;
  int rc = api_jwt_keyset_from_pem(&ks, pem, strlen(pem), alg, kid);
  cr_assert_eq(rc, 0, "PEM refused: %s", api_last_error());
  return ks;
}

/* Verify and return the reason (API_JWT_OK when valid); res is freed unless keep is given. */
static inline api_jwt_error check(const api_jwt_keyset *ks, const char *tok,
                                  const api_jwt_verify_options *o, api_jwt_result *keep) {
  api_jwt_result r = {0};
  int rc = api_jwt_verify(ks, tok, strlen(tok), o, &r);
  api_jwt_error e = r.error;
  if (rc == 0) {
    cr_assert_eq(e, API_JWT_OK);
    cr_assert_not_null(r.claims);
  } else {
    cr_assert_eq(rc, e == API_JWT_INTERNAL ? API_ENOMEM : API_EUNAUTHORIZED, "rc %d for %s", rc,
                 api_jwt_error_name(e));
    cr_assert_neq(e, API_JWT_OK);
    cr_assert_null(r.claims, "no claims for a refused token");
    cr_assert_neq(r.message[0], '\0', "a refusal has a message");
  }
  if (keep)
    *keep = r;
  else
    api_jwt_result_free(&r);
  return e;
}

#endif
