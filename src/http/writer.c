/* Response serialization: the status line, framework headers, user headers and body, appended to
 * the connection's output buffer so that pipelined responses leave in one write. */
#include <string.h>

#include "net/net.h"

const char *api__http_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
  }
  return NULL;
}

/* Decimal digits of v at the end of buf[20]; returns the start. */
static char *utoa(char *end, uint64_t v) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

#define LIT(s) s, sizeof(s) - 1

int api__write_response(api__buf *out, api_req *req, bool keep_alive, const char *date_line,
                        size_t date_len) {
  const api_res *res = &req->res;
  int status = res->status;
  bool no_body = status < 200 || status == 204 || status == 304;
  bool head = req->head.method_len == 4 && memcmp(req->head.method, "HEAD", 4) == 0;
  size_t need = 64 + date_len + 80 + 40;
  if (res->content_type) need += 16 + strlen(res->content_type);
  for (const api__out_header *h = res->headers; h; h = h->next)
    need += h->name_len + h->value_len + 4;
  if (!no_body && !head) need += res->body_len;
  if (!api__buf_reserve(out, need)) return API_ENOMEM;

  char *p = out->data + out->len;
  const char *r = api__http_reason(status);
  if (!r) r = "Unknown";
  size_t rl = strlen(r);
  memcpy(p, "HTTP/1.1 ", 9);
  p[9] = (char)('0' + status / 100);
  p[10] = (char)('0' + status / 10 % 10);
  p[11] = (char)('0' + status % 10);
  p[12] = ' ';
  p += 13;
  memcpy(p, r, rl);
  p += rl;
  *p++ = '\r';
  *p++ = '\n';
  memcpy(p, date_line, date_len);
  p += date_len;
  if (res->content_type) {
    memcpy(p, LIT("Content-Type: "));
    p += 14;
    size_t n = strlen(res->content_type);
    memcpy(p, res->content_type, n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
  }
  if (!no_body) {
    char num[20], *s = utoa(num + sizeof(num), res->body_len);
    memcpy(p, LIT("Content-Length: "));
    p += 16;
    memcpy(p, s, (size_t)(num + sizeof(num) - s));
    p += num + sizeof(num) - s;
    *p++ = '\r';
    *p++ = '\n';
  }
  if (!keep_alive) {
    memcpy(p, LIT("Connection: close\r\n"));
    p += 19;
  } else if (req->head.minor == 0) {
    memcpy(p, LIT("Connection: keep-alive\r\n"));
    p += 24;
  }
  for (const api__out_header *h = res->headers; h; h = h->next) {
    memcpy(p, h->name, h->name_len);
    p += h->name_len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, h->value, h->value_len);
    p += h->value_len;
    *p++ = '\r';
    *p++ = '\n';
  }
  *p++ = '\r';
  *p++ = '\n';
  if (!no_body && !head && res->body_len) {
    memcpy(p, res->body, res->body_len);
    p += res->body_len;
  }
  out->len = (size_t)(p - out->data);
  return 0;
}
