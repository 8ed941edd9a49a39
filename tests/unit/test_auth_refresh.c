/* Refresh tokens: issue, rotation, reuse detection revoking the family, logout, expiry, store
 * bounds, hostile token text, concurrent use of one token from many threads, allocation failure. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <libapi/api.h>

#include "util/alloc.h"

static api_refresh_memstore *ms;
static api_refresh_store st;

static void setup_n(size_t n) {
  cr_assert_eq(api_refresh_memstore_new(&ms, n), 0);
  api_refresh_memstore_store(ms, &st);
}
static void stop(void) {
  api_refresh_memstore_free(ms);
  ms = NULL;
}

TestSuite(auth_refresh, .fini = stop, .timeout = 60);

#define T0 2000000000LL

Test(auth_refresh, issue_and_rotate) {
  setup_n(0);
  char *a, *b, subject[API_REFRESH_SUBJECT_MAX];
  cr_assert_eq(api_refresh_issue(&st, "user-1", API_REFRESH_OPTIONS(.now = T0), &a), 0);
  cr_assert_eq(strlen(a), 43);
  cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
  cr_assert_eq(api_refresh_rotate(&st, a, API_REFRESH_OPTIONS(.now = T0 + 10), &b, subject), 0);
  cr_assert_str_eq(subject, "user-1");
  cr_assert_str_neq(a, b);
  cr_assert_eq(api_refresh_memstore_count(ms), 2, "the used token is kept to detect reuse");
  char *c;
  cr_assert_eq(api_refresh_rotate(&st, b, API_REFRESH_OPTIONS(.now = T0 + 20), &c, NULL), 0);
  api_auth_string_free(a);
  api_auth_string_free(b);
  api_auth_string_free(c);
}

Test(auth_refresh, reuse_revokes_the_family) {
  setup_n(0);
  char *a, *b, *c, *other, *x;
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &a), 0);
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &other), 0); /* another login of the user */
  cr_assert_eq(api_refresh_rotate(&st, a, NULL, &b, NULL), 0);
  cr_assert_eq(api_refresh_rotate(&st, b, NULL, &c, NULL), 0);
  /* the thief replays a: everything of that family is gone, c (the user's newest) included */
  cr_assert_eq(api_refresh_rotate(&st, a, NULL, &x, NULL), API_EUNAUTHORIZED);
  cr_assert_eq(api_refresh_rotate(&st, c, NULL, &x, NULL), API_EUNAUTHORIZED);
  cr_assert_eq(api_refresh_rotate(&st, b, NULL, &x, NULL), API_EUNAUTHORIZED);
  /* the other login is untouched */
  cr_assert_eq(api_refresh_rotate(&st, other, NULL, &x, NULL), 0);
  api_auth_string_free(x);
  cr_assert_eq(api_refresh_memstore_count(ms), 2);
  api_auth_string_free(a);
  api_auth_string_free(b);
  api_auth_string_free(c);
  api_auth_string_free(other);
}

Test(auth_refresh, logout_one_or_family) {
  setup_n(0);
  char *a, *b, *c, *x;
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &a), 0);
  cr_assert_eq(api_refresh_rotate(&st, a, NULL, &b, NULL), 0);
  cr_assert_eq(api_refresh_revoke(&st, b, 0), 0);
  cr_assert_eq(api_refresh_rotate(&st, b, NULL, &x, NULL), API_EUNAUTHORIZED);
  cr_assert_eq(api_refresh_revoke(&st, b, 0), 0, "twice is fine");
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &c), 0);
  cr_assert_eq(api_refresh_rotate(&st, c, NULL, &x, NULL), 0);
  cr_assert_eq(api_refresh_revoke(&st, x, 1), 0);
  cr_assert_eq(api_refresh_memstore_count(ms), 1, "only a's used marker remains");
  cr_assert_eq(api_refresh_revoke(&st, "garbage", 1), 0);
  cr_assert_eq(api_refresh_revoke(&st, a, 1), 0);
  cr_assert_eq(api_refresh_memstore_count(ms), 0);
  api_auth_string_free(a);
  api_auth_string_free(b);
  api_auth_string_free(c);
  api_auth_string_free(x);
}

Test(auth_refresh, expiry) {
  setup_n(0);
  char *a, *b, *x;
  cr_assert_eq(api_refresh_issue(&st, "u", API_REFRESH_OPTIONS(.now = T0, .ttl = 60), &a), 0);
  cr_assert_eq(api_refresh_rotate(&st, a, API_REFRESH_OPTIONS(.now = T0 + 60), &x, NULL),
               API_EUNAUTHORIZED, "expired at exactly now + ttl");
  cr_assert_eq(
      api_refresh_issue(&st, "u", API_REFRESH_OPTIONS(.now = T0, .ttl = 60, .family_ttl = 100), &b),
      0);
  char *c, *d;
  cr_assert_eq(api_refresh_rotate(&st, b, API_REFRESH_OPTIONS(.now = T0 + 50, .ttl = 60), &c, NULL),
               0);
  /* the family ends at T0 + 100: c expires then, not at T0 + 110 */
  cr_assert_eq(
      api_refresh_rotate(&st, c, API_REFRESH_OPTIONS(.now = T0 + 100, .ttl = 60), &d, NULL),
      API_EUNAUTHORIZED);
  api_auth_string_free(a);
  api_auth_string_free(b);
  api_auth_string_free(c);
}

