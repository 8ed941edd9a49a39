/*
 * libapi/metrics.h: Prometheus metrics (counters, gauges, histograms and callback metrics, with
 * the text exposition format 0.0.4) and health/readiness checks.
 *
 * Metrics. A registry (api_metrics) owns metrics; a metric has a name, a help text and 0..16
 * label names fixed at creation; each distinct tuple of label values is a series. Recording is
 * lock-free: series are found in an open-addressing table read with acquire loads (a mutex is
 * taken only to create a series), and values are atomics. For the hot path, look a series up once
 * (api_counter_series()) and record on the handle (api_series_inc()): one atomic operation.
 *
 * Bounded labels. Each metric holds at most max_series series (default 1000) and label values of
 * at most max_value_len bytes (default 128). A record that would create a series beyond the bound,
 * or that carries a value that is longer, NULL or not UTF-8, goes to no series: it is counted in
 * the registry's own counter libapi_metrics_series_dropped_total{metric="<name>"} and the call
 * returns API_EUNAVAILABLE (too many series) or API_EINVAL (bad value). Existing series keep
 * working. Hostile input (random paths, status codes, keys used as label values) thus costs
 * bounded memory. See docs/metrics.md.
 *
 * Health. A health registry (api_health) holds named checks, each run in its own thread with a
 * deadline by api_health_run(), which produces the JSON body and status of a readiness endpoint.
 *
 * Recording functions do not set api_last_error() (they are meant for the hot path); creation
 * functions do.
 */
#ifndef LIBAPI_METRICS_H
#define LIBAPI_METRICS_H

#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct api_metrics api_metrics;     /**< A metrics registry. */
typedef struct api_counter api_counter;     /**< A counter family; owned by its registry. */
typedef struct api_gauge api_gauge;         /**< A gauge family; owned by its registry. */
typedef struct api_histogram api_histogram; /**< A histogram family; owned by its registry. */
typedef struct api_series api_series;       /**< One series of a family; owned by its registry. */
typedef struct api_health api_health;       /**< A registry of health checks. */

/** The most label names a metric may have. */
#define API_METRICS_MAX_LABELS 16
/** The most bucket bounds a histogram may have (+Inf not counted). */
#define API_METRICS_MAX_BUCKETS 64
/** Default and largest series bound per metric (api_metric_opts.max_series). */
#define API_METRICS_DEFAULT_MAX_SERIES 1000
#define API_METRICS_MAX_SERIES 1000000
/** Default and largest label value length in bytes (api_metric_opts.max_value_len). */
#define API_METRICS_DEFAULT_MAX_VALUE_LEN 128
#define API_METRICS_MAX_VALUE_LEN 4096

/** The Content-Type of api_metrics_render()'s text. */
#define API_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/** The kind of a callback metric (api_metrics_callback()). */
typedef enum api_metric_type {
  API_METRIC_COUNTER = 1,
  API_METRIC_GAUGE = 2,
} api_metric_type;

/**
 * Read a callback metric's current value at render time. Return NaN when it is unknown.
 * Thread: called by the thread that renders, with the registry's lock held: it must not call
 * api_metrics_* functions on the same registry, and should be quick (an atomic load).
 */
typedef double (*api_metric_read_fn)(void *user_data);

/**
 * A metric descriptor. Build it with
 *   API_METRIC(.name = "http_requests_total", .help = "Requests served.",
 *              .labels = (const char *[]){"method", "route", "status", NULL})
 * Members left zero take their defaults; members are only ever added at the end.
 */
typedef struct api_metric_opts {
  size_t size;      /**< sizeof(api_metric_opts), set by API_METRIC */
  const char *name; /**< required; [a-zA-Z_:][a-zA-Z0-9_:]*, 1..200 bytes, not starting "__" */
  const char *help; /**< help text, UTF-8 (backslash and newline escaped on output); NULL: "" */
  const char *const *labels; /**< label names, NULL-terminated; NULL for none. Each is
                                [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", no duplicates,
                                and not "le" for histograms */
  const double *buckets;     /**< histograms: upper bounds, strictly increasing and finite
                                (+Inf is implicit); NULL for the default HTTP latency set */
  size_t nbuckets;           /**< number of entries in buckets */
  size_t max_series;         /**< series bound; 0 means API_METRICS_DEFAULT_MAX_SERIES; at most
                                API_METRICS_MAX_SERIES */
  size_t max_value_len;      /**< longest label value in bytes; 0 means 128; at most 4096 */
  api_metric_read_fn read;   /**< callback metrics only (api_metrics_callback()): the reader */
  void *user_data;           /**< callback metrics only: passed to read */
} api_metric_opts;

