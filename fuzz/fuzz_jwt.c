/*
 * JWT fuzzer. The first byte picks what the rest of the input is:
 *   0: a token, verified against a fixed key set (HS256, RS256, ES256, EdDSA keys, some with a
 * kid); 1: a JWK Set; when it loads, its public export must load again and count the same
 * asymmetric keys, and a fixed token is verified against it; 2: "header\npayload": both signed with
 * the fixed HS256 key, so that the verifier gets past the signature into the header rules and the
 * claims checks; 3: JSON text, parsed by the library's parser in both modes and by jansson.
 * Whatever the input, verification must end in a result whose fields agree with its return code.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_internal.h"
#include "libapi/auth.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 7515 A.2 and A.3 public keys, RFC 8037's Ed25519 key, and a fixed secret. */
static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"hs\","
    "\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
    "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
    "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"rsa\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_"
    "wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_"
    "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-"
    "UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

static const char fixed_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0"
    "dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

static api_jwt_keyset *keys;

static void verify(const api_jwt_keyset *ks, const char *tok, size_t len) {
  static const char *const auds[] = {"api", "joe", NULL};
  static const char *const req[] = {"sub", NULL};
  const api_jwt_verify_options *opts[] = {
      NULL,
      API_JWT_VERIFY_OPTIONS(.now = 1300819000, .leeway = 30, .issuer = "joe", .audiences = auds),
      API_JWT_VERIFY_OPTIONS(.now = 1300819000, .typ = "JWT", .required_claims = req,
                             .allow_missing_exp = 1, .max_token_size = 300),
  };
  for (size_t i = 0; i < sizeof(opts) / sizeof(*opts); i++) {
    api_jwt_result r = {0};
    int rc = api_jwt_verify(ks, tok, len, opts[i], &r);
    if ((rc == 0) != (r.error == API_JWT_OK) || (rc == 0) != (r.claims != NULL)) abort();
    if (rc == 0 && (!json_is_object(r.claims) || !json_is_object(r.header))) abort();
    if (rc != 0 && rc != API_EUNAUTHORIZED && rc != API_ENOMEM) abort();
    if (rc != 0 && strlen(r.message) == 0) abort();
    api_jwt_result_free(&r);
  }
}

static size_t count_public(const api_jwt_keyset *ks) {
  size_t n = 0;
  for (size_t i = 0; i < ks->n; i++) n += ks->keys[i]->pkey != NULL;
  return n;
}

/* The library's parser (flags) must agree exactly with json_loadb (jflags), except that jansson
 * skips a NUL byte right after a number or a literal ("[8\0]" is [8]) where the library's parser
 * refuses every NUL. A refusal names a position inside the text, on the right line. */
static void json_differential(const char *in, size_t n, unsigned flags, size_t jflags) {
  json_t *ref = json_loadb(in, n, jflags, NULL);
  api__json_error err;
  json_t *got = api__json_parse(in, n, flags, &err);
  bool nul = memchr(in, 0, n) != NULL;
  if ((nul ? got && !ref : (ref == NULL) != (got == NULL)) || (got && !json_equal(got, ref)))
    abort();
  if (!got) {
    int line = 1;
    for (size_t i = 0; i < err.offset && i < n; i++) line += in[i] == '\n';
    if (err.enomem || err.offset > n || err.line != line || err.column < 1 || !err.message[0])
      abort();
  }
  json_decref(ref);
  json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!keys && api_jwt_keyset_from_jwks(&keys, fixed_jwks, sizeof(fixed_jwks) - 1) != 0) abort();
  if (size == 0) return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] % 4) {
    case 0:
      verify(keys, in, n);
      break;
    case 1: {
      api_jwt_keyset *ks = NULL, *back = NULL;
      if (api_jwt_keyset_from_jwks(&ks, in, n) != 0) break;
      char *pub = NULL;
      if (api_jwt_keyset_to_jwks(&pub, ks) != 0) abort();
      size_t want = count_public(ks);
      int rc = api_jwt_keyset_from_jwks(&back, pub, strlen(pub));
      if (want ? rc != 0 || count_public(back) != want : rc != API_EINVAL) abort();
      verify(ks, fixed_token, sizeof(fixed_token) - 1);
      api_auth_string_free(pub);
      api_jwt_keyset_free(back);
      api_jwt_keyset_free(ks);
      break;
    }
    case 2: {
      const char *nl = memchr(in, '\n', n);
      if (!nl) break;
      char *tok = NULL;
      if (api__jws_sign(&tok, keys->keys[0], in, (size_t)(nl - in), nl + 1,
                        n - (size_t)(nl + 1 - in)) != 0)
        break;
      verify(keys, tok, strlen(tok));
      api_auth_string_free(tok);
      break;
    }
    case 3:
      json_differential(in, n, 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY);
      json_differential(in, n, API__JSON_ALLOW_NUL,
                        JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL);
      break;
  }
  return 0;
}
