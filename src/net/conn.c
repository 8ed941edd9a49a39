/*
 * One client connection: read, parse, read the body, dispatch, write — and the timers, limits
 * and closing rules around them.
 *
 * Buffers: `rbuf` holds the bytes of the current request head (and whatever follows it, e.g. a
 * pipelined request); the parsed head points into it, so it never moves while a request lives —
 * except for chunked bodies, whose head is first copied into the request's arena. Content-Length
 * bodies are read straight into request memory. `out` collects responses until they are written,
 * so pipelined responses leave in one write. Both buffers are given back to the worker when the
 * connection goes idle, which is what keeps an idle connection small.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/proxy.h"
#include "net/net.h"
#include "util/alloc.h"

enum { S_IDLE, S_HEAD, S_BODY_CL, S_BODY_CHUNKED, S_HANDLER, S_LINGER };
enum { OUT_HIGH_WATER = 64 * 1024, LINGER_MS = 2000 };

struct api__conn {
  api__list link; /* in exactly one of the worker's timer lists */
  uint64_t deadline;
  api__worker *w;
  api_req *req;
  char *rbuf;
  uint32_t rcap, rlen, rpos; /* rpos: start of the current request's unconsumed bytes */
  uint32_t req_end;          /* where the current request's bytes end in rbuf */
  api__buf out;
  size_t wpos;
  api__parser parser;
  int fd;
  uint8_t state;
  uint8_t tlist;
  short interest; /* EV_READ / EV_WRITE currently registered */
  bool keep_alive;
  bool closing; /* answer no further request; close when the output is written */
  bool orphan;  /* closed while its request was suspended; freed when it comes back */
  uint8_t family;
  uint16_t port;
  uint8_t addr[16];
  alignas(16) unsigned char ev[]; /* struct event, sized at run time */
};

#define EV(c) ((struct event *)(c)->ev)

static void on_event(evutil_socket_t fd, short what, void *arg);
static int process(api__conn *c);

api__conn *api__conn_of_link(api__list *l) { return API__CONTAINER_OF(l, api__conn, link); }
int api__conn_list(const api__conn *c) { return c->tlist; }
bool api__conn_timeout_due(const api__conn *c, uint64_t now_ms) { return c->deadline <= now_ms; }

void api__conn_peer(const api__conn *c, char *buf, size_t len) {
  if (c->family == 4 && len >= 16) { /* the common case, without inet_ntop's sprintf */
    char *p = buf;
    for (int i = 0; i < 4; i++) {
      unsigned v = c->addr[i];
      if (v >= 100) *p++ = (char)('0' + v / 100);
      if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
      *p++ = (char)('0' + v % 10);
      *p++ = i < 3 ? '.' : '\0';
    }
    return;
  }
  if (!inet_ntop(c->family == 6 ? AF_INET6 : AF_INET, c->addr, buf, (socklen_t)len) && len)
    buf[0] = '\0';
}

int api__conn_peer_port(const api__conn *c) { return c->port; }

void api__conn_peer_ip(const api__conn *c, api__ip *ip) {
  ip->family = c->family == 6 ? 6 : 4;
  memcpy(ip->addr, c->addr, sizeof(ip->addr));
}

static void set_timer(api__conn *c, int kind, uint32_t ms) {
  api__list_remove(&c->link);
  c->tlist = (uint8_t)kind;
  c->deadline = c->w->now_ms + ms;
  api__list_push_back(&c->w->timers[kind], &c->link);
}

static void set_interest(api__conn *c, short want) {
  if (want == c->interest) return;
  if (c->interest) event_del(EV(c));
  c->interest = want;
  if (!want) return;
  event_assign(EV(c), c->w->base, c->fd, want | EV_PERSIST, on_event, c);
  event_add(EV(c), NULL);
}

static void release_request(api__conn *c) {
  api_req *req = c->req;
  if (!req) return;
  c->req = NULL;
  api__req_release(req);
  api__worker_block_put(c->w, req);
}

static void free_conn(api__conn *c) {
  api__worker *w = c->w;
  if (c->rbuf) {
    if (c->rcap == API__RBUF_SIZE) {
      api__worker_rbuf_put(w, c->rbuf);
    } else {
      api__free(c->rbuf);
    }
  }
  api__buf_free(&c->out);
  w->nconns--;
  api__stat_add(&w->stat_conns, (uint64_t)-1);
  api__free(c);
}

