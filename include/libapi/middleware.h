/*
 * libapi/middleware.h: hooks — the middleware chain.
 *
 * A middleware is a set of optional hook functions plus their user data, registered on the app
 * (every request), on a route group (its routes) or on one route (api_route.middleware). Each
 * request runs through these phases; each phase runs its hooks in registration order: the app's,
 * then the groups' from the outermost in, then the route's.
 *
 *   on_request   the request has been received and routed (its body read, not parsed). Runs for
 *                every request that got this far, 404 and 405 included (with the app's hooks only).
 *   [params are decoded and the query parsed: a malformed one is a 400]
 *   pre_handler  just before the handler (authentication guards, validation run here).
 *   handler      the route's handler; for 404/405/automatic OPTIONS, the built-in answer.
 *   on_error     a hook, the handler or the framework produced an error: the standard JSON error
 *                body is already on the response; a hook may rewrite it.
 *   on_send      the response is final but not yet written: a hook may still change it
 *                (compression, ETag). Every response passes here exactly once — errors found by the
 *                HTTP parser (400, 413, 414, 431, 408) included, with the app's hooks only.
 *   on_response  after the response has been handed to the connection: it cannot be changed any
 *                more (access logs, metrics). Runs exactly once for every request that got a
 *                response. Return values are ignored; it must not suspend.
 *
 * Return codes: API_NEXT goes on to the next hook; API_DONE says the hook answered the request and
 * skips to on_send (from on_error: ends on_error; from on_send: ends on_send); API_ASYNC suspends
 * the request — resume it with api_req_resume() (as API_NEXT), api_req_resume_with() (any code), or
 * by returning api_offload() whose after callback returns the hook's code; a negative api_err
 * replaces the response with that error and continues at on_error (an error from on_error or
 * on_send replaces the response and ends that phase, so errors cannot loop).
 *
 * Thread: hooks run on the request's worker thread, like handlers, and must not block. The
 * middleware's user data is shared by every worker: make it read-only after the server starts, or
 * synchronise it. Registration happens before the server starts (API_ESTATE afterwards).
 */
#ifndef LIBAPI_MIDDLEWARE_H
#define LIBAPI_MIDDLEWARE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A hook. See the phases above for what it may do and what it returns. */
typedef int (*api_hook_fn)(api_req *req, api_res *res, void *user_data);

/**
 * A middleware: build it with API_MIDDLEWARE(.name = "auth", .pre_handler = check, .user_data = k).
 * Members left NULL are skipped. The struct is copied at registration; user_data is borrowed and
 * must outlive the app (built-in middleware keeps its state in the app, see api_app_on_free()).
 */
typedef struct api_middleware {
  size_t size;             /**< sizeof(api_middleware), set by API_MIDDLEWARE */
  const char *name;        /**< for messages (optional) */
  api_hook_fn on_request;  /**< the request is routed and its body received */
  api_hook_fn pre_handler; /**< just before the handler */
  api_hook_fn on_error;    /**< the response is an error response */
  api_hook_fn on_send;     /**< the response is final and may still be rewritten */
  api_hook_fn on_response; /**< the response has left: observe only */
  void *user_data;         /**< passed to every hook */
} api_middleware;

#define API_MIDDLEWARE(...) (&(const api_middleware){.size = sizeof(api_middleware), __VA_ARGS__})

/**
 * Register middleware for every request of the app. Returns 0, API_EINVAL (NULL or no hook at all),
 * API_ESTATE once a server has started for the app, or API_ENOMEM.
 */
LIBAPI_EXTERN int api_app_use(api_app *app, const api_middleware *mw);

/** Register middleware for every route of a group, nested groups included. As api_app_use(). */
LIBAPI_EXTERN int api_group_use(api_group *group, const api_middleware *mw);

/** Something the app calls when it is freed (with its server gone). */
typedef void (*api_free_fn)(void *user_data);
/**
 * Have fn(user_data) called by api_app_free(), in reverse order of registration: the place for
 * state that middleware shares across requests. Returns 0 or API_ENOMEM (then fn is called now, so
 * nothing leaks, and the error should be returned).
 */
LIBAPI_EXTERN int api_app_on_free(api_app *app, api_free_fn fn, void *user_data);