Test(auth_refresh, hostile_tokens) {
  setup_n(0);
  char *a, *x;
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &a), 0);
  char buf[200];
  const char *bad[] = {"", "a", "====", "\xff\xfe", "abc.def"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(api_refresh_rotate(&st, bad[i], NULL, &x, NULL), API_EUNAUTHORIZED);
  snprintf(buf, sizeof(buf), "%s=", a); /* padding */
  cr_assert_eq(api_refresh_rotate(&st, buf, NULL, &x, NULL), API_EUNAUTHORIZED);
  snprintf(buf, sizeof(buf), " %s", a);
  cr_assert_eq(api_refresh_rotate(&st, buf, NULL, &x, NULL), API_EUNAUTHORIZED);
  snprintf(buf, sizeof(buf), "%.42s", a);
  cr_assert_eq(api_refresh_rotate(&st, buf, NULL, &x, NULL), API_EUNAUTHORIZED);
  /* the real one still works after all that */
  cr_assert_eq(api_refresh_rotate(&st, a, NULL, &x, NULL), 0);
  api_auth_string_free(x);
  api_auth_string_free(a);
  char big[API_REFRESH_SUBJECT_MAX + 1];
  memset(big, 'u', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  cr_assert_eq(api_refresh_issue(&st, big, NULL, &x), API_EINVAL);
  cr_assert_eq(api_refresh_issue(&st, "", NULL, &x), API_EINVAL);
  cr_assert_eq(api_refresh_issue(&st, "u", API_REFRESH_OPTIONS(.ttl = -1), &x), API_EINVAL);
  api_refresh_store broken = st;
  broken.consume = NULL;
  cr_assert_eq(api_refresh_issue(&broken, "u", NULL, &x), API_EINVAL);
}

Test(auth_refresh, store_bounds) {
  setup_n(4);
  char *tok[6] = {0}, *x;
  for (int i = 0; i < 4; i++) cr_assert_eq(api_refresh_issue(&st, "u", NULL, &tok[i]), 0);
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &tok[4]), API_EUNAVAILABLE,
               "full of active tokens: refused");
  cr_assert_eq(api_refresh_memstore_count(ms), 4);
  /* rotation stores the new token before consuming the old one: no room, no rotation */
  cr_assert_eq(api_refresh_rotate(&st, tok[0], NULL, &x, NULL), API_EUNAVAILABLE);
  cr_assert_eq(api_refresh_memstore_count(ms), 4);
  cr_assert_eq(api_refresh_revoke(&st, tok[3], 0), 0);
  cr_assert_eq(api_refresh_rotate(&st, tok[0], NULL, &x, NULL), 0, "tok[0] still works");
  /* now 3 active and 1 used marker: the marker makes room for a new login */
  cr_assert_eq(api_refresh_memstore_count(ms), 4);
  api_auth_string_free(tok[4]);
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &tok[4]), 0);
  cr_assert_eq(api_refresh_memstore_count(ms), 4);
  cr_assert_eq(api_refresh_rotate(&st, tok[0], NULL, &tok[3], NULL), API_EUNAUTHORIZED,
               "the marker was dropped: an unknown token");
  api_auth_string_free(tok[3]);
  tok[3] = NULL;
  /* expired tokens make room too */
  api_refresh_memstore_free(ms);
  setup_n(2);
  cr_assert_eq(api_refresh_issue(&st, "u", API_REFRESH_OPTIONS(.now = 1000, .ttl = 1), &tok[5]), 0);
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &tok[4]), 0);
  char *y;
  cr_assert_eq(api_refresh_issue(&st, "u", NULL, &y), 0, "the expired one was dropped");
  cr_assert_eq(api_refresh_memstore_count(ms), 2);
  for (int i = 0; i < 6; i++) api_auth_string_free(tok[i]);
  api_auth_string_free(x);
  api_auth_string_free(y);
}

static char *shared_token;
static int wins, losses;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *racer(void *arg) {
  (void)arg;
  char *x = NULL;
  int rc = api_refresh_rotate(&st, shared_token, NULL, &x, NULL);
  pthread_mutex_lock(&mu);
  if (rc == 0)
    wins++;
  else if (rc == API_EUNAUTHORIZED)
    losses++;
  pthread_mutex_unlock(&mu);
  api_auth_string_free(x);
  return NULL;
}

Test(auth_refresh, concurrent_use_of_one_token) {
  setup_n(0);
  for (int round = 0; round < 20; round++) {
    wins = losses = 0;
    cr_assert_eq(api_refresh_issue(&st, "u", NULL, &shared_token), 0);
    pthread_t th[8];
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, racer, NULL);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    cr_assert_eq(wins, 1, "exactly one rotation wins (round %d)", round);
    cr_assert_eq(losses, 7);
    api_auth_string_free(shared_token);
  }
  /* every family got revoked by the losers' reuse */
  cr_assert_eq(api_refresh_memstore_count(ms), 0);
}

Test(auth_refresh, allocation_failure) {
  setup_n(0);
  for (long n = 0; n < 4; n++) {
    char *a = NULL;
    api__alloc_fail_nth(n);
    int rc = api_refresh_issue(&st, "u", NULL, &a);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM, "rc %d", rc);
    api_auth_string_free(a);
  }
  api_refresh_memstore *m2;
  api__alloc_fail_nth(0);
  cr_assert_eq(api_refresh_memstore_new(&m2, 10), API_ENOMEM);
  api__alloc_fail_nth(-1);
}