#define API_METRIC(...) (&(const api_metric_opts){.size = sizeof(api_metric_opts), __VA_ARGS__})

/**
 * The default histogram bounds, in seconds, suited to HTTP latency: 0.0005, 0.001, 0.0025,
 * 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10. Stores their count in *n if n is not
 * NULL. Ownership: borrowed, static.
 */
LIBAPI_EXTERN const double *api_metrics_default_buckets(size_t *n);

/* ---- the registry ---- */

/**
 * Create an empty registry. It already holds libapi_metrics_series_dropped_total (rendered last).
 * Ownership: *out is the caller's; free it with api_metrics_free(). Returns 0 or API_ENOMEM.
 */
LIBAPI_EXTERN int api_metrics_new(api_metrics **out);

/**
 * Free a registry, its metrics and their series. NULL-safe. Every api_counter, api_gauge,
 * api_histogram and api_series obtained from it becomes invalid.
 * Thread: once no other thread uses the registry or anything obtained from it.
 */
LIBAPI_EXTERN void api_metrics_free(api_metrics *m);

/**
 * Create a counter, a gauge or a histogram in m. opts and its strings are copied.
 * Returns 0; API_EINVAL for a malformed name, label name, bucket list or bound (message in
 * api_last_error()); API_EEXIST when the name (or, for histograms, one of name_bucket, name_sum,
 * name_count) is already used in m; API_ENOMEM.
 * Ownership: *out is owned by m and valid until api_metrics_free(m).
 * Thread: any thread; creation is serialized with rendering by the registry's lock.
 */
LIBAPI_EXTERN int api_counter_new(api_metrics *m, const api_metric_opts *opts, api_counter **out);
/** See api_counter_new(). A gauge starts at 0. */
LIBAPI_EXTERN int api_gauge_new(api_metrics *m, const api_metric_opts *opts, api_gauge **out);
/** See api_counter_new(). buckets/nbuckets apply; at most API_METRICS_MAX_BUCKETS bounds. */
LIBAPI_EXTERN int api_histogram_new(api_metrics *m, const api_metric_opts *opts,
                                    api_histogram **out);

/**
 * Create a callback metric: a counter or gauge without labels whose value opts->read returns at
 * render time (for values owned by other modules: open connections, requests in flight, dropped
 * log lines). opts->labels must be NULL. A NaN result is rendered as NaN.
 * Returns 0, API_EINVAL (no read function, labels, bad name), API_EEXIST or API_ENOMEM.
 * Ownership: opts->user_data stays the caller's and must outlive m.
 */
LIBAPI_EXTERN int api_metrics_callback(api_metrics *m, api_metric_type type,
                                       const api_metric_opts *opts);

/**
 * Add the process metrics (Linux, from /proc): process_start_time_seconds,
 * process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds and process_max_fds, as callback metrics. Returns 0 (also when they are
 * already there), API_EEXIST if one of the names is used by another metric, or API_ENOMEM (some
 * may have been added; calling again adds the others).
 */
LIBAPI_EXTERN int api_metrics_add_process(api_metrics *m);

/**
 * Render every metric in the Prometheus text format 0.0.4 (API_METRICS_CONTENT_TYPE): metrics in
 * creation order, series in creation order, then libapi_metrics_series_dropped_total with one
 * series per labelled metric. Ownership: *out is the caller's, NUL-terminated, *len bytes long (NUL
 * not counted); free it with api_metrics_text_free(). Returns 0 or API_ENOMEM (then *out is NULL).
 * Thread: any thread, concurrently with recording; the values of one series are read one atomic
 * at a time, so a histogram's _sum may lag its _count by the observations in progress.
 */
LIBAPI_EXTERN int api_metrics_render(api_metrics *m, char **out, size_t *len);

/** Free text returned by api_metrics_render() or api_health_run(). NULL-safe. */
LIBAPI_EXTERN void api_metrics_text_free(char *text);

