/* bench_session: encrypted session cookies. Part 1 seals and opens (AES-256-GCM, base64url) a
 * typical session — created, last seen, id and ~150 bytes of JSON data — on one thread, per
 * second of the thread's CPU time. Part 2 sends GET requests carrying a session through the
 * in-process client, with an encrypted cookie and with the memory store, for the cost in context
 * (wall clock; the client, the worker and the socket pair included).
 * Usage: bench_session [CPU seconds for part 1, default 3]. */
#include <jansson.h>
#include <libapi/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/session_internal.h"
#include "util/alloc.h"

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char data[] =
    "{\"user\":\"u-4f1c2b9e\",\"name\":\"Ada Lovelace\",\"roles\":[\"admin\",\"editor\"],"
    "\"locale\":\"en-GB\",\"tz\":\"Europe/London\",\"cart\":3,\"mfa\":true,\"plan\":\"team\"}";

static void seal_open(const api__sess_ring *ring, double seconds) {
  size_t dlen = strlen(data), plen = 48 + dlen;
  unsigned char *pt = malloc(plen);
  memset(pt, 7, 48);
  memcpy(pt + 48, data, dlen);
  char *value = NULL;
  long n = 0;
  double start = clock_s(CLOCK_THREAD_CPUTIME_ID), wall = clock_s(CLOCK_MONOTONIC), end;
  size_t vlen = 0;
  do {
    for (int i = 0; i < 1000; i++, n++) {
      if (api__sess_seal(ring, "__Host-sid", pt, plen, &value) != 0) exit(1);
      unsigned char *out;
      size_t olen;
      if (api__sess_open(ring, "__Host-sid", value, &out, &olen) != 0 || olen != plen) exit(1);
      vlen = strlen(value);
      api__free(out);
      api__free(value);
    }
    end = clock_s(CLOCK_THREAD_CPUTIME_ID);
  } while (end - start < seconds);
  wall = clock_s(CLOCK_MONOTONIC) - wall;
  printf("session of %zu bytes (%zu of JSON data): cookie value of %zu characters\n", plen, dlen,
         vlen);
  printf("seal+open/s %.0f (CPU time; %.0f wall)\n", (double)n / (end - start), (double)n / wall);
  free(pt);
}

static int h_login(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *d = json_loads(data, 0, NULL);
  const char *k;
  json_t *v;
  json_object_foreach(d, k, v) api_session_set(req, k, json_incref(v));
  json_decref(d);
  return api_res_text(res, 200, "ok");
}

static int h_me(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *u = api_session_get(req, "user");
  return api_res_text(res, 200, json_is_string(u) ? json_string_value(u) : "-");
}

static void requests(const char *label, const api_session_options *opts) {
  api_app *app;
  api_middleware mw;
  api_test *t;
  if (api_app_new(&app, NULL) || api_mw_session(app, opts, &mw) || api_app_use(app, &mw) ||
      api_app_post(app, "/login", h_login, NULL) || api_app_get(app, "/me", h_me, NULL) ||
      api_test_new(&t, app)) {
    fprintf(stderr, "%s: setup failed: %s\n", label, api_last_error());
    exit(1);
  }
  api_test_res *r;
  if (api_test_request(t, API_TEST_REQ(.method = "POST", .target = "/login"), &r)) exit(1);
  const char *sc = api_test_res_header(r, "Set-Cookie");
  char line[8192];
  snprintf(line, sizeof(line), "Cookie: %.*s", (int)strcspn(sc, ";"), sc);
  api_test_res_free(r);
  const char *h[] = {line, NULL};
  long n = 0;
  double start = clock_s(CLOCK_MONOTONIC), end;
  do {
    for (int i = 0; i < 500; i++, n++) {
      if (api_test_request(t, API_TEST_REQ(.target = "/me", .headers = h), &r)) exit(1);
      if (strcmp(api_test_res_body(r, NULL), "u-4f1c2b9e")) exit(2);
      api_test_res_free(r);
    }
    end = clock_s(CLOCK_MONOTONIC);
  } while (end - start < 1.0);
  printf("%s: GET with a session, requests/s %.0f (wall, in-process client)\n", label,
         (double)n / (end - start));
  api_test_free(t);
  api_app_free(app);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3;
  api_session_key keys[2];
  for (int i = 0; i < API_SESSION_KEY_LEN; i++) {
    keys[0].bytes[i] = (unsigned char)(i * 7 + 1);
    keys[1].bytes[i] = (unsigned char)(i * 5 + 3);
  }
  api__sess_ring *ring;
  if (api__sess_ring_new(&ring, keys, 2) != 0) return 1;
  seal_open(ring, seconds);
  api__sess_ring_free(ring);
  requests("encrypted cookie",
           API_SESSION_OPTIONS(.keys = keys, .nkeys = 2, .insecure = 1, .cookie_name = "sid"));
  api_session_memstore *ms;
  api_session_store st;
  if (api_session_memstore_new(&ms, 0, 0)) return 1;
  api_session_memstore_store(ms, &st);
  requests("memory store", API_SESSION_OPTIONS(.store = &st, .insecure = 1, .cookie_name = "sid"));
  api_session_memstore_free(ms);
  return 0;
}
