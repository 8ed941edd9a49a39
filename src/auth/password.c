/*
 * bcrypt password hashing through libxcrypt, with refusals instead of silent truncation, and
 * never on a worker's event loop: the public functions refuse to run there, and the
 * api_req_password_* helpers run them on the offload pool for a handler.
 */
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"
#include "libapi/auth.h"
#include "libapi/request.h"
#include "net/net.h"
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

static int on_loop(const char *fn, const char *helper) {
  return api__fail(API_ESTATE,
                   "%s: called on a worker (event-loop) thread, where bcrypt would stall every "
                   "connection of the worker; use %s() or api_offload()",
                   fn, helper);
}

static int hash(char **out, const char *password, int cost) {
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

int api_password_hash(char **out, const char *password, int cost) {
  if (api__on_worker_thread()) {
    if (out) *out = NULL;
    return on_loop("api_password_hash", "api_req_password_hash");
  }
  return hash(out, password, cost);
}

/* The hash an unknown user is checked against: of a random password, at the default cost, made
 * once by the first check (a failed attempt, out of memory, is retried by the next one). */
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool dummy_ready;
static char dummy_hash[BCRYPT_LEN + 1];

static int make_dummy(void) {
  if (atomic_load_explicit(&dummy_ready, memory_order_acquire)) return 0;
  pthread_mutex_lock(&dummy_lock);
  int rc = 0;
  if (!atomic_load_explicit(&dummy_ready, memory_order_relaxed)) {
    unsigned char rnd[16];
    char pw[2 * sizeof(rnd) + 1], *h = NULL;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
      rc = api__fail(API_ESYS, "no random bytes");
    } else {
      for (size_t i = 0; i < sizeof(rnd); i++) snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
      rc = hash(&h, pw, API_PASSWORD_DEFAULT_COST);
    }
    if (!rc) {
      memcpy(dummy_hash, h, BCRYPT_LEN + 1);
      atomic_store_explicit(&dummy_ready, true, memory_order_release);
    }
    api_auth_string_free(h);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    OPENSSL_cleanse(pw, sizeof(pw));
  }
  pthread_mutex_unlock(&dummy_lock);
  return rc;
}

static int verify(const char *password, const char *hash) {
  char variant;
  int cost;
  if (!password) return api__fail(API_EINVAL, "api_password_verify: NULL password");
  /* made by the first check of any kind, so that only the first one is slower, whoever it is for */
  int rc = make_dummy();
  bool unknown = !hash;
  if (unknown) {
    if (rc) return rc;
    hash = dummy_hash;
  }
  if (!parse_hash(hash, &variant, &cost)) return api__fail(API_EINVAL, "not a bcrypt hash");
  if (strlen(password) > API_PASSWORD_MAX_LEN)
    return api__fail(API_EUNAUTHORIZED, "password longer than %d bytes", API_PASSWORD_MAX_LEN);
  struct crypt_data *cd = api__calloc(1, sizeof(*cd));
  if (!cd) return api__fail(API_ENOMEM, "out of memory");
  const char *h = crypt_rn(password, hash, cd, sizeof(*cd));
  if (!h || strnlen(h, BCRYPT_LEN + 1) != BCRYPT_LEN) {
    rc = api__fail(API_EINVAL, "bcrypt refused the hash");
  } else {
    /* The whole string, in constant time: it holds the salt and cost as well as the digest. */
    rc = CRYPTO_memcmp(h, hash, BCRYPT_LEN) == 0 && !unknown
             ? 0
             : api__fail(API_EUNAUTHORIZED, unknown ? "unknown user" : "wrong password");
  }
  OPENSSL_cleanse(cd, sizeof(*cd));
  api__free(cd);
  return rc;
}

int api_password_verify(const char *password, const char *hash) {
  return api__on_worker_thread() ? on_loop("api_password_verify", "api_req_password_verify")
                                 : verify(password, hash);
}

/* ---- On the offload pool, for handlers ---- */