/* ---- recording by label values ----
 *
 * values holds one string per label name, in the order the names were given (NULL or ignored
 * for a metric without labels). Returns 0; API_EUNAVAILABLE when a new series would exceed the
 * metric's bound; API_EINVAL when a value is NULL, too long or not UTF-8, or the number is not
 * allowed (see each function); API_ENOMEM when the series could not be allocated. Records that go
 * to no series count in libapi_metrics_series_dropped_total. Thread: any thread, lock-free unless
 * the series has to be created.
 */

/** Add 1 to the counter's series for values. */
LIBAPI_EXTERN int api_counter_inc(api_counter *c, const char *const *values);
/** Add v (finite, >= 0; API_EINVAL otherwise) to the counter's series for values. */
LIBAPI_EXTERN int api_counter_add(api_counter *c, const char *const *values, double v);
/** Set the gauge's series for values to v (any double, NaN included). */
LIBAPI_EXTERN int api_gauge_set(api_gauge *g, const char *const *values, double v);
/** Add v (NaN refused) to the gauge's series for values; v may be negative. */
LIBAPI_EXTERN int api_gauge_add(api_gauge *g, const char *const *values, double v);
/** Subtract v (NaN refused) from the gauge's series for values. */
LIBAPI_EXTERN int api_gauge_sub(api_gauge *g, const char *const *values, double v);
/** Observe v (NaN refused) in the histogram's series for values. */
LIBAPI_EXTERN int api_histogram_observe(api_histogram *h, const char *const *values, double v);

/* ---- series handles ----
 *
 * api_*_series() find or create the series for values once (same errors as above; on error *out
 * is NULL); the api_series_* functions then record on it with one atomic operation (two for a
 * histogram observation). Ownership: the series is owned by the registry, valid until
 * api_metrics_free(). Thread: any thread.
 */

/** The series of counter c for values. */
LIBAPI_EXTERN int api_counter_series(api_counter *c, const char *const *values, api_series **out);
/** The series of gauge g for values. */
LIBAPI_EXTERN int api_gauge_series(api_gauge *g, const char *const *values, api_series **out);
/** The series of histogram h for values. */
LIBAPI_EXTERN int api_histogram_series(api_histogram *h, const char *const *values,
                                       api_series **out);

/**
 * Record on a series handle. inc adds 1 (counter or gauge); add adds v (counter: finite and
 * >= 0; gauge: not NaN); sub subtracts v (gauge only); set stores v (gauge only); observe
 * records v (histogram only, not NaN).
 * Counters keep integral increments below 2^53 in an atomic integer (one fetch-add) and other
 * increments in an atomic double (a compare-and-swap loop); gauges are one atomic double
 * (compare-and-swap for add/sub, a store for set).
 * Returns 0, or API_EINVAL for a NULL series (a lookup that failed: its record is already
 * counted as dropped), a value not allowed, or a function that does not fit the series' type.
 */
LIBAPI_EXTERN int api_series_inc(api_series *s);
LIBAPI_EXTERN int api_series_add(api_series *s, double v);
LIBAPI_EXTERN int api_series_sub(api_series *s, double v);
LIBAPI_EXTERN int api_series_set(api_series *s, double v);
LIBAPI_EXTERN int api_series_observe(api_series *s, double v);

/**
 * The current value of a counter or gauge series, or a histogram series' count of observations;
 * NaN for NULL. For tests and for programs that act on their own metrics.
 */
LIBAPI_EXTERN double api_series_value(const api_series *s);

/* ---- health and readiness checks ---- */

/**
 * A health check. Return 0 when healthy, a negative value when failing; it may write a short
 * NUL-terminated reason into msg (msg_size bytes, at least 128; msg starts empty). Without a
 * reason, a failure reports "failed" for -1 and the api_strerror() text for another api_err.
 * Thread: runs in a thread of its own, and may block (a database ping); if it outlives its
 * timeout it is reported failing and its result is discarded, but it keeps running: user_data
 * must stay valid until it returns, even after api_health_free().
 */
typedef int (*api_health_check_fn)(char *msg, size_t msg_size, void *user_data);

