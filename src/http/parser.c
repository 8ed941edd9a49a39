/*
 * HTTP/1.1 request head parser and chunked decoder (RFC 9112), strict by design: anything that
 * could be read two ways by two servers (the root of request smuggling) is rejected.
 *
 * The head is parsed in two passes. The first runs on every call, over the new bytes only: it
 * checks the request line byte by byte, and in the field section that every byte may appear in a
 * field line, that lines end in CRLF, and the line and byte limits. Each of its checks fires at the
 * first byte that breaks it, so the answer (error code and reason) does not depend on how the bytes
 * were split across calls. The second pass runs once, when the blank line is there: it splits the
 * field lines (whose bytes are known to be valid by then) into names and values, NUL-terminates
 * them in place and applies the framing rules. Nothing is written to the buffer before that, so an
 * incomplete head can be re-read after the buffer moved.
 */
#include <string.h>

#include "http/chars.h"
#include "http/parser.h"
#include "libapi/common.h"

/* Longer methods get 400: nothing registers them, and they bound the request line. */
enum { METHOD_MAX = 32 };
enum { PART_METHOD, PART_TARGET, PART_VERSION };

void api__parser_reset(api__parser *p) { memset(p, 0, sizeof(*p)); }

static int bad(api__parser *p, int err, const char *reason) {
  p->reason = reason;
  return err;
}

static inline bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* Case-insensitive comparison with a lower-case literal; only ASCII letters are folded. */
static bool ieq_(const char *s, size_t n, const char *lit, size_t litlen) {
  if (n != litlen) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 'A' && c <= 'Z') c |= 0x20;
    if (c != (unsigned char)lit[i]) return false;
  }
  return true;
}
#define IEQ(s, n, lit) ieq_((s), (n), (lit), sizeof(lit) - 1)

/* ---- pass 1: the request line ---- */

static bool version_byte(size_t k, unsigned char c) {
  if (k < 5) return c == (unsigned char)"HTTP/"[k];
  if (k == 6) return c == '.';
  return k < 8 && c >= '0' && c <= '9';
}

/* The CRLF of a request line (or of the one empty line allowed before it) is at i. */
static int request_line_end(api__parser *p, const char *buf, size_t i) {
  if (p->part == PART_METHOD && i == p->start) {
    /* RFC 9112 2.2: one empty line before the request line may be ignored */
    if (p->start != 0) return bad(p, API_EBADREQ, "empty lines before request");
    p->start = p->line_start = p->mark = 2;
    return 0;
  }
  if (p->part != PART_VERSION) return bad(p, API_EBADREQ, "malformed request line");
  if (i - p->mark != 8) return bad(p, API_EBADREQ, "malformed HTTP version");
  const char *v = buf + p->mark;
  if (v[5] != '1')
    return bad(p, v[5] >= '2' ? API_EVERSION : API_EBADREQ, "unsupported HTTP version");
  if (v[7] != '0' && v[7] != '1') return bad(p, API_EBADREQ, "unsupported HTTP version");
  p->reqline_end = p->line_start = (uint32_t)(i + 2);
  return 0;
}

