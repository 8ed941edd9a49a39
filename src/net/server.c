/* Starting and stopping a server: listeners, worker threads, the offload pool, signals. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "net/net.h"
#include "util/alloc.h"

/* Bind one SO_REUSEPORT listener. port 0 asks the kernel for one; *bound gets the port. */
static int listen_on(const char *host, int port, int *bound) {
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", port);
  int gai = getaddrinfo(host, portstr, &hints, &res);
  if (gai)
    return api__fail(API_ESYS, "cannot resolve listen address %s: %s", host, gai_strerror(gai));
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) break;
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return api__fail(API_ESYS, "cannot listen on %s:%d: %s", host, port, strerror(err));
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(fd, (struct sockaddr *)&ss, &len);
  *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

/*
 * The workers' listeners share their port through SO_REUSEPORT, which would also let them join
 * another process's listeners on a fixed port. A socket without SO_REUSEPORT cannot bind a port
 * that has a listener, so binding one first tells whether the port is free. (An ephemeral port
 * never comes back shared: the kernel skips ports held with SO_REUSEPORT when it picks one.)
 */
static int port_is_free(const char *host, int port) {
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", port);
  if (getaddrinfo(host, portstr, &hints, &res)) return 0; /* listen_on reports it */
  int rc = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT is no conflict */
    int b = bind(fd, ai->ai_addr, ai->ai_addrlen);
    int err = errno;
    close(fd);
    if (b == 0) break;
    if (err == EADDRINUSE) {
      rc = api__fail(API_ESYS,
                     "cannot listen on %s:%d: address already in use (another server is running "
                     "there; set share_port or API_SHARE_PORT=1 to share it on purpose)",
                     host, port);
      break;
    }
  }
  freeaddrinfo(res);
  return rc;
}

/* Idle connections are cheap, descriptors should not be the limit: raise the soft limit to the
 * hard one, as Go's runtime does. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Turns a stop request (possibly from a signal handler) into wake-ups for every worker. */
