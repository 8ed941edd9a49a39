/* The request parser and chunked decoder: every rejection, limits at their boundaries, and the
 * same answers whether the bytes arrive at once or one at a time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "libapi/common.h"

static const api__limits lim = {.max_uri = 64, .max_header_bytes = 256, .max_headers = 8};

typedef struct pcase {
  const char *name;
  const char *raw;
  int want; /* > 0: complete (the head's length is checked separately); 0: incomplete; < 0: error */
} pcase;

#define OK 1
#define R(s) s "\r\n"
#define GET "GET / HTTP/1.1\r\nHost: x\r\n"

/* clang-format off */
static const pcase cases[] = {
  {"minimal", GET "\r\n", OK},
  {"http/1.0 without host", "GET / HTTP/1.0\r\n\r\n", OK},
  {"one leading CRLF is ignored", "\r\n" GET "\r\n", OK},
  {"two leading CRLFs", "\r\n\r\n" GET "\r\n", API_EBADREQ},
  {"incomplete", GET, 0},
  {"incomplete request line", "GET / HT", 0},
  {"absolute-form", "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n", OK},
  {"asterisk-form with OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", OK},
  {"asterisk-form with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", API_ENOTIMPL},
  {"relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", API_EBADREQ},
  {"tab separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", API_EVERSION},
  {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", API_EBADREQ},
  {"no version", "GET /\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"method with a slash", "GE/T / HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"method of 33 bytes", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"custom method", "PURGE / HTTP/1.1\r\nHost: x\r\n\r\n", OK},
  {"control char in target", "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"DEL in target", "GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"non-ASCII in target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", API_EBADREQ},
  {"bare LF after a header", "GET / HTTP/1.1\r\nHost: x\n\r\n", API_EBADREQ},
  {"bare LF ends the head", GET "\n", API_EBADREQ},
  {"bare CR in a header", "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", API_EBADREQ},
  {"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", API_EBADREQ},
  {"obs-fold", GET "X: a\r\n b\r\n\r\n", API_EBADREQ},
  {"obs-fold with tab", GET "X: a\r\n\tb\r\n\r\n", API_EBADREQ},
  {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", API_EBADREQ},
  {"tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", API_EBADREQ},
  {"no colon", GET "X\r\n\r\n", API_EBADREQ},
  {"empty name", GET ": x\r\n\r\n", API_EBADREQ},
  {"space in name", GET "X Y: z\r\n\r\n", API_EBADREQ},
  {"control char in name", GET "X\x01: z\r\n\r\n", API_EBADREQ},
  {"control char in value", GET "X: a\x01z\r\n\r\n", API_EBADREQ},
  {"DEL in value", GET "X: a\x7fz\r\n\r\n", API_EBADREQ},
  {"obs-text in value", GET "X: caf\xc3\xa9\r\n\r\n", OK},
  {"tab in value", GET "X: a\tb\r\n\r\n", OK},
  {"empty value", GET "X:\r\n\r\n", OK},
  {"missing host", "GET / HTTP/1.1\r\n\r\n", API_EBADREQ},
  {"two hosts", GET "Host: y\r\n\r\n", API_EBADREQ},
  {"host case-insensitive twice", GET "HOST: x\r\n\r\n", API_EBADREQ},
  {"content-length", GET "Content-Length: 5\r\n\r\n", OK},
  {"content-length with OWS", GET "Content-Length:  5 \r\n\r\n", OK},
  {"two equal content-lengths", GET "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", API_EBADREQ},
  {"two different content-lengths", GET "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", API_EBADREQ},
  {"content-length list", GET "Content-Length: 5, 5\r\n\r\n", API_EBADREQ},
  {"content-length plus", GET "Content-Length: +5\r\n\r\n", API_EBADREQ},
  {"content-length minus", GET "Content-Length: -1\r\n\r\n", API_EBADREQ},
  {"content-length hex", GET "Content-Length: 0x5\r\n\r\n", API_EBADREQ},
  {"content-length inner space", GET "Content-Length: 5 5\r\n\r\n", API_EBADREQ},
  {"content-length empty", GET "Content-Length:\r\n\r\n", API_EBADREQ},
  {"content-length overflow", GET "Content-Length: 99999999999999999999\r\n\r\n", API_EBADREQ},
  {"chunked", GET "Transfer-Encoding: chunked\r\n\r\n", OK},
  {"chunked any case", GET "Transfer-Encoding: ChUnKeD\r\n\r\n", OK},
  {"chunked after a tab", GET "Transfer-Encoding:\tchunked\r\n\r\n", OK},
  {"CL.TE", GET "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", API_EBADREQ},
  {"TE.CL", GET "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", API_EBADREQ},
  {"chunked not last", GET "Transfer-Encoding: chunked, gzip\r\n\r\n", API_EBADREQ},
  {"chunked not last over two fields", GET "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", API_EBADREQ},
  {"chunked twice", GET "Transfer-Encoding: chunked, chunked\r\n\r\n", API_EBADREQ},
  {"xchunked", GET "Transfer-Encoding: xchunked\r\n\r\n", API_EBADREQ},
  {"te without chunked", GET "Transfer-Encoding: gzip\r\n\r\n", API_EBADREQ},
  {"gzip then chunked", GET "Transfer-Encoding: gzip, chunked\r\n\r\n", API_ENOTIMPL},
  {"unknown coding then chunked", GET "Transfer-Encoding: foo, chunked\r\n\r\n", API_ENOTIMPL},
  {"te with empty elements", GET "Transfer-Encoding: , chunked\r\n\r\n", OK},
  {"te on http/1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", API_EBADREQ},
  {"te with a quote", GET "Transfer-Encoding: \"chunked\"\r\n\r\n", API_EBADREQ},
  {"eight headers", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\n\r\n", OK},
  {"nine headers", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n\r\n", API_EHDRTOOLARGE},
};
/* clang-format on */

static int parse(const char *raw, size_t len, api__head *h, api__header *hdrs, api__parser *p) {
  char *buf = malloc(len + 1);
  memcpy(buf, raw, len);
  api__parser_reset(p);
  int rc = api__parse_head(p, buf, len, hdrs, &lim, h);
  free(buf); /* h points into buf: only the return value is used after this */
  return rc;
}

/* Feed one byte more at a time; the first non-zero answer is the result. */
static int parse_bytewise(const char *raw, size_t len) {
  char *buf = malloc(len + 1);
  memcpy(buf, raw, len);
  api__parser p;
  api__header hdrs[8];
  api__head h;
  api__parser_reset(&p);
  int rc = 0;
  for (size_t n = 1; n <= len && rc == 0; n++) rc = api__parse_head(&p, buf, n, hdrs, &lim, &h);
  free(buf);
  return rc;
}

Test(parser, table) {
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const pcase *c = &cases[i];
    api__parser p;
    api__header hdrs[8];
    api__head h;
    size_t len = strlen(c->raw);
    int rc = parse(c->raw, len, &h, hdrs, &p);
    int got = rc > 0 ? OK : rc;
    cr_expect_eq(got, c->want, "%s: got %d (%s), want %d", c->name, rc, p.reason ? p.reason : "",
                 c->want);
    if (c->want == OK) cr_expect_eq((size_t)rc, len, "%s: head length", c->name);
    int bw = parse_bytewise(c->raw, len);
    cr_expect_eq(bw > 0 ? OK : bw, c->want, "%s: byte by byte got %d", c->name, bw);
  }
}

Test(parser, fields_are_parsed_and_terminated_in_place) {
  char raw[] =
      "POST /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Trim:   padded value \t\r\n"
      "Content-Length: 12\r\nConnection: keep-alive, Upgrade\r\nExpect: 100-Continue\r\n\r\nBODY";
  api__parser p;
  api__header hdrs[8];
  api__head h;
  api__parser_reset(&p);
  int rc = api__parse_head(&p, raw, sizeof(raw) - 1, hdrs, &lim, &h);
  cr_assert_eq(rc, (int)(sizeof(raw) - 1 - 4));
  cr_assert_str_eq(h.method, "POST");
  cr_assert_str_eq(h.path, "/a/b%20c");
  cr_assert_eq(h.path_len, 8);
  cr_assert_str_eq(h.query, "x=1&y=2");
  cr_assert_eq(h.query_len, 7);
  cr_assert_eq(h.target_len, 16);
  cr_assert_eq(h.minor, 1);
  cr_assert_eq(h.nheaders, 5);
  cr_assert_str_eq(hdrs[0].name, "Host");
  cr_assert_str_eq(hdrs[0].value, "example.com");
  cr_assert_str_eq(hdrs[1].value, "padded value");
  cr_assert_eq(hdrs[1].value_len, 12);
  cr_assert_eq(h.content_length, 12);
  cr_assert(h.keep_alive);
  cr_assert(h.expect_continue);
  cr_assert_not(h.chunked);
  cr_assert_str_eq(raw + rc, "BODY", "bytes after the head are untouched");
}

Test(parser, keep_alive_rules) {
  struct {
    const char *raw;
    bool keep;
  } k[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
  };
  for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
    char buf[256];
    strcpy(buf, k[i].raw);
    api__parser p;
    api__header hdrs[8];
    api__head h;
    api__parser_reset(&p);
    cr_assert_gt(api__parse_head(&p, buf, strlen(buf), hdrs, &lim, &h), 0);
    cr_expect_eq(h.keep_alive, k[i].keep, "case %zu", i);
  }
}

Test(parser, absolute_form_path_and_query) {
  char a[] = "GET http://h/p/q?z=1 HTTP/1.1\r\nHost: h\r\n\r\n";
  char b[] = "GET https://h?z=1 HTTP/1.1\r\nHost: h\r\n\r\n";
  char c[] = "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n";
  api__parser p;
  api__header hdrs[8];
  api__head h;
  api__parser_reset(&p);
  cr_assert_gt(api__parse_head(&p, a, strlen(a), hdrs, &lim, &h), 0);
  cr_assert_str_eq(h.path, "/p/q");
  cr_assert_str_eq(h.query, "z=1");
  api__parser_reset(&p);
  cr_assert_gt(api__parse_head(&p, b, strlen(b), hdrs, &lim, &h), 0);
  cr_assert_str_eq(h.path, "/");
  cr_assert_str_eq(h.query, "z=1");
  api__parser_reset(&p);
  cr_assert_gt(api__parse_head(&p, c, strlen(c), hdrs, &lim, &h), 0);
  cr_assert_str_eq(h.path, "/");
  cr_assert_str_eq(h.query, "");
}

static int parse_str(const char *s) {
  api__parser p;
  api__header hdrs[8];
  api__head h;
  return parse(s, strlen(s), &h, hdrs, &p);
}

static char *repeat(char ch, size_t n) {
  char *s = malloc(n + 1);
  memset(s, ch, n);
  s[n] = '\0';
  return s;
}

Test(parser, uri_limit_at_the_boundary) {
  char *t = repeat('a', 63), req[512];
  snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", t); /* 64 bytes: the limit */
  cr_assert_gt(parse_str(req), 0);
  snprintf(req, sizeof(req), "GET /%sa HTTP/1.1\r\nHost: x\r\n\r\n", t);
  cr_assert_eq(parse_str(req), API_EURITOOLONG);
  free(t);
}

Test(parser, uri_limit_detected_before_the_line_ends) {
  char *t = repeat('a', 200), req[512];
  snprintf(req, sizeof(req), "GET /%s", t);
  cr_assert_eq(parse_str(req), API_EURITOOLONG);
  free(t);
}

Test(parser, header_section_limit_at_the_boundary) {
  /* field section = "Host: x\r\n" (9) + "X: <v>\r\n" (5 + n) + "\r\n" (2) = 256 */
  char *v = repeat('v', 240), req[512];
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n", v);
  cr_assert_gt(parse_str(req), 0);
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %sv\r\n\r\n", v);
  cr_assert_eq(parse_str(req), API_EHDRTOOLARGE);
  free(v);
}

Test(parser, header_section_limit_detected_before_the_head_ends) {
  char *v = repeat('v', 400), req[512];
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX: %s", v);
  cr_assert_eq(parse_str(req), API_EHDRTOOLARGE);
  free(v);
}

Test(parser, pipelined_requests_are_left_untouched) {
  char raw[] = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
  api__parser p;
  api__header hdrs[8];
  api__head h;
  api__parser_reset(&p);
  int n = api__parse_head(&p, raw, sizeof(raw) - 1, hdrs, &lim, &h);
  cr_assert_eq(n, 28);
  cr_assert_str_eq(h.path, "/1");
  api__parser_reset(&p);
  cr_assert_eq(api__parse_head(&p, raw + n, sizeof(raw) - 1 - (size_t)n, hdrs, &lim, &h), 28);
  cr_assert_str_eq(h.path, "/2");
}

Test(parser, nul_bytes_are_rejected) {
  const char a[] = "GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n";
  const char b[] = "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n";
  const char c[] = "GET / HTTP/1.1\r\nHost: x\r\nX\0: b\r\n\r\n";
  const char *all[] = {a, b, c};
  size_t lens[] = {sizeof(a) - 1, sizeof(b) - 1, sizeof(c) - 1};
  for (int i = 0; i < 3; i++) {
    api__parser p;
    api__header hdrs[8];
    api__head h;
    cr_expect_eq(parse(all[i], lens[i], &h, hdrs, &p), API_EBADREQ, "case %d", i);
    cr_expect_eq(parse_bytewise(all[i], lens[i]), API_EBADREQ, "case %d byte by byte", i);
  }
}

/* ---- chunked ---- */

/* Decode all of in, split into pieces of `step` bytes; returns the status and the body. */
static int dechunk(const char *in, size_t len, size_t step, char *body, size_t *blen,
                   size_t *used) {
  api__chunked c;
  api__chunked_reset(&c);
  c.max_trailer_bytes = 64;
  *blen = 0;
  size_t off = 0;
  while (off < len) {
    size_t end = off + step < len ? off + step : len;
    while (off < end) {
      size_t consumed = 0, dlen = 0;
      const char *data;
      int rc = api__chunked_decode(&c, in + off, end - off, &consumed, &data, &dlen);
      cr_assert_leq(consumed, end - off);
      off += consumed;
      if (rc < 0) return rc;
      if (rc == API__CHUNK_DATA) {
        cr_assert(data >= in && data + dlen <= in + len);
        memcpy(body + *blen, data, dlen);
        *blen += dlen;
      }
      if (rc == API__CHUNK_DONE) {
        *used = off;
        return rc;
      }
      if (rc == API__CHUNK_MORE) cr_assert_eq(off, end, "MORE consumes everything");
    }
  }
  return API__CHUNK_MORE;
}

typedef struct ccase {
  const char *name;
  const char *in;
  int want;
  const char *body;
} ccase;

/* clang-format off */
static const ccase chunked_cases[] = {
  {"simple", "5\r\nhello\r\n0\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", API__CHUNK_DONE, "hello world"},
  {"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", API__CHUNK_DONE, "0123456789"},
  {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"extension", "5;name=value\r\nhello\r\n0\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"extension without value", "5;name\r\nhello\r\n0\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"extensions with whitespace", "5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"quoted extension", "5;a=\"b \\\"c\\\" d\"\r\nhello\r\n0\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"extension on the last chunk", "5\r\nhello\r\n0;x=1\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"trailers", "5\r\nhello\r\n0\r\nA: b\r\nC:\r\n\r\n", API__CHUNK_DONE, "hello"},
  {"incomplete", "5\r\nhel", API__CHUNK_MORE, "hel"},
  {"no size", "\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"bad size", "zz\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"negative size", "-5\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"size with 0x", "0x5\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"huge size", "ffffffffffffffffff\r\n", API_EBADREQ, ""},
  {"space after size", "5 \r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"space before size", " 5\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"extension without name", "5;\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"extension with bad name", "5;a@b\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"extension without value after =", "5;a=\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"extension unterminated quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"bare LF after size", "5\nhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"bare CR after size", "5\rhello\r\n0\r\n\r\n", API_EBADREQ, ""},
  {"data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", API_EBADREQ, "hello"},
  {"data not followed by CRLF", "5\r\nhello\n0\r\n\r\n", API_EBADREQ, "hello"},
  {"bare LF ends the body", "5\r\nhello\r\n0\r\n\n", API_EBADREQ, "hello"},
  {"trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", API_EBADREQ, ""},
  {"trailer without colon", "0\r\nA b\r\n\r\n", API_EBADREQ, ""},
  {"trailer space before colon", "0\r\nA : b\r\n\r\n", API_EBADREQ, ""},
  {"trailer control char", "0\r\nA: \x01\r\n\r\n", API_EBADREQ, ""},
  {"trailer section too large", "0\r\nA: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n\r\n", API_EBADREQ, ""},
};
/* clang-format on */

Test(chunked, table_at_every_split) {
  for (size_t i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]); i++) {
    const ccase *c = &chunked_cases[i];
    size_t len = strlen(c->in);
    for (size_t step = 1; step <= len; step++) {
      char body[256];
      size_t blen = 0, used = 0;
      int rc = dechunk(c->in, len, step, body, &blen, &used);
      cr_expect_eq(rc, c->want, "%s (pieces of %zu): got %d, want %d", c->name, step, rc, c->want);
      if (rc == API__CHUNK_DONE) cr_expect_eq(used, len, "%s: consumed all", c->name);
      if (rc >= 0) {
        body[blen] = '\0';
        cr_expect_str_eq(body, c->body, "%s (pieces of %zu)", c->name, step);
      }
    }
  }
}

Test(chunked, the_next_request_is_left_alone) {
  const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  char body[16];
  size_t blen, used;
  cr_assert_eq(dechunk(in, sizeof(in) - 1, sizeof(in) - 1, body, &blen, &used), API__CHUNK_DONE);
  cr_assert_eq(used, 13);
}

Test(chunked, size_line_is_bounded) {
  size_t n = 5000;
  char *in = malloc(n + 8);
  strcpy(in, "5;a=");
  memset(in + 4, 'x', n);
  strcpy(in + 4 + n, "\r\n");
  char body[16];
  size_t blen, used;
  cr_assert_eq(dechunk(in, strlen(in), 1000, body, &blen, &used), API_EBADREQ);
  free(in);
}

Test(chunked, large_chunk_sizes_are_accepted_up_to_sixty_bits) {
  api__chunked c;
  api__chunked_reset(&c);
  const char in[] = "fffffffffffffff\r\nab";
  size_t used, dlen;
  const char *data;
  cr_assert_eq(api__chunked_decode(&c, in, sizeof(in) - 1, &used, &data, &dlen), API__CHUNK_DATA);
  cr_assert_eq(dlen, 2);
  cr_assert_eq(c.remaining, 0xfffffffffffffffull - 2);
}