void api__conn_close(api__conn *c) {
  api__list_remove(&c->link);
  if (c->interest) event_del(EV(c));
  c->interest = 0;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->req && c->req->suspended) {
    c->orphan = true; /* another thread holds the request; free both when it comes back */
    return;
  }
  release_request(c);
  free_conn(c);
}

/* Give the read buffer back when nothing is in it, so an idle connection holds no buffer. */
static void drop_rbuf_if_empty(api__conn *c) {
  if (!c->rbuf || c->rlen != c->rpos || c->req) return;
  if (c->rcap == API__RBUF_SIZE) {
    api__worker_rbuf_put(c->w, c->rbuf);
  } else {
    api__free(c->rbuf);
  }
  c->rbuf = NULL;
  c->rcap = c->rlen = c->rpos = 0;
}

static void drop_out_if_empty(api__conn *c) {
  if (c->out.len != c->wpos) return;
  c->out.len = 0;
  c->wpos = 0;
  if (!c->out.data) return;
  if (c->out.cap == API__RBUF_SIZE) {
    api__worker_rbuf_put(c->w, c->out.data);
    c->out.data = NULL;
    c->out.cap = 0;
  } else {
    api__buf_free(&c->out);
  }
}

/* Write what is pending. Returns -1 if the connection was closed. */
static int flush(api__conn *c) {
  while (c->wpos < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + c->wpos, c->out.len - c->wpos, MSG_NOSIGNAL);
    if (n > 0) {
      c->wpos += (size_t)n;
      api__stat_add(&c->w->stat_bytes_out, (uint64_t)n);
      if (c->tlist == API__T_WRITE) set_timer(c, API__T_WRITE, c->w->cfg->write_timeout_ms);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    api__conn_close(c);
    return -1;
  }
  drop_out_if_empty(c);
  return 0;
}

/* After reading, writing or a handler: pick timers and the events to wait for. */
static void settle(api__conn *c) {
  api__worker *w = c->w;
  bool pending = c->wpos < c->out.len;
  if (w->stopping && c->state == S_IDLE && !pending && c->rpos == c->rlen)
    c->closing = true; /* shutting down: nothing left to do but close, lingering */
  if (c->closing && !pending && c->state != S_HANDLER && c->state != S_LINGER) {
    /* Lingering close: stop sending, keep reading a little so that unread request bytes do not
     * turn our last response into a reset. */
    release_request(c);
    shutdown(c->fd, SHUT_WR);
    c->state = S_LINGER;
    c->rpos = c->rlen = 0;
    set_timer(c, API__T_LINGER, LINGER_MS);
  }
  if (pending && c->tlist != API__T_WRITE && c->state != S_HANDLER) {
    set_timer(c, API__T_WRITE, w->cfg->write_timeout_ms);
  } else if (!pending && c->tlist == API__T_WRITE) {
    if (c->state == S_IDLE) set_timer(c, API__T_IDLE, w->cfg->idle_timeout_ms);
    if (c->state == S_HEAD) set_timer(c, API__T_HEAD, w->cfg->header_timeout_ms);
    if (c->state == S_BODY_CL || c->state == S_BODY_CHUNKED)
      set_timer(c, API__T_BODY, w->cfg->body_timeout_ms);
  }
  if (c->state == S_IDLE) {
    if (c->tlist != API__T_IDLE && !pending) set_timer(c, API__T_IDLE, w->cfg->idle_timeout_ms);
    drop_rbuf_if_empty(c);
  }
  short want = 0;
  if (pending) want |= EV_WRITE;
  if (c->state == S_LINGER ||
      (c->state != S_HANDLER && !c->closing && c->out.len - c->wpos < OUT_HIGH_WATER))
    want |= EV_READ;
  set_interest(c, want);
}

static bool out_ready(api__conn *c) {
  if (c->out.data) return true;
  c->out.data = api__worker_rbuf_get(c->w);
  if (!c->out.data) return false;
  c->out.cap = API__RBUF_SIZE;
  return true;
}

