/* bcrypt passwords: round trip at cost 4 (fast), wrong passwords, malformed hashes, needs_rehash,
 * the 72-byte limit, and hashes made by libxcrypt directly in the other variants. */
#include <criterion/criterion.h>
#include <crypt.h>
#include <string.h>

#include "libapi/auth.h"
#include "util/alloc.h"

static void teardown(void) { api__alloc_fail_after(-1); }
TestSuite(password, .fini = teardown);

static char *hash(const char *pw, int cost) {
  char *h = NULL;
  cr_assert_eq(api_password_hash(&h, pw, cost), 0, "%s", api_last_error());
  return h;
}

Test(password, round_trip) {
  const char *pws[] = {"correct horse battery staple", "", "p\xc3\xa4ssw\xc3\xb6rd", "a",
                       "\x01\xff"};
  for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
    char *h = hash(pws[i], 4);
    cr_assert_eq(strlen(h), 60);
    cr_assert_eq(strncmp(h, "$2b$04$", 7), 0, "%s", h);
    cr_assert_eq(api_password_verify(pws[i], h), 0);
    cr_assert_eq(api_password_needs_rehash(h, 4), 0);
    api_auth_string_free(h);
  }
}

Test(password, salts_differ) {
  char *a = hash("same", 4), *b = hash("same", 4);
  cr_assert_str_neq(a, b);
  cr_assert_eq(api_password_verify("same", a), 0);
  cr_assert_eq(api_password_verify("same", b), 0);
  api_auth_string_free(a);
  api_auth_string_free(b);
}

Test(password, wrong_passwords) {
  char *h = hash("secret", 4);
  const char *wrong[] = {"Secret", "secret ", "secre", "", "secret\n", "secretsecret"};
  for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
    cr_assert_eq(api_password_verify(wrong[i], h), API_EUNAUTHORIZED, "\"%s\"", wrong[i]);
  cr_assert_eq(api_password_verify(NULL, h), API_EINVAL);
  api_auth_string_free(h);
}

Test(password, seventy_two_byte_limit) {
  char pw[80];
  memset(pw, 'x', sizeof(pw));
  pw[72] = 0;
  char *h = hash(pw, 4); /* exactly 72: fine */
  cr_assert_eq(api_password_verify(pw, h), 0);
  pw[72] = 'y';
  pw[73] = 0;
  /* 73 bytes: bcrypt would ignore the 73rd and accept it; libapi refuses. */
  cr_assert_eq(api_password_verify(pw, h), API_EUNAUTHORIZED);
  char *h2 = NULL;
  cr_assert_eq(api_password_hash(&h2, pw, 4), API_EINVAL);
  cr_assert_null(h2);
  api_auth_string_free(h);
}

Test(password, cost_bounds) {
  char *h = NULL;
  cr_assert_eq(api_password_hash(&h, "x", 3), API_EINVAL);
  cr_assert_eq(api_password_hash(&h, "x", 32), API_EINVAL);
  cr_assert_eq(api_password_hash(&h, "x", -1), API_EINVAL);
  cr_assert_eq(api_password_hash(NULL, "x", 4), API_EINVAL);
  cr_assert_eq(api_password_hash(&h, NULL, 4), API_EINVAL);
  cr_assert_null(h);
  h = hash("x", 5);
  cr_assert_eq(strncmp(h, "$2b$05$", 7), 0);
  api_auth_string_free(h);
}

