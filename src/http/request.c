/* Request accessors: everything is parsed lazily, once, into the request's arena. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/proxy.h"
#include "http/message.h"
#include "net/net.h"
#include "util/alloc.h"
#include "util/json.h"

enum { MAX_QUERY_PAIRS = 1000, MAX_COOKIES = 300 };

void api__req_init(api_req *req, struct api__conn *conn, struct api__worker *w, void *arena_mem,
                   size_t arena_size, api__header *headers) {
  memset(req, 0, sizeof(*req));
  req->conn = conn;
  req->worker = w;
  req->headers = headers;
  req->json_rc = 1;
  api__arena_init(&req->arena, arena_mem, arena_size);
  api__res_reset(&req->res);
}

void api__req_release(api_req *req) {
  for (api__cleanup *c = req->cleanups; c; c = c->next) c->fn(c->user_data);
  req->cleanups = NULL;
  if (req->body_malloced) api__free(req->body);
  req->body = NULL;
  json_decref(req->json);
  req->json = NULL;
  api__arena_reset(&req->arena);
}

/* After a parse error the head is cleared: these give "" rather than NULL. */
const char *api_req_method(const api_req *req) { return req->head.method ? req->head.method : ""; }
const char *api_req_path(const api_req *req) { return req->head.path ? req->head.path : ""; }
const char *api_req_query_string(const api_req *req) {
  return req->head.query ? req->head.query : "";
}
int api_req_http_minor(const api_req *req) { return req->head.minor; }
const char *api_req_route(const api_req *req) {
  return req->route_rc == 0 ? req->match.pattern : NULL;
}

const char *api_req_header_n(const api_req *req, const char *name, size_t idx) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < req->head.nheaders; i++) {
    const api__header *h = &req->headers[i];
    if (h->name_len == n && strncasecmp(h->name, name, n) == 0 && idx-- == 0) return h->value;
  }
  return NULL;
}

const char *api_req_header(const api_req *req, const char *name) {
  return api_req_header_n(req, name, 0);
}

size_t api_req_header_count(const api_req *req) { return req->head.nheaders; }

int api_req_header_at(const api_req *req, size_t idx, const char **name, const char **value) {
  if (idx >= req->head.nheaders) return API_EINVAL;
  *name = req->headers[idx].name;
  *value = req->headers[idx].value;
  return 0;
}

int api__req_decode_params(api_req *req) {
  unsigned n = req->match.nparams;
  if (!n) return 0;
  req->param_values = api__arena_alloc(&req->arena, n * sizeof(char *));
  if (!req->param_values) return API_ENOMEM;
  for (unsigned i = 0; i < n; i++) {
    const api__param *p = &req->match.params[i];
    char *v = api__arena_alloc(&req->arena, p->value_len + 1);
    if (!v) return API_ENOMEM;
    if (api__pct_decode(v, p->value, p->value_len, false) < 0) return API_EBADREQ;
    req->param_values[i] = v;
  }
  return 0;
}

const char *api_req_param(const api_req *req, const char *name) {
  size_t n = strlen(name);
  for (unsigned i = 0; i < req->match.nparams && req->param_values; i++) {
    const api__param *p = &req->match.params[i];
    if (p->name_len == n && memcmp(p->name, name, n) == 0) return req->param_values[i];
  }
  return NULL;
}

/* The accessors are logically const: they fill caches on first use. */
int api__req_parse_query(api_req *req) {
  if (!req->query_parsed) {
    req->query_parsed = true;
    req->query_rc = api__query_parse(&req->arena, req->head.query, req->head.query_len,
                                     MAX_QUERY_PAIRS, &req->query, &req->nquery);
  }
  return req->query_rc;
}

const char *api_req_query_n(const api_req *creq, const char *key, size_t idx) {
  api_req *req = (api_req *)creq;
  if (api__req_parse_query(req)) return NULL;
  for (size_t i = 0; i < req->nquery; i++)
    if (strcmp(req->query[i].key, key) == 0 && idx-- == 0) return req->query[i].value;
  return NULL;
}

const char *api_req_query(const api_req *req, const char *key) {
  return api_req_query_n(req, key, 0);
}

