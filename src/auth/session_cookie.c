/*
 * Encrypted-cookie sessions: the key ring and the AES-256-GCM sealing of a session cookie.
 *
 * value = base64url(version || key id || nonce || ciphertext || tag), where the key id is the
 * first 4 bytes of SHA-256("libapi session key" || key) (so users list keys, not ids), the nonce
 * is 12 random bytes per write, and the additional data binds version, key id and cookie name: a
 * value cut from one cookie does not open under another name.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>

#include <libapi/session.h>

#include "auth/session_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"

#define VERSION 1
#define KID_LEN 4
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEAD_LEN (1 + KID_LEN + NONCE_LEN)

struct api__sess_ring {
  size_t n;
  EVP_CIPHER *gcm;
  struct {
    unsigned char id[KID_LEN];
    unsigned char key[API_SESSION_KEY_LEN];
  } k[API_SESSION_MAX_KEYS];
};

int api_session_key_decode(api_session_key *out, const char *text) {
  if (!out || !text) return api__fail(API_EINVAL, "api_session_key_decode: NULL argument");
  while (isspace((unsigned char)*text)) text++;
  size_t n = strlen(text);
  while (n && isspace((unsigned char)text[n - 1])) n--;
  while (n && text[n - 1] == '=') n--;
  /* 32 bytes are 43 base64 characters without padding */
  if (n != api__b64url_encoded_len(API_SESSION_KEY_LEN))
    return api__fail(API_EINVAL,
                     "api_session_key_decode: not a 32-byte key in base64 (%zu characters; "
                     "generate one with `openssl rand -base64 32`)",
                     n);
  char url[64];
  for (size_t i = 0; i < n; i++) url[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
  unsigned char buf[API_SESSION_KEY_LEN + 2];
  long got = api__b64url_decode(buf, url, n);
  OPENSSL_cleanse(url, sizeof(url));
  int rc = 0;
  if (got != API_SESSION_KEY_LEN)
    rc = api__fail(API_EINVAL, "api_session_key_decode: not base64");
  else
    memcpy(out->bytes, buf, API_SESSION_KEY_LEN);
  OPENSSL_cleanse(buf, sizeof(buf));
  return rc;
}

static int key_id(unsigned char id[KID_LEN], const unsigned char key[API_SESSION_KEY_LEN]) {
  static const char label[] = "libapi session key";
  unsigned char h[32];
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestInit_ex2(md, EVP_sha256(), NULL) == 1 &&
            EVP_DigestUpdate(md, label, sizeof(label) - 1) == 1 &&
            EVP_DigestUpdate(md, key, API_SESSION_KEY_LEN) == 1 &&
            EVP_DigestFinal_ex(md, h, NULL) == 1;
  EVP_MD_CTX_free(md);
  if (ok) memcpy(id, h, KID_LEN);
  OPENSSL_cleanse(h, sizeof(h));
  return ok ? 0 : api__fail(API_EINTERNAL, "api_mw_session: SHA-256 failed");
}

void api__sess_ring_free(api__sess_ring *r) {
  if (!r) return;
  EVP_CIPHER_free(r->gcm);
  OPENSSL_cleanse(r, sizeof(*r));
  api__free(r);
}

