/* bench_mw: what the compression and ETag middleware cost on a 2 KiB JSON response, through the
 * in-process client (parser, pipeline, writer). Prints microseconds per request for each setup;
 * run it under `valgrind --tool=callgrind` to count instructions per hook.
 * usage: bench_mw [requests [plain|etag|gzip|etag+gzip [zlib level]]] */
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char body[2048 + 1];
static int level; /* zlib level, 0: the default */

static int handler(api_req *req, api_res *res, void *user_data) {
  (void)req;
  (void)user_data;
  return api_res_body_ref(res, "application/json", body, 2048);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A JSON array of small objects, like a page of a list endpoint, exactly 2048 bytes. */
static void make_body(void) {
  size_t n = 1;
  body[0] = '[';
  for (int i = 0; n < 1900; i++)
    n += (size_t)snprintf(body + n, sizeof(body) - n,
                          "%s{\"id\":%d,\"name\":\"user%d\",\"active\":%s}", i ? "," : "", 1000 + i,
                          i * 37 % 1000, i % 3 ? "true" : "false");
  while (n < 2047) body[n++] = ' ';
  body[2047] = ']';
  body[2048] = '\0';
}

static double run(const char *setup, int requests, size_t *wire) {
  api_app *app;
  if (api_app_new(&app, NULL) != 0) exit(1);
  api_middleware mw;
  if (strstr(setup, "etag")) {
    if (api_mw_etag(app, API_CONDITIONAL_OPTIONS(), &mw) || api_app_use(app, &mw)) exit(1);
  }
  if (strstr(setup, "gzip")) {
    if (api_mw_compress(app, API_COMPRESS_OPTIONS(.level = level), &mw) || api_app_use(app, &mw))
      exit(1);
  }
  api_app_get(app, "/list", handler, NULL);
  api_test *t;
  if (api_test_new(&t, app) != 0) exit(1);
  const char *headers[] = {"Accept-Encoding: gzip, deflate, br", NULL};
  double t0 = 0;
  for (int i = -50; i < requests; i++) { /* 50 warm-up requests */
    if (i == 0) t0 = now();
    api_test_res *r;
    if (api_test_request(t, API_TEST_REQ(.target = "/list", .headers = headers), &r) != 0) exit(1);
    api_test_res_body(r, wire);
    api_test_res_free(r);
  }
  double us = (now() - t0) / requests * 1e6;
  api_test_free(t);
  api_app_free(app);
  return us;
}

int main(int argc, char **argv) {
  int requests = argc > 1 ? atoi(argv[1]) : 2000;
  const char *only = argc > 2 ? argv[2] : NULL;
  level = argc > 3 ? atoi(argv[3]) : 0;
  make_body();
  const char *setups[] = {"plain", "etag", "gzip", "etag+gzip"};
  for (size_t i = 0; i < 4; i++) {
    if (only && strcmp(only, setups[i]) != 0) continue;
    size_t wire = 0;
    double us = run(setups[i], requests, &wire);
    printf("%-10s %8.1f us/request  body %zu bytes\n", setups[i], us, wire);
  }
  return 0;
}
