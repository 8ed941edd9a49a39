/* Reading whole files and standard input for the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"

char *cli_read_all(FILE *f, size_t *len, size_t max) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      char *p = cap >= max ? NULL : malloc(cap * 2 + 1);
      if (!p) {
        cli_wipe_free(buf, n);
        return NULL;
      }
      memcpy(p, buf, n);
      cli_wipe_free(buf, n);
      buf = p;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f) || n > max) {
    cli_wipe_free(buf, n);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

char *cli_read_path(const char *path, size_t *len, size_t max) {
  if (!strcmp(path, "-")) return cli_read_all(stdin, len, max);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *b = cli_read_all(f, len, max);
  fclose(f);
  return b;
}

void cli_wipe_free(char *p, size_t n) {
  if (!p) return;
  OPENSSL_cleanse(p, n);
  free(p);
}
