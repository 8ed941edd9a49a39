/* libapi jwt verify|sign: check and make JSON Web Tokens with the library's api_jwt_* functions.
 *
 * verify: exit 0 with the claims as JSON on stdout when the token is valid; 1 with the reason
 * ("<error name>: <details>") on stdout when it is not; 2 on a usage error or an unusable key.
 * sign: exit 0 with the token on stdout; 2 on any error. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libapi/auth.h>

#include "cli.h"
#include "util/json.h"

#define MAX_KEY_FILE ((size_t)1 << 20)
#define MAX_TOKEN ((size_t)API_JWT_MAX_TOKEN_SIZE_LIMIT)
#define MAX_CLAIMS ((size_t)1 << 20)
#define MAX_LIST 16

static void usage(void) {
  fprintf(stderr,
          "usage: libapi jwt verify (--secret-file F | --key PEM | --jwks F) [--alg A]...\n"
          "                         [--iss X] [--aud X]... [--leeway S] [--now UNIX] TOKEN|-\n"
          "       libapi jwt sign (--secret-file F | --key PEM) --alg A [--kid K] CLAIMS.json|-\n"
          "  verify exit 0: valid (claims on stdout); 1: invalid (reason on stdout); 2: error\n"
          "  sign prints the token; exit 2 on error\n");
}

typedef struct opts {
  const char *secret_file, *key_file, *jwks_file, *iss, *kid, *arg;
  const char *algs[MAX_LIST + 1];
  const char *auds[MAX_LIST + 1];
  size_t nalg, naud;
  long long leeway, now;
  int have_now;
} opts;

static int parse_ll(const char *s, long long min, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min) return -1;
  *out = v;
  return 0;
}

/* Parses argv[1..]; sign restricts which options are allowed. Returns 0 or prints why and -1. */
static int parse(int argc, char **argv, int sign, opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (!strcmp(a, "--secret-file") && v)
      o->secret_file = v;
    else if (!strcmp(a, "--key") && v)
      o->key_file = v;
    else if (!strcmp(a, "--jwks") && v && !sign)
      o->jwks_file = v;
    else if (!strcmp(a, "--alg") && v) {
      if (o->nalg == MAX_LIST || (sign && o->nalg == 1)) {
        fprintf(stderr, "libapi jwt: too many --alg\n");
        return -1;
      }
      if (api_jwt_alg_from_name(v) == API_JWT_ALG_UNKNOWN) {
        fprintf(stderr, "libapi jwt: unknown algorithm '%s'\n", v);
        return -1;
      }
      o->algs[o->nalg++] = v;
    } else if (!strcmp(a, "--kid") && v && sign)
      o->kid = v;
    else if (!strcmp(a, "--iss") && v && !sign)
      o->iss = v;
    else if (!strcmp(a, "--aud") && v && !sign) {
      if (o->naud == MAX_LIST) {
        fprintf(stderr, "libapi jwt: too many --aud\n");
        return -1;
      }
      o->auds[o->naud++] = v;
    } else if (!strcmp(a, "--leeway") && v && !sign) {
      if (parse_ll(v, 0, &o->leeway) || o->leeway > 86400 * 365) {
        fprintf(stderr, "libapi jwt: --leeway wants a number of seconds\n");
        return -1;
      }
    } else if (!strcmp(a, "--now") && v && !sign) {
      if (parse_ll(v, 1, &o->now)) {
        fprintf(stderr, "libapi jwt: --now wants a positive UNIX time\n");
        return -1;
      }
      o->have_now = 1;
    } else if ((a[0] != '-' || !strcmp(a, "-")) && !o->arg) {
      o->arg = a;
      takes = 0;
    } else {
      fprintf(stderr, "libapi jwt: unexpected argument '%s'\n", a);
      return -1;
    }
    i += takes;
  }
  int sources = !!o->secret_file + !!o->key_file + !!o->jwks_file;
  if (sources != 1) {
    fprintf(stderr, "libapi jwt: give exactly one of --secret-file, --key%s\n",
            sign ? "" : ", --jwks");
    return -1;
  }
  if (!o->arg) {
    fprintf(stderr, "libapi jwt: missing %s\n", sign ? "CLAIMS" : "TOKEN");
    return -1;
  }
  if (sign && !o->nalg) {
    fprintf(stderr, "libapi jwt: sign needs --alg\n");
    return -1;
  }
  return 0;
}

/* Builds the key set from the one key source. HMAC secrets get one key per HS* --alg; a PEM
 * key is pinned to the first --alg (EC and Ed25519 keys deduce it when none is given). */
