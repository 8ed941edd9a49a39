/* The request parser and chunked decoder: every rejection with its reason, limits at their
 * boundaries, and the same answer whether the bytes arrive at once, split anywhere, or one at a
 * time into a buffer that moves between calls. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "libapi/common.h"

static const api__limits lim = {.max_uri = 64, .max_header_bytes = 256, .max_headers = 8};
enum { MAXH = 8 };

typedef struct pcase {
  const char *name;
  const char *raw;
  size_t len;         /* explicit: some requests hold NUL bytes */
  int want;           /* > 0: the head's length; 0: incomplete; < 0: the api_err */
  const char *reason; /* for errors: p->reason */
} pcase;

/* C: any expectation; OK: a complete head that is the whole input; INC: incomplete so far */
#define C(name, raw, want, reason) \
  { name, raw, sizeof(raw) - 1, want, reason }
#define OK(name, raw) C(name, raw, (int)sizeof(raw) - 1, NULL)
#define INC(name, raw) C(name, raw, 0, NULL)
#define BAD(name, raw, reason) C(name, raw, API_EBADREQ, reason)
#define GET "GET / HTTP/1.1\r\nHost: x\r\n"
#define M32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define T63 "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

_Static_assert(sizeof(M32) - 1 == 32, "M32");
_Static_assert(sizeof(T63) - 1 == 63, "T63");