/* Returns 1 when the request line is complete (*pos after its LF), 0 for more, or an error. */
static int scan_request_line(api__parser *p, const char *buf, size_t len, const api__limits *lim,
                             size_t *pos) {
  size_t i = *pos;
  while (i < len) {
    /* Each part runs up to its own bound (one byte past its limit), so the limit fires at the
     * first byte that breaks it, whatever the split. */
    size_t stop;
    unsigned char c;
    switch (p->part) {
      case PART_METHOD:
        stop = p->start + METHOD_MAX;
        while (i < len && i < stop && api__is_tchar((unsigned char)buf[i])) i++;
        if (i == len) goto more;
        c = (unsigned char)buf[i];
        if (api__is_tchar(c)) return bad(p, API_EBADREQ, "method too long");
        if (c == ' ' && i > p->start) {
          p->part = PART_TARGET;
          p->mark = (uint32_t)++i;
          continue;
        }
        break;
      case PART_TARGET:
        stop = (size_t)p->mark + lim->max_uri;
        while (i < len && i < stop && (api__chars[(unsigned char)buf[i]] & API__C_TARGET)) i++;
        if (i == len) goto more;
        c = (unsigned char)buf[i];
        if (api__chars[c] & API__C_TARGET)
          return bad(p, API_EURITOOLONG, "request target too long");
        if (c == ' ' && i > p->mark) {
          p->part = PART_VERSION;
          p->mark = (uint32_t)++i;
          continue;
        }
        break;
      default:
        while (i < len && version_byte(i - p->mark, (unsigned char)buf[i])) i++;
        if (i == len) goto more;
        c = (unsigned char)buf[i];
    }
    if (c == '\r') {
      if (i + 1 == len) break; /* is it CRLF? the next call will tell */
      if (buf[i + 1] != '\n') return bad(p, API_EBADREQ, "bare CR");
      int rc = request_line_end(p, buf, i);
      if (rc) return rc;
      i += 2;
      if (p->reqline_end) {
        *pos = i;
        return 1;
      }
      continue;
    }
    if (c == '\n') return bad(p, API_EBADREQ, "bare LF");
    if (c == ' ') return bad(p, API_EBADREQ, "malformed request line");
    return bad(p, API_EBADREQ,
               p->part == PART_METHOD   ? "invalid character in method"
               : p->part == PART_TARGET ? "invalid character in request target"
                                        : "malformed HTTP version");
  }
more:
  *pos = i;
  return 0;
}

/* ---- pass 1: the field section ---- */

/* Returns 1 when the blank line is found (*pos after it), 0 for more, or an error. */
static int scan_fields(api__parser *p, const char *buf, size_t len, const api__limits *lim,
                       size_t *pos) {
  size_t i = *pos, ls = p->line_start;
  size_t limit = (size_t)p->reqline_end + lim->max_header_bytes; /* first byte beyond it */
  size_t end = len < limit ? len : limit;
  while (i < end) {
    if (i == ls) {
      unsigned char c = (unsigned char)buf[i];
      if (is_ows(c)) return bad(p, API_EBADREQ, "obs-fold");
      if (api__is_vchar(c) && ++p->lines > lim->max_headers)
        return bad(p, API_EHDRTOOLARGE, "too many header fields");
    }
    const unsigned char *u = (const unsigned char *)buf;
    while (end - i >= 4 && (api__chars[u[i]] & api__chars[u[i + 1]] & api__chars[u[i + 2]] &
                            api__chars[u[i + 3]] & API__C_VCHAR))
      i += 4;
    while (i < end && api__is_vchar(u[i])) i++;
    if (i == end) break;
    if (buf[i] == '\n') return bad(p, API_EBADREQ, "bare LF");
    if (buf[i] != '\r')
      return bad(p, API_EBADREQ,
                 memchr(buf + ls, ':', i - ls) ? "invalid character in header value"
                                               : "invalid character in header name");
    if (i + 1 == len) break; /* is it CRLF? the next call will tell */
    if (i + 1 == limit) return bad(p, API_EHDRTOOLARGE, "header section too large");
    if (buf[i + 1] != '\n') return bad(p, API_EBADREQ, "bare CR");
    i += 2;
    if (i - 2 == ls) {
      *pos = i;
      return 1;
    }
    ls = i;
  }
  p->line_start = (uint32_t)ls;
  *pos = i;
  if (i == limit && len > limit) return bad(p, API_EHDRTOOLARGE, "header section too large");
  return 0;
}

/* ---- pass 2: the complete head ---- */

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

/* The next element of a comma-separated list, OWS trimmed (possibly empty); false at the end,
 * where *it is set to NULL. */
static bool next_element(const char **it, const char *end, const char **el, size_t *elen) {
  if (!*it) return false;
  const char *s = *it, *comma = memchr(s, ',', (size_t)(end - s));
  const char *e = comma ? comma : end;
  *it = comma ? comma + 1 : NULL;
  while (s < e && is_ows((unsigned char)*s)) s++;
  while (e > s && is_ows((unsigned char)e[-1])) e--;
  *el = s;
  *elen = (size_t)(e - s);
  return true;
}

