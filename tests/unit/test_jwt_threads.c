/* One key set shared by several threads verifying and signing at once: every result must be right
 * (per-thread OpenSSL contexts and header caches must not leak between threads or keys), and each
 * thread's cache is freed when it exits (the sanitizer build checks for leaks). */
#include <pthread.h>

#include "support/jwt_vectors.h"

#define THREADS 4
#define ROUNDS 300

static api_jwt_keyset *shared;
static char *tokens[4];

static void *worker(void *arg) {
  long id = (long)arg, failures = 0;
  json_t *claims = json_pack("{s:I,s:I}", "exp", (json_int_t)4102444800, "thread", (json_int_t)id);
  for (int i = 0; i < ROUNDS; i++) {
    const char *t = tokens[(i + id) % 4];
    api_jwt_result r = {0};
    if (api_jwt_verify(shared, t, strlen(t), NULL, &r) != 0) failures++;
    api_jwt_result_free(&r);
    /* A forged variant of the same token must still fail on this thread's cached contexts. */
    char forged[1024];
    snprintf(forged, sizeof(forged), "%s", t);
    size_t n = strlen(forged);
    forged[n - 3] = forged[n - 3] == 'A' ? 'B' : 'A';
    if (api_jwt_verify(shared, forged, n, NULL, &r) == 0) failures++;
    api_jwt_result_free(&r);
    if (i % 50 == 0) {
      char *mine = NULL;
      if (api_jwt_sign(&mine, shared, "HS256", NULL, claims, NULL) != 0 ||
          api_jwt_verify(shared, mine, strlen(mine), NULL, &r) != 0 ||
          json_integer_value(json_object_get(r.claims, "thread")) != id)
        failures++;
      api_jwt_result_free(&r);
      api_auth_string_free(mine);
    }
  }
  json_decref(claims);
  return (void *)failures;
}

Test(jwt_threads, shared_key_set) {
  char json[8192];
  snprintf(json, sizeof(json), "{\"keys\":[%s,%s,%s,%s]}", RFC7515_A1_JWK, RFC7515_A2_JWK_PRIVATE,
           RFC7515_A3_JWK_PRIVATE, RFC8037_JWK_PRIVATE);
  shared = jwks(json);
  static const char *headers[] = {"{\"alg\":\"HS256\"}", "{\"alg\":\"RS256\"}",
                                  "{\"alg\":\"ES256\"}", "{\"alg\":\"EdDSA\"}"};
  for (int i = 0; i < 4; i++)
    tokens[i] = make_token(shared, (size_t)i, headers[i], "{\"exp\":4102444800}");
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, worker, (void *)i), 0);
  for (int i = 0; i < THREADS; i++) {
    void *failures;
    pthread_join(th[i], &failures);
    cr_assert_eq((long)failures, 0, "thread %d: %ld failures", i, (long)failures);
  }
  for (int i = 0; i < 4; i++) api_auth_string_free(tokens[i]);
  api_jwt_keyset_free(shared);
}
