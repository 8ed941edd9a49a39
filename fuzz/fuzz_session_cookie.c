/* libFuzzer target for encrypted session cookies (src/auth/session_cookie.c). The input is opened
 * as a cookie value (it must never open: no one without the key can make a valid one), then
 * sealed as a plaintext and checked: the value opens to the same bytes under its own cookie name,
 * not under another name, not with a ring that lacks its key, and not after any one character
 * changes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session_internal.h"
#include "libapi/common.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static api__sess_ring *ring, *other;

static void init(void) {
  api_session_key k[2];
  for (int i = 0; i < API_SESSION_KEY_LEN; i++) {
    k[0].bytes[i] = (unsigned char)(i + 1);
    k[1].bytes[i] = (unsigned char)(0x80 + i);
  }
  if (api__sess_ring_new(&ring, k, 2) || api__sess_ring_new(&other, k + 1, 1)) abort();
}

static void must_not_open(const api__sess_ring *r, const char *name, const char *value) {
  unsigned char *pt;
  size_t len;
  int rc = api__sess_open(r, name, value, &pt, &len);
  if (rc == 0) abort();
  if (rc != API_ENOTFOUND && rc != API_ENOMEM) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ring) init();
  if (size > 8192) return 0;
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  must_not_open(ring, "sid", text);
  free(text);
  if (!size || size > 3000) return 0; /* a plaintext the middleware could send */
  char *value;
  if (api__sess_seal(ring, "sid", data, size, &value) != 0) abort();
  if (strlen(value) != api__sess_sealed_len(size)) abort();
  unsigned char *pt;
  size_t len;
  if (api__sess_open(ring, "sid", value, &pt, &len) != 0) abort();
  if (len != size || memcmp(pt, data, size) || pt[len]) abort();
  api__free(pt);
  must_not_open(ring, "sie", value);
  must_not_open(other, "sid", value);
  size_t n = strlen(value), at = data[0] % n;
  value[at] = value[at] == 'A' ? 'B' : 'A';
  must_not_open(ring, "sid", value);
  value[n - 1] = 0;
  must_not_open(ring, "sid", value);
  api__free(value);
  return 0;
}
