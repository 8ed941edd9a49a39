/* libapi password hash|verify: bcrypt with the library's api_password_* functions. The password
 * is read from standard input, never from the command line (argv is visible to every user through
 * ps and /proc). One trailing newline ("\n" or "\r\n") is not part of it. When standard input is a
 * terminal the password is prompted for on standard error without echo.
 *
 * hash [--cost N]: prints the $2b$ hash; exit 2 on error.
 * verify HASH:     exit 0 when the password matches, 1 when not, 2 on error (malformed hash). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <libapi/auth.h>

#include "cli.h"

/* More than bcrypt takes, so that a too-long password is refused rather than cut. */
#define MAX_INPUT 4096

static void usage(void) {
  fprintf(stderr,
          "usage: libapi password hash [--cost N]   (password on standard input)\n"
          "       libapi password verify HASH       (password on standard input)\n"
          "  verify exit 0: match; 1: no match; 2: error\n");
}

/* Reads the password; returns NULL (after a message) when it cannot be read, is empty, too long
 * to be the whole input, or holds a NUL byte. */
static char *read_password(size_t *len) {
  struct termios old, quiet;
  int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    fprintf(stderr, "Password: ");
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  char *pw = NULL;
  if (tty) {
    pw = malloc(MAX_INPUT + 2);
    if (pw && fgets(pw, MAX_INPUT + 2, stdin)) {
      *len = strlen(pw);
    } else {
      free(pw);
      pw = NULL;
    }
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
  } else {
    pw = cli_read_all(stdin, len, MAX_INPUT);
  }
  if (!pw) {
    fprintf(stderr, "libapi password: cannot read the password (at most %d bytes)\n", MAX_INPUT);
    return NULL;
  }
  size_t n = *len;
  if (n && pw[n - 1] == '\n') n--;
  if (n && pw[n - 1] == '\r') n--;
  if (memchr(pw, 0, n)) {
    fprintf(stderr, "libapi password: the password holds a NUL byte\n");
    cli_wipe_free(pw, *len);
    return NULL;
  }
  memset(pw + n, 0, *len - n);
  return pw;
}

static int hash(int argc, char **argv) {
  int cost = 0;
  for (int i = 1; i < argc; i++) {
    char *end;
    if (!strcmp(argv[i], "--cost") && i + 1 < argc) {
      errno = 0;
      long c = strtol(argv[++i], &end, 10);
      if (errno || *end || end == argv[i] || c < 4 || c > 31) {
        fprintf(stderr, "libapi password: --cost wants 4..31\n");
        return 2;
      }
      cost = (int)c;
    } else {
      usage();
      return 2;
    }
  }
  size_t len;
  char *pw = read_password(&len);
  if (!pw) return 2;
  if (!pw[0]) {
    fprintf(stderr, "libapi password: the password is empty\n");
    cli_wipe_free(pw, len);
    return 2;
  }
  char *out = NULL;
  int rc = api_password_hash(&out, pw, cost);
  cli_wipe_free(pw, len);
  if (rc) {
    fprintf(stderr, "libapi password: %s\n", api_last_error());
    return 2;
  }
  printf("%s\n", out);
  api_auth_string_free(out);
  return 0;
}

static int verify(int argc, char **argv) {
  if (argc != 2) {
    usage();
    return 2;
  }
  /* Check the hash's form first: no point reading a password for a malformed hash. */
  if (api_password_needs_rehash(argv[1], 0) < 0) {
    fprintf(stderr, "libapi password: not a bcrypt hash\n");
    return 2;
  }
  size_t len;
  char *pw = read_password(&len);
  if (!pw) return 2;
  int rc = api_password_verify(pw, argv[1]);
  cli_wipe_free(pw, len);
  if (rc == 0) return 0;
  if (rc == API_EUNAUTHORIZED) {
    fprintf(stderr, "libapi password: no match\n");
    return 1;
  }
  fprintf(stderr, "libapi password: %s\n", api_last_error());
  return 2;
}

int cli_password_main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "hash")) return hash(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "verify")) return verify(argc - 1, argv + 1);
  usage();
  return 2;
}