static int load_keys(const opts *o, api_jwt_keyset **out) {
  const char *path = o->secret_file ? o->secret_file : o->key_file ? o->key_file : o->jwks_file;
  size_t len;
  char *text = cli_read_path(path, &len, MAX_KEY_FILE);
  if (!text) {
    fprintf(stderr, "libapi jwt: cannot read %s: %s\n", path,
            errno ? strerror(errno) : "over 1 MiB");
    return -1;
  }
  int rc = 0;
  api_jwt_keyset *ks = NULL;
  if (o->jwks_file) {
    rc = api_jwt_keyset_from_jwks(&ks, text, len);
  } else if (o->key_file) {
    rc = api_jwt_keyset_from_pem(&ks, text, len, o->nalg ? o->algs[0] : NULL, o->kid);
  } else {
    /* A secret file written by echo or an editor ends with one newline: it is not the secret. */
    size_t n = len;
    if (n && text[n - 1] == '\n') n--;
    if (n && text[n - 1] == '\r') n--;
    size_t hs = 0;
    for (size_t i = 0; i < o->nalg && !rc; i++) {
      if (strncmp(o->algs[i], "HS", 2)) continue;
      api_jwt_keyset *one = NULL, *merged = NULL;
      rc = api_jwt_keyset_from_secret(&one, text, n, o->algs[i], o->kid);
      if (!rc && ks) {
        rc = api_jwt_keyset_merge(&merged, ks, one);
        api_jwt_keyset_free(one);
        api_jwt_keyset_free(ks);
        ks = merged;
      } else if (!rc) {
        ks = one;
      }
      hs++;
    }
    if (!rc && !hs) {
      cli_wipe_free(text, len);
      fprintf(stderr, "libapi jwt: --secret-file needs --alg HS256, HS384 or HS512\n");
      return -1;
    }
  }
  cli_wipe_free(text, len);
  if (rc) {
    api_jwt_keyset_free(ks);
    fprintf(stderr, "libapi jwt: unusable key in %s: %s\n", path, api_last_error());
    return -1;
  }
  *out = ks;
  return 0;
}

static int verify(int argc, char **argv) {
  opts o;
  if (parse(argc, argv, 0, &o)) {
    usage();
    return 2;
  }
  api_jwt_keyset *ks = NULL;
  if (load_keys(&o, &ks)) return 2;
  char *token = NULL;
  size_t len;
  if (!strcmp(o.arg, "-")) {
    token = cli_read_all(stdin, &len, MAX_TOKEN + 2);
    if (!token) {
      fprintf(stderr, "libapi jwt: cannot read the token from standard input\n");
      api_jwt_keyset_free(ks);
      return 2;
    }
  } else {
    len = strlen(o.arg);
    token = malloc(len + 1);
    if (!token) {
      api_jwt_keyset_free(ks);
      return 2;
    }
    memcpy(token, o.arg, len + 1);
  }
  while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
    token[--len] = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < o.nalg; i++) bits |= API_JWT_ALG_BIT(api_jwt_alg_from_name(o.algs[i]));
  api_jwt_result res = {0};
  int rc =
      api_jwt_verify(ks, token, len,
                     API_JWT_VERIFY_OPTIONS(.algorithms = bits, .issuer = o.iss,
                                            .audiences = o.naud ? o.auds : NULL, .leeway = o.leeway,
                                            .now = o.now, .max_token_size = MAX_TOKEN),
                     &res);
  int status;
  if (rc == 0) {
    char *out = json_dumps(res.claims, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (out) {
      printf("%s\n", out);
      status = 0;
    } else {
      fprintf(stderr, "libapi jwt: out of memory\n");
      status = 2;
    }
    free(out);
  } else if (rc == API_EUNAUTHORIZED && res.error != API_JWT_INTERNAL) {
    printf("%s: %s\n", api_jwt_error_name(res.error),
           res.message[0] ? res.message : api_jwt_error_description(res.error));
    status = 1;
  } else {
    fprintf(stderr, "libapi jwt: %s\n", api_last_error());
    status = 2;
  }
  api_jwt_result_free(&res);
  cli_wipe_free(token, len);
  api_jwt_keyset_free(ks);
  return status;
}

static int sign(int argc, char **argv) {
  opts o;
  if (parse(argc, argv, 1, &o)) {
    usage();
    return 2;
  }
  size_t len;
  char *text = cli_read_path(o.arg, &len, MAX_CLAIMS);
  if (!text) {
    fprintf(stderr, "libapi jwt: cannot read %s: %s\n", o.arg,
            errno ? strerror(errno) : "over 1 MiB");
    return 2;
  }
  api__json_error jerr;
  json_t *claims = api__json_parse(text, len, 0, &jerr);
  free(text);
  if (!claims || !json_is_object(claims)) {
    if (claims)
      fprintf(stderr, "libapi jwt: %s: the claims must be a JSON object\n", o.arg);
    else if (jerr.enomem)
      fprintf(stderr, "libapi jwt: out of memory\n");
    else
      fprintf(stderr, "libapi jwt: %s: invalid JSON at line %d, column %d: %s\n", o.arg, jerr.line,
              jerr.column, jerr.message);
    json_decref(claims);
    return 2;
  }
  api_jwt_keyset *ks = NULL;
  if (load_keys(&o, &ks)) {
    json_decref(claims);
    return 2;
  }
  char *token = NULL;
  int rc = api_jwt_sign(&token, ks, o.algs[0], o.kid, claims, NULL);
  int status = 0;
  if (rc) {
    fprintf(stderr, "libapi jwt: cannot sign: %s\n", api_last_error());
    status = 2;
  } else {
    printf("%s\n", token);
  }
  api_auth_string_free(token);
  api_jwt_keyset_free(ks);
  json_decref(claims);
  return status;
}

int cli_jwt_main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "verify")) return verify(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "sign")) return sign(argc - 1, argv + 1);
  usage();
  return 2;
}