/* The response on c->req is final: serialize it and get ready for the next request. */
static int finish(api__conn *c) {
  api__worker *w = c->w;
  bool keep = c->keep_alive && !w->stopping;
  size_t before = c->out.len;
  if (!out_ready(c) || api__write_response(&c->out, c->req, keep, w->date_line, w->date_len)) {
    api__conn_close(c);
    return -1;
  }
  api__pipeline_responded(c->req, c->out.len - before);
  release_request(c);
  c->rpos = c->req_end;
  if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
  c->state = S_IDLE;
  if (!keep) c->closing = true;
  return 0;
}

/* Answer an error that ends the connection (malformed or oversized request, timeout). */
static int fail(api__conn *c, int err, const char *reason) {
  char msg[160];
  const char *m = NULL;
  if (reason) {
    snprintf(msg, sizeof(msg), "%s: %s", api_strerror(err), reason);
    m = msg;
  }
  if (!c->req) {
    api__conn_close(c);
    return -1;
  }
  bool head_complete = c->state != S_HEAD;
  if (!head_complete) {
    /* The head is half parsed: hooks must not see its pieces. */
    memset(&c->req->head, 0, sizeof(c->req->head));
    c->req->route_rc = API_ENOTFOUND;
  }
  c->keep_alive = false;
  c->req_end = c->rlen; /* whatever else was sent is discarded */
  c->state = S_HANDLER;
  set_timer(c, API__T_BUSY, 0); /* an on_send hook may suspend: no head/body timer meanwhile */
  int rc = api__pipeline_error(c->req, err, m, head_complete);
  if (rc == API_ASYNC) return 0;
  if (rc < 0) {
    api__conn_close(c);
    return -1;
  }
  return finish(c);
}

static int start_request(api__conn *c) {
  api__worker *w = c->w;
  void *block = api__worker_block_get(w);
  if (!block) {
    api__conn_close(c);
    return -1;
  }
  api_req *req = block;
  api__header *hdrs = (api__header *)((char *)block + sizeof(api_req));
  uintptr_t at = (uintptr_t)(hdrs + w->cfg->max_headers);
  char *arena = (char *)((at + alignof(max_align_t) - 1) & ~(uintptr_t)(alignof(max_align_t) - 1));
  size_t arena_size = w->block_size - (size_t)(arena - (char *)block);
  api__req_init(req, c, w, arena, arena_size, hdrs);
  req->start_ns = api__now_ns();
  c->req = req;
  api__parser_reset(&c->parser);
  c->state = S_HEAD;
  set_timer(c, API__T_HEAD, w->cfg->header_timeout_ms);
  return 0;
}

static int dispatch(api__conn *c) {
  api_req *req = c->req;
  c->state = S_HANDLER;
  unsigned timeout = req->route_rc == 0 ? req->route->desc.timeout_ms : 0;
  if (timeout) {
    api_req_id(req); /* fixed now: the 504 may be written while another thread holds the request */
    set_timer(c, API__T_ROUTE, timeout);
  } else {
    set_timer(c, API__T_BUSY, 0);
  }
  int rc = api__pipeline_run(req);
  if (rc == API_ASYNC) return 0;
  if (rc < 0) {
    api__conn_close(c);
    return -1;
  }
  return finish(c);
}

static void send_continue(api__conn *c) {
  static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
  if (c->req->head.minor == 1 && c->req->head.expect_continue && out_ready(c))
    api__buf_append(&c->out, line, sizeof(line) - 1);
}

/* Copy the head into the arena and re-point everything at the copy, so rbuf may move. */
static int rebase_head(api__conn *c, uint32_t head_len) {
  api_req *req = c->req;
  const char *old = c->rbuf + c->rpos;
  char *copy = api__arena_alloc(&req->arena, head_len);
  if (!copy) return API_ENOMEM;
  memcpy(copy, old, head_len);
#define REBASE(p) \
  if ((p) >= old && (p) < old + head_len) (p) = copy + ((p)-old)
  REBASE(req->head.method);
  REBASE(req->head.target);
  REBASE(req->head.path);
  REBASE(req->head.query);
  for (unsigned i = 0; i < req->match.nparams; i++) REBASE(req->match.params[i].value);
  for (uint32_t i = 0; i < req->head.nheaders; i++) {
    REBASE(req->headers[i].name);
    REBASE(req->headers[i].value);
  }
#undef REBASE
  return 0;
}

