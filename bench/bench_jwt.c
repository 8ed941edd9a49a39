/* bench_jwt: JWT verifications per second on one thread, for HS256 and ES256 tokens shaped like
 * those of the peer benchmarks (claims sub, name, roles, iss, aud, iat, exp; verify checks
 * signature, exp, iss and aud). Rates are per second of the thread's CPU time, as `openssl speed`
 * measures by default, so that a busy machine does not distort them; the wall-clock rate is shown
 * too. Usage: bench_jwt [CPU seconds per algorithm, default 3]. */
#include <jansson.h>
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The peers' demo secret (40 bytes), public on purpose: this is a benchmark, not a deployment. */
static const char demo_secret[] = "a-string-secret-at-least-256-bits-long!!";
/* RFC 7515 appendix A.3's example P-256 key: a published test key. */
static const char es256_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
    "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}";

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double run(const api_jwt_keyset *ks, const char *label, double seconds) {
  time_t t0 = time(NULL);
  json_t *claims = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:I, s:I}", "sub", "42", "name", "Ada",
                             "roles", "admin", "iss", "https://auth.example.com", "aud", "api",
                             "iat", (json_int_t)t0, "exp", (json_int_t)t0 + 7200);
  char *tok = NULL;
  if (api_jwt_sign(&tok, ks, NULL, NULL, claims, NULL) != 0) {
    fprintf(stderr, "%s: sign failed: %s\n", label, api_last_error());
    exit(1);
  }
  json_decref(claims);
  size_t len = strlen(tok);
  static const char *const audiences[] = {"api", NULL};
  const api_jwt_verify_options *o =
      API_JWT_VERIFY_OPTIONS(.issuer = "https://auth.example.com", .audiences = audiences);
  /* Warm up, then run in batches until the time is up. */
  long n = 0, ok = 0, batch = 256;
  for (int i = 0; i < 100; i++) {
    api_jwt_result r = {0};
    ok += api_jwt_verify(ks, tok, len, o, &r) == 0;
    api_jwt_result_free(&r);
  }
  if (ok != 100) {
    fprintf(stderr, "%s: verify failed\n", label);
    exit(1);
  }
  ok = 0;
  double start = clock_s(CLOCK_THREAD_CPUTIME_ID), wall = clock_s(CLOCK_MONOTONIC), end;
  do {
    for (long i = 0; i < batch; i++) {
      api_jwt_result r = {0};
      ok += api_jwt_verify(ks, tok, len, o, &r) == 0;
      api_jwt_result_free(&r);
    }
    n += batch;
    end = clock_s(CLOCK_THREAD_CPUTIME_ID);
  } while (end - start < seconds);
  wall = clock_s(CLOCK_MONOTONIC) - wall;
  if (ok != n) {
    fprintf(stderr, "%s: %ld of %ld verifications failed\n", label, n - ok, n);
    exit(1);
  }
  printf("%s: %ld verifications in %.2f s of CPU time (%.2f s wall: %.0f/s), token %zu bytes\n",
         label, n, end - start, wall, (double)n / wall, len);
  api_auth_string_free(tok);
  return (double)n / (end - start);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  if (seconds <= 0) seconds = 3.0;
  api_jwt_keyset *hs = NULL, *es = NULL;
  if (api_jwt_keyset_from_secret(&hs, demo_secret, sizeof(demo_secret) - 1, "HS256", NULL) ||
      api_jwt_keyset_from_jwks(&es, es256_jwk, sizeof(es256_jwk) - 1)) {
    fprintf(stderr, "keys: %s\n", api_last_error());
    return 1;
  }
  double h = run(hs, "HS256", seconds), e = run(es, "ES256", seconds);
  printf("HS256 verify/s %.0f\n", h);
  printf("ES256 verify/s %.0f\n", e);
  api_jwt_keyset_free(hs);
  api_jwt_keyset_free(es);
  return 0;
}
