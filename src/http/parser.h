/*
 * The HTTP/1.1 request parser (RFC 9112), strict enough that request smuggling is impossible.
 * Zero-copy: the parsed head points into the caller's buffer, and tokens are NUL-terminated in
 * place by overwriting their delimiters. No allocation.
 */
#ifndef API_HTTP_PARSER_H
#define API_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct api__limits {
  uint32_t max_uri;          /* request-target bytes; beyond: API_EURITOOLONG (414) */
  uint32_t max_header_bytes; /* bytes of the field section (after the request line, through the
                                blank line); beyond: API_EHDRTOOLARGE (431) */
  uint32_t max_headers;      /* field lines; beyond: API_EHDRTOOLARGE (431) */
} api__limits;

typedef struct api__header {
  const char *name;  /* as sent (case preserved), NUL-terminated */
  const char *value; /* leading and trailing OWS removed, NUL-terminated */
  uint32_t name_len;
  uint32_t value_len;
} api__header;

typedef struct api__head {
  const char *method; /* NUL-terminated */
  const char
      *target;       /* the whole request-target (target_len bytes; as a C string it ends at '?') */
  const char *path;  /* target up to '?' (NUL-terminated: the '?' is overwritten) */
  const char *query; /* after '?', or "" */
  uint32_t method_len, target_len, path_len, query_len;
  int minor;            /* HTTP/1.<minor>: 0 or 1 */
  api__header *headers; /* the array given to api__parse_head */
  uint32_t nheaders;
  int64_t content_length; /* -1 when absent */
  bool chunked;           /* Transfer-Encoding ends in chunked */
  bool keep_alive;        /* from the version and the Connection header */
  bool expect_continue;   /* Expect: 100-continue */
  uint32_t head_len;      /* bytes of the head, through the blank line */
} api__head;

typedef struct api__parser {
  size_t scanned;       /* bytes already checked on earlier calls */
  uint32_t line_start;  /* start of the current line */
  uint32_t start;       /* start of the request line (after an ignored leading CRLF) */
  uint32_t reqline_end; /* end of the request line, after its LF (0: not seen yet) */
  uint32_t lines;       /* field lines seen so far */
  uint32_t mark;        /* in the request line: start of the method, target or version */
  int part;             /* in the request line: which of the three is being scanned */
  const char *reason;   /* on error: a short static explanation ("bare LF"), for the error body */
} api__parser;

/* Get a parser ready for the next request. */
void api__parser_reset(api__parser *p);

/*
 * Parse a request head at buf[0..len). Call again with the same buf start and a longer len as
 * bytes arrive (buf may have moved; offsets are what is kept). hdrs has room for
 * lim->max_headers entries.
 * Returns
 *   > 0: the head is complete and valid; the value is its length; *out is filled, pointing into
 *        buf, and buf has been modified in place (delimiters overwritten with NUL);
 *   0:   incomplete and nothing wrong so far — but the limits are checked on every call, so a
 *        too-long request line or field section fails as soon as it is too long;
 *   < 0: an api_err: API_EBADREQ (400), API_EURITOOLONG (414), API_EHDRTOOLARGE (431),
 *        API_ENOTIMPL (501: a transfer coding other than chunked, or the CONNECT method),
 *        API_EVERSION (505: HTTP/2+ in the request line); p->reason says why. The answer and
 *        the reason are the same however the bytes were split across calls.
 * Rejected with 400: CL with TE; several or differing CLs (also "1, 1"); chunked not last or
 * twice; TE on HTTP/1.0; obs-fold; a bare CR or LF; whitespace before a colon or in a name;
 * a byte not allowed in a name, value, method or target (NUL, controls, DEL); a missing or
 * repeated Host on HTTP/1.1; a malformed request line or version; leading empty lines beyond
 * one CRLF (RFC 9112 2.2 allows ignoring at least one).
 */
int api__parse_head(api__parser *p, char *buf, size_t len, api__header *hdrs,
                    const api__limits *lim, api__head *out);

/* Chunked body decoder: a byte-level state machine, so it never needs bytes back. */
typedef struct api__chunked {
  int state;
  uint64_t remaining;  /* data bytes left in the current chunk */
  uint32_t line_bytes; /* bytes of the current size/extension line, bounded */
  uint32_t trailer_bytes;
  uint32_t max_trailer_bytes; /* set by the caller before the first call (0: 16384) */
  const char *reason;
} api__chunked;

enum { API__CHUNK_MORE = 0, API__CHUNK_DATA = 1, API__CHUNK_DONE = 2 };

void api__chunked_reset(api__chunked *c);

/*
 * Decode from in[0..len). Sets *consumed to the bytes used and returns
 *   API__CHUNK_DATA: [*data, *data + *data_len) (inside in) is body data; call again with the
 *                    rest of the input;
 *   API__CHUNK_MORE: every byte was consumed; more input is needed;
 *   API__CHUNK_DONE: the last chunk and the trailer section are complete; bytes after *consumed
 *                    belong to the next request;
 *   < 0:             API_EBADREQ (malformed size, extension, CRLF or trailer; c->reason says
 * which). Chunk extensions that are well-formed (";name[=token|quoted-string]" with optional
 * whitespace around ';' and '=') are ignored; trailer fields are validated like header fields and
 * dropped. The caller enforces its own body size limit on the data it is given.
 */
int api__chunked_decode(api__chunked *c, const char *in, size_t len, size_t *consumed,
                        const char **data, size_t *data_len);

#endif