static int content_length(api__parser *p, framing *f, const char *v, size_t n, api__head *out) {
  if (++f->cls > 1) return bad(p, API_EBADREQ, "more than one content-length");
  if (n == 0) return bad(p, API_EBADREQ, "invalid content-length");
  int64_t cl = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return bad(p, API_EBADREQ, "invalid content-length");
    /* 2^62 is far beyond any body limit and keeps cl * 10 + 9 inside int64_t */
    if (cl > (INT64_C(1) << 62) / 10) return bad(p, API_EBADREQ, "content-length too large");
    cl = cl * 10 + (v[i] - '0');
  }
  out->content_length = cl;
  return 0;
}

static int transfer_encoding(api__parser *p, framing *f, const char *v, size_t n) {
  const char *it = v, *el;
  size_t elen;
  f->te = true;
  while (next_element(&it, v + n, &el, &elen)) {
    if (elen == 0) continue; /* RFC 9110 5.6.1: empty list elements are ignored */
    if (IEQ(el, elen, "chunked")) {
      if (++f->chunked_count > 1) return bad(p, API_EBADREQ, "chunked applied twice");
      f->chunked_last = true;
      continue;
    }
    if (f->chunked_count) return bad(p, API_EBADREQ, "chunked not last");
    /* Any other coding is refused below (501) if the framing is otherwise sound; it only has
     * to look like one: a token, maybe with parameters. */
    if (!api__is_tchar((unsigned char)el[0]))
      return bad(p, API_EBADREQ, "invalid transfer-encoding");
    f->te_other = true;
    f->chunked_last = false;
  }
  return 0;
}

/* unreserved / sub-delims of RFC 3986: the bytes of a reg-name besides pct-encoded ones. */
static bool is_host_char(unsigned char c) {
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return c && strchr("-._~!$&'()*+,;=", c) != NULL;
}

static bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): an IP-literal in brackets, or a
 * reg-name (IPv4 addresses included) of unreserved, sub-delims and pct-encoded bytes; the port is
 * digits. Empty is allowed (RFC 9112 3.2). No userinfo, path, query or spaces. */
static bool valid_host(const char *v, size_t n) {
  size_t i = 0;
  if (n && v[0] == '[') {
    for (i = 1; i < n && v[i] != ']'; i++)
      if (!is_host_char((unsigned char)v[i]) && v[i] != ':') return false;
    if (i == n || i == 1) return false;
    i++;
  } else {
    for (; i < n && v[i] != ':'; i++) {
      if (v[i] == '%') {
        if (i + 2 >= n || !is_hex((unsigned char)v[i + 1]) || !is_hex((unsigned char)v[i + 2]))
          return false;
        i += 2;
      } else if (!is_host_char((unsigned char)v[i])) {
        return false;
      }
    }
  }
  if (i == n) return true;
  if (v[i] != ':') return false;
  for (i++; i < n; i++)
    if (v[i] < '0' || v[i] > '9') return false;
  return true;
}

/* The fields the parser itself acts on; names are compared only when their length matches. */
static int field(api__parser *p, framing *f, const char *name, size_t nlen, const char *v,
                 size_t vlen, api__head *out) {
  const char *it = v, *el;
  size_t elen;
  switch (nlen) {
    case 4:
      if (!IEQ(name, nlen, "host")) return 0;
      if (++f->hosts > 1) return bad(p, API_EBADREQ, "duplicate host");
      return valid_host(v, vlen) ? 0 : bad(p, API_EBADREQ, "invalid host");
    case 6:
      /* Expectations other than 100-continue are ignored rather than answered with 417. */
      if (IEQ(name, nlen, "expect") && IEQ(v, vlen, "100-continue")) out->expect_continue = true;
      return 0;
    case 10:
      if (!IEQ(name, nlen, "connection")) return 0;
      while (next_element(&it, v + vlen, &el, &elen)) {
        if (IEQ(el, elen, "close")) f->close = true;
        if (IEQ(el, elen, "keep-alive")) f->keep_alive = true;
      }
      return 0;
    case 14:
      return IEQ(name, nlen, "content-length") ? content_length(p, f, v, vlen, out) : 0;
    case 17:
      return IEQ(name, nlen, "transfer-encoding") ? transfer_encoding(p, f, v, vlen) : 0;
    default:
      return 0;
  }
}

