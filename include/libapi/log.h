/*
 * libapi/log.h: the structured logger: JSON lines (or a readable "pretty" format for terminals),
 * typed fields, child loggers with bound fields, sinks (stderr, file, syslog, a callback), secret
 * redaction, and an audit-log call. docs/logging.md is the guide.
 *
 *   api_logger *log;
 *   api_logger_new(&log, API_LOG_CONFIG(.level = API_LOG_DEBUG));
 *   api_log(log, API_LOG_INFO, "user created", API_LOG_STR("user", "ada"), API_LOG_INT("id", 42));
 *   api_logger_free(log);
 *
 * writes {"time":"2026-11-25T10:00:00.123Z","level":"info","msg":"user created","user":"ada",
 * "id":42} to stderr.
 *
 * Threads and blocking: a log call formats its line at once, into a buffer owned by the calling
 * thread, and returns; a background thread (one per root logger) writes the buffers to the sink.
 * A log call never waits for the sink: when the thread's buffer is full the line is dropped and
 * counted (api_logger_dropped()), and the background thread reports the count in a warn line. The
 * synchronous mode (api_log_config.sync) writes each line in the calling thread instead.
 */
#ifndef LIBAPI_LOG_H
#define LIBAPI_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A logger: a root logger (api_logger_new()) or a child of one (api_logger_child()). */
typedef struct api_logger api_logger;

/** Severity levels, lowest first. 0 in a config means "default" (info). */
typedef enum api_log_level {
  API_LOG_TRACE = 1,
  API_LOG_DEBUG = 2,
  API_LOG_INFO = 3,
  API_LOG_WARN = 4,
  API_LOG_ERROR = 5,
  API_LOG_FATAL = 6,
  API_LOG_OFF = 7 /**< as a logger's level: write nothing */
} api_log_level;

/** Line formats. */
typedef enum api_log_format {
  API_LOG_FORMAT_DEFAULT = 0, /**< JSON */
  API_LOG_FORMAT_JSON = 1,    /**< one JSON object per line */
  API_LOG_FORMAT_PRETTY = 2   /**< "time LEVEL msg key=value ...", coloured on terminals */
} api_log_format;

/** Where lines go. */
typedef enum api_log_sink {
  API_LOG_SINK_STDERR = 0,  /**< default */
  API_LOG_SINK_FILE = 1,    /**< api_log_config.file_path, opened for appending */
  API_LOG_SINK_SYSLOG = 2,  /**< syslog(3), priority from the level */
  API_LOG_SINK_CALLBACK = 3 /**< api_log_config.callback, once per line */
} api_log_sink;

/** Colour in the pretty format. */
typedef enum api_log_color {
  API_LOG_COLOR_AUTO = 0, /**< when the sink is a terminal (isatty) */
  API_LOG_COLOR_ON = 1,
  API_LOG_COLOR_OFF = 2
} api_log_color;

/** Which field keys are redacted. */
typedef enum api_log_redact {
  API_LOG_REDACT_DEFAULT = 0, /**< the built-in list plus api_log_config.redact_keys */
  API_LOG_REDACT_CUSTOM = 1,  /**< api_log_config.redact_keys only */
  API_LOG_REDACT_NONE = 2     /**< nothing is redacted */
} api_log_redact;

/**
 * A callback sink: receives each formatted line, with its trailing '\n', NUL-terminated
 * (line[len] == '\0'). The line is borrowed for the duration of the call.
 * Thread: runs on the logger's background thread (in sync mode: on the logging thread, under the
 * logger's lock, so calls never overlap). It must not log to the same logger or call
 * api_logger_flush() on it.
 */
typedef void (*api_log_sink_fn)(api_log_level level, const char *line, size_t len, void *user_data);

/**
 * Logger configuration. Zero means "default". Build it with
 * API_LOG_CONFIG(.level = API_LOG_DEBUG, .sink = API_LOG_SINK_FILE, .file_path = "app.log").
 * Unless ignore_env is set, the environment overrides the code: API_LOG_LEVEL
 * (trace|debug|info|warn|error|fatal|off) and API_LOG_FORMAT (json|pretty).
 */
