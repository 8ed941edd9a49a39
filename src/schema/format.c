/* "format" checkers: RFC 3339 dates and times, ISO 8601 durations, RFC 5321 e-mail addresses
 * (without comments), RFC 4122 UUIDs, RFC 1123 host names, IPv4/IPv6 addresses, RFC 3986 URIs
 * and references, JSON Pointers and ECMA-262 regexes. Each takes the string and its length. */
#include <arpa/inet.h>
#include <string.h>

#include "schema/schema_internal.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int digits(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

static bool full_date(const char *s, size_t len) {
  if (len != 10 || s[4] != '-' || s[7] != '-') return false;
  int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
  if (y < 0 || m < 1 || m > 12 || d < 1) return false;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = mdays[m - 1];
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
  return d <= max;
}

/* HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); a leap second must be 23:59:60 in UTC. */
static bool full_time(const char *s, size_t len) {
  if (len < 9 || s[2] != ':' || s[5] != ':') return false;
  int h = digits(s, 2), m = digits(s + 3, 2), sec = digits(s + 6, 2);
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) return false;
  size_t i = 8;
  if (i < len && s[i] == '.') {
    size_t start = ++i;
    while (i < len && is_digit(s[i])) i++;
    if (i == start) return false;
  }
  if (i >= len) return false;
  int oh = 0, om = 0, sign = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    i++;
  } else if (s[i] == '+' || s[i] == '-') {
    sign = s[i] == '+' ? 1 : -1;
    if (len - i != 6 || s[i + 3] != ':') return false;
    oh = digits(s + i + 1, 2);
    om = digits(s + i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    i += 6;
  } else {
    return false;
  }
  if (i != len) return false;
  if (sec == 60) {
    int utc = (h * 60 + m - sign * (oh * 60 + om) + 24 * 60) % (24 * 60);
    if (utc != 23 * 60 + 59) return false;
  }
  return true;
}

static bool fmt_date(const char *s, size_t len) { return full_date(s, len); }
static bool fmt_time(const char *s, size_t len) { return full_time(s, len); }

static bool fmt_date_time(const char *s, size_t len) {
  if (len < 20 || (s[10] != 'T' && s[10] != 't')) return false;
  return full_date(s, 10) && full_time(s + 11, len - 11);
}

/* ISO 8601 duration as RFC 3339 appendix A: P[nY][nM][nD][T[nH][nM][nS]] or PnW. */
static bool fmt_duration(const char *s, size_t len) {
  if (len < 2 || s[0] != 'P') return false;
  size_t i = 1;
  static const char date_units[] = "YMD", time_units[] = "HMS";
  bool any = false, in_time = false;
  int last = -1;
  while (i < len) {
    if (s[i] == 'T') {
      if (in_time) return false;
      in_time = true;
      last = -1;
      i++;
      if (i == len) return false;
      continue;
    }
    size_t start = i;
    while (i < len && is_digit(s[i])) i++;
    if (i == start || i == len) return false;
    char u = s[i++];
    if (u == 'W') {
      return !any && !in_time && i == len && start == 1;
    }
    const char *units = in_time ? time_units : date_units;
    const char *p = strchr(units, u);
    if (!p || u == 0 || (int)(p - units) <= last) return false;
    last = (int)(p - units);
    any = true;
  }
  return any && !(in_time && last < 0);
}

static bool fmt_uuid(const char *s, size_t len) {
  if (len != 36) return false;
  for (size_t i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!is_hex(s[i])) {
      return false;
    }
  }
  return true;
}

static bool hostname_n(const char *s, size_t len) {
  if (len == 0 || len > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return label > 0 && s[len - 1] != '-';
}

static bool fmt_hostname(const char *s, size_t len) { return hostname_n(s, len); }

static bool ipv4_n(const char *s, size_t len) {
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t start = i;
    int v = 0;
    while (i < len && is_digit(s[i]) && i - start < 3) v = v * 10 + (s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) return false;
    parts++;
    if (parts < 4) {
      if (i >= len || s[i] != '.') return false;
      i++;
    }
  }
  return i == len;
}

static bool fmt_ipv4(const char *s, size_t len) { return ipv4_n(s, len); }

static bool fmt_ipv6(const char *s, size_t len) {
  char buf[64];
  unsigned char out[16];
  if (len == 0 || len >= sizeof buf || memchr(s, 0, len)) return false;
  memcpy(buf, s, len);
  buf[len] = 0;
  return inet_pton(AF_INET6, buf, out) == 1;
}

static bool atext(char c) {
  return is_alpha(c) || is_digit(c) || ((unsigned char)c >= 0x80) ||
         strchr("!#$%&'*+-/=?^_`{|}~", c);
}