Test(password, malformed_hashes) {
  char *good = hash("pw", 4);
  char bad[12][80];
  const char *fixed[] = {"", "$2b$", "plaintext", "$1$abcdefgh$abcdefghijklmnopqrstuv",
                         "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"};
  int n = 0;
  snprintf(bad[n++], 80, "%.59s", good);               /* one short */
  snprintf(bad[n++], 80, "%s.", good);                 /* one long */
  snprintf(bad[n++], 80, "$2x%s", good + 3);           /* unknown variant */
  snprintf(bad[n++], 80, "$2b$03%s", good + 6);        /* cost below 4 */
  snprintf(bad[n++], 80, "$2b$32%s", good + 6);        /* cost above 31 */
  snprintf(bad[n++], 80, "$2b$4$%s", good + 7);        /* one-digit cost */
  snprintf(bad[n++], 80, "%.20s!%s", good, good + 21); /* not in the alphabet */
  snprintf(bad[n++], 80, "%.20s=%s", good, good + 21);
  snprintf(bad[n++], 80, "%.6s%s", good, good + 7); /* no third '$' */
  for (int i = 0; i < n; i++) {
    cr_assert_eq(api_password_verify("pw", bad[i]), API_EINVAL, "accepted \"%s\"", bad[i]);
    cr_assert_eq(api_password_needs_rehash(bad[i], 4), API_EINVAL, "\"%s\"", bad[i]);
  }
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
    cr_assert_eq(api_password_verify("pw", fixed[i]), API_EINVAL, "accepted \"%s\"", fixed[i]);
  cr_assert_eq(api_password_needs_rehash(NULL, 4), API_EINVAL);
  api_auth_string_free(good);
}

Test(password, unknown_user_burns_a_default_cost_check) {
  /* NULL hash: a check against the internal dummy hash, never a match */
  cr_assert_eq(api_password_verify("pw", NULL), API_EUNAUTHORIZED);
  cr_assert_str_eq(api_last_error(), "unknown user");
  cr_assert_eq(api_password_verify("", NULL), API_EUNAUTHORIZED);
  cr_assert_eq(api_password_verify(NULL, NULL), API_EINVAL);
}

Test(password, unknown_user_hash_made_again_after_a_failure) {
  api__alloc_fail_nth(0);
  cr_assert_eq(api_password_verify("pw", NULL), API_ENOMEM);
  api__alloc_fail_nth(-1);
  cr_assert_eq(api_password_verify("pw", NULL), API_EUNAUTHORIZED);
}

Test(password, other_variants_verify_and_need_rehash) {
  /* $2a$ and $2y$ hashes made by libxcrypt itself. */
  const char *variants[] = {"$2a$", "$2y$"};
  for (int i = 0; i < 2; i++) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    cr_assert_not_null(
        crypt_gensalt_rn(variants[i], 4, "0123456789abcdef", 16, salt, sizeof(salt)));
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *h = crypt_rn("legacy", salt, &cd, sizeof(cd));
    cr_assert_not_null(h);
    cr_assert_eq(api_password_verify("legacy", h), 0, "%s", h);
    cr_assert_eq(api_password_verify("Legacy", h), API_EUNAUTHORIZED);
    cr_assert_eq(api_password_needs_rehash(h, 4), 1, "variant %s", variants[i]);
  }
}

Test(password, needs_rehash_on_cost) {
  char *h = hash("pw", 5);
  cr_assert_eq(api_password_needs_rehash(h, 5), 0);
  cr_assert_eq(api_password_needs_rehash(h, 4), 1);
  cr_assert_eq(api_password_needs_rehash(h, 6), 1);
  cr_assert_eq(api_password_needs_rehash(h, 0), 1, "0 means the default, 12");
  cr_assert_eq(api_password_needs_rehash(h, 40), API_EINVAL);
  api_auth_string_free(h);
}

Test(password, allocation_failures) {
  for (long i = 0; i < 3; i++) {
    char *h = NULL;
    api__alloc_fail_nth(i);
    int rc = api_password_hash(&h, "pw", 4);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM);
    if (rc == 0) {
      cr_assert_eq(api_password_verify("pw", h), 0); /* makes the unknown-user hash first */
      api__alloc_fail_nth(0);
      cr_assert_eq(api_password_verify("pw", h), API_ENOMEM);
      api__alloc_fail_nth(-1);
      cr_assert_eq(api_password_verify("pw", h), 0);
    } else {
      cr_assert_null(h);
    }
    api_auth_string_free(h);
  }
}