/* clang-format off */
static const pcase cases[] = {
  /* request line */
  OK("minimal", GET "\r\n"),
  OK("http/1.0 without host", "GET / HTTP/1.0\r\n\r\n"),
  OK("one leading CRLF is ignored", "\r\n" GET "\r\n"),
  BAD("two leading CRLFs", "\r\n\r\n" GET "\r\n", "empty lines before request"),
  BAD("leading bare LF", "\n" GET "\r\n", "bare LF"),
  BAD("leading CR then junk", "\r\rGET / HTTP/1.1\r\n", "bare CR"),
  OK("custom method", "PURGE / HTTP/1.1\r\nHost: x\r\n\r\n"),
  OK("method of 32 bytes", M32 " / HTTP/1.1\r\nHost: x\r\n\r\n"),
  BAD("method of 33 bytes", M32 "A / HTTP/1.1\r\nHost: x\r\n\r\n", "method too long"),
  BAD("method of 33 bytes, incomplete", M32 "A", "method too long"),
  BAD("empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n", "malformed request line"),
  BAD("method with a slash", "GE/T / HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in method"),
  BAD("NUL in method", "G\0T / HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in method"),
  BAD("method alone", "GET\r\n\r\n", "malformed request line"),
  BAD("no version", "GET /\r\nHost: x\r\n\r\n", "malformed request line"),
  BAD("two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "malformed request line"),
  BAD("two spaces before version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", "malformed request line"),
  BAD("trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", "malformed request line"),
  BAD("tab separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in method"),
  BAD("lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n", "malformed HTTP version"),
  BAD("short version", "GET / HTTP/1\r\nHost: x\r\n\r\n", "malformed HTTP version"),
  BAD("two-digit minor", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", "malformed HTTP version"),
  C("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", API_EVERSION, "unsupported HTTP version"),
  C("HTTP/3.0, incomplete head", "GET / HTTP/3.0\r\n", API_EVERSION, "unsupported HTTP version"),
  BAD("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", "unsupported HTTP version"),
  BAD("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", "unsupported HTTP version"),
  BAD("control char in target", "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in request target"),
  BAD("control char in target, incomplete", "GET /a\x01", "invalid character in request target"),
  BAD("NUL in target", "GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in request target"),
  BAD("DEL in target", "GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in request target"),
  BAD("non-ASCII in target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in request target"),
  BAD("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", "bare CR"),
  BAD("bare LF ends request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", "bare LF"),
  OK("target of 64 bytes (the limit)", "GET " T63 "a HTTP/1.1\r\nHost: x\r\n\r\n"),
  C("target of 65 bytes", "GET " T63 "aa HTTP/1.1\r\nHost: x\r\n\r\n", API_EURITOOLONG, "request target too long"),
  INC("target of 64 bytes, incomplete", "GET " T63 "a"),
  C("target of 65 bytes, incomplete", "GET " T63 "aa", API_EURITOOLONG, "request target too long"),
  /* target forms */
  OK("absolute-form", "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n"),
  OK("absolute-form, https, upper-case scheme", "GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n"),
  BAD("absolute-form, empty authority", "GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n", "empty authority"),
  BAD("absolute-form, other scheme", "GET ftp://h/a HTTP/1.1\r\nHost: x\r\n\r\n", "unsupported request target form"),
  OK("asterisk-form with OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
  BAD("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", "asterisk-form without OPTIONS"),
  BAD("asterisk and more", "OPTIONS *a HTTP/1.1\r\nHost: x\r\n\r\n", "unsupported request target form"),
  C("authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", API_ENOTIMPL, "CONNECT not supported"),
  C("CONNECT with a path", "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", API_ENOTIMPL, "CONNECT not supported"),
  BAD("relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", "unsupported request target form"),
  /* line ends */
  BAD("bare LF after a header", "GET / HTTP/1.1\r\nHost: x\n\r\n", "bare LF"),
  BAD("bare LF ends the head", GET "\n", "bare LF"),
  BAD("bare LF, head incomplete", GET "X: a\nY", "bare LF"),
  BAD("bare CR in a header", "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", "bare CR"),
  BAD("bare CR, head incomplete", GET "X: a\rb", "bare CR"),
  BAD("CR CR LF", GET "X: a\r\r\n\r\n", "bare CR"),
  INC("a CR at the end waits for its LF", GET "X: a\r"),
  INC("incomplete", GET),
  INC("incomplete request line", "GET / HT"),
  INC("empty", ""),
  INC("one CR", "\r"),
  /* field lines */
  BAD("obs-fold", GET "X: a\r\n b\r\n\r\n", "obs-fold"),
  BAD("obs-fold with tab", GET "X: a\r\n\tb\r\n\r\n", "obs-fold"),
  BAD("space before the first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", "obs-fold"),
  BAD("obs-fold, head incomplete", GET " ", "obs-fold"),
  BAD("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", "whitespace before colon"),
  BAD("tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", "whitespace before colon"),
  BAD("no colon", GET "X\r\n\r\n", "missing colon"),
  BAD("empty name", GET ": x\r\n\r\n", "empty header name"),
  BAD("space in name", GET "X Y: z\r\n\r\n", "whitespace in header name"),
  BAD("quote in name", GET "X\"Y: z\r\n\r\n", "invalid character in header name"),
  BAD("non-ASCII in name", GET "X\xc3\xa9: z\r\n\r\n", "invalid character in header name"),
  BAD("control char in name", GET "X\x01: z\r\n\r\n", "invalid character in header name"),
  BAD("NUL in name", GET "X\0: z\r\n\r\n", "invalid character in header name"),
  BAD("control char in value", GET "X: a\x01z\r\n\r\n", "invalid character in header value"),
  BAD("NUL in value", GET "X: a\0b\r\n\r\n", "invalid character in header value"),
  BAD("NUL in value, head incomplete", GET "X: a\0", "invalid character in header value"),
  BAD("DEL in value", GET "X: a\x7fz\r\n\r\n", "invalid character in header value"),
  BAD("vertical tab in value", GET "X:\x0b" "a\r\n\r\n", "invalid character in header value"),
  OK("obs-text in value", GET "X: caf\xc3\xa9\r\n\r\n"),
  OK("tab in value", GET "X: a\tb\r\n\r\n"),
  OK("empty value", GET "X:\r\n\r\n"),
  OK("only OWS in value", GET "X: \t \r\n\r\n"),
  OK("colon in value", GET "X: a:b\r\n\r\n"),
  /* Host */
  BAD("missing host", "GET / HTTP/1.1\r\n\r\n", "missing host"),
  BAD("two hosts", GET "Host: y\r\n\r\n", "duplicate host"),
  BAD("host case-insensitive twice", GET "HOST: x\r\n\r\n", "duplicate host"),
  BAD("two hosts on http/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "duplicate host"),
  OK("empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
  /* Content-Length */
  OK("content-length", GET "Content-Length: 5\r\n\r\n"),
  OK("content-length with OWS", GET "Content-Length:  5 \r\n\r\n"),
  OK("content-length with leading zeros", GET "Content-Length: 005\r\n\r\n"),
  OK("content-length of 2^62", GET "Content-Length: 4611686018427387904\r\n\r\n"),
  BAD("content-length of 2^63 - 1", GET "Content-Length: 9223372036854775807\r\n\r\n", "content-length too large"),
  BAD("content-length overflow", GET "Content-Length: 99999999999999999999\r\n\r\n", "content-length too large"),
  BAD("two equal content-lengths", GET "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", "more than one content-length"),
  BAD("two different content-lengths", GET "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "more than one content-length"),
  BAD("content-length list", GET "Content-Length: 5, 5\r\n\r\n", "invalid content-length"),
  BAD("content-length plus", GET "Content-Length: +5\r\n\r\n", "invalid content-length"),
  BAD("content-length minus", GET "Content-Length: -1\r\n\r\n", "invalid content-length"),
  BAD("content-length hex", GET "Content-Length: 0x5\r\n\r\n", "invalid content-length"),
  BAD("content-length inner space", GET "Content-Length: 5 5\r\n\r\n", "invalid content-length"),
  BAD("content-length empty", GET "Content-Length:\r\n\r\n", "invalid content-length"),
  BAD("content-length space before colon", GET "Content-Length : 5\r\n\r\n", "whitespace before colon"),
  /* Transfer-Encoding and the smuggling classics */
  OK("chunked", GET "Transfer-Encoding: chunked\r\n\r\n"),
  OK("chunked any case", GET "Transfer-Encoding: ChUnKeD\r\n\r\n"),
  OK("chunked after a tab", GET "Transfer-Encoding:\tchunked\r\n\r\n"),
  OK("te with empty elements", GET "Transfer-Encoding: , chunked ,\r\n\r\n"),
  BAD("CL.TE", GET "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "content-length with transfer-encoding"),
  BAD("TE.CL", GET "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", "content-length with transfer-encoding"),
  BAD("TE.CL with CL 0", GET "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", "content-length with transfer-encoding"),
  BAD("TE.TE: space before colon", GET "Transfer-Encoding : chunked\r\n\r\n", "whitespace before colon"),
  BAD("TE.TE: xchunked", GET "Transfer-Encoding: xchunked\r\n\r\n", "chunked not last"),
  BAD("TE.TE: chunked, identity", GET "Transfer-Encoding: chunked, identity\r\n\r\n", "chunked not last"),
  BAD("TE.TE: chunked then identity fields", GET "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", "chunked not last"),
  BAD("TE.TE: chunked twice", GET "Transfer-Encoding: chunked, chunked\r\n\r\n", "chunked applied twice"),
  BAD("TE.TE: chunked in two fields", GET "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked applied twice"),
  BAD("TE.TE: vertical tab", GET "Transfer-Encoding:\x0b" "chunked\r\n\r\n", "invalid character in header value"),
  BAD("TE.TE: obs-fold", GET "Transfer-Encoding:\r\n chunked\r\n\r\n", "obs-fold"),
  BAD("TE.TE: quoted", GET "Transfer-Encoding: \"chunked\"\r\n\r\n", "invalid transfer-encoding"),
  BAD("TE.TE: chunked with a parameter", GET "Transfer-Encoding: chunked;x=1\r\n\r\n", "chunked not last"),
  BAD("TE.TE: empty", GET "Transfer-Encoding:\r\n\r\n", "chunked not last"),
  BAD("chunked not last", GET "Transfer-Encoding: chunked, gzip\r\n\r\n", "chunked not last"),
  BAD("te without chunked", GET "Transfer-Encoding: gzip\r\n\r\n", "chunked not last"),
  BAD("identity alone", GET "Transfer-Encoding: identity\r\n\r\n", "chunked not last"),
  C("gzip then chunked", GET "Transfer-Encoding: gzip, chunked\r\n\r\n", API_ENOTIMPL, "unsupported transfer coding"),
  C("identity then chunked", GET "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n", API_ENOTIMPL, "unsupported transfer coding"),
  C("unknown coding then chunked", GET "Transfer-Encoding: foo, chunked\r\n\r\n", API_ENOTIMPL, "unsupported transfer coding"),
  BAD("te on http/1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "transfer-encoding in HTTP/1.0"),
  /* field count and section size (max 8 fields, 256 bytes) */
  OK("eight headers", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\n\r\n"),
  C("nine headers", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n\r\n", API_EHDRTOOLARGE, "too many header fields"),
  C("ninth header begins", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH", API_EHDRTOOLARGE, "too many header fields"),
  INC("eight headers, no blank line yet", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\n\r"),
  /* pipelining: the head ends at the blank line */
  C("pipelined", GET "\r\n" GET "\r\n", 27, NULL),
  C("body follows", GET "Content-Length: 3\r\n\r\nabc", 46, NULL),
  C("junk after the head is not looked at", GET "\r\n\n\x01\r", 27, NULL),
};
/* clang-format on */

/*
 * Feed raw to the parser `step` bytes more per call (step >= len: at once), into a buffer that is
 * reallocated to the exact length each time, as a connection's read buffer may move and so ASan
 * sees any read past len. first > 0 makes the first call end there. Returns the first non-zero
 * answer; *pbuf keeps the final buffer (the head points into it; free it).
 */
static int feed(const char *raw, size_t len, size_t first, size_t step, api__parser *p,
                api__header *hdrs, api__head *h, char **pbuf) {
  char *buf = NULL;
  int rc = 0;
  api__parser_reset(p);
  size_t n = first ? first : step, had = 0;
  for (;;) {
    if (n > len) n = len;
    char *nb = malloc(n ? n : 1);
    if (had) memcpy(nb, buf, had); /* what the parser has seen moves with the buffer */
    memcpy(nb + had, raw + had, n - had);
    had = n;
    free(buf);
    buf = nb;
    rc = api__parse_head(p, buf, n, hdrs, &lim, h);
    cr_assert_leq(p->scanned, n);
    if (rc != 0 || n == len) break;
    n += step;
  }
  if (pbuf)
    *pbuf = buf;
  else
    free(buf);
  return rc;
}

/* Criterion runs each parameter in a fresh process, where pointers from this one mean nothing:
 * the parameter is an index into the table. */
static size_t *indices(size_t n) {
  size_t *ix = cr_malloc(n * sizeof(*ix));
  for (size_t i = 0; i < n; i++) ix[i] = i;
  return ix;
}

static void free_indices(struct criterion_test_params *crp) { cr_free(crp->params); }

ParameterizedTestParameters(parser, table) {
  size_t n = sizeof(cases) / sizeof(cases[0]);
  return cr_make_param_array(size_t, indices(n), n, free_indices);
}

ParameterizedTest(size_t *ix, parser, table) {
  const pcase *c = &cases[*ix];
  api__parser p;
  api__header hdrs[MAXH];
  api__head h;
  char *buf;
  int rc = feed(c->raw, c->len, 0, c->len, &p, hdrs, &h, &buf);
  cr_expect_eq(rc, c->want, "%s: got %d (%s), want %d", c->name, rc, p.reason ? p.reason : "-",
               c->want);
  if (rc < 0 && c->reason)
    cr_expect_str_eq(p.reason, c->reason, "%s: reason \"%s\"", c->name, p.reason);
  if (rc > 0) {
    cr_expect_eq(h.head_len, (uint32_t)rc);
    cr_expect_eq(strlen(h.method), h.method_len, "%s: method NUL-terminated", c->name);
    cr_expect_eq(strlen(h.path), h.path_len, "%s: path NUL-terminated", c->name);
    cr_expect_eq(strlen(h.query), h.query_len, "%s: query NUL-terminated", c->name);
    for (uint32_t i = 0; i < h.nheaders; i++) {
      cr_expect_eq(strlen(hdrs[i].name), hdrs[i].name_len, "%s: header %u name", c->name, i);
      cr_expect_eq(strlen(hdrs[i].value), hdrs[i].value_len, "%s: header %u value", c->name, i);
    }
    cr_expect(memcmp(buf + rc, c->raw + rc, c->len - (size_t)rc) == 0,
              "%s: bytes after the head are untouched", c->name);
  }
  free(buf);

  /* The same answer, and the same reason, however the bytes are split. */
  for (size_t step = 1; step <= 3; step++) {
    api__parser q;
    int r = feed(c->raw, c->len, 0, step, &q, hdrs, &h, NULL);
    cr_expect_eq(r, rc, "%s: %zu bytes per call: got %d (%s)", c->name, step, r,
                 q.reason ? q.reason : "-");
    if (r < 0 && rc < 0)
      cr_expect_str_eq(q.reason, p.reason, "%s: %zu bytes per call", c->name, step);
  }
  for (size_t k = 1; k < c->len; k++) {
    api__parser q;
    int r = feed(c->raw, c->len, k, c->len, &q, hdrs, &h, NULL);
    cr_expect_eq(r, rc, "%s: split at %zu: got %d (%s)", c->name, k, r, q.reason ? q.reason : "-");
    if (r < 0 && rc < 0) cr_expect_str_eq(q.reason, p.reason, "%s: split at %zu", c->name, k);
  }
}

/* Parse a writable, NUL-terminated request in place; asserts it is complete. */
static int parse_in_place(char *raw, api__header *hdrs, api__head *h) {
  api__parser p;
  api__parser_reset(&p);
  int rc = api__parse_head(&p, raw, strlen(raw), hdrs, &lim, h);
  cr_assert_gt(rc, 0, "rc %d (%s)", rc, p.reason ? p.reason : "-");
  return rc;
}

Test(parser, fields_are_parsed_and_terminated_in_place) {
  char raw[] =
      "POST /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Trim:   padded value \t\r\n"
      "Content-Length: 12\r\nConnection: keep-alive, Upgrade\r\nExpect: 100-Continue\r\n\r\nBODY";
  api__header hdrs[MAXH];
  api__head h;
  int rc = parse_in_place(raw, hdrs, &h);
  cr_assert_eq(rc, (int)(sizeof(raw) - 1 - 4));
  cr_assert_str_eq(h.method, "POST");
  cr_assert_eq(h.method_len, 4);
  cr_assert_eq(h.target, raw + 5);
  cr_assert_eq(h.target_len, 16);
  cr_assert_str_eq(h.path, "/a/b%20c");
  cr_assert_eq(h.path_len, 8);
  cr_assert_str_eq(h.query, "x=1&y=2");
  cr_assert_eq(h.query_len, 7);
  cr_assert_eq(h.minor, 1);
  cr_assert_eq(h.headers, hdrs);
  cr_assert_eq(h.nheaders, 5);
  cr_assert_str_eq(hdrs[0].name, "Host");
  cr_assert_str_eq(hdrs[0].value, "example.com");
  cr_assert_str_eq(hdrs[1].name, "X-Trim");
  cr_assert_str_eq(hdrs[1].value, "padded value");
  cr_assert_eq(hdrs[1].value_len, 12);
  cr_assert_str_eq(hdrs[4].value, "100-Continue");
  cr_assert_eq(h.content_length, 12);
  cr_assert(h.keep_alive);
  cr_assert(h.expect_continue);
  cr_assert_not(h.chunked);
  cr_assert_eq(h.head_len, (uint32_t)rc);
  cr_assert_str_eq(raw + rc, "BODY", "bytes after the head are untouched");
}

Test(parser, defaults_without_framing_fields) {
  char raw[] = "\r\nDELETE /x HTTP/1.0\r\nExpect: something-else\r\n\r\n";
  api__header hdrs[MAXH];
  api__head h;
  cr_assert_eq(parse_in_place(raw, hdrs, &h), (int)sizeof(raw) - 1);
  cr_assert_str_eq(h.method, "DELETE");
  cr_assert_eq(h.method, raw + 2, "the ignored CRLF is skipped");
  cr_assert_eq(h.minor, 0);
  cr_assert_eq(h.content_length, -1);
  cr_assert_not(h.chunked);
  cr_assert_not(h.keep_alive);
  cr_assert_not(h.expect_continue, "other expectations are ignored");
  cr_assert_str_eq(h.query, "");
  cr_assert_eq(h.query_len, 0);
}

Test(parser, chunked_is_reported) {
  char raw[] = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  api__header hdrs[MAXH];
  api__head h;
  parse_in_place(raw, hdrs, &h);
  cr_assert(h.chunked);
  cr_assert_eq(h.content_length, -1);
}

Test(parser, keep_alive_rules) {
  struct {
    const char *raw;
    bool keep;
  } k[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: ,KEEP-ALIVE ,\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
  };
  for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
    char buf[256];
    strcpy(buf, k[i].raw);
    api__header hdrs[MAXH];
    api__head h;
    parse_in_place(buf, hdrs, &h);
    cr_expect_eq(h.keep_alive, k[i].keep, "case %zu", i);
  }
}

Test(parser, target_forms) {
  struct {
    const char *raw, *path, *query;
  } k[] = {
      {"GET http://h/p/q?z=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/p/q", "z=1"},
      {"GET https://h?z=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/", "z=1"},
      {"GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", "/", ""},
      {"GET http://u@h:80/?a/b HTTP/1.1\r\nHost: h\r\n\r\n", "/", "a/b"},
      {"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "*", ""},
      {"GET /? HTTP/1.1\r\nHost: h\r\n\r\n", "/", ""},
      {"GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n", "/a", "b?c"},
  };
  for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
    char buf[256];
    strcpy(buf, k[i].raw);
    api__header hdrs[MAXH];
    api__head h;
    parse_in_place(buf, hdrs, &h);
    cr_expect_str_eq(h.path, k[i].path, "case %zu", i);
    cr_expect_eq(h.path_len, strlen(k[i].path), "case %zu", i);
    cr_expect_str_eq(h.query, k[i].query, "case %zu", i);
    cr_expect_eq(h.query_len, strlen(k[i].query), "case %zu", i);
  }
}

static char *repeat(char ch, size_t n) {
  char *s = malloc(n + 1);
  memset(s, ch, n);
  s[n] = '\0';
  return s;
}

/* Incremental parse of s (in moving buffers), one byte per call. */
static int parse_bytewise(const char *s, api__parser *p) {
  api__header hdrs[MAXH];
  api__head h;
  return feed(s, strlen(s), 0, 1, p, hdrs, &h, NULL);
}

Test(parser, header_section_limit_at_the_boundary) {
  /* field section = "Host: x\r\n" (9) + "X: <v>\r\n" (5 + n) + "\r\n" (2) = 256 */
  char *v = repeat('v', 240), req[512];
  api__parser p;
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n", v);
  cr_assert_eq(parse_bytewise(req, &p), (int)strlen(req));
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %sv\r\n\r\n", v);
  cr_assert_eq(parse_bytewise(req, &p), API_EHDRTOOLARGE);
  cr_assert_str_eq(p.reason, "header section too large");
  /* the limit is hit by the blank line's LF alone */
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %sv\r\n\r", v);
  cr_assert_eq(parse_bytewise(req, &p), 0, "256 bytes so far: not too large yet");
  free(v);
}

Test(parser, header_section_limit_detected_before_the_head_ends) {
  char *v = repeat('v', 400), req[512];
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %s", v);
  api__parser p;
  api__header hdrs[MAXH];
  api__head h;
  /* 16 bytes of the request line, then exactly 256 of the field section: incomplete */
  cr_assert_eq(feed(req, 16 + 256, 0, 1, &p, hdrs, &h, NULL), 0);
  /* one byte more: too large, though no line has ended */
  cr_assert_eq(feed(req, 16 + 257, 0, 1, &p, hdrs, &h, NULL), API_EHDRTOOLARGE);
  cr_assert_eq(feed(req, strlen(req), 0, strlen(req), &p, hdrs, &h, NULL), API_EHDRTOOLARGE);
  free(v);
}

Test(parser, uri_limit_is_exact_for_every_limit) {
  /* each limit from 1 to 100: a target of max bytes passes, max + 1 fails, also unterminated */
  for (uint32_t max = 1; max <= 100; max++) {
    api__limits l = lim;
    l.max_uri = max;
    char *t = repeat('a', max + 1), req[256];
    t[0] = '/';
    for (int extra = 0; extra <= 1; extra++) {
      size_t tlen = max + (size_t)extra;
      snprintf(req, sizeof(req), "GET %.*s HTTP/1.1\r\nHost: x\r\n\r\n", (int)tlen, t);
      char work[256];
      api__parser p;
      api__header hdrs[MAXH];
      api__head h;
      api__parser_reset(&p);
      memcpy(work, req, sizeof(req));
      int rc = api__parse_head(&p, work, strlen(req), hdrs, &l, &h);
      cr_expect_eq(rc, extra ? API_EURITOOLONG : (int)strlen(req), "max %u, target %zu", max, tlen);
      api__parser_reset(&p);
      memcpy(work, req, sizeof(req));
      rc = api__parse_head(&p, work, 4 + tlen, hdrs, &l, &h); /* "GET " + the target only */
      cr_expect_eq(rc, extra ? API_EURITOOLONG : 0, "max %u, unterminated target %zu", max, tlen);
    }
    free(t);
  }
}

Test(parser, pipelined_requests_are_left_untouched) {
  char raw[] =
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
      "\r\nGET /3 HTTP/1.0\r\n\r\n";
  api__parser p;
  api__header hdrs[MAXH];
  api__head h;
  api__parser_reset(&p);
  size_t len = sizeof(raw) - 1, off = 0;
  int n = api__parse_head(&p, raw, len, hdrs, &lim, &h);
  cr_assert_eq(n, 28);
  cr_assert_str_eq(h.path, "/1");
  off += (size_t)n;
  api__parser_reset(&p);
  n = api__parse_head(&p, raw + off, len - off, hdrs, &lim, &h);
  cr_assert_eq(n, 48);
  cr_assert_str_eq(h.path, "/2");
  cr_assert_eq(h.content_length, 2);
  cr_assert(memcmp(raw + off + n, "hi\r\nGET /3", 10) == 0);
  off += (size_t)n + 2;
  api__parser_reset(&p);
  n = api__parse_head(&p, raw + off, len - off, hdrs, &lim, &h);
  cr_assert_eq((size_t)n, len - off, "one leading CRLF before the next request is ignored");
  cr_assert_str_eq(h.path, "/3");
}

Test(parser, reset_allows_reuse_after_an_error) {
  api__parser p;
  cr_assert_eq(parse_bytewise("GET / HTTP/1.1\r\nHost: x\n", &p), API_EBADREQ);
  cr_assert_eq(parse_bytewise("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &p), 27);
  cr_assert_null(p.reason);
}

/* ---- chunked ---- */

enum { TRAILER_MAX = 64 };

/*
 * Decode in[0..len) handed over in pieces: the first ends at `first` (if non-zero), the others are
 * `step` bytes long. Each piece is copied into a buffer of its exact size, so ASan sees reads past
 * it. Returns the final status; the body goes to body/blen, the bytes used to *used.
 */
static int dechunk(const char *in, size_t len, size_t first, size_t step, char *body, size_t *blen,
                   size_t *used, const char **reason) {
  api__chunked c;
  memset(&c, 0xa5, sizeof(c)); /* reset must not depend on zeroed memory */
  api__chunked_reset(&c);
  c.max_trailer_bytes = TRAILER_MAX;
  *blen = 0;
  *used = 0;
  *reason = NULL;
  size_t off = 0;
  int rc = API__CHUNK_MORE;
  while (off < len) {
    size_t end = off + (first && off == 0 ? first : step);
    if (end > len) end = len;
    size_t plen = end - off;
    char *piece = malloc(plen);
    memcpy(piece, in + off, plen);
    size_t poff = 0;
    while (poff < plen) {
      size_t consumed = (size_t)-1, dlen = 7;
      const char *data = (const char *)1;
      rc = api__chunked_decode(&c, piece + poff, plen - poff, &consumed, &data, &dlen);
      cr_assert_leq(consumed, plen - poff, "consumed is always set and bounded");
      poff += consumed;
      if (rc == API__CHUNK_DATA) {
        cr_assert_gt(dlen, 0);
        cr_assert(data >= piece && data + dlen <= piece + poff, "data inside the consumed input");
        memcpy(body + *blen, data, dlen);
        *blen += dlen;
      } else {
        cr_assert_null(data);
        cr_assert_eq(dlen, 0);
      }
      if (rc == API__CHUNK_MORE) cr_assert_eq(poff, plen, "MORE consumes everything");
      if (rc < 0 || rc == API__CHUNK_DONE) {
        *used = off + poff;
        *reason = c.reason;
        free(piece);
        return rc;
      }
    }
    free(piece);
    off = end;
  }
  *used = off;
  return API__CHUNK_MORE; /* the input ran out before the end */
}

typedef struct ccase {
  const char *name;
  const char *in;
  size_t len;
  int want;
  const char *body; /* the data delivered before the end or the error */
  size_t blen;
  const char *reason; /* for errors */
} ccase;

#define CC(name, in, want, body, reason) \
  { name, in, sizeof(in) - 1, want, body, sizeof(body) - 1, reason }
#define CDONE(name, in, body) CC(name, in, API__CHUNK_DONE, body, NULL)
#define CBAD(name, in, body, reason) CC(name, in, API_EBADREQ, body, reason)

/* clang-format off */
static const ccase chunked_cases[] = {
  CDONE("simple", "5\r\nhello\r\n0\r\n\r\n", "hello"),
  CDONE("two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
  CDONE("no data", "0\r\n\r\n", ""),
  CDONE("upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
  CDONE("mixed-case hex", "1a\r\n0123456789abcdefghijklmnop\r\n0\r\n\r\n", "0123456789abcdefghijklmnop"),
  CDONE("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"),
  CDONE("sixteen digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "hello"),
  CBAD("seventeen digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("huge size", "ffffffffffffffffff\r\n", "", "bad chunk size"),
  CDONE("data with CR, LF and NUL", "6\r\n\r\n\0\r\n\n\r\n0\r\n\r\n", "\r\n\0\r\n\n"),
  CDONE("extension", "5;name=value\r\nhello\r\n0\r\n\r\n", "hello"),
  CDONE("extension without value", "5;name\r\nhello\r\n0\r\n\r\n", "hello"),
  CDONE("BWS before ';'", "1 ;a=b\r\nx\r\n0\r\n\r\n", "x"),
  CDONE("extensions with whitespace", "5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", "hello"),
  CDONE("several extensions", "5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n", "hello"),
  CDONE("quoted extension", "1;a=\"b\\\"c\"\r\nx\r\n0\r\n\r\n", "x"),
  CDONE("quoted extension with spaces and pairs", "5;a=\"b \\\"c\\\" d\"\r\nhello\r\n0\r\n\r\n", "hello"),
  CDONE("quoted extension then another", "1;a=\"b\" ; c\r\nx\r\n0\r\n\r\n", "x"),
  CDONE("quoted empty", "1;a=\"\"\r\nx\r\n0\r\n\r\n", "x"),
  CDONE("extension on the last chunk", "5\r\nhello\r\n0;x=1\r\n\r\n", "hello"),
  CDONE("trailers", "5\r\nhello\r\n0\r\nA: b\r\nC:\r\n\r\n", "hello"),
  CC("incomplete", "5\r\nhel", API__CHUNK_MORE, "hel", NULL),
  CC("incomplete after data", "5\r\nhello\r", API__CHUNK_MORE, "hello", NULL),
  CC("incomplete in a trailer", "0\r\nA: b", API__CHUNK_MORE, "", NULL),
  CBAD("no size", "\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("bad size", "zz\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("negative size", "-5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("plus sign", "+5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("size with 0x", "0x5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("space after size", "5 \r\nhello\r\n0\r\n\r\n", "", "whitespace before chunk line end"),
  CBAD("tab after size", "5\t\r\nhello\r\n0\r\n\r\n", "", "whitespace before chunk line end"),
  CBAD("space before size", " 5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
  CBAD("space inside size", "1 0\r\n", "", "bad chunk extension"),
  CBAD("extension without name", "1;\r\nx\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("extension with bad name", "5;a@b\r\nhello\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("extension without value after =", "5;a=\r\nhello\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("space after extension name", "1;a \r\nx\r\n0\r\n\r\n", "", "whitespace before chunk line end"),
  CBAD("space after extension value", "1;a=b \r\nx\r\n0\r\n\r\n", "", "whitespace before chunk line end"),
  CBAD("space after quoted value", "1;a=\"b\" \r\nx\r\n0\r\n\r\n", "", "whitespace before chunk line end"),
  CBAD("two values", "1;a=b=c\r\nx\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("junk after quoted value", "1;a=\"b\"c\r\nx\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("extension unterminated quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("NUL in quoted extension", "1;a=\"\0\"\r\nx\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("NUL in extension name", "1;a\0\r\nx\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("NUL after quoted-pair backslash", "1;a=\"\\\0\"\r\nx\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("bare LF after size", "5\nhello\r\n0\r\n\r\n", "", "bare LF"),
  CBAD("bare LF after extension", "5;a\nhello\r\n0\r\n\r\n", "", "bad chunk extension"),
  CBAD("bare CR after size", "5\rhello\r\n0\r\n\r\n", "", "bare CR"),
  CBAD("data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", "hello", "bad chunk terminator"),
  CBAD("data not followed by CRLF", "5\r\nhello\n0\r\n\r\n", "hello", "bad chunk terminator"),
  CBAD("data followed by CR CR", "5\r\nhello\r\r\n0\r\n\r\n", "hello", "bad chunk terminator"),
  CBAD("bare LF ends the body", "5\r\nhello\r\n0\r\n\n", "hello", "bare LF"),
  CBAD("bare CR ends the body", "0\r\n\rX", "", "bare CR"),
  CBAD("trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", "", "obs-fold in trailer"),
  CBAD("trailer without colon", "0\r\nA b\r\n\r\n", "", "whitespace before colon"),
  CBAD("trailer name without colon", "0\r\nAb\r\n\r\n", "", "bad trailer field"),
  CBAD("trailer space before colon", "0\r\nA : b\r\n\r\n", "", "whitespace before colon"),
  CBAD("trailer empty name", "0\r\n: b\r\n\r\n", "", "bad trailer field"),
  CBAD("trailer control char", "0\r\nA: \x01\r\n\r\n", "", "bad trailer field"),
  CBAD("trailer NUL", "0\r\nA: \0\r\n\r\n", "", "bad trailer field"),
  CBAD("trailer bare LF", "0\r\nA: b\n\r\n", "", "bare LF"),
  CBAD("trailer bare CR", "0\r\nA: b\rc\r\n\r\n", "", "bare CR"),
  /* the trailer section is bounded: TRAILER_MAX = 64 bytes through the final CRLF */
  CDONE("trailer section of 64 bytes", "0\r\nA: 012345678901234567890123456789012345678901234567890123456\r\n\r\n", ""),
  CBAD("trailer section of 65 bytes", "0\r\nA: 0123456789012345678901234567890123456789012345678901234567\r\n\r\n", "", "trailer section too large"),
};
/* clang-format on */

ParameterizedTestParameters(chunked, table) {
  size_t n = sizeof(chunked_cases) / sizeof(chunked_cases[0]);
  return cr_make_param_array(size_t, indices(n), n, free_indices);
}

static void expect_case(const ccase *c, int rc, const char *body, size_t blen, size_t used,
                        const char *reason, const char *how, size_t n) {
  cr_expect_eq(rc, c->want, "%s (%s %zu): got %d (%s), want %d", c->name, how, n, rc,
               reason ? reason : "-", c->want);
  if (rc == API__CHUNK_DONE) cr_expect_eq(used, c->len, "%s: consumed all", c->name);
  cr_expect_eq(blen, c->blen, "%s (%s %zu): body length", c->name, how, n);
  cr_expect(blen == c->blen && memcmp(body, c->body, blen) == 0, "%s (%s %zu): body", c->name, how,
            n);
  if (rc < 0 && c->reason)
    cr_expect_str_eq(reason, c->reason, "%s (%s %zu): reason", c->name, how, n);
}

ParameterizedTest(size_t *ix, chunked, table) {
  const ccase *c = &chunked_cases[*ix];
  char body[256];
  size_t blen, used;
  const char *reason;
  /* in pieces of every size, and split in two at every offset */
  for (size_t step = 1; step <= c->len; step++) {
    int rc = dechunk(c->in, c->len, 0, step, body, &blen, &used, &reason);
    expect_case(c, rc, body, blen, used, reason, "pieces of", step);
  }
  for (size_t k = 1; k < c->len; k++) {
    int rc = dechunk(c->in, c->len, k, c->len, body, &blen, &used, &reason);
    expect_case(c, rc, body, blen, used, reason, "split at", k);
  }
}

Test(chunked, the_next_request_is_left_alone) {
  const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  char body[16];
  size_t blen, used;
  const char *reason;
  for (size_t step = 1; step < sizeof(in); step++) {
    cr_assert_eq(dechunk(in, sizeof(in) - 1, 0, step, body, &blen, &used, &reason),
                 API__CHUNK_DONE);
    cr_assert_eq(used, 13, "pieces of %zu", step);
  }
}

Test(chunked, done_is_sticky) {
  api__chunked c;
  api__chunked_reset(&c);
  const char in[] = "0\r\n\r\n0\r\n\r\n";
  size_t used, dlen;
  const char *data;
  cr_assert_eq(api__chunked_decode(&c, in, sizeof(in) - 1, &used, &data, &dlen), API__CHUNK_DONE);
  cr_assert_eq(used, 5);
  cr_assert_eq(api__chunked_decode(&c, in + 5, 5, &used, &data, &dlen), API__CHUNK_DONE);
  cr_assert_eq(used, 0, "nothing after the end is taken");
}

Test(chunked, size_line_is_bounded) {
  /* the whole size line, extensions and CR included, may be 4096 bytes */
  for (size_t n = 4095; n <= 4096; n++) { /* n bytes, then the CR */
    char *in = malloc(n + 32);
    memcpy(in, "1;a=", 4);
    memset(in + 4, 'x', n - 4);
    memcpy(in + n, "\r\nZ\r\n0\r\n\r\n", 11);
    size_t len = strlen(in);
    char body[16];
    size_t blen, used;
    const char *reason;
    int rc = dechunk(in, len, 0, 1000, body, &blen, &used, &reason);
    if (n + 1 <= 4096) {
      cr_expect_eq(rc, API__CHUNK_DONE, "line of %zu bytes", n + 1);
    } else {
      cr_expect_eq(rc, API_EBADREQ, "line of %zu bytes", n + 1);
      cr_expect_str_eq(reason, "chunk size line too long");
    }
    free(in);
  }
}

Test(chunked, sixteen_hex_digits_fill_a_uint64) {
  api__chunked c;
  api__chunked_reset(&c);
  const char in[] = "ffffffffffffffff\r\nab";
  size_t used, dlen;
  const char *data;
  cr_assert_eq(api__chunked_decode(&c, in, sizeof(in) - 1, &used, &data, &dlen), API__CHUNK_DATA);
  cr_assert_eq(dlen, 2);
  cr_assert_eq(used, sizeof(in) - 1);
  cr_assert_eq(c.remaining, UINT64_MAX - 2);
}

Test(chunked, default_trailer_limit_is_16k) {
  size_t n = 16384;
  char *in = malloc(n + 16);
  memcpy(in, "0\r\nA: ", 6);
  memset(in + 6, 'v', n);
  api__chunked c;
  api__chunked_reset(&c);
  c.max_trailer_bytes = 0;
  size_t used, dlen;
  const char *data;
  /* the section is "A: " + 16381 bytes of value + CRLF + CRLF = 16388 > 16384 */
  memcpy(in + 6 + n - 3, "\r\n\r\n", 4);
  cr_assert_eq(api__chunked_decode(&c, in, 6 + n + 1, &used, &data, &dlen), API_EBADREQ);
  cr_assert_str_eq(c.reason, "trailer section too large");
  api__chunked_reset(&c);
  memcpy(in + 6 + n - 7, "\r\n\r\n", 4); /* 16384 exactly */
  cr_assert_eq(api__chunked_decode(&c, in, 6 + n - 3, &used, &data, &dlen), API__CHUNK_DONE);
  cr_assert_eq(used, 6 + n - 3);
  free(in);
}
