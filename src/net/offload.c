/* The offload pool: threads that run blocking work, then hand the request back to its worker. */
#include <pthread.h>

#include "net/net.h"
#include "util/alloc.h"

struct api__offload {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  api_req *head, *tail;
  bool stopping;
  int nthreads;
  pthread_t threads[];
};

static void *run(void *arg) {
  api__offload *o = arg;
  pthread_mutex_lock(&o->lock);
  for (;;) {
    while (!o->head && !o->stopping) pthread_cond_wait(&o->cond, &o->lock);
    api_req *req = o->head;
    if (!req) break; /* stopping and drained */
    o->head = req->queue_next;
    if (!o->head) o->tail = NULL;
    pthread_mutex_unlock(&o->lock);
    req->queue_next = NULL;
    req->work(req->after_data);
    req->work = NULL;
    api__worker_post(req->worker, req);
    pthread_mutex_lock(&o->lock);
  }
  pthread_mutex_unlock(&o->lock);
  return NULL;
}

int api__offload_start(api__offload **out, int threads) {
  api__offload *o = api__calloc(1, sizeof(*o) + (size_t)threads * sizeof(pthread_t));
  if (!o) return API_ENOMEM;
  pthread_mutex_init(&o->lock, NULL);
  pthread_cond_init(&o->cond, NULL);
  for (; o->nthreads < threads; o->nthreads++) {
    if (pthread_create(&o->threads[o->nthreads], NULL, run, o) != 0) {
      api__offload_stop(o);
      return API_ESYS;
    }
  }
  *out = o;
  return 0;
}

int api__offload_submit(api__offload *o, api_req *req) {
  pthread_mutex_lock(&o->lock);
  if (o->stopping) {
    pthread_mutex_unlock(&o->lock);
    return API_EUNAVAILABLE;
  }
  req->queue_next = NULL;
  if (o->tail) {
    o->tail->queue_next = req;
  } else {
    o->head = req;
  }
  o->tail = req;
  pthread_cond_signal(&o->cond);
  pthread_mutex_unlock(&o->lock);
  return 0;
}

void api__offload_stop(api__offload *o) {
  if (!o) return;
  pthread_mutex_lock(&o->lock);
  o->stopping = true;
  pthread_cond_broadcast(&o->cond);
  pthread_mutex_unlock(&o->lock);
  for (int i = 0; i < o->nthreads; i++) pthread_join(o->threads[i], NULL);
  pthread_mutex_destroy(&o->lock);
  pthread_cond_destroy(&o->cond);
  api__free(o);
}