static bool fmt_email(const char *s, size_t len) {
  const char *at = NULL;
  size_t i = 0;
  if (len == 0 || memchr(s, 0, len)) return false;
  if (s[0] == '"') {
    for (i = 1; i < len && s[i] != '"'; i++) {
      if (s[i] == '\\')
        i++;
      else if ((unsigned char)s[i] < 0x20)
        return false;
    }
    if (i >= len || i + 1 >= len || s[i + 1] != '@') return false;
    at = s + i + 1;
  } else {
    for (i = 0; i < len && s[i] != '@'; i++) {
      if (s[i] == '.') {
        if (i == 0 || s[i - 1] == '.') return false;
      } else if (!atext(s[i])) {
        return false;
      }
    }
    if (i == 0 || i >= len || s[i - 1] == '.') return false;
    at = s + i;
  }
  if (at - s > 64) return false;
  const char *dom = at + 1;
  size_t dlen = len - (size_t)(dom - s);
  if (dlen >= 2 && dom[0] == '[' && dom[dlen - 1] == ']') {
    if (dlen > 7 && !strncmp(dom + 1, "IPv6:", 5)) return fmt_ipv6(dom + 6, dlen - 7);
    return ipv4_n(dom + 1, dlen - 2);
  }
  return hostname_n(dom, dlen);
}

/* RFC 3986 characters outside "%": unreserved / gen-delims / sub-delims. */
static bool uri_char(char c) {
  return is_alpha(c) || is_digit(c) || (c && strchr("-._~:/?#[]@!$&'()*+,;=", c));
}

static bool uri_chars(const char *s, size_t len) {
  int hashes = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%') {
      if (i + 2 >= len) return false;
      if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!uri_char(s[i])) {
      return false;
    } else if (s[i] == '#' && ++hashes > 1) {
      return false;
    }
  }
  return true;
}

static bool uri_authority_ok(const char *s, size_t len) {
  /* after "//": [userinfo@]host[:port]; brackets only around an IP literal host */
  size_t end = 0;
  while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#') end++;
  const char *at = memchr(s, '@', end);
  const char *host = at ? at + 1 : s;
  size_t hlen = end - (size_t)(host - s);
  if (memchr(s, '[', (size_t)(host - s)) || memchr(s, ']', (size_t)(host - s))) return false;
  if (hlen && host[0] == '[') {
    const char *close = memchr(host, ']', hlen);
    if (!close) return false;
    size_t rest = hlen - (size_t)(close - host) - 1;
    if (rest && close[1] != ':') return false;
    for (size_t i = 1; i < rest; i++)
      if (!is_digit(close[1 + i])) return false;
    return true;
  }
  if (memchr(host, '[', hlen) || memchr(host, ']', hlen)) return false;
  const char *colon = memchr(host, ':', hlen);
  if (colon)
    for (const char *p = colon + 1; p < host + hlen; p++)
      if (!is_digit(*p)) return false;
  return true;
}

static bool fmt_uri_reference(const char *s, size_t len) {
  if (!uri_chars(s, len)) return false;
  size_t i = 0;
  if (len && is_alpha(s[0])) {
    while (i < len &&
           (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
      i++;
    if (i < len && s[i] == ':')
      i++;
    else
      i = 0;
  }
  /* brackets are only allowed in the host */
  size_t path_start = i;
  if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
    if (!uri_authority_ok(s + i + 2, len - i - 2)) return false;
    path_start = i + 2;
    while (path_start < len && s[path_start] != '/' && s[path_start] != '?' && s[path_start] != '#')
      path_start++;
  }
  for (size_t j = path_start; j < len; j++)
    if (s[j] == '[' || s[j] == ']') return false;
  /* a relative reference's first segment must not contain ':' */
  if (i == 0) {
    for (size_t j = 0; j < len && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++)
      if (s[j] == ':') return false;
  }
  return true;
}

static bool fmt_uri(const char *s, size_t len) {
  if (len == 0 || !is_alpha(s[0])) return false;
  size_t i = 0;
  while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
    i++;
  if (i >= len || s[i] != ':') return false;
  return fmt_uri_reference(s, len);
}

static bool fmt_json_pointer(const char *s, size_t len) {
  if (len && s[0] != '/') return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1'))) return false;
  return true;
}

bool api__format_regex(const char *s, size_t len) {
  sch_regex re;
  char err[8];
  if (api__regex_compile(&re, s, len, err, sizeof err)) return false;
  api__regex_free(&re);
  return true;
}

sch_format_fn api__format_lookup(const char *name) {
  static const struct {
    const char *name;
    sch_format_fn fn;
  } t[] = {{"email", fmt_email},
           {"uuid", fmt_uuid},
           {"date-time", fmt_date_time},
           {"date", fmt_date},
           {"time", fmt_time},
           {"duration", fmt_duration},
           {"uri", fmt_uri},
           {"uri-reference", fmt_uri_reference},
           {"hostname", fmt_hostname},
           {"ipv4", fmt_ipv4},
           {"ipv6", fmt_ipv6},
           {"regex", api__format_regex},
           {"json-pointer", fmt_json_pointer}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(name, t[i].name)) return t[i].fn;
  return NULL;
}
