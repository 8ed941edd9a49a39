/* bench_json: the library's JSON parser (src/util/json.c) against json_loadb() on three documents:
 * bench_schema's valid document (134 bytes), JWT-sized claims (186 bytes) and a 60-item list
 * (5.6 KB with numbers, escapes and nesting). Parse + json_decref, N times each (default 200,000),
 * rates per second of the thread's CPU time. For instruction counts, run it under
 * `valgrind --tool=callgrind` with two values of N and compare the totals.
 * usage: bench_json [N [small|claims|large [ours|jansson]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/json.h"

static const char SMALL[] =
    "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"age\":36,\"roles\":[\"admin\","
    "\"dev\"],\"address\":{\"street\":\"12 St James Sq\",\"zip\":\"12345\"}}";
static const char CLAIMS[] =
    "{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022,\"exp\":1916239022,"
    "\"iss\":\"https://auth.example.com\",\"aud\":[\"api\",\"web\"],\"scope\":\"read write\","
    "\"roles\":[\"admin\"],\"email_verified\":true}";
static char large[16384];

static void make_large(void) {
  size_t n = 0;
  n += (size_t)snprintf(large + n, sizeof large - n, "{\"items\":[");
  for (int i = 0; i < 60; i++)
    n += (size_t)snprintf(large + n, sizeof large - n,
                          "%s{\"id\":%d,\"price\":%d.%02d,\"name\":\"item \\u00e9 %d\\n\","
                          "\"tags\":[\"a\",\"b\"],\"ok\":true,\"r\":-1.5e-3}",
                          i ? "," : "", i * 7919, i, i % 100, i);
  snprintf(large + n, sizeof large - n, "],\"total\":123456789}");
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Docs per CPU second; exits if a parse fails. */
static double run(const char *doc, long n, int jansson) {
  size_t len = strlen(doc);
  double t0 = cpu_now();
  for (long i = 0; i < n; i++) {
    json_t *v = jansson ? json_loadb(doc, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL)
                        : api__json_parse(doc, len, 0, NULL);
    if (!v) {
      fprintf(stderr, "bench_json: parse failed\n");
      exit(1);
    }
    json_decref(v);
  }
  return (double)n / (cpu_now() - t0);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  make_large();
  const struct {
    const char *name, *doc;
  } docs[] = {{"small", SMALL}, {"claims", CLAIMS}, {"large", large}};
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    if (argc > 2 && strcmp(argv[2], docs[i].name)) continue;
    size_t len = strlen(docs[i].doc);
    long k = len > 1000 ? n / 50 : n;
    for (int j = 0; j < 2; j++) {
      if (argc > 3 && strcmp(argv[3], j ? "jansson" : "ours")) continue;
      double r = run(docs[i].doc, k, j);
      printf("%-6s (%5zu bytes) %-10s %10.0f docs/s %7.1f MB/s\n", docs[i].name, len,
             j ? "json_loadb" : "api__json", r, r * (double)len / 1e6);
    }
  }
  return 0;
}