/** A check descriptor: API_HEALTH_CHECK(.name = "db", .fn = ping_db, .timeout_ms = 500). */
typedef struct api_health_check {
  size_t size;            /**< sizeof(api_health_check), set by API_HEALTH_CHECK */
  const char *name;       /**< required; 1..64 bytes of [a-zA-Z0-9_.-], unique */
  api_health_check_fn fn; /**< required */
  void *user_data;        /**< passed to fn */
  uint32_t timeout_ms;    /**< deadline; 0 means 1000 */
} api_health_check;

#define API_HEALTH_CHECK(...) \
  (&(const api_health_check){.size = sizeof(api_health_check), __VA_ARGS__})

/**
 * Create an empty health registry (it reports "ok" until a check fails).
 * Ownership: *out is the caller's; free it with api_health_free(). Returns 0 or API_ENOMEM.
 */
LIBAPI_EXTERN int api_health_new(api_health **out);

/**
 * Free a health registry. NULL-safe. Checks still running past their timeout are not waited for
 * (see api_health_check_fn). Thread: once no other thread uses h.
 */
LIBAPI_EXTERN void api_health_free(api_health *h);

/**
 * Add a check; check and its name are copied. Returns 0, API_EINVAL (bad name, no function),
 * API_EEXIST (name taken) or API_ENOMEM. Thread: any thread.
 */
LIBAPI_EXTERN int api_health_add(api_health *h, const api_health_check *check);

/**
 * Force "not ready" (draining != 0) or lift it: while draining, api_health_run() answers 503 with
 * {"status":"fail","draining":true,"checks":{}} without running the checks.
 * Thread: any thread (an atomic store).
 */
LIBAPI_EXTERN void api_health_set_draining(api_health *h, int draining);

/**
 * Run every check, concurrently, each in its own thread with its own deadline, and build the
 * readiness answer: *status is 200 when all pass, 503 otherwise, and *body is
 *   {"status":"ok"|"fail","checks":{"db":{"status":"ok","duration_ms":1.234},
 *    "cache":{"status":"fail","duration_ms":0.1,"error":"connection refused"}}}
 * in the order the checks were added. A check past its deadline is "fail" with error "timeout". A
 * check whose previous run is still going is not started again: this run waits for that one (up
 * to the timeout) and reports its result, so a hanging check costs one thread, not one per run.
 * Blocks up to the longest timeout: call it from an offload thread, not a worker.
 * Ownership: *body is the caller's, NUL-terminated, *len bytes; free it with
 * api_metrics_text_free(). Returns 0 or API_ENOMEM (then *body is NULL).
 * Thread: any thread; concurrent runs on one registry take turns.
 */
LIBAPI_EXTERN int api_health_run(api_health *h, int *status, char **body, size_t *len);

/* ---- The app's registries and health endpoints ---- */

/**
 * The app's metrics registry, created on first use: the one api_mw_metrics() records into and
 * serves, where the app adds its own metrics. NULL when out of memory.
 * Ownership: borrowed, owned by the app. Thread: any thread (first call before the server starts).
 */
LIBAPI_EXTERN api_metrics *api_app_metrics(api_app *app);
/**
 * The app's health registry, created on first use; add readiness checks with api_health_add().
 * NULL when out of memory. Ownership and thread rules as api_app_metrics().
 */
LIBAPI_EXTERN api_health *api_app_health(api_app *app);

/** Options of api_app_health_routes(). */
typedef struct api_health_options {
  size_t size;            /**< set by API_HEALTH_OPTIONS */
  const char *live_path;  /**< liveness; default "/healthz" */
  const char *ready_path; /**< readiness; default "/readyz" */
} api_health_options;

#define API_HEALTH_OPTIONS(...) \
  (&(const api_health_options){.size = sizeof(api_health_options), __VA_ARGS__})

/**
 * Serve liveness and readiness. GET live_path answers 200 {"status":"ok"} whenever the worker can
 * answer at all. GET ready_path runs the app's health checks (api_app_health()) on the offload
 * pool and answers 200 or 503 with the body of api_health_run(); from the moment graceful shutdown
 * begins it answers 503 {"status":"fail","draining":true,...} at once, so load balancers stop
 * sending traffic while requests in flight finish. opts may be NULL. Returns as api_app_route().
 */
LIBAPI_EXTERN int api_app_health_routes(api_app *app, const api_health_options *opts);

#ifdef __cplusplus
}
#endif
#endif