typedef struct api_log_config {
  size_t size;              /**< sizeof(api_log_config), set by API_LOG_CONFIG */
  api_log_level level;      /**< lowest level written; default API_LOG_INFO */
  api_log_format format;    /**< default JSON */
  api_log_sink sink;        /**< default stderr */
  const char *file_path;    /**< API_LOG_SINK_FILE: the file (created 0640 if missing) */
  const char *syslog_ident; /**< API_LOG_SINK_SYSLOG: openlog() ident; default "libapi" */
  int syslog_facility;      /**< API_LOG_SINK_SYSLOG: a LOG_* facility; default LOG_USER */
  api_log_sink_fn callback; /**< API_LOG_SINK_CALLBACK: required */
  void *user_data;          /**< passed to callback */
  size_t buffer_size;       /**< bytes of line buffer per logging thread: default 256 KiB, at least
                                 4 KiB, rounded up to a power of two; a line may take half of it */
  const char *const *redact_keys; /**< extra keys to redact (matched case-insensitively; a key
                                       starting with '*' matches any key containing the rest) */
  size_t redact_count;            /**< number of redact_keys */
  api_log_redact redact;          /**< default: built-in list plus redact_keys */
  bool sync;            /**< write each line in the calling thread; no background thread */
  api_log_color color;  /**< pretty format only; default auto */
  bool block_when_full; /**< a full buffer makes the caller wait instead of dropping the line.
                             For benchmarks and batch tools, never for an event loop. */
  bool ignore_env;      /**< do not apply API_LOG_LEVEL / API_LOG_FORMAT */
} api_log_config;

#define API_LOG_CONFIG(...) (&(const api_log_config){.size = sizeof(api_log_config), __VA_ARGS__})

/** Field value types (api_log_field.type). */
typedef enum api_log_type {
  API_LOG_T_STR = 1, /**< v.s: a string (NULL writes null); v.s.n == (size_t)-1: NUL-terminated */
  API_LOG_T_INT,     /**< v.i */
  API_LOG_T_UINT,    /**< v.u */
  API_LOG_T_DOUBLE,  /**< v.d; NaN and infinities are written as null */
  API_LOG_T_BOOL,    /**< v.b */
  API_LOG_T_NULL,    /**< null */
  API_LOG_T_JSON     /**< v.json: any JSON value, serialized (NULL writes null) */
} api_log_type;

/**
 * One field of a log line. Build it with the API_LOG_* macros below. Strings need not be valid
 * UTF-8 or free of control characters: every key and value is escaped when the line is written.
 * Ownership: borrowed; everything a field points to is read during the log call only.
 */
typedef struct api_log_field {
  const char *key;
  api_log_type type;
  union {
    struct {
      const char *p;
      size_t n;
    } s;
    long long i;
    unsigned long long u;
    double d;
    bool b;
    const json_t *json;
  } v;
} api_log_field;

#define API_LOG_STR(k, str) \
  ((api_log_field){.key = (k), .type = API_LOG_T_STR, .v = {.s = {(str), (size_t)-1}}})
/** A string of n bytes, not necessarily NUL-terminated (a view into a request). */
#define API_LOG_STRN(k, str, len) \
  ((api_log_field){.key = (k), .type = API_LOG_T_STR, .v = {.s = {(str), (len)}}})
#define API_LOG_INT(k, x) ((api_log_field){.key = (k), .type = API_LOG_T_INT, .v = {.i = (x)}})
#define API_LOG_UINT(k, x) ((api_log_field){.key = (k), .type = API_LOG_T_UINT, .v = {.u = (x)}})
#define API_LOG_DOUBLE(k, x) \
  ((api_log_field){.key = (k), .type = API_LOG_T_DOUBLE, .v = {.d = (x)}})
#define API_LOG_BOOL(k, x) ((api_log_field){.key = (k), .type = API_LOG_T_BOOL, .v = {.b = (x)}})
#define API_LOG_NULL(k) ((api_log_field){.key = (k), .type = API_LOG_T_NULL, .v = {.i = 0}})
#define API_LOG_JSON(k, j) ((api_log_field){.key = (k), .type = API_LOG_T_JSON, .v = {.json = (j)}})