static int feed_chunked(api__conn *c) {
  api_req *req = c->req;
  uint64_t max = req->max_body;
  while (c->rpos < c->rlen) {
    size_t used = 0, dlen = 0;
    const char *data = NULL;
    int rc = api__chunked_decode(&req->chunked, c->rbuf + c->rpos, c->rlen - c->rpos, &used, &data,
                                 &dlen);
    c->rpos += (uint32_t)used;
    if (rc < 0) return fail(c, rc, req->chunked.reason);
    if (rc == API__CHUNK_DATA) {
      if (req->body_len + dlen > max) return fail(c, API_EBODYTOOLARGE, NULL);
      if (req->body_cap - req->body_len < dlen + 1) {
        size_t cap = req->body_cap ? req->body_cap : 1024;
        while (cap - req->body_len < dlen + 1) cap *= 2;
        char *p = api__realloc(req->body, cap);
        if (!p) return fail(c, API_ENOMEM, NULL);
        req->body = p;
        req->body_cap = cap;
        req->body_malloced = true;
      }
      memcpy(req->body + req->body_len, data, dlen);
      req->body_len += dlen;
      req->body[req->body_len] = '\0';
    } else if (rc == API__CHUNK_DONE) {
      c->req_end = c->rpos;
      return dispatch(c);
    }
  }
  c->rpos = c->rlen = 0; /* all consumed; the head lives in the arena */
  return 0;
}

static int begin_body(api__conn *c, uint32_t head_len) {
  api__worker *w = c->w;
  api_req *req = c->req;
  const api__head *h = &req->head;
  req->route_rc =
      api__router_find(w->app->router, h->method, h->method_len, h->path, h->path_len, &req->match);
  req->max_body = w->cfg->max_body;
  if (req->route_rc == 0) {
    req->route = req->match.route;
    if (req->route->desc.max_body) req->max_body = req->route->desc.max_body;
  }
  c->keep_alive = h->keep_alive;
  bool has_body = h->chunked || h->content_length > 0;
  if (has_body && h->expect_continue && req->route_rc != 0 && req->route_rc != API__ROUTE_OPTIONS &&
      c->rlen - c->rpos == head_len) {
    /* RFC 9110 10.1.1: the client waits for 100 Continue; it gets the final 404/405 instead, and
     * since its body will not be read, the connection closes after the answer. */
    c->keep_alive = false;
    c->req_end = c->rlen;
    return dispatch(c);
  }
  if (h->chunked) {
    if (rebase_head(c, head_len)) return fail(c, API_ENOMEM, NULL);
    c->rpos += head_len;
    req->chunked.max_trailer_bytes = w->cfg->max_header_bytes;
    c->state = S_BODY_CHUNKED;
    set_timer(c, API__T_BODY, w->cfg->body_timeout_ms);
    if (c->rpos == c->rlen) send_continue(c);
    return feed_chunked(c);
  }
  uint64_t cl = h->content_length > 0 ? (uint64_t)h->content_length : 0;
  c->req_end = c->rpos + head_len;
  if (cl == 0) return dispatch(c);
  if (cl > req->max_body) return fail(c, API_EBODYTOOLARGE, NULL);
  req->body = api__arena_alloc(&req->arena, cl + 1);
  if (!req->body) return fail(c, API_ENOMEM, NULL);
  req->body_expected = cl;
  uint32_t avail = c->rlen - c->req_end;
  uint32_t take = avail < cl ? avail : (uint32_t)cl;
  memcpy(req->body, c->rbuf + c->req_end, take);
  req->body_len = take;
  c->req_end += take;
  if (take == cl) {
    req->body[cl] = '\0';
    return dispatch(c);
  }
  c->state = S_BODY_CL;
  set_timer(c, API__T_BODY, w->cfg->body_timeout_ms);
  send_continue(c);
  return 0;
}

/* Parse and run every complete request in rbuf. Returns -1 if the connection was closed. */
static int process(api__conn *c) {
  api__worker *w = c->w;
  for (;;) {
    switch (c->state) {
      case S_IDLE:
        /* Pipelined requests wait while their answers cannot leave: a client that does not read
         * must not make us run handlers and buffer without bound. */
        if (c->closing || c->rpos == c->rlen || c->out.len - c->wpos >= OUT_HIGH_WATER) return 0;
        if (start_request(c)) return -1;
        /* fallthrough */
      case S_HEAD: {
        int rc = api__parse_head(&c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, c->req->headers,
                                 &w->limits, &c->req->head);
        if (rc < 0) return fail(c, rc, c->parser.reason);
        if (rc == 0) return 0;
        if (begin_body(c, (uint32_t)rc)) return -1;
        break;
      }
      case S_BODY_CHUNKED:
        if (feed_chunked(c)) return -1;
        if (c->state == S_BODY_CHUNKED) return 0;
        break;
      case S_LINGER:
        c->rpos = c->rlen = 0;
        return 0;
      default: /* S_BODY_CL reads straight into the body; S_HANDLER waits for its handler */
        return 0;
    }
  }
}

