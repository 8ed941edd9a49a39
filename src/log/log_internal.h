/* The logger as the rest of the library sees it, and the pieces the log module's files share.
 *
 * A root logger owns the configuration, the sink, the background flusher thread and one line
 * buffer per logging thread. A child logger points at its root and carries bound fields, either
 * serialized once into `prefix` (api_logger_child) or borrowed and serialized at every log call
 * (api__logger_child_init, for per-request loggers living in the request arena). */
#ifndef API_LOG_LOG_INTERNAL_H
#define API_LOG_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "libapi/log.h"

typedef struct api__log_root api__log_root;
typedef struct api__log_tbuf api__log_tbuf;

struct api_logger {
  api__log_root *root;
  const api_logger *up;        /* borrowed-field child: the logger whose fields come first */
  const api_log_field *fields; /* borrowed-field child: its fields (they must outlive it) */
  size_t nfields;
  char *prefix; /* owned child: every bound field, serialized (",\"k\":v" or " k=v") */
  size_t prefix_len;
  bool is_root;
  bool owned; /* allocated by api_logger_child */
};

/* Storage for a child logger that the caller owns (e.g. in a request arena). No resources: it
 * needs no teardown, and simply must not be used after its parent or its fields are gone. */
typedef struct api_logger api__logger_child_storage;

/* Initialise a child of parent in s, binding the n fields f. The fields are borrowed: they (and
 * the strings and JSON they point to) must stay valid as long as the child is used; they are
 * serialized during each log call, never later, so the background thread never reads them.
 * Returns s as a logger. No allocation, cannot fail (parent must not be NULL). */
api_logger *api__logger_child_init(api__logger_child_storage *s, api_logger *parent,
                                   const api_log_field *f, size_t n);

/* ---- formatting (format.c) ---- */

/* A bounded output buffer: writes past cap set `over` and are dropped. */
typedef struct api__lbuf {
  char *p;
  size_t len;
  size_t cap;
  bool over;
} api__lbuf;

/* Key redaction settings, resolved from the config. */
typedef struct api__redact {
  bool builtin;
  char **keys; /* lower-cased extra keys; a leading '*' means "contains" */
  size_t n;
} api__redact;

typedef struct api__fmt {
  api_log_format format;
  bool color;
  const api__redact *redact;
} api__fmt;

/* The cached per-thread rendering of the current second. */
void api__log_time(api__lbuf *b, int64_t ms);
int64_t api__log_now_ms(void);

void api__lbuf_put(api__lbuf *b, const void *p, size_t n);
void api__log_json_str(api__lbuf *b, const char *s, size_t n);
void api__log_int(api__lbuf *b, long long v);
void api__log_uint(api__lbuf *b, unsigned long long v);
void api__log_double(api__lbuf *b, double d);
bool api__log_redacted(const api__redact *r, const char *key, size_t n);

/* Line start (time, level, msg), the fields, and the end ("}\n" or "\n"). */
void api__log_begin(api__lbuf *b, const api__fmt *f, int64_t ms, api_log_level level,
                    const char *msg);
void api__log_put_fields(api__lbuf *b, const api__fmt *f, const api_log_field *fl, size_t n);
void api__log_end(api__lbuf *b, const api__fmt *f);

#endif