/**
 * Log msg with any number of fields at level, if the logger writes that level:
 *   api_log(log, API_LOG_WARN, "slow query", API_LOG_DOUBLE("ms", 812.5), API_LOG_STR("q", sql));
 * A macro: the level is checked first, and the fields are not evaluated when it is disabled.
 * The fields are counted by the macro (no terminator to forget). logger is evaluated once.
 * Thread: any thread; see api_log_fields().
 */
#define api_log(logger, level, ...) API__LOG_1((logger), (level), __VA_ARGS__, API__LOG_END)
#define API__LOG_END ((api_log_field){.key = 0})
#define API__LOG_1(lg, lvl, msg, ...)                                                          \
  do {                                                                                         \
    api_logger *api__lg = (lg);                                                                \
    api_log_level api__lv = (lvl);                                                             \
    if (api_log_enabled(api__lg, api__lv)) {                                                   \
      const api_log_field api__f[] = {__VA_ARGS__};                                            \
      api_log_fields(api__lg, api__lv, (msg), api__f, sizeof(api__f) / sizeof(api__f[0]) - 1); \
    }                                                                                          \
  } while (0)

/**
 * Create a root logger (and its background thread, unless cfg->sync).
 * cfg: may be NULL for all defaults; it is copied, strings and the redact list too.
 * Ownership: *out is the caller's; free it with api_logger_free().
 * Returns 0; API_EINVAL for a bad config or environment value (named in api_last_error());
 * API_ESYS when the file cannot be opened or the thread cannot start; API_ENOMEM.
 */
LIBAPI_EXTERN int api_logger_new(api_logger **out, const api_log_config *cfg);

/**
 * Free a logger. For a root logger: write out every line logged so far, stop the background
 * thread and free everything; its children must not be used afterwards. For a child: free the
 * child only. NULL-safe.
 * Thread: a root logger only when no other thread logs to it (or to its children) any more.
 */
LIBAPI_EXTERN void api_logger_free(api_logger *logger);

/**
 * Create a child logger: every line it writes carries the fields f[0..n-1] after msg (and after
 * its parent's bound fields). The fields are serialized now (redaction applied), so what they
 * point to need not outlive the call. Children may have children.
 * Ownership: *out is the caller's; free it with api_logger_free() before its root is freed.
 * Returns 0, API_EINVAL (NULL parent, or f NULL with n > 0), API_ENOMEM.
 * Thread: any thread.
 */
LIBAPI_EXTERN int api_logger_child(api_logger **out, api_logger *parent, const api_log_field *f,
                                   size_t n);

/**
 * Whether logger writes lines of level: a relaxed atomic load and a compare. NULL logger: false.
 * Thread: any thread.
 */
LIBAPI_EXTERN bool api_log_enabled(const api_logger *logger, api_log_level level);

/**
 * Log msg with the n fields f at level (the function behind api_log()). Fields whose key is NULL
 * are skipped; a field whose key is on the redaction list is written as "[REDACTED]".
 * Returns 0 when the line was queued (or written, in sync mode) or filtered out by the level;
 * API_EUNAVAILABLE when it was dropped (buffer full, or the line is larger than the buffer);
 * API_ENOMEM when this thread's buffer could not be allocated (the line is counted as dropped);
 * API_EINVAL for a NULL logger or msg.
 * A fatal line is flushed before the call returns.
 * Thread: any thread, but not from a signal handler. Lines from one thread keep their order;
 * lines of different threads are written in no particular order relative to each other, each
 * line whole.
 */
LIBAPI_EXTERN int api_log_fields(api_logger *logger, api_log_level level, const char *msg,
                                 const api_log_field *f, size_t n);

/** Change the level of logger's root (all its children follow). Thread: any thread. */
LIBAPI_EXTERN void api_logger_set_level(api_logger *logger, api_log_level level);
/** The level of logger's root. */
LIBAPI_EXTERN api_log_level api_logger_level(const api_logger *logger);
/** "trace", "debug", "info", "warn", "error", "fatal", "off"; "unknown" for other values. */
LIBAPI_EXTERN const char *api_log_level_name(api_log_level level);

/**
 * Wait until every line logged (by any thread) before the call is written to the sink.
 * Returns 0, or API_EINVAL for NULL.
 * Thread: any thread except the callback sink's.
 */
LIBAPI_EXTERN int api_logger_flush(api_logger *logger);

