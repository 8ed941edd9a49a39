/*
 * Workers, connections and the offload pool. A worker is one thread with one event_base and one
 * SO_REUSEPORT listener; every connection it accepts stays on it. Timeouts use one list per kind:
 * all entries of a list have the same duration, so appending keeps each list sorted by deadline
 * and a periodic tick only looks at list heads.
 */
#ifndef API_NET_NET_H
#define API_NET_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/app_internal.h"
#include "http/message.h"
#include "http/parser.h"
#include "util/buf.h"
#include "util/list.h"

struct event_base;
struct event;

/* Timer lists, one per kind of wait. */
enum {
  API__T_IDLE,
  API__T_HEAD,
  API__T_BODY,
  API__T_WRITE,
  API__T_LINGER,
  API__T_BUSY,
  API__T_ROUTE, /* suspended requests with a route timeout: unsorted, scanned on each tick */
  API__T_COUNT
};

typedef struct api__worker {
  struct api_server *srv;
  api_app *app;
  const api_config *cfg;
  api__limits limits;
  int index;
  pthread_t thread;
  struct event_base *base;
  int listen_fd;
  struct event *listen_ev;
  struct event *tick_ev;
  int wake_fd; /* eventfd: resumed requests and shutdown */
  struct event *wake_ev;
  pthread_mutex_t qlock;
  api_req *queue_head, *queue_tail; /* completed async requests, from any thread */
  struct api__injected *injected;   /* connections handed over by api__server_inject */
  api__list timers[API__T_COUNT];
  uint32_t nconns;
  /* Written by the worker only (plain load + store), read by whoever renders metrics. */
  _Atomic uint64_t stat_conns, stat_bytes_in, stat_bytes_out;
  uint64_t now_ms;  /* monotonic, refreshed per event batch */
  void *rbuf_cache; /* free lists (next pointer in the first bytes) */
  uint32_t nrbuf_cache;
  void *block_cache;
  uint32_t nblock_cache;
  size_t block_size;  /* request block: api_req + headers + first arena chunk */
  char date_line[48]; /* "Date: <IMF-fixdate>\r\n" */
  size_t date_len;
  time_t date_sec;
  char id_prefix[16];
  atomic_ullong id_counter; /* also read by threads holding a suspended request */
  bool stopping;
  bool accept_paused;
  struct event *deadline_ev;
} api__worker;

struct api_server {
  api_app *app;
  api__worker *workers;
  int nworkers;
  int port;
  atomic_bool stop_requested;
  int stop_pipe[2]; /* api_server_stop writes here; async-signal-safe */
  pthread_t stop_thread;
  bool stop_thread_started;
  bool joined;
  struct api__offload *offload;
};

typedef struct api__conn api__conn;

/* Start a server; without listen, it has one worker and no listener, and connections arrive only
 * through api__server_inject (the in-process test client). */
int api__server_start(api_server **out, api_app *app, bool listen);
/* Hand a connected socket to the server's first worker, as if accepted from peer sa. Takes fd. */
int api__server_inject(api_server *srv, int fd, const void *sa, unsigned salen);

/* Add n to a worker statistic (worker thread only: no locked instruction). */
static inline void api__stat_add(_Atomic uint64_t *v, uint64_t n) {
  atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n, memory_order_relaxed);
}
/* Sum a statistic over the server's workers (any thread). */
uint64_t api__server_stat(const api_server *srv, size_t offset);

/* Worker side. */
/* Accept the connections api__server_inject queued (on the worker). */
void api__worker_take_injected(api__worker *w);
int api__worker_init(api__worker *w, struct api_server *srv, int index, int listen_fd);
void *api__worker_main(void *arg);
/* Whether the calling thread runs a worker's event loop (where nothing may block). */
bool api__on_worker_thread(void);
void api__worker_destroy(api__worker *w);
/* Hand a request back to its worker (any thread). */
void api__worker_post(api__worker *w, api_req *req);
/* Wake a worker to look at the server's stop flag (any thread, async-signal-safe). */
void api__worker_wake(api__worker *w);
/* A request id, "<worker prefix><counter>", in the arena. */
char *api__worker_request_id(api__worker *w, api__arena *a);
uint64_t api__now_ms(void);
uint64_t api__now_ns(void);

/* Connection side (conn.c). */
void api__conn_accept(api__worker *w, int fd, const void *sa, unsigned salen);
void api__conn_timeout(api__conn *c);
bool api__conn_timeout_due(const api__conn *c, uint64_t now_ms);
void api__conn_close(api__conn *c);
/* A suspended request came back (on the worker thread). */
void api__conn_resumed(api_req *req);

api__conn *api__conn_of_link(api__list *l);
int api__conn_list(const api__conn *c);
void api__conn_peer(const api__conn *c, char *buf, size_t len);
int api__conn_peer_port(const api__conn *c);
struct api__ip;
void api__conn_peer_ip(const api__conn *c, struct api__ip *ip);

/* Buffers and request blocks, cached per worker. */
enum { API__RBUF_SIZE = 4096 };
char *api__worker_rbuf_get(api__worker *w);
void api__worker_rbuf_put(api__worker *w, char *buf);
void *api__worker_block_get(api__worker *w);
void api__worker_block_put(api__worker *w, void *block);

/* Offload pool (offload.c). */
typedef struct api__offload api__offload;
int api__offload_start(api__offload **out, int threads);
int api__offload_submit(api__offload *o, api_req *req);
/* Finish queued jobs, join the threads, free the pool. */
void api__offload_stop(api__offload *o);

/* The pipeline (core/pipeline.c): run a request whose head and body are in. Returns API_ASYNC
 * when the request was suspended, API_ENOMEM when no response could be built (close), else 0 with
 * the response ready on req->res (on_send hooks done). */
int api__pipeline_run(api_req *req);
/* Answer with an error found before the pipeline ran (parser, limits, timeouts): on_send hooks
 * only — the route's when the head was complete, else the app's. Returns as api__pipeline_run. */
int api__pipeline_error(api_req *req, int err, const char *message, bool head_complete);
/* Continue a request coming back from suspension or offload (on its worker). */
int api__pipeline_resume(api_req *req);
/* A request whose route timed out came back: run its after callback, drop its answer. */
void api__pipeline_abandon(api_req *req);
/* The response was serialized (wire_bytes long): run the on_response hooks. */
void api__pipeline_responded(api_req *req, size_t wire_bytes);

/* Response serialization (http/writer.c): status line, headers and body into out. */
int api__write_response(api__buf *out, api_req *req, bool keep_alive, const char *date_line,
                        size_t date_len);

#endif