/**
 * Resume a suspended request as if the hook (or handler) that suspended it had returned rc:
 * API_NEXT, API_DONE or a negative api_err. api_req_resume(req) is api_req_resume_with(req,
 * API_NEXT). Thread: any thread, once per API_ASYNC. Returns 0.
 */
LIBAPI_EXTERN int api_req_resume_with(api_req *req, int rc);

/** Nanoseconds since the first byte of the request arrived (monotonic clock). */
LIBAPI_EXTERN unsigned long long api_req_elapsed_ns(const api_req *req);

/**
 * The size in bytes of the response as written (status line, headers and body); 0 before the
 * response has been written, so meaningful in on_response hooks.
 */
LIBAPI_EXTERN size_t api_res_wire_bytes(const api_res *res);

/**
 * Remove every header field called name from the response (case-insensitive). Returns 0 (also
 * when there was none).
 */
LIBAPI_EXTERN int api_res_header_remove(api_res *res, const char *name);

/*
 * ---- Rate limiting (src/mw/ratelimit.c, src/mw/ratelimit_mem.c) ----
 *
 * api_mw_rate_limit() builds a middleware that counts requests per key (the client address, an
 * API key header, the authenticated user, the route, or a combination) in a store and answers
 * 429 with the standard JSON error body and Retry-After once a key is over its limit. Every
 * response that went through the limiter carries RateLimit-Limit, RateLimit-Remaining,
 * RateLimit-Reset and RateLimit-Policy, the fields of draft-ietf-httpapi-ratelimit-headers-06
 * (later revisions merge them into one structured RateLimit field).
 *
 * The store is an interface (api_rate_store) so that a shared one (Redis) can replace the
 * in-memory default, which is sharded, locked per shard and bounded in memory.
 */

/** The counting algorithm of a limiter. */
typedef enum api_rate_algo {
  /** Token bucket: a bucket of `burst` tokens refilled at `limit` tokens per `window_ms`. */
  API_RATE_TOKEN_BUCKET = 0,
  /**
   * Sliding window: at most `limit` per `window_ms`, counted as the current fixed window plus
   * the previous one weighted by how much of it still overlaps the sliding window (two counters
   * per key; exact at window boundaries, an approximation in between).
   */
  API_RATE_SLIDING_WINDOW = 1,
} api_rate_algo;

/**
 * What a store counts against. Filled by the limiter from its options: limit, window_ms and burst
 * are 1..1e9 (the in-memory store answers API_EINVAL to others).
 */
typedef struct api_rate_params {
  api_rate_algo algorithm;
  unsigned long long limit;     /**< tokens refilled (bucket) or requests allowed (window) ... */
  unsigned long long window_ms; /**< ... per this many milliseconds */
  unsigned long long burst;     /**< token bucket capacity (>= 1); ignored by the window */
} api_rate_params;

/** A store's answer for one key. */
typedef struct api_rate_result {
  int allowed;                       /**< 1: counted and allowed; 0: over the limit, not counted */
  unsigned long long limit;          /**< the quota reported as RateLimit-Limit */
  unsigned long long remaining;      /**< what is left after this request */
  unsigned long long reset_ms;       /**< bucket: until it is full; window: until it ends */
  unsigned long long retry_after_ms; /**< when not allowed: until this cost would be allowed */
} api_rate_result;

/**
 * How an asynchronous store reports: rc is 0 with *result filled, or a negative api_err.
 * Thread: any thread, exactly once per take that returned API_ASYNC (possibly before take
 * returned). result is borrowed for the call.
 */
typedef void (*api_rate_done_fn)(void *done_data, int rc, const api_rate_result *result);

/** One request to a store. */
typedef struct api_rate_take {
  size_t size;                   /**< sizeof(api_rate_take) */
  const void *key;               /**< the key bytes (any bytes; borrowed for the call) */
  size_t key_len;                /**< its length */
  unsigned cost;                 /**< units to take (>= 1) */
  unsigned long long now_ms;     /**< the time, in the limiter's clock (milliseconds) */
  const api_rate_params *params; /**< the policy (borrowed for the call) */
  api_rate_done_fn done;         /**< for stores that answer later; NULL: answer now */
  void *done_data;               /**< passed to done */
} api_rate_take;

