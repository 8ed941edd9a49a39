/* Trusted proxies and the client address behind them (core/proxy.c). */
#ifndef API_CORE_PROXY_H
#define API_CORE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

typedef struct api__ip {
  uint8_t family; /* 4 or 6 */
  uint8_t addr[16];
} api__ip;

typedef struct api__cidr {
  api__ip ip;
  int bits;
} api__cidr;

/* Parse "10.0.0.0/8, 127.0.0.1, ::1" into *out (api__free it). Returns 0, API_EINVAL naming the
 * bad entry, or API_ENOMEM. An empty or NULL spec gives no proxies. */
int api__proxies_parse(const char *spec, api__cidr **out, size_t *n);
/* True when ip is inside one of the ranges (IPv4 ranges also match IPv4-mapped IPv6). */
bool api__proxies_match(const api__cidr *list, size_t n, const api__ip *ip);
/* When peer is a trusted proxy, the client address from Forwarded (preferred) or X-Forwarded-For;
 * returns true and sets *client when it differs from the peer's own entry, else *client = *peer. */
bool api__client_from_forwarding(const api__cidr *proxies, size_t nproxies, const api__ip *peer,
                                 const api__header *headers, size_t nheaders, api__ip *client);
void api__ip_format(const api__ip *ip, char *buf, size_t len);

#endif
