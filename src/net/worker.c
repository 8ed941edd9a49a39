/* A worker thread: its event loop, listener, timer lists, caches and cross-thread queue. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/codec.h"
#include "net/net.h"
#include "util/alloc.h"

enum { TICK_MS = 100, RBUF_CACHE_MAX = 256, BLOCK_CACHE_MAX = 64, ACCEPT_BATCH = 64 };

uint64_t api__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t api__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void refresh_date(api__worker *w) {
  time_t now = time(NULL);
  if (now == w->date_sec) return;
  w->date_sec = now;
  memcpy(w->date_line, "Date: ", 6);
  size_t n = api__http_date(now, w->date_line + 6);
  memcpy(w->date_line + 6 + n, "\r\n", 3);
  w->date_len = 6 + n + 2;
}

/* Close what the deadline allows: everything not waiting on its handler. */
static void close_list(api__worker *w, int kind) {
  while (!api__list_empty(&w->timers[kind]))
    api__conn_close(api__conn_of_link(w->timers[kind].next));
}

/* The loop ends when every connection is gone. A request suspended past the deadline has lost its
 * connection but not its memory, which another thread may still be using: the worker waits for it
 * to come back rather than free it under that thread. */
static void maybe_exit(api__worker *w) {
  if (w->stopping && w->nconns == 0) event_base_loopbreak(w->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  api__worker *w = arg;
  w->now_ms = api__now_ms();
  refresh_date(w);
  if (w->accept_paused && !w->stopping && w->listen_ev) {
    w->accept_paused = false;
    event_add(w->listen_ev, NULL);
  }
  for (int k = 0; k < API__T_BUSY; k++) {
    while (!api__list_empty(&w->timers[k])) {
      api__conn *c = api__conn_of_link(w->timers[k].next);
      if (!api__conn_timeout_due(c, w->now_ms)) break;
      api__conn_timeout(c);
    }
  }
  /* Route timeouts differ per route, so their list is not sorted: look at each entry. */
  for (api__list *l = w->timers[API__T_ROUTE].next, *next; l != &w->timers[API__T_ROUTE];
       l = next) {
    next = l->next;
    api__conn *c = api__conn_of_link(l);
    if (api__conn_timeout_due(c, w->now_ms)) api__conn_timeout(c);
  }
  maybe_exit(w);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
  api__worker *w = arg;
  for (int k = 0; k < API__T_COUNT; k++) close_list(w, k);
  if (w->nconns)
    api_log(w->app->logger, API_LOG_WARN,
            "shutdown deadline passed; waiting for suspended requests",
            API_LOG_UINT("requests", w->nconns));
  maybe_exit(w);
}

static void begin_shutdown(api__worker *w) {
  if (w->stopping) return;
  w->stopping = true;
  if (w->listen_ev) event_del(w->listen_ev);
  if (w->listen_fd >= 0) close(w->listen_fd);
  w->listen_fd = -1;
  /* Idle keep-alive connections go now; the others finish their request and then close
   * (responses say Connection: close once the worker is stopping). */
  close_list(w, API__T_IDLE);
  uint32_t ms = w->cfg->shutdown_timeout_ms;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  w->deadline_ev = evtimer_new(w->base, on_deadline, w);
  if (w->deadline_ev) evtimer_add(w->deadline_ev, &tv);
  maybe_exit(w);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
  api__worker *w = arg;
  uint64_t v;
  while (read(w->wake_fd, &v, sizeof(v)) > 0) {
  }
  w->now_ms = api__now_ms();
  pthread_mutex_lock(&w->qlock);
  api_req *q = w->queue_head;
  w->queue_head = w->queue_tail = NULL;
  pthread_mutex_unlock(&w->qlock);
  while (q) {
    api_req *next = q->queue_next;
    q->queue_next = NULL;
    api__conn_resumed(q);
    q = next;
  }
  api__worker_take_injected(w);
  if (atomic_load(&w->srv->stop_requested)) begin_shutdown(w);
  maybe_exit(w);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg) {
  api__worker *w = arg;
  w->now_ms = api__now_ms();
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors or memory: stop accepting until the next tick rather than spin on a
         * listener that stays readable. Connections already open keep being served. */
        api_log(w->app->logger, API_LOG_ERROR, "accept failed; pausing accepts",
                API_LOG_STR("error", strerror(errno)));
        event_del(w->listen_ev);
        w->accept_paused = true;
      }
      return;
    }
    api__conn_accept(w, fd, &sa, len);
  }
}

