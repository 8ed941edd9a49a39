/* bcrypt password hashing through libxcrypt, with refusals instead of silent truncation. */
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"
#include "libapi/auth.h"
#include "util/alloc.h"

#define BCRYPT_LEN 60

/* "$2b$NN$" + 53 characters of [./A-Za-z0-9]; *variant gets 'a', 'b' or 'y', *cost the cost. */
static bool parse_hash(const char *h, char *variant, int *cost) {
  if (!h || strnlen(h, BCRYPT_LEN + 1) != BCRYPT_LEN) return false;
  if (h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' || h[6] != '$')
    return false;
  if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9') return false;
  int c = (h[4] - '0') * 10 + (h[5] - '0');
  if (c < 4 || c > 31) return false;
  for (int i = 7; i < BCRYPT_LEN; i++) {
    char ch = h[i];
    if (!(ch == '.' || ch == '/' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9')))
      return false;
  }
  *variant = h[2];
  *cost = c;
  return true;
}

int api_password_hash(char **out, const char *password, int cost) {
  if (!out || !password) return api__fail(API_EINVAL, "api_password_hash: NULL argument");
  *out = NULL;
  if (cost == 0) cost = API_PASSWORD_DEFAULT_COST;
  if (cost < 4 || cost > 31) return api__fail(API_EINVAL, "bcrypt cost %d not in 4..31", cost);
  if (strlen(password) > API_PASSWORD_MAX_LEN)
    return api__fail(API_EINVAL, "password longer than %d bytes (bcrypt would truncate it)",
                     API_PASSWORD_MAX_LEN);
  unsigned char rnd[16];
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1) return api__fail(API_ESYS, "no random bytes");
  const char *s = crypt_gensalt_rn("$2b$", (unsigned long)cost, (const char *)rnd, sizeof(rnd),
                                   salt, sizeof(salt));
  OPENSSL_cleanse(rnd, sizeof(rnd));
  if (!s) return api__fail(API_ESYS, "crypt_gensalt_rn failed");
  struct crypt_data *cd = api__calloc(1, sizeof(*cd));
  if (!cd) return api__fail(API_ENOMEM, "out of memory");
  const char *h = crypt_rn(password, salt, cd, sizeof(*cd));
  char variant;
  int got, rc = 0;
  if (!h || !parse_hash(h, &variant, &got)) {
    rc = api__fail(API_ESYS, "crypt_rn failed");
  } else if (!(*out = api__malloc(BCRYPT_LEN + 1))) {
    rc = api__fail(API_ENOMEM, "out of memory");
  } else {
    memcpy(*out, h, BCRYPT_LEN + 1);
  }
  OPENSSL_cleanse(cd, sizeof(*cd));
  api__free(cd);
  return rc;
}

int api_password_verify(const char *password, const char *hash) {
  char variant;
  int cost;
  if (!password) return api__fail(API_EINVAL, "api_password_verify: NULL password");
  if (!parse_hash(hash, &variant, &cost)) return api__fail(API_EINVAL, "not a bcrypt hash");
  if (strlen(password) > API_PASSWORD_MAX_LEN)
    return api__fail(API_EUNAUTHORIZED, "password longer than %d bytes", API_PASSWORD_MAX_LEN);
  struct crypt_data *cd = api__calloc(1, sizeof(*cd));
  if (!cd) return api__fail(API_ENOMEM, "out of memory");
  const char *h = crypt_rn(password, hash, cd, sizeof(*cd));
  int rc;
  if (!h || strnlen(h, BCRYPT_LEN + 1) != BCRYPT_LEN) {
    rc = api__fail(API_EINVAL, "bcrypt refused the hash");
  } else {
    /* The whole string, in constant time: it holds the salt and cost as well as the digest. */
    rc = CRYPTO_memcmp(h, hash, BCRYPT_LEN) == 0 ? 0
                                                 : api__fail(API_EUNAUTHORIZED, "wrong password");
  }
  OPENSSL_cleanse(cd, sizeof(*cd));
  api__free(cd);
  return rc;
}

int api_password_needs_rehash(const char *hash, int cost) {
  char variant;
  int have;
  if (cost == 0) cost = API_PASSWORD_DEFAULT_COST;
  if (cost < 4 || cost > 31) return api__fail(API_EINVAL, "bcrypt cost %d not in 4..31", cost);
  if (!parse_hash(hash, &variant, &have)) return api__fail(API_EINVAL, "not a bcrypt hash");
  return variant != 'b' || have != cost;
}