/* Write what is pending and run pipelined requests that were held back while the output was over
 * its mark, for as long as their answers can leave. Returns -1 if the connection was closed. */
static int drain(api__conn *c) {
  for (;;) {
    if (flush(c)) return -1;
    if (c->state != S_IDLE || c->closing || c->rpos == c->rlen ||
        c->out.len - c->wpos >= OUT_HIGH_WATER)
      return 0;
    if (process(c)) return -1;
  }
}

/* Read into the body of a Content-Length request. Returns -1 closed, 0 would block, 1 go on. */
static int read_body(api__conn *c) {
  api_req *req = c->req;
  ssize_t n = read(c->fd, req->body + req->body_len, req->body_expected - req->body_len);
  if (n > 0) {
    api__stat_add(&c->w->stat_bytes_in, (uint64_t)n);
    req->body_len += (size_t)n;
    if (req->body_len < req->body_expected) return 1;
    req->body[req->body_len] = '\0';
    return dispatch(c) ? -1 : 1;
  }
  if (n < 0 && errno == EINTR) return 1;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  api__conn_close(c);
  return -1;
}

/* Make room in rbuf. Returns false when the head cannot grow any more. */
static bool make_room(api__conn *c) {
  if (!c->rbuf) {
    if (!(c->rbuf = api__worker_rbuf_get(c->w))) return false;
    c->rcap = API__RBUF_SIZE;
  }
  if (c->rlen < c->rcap) return true;
  if (c->rpos > 0 && c->state != S_HANDLER) {
    /* Parser state is kept as offsets from the request start, so the request may move. */
    memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
    c->rlen -= c->rpos;
    c->req_end -= c->req_end >= c->rpos ? c->rpos : c->req_end;
    c->rpos = 0;
    return true;
  }
  const api_config *cfg = c->w->cfg;
  uint32_t max = cfg->max_uri + cfg->max_header_bytes + 64;
  if (c->state != S_HEAD || c->rcap >= max) return false;
  uint32_t cap = c->rcap * 2 < max ? c->rcap * 2 : max;
  char *p = api__realloc(c->rbuf, cap);
  if (!p) return false;
  c->rbuf = p;
  c->rcap = cap;
  return true;
}