int api__worker_init(api__worker *w, struct api_server *srv, int index, int listen_fd) {
  memset(w, 0, sizeof(*w));
  w->srv = srv;
  w->app = srv->app;
  w->cfg = &srv->app->cfg;
  w->index = index;
  w->listen_fd = listen_fd;
  w->wake_fd = -1;
  w->limits = (api__limits){.max_uri = w->cfg->max_uri,
                            .max_header_bytes = w->cfg->max_header_bytes,
                            .max_headers = w->cfg->max_headers};
  w->block_size = sizeof(api_req) + w->cfg->max_headers * sizeof(api__header) + 16 + 4096;
  w->block_size = (w->block_size + 15) & ~(size_t)15;
  for (int k = 0; k < API__T_COUNT; k++) api__list_init(&w->timers[k]);
  pthread_mutex_init(&w->qlock, NULL);
  unsigned char rnd[6];
  if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) memset(rnd, index, sizeof(rnd));
  for (int i = 0; i < 6; i++) snprintf(w->id_prefix + 2 * i, 3, "%02x", rnd[i]);
  refresh_date(w);
  w->now_ms = api__now_ms();

  struct event_config *ec = event_config_new();
  if (!ec) return API_ENOMEM;
  event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
  w->base = event_base_new_with_config(ec);
  event_config_free(ec);
  w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!w->base || w->wake_fd < 0) return API_ESYS;
  if (listen_fd >= 0 &&
      !(w->listen_ev = event_new(w->base, listen_fd, EV_READ | EV_PERSIST, on_accept, w)))
    return API_ENOMEM;
  w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
  w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
  if (!w->wake_ev || !w->tick_ev) return API_ENOMEM;
  struct timeval tick = {0, TICK_MS * 1000};
  if ((w->listen_ev && event_add(w->listen_ev, NULL)) || event_add(w->wake_ev, NULL) ||
      event_add(w->tick_ev, &tick))
    return API_ESYS;
  return 0;
}

/* Set for the life of a worker thread: blocking calls (bcrypt) refuse to run there. */
static _Thread_local bool on_worker;

bool api__on_worker_thread(void) { return on_worker; }

void *api__worker_main(void *arg) {
  api__worker *w = arg;
  on_worker = true;
  event_base_dispatch(w->base);
  return NULL;
}

void api__worker_destroy(api__worker *w) {
  /* The loop has ended: every connection is closed and every request has come back. */
  if (w->listen_ev) event_free(w->listen_ev);
  if (w->wake_ev) event_free(w->wake_ev);
  if (w->tick_ev) event_free(w->tick_ev);
  if (w->deadline_ev) event_free(w->deadline_ev);
  if (w->base) event_base_free(w->base);
  if (w->listen_fd >= 0) close(w->listen_fd);
  if (w->wake_fd >= 0) close(w->wake_fd);
  while (w->rbuf_cache) {
    void *next = *(void **)w->rbuf_cache;
    api__free(w->rbuf_cache);
    w->rbuf_cache = next;
  }
  while (w->block_cache) {
    void *next = *(void **)w->block_cache;
    api__free(w->block_cache);
    w->block_cache = next;
  }
  if (w->injected) { /* handed over as the server stopped: never served */
    w->stopping = true;
    api__worker_take_injected(w);
  }
  pthread_mutex_destroy(&w->qlock);
}

void api__worker_wake(api__worker *w) {
  uint64_t one = 1;
  ssize_t n = write(w->wake_fd, &one, sizeof(one));
  (void)n; /* a full counter already means "wake up" */
}

void api__worker_post(api__worker *w, api_req *req) {
  req->queue_next = NULL;
  pthread_mutex_lock(&w->qlock);
  if (w->queue_tail) {
    w->queue_tail->queue_next = req;
  } else {
    w->queue_head = req;
  }
  w->queue_tail = req;
  pthread_mutex_unlock(&w->qlock);
  api__worker_wake(w);
}

char *api__worker_request_id(api__worker *w, api__arena *a) {
  char *id = api__arena_alloc(a, 32);
  unsigned long long n = atomic_fetch_add_explicit(&w->id_counter, 1, memory_order_relaxed) + 1;
  if (!id) return NULL;
  /* "<12 hex prefix><counter as at least 8 hex digits>", without printf on the hot path. */
  static const char digits[] = "0123456789abcdef";
  memcpy(id, w->id_prefix, 12);
  int len = 8;
  while (len < 16 && (n >> (4 * len))) len++;
  for (int i = 0; i < len; i++) id[12 + i] = digits[(n >> (4 * (len - 1 - i))) & 15];
  id[12 + len] = '\0';
  return id;
}

char *api__worker_rbuf_get(api__worker *w) {
  if (w->rbuf_cache) {
    char *b = w->rbuf_cache;
    w->rbuf_cache = *(void **)b;
    w->nrbuf_cache--;
    return b;
  }
  return api__malloc(API__RBUF_SIZE);
}

void api__worker_rbuf_put(api__worker *w, char *buf) {
  if (w->nrbuf_cache >= RBUF_CACHE_MAX) {
    api__free(buf);
    return;
  }
  *(void **)buf = w->rbuf_cache;
  w->rbuf_cache = buf;
  w->nrbuf_cache++;
}

void *api__worker_block_get(api__worker *w) {
  if (w->block_cache) {
    void *b = w->block_cache;
    w->block_cache = *(void **)b;
    w->nblock_cache--;
    return b;
  }
  return api__malloc(w->block_size);
}

void api__worker_block_put(api__worker *w, void *block) {
  if (w->nblock_cache >= BLOCK_CACHE_MAX) {
    api__free(block);
    return;
  }
  *(void **)block = w->block_cache;
  w->block_cache = block;
  w->nblock_cache++;
}
