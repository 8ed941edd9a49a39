/* The request and response objects behind the opaque api_req / api_res handles. */
#ifndef API_HTTP_MESSAGE_H
#define API_HTTP_MESSAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/codec.h"
#include "http/parser.h"
#include "libapi/api.h"
#include "router/router.h"
#include "util/arena.h"

struct api__conn;
struct api__worker;
struct api__route;
struct api__chain;

typedef struct api__out_header {
  const char *name;
  const char *value;
  uint32_t name_len, value_len;
  struct api__out_header *next;
} api__out_header;

struct api_res {
  int status;
  bool touched; /* anything set at all (an untouched response is a handler bug) */
  const char *content_type;
  const char *body;
  size_t body_len;
  api__out_header *headers; /* in order of addition */
  api__out_header **tail;
};

typedef struct api__cleanup {
  api_cleanup_fn fn;
  void *user_data;
  struct api__cleanup *next;
} api__cleanup;

struct api_req {
  struct api__conn *conn;
  struct api__worker *worker;
  api__arena arena;
  api__head head;
  api__header *headers; /* capacity cfg.max_headers, in the request block */
  const struct api__route *route;
  api__match match;
  int route_rc;              /* api__router_find's answer */
  const char **param_values; /* decoded, parallel to match.params */
  char *body;                /* NUL-terminated */
  size_t body_len;
  size_t body_cap; /* chunked bodies grow in a malloc'd buffer */
  bool body_malloced;
  api__chunked chunked;
  uint64_t body_expected; /* Content-Length */
  api__kv *query;
  size_t nquery;
  int query_rc; /* the parse result, once query_parsed */
  bool query_parsed;
  api__kv *cookies;
  size_t ncookies;
  bool cookies_parsed;
  json_t *json;
  int json_rc;            /* 1 unparsed, else the api_req_json result */
  const char *json_error; /* message for API_EBADJSON / API_EMEDIATYPE from api_req_json */
  char *id;
  const char *trace_id; /* api_mw_request_id: 32 hex */
  const char *span_id;  /* 16 hex */
  const char *traceparent;
  char *client_addr; /* behind trusted proxies: from the forwarding headers */
  char *peer_addr;
  char *user;                /* api_req_set_user */
  struct req_log *log;       /* api_req_log */
  struct api__local *locals; /* api_req_set_local */
  api__cleanup *cleanups;
  struct api_res res;
  uint64_t max_body; /* the route's limit, or the app's */
  uint64_t start_ns; /* the first byte arrived (monotonic) */
  size_t wire_bytes; /* the response as serialized, for on_response */
  /* the pipeline (core/pipeline.c) */
  const struct api__chain *chain;
  unsigned hook_i;
  uint8_t phase;
  bool oom;       /* an error response could not be built */
  bool timed_out; /* the route's timeout answered 504 while the request was suspended */
  /* async completion */
  int resume_rc;
  api_work_fn work;
  api_after_work_fn after;
  void *after_data;
  struct api_req *queue_next;
  bool suspended;
};

/* Start a request on a fresh request block (arena, headers). */
void api__req_init(api_req *req, struct api__conn *conn, struct api__worker *w, void *arena_mem,
                   size_t arena_size, api__header *headers);
/* Run cleanups, release the body, the JSON value and the arena. */
void api__req_release(api_req *req);

/* Append a header without checking or copying: name and value are known to be valid and outlive
 * the response (middleware state, request memory). Returns 0 or API_ENOMEM. */
int api__res_header_trusted(api_res *res, const char *name, uint32_t name_len, const char *value,
                            uint32_t value_len);

/* Reset the response to nothing set (before an error response replaces a half-built one). */
void api__res_reset(api_res *res);
/*
 * Replace the response with the standard JSON error body for err: its status and code, and
 * message (NULL: the error's own message; 5xx errors always use theirs, so nothing internal leaks).
 */
int api__res_std_error(api_req *req, int err, const char *message);

/* Parse the query string once (done before the handler runs, so that a malformed one is a 400).
 * Returns 0, API_EBADREQ or API_ENOMEM. */
int api__req_parse_query(api_req *req);

/* Percent-decode the matched path parameters into the arena. Returns 0 or API_EBADREQ/ENOMEM. */
int api__req_decode_params(api_req *req);

/* The reason phrase of a status (RFC 9110 section 15), or NULL for one without a known phrase. */
const char *api__http_reason(int status);

#endif