/* Split the request line checked by pass 1, and the target into path and query. */
static int request_line(api__parser *p, char *buf, api__head *out) {
  char *m = buf + p->start;
  char *v = buf + p->reqline_end - 10; /* "HTTP/1.x" */
  char *te = v - 1;                    /* the SP after the target */
  char *sp = memchr(m, ' ', (size_t)(te - m));
  char *t = sp + 1;
  size_t n = (size_t)(te - t);
  out->method = m;
  out->method_len = (uint32_t)(sp - m);
  out->target = t;
  out->target_len = (uint32_t)n;
  out->minor = v[7] - '0';
  *sp = *te = '\0';
  /* CONNECT opens a tunnel, which this server does not do, whatever the target looks like. */
  if (out->method_len == 7 && memcmp(m, "CONNECT", 7) == 0)
    return bad(p, API_ENOTIMPL, "CONNECT not supported");

  char *path = t, *rest = t; /* rest: where '?' is looked for */
  if (*t == '*' && n == 1) {
    if (out->method_len != 7 || memcmp(m, "OPTIONS", 7) != 0)
      return bad(p, API_EBADREQ, "asterisk-form without OPTIONS");
  } else if (*t != '/') {
    /* absolute-form (RFC 9112 3.2.2); the authority is not checked against Host */
    size_t skip = n > 7 && IEQ(t, 7, "http://") ? 7 : n > 8 && IEQ(t, 8, "https://") ? 8 : 0;
    if (!skip) return bad(p, API_EBADREQ, "unsupported request target form");
    char *a = t + skip;
    rest = a;
    while (rest < te && *rest != '/' && *rest != '?') rest++;
    if (rest == a) return bad(p, API_EBADREQ, "empty authority");
    path = rest < te && *rest == '/' ? rest : NULL;
  }
  char *q = memchr(rest, '?', (size_t)(te - rest));
  out->path = path ? path : "/";
  out->path_len = path ? (uint32_t)((q ? q : te) - path) : 1;
  out->query = q ? q + 1 : "";
  out->query_len = q ? (uint32_t)(te - q - 1) : 0;
  if (q) *q = '\0';
  return 0;
}