typedef struct api_rate_store api_rate_store;

/**
 * A store: a table of function pointers that an implementation embeds as its first member.
 *
 * take counts t->cost against t->key under t->params and returns 0 with *result filled (a
 * synchronous answer); or, only when t->done is not NULL, API_ASYNC after copying what it needs
 * from t, and later calls t->done exactly once (from any thread); or a negative api_err. A key
 * over its limit is an answer (allowed = 0), not an error.
 * free releases the store (called by api_rate_store_free()).
 * Thread: take is called concurrently from every worker thread and must be thread-safe.
 */
struct api_rate_store {
  size_t size; /**< sizeof(api_rate_store) */
  int (*take)(api_rate_store *store, const api_rate_take *t, api_rate_result *result);
  void (*free)(api_rate_store *store);
};

/** Options of the in-memory store. Zero members take the defaults. */
typedef struct api_rate_mem_options {
  size_t size;        /**< sizeof(api_rate_mem_options), set by API_RATE_MEM_OPTIONS */
  size_t max_keys;    /**< keys kept at most (default 100000); see api_rate_store_mem_new() */
  unsigned shards;    /**< lock shards, rounded up to a power of two (default 16, at most 1024) */
  size_t max_key_len; /**< longer keys are kept as their SHA-256 digest (default 64, 32..255) */
} api_rate_mem_options;

#define API_RATE_MEM_OPTIONS(...) \
  (&(const api_rate_mem_options){.size = sizeof(api_rate_mem_options), __VA_ARGS__})

/**
 * Create an in-memory store: shards, each a hash table under its own mutex, keyed by SipHash-2-4
 * with a random key so that chosen keys cannot pile into one chain. Memory is bounded: each shard
 * keeps at most max_keys / shards keys (so at most max_keys in all); when a shard is full, its
 * least recently used key is dropped (expired keys are also dropped a few at a time on every
 * take). A dropped key starts afresh, so a flood of distinct keys costs quota accuracy, never
 * memory. Keys longer than max_key_len are kept as a 32-byte digest.
 * opts may be NULL. Returns 0, API_EINVAL (an option out of range, see api_last_error()) or
 * API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_rate_store_free() after every app using it.
 * Thread: the store may be used from any number of threads.
 */
LIBAPI_EXTERN int api_rate_store_mem_new(api_rate_store **out, const api_rate_mem_options *opts);

/** The number of keys an in-memory store holds now (others: 0). Thread: any. */
LIBAPI_EXTERN size_t api_rate_store_mem_count(api_rate_store *store);

/** Free a store through its free function. NULL-safe. */
LIBAPI_EXTERN void api_rate_store_free(api_rate_store *store);

/** A key callback's answer meaning "do not limit this request" (no headers are added either). */
#define API_RATE_SKIP 1

/**
 * A key callback: write a NUL-terminated key (a user id, a tenant) of at most len - 1 bytes into
 * buf and return 0; return API_RATE_SKIP to leave the request unlimited, or a negative api_err to
 * fail the request with it. A key without its NUL within len bytes fails the request (500).
 * Thread: the request's worker.
 */
typedef int (*api_rate_key_fn)(api_req *req, char *buf, size_t len, void *user_data);

/** A predicate: return nonzero to let the request through without counting it. */
typedef int (*api_rate_skip_fn)(api_req *req, void *user_data);

/** The cost of one request (0: not counted). */
typedef unsigned (*api_rate_cost_fn)(api_req *req, void *user_data);

/** A clock in milliseconds, for tests (any origin; it must not go backwards). */
typedef unsigned long long (*api_rate_clock_fn)(void *user_data);

/** What a limiter keys on: a bit set; parts are combined. 0 means API_RATE_KEY_ADDR. */
enum {
  API_RATE_KEY_ADDR = 1 << 0,   /**< api_req_client_addr(), grouped by ipv4_prefix/ipv6_prefix */
  API_RATE_KEY_HEADER = 1 << 1, /**< the SHA-256 of key_header's value (addr when absent) */
  API_RATE_KEY_USER = 1 << 2,   /**< what key_fn writes */
  API_RATE_KEY_ROUTE = 1 << 3,  /**< api_req_route() (the method too), per route, not per path */
};

