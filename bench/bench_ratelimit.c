/* bench_ratelimit: nanoseconds per take of the in-memory rate-limit store, on 1 and 2 threads,
 * for one hot key, 10,000 keys, and a flood of distinct keys against a 100,000-key bound. */
#include <libapi/api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct run {
  api_rate_store *store;
  int mode; /* 0 one key, 1 10k keys, 2 all distinct */
  int id;
  long n;
  double cpu_s; /* this thread's CPU time for its takes */
} run;

/* a quota that never runs out nor expires during the run: every take finds or makes an entry */
static const api_rate_params params = {API_RATE_SLIDING_WINDOW, 1000000000ULL, 1000000000ULL, 0};

static void *worker(void *arg) {
  run *r = arg;
  /* keys are 16 bytes ("k" + thread + counter), made without formatting so the store is timed */
  unsigned char key[16] = "k";
  key[1] = r->mode == 0 ? 0 : (unsigned char)r->id; /* one key: the same for both threads */
  struct timespec t0, t1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  for (long i = 0; i < r->n; i++) {
    unsigned long v = r->mode == 0   ? 0
                      : r->mode == 1 ? (unsigned long)(i % 10000)
                                     : (unsigned long)i;
    memcpy(key + 8, &v, sizeof(v));
    api_rate_take t = {.size = sizeof(t),
                       .key = key,
                       .key_len = sizeof(key),
                       .cost = 1,
                       .now_ms = (unsigned long long)i / 1000,
                       .params = &params};
    api_rate_result res;
    if (r->store->take(r->store, &t, &res) != 0) abort();
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  r->cpu_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  const char *modes[] = {"one shared key", "10k keys per thread", "distinct keys (evicting)"};
  for (int mode = 0; mode < 3; mode++) {
    for (int threads = 1; threads <= 2; threads++) {
      api_rate_store *store;
      if (api_rate_store_mem_new(&store, NULL) != 0) return 1;
      run r[2];
      pthread_t th[2];
      double t0 = now_s();
      for (int i = 0; i < threads; i++) {
        r[i] = (run){.store = store, .mode = mode, .id = i, .n = n};
        pthread_create(&th[i], NULL, worker, &r[i]);
      }
      double cpu = 0;
      for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        cpu += r[i].cpu_s;
      }
      double dt = now_s() - t0;
      /* CPU time per take is what a take costs (lock waits spin little and sleep otherwise);
       * wall time per take is the throughput, which other load on the machine distorts */
      printf("%-26s %d thread%s: %6.1f ns CPU per take, %6.1f ns wall per take, %zu keys held\n",
             modes[mode], threads, threads > 1 ? "s" : " ", cpu * 1e9 / ((double)n * threads),
             dt * 1e9 / ((double)n * threads), api_rate_store_mem_count(store));
      api_rate_store_free(store);
    }
  }
  return 0;
}