static int parse_all(api__parser *p, char *buf, size_t head_len, api__header *hdrs,
                     const api__limits *lim, api__head *out) {
  memset(out, 0, sizeof(*out));
  out->content_length = -1;
  out->headers = hdrs;
  int rc = request_line(p, buf, out);
  if (rc) return rc;

  framing f = {0};
  char *end = buf + head_len - 2; /* the blank line */
  for (char *line = buf + p->reqline_end; line < end;) {
    /* Pass 1 left only tchar, ':', OWS and field-value bytes here, and one CR per line. */
    char *c = line;
    while (api__is_tchar((unsigned char)*c)) c++;
    if (*c != ':') {
      if (*c == '\r') return bad(p, API_EBADREQ, "missing colon");
      if (!is_ows((unsigned char)*c))
        return bad(p, API_EBADREQ, "invalid character in header name");
      while (is_ows((unsigned char)*c)) c++;
      return bad(p, API_EBADREQ,
                 *c == ':' ? "whitespace before colon" : "whitespace in header name");
    }
    if (c == line) return bad(p, API_EBADREQ, "empty header name");
    char *v = c + 1;
    while (is_ows((unsigned char)*v)) v++;
    char *eol = memchr(v, '\r', (size_t)(end - v) + 1);
    char *ve = eol;
    while (ve > v && is_ows((unsigned char)ve[-1])) ve--;
    if (out->nheaders >= lim->max_headers) /* pass 1 counted them; this guards hdrs */
      return bad(p, API_EHDRTOOLARGE, "too many header fields");
    *c = *ve = '\0'; /* ve may be the CR */
    hdrs[out->nheaders++] = (api__header){.name = line,
                                          .value = v,
                                          .name_len = (uint32_t)(c - line),
                                          .value_len = (uint32_t)(ve - v)};
    rc = field(p, &f, line, (size_t)(c - line), v, (size_t)(ve - v), out);
    if (rc) return rc;
    line = eol + 2;
  }
  if (f.te) {
    /* RFC 9112 6.1: on HTTP/1.0 the framing is faulty; with Content-Length, a smuggling try */
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
  int rc = 1;
  if (!p->reqline_end) rc = scan_request_line(p, buf, len, lim, &i);
  if (rc > 0) rc = scan_fields(p, buf, len, lim, &i);
  p->scanned = i;
  if (rc <= 0) return rc;
  return parse_all(p, buf, i, hdrs, lim, out);
}

/* ---- chunked bodies ---- */

enum {
  C_SIZE_FIRST,  /* first hex digit */
  C_SIZE,        /* more hex digits, ';', BWS or CR */
  C_EXT_BWS,     /* BWS after the size or a value: only more BWS or ';' may follow */
  C_EXT_NAME0,   /* after ';': BWS, then the name's first byte */
  C_EXT_NAME,    /* name bytes, BWS, '=', ';' or CR */
  C_EXT_NAME_WS, /* BWS after a name: '=' or ';' */
  C_EXT_VAL0,    /* after '=': BWS, then a token or a quoted-string */
  C_EXT_TOKEN,   /* token bytes, or what may follow a value: BWS, ';' or CR */
  C_EXT_QUOTED,
  C_EXT_QPAIR,
  C_EXT_VAL_END, /* after a closing quote: BWS, ';' or CR */
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

enum {
  SIZE_LINE_MAX = 4096, /* the chunk-size line with its extensions */
  SIZE_DIGITS_MAX = 16, /* leading zeros count: a uint64_t never overflows */
  TRAILER_MAX_DEFAULT = 16384,
};

void api__chunked_reset(api__chunked *c) { memset(c, 0, sizeof(*c)); }

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch |= 0x20;
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* One byte of the size line, the CRLFs around the data, or the trailer section. */
static const char *chunk_byte(api__chunked *c, unsigned char ch) {
  bool ws = is_ows(ch);
  switch (c->state) {
    case C_SIZE_FIRST:
    case C_SIZE: {
      int h = hexval(ch);
      if (h >= 0) {
        if (c->line_bytes > SIZE_DIGITS_MAX) return "bad chunk size";
        c->remaining = c->remaining << 4 | (uint64_t)h;
        c->state = C_SIZE;
        return NULL;
      }
      if (c->state == C_SIZE_FIRST) return ch == '\n' ? "bare LF" : "bad chunk size";
      if (ws)
        c->state = C_EXT_BWS;
      else if (ch == ';')
        c->state = C_EXT_NAME0;
      else if (ch == '\r')
        c->state = C_SIZE_LF;
      else
        return ch == '\n' ? "bare LF" : "bad chunk size";
      return NULL;
    }
    case C_EXT_BWS:
      if (ch == ';')
        c->state = C_EXT_NAME0;
      else if (!ws)
        return ch == '\r' ? "whitespace before chunk line end" : "bad chunk extension";
      return NULL;
    case C_EXT_NAME0:
      if (api__is_tchar(ch))
        c->state = C_EXT_NAME;
      else if (!ws)
        return "bad chunk extension";
      return NULL;
    case C_EXT_NAME:
      if (api__is_tchar(ch)) return NULL;
      if (ch == '\r') {
        c->state = C_SIZE_LF;
        return NULL;
      }
      /* fallthrough */
    case C_EXT_NAME_WS:
      if (ws)
        c->state = C_EXT_NAME_WS;
      else if (ch == '=')
        c->state = C_EXT_VAL0;
      else if (ch == ';')
        c->state = C_EXT_NAME0;
      else
        return ch == '\r' ? "whitespace before chunk line end" : "bad chunk extension";
      return NULL;
    case C_EXT_VAL0:
      if (ch == '"')
        c->state = C_EXT_QUOTED;
      else if (api__is_tchar(ch))
        c->state = C_EXT_TOKEN;
      else if (!ws)
        return "bad chunk extension";
      return NULL;
    case C_EXT_TOKEN:
      if (api__is_tchar(ch)) return NULL;
      /* fallthrough */
    case C_EXT_VAL_END:
      if (ws)
        c->state = C_EXT_BWS;
      else if (ch == ';')
        c->state = C_EXT_NAME0;
      else if (ch == '\r')
        c->state = C_SIZE_LF;
      else
        return "bad chunk extension";
      return NULL;
    case C_EXT_QUOTED:
      /* qdtext and quoted-pair both allow HTAB, SP, VCHAR and obs-text: api__is_vchar */
      if (ch == '"')
        c->state = C_EXT_VAL_END;
      else if (ch == '\\')
        c->state = C_EXT_QPAIR;
      else if (!api__is_vchar(ch))
        return "bad chunk extension";
      return NULL;
    case C_EXT_QPAIR:
      if (!api__is_vchar(ch)) return "bad chunk extension";
      c->state = C_EXT_QUOTED;
      return NULL;
    case C_SIZE_LF:
      if (ch != '\n') return "bare CR";
      c->line_bytes = 0;
      c->state = c->remaining ? C_DATA : C_TR_START;
      return NULL;
    case C_DATA_CR:
      if (ch != '\r') return "bad chunk terminator";
      c->state = C_DATA_LF;
      return NULL;
    case C_DATA_LF:
      if (ch != '\n') return "bad chunk terminator";
      c->state = C_SIZE_FIRST;
      return NULL;
    case C_TR_START:
      if (ch == '\r')
        c->state = C_FINAL_LF;
      else if (api__is_tchar(ch))
        c->state = C_TR_NAME;
      else
        return ws ? "obs-fold in trailer" : ch == '\n' ? "bare LF" : "bad trailer field";
      return NULL;
    case C_TR_NAME:
      if (ch == ':')
        c->state = C_TR_VALUE;
      else if (!api__is_tchar(ch))
        return ws ? "whitespace before colon" : "bad trailer field";
      return NULL;
    case C_TR_VALUE:
      if (ch == '\r')
        c->state = C_TR_LF;
      else if (!api__is_vchar(ch))
        return ch == '\n' ? "bare LF" : "bad trailer field";
      return NULL;
    case C_TR_LF:
      if (ch != '\n') return "bare CR";
      c->state = C_TR_START;
      return NULL;
    default: /* C_FINAL_LF */
      if (ch != '\n') return "bare CR";
      c->state = C_DONE;
      return NULL;
  }
}

int api__chunked_decode(api__chunked *c, const char *in, size_t len, size_t *consumed,
                        const char **data, size_t *data_len) {
  uint32_t max_trailer = c->max_trailer_bytes ? c->max_trailer_bytes : TRAILER_MAX_DEFAULT;
  size_t i = 0;
  int rc = API__CHUNK_MORE;
  *data = NULL;
  *data_len = 0;
  if (c->state == C_DONE) {
    rc = API__CHUNK_DONE;
    goto out;
  }
  while (i < len) {
    if (c->state == C_DATA) {
      size_t n = len - i < c->remaining ? len - i : (size_t)c->remaining;
      *data = in + i;
      *data_len = n;
      c->remaining -= n;
      if (!c->remaining) c->state = C_DATA_CR;
      i += n;
      rc = API__CHUNK_DATA;
      goto out;
    }
    if (c->state < C_SIZE_LF && ++c->line_bytes > SIZE_LINE_MAX) {
      c->reason = "chunk size line too long";
      rc = API_EBADREQ;
      goto out;
    }
    if (c->state >= C_TR_START && ++c->trailer_bytes > max_trailer) {
      c->reason = "trailer section too large";
      rc = API_EBADREQ;
      goto out;
    }
    const char *why = chunk_byte(c, (unsigned char)in[i]);
    if (why) {
      c->reason = why;
      rc = API_EBADREQ;
      goto out;
    }
    i++;
    if (c->state == C_DONE) {
      rc = API__CHUNK_DONE;
      goto out;
    }
  }
out:
  *consumed = i;
  return rc;
}