/** When a limiter counts. */
typedef enum api_rate_phase {
  API_RATE_ON_REQUEST = 0,  /**< on_request: before anything else is spent on the request */
  API_RATE_PRE_HANDLER = 1, /**< pre_handler: after authentication, for per-user keys */
} api_rate_phase;

/** Options of api_mw_rate_limit(). Zero members take the defaults. */
typedef struct api_rate_limit_options {
  size_t size;              /**< sizeof(api_rate_limit_options), set by API_RATE_LIMIT_OPTIONS */
  api_rate_algo algorithm;  /**< default API_RATE_TOKEN_BUCKET */
  unsigned long long limit; /**< per window: default 100, at most 1e9 */
  unsigned long long window_ms; /**< default 60000, at most 1e9 (11.5 days) */
  unsigned long long burst;     /**< token bucket capacity: default limit, at most 1e9 */
  unsigned key_by;              /**< API_RATE_KEY_* bits; 0: API_RATE_KEY_ADDR */
  const char *key_header;       /**< for API_RATE_KEY_HEADER, e.g. "X-API-Key" (copied) */
  api_rate_key_fn key_fn;       /**< for API_RATE_KEY_USER (required with it) */
  void *key_user_data;          /**< passed to key_fn */
  unsigned ipv4_prefix;     /**< IPv4 clients grouped by this prefix length: 1..32, default 32 */
  unsigned ipv6_prefix;     /**< IPv6 clients grouped by this prefix length: 1..128, default 128
                                 (64 groups a typical customer's whole /64) */
  const char *const *allow; /**< NULL-terminated addresses or CIDR ranges never limited
                                 ("10.0.0.0/8", "::1"); copied */
  api_rate_skip_fn skip;    /**< nonzero: the request is not limited */
  void *skip_user_data;     /**< passed to skip */
  unsigned cost;            /**< units per request: default 1 */
  api_rate_cost_fn cost_fn; /**< the cost per request instead of cost */
  void *cost_user_data;     /**< passed to cost_fn */
  api_rate_store *store;    /**< borrowed (must outlive the app); NULL: an in-memory store of
                                 the limiter's own, sized by max_keys */
  size_t max_keys;          /**< for the limiter's own store: default 100000 */
  const char *name;         /**< prefix of every key, to share one store between limiters */
  api_rate_phase phase;     /**< default API_RATE_ON_REQUEST */
  int fail_closed;          /**< a store error answers 503 instead of letting the request in */
  api_rate_clock_fn now_ms; /**< the clock; default CLOCK_MONOTONIC */
  void *clock_user_data;    /**< passed to now_ms */
} api_rate_limit_options;

#define API_RATE_LIMIT_OPTIONS(...) \
  (&(const api_rate_limit_options){.size = sizeof(api_rate_limit_options), __VA_ARGS__})

/**
 * Build a rate-limiting middleware. Register *out with api_app_use(), api_group_use() or a
 * route's .middleware; one limiter registered in several places shares its counters.
 *
 * A request over its limit is answered 429 (API_ERATELIMIT) with the standard error body and
 * Retry-After (whole seconds, at least 1); the handler is not run. Responses of requests the
 * limiter counted carry RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (whole seconds)
 * and RateLimit-Policy ("100;w=60"), errors included; with several limiters, the fields of the
 * one with the least remaining win. Requests that were skipped carry none.
 *
 * app: the app whose lifetime the state follows. opts: may be NULL (100 per minute per client
 * address, token bucket). Returns 0; API_EINVAL naming the bad option in api_last_error(); or
 * API_ENOMEM.
 * Ownership: strings and lists in opts are copied; opts->store is borrowed; the state is freed
 * by api_app_free().
 * Thread: configuration thread. The state is read-only once the server starts; the counters live
 * in the store, which synchronises itself (the in-memory store: a mutex per shard).
 */
LIBAPI_EXTERN int api_mw_rate_limit(api_app *app, const api_rate_limit_options *opts,
                                    api_middleware *out);

#ifdef __cplusplus
}
#endif
#endif