static void *stop_watcher(void *arg) {
  api_server *srv = arg;
  char c;
  while (read(srv->stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  atomic_store(&srv->app->draining, true);
  atomic_store(&srv->stop_requested, true);
  for (int i = 0; i < srv->nworkers; i++) api__worker_wake(&srv->workers[i]);
  return NULL;
}

static void free_server(api_server *srv) {
  for (int i = 0; i < srv->nworkers; i++) api__worker_destroy(&srv->workers[i]);
  api__free(srv->workers);
  if (srv->stop_pipe[0] >= 0) close(srv->stop_pipe[0]);
  if (srv->stop_pipe[1] >= 0) close(srv->stop_pipe[1]);
  atomic_store(&srv->app->running, false);
  if (srv->app->server == srv) srv->app->server = NULL;
  api__free(srv);
}

int api_server_start(api_server **out, api_app *app) { return api__server_start(out, app, true); }

int api__server_start(api_server **out, api_app *app, bool listen) {
  *out = NULL;
  if (app->config_err)
    return api__fail(API_ESTATE, "the app has a configuration error: %s", app->config_msg);
  bool expected = false;
  if (!atomic_compare_exchange_strong(&app->running, &expected, true))
    return api__fail(API_ESTATE, "this app is already running");
  int rc = api__app_freeze(app);
  if (!rc && !api_app_logger(app)) rc = API_ENOMEM;
  api_server *srv = api__calloc(1, sizeof(*srv));
  if (rc || !srv) {
    api__free(srv);
    atomic_store(&app->running, false);
    return rc ? rc : API_ENOMEM;
  }
  srv->app = app;
  app->server = srv;
  atomic_store(&app->draining, false);
  srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
  const api_config *cfg = &app->cfg;
  raise_fd_limit();
  int nworkers = listen ? cfg->workers : 1;
  srv->workers = api__calloc((size_t)nworkers, sizeof(api__worker));
  if (!srv->workers) rc = API_ENOMEM;
  if (!rc && pipe2(srv->stop_pipe, O_CLOEXEC))
    rc = api__fail(API_ESYS, "pipe: %s", strerror(errno));
  /* A full pipe already means "stop": api_server_stop must never block (signal handlers). */
  if (!rc) fcntl(srv->stop_pipe[1], F_SETFL, O_NONBLOCK);
  int port = cfg->port == API_PORT_ANY ? 0 : cfg->port;
  if (!rc && listen && port && !cfg->share_port) rc = port_is_free(cfg->host, port);
  for (int i = 0; !rc && i < nworkers; i++) {
    int fd = -1;
    if (listen && (fd = listen_on(cfg->host, port, &port)) < 0) {
      rc = fd;
      break;
    }
    srv->nworkers++;
    rc = api__worker_init(&srv->workers[i], srv, i, fd);
  }
  srv->port = listen ? port : 0;
  /* Our threads ignore SIGINT/SIGTERM/SIGPIPE: signals belong to the program's main thread. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (!rc) rc = api__offload_start(&srv->offload, cfg->offload_threads);
  int started = 0;
  for (; !rc && started < srv->nworkers; started++)
    if (pthread_create(&srv->workers[started].thread, NULL, api__worker_main,
                       &srv->workers[started]))
      rc = api__fail(API_ESYS, "cannot start a worker thread");
  if (!rc && pthread_create(&srv->stop_thread, NULL, stop_watcher, srv))
    rc = api__fail(API_ESYS, "cannot start a thread");
  srv->stop_thread_started = !rc;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    atomic_store(&srv->stop_requested, true);
    for (int i = 0; i < started; i++) {
      api__worker_wake(&srv->workers[i]);
      pthread_join(srv->workers[i].thread, NULL);
    }
    api__offload_stop(srv->offload);
    free_server(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

int api_server_port(const api_server *srv) { return srv->port; }

uint64_t api__server_stat(const api_server *srv, size_t offset) {
  uint64_t sum = 0;
  for (int i = 0; i < srv->nworkers; i++)
    sum += atomic_load_explicit((_Atomic uint64_t *)((char *)&srv->workers[i] + offset),
                                memory_order_relaxed);
  return sum;
}

void api_server_stop(api_server *srv) {
  ssize_t n = write(srv->stop_pipe[1], "x", 1);
  (void)n; /* the pipe already holding a byte means a stop is under way */
}

int api_server_wait(api_server *srv) {
  if (srv->joined) return 0;
  if (srv->stop_thread_started) pthread_join(srv->stop_thread, NULL);
  for (int i = 0; i < srv->nworkers; i++) pthread_join(srv->workers[i].thread, NULL);
  api__offload_stop(srv->offload);
  srv->offload = NULL;
  srv->joined = true;
  return 0;
}

void api_server_free(api_server *srv) {
  if (!srv) return;
  if (!srv->joined) {
    api_server_stop(srv);
    api_server_wait(srv);
  }
  free_server(srv);
}

int api_app_run(api_app *app) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  api_server *srv;
  int rc = api_server_start(&srv, app);
  if (rc) {
    fprintf(stderr, "libapi: %s\n", api_last_error());
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
  }
  char url[300];
  snprintf(url, sizeof(url), "http://%s%s%s:%d", strchr(app->cfg.host, ':') ? "[" : "",
           app->cfg.host, strchr(app->cfg.host, ':') ? "]" : "", srv->port);
  api_log(app->logger, API_LOG_INFO, "listening", API_LOG_STR("url", url),
          API_LOG_INT("workers", app->cfg.workers));
  int sig = 0;
  sigwait(&set, &sig);
  api_log(app->logger, API_LOG_INFO, "shutting down",
          API_LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
  api_server_stop(srv);
  api_server_wait(srv);
  api_server_free(srv);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return 0;
}

/* A connection handed over by api__server_inject, waiting for its worker. */
typedef struct api__injected {
  int fd;
  unsigned salen;
  struct sockaddr_storage sa;
  struct api__injected *next;
} api__injected;

int api__server_inject(api_server *srv, int fd, const void *sa, unsigned salen) {
  api__worker *w = &srv->workers[0];
  api__injected *in = api__calloc(1, sizeof(*in));
  if (!in || salen > sizeof(in->sa)) {
    api__free(in);
    close(fd);
    return in ? API_EINVAL : API_ENOMEM;
  }
  in->fd = fd;
  in->salen = salen;
  memcpy(&in->sa, sa, salen);
  pthread_mutex_lock(&w->qlock);
  in->next = w->injected;
  w->injected = in;
  pthread_mutex_unlock(&w->qlock);
  api__worker_wake(w);
  return 0;
}

void api__worker_take_injected(api__worker *w) {
  pthread_mutex_lock(&w->qlock);
  api__injected *in = w->injected;
  w->injected = NULL;
  pthread_mutex_unlock(&w->qlock);
  while (in) {
    api__injected *next = in->next;
    api__conn_accept(w, in->fd, &in->sa, in->salen);
    api__free(in);
    in = next;
  }
}