typedef struct pw_job {
  api_password_done_fn done;
  void *user_data;
  bool is_verify, unknown, too_long;
  int cost, rc;
  char password[API_PASSWORD_MAX_LEN + 1];
  char hash[BCRYPT_LEN + 2]; /* verify: the hash (one more byte to tell a longer one); hash: out */
  char msg[160];             /* api_last_error() of the pool thread, for the worker's */
} pw_job;

static void job_wipe(void *p) { OPENSSL_cleanse(p, sizeof(pw_job)); }

static void job_work(void *p) {
  pw_job *j = p;
  if (j->is_verify) {
    j->rc = j->too_long ? api__fail(API_EUNAUTHORIZED, "password longer than %d bytes",
                                    API_PASSWORD_MAX_LEN)
                        : verify(j->password, j->unknown ? NULL : j->hash);
  } else {
    char *h = NULL;
    j->rc = hash(&h, j->password, j->cost);
    if (!j->rc) memcpy(j->hash, h, BCRYPT_LEN + 1);
    api_auth_string_free(h);
  }
  if (j->rc) snprintf(j->msg, sizeof(j->msg), "%s", api_last_error());
  OPENSSL_cleanse(j->password, sizeof(j->password));
}

static int job_after(api_req *req, api_res *res, void *p) {
  pw_job *j = p;
  if (j->rc) api__fail(j->rc, "%s", j->msg);
  return j->done(req, res, j->rc, !j->is_verify && !j->rc ? j->hash : NULL, j->user_data);
}

static int submit(api_req *req, const char *password, pw_job *j) {
  /* the request's cleanup wipes the copy whatever happens to the request */
  int rc = api_req_on_free(req, job_wipe, j);
  if (rc) {
    job_wipe(j);
    return rc;
  }
  if (!j->too_long) memcpy(j->password, password, strlen(password) + 1);
  rc = api_offload(req, job_work, job_after, j);
  if (rc != API_ASYNC) OPENSSL_cleanse(j->password, sizeof(j->password));
  return rc;
}

int api_req_password_verify(api_req *req, const char *password, const char *hash,
                            api_password_done_fn done, void *user_data) {
  if (!req || !password || !done)
    return api__fail(API_EINVAL, "api_req_password_verify: NULL argument");
  pw_job *j = api_req_alloc(req, sizeof(*j));
  if (!j) return API_ENOMEM;
  *j = (pw_job){.done = done,
                .user_data = user_data,
                .is_verify = true,
                .unknown = !hash,
                .too_long = strlen(password) > API_PASSWORD_MAX_LEN};
  if (hash) snprintf(j->hash, sizeof(j->hash), "%s", hash);
  return submit(req, password, j);
}

int api_req_password_hash(api_req *req, const char *password, int cost, api_password_done_fn done,
                          void *user_data) {
  if (!req || !password || !done)
    return api__fail(API_EINVAL, "api_req_password_hash: NULL argument");
  if (cost == 0) cost = API_PASSWORD_DEFAULT_COST;
  if (cost < 4 || cost > 31) return api__fail(API_EINVAL, "bcrypt cost %d not in 4..31", cost);
  if (strlen(password) > API_PASSWORD_MAX_LEN)
    return api__fail(API_EINVAL, "password longer than %d bytes (bcrypt would truncate it)",
                     API_PASSWORD_MAX_LEN);
  pw_job *j = api_req_alloc(req, sizeof(*j));
  if (!j) return API_ENOMEM;
  *j = (pw_job){.done = done, .user_data = user_data, .cost = cost};
  return submit(req, password, j);
}

int api_password_needs_rehash(const char *hash, int cost) {
  char variant;
  int have;
  if (cost == 0) cost = API_PASSWORD_DEFAULT_COST;
  if (cost < 4 || cost > 31) return api__fail(API_EINVAL, "bcrypt cost %d not in 4..31", cost);
  if (!parse_hash(hash, &variant, &have)) return api__fail(API_EINVAL, "not a bcrypt hash");
  return variant != 'b' || have != cost;
}
