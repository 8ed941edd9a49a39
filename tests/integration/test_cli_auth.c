/* The `libapi jwt` and `libapi password` commands: exit codes and output for valid, invalid and
 * hostile tokens, keys and passwords, run as the built program. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/client.h"

TestSuite(cli_auth, .init = tc_scratch_new, .fini = tc_scratch_remove);

/* Run a shell fragment in the scratch directory with $L the CLI; stdout to out.txt, stderr to
 * err.txt. */
static int sh(const char *fmt, ...) {
  char args[8192], cmd[9000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "cd '%s' && L='%s' && { %s ; } >out.txt 2>err.txt", tc_scratch_dir(),
           API_CLI_PATH, args);
  int st = system(cmd);
  cr_assert(WIFEXITED(st));
  return WEXITSTATUS(st);
}

/* The token printed by the last command, without its newline. */
static char *token(void) {
  static char t[8192];
  snprintf(t, sizeof t, "%s", tc_scratch_read("out.txt"));
  size_t n = strlen(t);
  cr_assert(n > 1 && t[n - 1] == '\n', "no token: %s / %s", t, tc_scratch_read("err.txt"));
  t[n - 1] = 0;
  cr_assert_eq(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
               n - 1);
  return t;
}

static const char *SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
static const char *CLAIMS =
    "{\"sub\":\"alice\",\"iss\":\"https://id\",\"aud\":[\"api\",\"x\"],"
    "\"exp\":2000000000,\"nbf\":1500000000,\"roles\":[\"admin\"]}";