int api__sess_ring_new(api__sess_ring **out, const api_session_key *keys, size_t n) {
  if (n < 1 || n > API_SESSION_MAX_KEYS)
    return api__fail(API_EINVAL, "api_mw_session: nkeys: 1 to %d keys", API_SESSION_MAX_KEYS);
  static const unsigned char zero[API_SESSION_KEY_LEN];
  for (size_t i = 0; i < n; i++)
    if (!CRYPTO_memcmp(keys[i].bytes, zero, sizeof(zero)))
      return api__fail(API_EINVAL, "api_mw_session: keys[%zu]: all zero (not loaded?)", i);
  api__sess_ring *r = api__calloc(1, sizeof(*r));
  if (!r) return API_ENOMEM;
  int rc = 0;
  if (!(r->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)))
    rc = api__fail(API_EINTERNAL, "api_mw_session: AES-256-GCM unavailable");
  for (; !rc && r->n < n; r->n++) {
    memcpy(r->k[r->n].key, keys[r->n].bytes, API_SESSION_KEY_LEN);
    rc = key_id(r->k[r->n].id, r->k[r->n].key);
    for (size_t j = 0; !rc && j < r->n; j++)
      if (!memcmp(r->k[j].id, r->k[r->n].id, KID_LEN))
        rc = api__fail(API_EINVAL, "api_mw_session: keys[%zu]: the same key as keys[%zu]", r->n, j);
  }
  if (rc) {
    api__sess_ring_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

size_t api__sess_sealed_len(size_t plain_len) {
  return api__b64url_encoded_len(HEAD_LEN + plain_len + TAG_LEN);
}

/* Runs AES-256-GCM over in (len bytes) into out; encrypt: writes the tag, else checks it. */
static bool gcm(const api__sess_ring *r, const unsigned char *key, bool encrypt,
                const unsigned char head[HEAD_LEN], const char *name, const unsigned char *in,
                size_t len, unsigned char *out, unsigned char tag[TAG_LEN]) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n = 0, fin = 0;
  bool ok = c && len <= (size_t)(API_SESSION_COOKIE_MAX * 2) &&
            EVP_CipherInit_ex2(c, r->gcm, key, head + 1 + KID_LEN, encrypt, NULL) == 1 &&
            EVP_CipherUpdate(c, NULL, &n, head, 1 + KID_LEN) == 1 &&
            EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)name, (int)strlen(name)) == 1 &&
            EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
  if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
  if (ok) ok = EVP_CipherFinal_ex(c, out + n, &fin) == 1;
  if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

int api__sess_seal(const api__sess_ring *r, const char *name, const unsigned char *pt, size_t len,
                   char **out) {
  size_t blen = HEAD_LEN + len + TAG_LEN;
  unsigned char *b = api__malloc(blen);
  char *v = api__malloc(api__b64url_encoded_len(blen) + 1);
  int rc = 0;
  if (!b || !v) {
    rc = API_ENOMEM;
  } else {
    b[0] = VERSION;
    memcpy(b + 1, r->k[0].id, KID_LEN);
    if (RAND_bytes(b + 1 + KID_LEN, NONCE_LEN) != 1)
      rc = api__fail(API_ESYS, "session: RAND_bytes failed");
    else if (!gcm(r, r->k[0].key, true, b, name, pt, len, b + HEAD_LEN, b + HEAD_LEN + len))
      rc = api__fail(API_EINTERNAL, "session: AES-256-GCM encryption failed");
    else
      api__b64url_encode(v, b, blen);
  }
  api__free(b);
  if (rc) {
    api__free(v);
    return rc;
  }
  *out = v;
  return 0;
}

int api__sess_open(const api__sess_ring *r, const char *name, const char *value, unsigned char **pt,
                   size_t *len) {
  size_t vlen = strnlen(value, API_SESSION_COOKIE_MAX + 1);
  if (vlen > API_SESSION_COOKIE_MAX || vlen < api__b64url_encoded_len(HEAD_LEN + TAG_LEN + 1))
    return API_ENOTFOUND;
  unsigned char *b = api__malloc(api__b64url_decoded_len(vlen));
  if (!b) return API_ENOMEM;
  long blen = api__b64url_decode(b, value, vlen);
  const unsigned char *key = NULL;
  if (blen >= HEAD_LEN + TAG_LEN + 1 && b[0] == VERSION)
    for (size_t i = 0; i < r->n && !key; i++)
      if (!memcmp(b + 1, r->k[i].id, KID_LEN)) key = r->k[i].key;
  int rc = API_ENOTFOUND;
  if (key) {
    size_t clen = (size_t)blen - HEAD_LEN - TAG_LEN;
    unsigned char *p = api__malloc(clen + 1);
    if (!p) {
      rc = API_ENOMEM;
    } else if (!gcm(r, key, false, b, name, b + HEAD_LEN, clen, p, b + HEAD_LEN + clen)) {
      OPENSSL_cleanse(p, clen);
      api__free(p);
    } else {
      p[clen] = 0;
      *pt = p;
      *len = clen;
      rc = 0;
    }
  }
  api__free(b);
  return rc;
}