const char *api_req_cookie(const api_req *creq, const char *name) {
  api_req *req = (api_req *)creq;
  if (!req->cookies_parsed) {
    req->cookies_parsed = true;
    const char *v;
    for (size_t i = 0; (v = api_req_header_n(req, "cookie", i)); i++) {
      api__kv *kv;
      size_t n;
      if (api__cookie_parse(&req->arena, v, strlen(v), MAX_COOKIES - req->ncookies, &kv, &n)) break;
      if (!req->ncookies) {
        req->cookies = kv;
        req->ncookies = n;
        continue;
      }
      api__kv *all = api__arena_alloc(&req->arena, (req->ncookies + n) * sizeof(*all));
      if (!all) break;
      memcpy(all, req->cookies, req->ncookies * sizeof(*all));
      memcpy(all + req->ncookies, kv, n * sizeof(*all));
      req->cookies = all;
      req->ncookies += n;
    }
  }
  for (size_t i = 0; i < req->ncookies; i++)
    if (strcmp(req->cookies[i].key, name) == 0) return req->cookies[i].value;
  return NULL;
}

const char *api_req_client_addr(const api_req *creq) {
  api_req *req = (api_req *)creq;
  if (!req->client_addr) {
    const api_app *app = req->worker->app;
    api__ip peer, client;
    api__conn_peer_ip(req->conn, &peer);
    if (!api__client_from_forwarding(app->proxies, app->nproxies, &peer, req->headers,
                                     req->head.nheaders, &client))
      return req->client_addr = (char *)api_req_peer_addr(req);
    char buf[INET6_ADDRSTRLEN];
    api__ip_format(&client, buf, sizeof(buf));
    req->client_addr = api__arena_strdup(&req->arena, buf);
  }
  return req->client_addr ? req->client_addr : "";
}

const char *api_req_peer_addr(const api_req *creq) {
  api_req *req = (api_req *)creq;
  if (!req->peer_addr) {
    char buf[INET6_ADDRSTRLEN];
    api__conn_peer(req->conn, buf, sizeof(buf));
    req->peer_addr = api__arena_strdup(&req->arena, buf);
  }
  return req->peer_addr ? req->peer_addr : "";
}

int api_req_client_port(const api_req *req) { return api__conn_peer_port(req->conn); }

const char *api_req_body(const api_req *req, size_t *len) {
  if (len) *len = req->body_len;
  return req->body ? req->body : "";
}

int api_req_json(api_req *req, json_t **out) {
  *out = NULL;
  if (req->json_rc == 1) {
    if (!api__is_json_media_type(api_req_header(req, "content-type"))) {
      req->json_rc = API_EMEDIATYPE;
      req->json_error = "expected a JSON body (Content-Type: application/json)";
    } else {
      api__json_error err;
      req->json = api__json_parse(req->body, req->body_len, 0, &err);
      if (req->json) {
        req->json_rc = 0;
      } else if (err.enomem) {
        req->json_rc = API_ENOMEM;
      } else {
        req->json_rc = API_EBADJSON;
        char msg[128];
        snprintf(msg, sizeof(msg), "malformed JSON at line %d, column %d: %s", err.line, err.column,
                 err.message);
        req->json_error = api__arena_strdup(&req->arena, msg);
        if (!req->json_error) req->json_error = "malformed JSON";
      }
    }
  }
  *out = req->json;
  return req->json_rc;
}

const char *api_req_id(api_req *req) {
  if (!req->id) req->id = api__worker_request_id(req->worker, &req->arena);
  return req->id ? req->id : "";
}

typedef struct api__local {
  const void *key;
  void *value;
  struct api__local *next;
} api__local;

int api_req_set_local(api_req *req, const void *key, void *value) {
  for (api__local *l = req->locals; l; l = l->next) {
    if (l->key == key) {
      l->value = value;
      return 0;
    }
  }
  api__local *l = api__arena_alloc(&req->arena, sizeof(*l));
  if (!l) return API_ENOMEM;
  *l = (api__local){.key = key, .value = value, .next = req->locals};
  req->locals = l;
  return 0;
}

void *api_req_local(const api_req *req, const void *key) {
  for (const api__local *l = req->locals; l; l = l->next)
    if (l->key == key) return l->value;
  return NULL;
}

int api_req_set_user(api_req *req, const char *user) {
  char *copy = api__arena_strdup(&req->arena, user);
  if (!copy) return API_ENOMEM;
  req->user = copy;
  return 0;
}

const char *api_req_user(const api_req *req) { return req->user; }

void *api_req_alloc(api_req *req, size_t size) { return api__arena_alloc(&req->arena, size); }

char *api_req_strdup(api_req *req, const char *s) { return api__arena_strdup(&req->arena, s); }

int api_req_on_free(api_req *req, api_cleanup_fn fn, void *user_data) {
  api__cleanup *c = api__arena_alloc(&req->arena, sizeof(*c));
  if (!c) return API_ENOMEM;
  c->fn = fn;
  c->user_data = user_data;
  c->next = req->cleanups;
  req->cleanups = c;
  return 0;
}
