/*
 * The client's address behind trusted reverse proxies. The forwarding headers are only believed
 * when the TCP peer is a configured proxy, and then only as far back as the chain stays inside
 * the trusted set: walking Forwarded / X-Forwarded-For from the right (the entry our own proxy
 * added) to the left, the first address that is not a trusted proxy is the client. Anything a
 * client wrote further left is not looked at, so a forged header from outside gains nothing.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "core/proxy.h"
#include "libapi/common.h"
#include "util/alloc.h"

enum { MAX_HOPS = 32 }; /* forwarding entries looked at; more is not a real proxy chain */

static int parse_addr(const char *s, size_t n, api__ip *ip) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (n == 0 || n >= sizeof(buf)) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  memset(ip, 0, sizeof(*ip));
  if (inet_pton(AF_INET, buf, ip->addr) == 1) {
    ip->family = 4;
    return 0;
  }
  if (inet_pton(AF_INET6, buf, ip->addr) == 1) {
    ip->family = 6;
    return 0;
  }
  return -1;
}

int api__proxies_parse(const char *spec, api__cidr **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!spec || !*spec) return 0;
  size_t cap = 1;
  for (const char *p = spec; *p; p++) cap += *p == ',';
  api__cidr *list = api__calloc(cap, sizeof(*list));
  if (!list) return API_ENOMEM;
  size_t count = 0;
  for (const char *p = spec; *p;) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    const char *end = p;
    while (*end && *end != ',' && *end != ' ') end++;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    api__cidr *c = &list[count];
    int bits = -1;
    if (slash) {
      char *e;
      long b = strtol(slash + 1, &e, 10);
      if (e != end || slash + 1 == end) b = -1;
      bits = (int)b;
    }
    if (parse_addr(p, (size_t)((slash ? slash : end) - p), &c->ip) ||
        (slash && (bits < 0 || bits > (c->ip.family == 4 ? 32 : 128)))) {
      api__free(list);
      return api__fail(API_EINVAL, "trusted_proxies: \"%.*s\" is not an IP address or CIDR range",
                       (int)(end - p), p);
    }
    c->bits = slash ? bits : c->ip.family == 4 ? 32 : 128;
    count++;
    p = end;
  }
  *out = list;
  *n = count;
  return 0;
}

bool api__proxies_match(const api__cidr *list, size_t n, const api__ip *ip) {
  for (size_t i = 0; i < n; i++) {
    const api__cidr *c = &list[i];
    const uint8_t *a = ip->addr;
    uint8_t mapped[16];
    if (c->ip.family != ip->family) {
      /* An IPv4 range also covers IPv4-mapped IPv6 peers (::ffff:a.b.c.d). */
      static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (c->ip.family != 4 || ip->family != 6 || memcmp(ip->addr, prefix, 12) != 0) continue;
      memcpy(mapped, ip->addr + 12, 4);
      a = mapped;
    }
    int bits = c->bits, k = 0;
    for (; bits >= 8; bits -= 8, k++)
      if (a[k] != c->ip.addr[k]) break;
    if (bits >= 8) continue;
    if (bits == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - bits));
    if ((a[k] & mask) == (c->ip.addr[k] & mask)) return true;
  }
  return false;
}

/* One address from a forwarding entry: X-Forwarded-For allows "a.b.c.d", "a.b.c.d:port",
 * "v6" and "[v6]:port"; Forwarded's for= also quotes them. */
static int entry_addr(const char *s, size_t n, api__ip *ip) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') s++, n -= 2;
  if (n && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) return -1;
    return parse_addr(s + 1, (size_t)(close - s - 1), ip);
  }
  if (parse_addr(s, n, ip) == 0) return 0;
  const char *colon = memchr(s, ':', n);
  if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
    return parse_addr(s, (size_t)(colon - s), ip) == 0 && ip->family == 4 ? 0 : -1;
  return -1;
}

/* The for= value of one Forwarded element ("for=1.2.3.4;proto=https"), or -1. */
static int forwarded_for(const char *s, size_t n, api__ip *ip) {
  const char *end = s + n;
  while (s < end) {
    const char *semi = memchr(s, ';', (size_t)(end - s));
    const char *pair_end = semi ? semi : end;
    while (s < pair_end && (*s == ' ' || *s == '\t')) s++;
    if (pair_end - s > 4 && strncasecmp(s, "for=", 4) == 0)
      return entry_addr(s + 4, (size_t)(pair_end - s - 4), ip);
    s = semi ? semi + 1 : end;
  }
  return -1;
}

/* Collect the entries of every field called name, in order, as (start, length) pairs. */
typedef struct span {
  const char *s;
  size_t n;
} span;

static size_t split_entries(const api__header *headers, size_t nheaders, const char *name,
                            span *out, size_t max, bool *too_many) {
  size_t count = 0;
  size_t nl = strlen(name);
  *too_many = false;
  for (size_t i = 0; i < nheaders; i++) {
    if (headers[i].name_len != nl || strncasecmp(headers[i].name, name, nl) != 0) continue;
    const char *v = headers[i].value;
    /* Commas inside quoted strings do not split Forwarded elements. */
    const char *start = v;
    bool quoted = false;
    for (const char *p = v;; p++) {
      if (*p == '"') quoted = !quoted;
      if (*p == '\0' || (*p == ',' && !quoted)) {
        if (count == max) {
          memmove(out, out + 1, (max - 1) * sizeof(*out)); /* keep the rightmost */
          count--;
          *too_many = true;
        }
        out[count++] = (span){start, (size_t)(p - start)};
        if (*p == '\0') break;
        start = p + 1;
      }
    }
  }
  return count;
}

bool api__client_from_forwarding(const api__cidr *proxies, size_t nproxies, const api__ip *peer,
                                 const api__header *headers, size_t nheaders, api__ip *client) {
  *client = *peer;
  if (!nproxies || !api__proxies_match(proxies, nproxies, peer)) return false;
  span entries[MAX_HOPS];
  bool too_many;
  bool forwarded = true;
  size_t n = split_entries(headers, nheaders, "forwarded", entries, MAX_HOPS, &too_many);
  if (n == 0) {
    forwarded = false;
    n = split_entries(headers, nheaders, "x-forwarded-for", entries, MAX_HOPS, &too_many);
  }
  bool changed = false;
  for (size_t i = n; i-- > 0;) {
    api__ip ip;
    int rc = forwarded ? forwarded_for(entries[i].s, entries[i].n, &ip)
                       : entry_addr(entries[i].s, entries[i].n, &ip);
    if (rc) break; /* malformed, "unknown" or hidden: the last good hop is what we know */
    *client = ip;
    changed = true;
    if (!api__proxies_match(proxies, nproxies, &ip)) break;
  }
  return changed;
}

void api__ip_format(const api__ip *ip, char *buf, size_t len) {
  if (!inet_ntop(ip->family == 6 ? AF_INET6 : AF_INET, ip->addr, buf, (socklen_t)len) && len)
    buf[0] = '\0';
}
