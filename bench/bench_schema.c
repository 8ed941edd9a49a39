/* bench_schema: parse + validate the two documents of shared/bench/peers/ajv_bench.js against
 * its schema, N times each (default 1,000,000), collecting all errors for the invalid one. Prints
 * the plain jansson path (json_loadb + api_schema_validate + json_decref) and the arena path
 * (api_schema_validate_text); the last two lines are the arena path's figures.
 * bench_schema [N [valid|invalid]]: with a document name, only that one on the arena path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libapi/schema.h>

static const char *SCHEMA =
    "{\"type\":\"object\",\"required\":[\"name\",\"email\",\"age\"],\"additionalProperties\":false,"
    "\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
    "\"email\":{\"type\":\"string\",\"format\":\"email\",\"maxLength\":254},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},"
    "\"roles\":{\"type\":\"array\",\"items\":{\"enum\":[\"admin\",\"dev\",\"viewer\"]},"
    "\"uniqueItems\":true,\"maxItems\":3},"
    "\"address\":{\"type\":\"object\",\"required\":[\"zip\"],\"properties\":{"
    "\"street\":{\"type\":\"string\"},\"zip\":{\"type\":\"string\",\"pattern\":\"^[0-9]{5}$\"}}}}}";
static const char *GOOD =
    "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"age\":36,\"roles\":[\"admin\","
    "\"dev\"],\"address\":{\"street\":\"12 St James Sq\",\"zip\":\"12345\"}}";
static const char *BAD =
    "{\"name\":\"\",\"email\":\"not-an-email\",\"age\":200,\"roles\":[\"admin\",\"admin\",\"root\"]"
    ","
    "\"address\":{\"zip\":\"abc\"},\"extra\":1}";

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double run(const api_schema *s, const char *doc, long n, int arena, size_t *errors) {
  size_t len = strlen(doc);
  json_t *pre = json_loadb(doc, len, 0, NULL);
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  double t0 = now();
  for (long i = 0; i < n; i++) {
    if (arena == 2) {
      api_schema_validate(s, pre, &res);
    } else if (arena) {
      api_schema_validate_text(s, doc, len, &res);
    } else {
      json_t *j = json_loadb(doc, len, 0, NULL);
      api_schema_validate(s, j, &res);
      json_decref(j);
    }
  }
  double dt = now() - t0;
  *errors = res.count;
  json_decref(pre);
  api_schema_result_free(&res);
  return (double)n / dt;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  api_schema *s = NULL;
  if (api_schema_parse(&s, SCHEMA, strlen(SCHEMA), NULL)) {
    fprintf(stderr, "bench_schema: %s\n", api_last_error());
    return 1;
  }
  size_t e1, e2;
  if (argc > 2) { /* "valid" or "invalid": only the arena path for that document (for perf stat) */
    double r = run(s, strcmp(argv[2], "valid") ? BAD : GOOD, n, 1, &e1);
    printf("%s docs/s %.0f\n", argv[2], r);
    api_schema_free(s);
    return 0;
  }
  double pv = run(s, GOOD, n, 0, &e1), pi = run(s, BAD, n, 0, &e2);
  printf("jansson malloc path: valid %.0f docs/s (%zu errors), invalid %.0f docs/s (%zu errors)\n",
         pv, e1, pi, e2);
  double vv = run(s, GOOD, n, 2, &e1), vi = run(s, BAD, n, 2, &e2);
  printf("validation only (parsed once): valid %.0f docs/s, invalid %.0f docs/s\n", vv, vi);
  double av = run(s, GOOD, n, 1, &e1), ai = run(s, BAD, n, 1, &e2);
  printf("arena path: %zu errors for the valid document, %zu for the invalid one\n", e1, e2);
  printf("valid docs/s %.0f\n", av);
  printf("invalid docs/s %.0f\n", ai);
  api_schema_free(s);
  return 0;
}
