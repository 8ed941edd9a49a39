/* The libapi command-line program's subcommand table. */
#ifndef LIBAPI_CLI_H
#define LIBAPI_CLI_H

/* A subcommand: argv[0] is the subcommand's name. Returns the process exit status. */
typedef int (*cli_main_fn)(int argc, char **argv);

typedef struct cli_command {
  const char *name;
  const char *summary;
  cli_main_fn main;
} cli_command;

#include <stddef.h>
#include <stdio.h>

int cli_schema_main(int argc, char **argv);
int cli_jwt_main(int argc, char **argv);
int cli_password_main(int argc, char **argv);

/* The whole of f (NUL-terminated, *len bytes without the NUL), or NULL when it cannot be read or
 * holds more than max bytes. Free with cli_wipe_free(p, *len) or free(). */
char *cli_read_all(FILE *f, size_t *len, size_t max);
/* cli_read_all of the file at path, or of standard input when path is "-". */
char *cli_read_path(const char *path, size_t *len, size_t max);
/* Overwrites n bytes at p with zeros, then frees p. NULL is allowed. */
void cli_wipe_free(char *p, size_t n);

#endif
