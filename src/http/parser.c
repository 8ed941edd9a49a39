/*
 * HTTP/1.1 request head parser and chunked decoder (RFC 9112), strict by design: anything that
 * could be read two ways by two servers (the root of request smuggling) is rejected.
 *
 * The head is found incrementally (only new bytes are scanned for line ends), then parsed in one
 * pass once the blank line is there; limits are checked on every call so an oversized head fails
 * as soon as it is too big.
 */
#include <string.h>
#include <strings.h>

#include "http/chars.h"
#include "http/parser.h"
#include "libapi/common.h"

enum { METHOD_MAX = 32 };

void api__parser_reset(api__parser *p) { memset(p, 0, sizeof(*p)); }

static int bad(api__parser *p, int err, const char *reason) {
  p->reason = reason;
  return err;
}

static bool ieq(const char *a, size_t n, const char *lit) {
  return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

/* Trim OWS from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

typedef struct framing {
  int hosts;
  int cls;
  bool te;
  bool chunked_last;
  int chunked_count;
  bool te_other;
  bool close;
  bool keep_alive;
} framing;

/* The next non-empty element of a comma-separated list, trimmed; false at the end. */
static bool next_element(const char **it, const char *end, const char **el, size_t *elen) {
  while (*it < end) {
    const char *comma = memchr(*it, ',', (size_t)(end - *it));
    *el = *it;
    *elen = (size_t)((comma ? comma : end) - *it);
    *it = comma ? comma + 1 : end;
    trim(el, elen);
    if (*elen) return true;
  }
  return false;
}

static int field(api__parser *p, framing *f, const char *name, size_t nlen, const char *value,
                 size_t vlen, api__head *out) {
  const char *el, *it = value, *end = value + vlen;
  size_t elen;
  switch (nlen) {
    case 4:
      if (ieq(name, nlen, "host") && ++f->hosts > 1) return bad(p, API_EBADREQ, "duplicate host");
      break;
    case 6:
      if (ieq(name, nlen, "expect") && ieq(value, vlen, "100-continue"))
        out->expect_continue = true;
      break;
    case 10:
      if (ieq(name, nlen, "connection")) {
        while (next_element(&it, end, &el, &elen)) {
          if (ieq(el, elen, "close")) f->close = true;
          if (ieq(el, elen, "keep-alive")) f->keep_alive = true;
        }
      }
      break;
    case 14:
      if (ieq(name, nlen, "content-length")) {
        if (++f->cls > 1) return bad(p, API_EBADREQ, "more than one content-length");
        if (vlen == 0 || vlen > 18) return bad(p, API_EBADREQ, "invalid content-length");
        int64_t v = 0;
        for (size_t i = 0; i < vlen; i++) {
          if (value[i] < '0' || value[i] > '9')
            return bad(p, API_EBADREQ, "invalid content-length");
          v = v * 10 + (value[i] - '0');
        }
        out->content_length = v;
      }
      break;
    case 17:
      if (ieq(name, nlen, "transfer-encoding")) {
        f->te = true;
        while (next_element(&it, end, &el, &elen)) {
          if (ieq(el, elen, "chunked")) {
            if (++f->chunked_count > 1) return bad(p, API_EBADREQ, "chunked applied twice");
            f->chunked_last = true;
          } else {
            if (f->chunked_count) return bad(p, API_EBADREQ, "chunked not last");
            /* A coding is a token, optionally with parameters. */
            size_t t = 0;
            while (t < elen && api__is_tchar((unsigned char)el[t])) t++;
            if (t == 0) return bad(p, API_EBADREQ, "invalid transfer-encoding");
            f->te_other = true;
            f->chunked_last = false;
          }
        }
      }
      break;
  }
  return 0;
}

/* Parse the request line [s, e) (without its CRLF). */
static int request_line(api__parser *p, char *s, char *e, const api__limits *lim, api__head *out) {
  char *m = s;
  while (m < e && api__is_tchar((unsigned char)*m)) m++;
  if (m == s || m == e || *m != ' ') return bad(p, API_EBADREQ, "malformed request line");
  if (m - s > METHOD_MAX) return bad(p, API_EBADREQ, "method too long");
  out->method = s;
  out->method_len = (uint32_t)(m - s);
  char *t = m + 1, *te = t;
  while (te < e && (api__chars[(unsigned char)*te] & API__C_TARGET)) te++;
  if (te - t > (ptrdiff_t)lim->max_uri) return bad(p, API_EURITOOLONG, "request target too long");
  if (te == t || te == e || *te != ' ') return bad(p, API_EBADREQ, "malformed request target");
  char *v = te + 1;
  if (e - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9')
    return bad(p, API_EBADREQ, "malformed HTTP version");
  if (v[5] != '1')
    return bad(p, v[5] >= '2' ? API_EVERSION : API_EBADREQ, "unsupported HTTP version");
  if (v[7] != '0' && v[7] != '1') return bad(p, API_EBADREQ, "unsupported HTTP version");
  out->minor = v[7] - '0';
  out->target = t;
  out->target_len = (uint32_t)(te - t);
  *m = '\0';
  *te = '\0';

  char *path = t;
  if (*t == '*') {
    if (te - t != 1 || out->method_len != 7 || memcmp(s, "OPTIONS", 7) != 0)
      return bad(p, API_EBADREQ, "malformed request target");
  } else if (*t != '/') {
    /* absolute-form; authority-form (CONNECT) is not served */
    size_t n = (size_t)(te - t);
    size_t skip = n > 7 && strncasecmp(t, "http://", 7) == 0    ? 7
                  : n > 8 && strncasecmp(t, "https://", 8) == 0 ? 8
                                                                : 0;
    if (!skip)
      return bad(p,
                 out->method_len == 7 && memcmp(s, "CONNECT", 7) == 0 ? API_ENOTIMPL : API_EBADREQ,
                 "unsupported request target form");
    path = memchr(t + skip, '/', n - skip);
    char *q = memchr(t + skip, '?', n - skip);
    if (!path || (q && q < path)) {
      out->path = "/";
      out->path_len = 1;
      out->query = q ? q + 1 : "";
      out->query_len = q ? (uint32_t)(te - q - 1) : 0;
      if (q) *q = '\0';
      return 0;
    }
  }
  char *q = memchr(path, '?', (size_t)(te - path));
  out->path = path;
  out->path_len = (uint32_t)((q ? q : te) - path);
  out->query = q ? q + 1 : "";
  out->query_len = q ? (uint32_t)(te - q - 1) : 0;
  if (q) *q = '\0';
  return 0;
}

/* Parse the complete head: request line, then field lines, then framing rules. */
static int parse_all(api__parser *p, char *buf, size_t head_len, api__header *hdrs,
                     const api__limits *lim, api__head *out) {
  memset(out, 0, sizeof(*out));
  out->content_length = -1;
  out->headers = hdrs;
  char *line = buf + p->start;
  char *eol = buf + p->reqline_end - 2;
  int rc = request_line(p, line, eol, lim, out);
  if (rc) return rc;
  framing f = {0};
  char *end = buf + head_len - 2; /* the blank line's CR */
  for (line = eol + 2; line < end; line = eol + 2) {
    eol = memchr(line, '\r', (size_t)(end - line) + 1);
    if (!eol || eol[1] != '\n') return bad(p, API_EBADREQ, "bare CR");
    if (*line == ' ' || *line == '\t') return bad(p, API_EBADREQ, "obs-fold");
    char *n = line;
    while (n < eol && api__is_tchar((unsigned char)*n)) n++;
    if (n == eol || *n != ':') {
      if (n < eol && (*n == ' ' || *n == '\t'))
        return bad(p, API_EBADREQ, "whitespace before colon");
      return bad(p, API_EBADREQ, "invalid character in header name");
    }
    if (n == line) return bad(p, API_EBADREQ, "empty header name");
    const char *v = n + 1;
    for (const char *c = v; c < eol; c++)
      if (!api__is_vchar((unsigned char)*c))
        return bad(p, API_EBADREQ, "invalid character in header value");
    size_t vlen = (size_t)(eol - v);
    trim(&v, &vlen);
    if (out->nheaders >= lim->max_headers)
      return bad(p, API_EHDRTOOLARGE, "too many header fields");
    *n = '\0';
    ((char *)v)[vlen] = '\0'; /* overwrites trailing OWS or the CR */
    hdrs[out->nheaders++] = (api__header){
        .name = line, .value = v, .name_len = (uint32_t)(n - line), .value_len = (uint32_t)vlen};
    rc = field(p, &f, line, (size_t)(n - line), v, vlen, out);
    if (rc) return rc;
  }
  if (f.te) {
    if (out->minor == 0) return bad(p, API_EBADREQ, "transfer-encoding in HTTP/1.0");
    if (f.cls) return bad(p, API_EBADREQ, "content-length with transfer-encoding");
    if (!f.chunked_last) return bad(p, API_EBADREQ, "chunked not last");
    if (f.te_other) return bad(p, API_ENOTIMPL, "unsupported transfer coding");
    out->chunked = true;
  }
  if (out->minor == 1 && f.hosts == 0) return bad(p, API_EBADREQ, "missing host");
  out->keep_alive = !f.close && (out->minor == 1 || f.keep_alive);
  out->head_len = (uint32_t)head_len;
  return (int)head_len;
}

int api__parse_head(api__parser *p, char *buf, size_t len, api__header *hdrs,
                    const api__limits *lim, api__head *out) {
  size_t i = p->scanned;
  while (i < len) {
    const char *lf = memchr(buf + i, '\n', len - i);
    if (!lf) {
      i = len;
      break;
    }
    size_t at = (size_t)(lf - buf);
    i = at + 1;
    if (at == p->line_start || buf[at - 1] != '\r') return bad(p, API_EBADREQ, "bare LF");
    size_t line_len = at - 1 - p->line_start;
    if (p->reqline_end == 0) {
      if (line_len == 0) {
        /* RFC 9112 2.2: one empty line before the request line may be ignored */
        if (p->start != 0 || p->line_start != 0)
          return bad(p, API_EBADREQ, "empty lines before request");
        p->start = p->line_start = (uint32_t)i;
        continue;
      }
      p->reqline_end = (uint32_t)i;
    } else if (line_len == 0) {
      p->scanned = i;
      if (i - p->reqline_end > lim->max_header_bytes)
        return bad(p, API_EHDRTOOLARGE, "header section too large");
      return parse_all(p, buf, i, hdrs, lim, out);
    } else if (++p->lines > lim->max_headers) {
      return bad(p, API_EHDRTOOLARGE, "too many header fields");
    }
    p->line_start = (uint32_t)i;
    if (i - p->reqline_end > lim->max_header_bytes)
      return bad(p, API_EHDRTOOLARGE, "header section too large");
  }
  p->scanned = i;
  if (p->reqline_end == 0) {
    if (len - p->start > (size_t)lim->max_uri + METHOD_MAX + 12)
      return bad(p, API_EURITOOLONG, "request line too long");
  } else if (len - p->reqline_end > lim->max_header_bytes) {
    return bad(p, API_EHDRTOOLARGE, "header section too large");
  }
  return 0;
}

/* ---- chunked bodies ---- */

enum {
  C_SIZE_FIRST, /* first hex digit */
  C_SIZE,       /* more hex digits */
  C_EXT_BWS,    /* whitespace before ';' or CR */
  C_EXT_NAME0,  /* after ';': BWS, then the name's first char */
  C_EXT_NAME,
  C_EXT_AFTER_NAME, /* BWS after a name: '=', ';' or CR */
  C_EXT_VAL0,       /* after '=': BWS, then token or quoted-string */
  C_EXT_TOKEN,
  C_EXT_QUOTED,
  C_EXT_QPAIR,
  C_EXT_AFTER_VAL, /* BWS after a value: ';' or CR */
  C_SIZE_LF,
  C_DATA,
  C_DATA_CR,
  C_DATA_LF,
  C_TR_START, /* start of a trailer line, or the final CRLF */
  C_TR_NAME,
  C_TR_VALUE,
  C_TR_LF,
  C_FINAL_LF,
  C_DONE,
};

enum { LINE_MAX = 4096 };

void api__chunked_reset(api__chunked *c) { memset(c, 0, sizeof(*c)); }

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static int cbad(api__chunked *c, const char *reason) {
  c->reason = reason;
  return API_EBADREQ;
}

int api__chunked_decode(api__chunked *c, const char *in, size_t len, size_t *consumed,
                        const char **data, size_t *data_len) {
  uint32_t max_trailer = c->max_trailer_bytes ? c->max_trailer_bytes : 16384;
  size_t i = 0;
  *data = NULL;
  *data_len = 0;
  while (i < len) {
    unsigned char ch = (unsigned char)in[i];
    if (c->state == C_DATA) {
      size_t n = len - i < c->remaining ? len - i : (size_t)c->remaining;
      *data = in + i;
      *data_len = n;
      c->remaining -= n;
      if (!c->remaining) c->state = C_DATA_CR;
      *consumed = i + n;
      return API__CHUNK_DATA;
    }
    i++;
    if (c->state < C_SIZE_LF && ++c->line_bytes > LINE_MAX)
      return cbad(c, "chunk size line too long");
    if (c->state >= C_TR_START && c->state <= C_FINAL_LF && ++c->trailer_bytes > max_trailer)
      return cbad(c, "trailer section too large");
    bool ws = ch == ' ' || ch == '\t';
    switch (c->state) {
      case C_SIZE_FIRST:
      case C_SIZE: {
        int h = hexval(ch);
        if (h >= 0) {
          if (c->remaining >> 60) return cbad(c, "chunk size too large");
          c->remaining = c->remaining * 16 + (uint64_t)h;
          c->state = C_SIZE;
          break;
        }
        if (c->state == C_SIZE_FIRST) return cbad(c, "bad chunk size");
      }
        /* fallthrough */
      case C_EXT_BWS:
        if (ws)
          c->state = C_EXT_BWS;
        else if (ch == ';')
          c->state = C_EXT_NAME0;
        else if (ch == '\r' && c->state != C_EXT_BWS)
          c->state = C_SIZE_LF;
        else
          return cbad(c, ch == '\r' ? "whitespace before chunk line end" : "bad chunk size");
        break;
      case C_EXT_NAME0:
        if (ws) break;
        if (!api__is_tchar(ch)) return cbad(c, "bad chunk extension");
        c->state = C_EXT_NAME;
        break;
      case C_EXT_NAME:
      case C_EXT_AFTER_NAME:
        if (c->state == C_EXT_NAME && api__is_tchar(ch)) break;
        if (ws)
          c->state = C_EXT_AFTER_NAME;
        else if (ch == '=')
          c->state = C_EXT_VAL0;
        else if (ch == ';')
          c->state = C_EXT_NAME0;
        else if (ch == '\r')
          c->state = C_SIZE_LF;
        else
          return cbad(c, "bad chunk extension");
        break;
      case C_EXT_VAL0:
        if (ws) break;
        if (ch == '"')
          c->state = C_EXT_QUOTED;
        else if (api__is_tchar(ch))
          c->state = C_EXT_TOKEN;
        else
          return cbad(c, "bad chunk extension");
        break;
      case C_EXT_TOKEN:
        if (api__is_tchar(ch)) break;
        /* fallthrough */
      case C_EXT_AFTER_VAL:
        if (ws)
          c->state = C_EXT_AFTER_VAL;
        else if (ch == ';')
          c->state = C_EXT_NAME0;
        else if (ch == '\r')
          c->state = C_SIZE_LF;
        else
          return cbad(c, "bad chunk extension");
        break;
      case C_EXT_QUOTED:
        if (ch == '"')
          c->state = C_EXT_AFTER_VAL;
        else if (ch == '\\')
          c->state = C_EXT_QPAIR;
        else if (!api__is_vchar(ch))
          return cbad(c, "bad chunk extension");
        break;
      case C_EXT_QPAIR:
        if (!api__is_vchar(ch)) return cbad(c, "bad chunk extension");
        c->state = C_EXT_QUOTED;
        break;
      case C_SIZE_LF:
        if (ch != '\n') return cbad(c, "bare CR in chunk size line");
        c->line_bytes = 0;
        c->state = c->remaining ? C_DATA : C_TR_START;
        break;
      case C_DATA_CR:
        if (ch != '\r') return cbad(c, "bad chunk terminator");
        c->state = C_DATA_LF;
        break;
      case C_DATA_LF:
        if (ch != '\n') return cbad(c, "bad chunk terminator");
        c->state = C_SIZE_FIRST;
        break;
      case C_TR_START:
        if (ch == '\r')
          c->state = C_FINAL_LF;
        else if (api__is_tchar(ch))
          c->state = C_TR_NAME;
        else
          return cbad(c, "bad trailer field");
        break;
      case C_TR_NAME:
        if (ch == ':')
          c->state = C_TR_VALUE;
        else if (!api__is_tchar(ch))
          return cbad(c, "bad trailer field");
        break;
      case C_TR_VALUE:
        if (ch == '\r')
          c->state = C_TR_LF;
        else if (!api__is_vchar(ch))
          return cbad(c, "bad trailer field");
        break;
      case C_TR_LF:
        if (ch != '\n') return cbad(c, "bad trailer field");
        c->state = C_TR_START;
        break;
      case C_FINAL_LF:
        if (ch != '\n') return cbad(c, "bad chunked body end");
        c->state = C_DONE;
        *consumed = i;
        return API__CHUNK_DONE;
      default:
        return cbad(c, "chunked body already complete");
    }
  }
  *consumed = i;
  return API__CHUNK_MORE;
}