Test(cli_auth, hmac_sign_then_verify) {
  tc_scratch_put("s", SECRET);
  tc_scratch_put("c.json", CLAIMS);
  cr_assert_eq(sh("$L jwt sign --secret-file s --alg HS256 c.json"), 0, "%s",
               tc_scratch_read("err.txt"));
  char tok[8192];
  strcpy(tok, token());
  cr_assert_eq(sh("$L jwt verify --secret-file s --alg HS256 --iss https://id --aud api "
                  "--now 1700000000 %s",
                  tok),
               0, "%s%s", tc_scratch_read("out.txt"), tc_scratch_read("err.txt"));
  json_error_t e;
  json_t *c = json_loads(tc_scratch_read("out.txt"), 0, &e);
  cr_assert_not_null(c, "not JSON: %s", e.text);
  cr_assert_str_eq(json_string_value(json_object_get(c, "sub")), "alice");
  cr_assert_eq(json_integer_value(json_object_get(c, "exp")), 2000000000);
  json_decref(c);
  /* The token from standard input, with its newline; claims from standard input. */
  cr_assert_eq(sh("echo %s | $L jwt verify --secret-file s --alg HS256 --now 1700000000 -", tok),
               0);
  cr_assert_eq(sh("$L jwt sign --secret-file s --alg HS512 - < c.json"), 0);
  strcpy(tok, token());
  cr_assert_eq(sh("$L jwt verify --secret-file s --alg HS256 --alg HS512 --now 1700000000 %s", tok),
               0);
  /* The same secret without the trailing newline is the same key. */
  tc_scratch_put("s2", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  cr_assert_eq(sh("$L jwt verify --secret-file s2 --alg HS512 --now 1700000000 %s", tok), 0);
}

Test(cli_auth, invalid_tokens_exit_1_with_reason) {
  tc_scratch_put("s", SECRET);
  tc_scratch_put("other", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
  tc_scratch_put("c.json", CLAIMS);
  cr_assert_eq(sh("$L jwt sign --secret-file s --alg HS256 c.json"), 0);
  char tok[8192];
  strcpy(tok, token());
  struct {
    const char *args, *reason;
  } cases[] = {
      {"--secret-file s --alg HS256 --now 2100000000", "expired:"},
      {"--secret-file s --alg HS256 --now 2000000000", "expired:"},
      {"--secret-file s --alg HS256 --now 1999999999", NULL},
      {"--secret-file s --alg HS256 --now 2000000005 --leeway 10", NULL},
      {"--secret-file s --alg HS256 --now 1400000000", "not_yet_valid:"},
      {"--secret-file s --alg HS256 --now 1700000000 --iss https://evil", "bad_issuer:"},
      {"--secret-file s --alg HS256 --now 1700000000 --aud other", "bad_audience:"},
      {"--secret-file s --alg HS256 --now 1700000000 --aud other --aud x", NULL},
      {"--secret-file other --alg HS256 --now 1700000000", "bad_signature:"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = sh("$L jwt verify %s %s", cases[i].args, tok);
    if (!cases[i].reason) {
      cr_assert_eq(rc, 0, "%s: %s", cases[i].args, tc_scratch_read("out.txt"));
      continue;
    }
    cr_assert_eq(rc, 1, "%s: %d %s", cases[i].args, rc, tc_scratch_read("err.txt"));
    cr_assert(!strncmp(tc_scratch_read("out.txt"), cases[i].reason, strlen(cases[i].reason)),
              "%s: %s", cases[i].args, tc_scratch_read("out.txt"));
  }
  /* Tampered payload, alg none, garbage, an empty token, an oversized one. */
  char bad[8192];
  strcpy(bad, tok);
  char *dot = strchr(bad, '.');
  dot[3] = dot[3] == 'A' ? 'B' : 'A';
  cr_assert_eq(sh("$L jwt verify --secret-file s --alg HS256 --now 1700000000 %s", bad), 1);
  cr_assert_eq(sh("$L jwt verify --secret-file s --alg HS256 --now 1700000000 "
                  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."),
               1);
  cr_assert(strstr(tc_scratch_read("out.txt"), "alg_not_allowed"), "%s",
            tc_scratch_read("out.txt"));
  cr_assert_eq(sh("$L jwt verify --secret-file s --alg HS256 'not a token'"), 1);
  cr_assert(strstr(tc_scratch_read("out.txt"), "malformed"), "%s", tc_scratch_read("out.txt"));
  cr_assert_eq(sh("printf '' | $L jwt verify --secret-file s --alg HS256 -"), 1);
  cr_assert_eq(sh("head -c 2000000 /dev/zero | tr '\\0' A | $L jwt verify --secret-file s --alg "
                  "HS256 -"),
               2);
  cr_assert_eq(sh("head -c 100000 /dev/zero | tr '\\0' A | $L jwt verify --secret-file s --alg "
                  "HS256 -"),
               1);
  /* A token signed with HS256 is refused when only HS512 is allowed. */
  cr_assert_eq(sh("$L jwt verify --secret-file s --alg HS512 --now 1700000000 %s", tok), 1);
}

Test(cli_auth, asymmetric_keys_and_jwks) {
  tc_scratch_put("c.json", CLAIMS);
  cr_assert_eq(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem && "
                  "openssl pkey -in ec.pem -pubout -out ecpub.pem && "
                  "openssl genpkey -algorithm Ed25519 -out ed.pem"),
               0, "%s", tc_scratch_read("err.txt"));
  cr_assert_eq(sh("$L jwt sign --key ec.pem --alg ES256 --kid k1 c.json"), 0, "%s",
               tc_scratch_read("err.txt"));
  char tok[8192];
  strcpy(tok, token());
  cr_assert_eq(sh("$L jwt verify --key ecpub.pem --now 1700000000 %s", tok), 0, "%s",
               tc_scratch_read("err.txt"));
  cr_assert_eq(sh("$L jwt verify --key ecpub.pem --alg ES256 --now 1700000000 %s", tok), 0);
  /* A public key cannot sign; a PEM is never an HMAC secret; a key of another type. */
  cr_assert_eq(sh("$L jwt sign --key ecpub.pem --alg ES256 c.json"), 2);
  cr_assert_eq(sh("$L jwt sign --key ec.pem --alg HS256 c.json"), 2);
  cr_assert_eq(sh("$L jwt verify --key ecpub.pem --alg RS256 %s", tok), 2);
  cr_assert_eq(sh("$L jwt verify --key ed.pem --now 1700000000 %s", tok), 1);
  /* A JWK Set holding the public key, by kid. */
  char jwks[1024];
  {
    tc_scratch_put("k.json",
                   "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"h\",\"k\":"
                   "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}");
    cr_assert_eq(sh("$L jwt verify --jwks k.json %s", tok), 1);
    cr_assert(strstr(tc_scratch_read("out.txt"), "alg_not_allowed"), "%s",
              tc_scratch_read("out.txt"));
    /* An HMAC token by the JWK's kid verifies; by another kid it does not. */
    tc_scratch_put("s32", "0123456789abcdef0123456789abcdef");
    cr_assert_eq(sh("$L jwt sign --secret-file s32 --alg HS256 --kid h c.json"), 0);
    strcpy(tok, token());
    cr_assert_eq(sh("$L jwt verify --jwks k.json --now 1700000000 %s", tok), 0, "%s",
                 tc_scratch_read("out.txt"));
    cr_assert_eq(sh("$L jwt sign --secret-file s32 --alg HS256 --kid other c.json"), 0);
    strcpy(tok, token());
    cr_assert_eq(sh("$L jwt verify --jwks k.json --now 1700000000 %s", tok), 1);
    cr_assert(strstr(tc_scratch_read("out.txt"), "unknown_kid"), "%s", tc_scratch_read("out.txt"));
    snprintf(jwks, sizeof jwks, "%s", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}");
    tc_scratch_put("bad.json", jwks);
    cr_assert_eq(sh("$L jwt verify --jwks bad.json %s", tok), 2);
    tc_scratch_put("garbage.json", "{\"keys\":");
    cr_assert_eq(sh("$L jwt verify --jwks garbage.json %s", tok), 2);
  }
}

Test(cli_auth, usage_errors_exit_2) {
  tc_scratch_put("s", SECRET);
  tc_scratch_put("short", "tooshort\n");
  tc_scratch_put("c.json", CLAIMS);
  tc_scratch_put("arr.json", "[1,2]");
  tc_scratch_put("dup.json", "{\"sub\":\"a\",\"sub\":\"b\"}");
  const char *cmds[] = {
      "$L jwt",
      "$L jwt frob",
      "$L jwt verify x.y.z",
      "$L jwt verify --secret-file s x.y.z",
      "$L jwt verify --secret-file s --alg RS256 x.y.z",
      "$L jwt verify --secret-file s --alg none x.y.z",
      "$L jwt verify --secret-file s --alg HS256",
      "$L jwt verify --secret-file s --key s --alg HS256 x.y.z",
      "$L jwt verify --secret-file missing --alg HS256 x.y.z",
      "$L jwt verify --secret-file short --alg HS256 x.y.z",
      "$L jwt verify --secret-file s --alg HS256 --leeway -1 x.y.z",
      "$L jwt verify --secret-file s --alg HS256 --now abc x.y.z",
      "$L jwt verify --secret-file s --alg HS256 --bogus x.y.z",
      "$L jwt verify --secret-file s --alg HS256 a.b.c d.e.f",
      "$L jwt sign --secret-file s c.json",
      "$L jwt sign --secret-file s --alg HS256",
      "$L jwt sign --secret-file s --alg HS256 --alg HS512 c.json",
      "$L jwt sign --secret-file s --alg HS256 arr.json",
      "$L jwt sign --secret-file s --alg HS256 dup.json",
      "$L jwt sign --secret-file s --alg HS256 missing.json",
      "$L jwt sign --jwks s --alg HS256 c.json",
      "$L password",
      "$L password hash --cost 3 < c.json",
      "$L password hash --cost 32 < c.json",
      "$L password hash extra < c.json",
      "$L password verify < c.json",
      "$L password verify a b < c.json",
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    cr_assert_eq(sh("%s", cmds[i]), 2, "%s exited %d: %s", cmds[i], 2, tc_scratch_read("err.txt"));
  /* Claims that are not JSON: the place and the reason. */
  cr_assert_eq(sh("$L jwt sign --secret-file s --alg HS256 dup.json"), 2);
  cr_assert(strstr(tc_scratch_read("err.txt"), "dup.json: invalid JSON at line 1, column "), "%s",
            tc_scratch_read("err.txt"));
  cr_assert(strstr(tc_scratch_read("err.txt"), ": duplicate object key"), "%s",
            tc_scratch_read("err.txt"));
  cr_assert_eq(sh("$L --help"), 0);
  cr_assert(strstr(tc_scratch_read("out.txt"), "jwt") &&
            strstr(tc_scratch_read("out.txt"), "password"));
}

Test(cli_auth, password_hash_and_verify) {
  cr_assert_eq(sh("printf 'correct horse\\n' | $L password hash --cost 4"), 0, "%s",
               tc_scratch_read("err.txt"));
  char h[128];
  snprintf(h, sizeof h, "%s", tc_scratch_read("out.txt"));
  cr_assert_eq(strlen(h), 61, "%s", h);
  h[60] = 0;
  cr_assert(!strncmp(h, "$2b$04$", 7), "%s", h);
  cr_assert_eq(sh("printf 'correct horse\\n' | $L password verify '%s'", h), 0);
  cr_assert_eq(sh("printf 'correct horse' | $L password verify '%s'", h), 0);
  cr_assert_eq(sh("printf 'correct horse\\r\\n' | $L password verify '%s'", h), 0);
  cr_assert_eq(sh("printf 'correct horsE\\n' | $L password verify '%s'", h), 1);
  cr_assert_eq(sh("printf 'correct horse\\n\\n' | $L password verify '%s'", h), 1);
  cr_assert_eq(sh("printf '' | $L password verify '%s'", h), 1);
  /* The password never appears on the command line or the output. */
  cr_assert_null(strstr(tc_scratch_read("out.txt"), "horse"));
  /* Two hashes of one password differ (random salt); the default cost is 12. */
  cr_assert_eq(sh("printf 'correct horse' | $L password hash --cost 4"), 0);
  cr_assert(strncmp(tc_scratch_read("out.txt"), h, 60));
  /* Hostile input: too long for bcrypt, a NUL byte, empty, a malformed hash, too much input. */
  cr_assert_eq(sh("head -c 73 /dev/zero | tr '\\0' a | $L password hash --cost 4"), 2);
  cr_assert_eq(sh("head -c 72 /dev/zero | tr '\\0' a | $L password hash --cost 4"), 0);
  cr_assert_eq(sh("head -c 73 /dev/zero | tr '\\0' a | $L password verify '%s'", h), 1);
  cr_assert_eq(sh("head -c 100000 /dev/zero | tr '\\0' a | $L password verify '%s'", h), 2);
  cr_assert_eq(sh("printf 'correct\\0horse' | $L password hash --cost 4"), 2);
  cr_assert_eq(sh("printf 'correct\\0horse' | $L password verify '%s'", h), 2);
  cr_assert_eq(sh("printf '\\n' | $L password hash --cost 4"), 2);
  cr_assert_eq(sh("printf 'x' | $L password verify '$2b$04$short'"), 2);
  cr_assert_eq(sh("printf 'x' | $L password verify 'plaintext'"), 2);
  char bad[128];
  snprintf(bad, sizeof bad, "%s", h);
  bad[3] = 'x';
  cr_assert_eq(sh("printf 'correct horse' | $L password verify '%s'", bad), 2);
}