static void on_readable(api__conn *c) {
  for (;;) {
    if (c->state == S_BODY_CL) {
      int rc = read_body(c);
      if (rc < 0) return;
      if (rc == 0) break;
      if (c->state == S_BODY_CL) continue;
      if (process(c)) return;
      continue;
    }
    if (c->state == S_HANDLER || (c->closing && c->state != S_LINGER) ||
        c->out.len - c->wpos >= OUT_HIGH_WATER)
      break;
    if (!make_room(c)) {
      if (fail(c, c->state == S_HEAD ? API_EHDRTOOLARGE : API_ENOMEM, NULL)) return;
      break;
    }
    size_t space = c->rcap - c->rlen;
    ssize_t n = read(c->fd, c->rbuf + c->rlen, space);
    if (n > 0) {
      api__stat_add(&c->w->stat_bytes_in, (uint64_t)n);
      c->rlen += (uint32_t)n;
      if (process(c)) return;
      if ((size_t)n < space) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    api__conn_close(c); /* EOF or error: a half-sent request gets no answer */
    return;
  }
  if (drain(c)) return;
  settle(c);
}

static void on_event(evutil_socket_t fd, short what, void *arg) {
  api__conn *c = arg;
  c->w->now_ms = api__now_ms();
  if (what & EV_WRITE) {
    if (drain(c)) return;
  }
  if (what & EV_READ) {
    on_readable(c);
    return;
  }
  settle(c);
}

void api__conn_resumed(api_req *req) {
  api__conn *c = req->conn;
  c->w->now_ms = api__now_ms();
  if (req->timed_out) {
    /* Its 504 has been written; let its work finish, then the request is over. */
    api__pipeline_abandon(req);
    api__res_std_error(req, API_EGATEWAYTIMEOUT, NULL);
    api__pipeline_responded(req, req->wire_bytes);
    c->state = S_IDLE;
    c->rpos = c->rlen = 0;
    release_request(c);
    if (c->orphan) {
      free_conn(c);
      return;
    }
    settle(c);
    return;
  }
  /* The after-callback runs even for a request whose connection is gone: it may own resources. */
  int rc = api__pipeline_resume(req);
  if (rc == API_ASYNC) return;
  if (c->orphan) {
    release_request(c);
    free_conn(c);
    return;
  }
  if (rc < 0) {
    api__conn_close(c);
    return;
  }
  if (finish(c) || process(c) || drain(c)) return;
  settle(c);
}

/* A suspended request outlived its route's timeout: answer 504 now, without touching the request
 * (another thread may hold it), and close once it comes back. */
static void route_timeout(api__conn *c) {
  api_req *req = c->req;
  char body[256];
  int blen = snprintf(body, sizeof(body),
                      "{\"error\":{\"code\":\"TIMEOUT\",\"message\":\"%s\"},\"request_id\":\"%s\"}",
                      api_strerror(API_EGATEWAYTIMEOUT), req->id ? req->id : "none");
  char head[256];
  int hlen = snprintf(head, sizeof(head),
                      "HTTP/1.1 504 Gateway Timeout\r\n%.*sContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n",
                      (int)c->w->date_len, c->w->date_line, blen);
  req->timed_out = true;
  req->wire_bytes = (size_t)hlen + (size_t)blen;
  c->closing = true;
  c->keep_alive = false;
  c->req_end = c->rlen;
  set_timer(c, API__T_BUSY, 0);
  if (!out_ready(c) || !api__buf_append(&c->out, head, (size_t)hlen) ||
      !api__buf_append(&c->out, body, (size_t)blen)) {
    api__conn_close(c);
    return;
  }
  if (flush(c)) return;
  settle(c);
}

void api__conn_timeout(api__conn *c) {
  switch (c->tlist) {
    case API__T_ROUTE:
      route_timeout(c);
      return;
    case API__T_HEAD:
      if (c->rlen > c->rpos && c->req) {
        if (fail(c, API_ETIMEOUT, "the request head took too long") || flush(c)) return;
        settle(c);
        return;
      }
      break;
    case API__T_BODY:
      if (fail(c, API_ETIMEOUT, "the request body took too long") || flush(c)) return;
      settle(c);
      return;
  }
  api__conn_close(c);
}

#define BUSY_BODY                                                \
  "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"too many " \
  "connections\"},\"request_id\":\"none\"}"
/* Sent without a Date header: it is written before any per-connection state exists. */
static const char busy_response[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
    "85\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" BUSY_BODY;
_Static_assert(sizeof(BUSY_BODY) - 1 == 85, "Content-Length of the busy response");

void api__conn_accept(api__worker *w, int fd, const void *sa, unsigned salen) {
  if (w->stopping) {
    close(fd);
    return;
  }
  if (w->nconns >= w->cfg->max_connections) {
    /* Refuse cleanly: the client learns why, the clients already here keep being served. */
    ssize_t n = send(fd, busy_response, sizeof(busy_response) - 1, MSG_NOSIGNAL);
    (void)n;
    close(fd);
    return;
  }
  api__conn *c = api__calloc(1, sizeof(*c) + event_get_struct_event_size());
  if (!c) {
    close(fd);
    return;
  }
  c->w = w;
  c->fd = fd;
  api__list_init(&c->link);
  w->nconns++;
  api__stat_add(&w->stat_conns, 1);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const struct sockaddr *s = sa;
  if (s->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = sa;
    c->family = 6;
    memcpy(c->addr, &a->sin6_addr, 16);
    c->port = ntohs(a->sin6_port);
  } else if (s->sa_family == AF_INET) {
    const struct sockaddr_in *a = sa;
    c->family = 4;
    memcpy(c->addr, &a->sin_addr, 4);
    c->port = ntohs(a->sin_port);
  }
  c->state = S_IDLE;
  set_timer(c, API__T_IDLE, w->cfg->idle_timeout_ms);
  set_interest(c, EV_READ);
}