/** How many lines logger's root has dropped since it was created. Thread: any thread. */
LIBAPI_EXTERN uint64_t api_logger_dropped(const api_logger *logger);

/**
 * Ask for the file sink to be reopened (after logrotate renamed the file): sets a flag and wakes
 * the background thread, which reopens the file by its path before it writes again (in sync mode,
 * the next log call reopens it). No effect for other sinks.
 * Thread: any thread, and async-signal-safe: it may be called from a signal handler.
 */
LIBAPI_EXTERN void api_logger_reopen(api_logger *logger);

/**
 * Install a SIGHUP handler that calls api_logger_reopen() on logger (and on every other logger
 * registered this way, up to 16). api_logger_free() unregisters a logger; the handler stays
 * installed, so SIGHUP no longer terminates the process.
 * Returns 0; API_EEXIST if too many loggers are registered; API_ESYS if sigaction() fails.
 * Thread: call from the thread that configures the program, before other threads need SIGHUP.
 */
LIBAPI_EXTERN int api_logger_reopen_on_sighup(api_logger *logger);

/** The outcome of an audited action. */
typedef enum api_audit_result { API_AUDIT_SUCCESS = 1, API_AUDIT_FAILURE = 2 } api_audit_result;

/**
 * An audit event: who did what to which target, when, from where, and how it ended.
 * Build it with API_AUDIT_EVENT(.actor = "ada", .action = "user.delete", ...).
 */
typedef struct api_audit_event {
  size_t size;                 /**< sizeof(api_audit_event), set by API_AUDIT_EVENT */
  const char *actor;           /**< who: a user id, a key id, "anonymous" (omitted when NULL) */
  const char *action;          /**< what: e.g. "user.delete"; required */
  const char *target;          /**< on what: e.g. "user:42" (omitted when NULL) */
  const char *client;          /**< from where: the client address (omitted when NULL) */
  api_audit_result result;     /**< required */
  const char *reason;          /**< why it failed, or any note (omitted when NULL) */
  int64_t time_ms;             /**< when, in ms since the epoch; 0 = now */
  const char *request_id;      /**< the request it belongs to (omitted when NULL) */
  const api_log_field *fields; /**< more fields (borrowed for the call) */
  size_t nfields;
} api_audit_event;

#define API_AUDIT_EVENT(...) \
  (&(const api_audit_event){.size = sizeof(api_audit_event), __VA_ARGS__})

/**
 * Write an audit event as one info line with "audit":true, msg "audit", and the members above as
 * fields ("actor", "action", "target", "client", "result":"success"|"failure", "reason",
 * "request_id"), timed ev->time_ms. Audit lines are written whatever the logger's level, unless
 * it is API_LOG_OFF, and are never dropped: when the buffer is full the call waits for room.
 * Returns 0; API_EINVAL (NULL logger or event, no action, no result); API_ENOMEM.
 * Thread: any thread.
 */
LIBAPI_EXTERN int api_audit(api_logger *logger, const api_audit_event *ev);

/* ---- The app's logger and per-request loggers ---- */

/**
 * The app's logger: the one given to api_app_set_logger(), else a default one (stderr, JSON,
 * API_LOG_LEVEL / API_LOG_FORMAT apply) created on first use. NULL only when that creation failed
 * (api_last_error() says why). The framework writes its own messages there.
 * Ownership: borrowed; owned and freed by the app. Thread: call it once before the server starts
 * (api_server_start() does) — afterwards any thread may.
 */
LIBAPI_EXTERN api_logger *api_app_logger(api_app *app);
/**
 * Give the app its logger (a root logger from api_logger_new()); the app takes ownership and frees
 * it, and any earlier one, with itself. Returns 0, or API_ESTATE once a server has started.
 */
LIBAPI_EXTERN int api_app_set_logger(api_app *app, api_logger *logger);

/**
 * The request's logger: a child of the app's logger whose lines carry request_id, trace_id (with
 * api_mw_request_id()), method, route (the pattern) and user (api_req_set_user()), as they are
 * when it is asked for. Costs no allocation beyond a few bytes of request memory.
 * Ownership: borrowed; valid until the response is sent. Thread: the request's thread.
 */
LIBAPI_EXTERN api_logger *api_req_log(api_req *req);

#ifdef __cplusplus
}
#endif
#endif
